package keying

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseLegacy(t *testing.T) {
	tests := []struct {
		raw  string
		want LegacyKey
	}{
		{"agent:main:main", LegacyKey{Shape: ShapeMain, Agent: "main", Missing: []string{"channel", "account", "chat", "sender"}}},
		{"AGENT:Support:MAIN", LegacyKey{Shape: ShapeMain, Agent: "support", Missing: []string{"channel", "account", "chat", "sender"}}},
		{"agent:main:direct:alice", LegacyKey{Shape: ShapePeer, Agent: "main", Peer: "alice", Missing: []string{"channel", "account", "chat"}}},
		{"agent:main:dm:alice", LegacyKey{Shape: ShapePeer, Agent: "main", Peer: "alice", Missing: []string{"channel", "account", "chat"}}},
		{"agent:main:telegram:direct:123456789", LegacyKey{Shape: ShapeChannelPeer, Agent: "main", Channel: "telegram", Peer: "123456789", Missing: []string{"account", "chat"}}},
		{"agent:main:telegram:dm:123456789", LegacyKey{Shape: ShapeChannelPeer, Agent: "main", Channel: "telegram", Peer: "123456789", Missing: []string{"account", "chat"}}},
		{"agent:main:discord:bot-a:direct:555000111", LegacyKey{Shape: ShapeAccountChannelPeer, Agent: "main", Channel: "discord", Account: "bot-a", Peer: "555000111", Missing: []string{"chat"}}},
		{"agent:main:telegram:group:-1001234567890", LegacyKey{Shape: ShapeChat, Agent: "main", Channel: "telegram", ChatType: "group", ChatID: "-1001234567890", Missing: []string{"account", "sender"}}},
		{"agent:main:telegram:group:-1001234567890/42", LegacyKey{Shape: ShapeChat, Agent: "main", Channel: "telegram", ChatType: "group", ChatID: "-1001234567890", Topic: "42", Missing: []string{"account", "sender"}}},
		{"agent:main:telegram:group:-1001234567890:topic:42", LegacyKey{Shape: ShapeChat, Agent: "main", Channel: "telegram", ChatType: "group", ChatID: "-1001234567890", Topic: "42", Missing: []string{"account", "sender"}}},
		{"agent:main:slack:channel:c0123:thread:1712.55", LegacyKey{Shape: ShapeChat, Agent: "main", Channel: "slack", ChatType: "channel", ChatID: "c0123", Thread: "1712.55", Missing: []string{"account", "sender"}}},
		{"agent:main:matrix:channel:!abcdef:example.org:thread:t1", LegacyKey{Shape: ShapeChat, Agent: "main", Channel: "matrix", ChatType: "channel", ChatID: "!abcdef:example.org", Thread: "t1", Missing: []string{"account", "sender"}}},
		{"agent:main:googlechat:group:spaces/aaaa", LegacyKey{Shape: ShapeChat, Agent: "main", Channel: "googlechat", ChatType: "group", ChatID: "spaces/aaaa", Missing: []string{"account", "sender"},
			Notes: []string{"a '/' in a chat id is kept: only Telegram writes topics that way"}}},
		{"agent:main:slack:channel:c001", LegacyKey{Shape: ShapeChat, Agent: "main", Channel: "slack", ChatType: "channel", ChatID: "c001", Missing: []string{"account", "sender"}}},
		{"agent:main:pico:direct:pico:5b1f6a0e-7d4c-4d8e-9f3a-2c1b0a9e8d7f", LegacyKey{Shape: ShapePicoWeb, Agent: "main", Channel: "pico", ChatType: "direct", ChatID: "pico:5b1f6a0e-7d4c-4d8e-9f3a-2c1b0a9e8d7f", Missing: []string{"account", "sender"}}},
		{"agent:cron-job42-0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a", LegacyKey{Shape: ShapeCronRun, Kind: "cron", Rest: "job42-0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a", Missing: []string{"agent", "channel", "account", "chat", "sender"}}},
		{"cron-backup", LegacyKey{Shape: ShapeCronRun, Kind: "cron", Rest: "backup", Missing: []string{"agent", "channel", "account", "chat", "sender"}}},
		{"agent:ops:cron:nightly:run:3f2a", LegacyKey{Shape: ShapeAgentKind, Agent: "ops", Kind: "cron", Rest: "nightly:run:3f2a", Missing: []string{"channel", "account", "chat", "sender"}}},
		{"agent:main:subagent:u1:subagent:u2", LegacyKey{Shape: ShapeAgentKind, Agent: "main", Kind: "subagent", Rest: "u1:subagent:u2", Missing: []string{"channel", "account", "chat", "sender"}}},
		{"agent:main:discord:slash:u77", LegacyKey{Shape: ShapeSlash, Agent: "main", Channel: "discord", Kind: "slash", Peer: "u77", Missing: []string{"account", "chat"}}},
		{"agent:main:+15551234567", LegacyKey{Shape: ShapeAgentOther, Agent: "main", Rest: "+15551234567", Missing: []string{"channel", "account", "chat", "sender"}}},
		{"sk_v1_67fe19a8ec8fd03673f4b28c2fcddc0a2712152896ff962b8eec1b0debfdb4c5", LegacyKey{Shape: ShapeOpaque, Missing: []string{"agent", "channel", "account", "chat", "sender"},
			Notes: []string{"an opaque id carries no scope; read it from the session's metadata"}}},
		{"telegram:123456789", LegacyKey{Shape: ShapeChannelChat, Channel: "telegram", ChatType: "direct", ChatID: "123456789", Peer: "123456789", Missing: []string{"agent", "account"}}},
		{"telegram:-100777", LegacyKey{Shape: ShapeChannelChat, Channel: "telegram", ChatType: "group", ChatID: "-100777", Missing: []string{"agent", "account", "sender"}}},
		{"slack:C01ABC", LegacyKey{Shape: ShapeChannelChat, Channel: "slack", ChatID: "C01ABC", Missing: []string{"agent", "account", "chat_type", "sender"}}},
		{"telegram:-100777:topic:9", LegacyKey{Shape: ShapeChannelChat, Channel: "telegram", ChatType: "group", ChatID: "-100777", Topic: "9", Missing: []string{"agent", "account", "sender"}}},
		{"telegram:123456789:a1b2c3d4", LegacyKey{Shape: ShapeChannelChat, Channel: "telegram", ChatType: "direct", ChatID: "123456789", Peer: "123456789", Generation: "a1b2c3d4", Missing: []string{"agent", "account"}}},
		{"websocket:3b2f6c1e-9a4d-4e7b-8c15-2f0d9e6a7b31", LegacyKey{Shape: ShapeChannelChat, Channel: "websocket", ChatType: "direct", ChatID: "3b2f6c1e-9a4d-4e7b-8c15-2f0d9e6a7b31", Missing: []string{"agent", "account", "sender"}}},
		{"google_chat:spaces/AAAA", LegacyKey{Shape: ShapeChannelChat, Channel: "google_chat", ChatID: "spaces/AAAA", Missing: []string{"agent", "account", "chat_type", "sender"}}},
		{"cli:default", LegacyKey{Shape: ShapeChannelChat, Channel: "cli", ChatType: "direct", ChatID: "default", Missing: []string{"agent", "account", "sender"}}},
		{"foobar", LegacyKey{Shape: ShapeOther, Missing: []string{"agent", "channel", "account", "chat", "sender"},
			Notes: []string{"no channel: a name given to the CLI or a phone number"}}},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := ParseLegacy(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Raw = tt.raw
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseLegacyRejects(t *testing.T) {
	for _, raw := range []string{"", "   ", "agent:main:main\nagent:x:main", "a\x00b"} {
		if _, err := ParseLegacy(raw); !errors.Is(err, ErrBadKey) {
			t.Errorf("ParseLegacy(%q): err = %v, want ErrBadKey", raw, err)
		}
	}
}

func TestParseClodds(t *testing.T) {
	tests := []struct {
		raw  string
		want LegacyKey
	}{
		{"agent:main:dm:main", LegacyKey{Shape: ShapeMain, Agent: "main", Missing: []string{"channel", "account", "chat", "sender"}}},
		{"agent:main:dm:peer:U42", LegacyKey{Shape: ShapePeer, Agent: "main", Peer: "U42", Missing: []string{"channel", "account", "chat"}}},
		{"agent:main:discord:dm:C9:U42", LegacyKey{Shape: ShapeChannelPeer, Agent: "main", Channel: "discord", ChatType: "direct", ChatID: "C9", Peer: "U42", Missing: []string{"account"}}},
		{"agent:main:discord:acct1:dm:C9:U42", LegacyKey{Shape: ShapeAccountChannelPeer, Agent: "main", Channel: "discord", Account: "acct1", ChatType: "direct", ChatID: "C9", Peer: "U42"}},
		{"agent:main:telegram:group:-100", LegacyKey{Shape: ShapeChat, Agent: "main", Channel: "telegram", ChatType: "group", ChatID: "-100", Missing: []string{"account", "sender"}}},
	}
	for _, tt := range tests {
		got, err := ParseClodds(tt.raw)
		if err != nil {
			t.Fatal(err)
		}
		tt.want.Raw = tt.raw
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.raw, got, tt.want)
		}
	}
}

func TestAlternateSpelling(t *testing.T) {
	for raw, want := range map[string]string{
		"agent:main:telegram:dm:1":        "agent:main:telegram:direct:1",
		"agent:main:direct:alice":         "agent:main:dm:alice",
		"agent:main:slack:acct:direct:u1": "agent:main:slack:acct:dm:u1",
		"agent:main:main":                 "",
		"telegram:1":                      "",
	} {
		if got := AlternateSpelling(raw); got != want {
			t.Errorf("AlternateSpelling(%q) = %q, want %q", raw, got, want)
		}
	}
}

// A legacy key that carries every value the dimensions need routes to the
// id live traffic gets; one that lacks a value says so.
func TestLegacyInbound(t *testing.T) {
	lk, _ := ParseLegacy("agent:main:telegram:direct:123456789")
	in, ok := lk.Inbound([]string{"chat"})
	if ok {
		t.Fatalf("a DM key has no chat id: want incomplete, got %+v", in)
	}
	if _, ok := lk.Inbound([]string{"sender"}); !ok {
		t.Fatal("a DM key has the sender: want complete under [sender]")
	}
	lk, _ = ParseLegacy("agent:main:telegram:group:-1001234567890/42")
	in, ok = lk.Inbound([]string{"chat"})
	if !ok {
		t.Fatal("group key under [chat] must be complete")
	}
	r, err := Resolve(lk.Agent, in, Policy{Dimensions: []string{"chat"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "sk_v1_36124e6f38d9be96ffea284f78b98fa8a2e0e2a6724c3b41986e7f3f1fd908a5"; r.ID != want {
		t.Fatalf("id %s, want %s (the live id of topic 42)", r.ID, want)
	}
	lk, _ = ParseLegacy("agent:main:main")
	if _, ok := lk.Inbound(nil); ok {
		t.Fatal("main key carries no channel")
	}
	// Rule B: PicoClaw's own example.
	if got, want := LegacyHash("agent:main:direct:alice"), "sk_v1_63bf14a1deb1123eac6bf8c0474a6a9160b993b5360facfd507784503b9c68db"; got != want {
		t.Fatalf("LegacyHash = %s, want %s", got, want)
	}
}

// A message without a chat type is keyed as direct (the signature), but
// PicoClaw builds its legacy aliases from the raw peer kind, which is
// empty: agent:<a>:main and agent:<a>:<ch>:unknown:<chat>, never DM shapes
// (pkg/session/allocator.go buildLegacySessionAliases, BuildLegacyPeerAlias).
func TestAliasesWithoutChatType(t *testing.T) {
	tests := []struct {
		name string
		in   Inbound
		sig  string
		want []string
	}{
		{"untyped chat", Inbound{Channel: "Telegram", ChatID: "123456789", SenderID: "123456789"},
			"v=1|agent=main|channel=telegram|account=default|chat=direct:123456789",
			[]string{"agent:main:main", "agent:main:telegram:unknown:123456789"}},
		{"untyped chat with topic", Inbound{Channel: "telegram", ChatID: "-100777", TopicID: "42"},
			"v=1|agent=main|channel=telegram|account=default|chat=direct:-100777/42",
			[]string{"agent:main:main", "agent:main:telegram:unknown:-100777/42"}},
		{"untyped, no chat", Inbound{Channel: "cli", SenderID: "alice"},
			"v=1|agent=main|channel=cli|account=default",
			[]string{"agent:main:main"}},
		{"typed direct keeps the DM shapes", Inbound{Channel: "telegram", ChatType: "direct", ChatID: "123456789", SenderID: "123456789"},
			"v=1|agent=main|channel=telegram|account=default|chat=direct:123456789",
			[]string{"agent:main:main", "agent:main:direct:123456789", "agent:main:telegram:direct:123456789", "agent:main:telegram:default:direct:123456789"}},
		{"typed group", Inbound{Channel: "slack", ChatType: "Channel", ChatID: "C001"},
			"v=1|agent=main|channel=slack|account=default|chat=channel:c001",
			[]string{"agent:main:main", "agent:main:slack:channel:c001"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Resolve("", tc.in, Policy{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Signature != tc.sig {
				t.Errorf("signature %q, want %q", r.Signature, tc.sig)
			}
			if !reflect.DeepEqual(r.Aliases, tc.want) {
				t.Errorf("aliases %q, want %q", r.Aliases, tc.want)
			}
		})
	}
}

// The alias of an untyped message maps back onto the untyped route.
func TestUnknownKindKeyRoutesUntyped(t *testing.T) {
	lk, err := ParseLegacy("agent:main:telegram:unknown:123456789")
	if err != nil {
		t.Fatal(err)
	}
	in, ok := lk.Inbound([]string{DimChat})
	if !ok || in.ChatType != "" || in.ChatID != "123456789" {
		t.Fatalf("inbound %+v complete %v", in, ok)
	}
	r, err := Resolve(lk.Agent, in, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Signature != "v=1|agent=main|channel=telegram|account=default|chat=direct:123456789" || r.Aliases[1] != lk.Raw {
		t.Fatalf("route %s %q", r.Signature, r.Aliases)
	}
}

func TestDMChatID(t *testing.T) {
	for _, tt := range []struct {
		key, channel, chat string
	}{
		{"agent:main:telegram:direct:300400599", "telegram", "300400599"},
		{"agent:main:telegram:dm:300400599", "telegram", "300400599"},
		{"agent:main:onebot:direct:10001", "onebot", "private:10001"},
		{"agent:main:wecom_aibot:bot-1:direct:lisi", "wecom", "lisi"},
		{"agent:main:whatsapp:direct:+15551234567", "whatsapp", "+15551234567"},
		{"agent:main:telegram:direct:alice", "", ""},    // a linked name
		{"agent:main:irc:direct:discord:42", "", ""},    // a linked platform:id
		{"agent:main:discord:direct:555000111", "", ""}, // the DM channel's id is another
		{"agent:main:mystery:direct:1", "", ""},         // a channel the table does not know
		{"agent:main:direct:1", "", ""},                 // no channel
	} {
		lk, err := ParseLegacy(tt.key)
		if err != nil {
			t.Fatal(err)
		}
		ch, chat, _, ok, why := lk.DMChatID()
		if ch != tt.channel || chat != tt.chat || ok != (tt.chat != "") || (!ok && why == "") {
			t.Errorf("%s: %q %q %v %q, want %q %q", tt.key, ch, chat, ok, why, tt.channel, tt.chat)
		}
	}
}
