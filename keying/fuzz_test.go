package keying

import (
	"reflect"
	"strings"
	"testing"
)

func fuzzInbound(channel, account, chatType, chatID, topic, spaceID, sender string) Inbound {
	return Inbound{Channel: channel, Account: account, ChatType: chatType, ChatID: chatID, TopicID: topic,
		SpaceType: "workspace", SpaceID: spaceID, SenderID: sender}
}

// FuzzDistinctScopesDistinctIDs: two messages whose scopes differ never
// share an id, whatever bytes their values hold ('|', '=', '%', unicode).
func FuzzDistinctScopesDistinctIDs(f *testing.F) {
	f.Add("telegram", "", "direct", "1", "", "", "1", "telegram", "", "direct", "2", "", "", "2")
	f.Add("x", "", "direct", "a|sender=b", "", "", "c", "x", "", "direct", "a", "", "", "b|sender=c")
	f.Add("x", "", "direct", "a%7cb", "", "", "", "x", "", "direct", "a|b", "", "", "")
	f.Add("a|channel=b", "", "", "", "", "", "", "a", "", "", "", "", "", "")
	f.Add("telegram", "", "group", "-1", "42", "", "", "telegram", "", "group", "-1/42", "", "", "")
	f.Fuzz(func(t *testing.T, c1, a1, t1, id1, tp1, sp1, s1, c2, a2, t2, id2, tp2, sp2, s2 string) {
		p := Policy{Dimensions: []string{"space", "chat", "topic", "sender"}}
		for _, dims := range [][]string{{"space", "chat", "topic", "sender"}, {"chat", "sender"}, {"chat"}} {
			p.Dimensions = dims
			r1, err1 := Resolve("main", fuzzInbound(c1, a1, t1, id1, tp1, sp1, s1), p)
			r2, err2 := Resolve("main", fuzzInbound(c2, a2, t2, id2, tp2, sp2, s2), p)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			same := reflect.DeepEqual(r1.Scope, r2.Scope)
			if !same && r1.ID == r2.ID {
				t.Fatalf("distinct scopes share id %s:\n%+v\n%+v\nsig %q\nsig %q", r1.ID, r1.Scope, r2.Scope, r1.Signature, r2.Signature)
			}
			if same && r1.ID != r2.ID {
				t.Fatalf("equal scopes, different ids")
			}
		}
	})
}

// FuzzNormalizationIdempotent: normalizing twice changes nothing, and a
// scope rebuilt from its own values keeps its id.
func FuzzNormalizationIdempotent(f *testing.F) {
	f.Add("Main", "Telegram ", "Workspace-A", "Group", "-100", "Bob")
	f.Add("Sales Bot!", "", "", "", "İstanbul", "ǅ")
	f.Fuzz(func(t *testing.T, agent, channel, account, chatType, chatID, sender string) {
		for _, norm := range []func(string) string{NormalizeAgentID, NormalizeAccountID, NormalizeChannel, NormalizeName} {
			once := norm(agent + channel)
			if twice := norm(once); twice != once {
				t.Fatalf("not idempotent: %q -> %q -> %q", agent+channel, once, twice)
			}
		}
		if !strings.Contains(chatType, ":") { // a ':' in a type would split differently when re-parsed
			r, err := Resolve(agent, Inbound{Channel: channel, Account: account, ChatType: chatType, ChatID: chatID, SenderID: sender},
				Policy{Dimensions: []string{"chat", "sender"}})
			if err != nil {
				t.Fatal(err)
			}
			again, err := Resolve(r.Scope.AgentID, Inbound{Channel: r.Scope.Channel, Account: r.Scope.Account,
				ChatType: typeOf(r.Scope.Values["chat"]), ChatID: idOf(r.Scope.Values["chat"]), SenderID: r.Scope.Values["sender"]},
				Policy{Dimensions: []string{"chat", "sender"}})
			if err != nil {
				t.Fatal(err)
			}
			if again.ID != r.ID || again.Signature != r.Signature {
				t.Fatalf("re-normalizing changed the route:\n%q\n%q", r.Signature, again.Signature)
			}
		}
		if s := Signature(Scope{Version: 1, AgentID: agent, Channel: channel, Account: account}); Opaque(s) != Opaque(strings.ToLower(s)) {
			t.Fatalf("hashing is not case-stable for %q", s)
		}
	})
}

func typeOf(v string) string {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		return v[:i]
	}
	return ""
}

func idOf(v string) string {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		return v[i+1:]
	}
	return ""
}
