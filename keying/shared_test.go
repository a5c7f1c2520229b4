package keying

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// sharedLinks: john opted into one shared session, mary did not (the
// array form, unchanged).
func sharedLinks() IdentityLinks {
	return IdentityLinks{
		"john": {"telegram:123", "discord:456", "slack:u777"},
		"mary": {"telegram:789", "discord:999"},
	}
}

const (
	johnShared = "v=1|agent=main|channel=shared|account=*|sender=john"
	johnOps    = "v=1|agent=ops|channel=shared|account=*|sender=john"
)

func TestSharedSessionRoutes(t *testing.T) {
	yes := true
	base := Policy{IdentityLinks: sharedLinks(), SharedSessions: []string{"john"}}
	perPeer := base
	perPeer.Dimensions = []string{"chat", "sender"}
	dmMain := base
	dmMain.Direct = &DirectPolicy{Dimensions: []string{}, Main: true}
	allMain := base
	allMain.Dimensions, allMain.Main = []string{}, true
	ruleDims := base
	ruleDims.Rules = []Rule{{Name: "slack dm", When: When{Channel: "slack"}, SessionDimensions: []string{"chat"}}}
	ruleAgent := base
	ruleAgent.Rules = []Rule{{Name: "to ops", When: When{Channel: "discord", Mentioned: &yes}, Agent: "ops"}}

	tests := []struct {
		name            string
		agent           string
		in              Inbound
		p               Policy
		wantSig, wantBy string
		// unchanged: the route must equal the one without SharedSessions.
		unchanged bool
	}{
		{name: "john telegram dm", in: Inbound{Channel: "telegram", ChatType: "direct", ChatID: "123", SenderID: "123"}, p: base,
			wantSig: johnShared, wantBy: "identity_links:john:shared"},
		{name: "john discord dm, named account", in: Inbound{Channel: "Discord", Account: "Bot-A", ChatType: "dm", ChatID: "d-1", SenderID: "456"}, p: base,
			wantSig: johnShared, wantBy: "identity_links:john:shared"},
		{name: "john slack dm, no chat type", in: Inbound{Channel: "slack", Account: "work", ChatID: "D01", SenderID: "U777"}, p: base,
			wantSig: johnShared, wantBy: "identity_links:john:shared"},
		{name: "john dm under chat,sender dims", in: Inbound{Channel: "telegram", ChatType: "direct", ChatID: "123", SenderID: "123"}, p: perPeer,
			wantSig: johnShared, wantBy: "identity_links:john:shared"},
		{name: "john dm under dmScope main", in: Inbound{Channel: "discord", ChatType: "direct", ChatID: "456", SenderID: "456"}, p: dmMain,
			wantSig: johnShared, wantBy: "identity_links:john:shared"},
		{name: "john dm under policy main", in: Inbound{Channel: "discord", ChatType: "direct", ChatID: "456", SenderID: "456"}, p: allMain,
			wantSig: johnShared, wantBy: "identity_links:john:shared"},
		{name: "john dm, rule picks the agent", in: Inbound{Channel: "discord", ChatType: "direct", ChatID: "456", SenderID: "456", Mentioned: true}, p: ruleAgent,
			wantSig: johnOps, wantBy: "identity_links:john:shared"},
		{name: "john dm, other agent", agent: "Ops", in: Inbound{Channel: "telegram", ChatType: "direct", ChatID: "123", SenderID: "123"}, p: base,
			wantSig: johnOps, wantBy: "identity_links:john:shared"},

		{name: "john in a telegram group", in: Inbound{Channel: "telegram", ChatType: "group", ChatID: "-100555", SenderID: "123"}, p: base,
			wantSig: "v=1|agent=main|channel=telegram|account=default|chat=group:-100555", wantBy: "default", unchanged: true},
		{name: "john in a group, per-peer dims", in: Inbound{Channel: "discord", ChatType: "channel", ChatID: "c9", SenderID: "456"}, p: perPeer,
			wantSig: "v=1|agent=main|channel=discord|account=default|chat=channel:c9|sender=john", wantBy: "default", unchanged: true},
		{name: "john dm, rule with session_dimensions wins", in: Inbound{Channel: "slack", ChatType: "direct", ChatID: "D01", SenderID: "U777"}, p: ruleDims,
			wantSig: "v=1|agent=main|channel=slack|account=default|chat=direct:d01", wantBy: "dispatch.rule:slack dm", unchanged: true},
		{name: "mary (array form) telegram dm", in: Inbound{Channel: "telegram", ChatType: "direct", ChatID: "789", SenderID: "789"}, p: perPeer,
			wantSig: "v=1|agent=main|channel=telegram|account=default|chat=direct:789|sender=mary", wantBy: "default", unchanged: true},
		{name: "mary (array form) discord dm", in: Inbound{Channel: "discord", ChatType: "direct", ChatID: "999", SenderID: "999"}, p: perPeer,
			wantSig: "v=1|agent=main|channel=discord|account=default|chat=direct:999|sender=mary", wantBy: "default", unchanged: true},
		{name: "unlinked sender", in: Inbound{Channel: "telegram", ChatType: "direct", ChatID: "555", SenderID: "555"}, p: base,
			wantSig: "v=1|agent=main|channel=telegram|account=default|chat=direct:555", wantBy: "default", unchanged: true},
		{name: "raw id equal to the name is not a link", in: Inbound{Channel: "irc", ChatType: "direct", ChatID: "john", SenderID: "John"}, p: perPeer,
			wantSig: "v=1|agent=main|channel=irc|account=default|chat=direct:john|sender=john", wantBy: "default", unchanged: true},
		{name: "no sender", in: Inbound{Channel: "telegram", ChatType: "direct", ChatID: "123"}, p: base,
			wantSig: "v=1|agent=main|channel=telegram|account=default|chat=direct:123", wantBy: "default", unchanged: true},
		{name: "real channel named shared", in: Inbound{Channel: "shared", Account: "*", ChatType: "direct", SenderID: "john"}, p: Policy{Dimensions: []string{"sender"}},
			wantSig: "v=1|agent=main|channel=shared|account=default|sender=john", wantBy: "default", unchanged: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Resolve(tt.agent, tt.in, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if r.Signature != tt.wantSig || r.MatchedBy != tt.wantBy {
				t.Fatalf("got %s (matched by %s), want %s (%s)", r.Signature, r.MatchedBy, tt.wantSig, tt.wantBy)
			}
			if r.ID != Opaque(tt.wantSig) || r.ID != r.Scope.ID() {
				t.Fatalf("id %s: must be Opaque(signature) and Scope.ID()", r.ID)
			}
			plain := tt.p
			plain.SharedSessions = nil
			was, err := Resolve(tt.agent, tt.in, plain)
			if err != nil {
				t.Fatal(err)
			}
			if tt.unchanged {
				if !reflect.DeepEqual(r, was) {
					t.Fatalf("route changed by sharedSession:\n got %+v\nwant %+v", r, was)
				}
				return
			}
			// Shared: the aliases still hold every key PicoClaw and OpenClaw
			// computed for the raw message (under main that is the main key
			// only; the DM keys are listed too), so old keys resolve here.
			for _, a := range was.Aliases {
				if !contains(r.Aliases, a) {
					t.Fatalf("aliases %q lack %s", r.Aliases, a)
				}
			}
			if !was.Main && !reflect.DeepEqual(r.Aliases, was.Aliases) {
				t.Fatalf("aliases:\n got %q\nwant %q", r.Aliases, was.Aliases)
			}
			if r.Main || r.Scope.Account != SharedAccount || r.Scope.Channel != SharedChannel {
				t.Fatalf("shared scope %+v", r.Scope)
			}
		})
	}
}

