package keying

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// Values holding '|' or '=' would let PicoClaw's v1 give two scopes one
// signature; ours keep them apart.
func TestEscapingKeepsScopesApart(t *testing.T) {
	a := Scope{Version: 1, AgentID: "main", Channel: "x", Account: "default",
		Dimensions: []string{"chat", "sender"}, Values: map[string]string{"chat": "direct:a|sender=b", "sender": "c"}}
	b := Scope{Version: 1, AgentID: "main", Channel: "x", Account: "default",
		Dimensions: []string{"chat", "sender"}, Values: map[string]string{"chat": "direct:a", "sender": "b|sender=c"}}
	c := Scope{Version: 1, AgentID: "main", Channel: "x", Account: "default",
		Dimensions: []string{"chat"}, Values: map[string]string{"chat": "direct:a%7csender%3db"}}
	ids := map[string]string{}
	for name, s := range map[string]Scope{"a": a, "b": b, "c": c} {
		id := s.ID()
		if prev, ok := ids[id]; ok {
			t.Fatalf("scopes %s and %s share id %s (signature %s)", prev, name, id, Signature(s))
		}
		ids[id] = name
	}
	if got := Signature(a); strings.Count(got, "|") != 5 {
		t.Fatalf("escaped signature must keep exactly the structural separators, got %s", got)
	}
	// Values without the three special bytes are not touched.
	plain := Scope{Version: 1, AgentID: "main", Channel: "telegram", Account: "default",
		Dimensions: []string{"chat"}, Values: map[string]string{"chat": "direct:123456789"}}
	if got, want := Signature(plain), "v=1|agent=main|channel=telegram|account=default|chat=direct:123456789"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestEscapeValue(t *testing.T) {
	for in, want := range map[string]string{
		"plain":  "plain",
		"a|b":    "a%7cb",
		"a=b":    "a%3db",
		"50%":    "50%25",
		"a%7cb":  "a%257cb",
		"%|=":    "%25%7c%3d",
		"":       "",
		"ü:|x/y": "ü:%7cx/y",
	} {
		if got := EscapeValue(in); got != want {
			t.Errorf("EscapeValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnknownDimensionIsAnError(t *testing.T) {
	_, err := Resolve("main", Inbound{Channel: "telegram"}, Policy{Dimensions: []string{"chat", "peer"}})
	if !errors.Is(err, ErrUnknownDimension) {
		t.Fatalf("err = %v, want ErrUnknownDimension", err)
	}
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Path != "session.dimensions" || !strings.Contains(err.Error(), `"peer"`) || !strings.Contains(err.Error(), "[1]") {
		t.Fatalf("error must name the field, the bad value and its index: %v", err)
	}
	if _, err := ParseDimensions("chat, Sender ,chat"); err != nil {
		t.Fatal(err)
	}
	if d, _ := ParseDimensions(""); d == nil || len(d) != 0 {
		t.Fatalf(`ParseDimensions("") = %#v, want empty non-nil`, d)
	}
	if d, _ := ParseDimensions("chat, Sender ,chat"); !reflect.DeepEqual(d, []string{"chat", "sender"}) {
		t.Fatalf("got %v", d)
	}
}

func TestIdentityLinks(t *testing.T) {
	links := IdentityLinks{
		"john":  {"slack:U123", "telegram:987654321", "legacy-user-42"},
		"alice": {"A1"},
		"Zed":   {"matrix:@z:example.org"},
	}
	for _, tt := range []struct{ channel, sender, want string }{
		{"slack", "U123", "john"},             // as <channel>:<id>
		{"telegram", "987654321", "john"},     // as <channel>:<id>
		{"discord", "legacy-user-42", "john"}, // raw
		{"x", "slack:u123", "john"},           // raw with prefix
		{"x", "foo:legacy-user-42", "john"},   // after the first ':'
		{"x", "a1", "alice"},
		{"x", "@Z:example.org", "@z:example.org"}, // no link: lowercased raw id
		{"matrix", "@Z:example.org", "zed"},
		{"x", "", ""},
	} {
		if got := links.Link(tt.channel, tt.sender); got != tt.want {
			t.Errorf("Link(%q, %q) = %q, want %q", tt.channel, tt.sender, got, tt.want)
		}
	}
	bad := IdentityLinks{"bob": {"telegram:1"}, "alice": {"Telegram:1"}}
	err := bad.Validate("session.identity_links")
	if err == nil || !strings.Contains(err.Error(), "telegram:1") || !strings.Contains(err.Error(), "session.identity_links.bob[0]") {
		t.Fatalf("alias under two names must be a config error naming it, got %v", err)
	}
}

// Several names that each match a different candidate: the sorted first
// one wins, every time, whatever the map order.
func TestIdentityLinkTiesAreSorted(t *testing.T) {
	links := IdentityLinks{"zoe": {"telegram:7"}, "bob": {"7"}, "mia": {"x:7"}}
	for i := 0; i < 50; i++ {
		if got := links.Link("telegram", "x:7"); got != "bob" {
			t.Fatalf("got %s, want bob (first name in sorted order)", got)
		}
	}
}

func TestDispatchRuleWithoutAccountMatchesAnyAccount(t *testing.T) {
	rules := []Rule{{Name: "ops", When: When{Channel: "slack"}, Agent: "ops", SessionDimensions: []string{"chat"}}}
	for _, acct := range []string{"", "default", "Workspace-A", "team b"} {
		r, err := Resolve("main", Inbound{Channel: "slack", Account: acct, ChatType: "channel", ChatID: "C1"}, Policy{Rules: rules})
		if err != nil {
			t.Fatal(err)
		}
		if r.Agent != "ops" || r.MatchedBy != "dispatch.rule:ops" {
			t.Errorf("account %q: agent %s matched %s, want ops", acct, r.Agent, r.MatchedBy)
		}
	}
	// A rule with an account matches only that account (normalized).
	rules[0].When.Account = "Workspace-A"
	r, _ := Resolve("main", Inbound{Channel: "slack", Account: "workspace-a", ChatType: "channel", ChatID: "C1"}, Policy{Rules: rules})
	if r.Agent != "ops" {
		t.Errorf("same account must match")
	}
	r, _ = Resolve("main", Inbound{Channel: "slack", Account: "other", ChatType: "channel", ChatID: "C1"}, Policy{Rules: rules})
	if r.Agent != "main" || r.MatchedBy != "default" {
		t.Errorf("other account must not match, got %s", r.MatchedBy)
	}
}

func TestDispatchFirstMatchWins(t *testing.T) {
	rules := []Rule{
		{Name: "by-sender", When: When{Sender: "john"}, Agent: "personal"},
		{Name: "by-channel", When: When{Channel: "telegram"}, Agent: "tg"},
	}
	p := Policy{IdentityLinks: IdentityLinks{"john": {"telegram:42"}}, Rules: rules}
	r, _ := Resolve("main", Inbound{Channel: "telegram", ChatID: "42", SenderID: "42"}, p)
	if r.Agent != "personal" {
		t.Fatalf("linked sender must match the first rule, got %s", r.MatchedBy)
	}
	r, _ = Resolve("main", Inbound{Channel: "telegram", ChatID: "43", SenderID: "43"}, p)
	if r.Agent != "tg" {
		t.Fatalf("got %s", r.MatchedBy)
	}
	// A rule with no dimensions keeps the policy's.
	if !reflect.DeepEqual(r.Scope.Dimensions, []string{"chat"}) {
		t.Fatalf("dims %v", r.Scope.Dimensions)
	}
	empty := Policy{Rules: []Rule{{Name: "nothing"}}}
	if err := empty.Validate(); err == nil || !strings.Contains(err.Error(), "agents.dispatch.rules[0].when") {
		t.Fatalf("a rule that selects nothing is a config error, got %v", err)
	}
}

func TestMainPolicyAndNamedScopes(t *testing.T) {
	dims, main, err := ScopeDimensions("main")
	if err != nil || !main {
		t.Fatal("main scope")
	}
	r, _ := Resolve("Support", Inbound{Channel: "telegram", ChatID: "1"}, Policy{Dimensions: dims, Main: main})
	if r.ID != "sk_v1_4181bcefd00dfc2054d6a967dc52d51d00fc0543c38aa4716bde944b8256b852" || !r.Main {
		t.Fatalf("main scope must be the agent's main session, got %+v", r)
	}
	for name, want := range map[string][]string{
		"per-peer": {"sender"}, "per-channel-peer": {"chat", "sender"}, "per-account-channel-peer": {"chat", "sender"},
		"PER-CHANNEL": {"chat"}, "global": {},
	} {
		got, _, err := ScopeDimensions(name)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v %v, want %v", name, got, err, want)
		}
	}
	if _, _, err := ScopeDimensions("per-galaxy"); !errors.Is(err, ErrUnknownScope) || !strings.Contains(err.Error(), "per-galaxy") {
		t.Fatalf("err = %v", err)
	}
	if d, ok := DMScopeDimensions("per-channel-peer"); !ok || !reflect.DeepEqual(d, []string{"chat", "sender"}) {
		t.Fatal("dm_scope per-channel-peer")
	}
	if _, ok := DMScopeDimensions("main"); ok {
		t.Fatal("PicoClaw does not map dm_scope main")
	}
}

func TestNamedSessions(t *testing.T) {
	a, b := NamedID("My-Project"), NamedID(" my-project ")
	if a != b || !IsID(a) {
		t.Fatalf("names are case- and space-insensitive: %s %s", a, b)
	}
	if NamedID("") != "" {
		t.Fatal("empty name has no id")
	}
	// Never equal to a signature, main key or raw key of the same text.
	for _, s := range []string{"my-project", "Named-Session\nmy-project", "named-session\nmy-project", "agent:main:main"} {
		if Opaque(s) == a || Opaque(s) == NamedID(s) {
			t.Fatalf("named id collides with Opaque(%q)", s)
		}
	}
}

func TestNormalizeAgentID(t *testing.T) {
	for in, want := range map[string]string{
		"": "main", "  Main ": "main", "Sales Bot!": "sales-bot", "--x--": "x", "_a": "_a",
		strings.Repeat("a", 70): strings.Repeat("a", 64), "ü": "main", "a..b": "a-b",
	} {
		if got := NormalizeAgentID(in); got != want {
			t.Errorf("NormalizeAgentID(%q) = %q, want %q", in, got, want)
		}
	}
	if NormalizeAccountID("") != "default" {
		t.Error("empty account")
	}
}

func TestExplicitKeys(t *testing.T) {
	in := Inbound{Channel: "cli", ChatID: "direct", SenderID: "me"}
	r, _ := Resolve("main", Inbound{Channel: in.Channel, ChatID: in.ChatID, SenderID: in.SenderID, Key: "cli:default"}, Policy{})
	plain, _ := Resolve("main", in, Policy{})
	if r.ID != plain.ID || r.Aliases[len(r.Aliases)-1] != "cli:default" {
		t.Fatalf("a non-agent key is one more alias: %+v", r)
	}
	id := "sk_v1_" + strings.Repeat("ab", 32)
	r, _ = Resolve("main", Inbound{Channel: "cli", Key: strings.ToUpper(id)}, Policy{})
	if r.ID != id || r.Key != id {
		t.Fatalf("an sk_v1_ key is kept: %+v", r)
	}
	if _, err := Resolve("main", Inbound{Key: "a\nb"}, Policy{}); err == nil {
		t.Fatal("a key with a line break must be refused")
	}
}

func ExampleResolve() {
	r, _ := Resolve("main", Inbound{Channel: "telegram", ChatType: "direct", ChatID: "123456789", SenderID: "123456789"},
		Policy{Dimensions: []string{"chat"}})
	fmt.Println(r.Signature)
	fmt.Println(r.ID)
	// Output:
	// v=1|agent=main|channel=telegram|account=default|chat=direct:123456789
	// sk_v1_67fe19a8ec8fd03673f4b28c2fcddc0a2712152896ff962b8eec1b0debfdb4c5
}
