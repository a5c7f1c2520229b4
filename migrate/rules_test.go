package migrate

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// rulesRoot holds one small legacy tree per import rule, each named after
// the rule it exercises.
const rulesRoot = "../testdata/legacy-rules"

// msg is one record of a migrated session as a test expects it: a message
// (role and content) or a reset (role "reset").
type msg struct{ role, content string }

// migrateTwice copies a rules fixture to a temp dir, plans and applies it
// into an empty workspace, checks the source is byte-identical and every
// planned message verified, then plans and applies again and checks that
// nothing changes. It returns the first plan and the workspace.
func migrateTwice(t *testing.T, fixture string, opts PlanOptions) (*Plan, *workspace.Workspace) {
	t.Helper()
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	copyTree(t, filepath.Join(rulesRoot, fixture), src)
	before := treeHashes(t, src)
	ws := openWS(t, filepath.Join(t.TempDir(), "ws"))
	p, err := NewPlan(ctx, src, ws, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkAccounted(t, src, p.Read)
	rep, err := Apply(ctx, ws, p, ApplyOptions{ReportDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Verify.OK() || rep.Verify.Messages != p.Messages() {
		t.Fatalf("verify %+v", rep.Verify)
	}
	for _, s := range p.Sessions {
		checkSession(t, ws, s)
	}
	p2, err := NewPlan(ctx, src, ws, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p2.Sessions {
		if s.Action != ActionSkip {
			t.Fatalf("second plan: %s is %s, want skip", s.ID, s.Action)
		}
	}
	files := treeHashes(t, filepath.Join(ws.Root(), "sessions"))
	if rep2, err := Apply(ctx, ws, p2, ApplyOptions{}); err != nil || rep2.Appended != 0 {
		t.Fatalf("second apply: %v", err)
	}
	if !equalMaps(files, treeHashes(t, filepath.Join(ws.Root(), "sessions"))) {
		t.Fatal("second apply changed the workspace")
	}
	if !equalMaps(before, treeHashes(t, src)) {
		t.Fatal("migrating changed the source")
	}
	return p, ws
}

// sessionOf returns the planned session one raw key went to.
func sessionOf(t *testing.T, p *Plan, key string) *PlannedSession {
	t.Helper()
	for _, s := range p.Sessions {
		for _, k := range s.Keys {
			if k == key {
				return s
			}
		}
	}
	t.Fatalf("no planned session holds key %q", key)
	return nil
}

// checkMessages asserts every message and reset of a written session:
// role, content and position, and nothing else in between.
func checkMessages(t *testing.T, ws *workspace.Workspace, id string, want []msg) {
	t.Helper()
	s, err := ws.OpenID(id)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := s.ReadAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []msg
	for _, r := range recs[1:] {
		switch r.Type {
		case workspace.TypeMessage:
			got = append(got, msg{r.Role, r.Content})
		case workspace.TypeReset:
			got = append(got, msg{"reset", ""})
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d messages, want %d:\n got %q\nwant %q", id, len(got), len(want), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s message %d: got %q, want %q", id, i, got[i], want[i])
		}
	}
}

// dmMessages are the four messages each fixture of dm-per-channel holds.
func dmMessages(label string) []msg {
	return []msg{
		{"user", label + ": first question"}, {"assistant", label + ": first answer"},
		{"user", label + ": second question"}, {"assistant", label + ": second answer"},
	}
}

// A legacy DM key takes the id the assistant derives next time whenever
// the channel's adapter uses the peer as the DM's chat id: one row per
// channel of the table (docs/migration.md §3).
func TestDMChatPerChannel(t *testing.T) {
	p, ws := migrateTwice(t, "dm-per-channel", PlanOptions{})
	tests := []struct {
		label, key string
		sig        string // "" = kept under its legacy key (Rule B)
	}{
		{"telegram", "agent:main:telegram:direct:300400599", "v=1|agent=main|channel=telegram|account=default|chat=direct:300400599"},
		{"whatsapp", "agent:main:whatsapp:direct:15551234567@s.whatsapp.net", "v=1|agent=main|channel=whatsapp|account=default|chat=direct:15551234567@s.whatsapp.net"},
		{"whatsapp_native", "agent:main:whatsapp_native:direct:203040506070@lid", "v=1|agent=main|channel=whatsapp_native|account=default|chat=direct:203040506070@lid"},
		{"qq", "agent:main:qq:direct:e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9", ""}, // the bot's AppID is the account: not in the key
		{"line", "agent:main:line:direct:u0123456789abcdef0123456789abcdef", "v=1|agent=main|channel=line|account=default|chat=direct:u0123456789abcdef0123456789abcdef"},
		{"irc", "agent:main:irc:direct:nick_42", "v=1|agent=main|channel=irc|account=default|chat=direct:nick_42"},
		{"weixin", "agent:main:weixin:direct:o9cq80abcdef@im.wechat", "v=1|agent=main|channel=weixin|account=default|chat=direct:o9cq80abcdef@im.wechat"},
		{"vk", "agent:main:vk:direct:55501234", "v=1|agent=main|channel=vk|account=default|chat=direct:55501234"},
		{"wecom", "agent:main:wecom:direct:zhangsan", "v=1|agent=main|channel=wecom|account=default|chat=direct:zhangsan"},
		{"wecom_app", "agent:main:wecom_app:direct:lisi", "v=1|agent=main|channel=wecom|account=default|chat=direct:lisi"},
		{"onebot", "agent:main:onebot:direct:10001", "v=1|agent=main|channel=onebot|account=default|chat=direct:private:10001"},
		{"pico", "agent:main:pico:direct:pico:0c6e4a1f-2b3d-4e5f-8a9b-0c1d2e3f4a5b", "v=1|agent=main|channel=pico|account=default|chat=direct:pico:0c6e4a1f-2b3d-4e5f-8a9b-0c1d2e3f4a5b"},
		{"discord", "agent:main:discord:direct:555000111222333444", ""},
		{"slack", "agent:main:slack:direct:u01abcdef", ""},
		{"feishu", "agent:main:feishu:direct:ou_7d8a6e1f", ""},
		{"matrix", "agent:main:matrix:direct:@bob:example.org", ""},
		{"dingtalk", "agent:main:dingtalk:direct:staff0042", ""},
		{"telegram-linked", "agent:main:telegram:direct:alice", ""},
		{"telegram-account", "agent:main:telegram:bot-b:direct:300400600", "v=1|agent=main|channel=telegram|account=bot-b|chat=direct:300400600"},
	}
	if len(p.Sessions) != len(tests) {
		t.Fatalf("%d sessions, want %d", len(p.Sessions), len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.label, func(t *testing.T) {
			ps := sessionOf(t, p, tc.key)
			switch {
			case tc.sig == "":
				if ps.Rule != RuleB || ps.ID != keying.LegacyHash(tc.key) || ps.Aliases[0] != tc.key {
					t.Fatalf("rule %s id %s aliases %q: want Rule B under the legacy key", ps.Rule, ps.ID, ps.Aliases)
				}
				if len(ps.Warnings) == 0 {
					t.Error("no reason given for keeping the legacy key")
				}
			default:
				if ps.Rule != RuleA || ps.ID != keying.Opaque(tc.sig) || keying.Signature(*ps.Scope) != tc.sig {
					t.Fatalf("rule %s scope %+v: want %s", ps.Rule, ps.Scope, tc.sig)
				}
				if ps.Aliases[0] != tc.key {
					t.Fatalf("aliases %q: the legacy key must stay the first", ps.Aliases)
				}
			}
			checkMessages(t, ws, ps.ID, dmMessages(tc.label))
		})
	}
}

// A peer spelt like a canonical name of the target's identity links is a
// linked name, never a chat id, whatever the channel's rule.
func TestDMChatLinkedNameIsNoChatID(t *testing.T) {
	pol := keying.Policy{IdentityLinks: keying.IdentityLinks{"nick_42": {"irc:somebody"}}}
	p, ws := migrateTwice(t, "dm-per-channel", PlanOptions{Policy: &pol})
	ps := sessionOf(t, p, "agent:main:irc:direct:nick_42")
	if ps.Rule != RuleB {
		t.Fatalf("rule %s scope %+v: a linked name must not become a chat id", ps.Rule, ps.Scope)
	}
	checkMessages(t, ws, ps.ID, dmMessages("irc"))
	if ps := sessionOf(t, p, "agent:main:telegram:direct:300400599"); ps.Rule != RuleA {
		t.Fatalf("telegram: rule %s", ps.Rule)
	}
}

// A history whose meta is gone, torn or keyless is imported under the key
// its file name spells when the name allows one reading; a name that reads
// several ways keeps the name as its key and the report lists the readings.
func TestFileNameIsEvidence(t *testing.T) {
	p, ws := migrateTwice(t, "file-name-keys", PlanOptions{})
	tests := []struct {
		label, key string
		sig        string   // "" = Rule B under the name itself
		cands      []string // readings the warning must list
	}{
		{"no meta", "agent:main:telegram:direct:300400599", "v=1|agent=main|channel=telegram|account=default|chat=direct:300400599", nil},
		{"torn meta", "agent:main:telegram:group:-1001234567890/42", "v=1|agent=main|channel=telegram|account=default|chat=group:-1001234567890/42", nil},
		{"empty key", "agent:main:slack:channel:c001", "v=1|agent=main|channel=slack|account=default|chat=channel:c001", nil},
		{"json without key", "telegram:-100777", "v=1|agent=main|channel=telegram|account=default|chat=group:-100777", nil},
		{"channel with underscore", "agent_main_wecom_app_direct_lisi", "", []string{"agent:main:wecom:app:direct:lisi", "agent:main:wecom_app:direct:lisi"}},
		{"id with underscore", "agent_main_feishu_direct_ou_7d8a6e1f", "", []string{"agent:main:feishu:direct:ou:7d8a6e1f", "agent:main:feishu:direct:ou_7d8a6e1f"}},
	}
	if len(p.Sessions) != len(tests) {
		t.Fatalf("%d sessions, want %d", len(p.Sessions), len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.label, func(t *testing.T) {
			ps := sessionOf(t, p, tc.key)
			if tc.sig == "" {
				if ps.Rule != RuleB || ps.ID != keying.LegacyHash(tc.key) {
					t.Fatalf("rule %s id %s: want Rule B under the file name", ps.Rule, ps.ID)
				}
			} else if ps.Rule != RuleA || keying.Signature(*ps.Scope) != tc.sig || ps.ID != keying.Opaque(tc.sig) {
				t.Fatalf("rule %s scope %+v: want %s", ps.Rule, ps.Scope, tc.sig)
			}
			for _, c := range tc.cands {
				if !hasWarning(ps.Warnings, c) {
					t.Errorf("warnings %q do not list the reading %s", ps.Warnings, c)
				}
			}
			checkMessages(t, ws, ps.ID, dmMessages(tc.label))
		})
	}
}

func TestStemKey(t *testing.T) {
	tests := []struct{ stem, key string }{
		{"agent_main_telegram_direct_300400599", "agent:main:telegram:direct:300400599"},
		{"agent_main_telegram_group_-1001234567890_42", "agent:main:telegram:group:-1001234567890/42"},
		{"agent_main_main", "agent:main:main"},
		{"agent_main_direct_alice", "agent:main:direct:alice"},
		{"agent_main_discord_bot-a_direct_555000111", "agent:main:discord:bot-a:direct:555000111"},
		{"agent_main_pico_direct_pico_5b1f6a0e-7d4c-4d8e-9f3a-2c1b0a9e8d7f", "agent:main:pico:direct:pico:5b1f6a0e-7d4c-4d8e-9f3a-2c1b0a9e8d7f"},
		{"agent_cron-job42-0d9c8b7a", "agent:cron-job42-0d9c8b7a"},
		{"telegram_123456789", "telegram:123456789"},
		{"telegram:123456789", "telegram:123456789"},
		{"sk_v1_67fe19a8ec8fd03673f4b28c2fcddc0a2712152896ff962b8eec1b0debfdb4c5", "sk_v1_67fe19a8ec8fd03673f4b28c2fcddc0a2712152896ff962b8eec1b0debfdb4c5"},
		// ambiguous or no key at all
		{"agent_main_wecom_app_direct_x", ""},                      // channel wecom_app, or wecom with account app
		{"agent_main_whatsapp_native_direct_203040506070@lid", ""}, // likewise
		{"agent_main_slack_channel_c01_1712.55", ""},
		{"agent_main_matrix_direct_@bob_example.org", ""},
		{"notes", ""},
		{"foo_bar_baz", ""},
	}
	for _, tc := range tests {
		if got, _ := stemKey(tc.stem); got != tc.key {
			t.Errorf("stemKey(%q) = %q, want %q", tc.stem, got, tc.key)
		}
	}
}

// PocketPaw dashboard exports are read when the memory dir is gone: each
// names its session by session_id (not the cut file name), several exports
// of one session are one history with each message once, and the times,
// naive local times with "+00:00" glued on, are read in the source zone.
func TestPocketPawExports(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no tz database: %v", err)
	}
	p, ws := migrateTwice(t, "pocketpaw-exports", PlanOptions{Read: Options{Location: berlin}})
	if p.System != SystemPocketPaw {
		t.Fatalf("detected %s", p.System)
	}
	qa := func(label string, n int) []msg {
		var out []msg
		for i := 0; i < n; i++ {
			if i%2 == 0 {
				out = append(out, msg{"user", fmt.Sprintf("%s: question %d", label, i/2+1)})
			} else {
				out = append(out, msg{"assistant", fmt.Sprintf("%s: answer %d", label, i/2+1)})
			}
		}
		return out
	}
	tests := []struct {
		key, sig string
		want     []msg
		first    string // UTC time of the first message
	}{
		{"telegram:123456789", "v=1|agent=main|channel=telegram|account=default|chat=direct:123456789", qa("telegram", 4), "2026-02-16T07:10:22.604118Z"},
		{"websocket:3b2f6c1e-9a4d-4e7b-8c15-2f0d9e6a7b31", "v=1|agent=main|channel=websocket|account=default|chat=direct:3b2f6c1e-9a4d-4e7b-8c15-2f0d9e6a7b31", qa("web", 2), "2026-02-16T07:30:22.604118Z"},
		{"slack:C01ABC", "", qa("slack", 6), "2026-02-16T07:40:22.604118Z"},
	}
	if len(p.Sessions) != len(tests) {
		t.Fatalf("%d sessions, want %d", len(p.Sessions), len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			ps := sessionOf(t, p, tc.key)
			if tc.sig != "" && (ps.Rule != RuleA || keying.Signature(*ps.Scope) != tc.sig) {
				t.Fatalf("rule %s scope %+v, want %s", ps.Rule, ps.Scope, tc.sig)
			}
			if tc.sig == "" && (ps.Rule != RuleB || ps.Aliases[0] != tc.key) {
				t.Fatalf("rule %s aliases %q, want Rule B under %s", ps.Rule, ps.Aliases, tc.key)
			}
			checkMessages(t, ws, ps.ID, tc.want)
			if got := ps.records[0].At.Format(time.RFC3339Nano); got != tc.first {
				t.Errorf("first message at %s, want %s (naive Berlin time)", got, tc.first)
			}
		})
	}
	classes := map[string]Class{}
	for _, f := range p.Files {
		classes[f.Path] = f.Class
	}
	for name, want := range map[string]Class{
		"pocketpaw-session-slack_C01ABC.json":     ClassDuplicate, // every message is in the newer export
		"pocketpaw-session-slack_C01ABC (1).json": ClassImported,
		"pocketpaw-session-slack_C01ABC.md":       ClassIgnored,
	} {
		if classes[name] != want {
			t.Errorf("%s: class %s, want %s", name, classes[name], want)
		}
	}
}

// A tool result keeps its tool's name and error flag as record fields:
// OpenClaw's toolName and isError as stored (a failure stored as success
// stays one), PicoClaw's from the call its tool_call_id answers.
func TestToolResultsKeepNameAndError(t *testing.T) {
	type tool struct {
		msg
		name    string
		isError bool
	}
	tests := []struct {
		fixture string
		want    []tool
	}{
		{"tool-results-openclaw", []tool{
			{msg{"user", "read notes.txt and run the backup"}, "", false},
			{msg{"assistant", "Reading it."}, "", false},
			{msg{"tool", "ENOENT: notes.txt"}, "read_file", true},
			{msg{"assistant", ""}, "", false},
			{msg{"tool", `{"status":"error","error":"permission denied"}`}, "exec", false},
			{msg{"assistant", "notes.txt is missing and the backup was refused."}, "", false},
		}},
		{"tool-results-picoclaw", []tool{
			{msg{"user", "what is on my list?"}, "", false},
			{msg{"assistant", ""}, "", false},
			{msg{"tool", "buy milk\ncall bob"}, "read_file", false},
			{msg{"tool", "milk: 1.09 EUR"}, "web_search", false},
			{msg{"tool", "orphan result"}, "", false}, // answers no call: no name is made up
			{msg{"assistant", "Buy milk (1.09 EUR) and call bob."}, "", false},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			p, ws := migrateTwice(t, tc.fixture, PlanOptions{})
			ps := sessionOf(t, p, "agent:main:telegram:direct:300400599")
			var plain []msg
			for _, w := range tc.want {
				plain = append(plain, w.msg)
			}
			checkMessages(t, ws, ps.ID, plain)
			s, err := ws.OpenID(ps.ID)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := s.ReadAll(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			i := 0
			for _, r := range recs[1:] {
				if r.Type != workspace.TypeMessage {
					continue
				}
				if w := tc.want[i]; r.ToolName != w.name || r.IsError != w.isError {
					t.Errorf("message %d: tool_name %q is_error %v, want %q %v", i, r.ToolName, r.IsError, w.name, w.isError)
				}
				i++
			}
		})
	}
}

// A session kept under the alias PicoClaw gives a message without a chat
// type (agent:<a>:<ch>:unknown:<chat>) lands on the untyped route's id, and
// that route lists the key among its aliases.
func TestUntypedChatAliases(t *testing.T) {
	p, ws := migrateTwice(t, "untyped-chat", PlanOptions{})
	for _, tc := range []struct {
		label, key string
		in         keying.Inbound
	}{
		{"slack untyped", "agent:main:slack:unknown:c0a1b2", keying.Inbound{Channel: "slack", ChatID: "C0A1B2", SenderID: "U1"}},
		{"telegram untyped", "agent:main:telegram:unknown:300400599", keying.Inbound{Channel: "telegram", ChatID: "300400599", SenderID: "300400599"}},
	} {
		t.Run(tc.label, func(t *testing.T) {
			ps := sessionOf(t, p, tc.key)
			rt, err := keying.Resolve("main", tc.in, keying.Policy{})
			if err != nil {
				t.Fatal(err)
			}
			if ps.Rule != RuleA || ps.ID != rt.ID {
				t.Fatalf("rule %s id %s, want the untyped route's %s (%s)", ps.Rule, ps.ID, rt.ID, rt.Signature)
			}
			if !strings.Contains(strings.Join(rt.Aliases, " "), tc.key) {
				t.Fatalf("route aliases %q lack %s", rt.Aliases, tc.key)
			}
			checkMessages(t, ws, ps.ID, dmMessages(tc.label))
		})
	}
}