// The same person on telegram and discord (and a named Slack account)
// gets one id; the aliases of each message name its own channel.
func TestSharedSessionSameIDAcrossChannels(t *testing.T) {
	p := Policy{IdentityLinks: sharedLinks(), SharedSessions: []string{"John"}, Dimensions: []string{"chat", "sender"}}
	tg, _ := Resolve("main", Inbound{Channel: "telegram", ChatType: "direct", ChatID: "123", SenderID: "123"}, p)
	dc, _ := Resolve("main", Inbound{Channel: "discord", Account: "bot-a", ChatType: "direct", ChatID: "456", SenderID: "456"}, p)
	sl, _ := Resolve("main", Inbound{Channel: "slack", ChatType: "direct", ChatID: "D01", SenderID: "slack:U777"}, p)
	if tg.ID != dc.ID || tg.ID != sl.ID || tg.ID != SharedScope("main", "john").ID() {
		t.Fatalf("one person, three ids: %s %s %s", tg.ID, dc.ID, sl.ID)
	}
	if tg.ID != "sk_v1_31666308acddc89aed241777d527a9196482af76896dcb2a10f92240a72bb526" {
		t.Fatalf("shared id of john on main: %s (documented in docs/keys.md)", tg.ID)
	}
	for _, want := range []string{"agent:main:telegram:direct:123", "agent:main:direct:john", "agent:main:telegram:default:direct:123"} {
		if !contains(tg.Aliases, want) {
			t.Errorf("telegram aliases %q lack %s", tg.Aliases, want)
		}
	}
	if !contains(dc.Aliases, "agent:main:discord:bot-a:direct:456") {
		t.Errorf("discord aliases %q", dc.Aliases)
	}
	ops, _ := Resolve("ops", Inbound{Channel: "telegram", ChatType: "direct", ChatID: "123", SenderID: "123"}, p)
	if ops.ID == tg.ID {
		t.Fatal("a shared session is per agent")
	}
}

// Determinism: whatever the map order of the links and the order of the
// shared names, the same message gets the same id; a sender linked under
// two names shares only if the sorted-first name is shared.
func TestSharedSessionDeterministic(t *testing.T) {
	in := Inbound{Channel: "telegram", ChatType: "direct", ChatID: "7", SenderID: "x:7"}
	var first string
	for i := 0; i < 50; i++ {
		links := IdentityLinks{"zoe": {"telegram:7"}, "bob": {"7"}, "mia": {"x:7"}, "john": {"discord:1"}}
		shared := []string{"bob", "john"}
		if i%2 == 1 {
			shared = []string{"john", "BOB"}
		}
		r, err := Resolve("main", in, Policy{IdentityLinks: links, SharedSessions: shared})
		if err != nil {
			t.Fatal(err)
		}
		if first == "" {
			first = r.ID
		}
		if r.ID != first || r.Signature != "v=1|agent=main|channel=shared|account=*|sender=bob" {
			t.Fatalf("run %d: %s %s", i, r.ID, r.Signature)
		}
	}
	// zoe is shared but bob (sorted first) wins the tie and is not.
	r, _ := Resolve("main", in, Policy{IdentityLinks: IdentityLinks{"zoe": {"telegram:7"}, "bob": {"7"}}, SharedSessions: []string{"zoe"}})
	if r.MatchedBy != "default" || r.Signature != "v=1|agent=main|channel=telegram|account=default|chat=direct:7" {
		t.Fatalf("tie must resolve to bob, unshared: %s %s", r.MatchedBy, r.Signature)
	}
	// A prepared Resolver gives the same answer as Resolve, every time.
	res, _ := NewResolver(Policy{IdentityLinks: sharedLinks(), SharedSessions: []string{"john"}})
	for i := 0; i < 20; i++ {
		a, _ := res.Resolve("main", Inbound{Channel: "discord", ChatID: "456", SenderID: "456"})
		if a.Signature != johnShared {
			t.Fatalf("got %s", a.Signature)
		}
	}
}

func TestSharedSessionValidate(t *testing.T) {
	_, err := Resolve("main", Inbound{Channel: "x"}, Policy{IdentityLinks: sharedLinks(), SharedSessions: []string{"nobody"}})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `"nobody"`) {
		t.Fatalf("a shared name without links is a config error, got %v", err)
	}
	if s := SharedScope("Main", ""); s.Dimensions != nil || s.Values != nil {
		t.Fatalf("empty name: %+v", s)
	}
}

// No routed (unshared) message ever has the shared account, whatever its
// account bytes: that is what keeps shared ids apart from real channels'.
func FuzzSharedAccountIsReserved(f *testing.F) {
	for _, s := range []string{"*", " * ", "shared", "", "default", "**", "a*b", "%2a", "ü"} {
		f.Add("shared", s, "john")
	}
	f.Fuzz(func(t *testing.T, channel, account, sender string) {
		for _, dims := range [][]string{{"sender"}, {"chat", "sender"}, {}} {
			r, err := Resolve("main", Inbound{Channel: channel, Account: account, ChatType: "direct", ChatID: sender, SenderID: sender},
				Policy{Dimensions: dims})
			if err != nil {
				t.Fatal(err)
			}
			if r.Scope.Account == SharedAccount || strings.Contains(r.Signature, "|account=*|") {
				t.Fatalf("account %q routed to the shared account: %s", account, r.Signature)
			}
			if r.ID == SharedScope("main", sender).ID() {
				t.Fatalf("routed message collides with a shared session: %s", r.Signature)
			}
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
