package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// The installs under testdata/upstream were written by PicoClaw's and
// Clawdbot's own session code at released versions (testdata/upstream/
// README.md says how);
// expected.json says what each conversation holds and how PicoClaw routes
// it. These tests migrate each install the way `picosess migrate` does
// (the source's own config, proposed config written into the workspace)
// and check that every message is in the session the assistant will use
// next, once, in order.

const upstreamRoot = "../testdata/upstream"

type upstreamMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type upstreamConversation struct {
	Name        string   `json:"name"`
	Channel     string   `json:"channel"`
	Account     string   `json:"account"`
	ChatType    string   `json:"chat_type"`
	ChatID      string   `json:"chat_id"`
	Sender      string   `json:"sender"`
	Topic       string   `json:"topic"`
	LegacyKey   string   `json:"legacy_key"`
	Main        bool     `json:"main"`
	UpstreamKey string   `json:"upstream_key"`
	Aliases     []string `json:"aliases"`
	Summary     string   `json:"summary"`
	// Resets: how many times the conversation was reset ("/new"); its
	// messages then span Resets+1 conversations of one session.
	Resets int `json:"resets"`
	// ContinuedAs names the conversation the chat went on in after an
	// upgrade, one that is not its own (PicoClaw v0.2.x with dm_scope main
	// puts every DM in the main session): the assistant no longer reaches
	// this one by a route, only by its key.
	ContinuedAs string            `json:"continued_as"`
	Messages    []upstreamMessage `json:"messages"`
}

type upstreamManifest struct {
	Versions      []string                `json:"versions"`
	Conversations []*upstreamConversation `json:"conversations"`
}

func readUpstreamManifest(t *testing.T, dir string) *upstreamManifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m upstreamManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s/expected.json: %v", dir, err)
	}
	if len(m.Conversations) == 0 {
		t.Fatalf("%s/expected.json lists no conversation", dir)
	}
	return &m
}

// inbound is the message the assistant's adapter delivers next for c.
func (c *upstreamConversation) inbound() keying.Inbound {
	return keying.Inbound{
		Channel: c.Channel, Account: c.Account, ChatType: c.ChatType, ChatID: c.ChatID,
		SenderID: c.Sender, TopicID: c.Topic,
	}
}

// derivable says whether the id the assistant routes c to next follows
// from c's legacy key alone: a Telegram or WhatsApp DM (the DM's chat id is
// the peer in the key; docs/migration.md), or a group or topic when the
// policy has no sender dimension (no sender is in a group's legacy key).
// A Discord DM's chat id is another snowflake than the author id in the
// key.
func (c *upstreamConversation) derivable(dims []string) bool {
	if c.ChatType == "direct" {
		return c.Channel == "telegram" || c.Channel == "whatsapp"
	}
	for _, d := range dims {
		if d == keying.DimSender {
			return false
		}
	}
	return true
}

// explicit: the conversation was stored under a key the caller gave
// (`picoclaw agent`'s cli:default), or is the agent's main session, not a
// routed chat: the assistant reaches it by that key.
func (c *upstreamConversation) explicit() bool {
	return c.ChatType == "explicit" || c.Main || c.ContinuedAs != ""
}

// migrateUpstream copies the install under dir/home, migrates it into a
// new workspace as the CLI does with --write-config (the plan first, a dry
// run that writes nothing), and returns the workspace, the copy, the
// keying policy used and the plan.
func migrateUpstream(t *testing.T, dir string, inst upstreamInstall) (*workspace.Workspace, string, keying.Policy, *Plan) {
	t.Helper()
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), inst.root)
	copyTree(t, filepath.Join(dir, inst.root), src)
	reverseModTimes(t, src)
	res, sc, err := ReadInstall(ctx, src, Options{})
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	if sc == nil || sc.Path == "" {
		t.Fatalf("read %s: the install's config.json was not read: %+v", dir, sc)
	}
	for _, d := range inst.sessions {
		checkSessionFilesAccounted(t, src, d, res)
	}
	wsDir := t.TempDir()
	if _, err := WriteProposedConfig(wsDir, sc.Proposal); err != nil {
		t.Fatal(err)
	}
	ws, err := workspace.Open(wsDir, &workspace.Options{Durability: workspace.DurabilityNever})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	pol := sc.Policy()
	wsBefore := treeHashes(t, wsDir)
	p, err := PlanResult(ctx, res, ws, PlanOptions{Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	if !equalMaps(wsBefore, treeHashes(t, wsDir)) {
		t.Errorf("the plan (dry run) changed the workspace")
	}
	for _, s := range p.Sessions {
		if s.Action == ActionSkip {
			t.Errorf("dry run into an empty workspace: %s (%s) would be skipped", s.ID, s.Keys)
		}
	}
	rep, err := Apply(ctx, ws, p, ApplyOptions{ReportDir: filepath.Join(t.TempDir(), "report")})
	if err != nil {
		t.Fatalf("apply %s: %v", dir, err)
	}
	if !rep.Verify.OK() {
		t.Fatalf("verify %s: %+v", dir, rep.Verify)
	}
	return ws, src, pol, p
}

// plannedFor returns the planned session whose sources hold key, else the
// one whose aliases list it (a legacy key folded into a P5 session).
func plannedFor(p *Plan, key string) *PlannedSession {
	for _, s := range p.Sessions {
		if slices.Contains(s.Keys, key) {
			return s
		}
	}
	for _, s := range p.Sessions {
		if slices.ContainsFunc(s.Aliases, func(a string) bool { return strings.EqualFold(a, key) }) {
			return s
		}
	}
	return nil
}

// reverseModTimes gives the files below dir modification times that run
// against their paths (the last path the oldest), as a copied or restored
// home has times that say nothing of when the assistant wrote each file:
// an order taken from them, or from paths, is not taken from the data.
func reverseModTimes(t *testing.T, dir string) {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	base := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for i, f := range files {
		at := base.Add(time.Duration(len(files)-i) * time.Minute)
		if err := os.Chtimes(f, at, at); err != nil {
			t.Fatal(err)
		}
	}
}

// checkSessionFilesAccounted asserts that every file of the install's
// sessions directories is reported exactly once (the config and its
// backups beside them are not session files).
func checkSessionFilesAccounted(t *testing.T, home, sessions string, r *Result) {
	t.Helper()
	seen := map[string]int{}
	for _, f := range r.Files {
		seen[f.Path]++
	}
	ents, err := os.ReadDir(filepath.Join(home, filepath.FromSlash(sessions)))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		rel := sessions + "/" + e.Name()
		if seen[rel] != 1 {
			t.Errorf("%s reported %d times, want exactly once", rel, seen[rel])
		}
	}
}

// upstreamSessionMessages returns every message record of s, all conversations
// (segments) in file order.
func upstreamSessionMessages(t *testing.T, s *workspace.Session) []workspace.Record {
	t.Helper()
	segs, err := s.Segments(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []workspace.Record
	for _, g := range segs {
		out = append(out, g.Messages()...)
	}
	return out
}

// sameMessages says how got differs from want (role and content, in
// order), or "".
func sameMessages(got []workspace.Record, want []upstreamMessage) string {
	n := max(len(got), len(want))
	for i := range n {
		switch {
		case i >= len(got):
			return fmt.Sprintf("message %d (%s %q) missing; %d messages, want %d", i, want[i].Role, want[i].Content, len(got), len(want))
		case i >= len(want):
			return fmt.Sprintf("extra message %d (%s %q); %d messages, want %d", i, got[i].Role, got[i].Content, len(got), len(want))
		case got[i].Role != want[i].Role || got[i].Content != want[i].Content:
			return fmt.Sprintf("message %d is %s %q, want %s %q", i, got[i].Role, got[i].Content, want[i].Role, want[i].Content)
		}
	}
	return ""
}

func hasSummary(t *testing.T, s *workspace.Session, text string) bool {
	t.Helper()
	segs, err := s.Segments(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range segs {
		for _, r := range g.Records {
			if r.Type == workspace.TypeSummary && r.Text == text {
				return true
			}
		}
	}
	return false
}

func liveMessageCount(t *testing.T, ws *workspace.Workspace) (int, []string) {
	t.Helper()
	ctx := context.Background()
	metas, err := ws.List(ctx, workspace.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var ids []string
	for _, m := range metas {
		s, err := ws.OpenID(m.ID)
		if err != nil {
			t.Fatal(err)
		}
		n += len(upstreamSessionMessages(t, s))
		ids = append(ids, m.ID)
	}
	return n, ids
}

// upstreamInstall says where an install keeps its files: the dir migrate
// is pointed at, and its sessions directories below it.
type upstreamInstall struct {
	root     string
	sessions []string
}

var (
	picoInstall = upstreamInstall{"home", []string{"workspace/sessions"}}
	clawInstall = upstreamInstall{"state", []string{"agents/main/sessions"}}
	// P0 (v0.0.1) kept sessions in $PICOCLAW_HOME/sessions; P1 and P2
	// (v0.1.1, v0.1.2) in <workspace>/sessions, and an install upgraded
	// from v0.0.1 keeps both.
	picoP0Install  = upstreamInstall{"home", []string{"sessions"}}
	picoP01Install = upstreamInstall{"home", []string{"sessions", "workspace/sessions"}}
)

func TestUpstreamPicoClaw(t *testing.T) {
	for _, v := range []struct {
		version string
		inst    upstreamInstall
	}{
		{"v0.0.1", picoP0Install},
		{"v0.1.1", picoP01Install},
		{"v0.1.2", picoP01Install},
		{"v0.2.0", picoInstall},
		{"v0.2.6", picoInstall},
		{"v0.2.9", picoInstall},
		// v0.1.2 upgraded straight to v0.2.6: the pre-routing files
		// converted to JSONL, v0.0.1's directory beside
		{"v0.2.6-from-v0.1.2", picoP01Install},
	} {
		t.Run(v.version, func(t *testing.T) {
			testUpstream(t, filepath.Join(upstreamRoot, "picoclaw", v.version), v.inst)
		})
	}
}

func TestUpstreamClawdbot(t *testing.T) {
	for _, v := range []string{"2026.1.24"} {
		t.Run(v, func(t *testing.T) {
			testUpstream(t, filepath.Join(upstreamRoot, "openclaw", v), clawInstall)
		})
	}
}

func testUpstream(t *testing.T, dir string, inst upstreamInstall) {
	ctx := context.Background()
	man := readUpstreamManifest(t, dir)
	ws, src, pol, plan := migrateUpstream(t, dir, inst)
	before := treeHashes(t, src)

	total := 0
	for _, c := range man.Conversations {
		total += len(c.Messages)
	}
	// The dry run says how many messages the migration will write: each
	// once.
	planned := 0
	for _, s := range plan.Sessions {
		planned += s.Messages
	}
	if planned != total {
		t.Errorf("the plan writes %d messages, want %d (each once)", planned, total)
	}
	var adopt []*upstreamConversation
	for _, c := range man.Conversations {
		// Every conversation answers to the key the assistant stored it
		// under; a session kept under that key (Rule B) names it first.
		key := c.LegacyKey
		if key == "" {
			key = picoEmptyKey
		}
		ps := plannedFor(plan, key)
		if ps == nil {
			t.Errorf("%s: no planned session holds or answers to %q", c.Name, key)
			continue
		}
		if ps.Rule == RuleB && (len(ps.Aliases) == 0 || ps.Aliases[0] != key) {
			t.Errorf("%s: kept under its key %q (rule B) but its aliases are %q", c.Name, key, ps.Aliases)
		}
		if s, err := ws.Lookup(ctx, key); err != nil {
			t.Errorf("%s: lookup %q: %v", c.Name, key, err)
		} else if s.ID() != ps.ID {
			t.Errorf("%s: %q names %s, the plan put it in %s", c.Name, key, s.ID(), ps.ID)
		}
		if c.explicit() {
			// Kept under the key it was stored under: the old assistant
			// (and `picosess show cli:default`) find it by that key; PicoClaw
			// v0.0.1's empty key is picoclaw:empty-key (docs/migration.md).
			s, err := ws.Lookup(ctx, key)
			if err != nil {
				t.Errorf("%s: lookup %q: %v", c.Name, key, err)
				continue
			}
			if d := sameMessages(upstreamSessionMessages(t, s), c.Messages); d != "" {
				t.Errorf("%s (%s): %s", c.Name, c.LegacyKey, d)
			}
			continue
		}
		r, err := ws.Route("main", c.inbound())
		if err != nil {
			t.Fatalf("%s: route: %v", c.Name, err)
		}
		if c.UpstreamKey != "" && r.ID != c.UpstreamKey {
			t.Errorf("%s: our route id %s, PicoClaw allocated %s", c.Name, r.ID, c.UpstreamKey)
		}
		s, err := ws.OpenID(r.ID)
		switch {
		case err == nil:
		case errors.Is(err, workspace.ErrNotFound):
			// Not derivable offline: kept under its legacy key, and
			// continued by the route's first message below.
			if c.derivable(pol.Dimensions) {
				t.Errorf("%s: the route id follows from legacy key %q, but nothing was imported under route id %s", c.Name, c.LegacyKey, r.ID)
			}
			adopt = append(adopt, c)
			if s, err = ws.Lookup(ctx, c.LegacyKey); err != nil {
				t.Errorf("%s: neither route id %s nor legacy key %q: %v", c.Name, r.ID, c.LegacyKey, err)
				continue
			}
		default:
			t.Fatalf("%s: open %s: %v", c.Name, r.ID, err)
		}
		if d := sameMessages(upstreamSessionMessages(t, s), c.Messages); d != "" {
			t.Errorf("%s (%s): %s", c.Name, c.LegacyKey, d)
		}
		if segs, err := s.Segments(ctx); err != nil || len(segs) != c.Resets+1 {
			t.Errorf("%s: %d conversations (err %v), want %d: one per reset and the first", c.Name, len(segs), err, c.Resets+1)
		}
		if c.Summary != "" && !hasSummary(t, s, c.Summary) {
			t.Errorf("%s: no summary record %q", c.Name, c.Summary)
		}
	}
	// Once: no message is in two live sessions (a promoted copy or a
	// .json.migrated copy imported beside its conversation would be).
	if n, ids := liveMessageCount(t, ws); n != total {
		t.Errorf("%d messages in %d live sessions %v, want %d (each message once)", n, len(ids), ids, total)
	}

	// Migrating again writes nothing.
	sessDir := ws.SessionsDir()
	wsBefore := treeHashes(t, sessDir)
	res, sc, err := ReadInstall(ctx, src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pol2 := sc.Policy()
	p2, err := PlanResult(ctx, res, ws, PlanOptions{Policy: &pol2})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p2.Sessions {
		if s.Action != ActionSkip {
			t.Errorf("second plan: %s %v (%s)", s.ID, s.Action, s.Keys)
		}
	}
	if _, err := Apply(ctx, ws, p2, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if !equalMaps(wsBefore, treeHashes(t, sessDir)) {
		t.Error("the second migration changed the workspace")
	}
	if !equalMaps(before, treeHashes(t, src)) {
		t.Error("the source tree changed")
	}

	// The first routed message of a conversation kept under its legacy
	// key continues it in the route's session, every message once.
	for _, c := range adopt {
		s, err := ws.SessionFor(ctx, "main", c.inbound())
		if err != nil {
			t.Fatalf("%s: SessionFor: %v", c.Name, err)
		}
		m, err := s.Meta(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := ws.Route("main", c.inbound())
		if m.ID != r.ID {
			t.Errorf("%s: SessionFor gave %s, route id %s", c.Name, m.ID, r.ID)
		}
		if d := sameMessages(upstreamSessionMessages(t, s), c.Messages); d != "" {
			t.Errorf("%s after adoption: %s", c.Name, d)
		}
		if old, err := ws.Lookup(ctx, c.LegacyKey); err != nil {
			t.Errorf("%s: legacy key %q after adoption: %v", c.Name, c.LegacyKey, err)
		} else if om, _ := old.Meta(ctx); om.ID != r.ID {
			t.Errorf("%s: legacy key %q names %s after adoption, want the route's %s", c.Name, c.LegacyKey, om.ID, r.ID)
		}
	}
	if len(adopt) > 0 {
		if n, ids := liveMessageCount(t, ws); n != total {
			t.Errorf("after adoption: %d messages in %d live sessions %v, want %d", n, len(ids), ids, total)
		}
	}
}

// A JSONL whose head PicoClaw cut (a summary, then Save compacting the
// file) after the JSON->JSONL conversion: the JSON copy's messages that the
// JSONL lost come first, and a message repeated in the two ("thanks",
// "You're welcome.", untimed, each unique in its copy) is not taken for one.
func TestPicoClawCompactedJSONLAfterConversion(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sessions")
	key := "agent:main:telegram:group:-100777"
	day := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	picoJSON(t, filepath.Join(dir, "agent_main_telegram_group_-100777.json.migrated"), key, day,
		"u:what time is it?", "a:21:03", "u:thanks", "a:You're welcome.")
	// converted, then "u:weather?" "a:12 degrees" "u:thanks" "a:You're
	// welcome." appended, summarized keeping 2, compacted, then one more turn
	picoJSONL(t, dir, "agent_main_telegram_group_-100777", key, day.Add(time.Hour),
		"u:thanks", "a:You're welcome.", "u:and tomorrow?", "a:rain")
	p, _, ws := migrateDir(t, dir)
	ps := sessionOf(t, p, key)
	got, _ := sessionMessages(t, ws, ps.ID)
	// The JSONL's "thanks" pair may be the copy's (cut exactly after the
	// conversion) or a new one: the copy's end and the JSONL's start are
	// the only place the two can share records, so it is taken as shared.
	want := []string{"u:what time is it?", "a:21:03", "u:thanks", "a:You're welcome.", "u:and tomorrow?", "a:rain"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("overlapping cut:\n got  %q\n want %q", got, want)
	}

	dir = filepath.Join(t.TempDir(), "sessions")
	picoJSON(t, filepath.Join(dir, "agent_main_telegram_group_-100777.json.migrated"), key, day,
		"u:what time is it?", "a:21:03", "u:thanks", "a:You're welcome.")
	picoJSONL(t, dir, "agent_main_telegram_group_-100777", key, day.Add(time.Hour),
		"a:12 degrees", "u:thanks", "a:You're welcome.", "u:and tomorrow?", "a:rain")
	p, _, ws = migrateDir(t, dir)
	ps = sessionOf(t, p, key)
	got, _ = sessionMessages(t, ws, ps.ID)
	want = []string{"u:what time is it?", "a:21:03", "u:thanks", "a:You're welcome.", "a:12 degrees", "u:thanks", "a:You're welcome.", "u:and tomorrow?", "a:rain"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("cut past the copy:\n got  %q\n want %q", got, want)
	}
}

// p5Install writes a P5 sessions dir as PicoClaw v0.2.7-v0.2.9 leave it
// (no message times): main's history, a legacy DM, and the DM's sk_v1_
// session whose meta lists main and the DM's legacy key.
func p5Install(t *testing.T, main, legacy, promoted []string) (dir, sk string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "sessions")
	lines := func(specs []string) string {
		var b strings.Builder
		for _, sp := range specs {
			role := map[byte]string{'u': "user", 'a': "assistant"}[sp[0]]
			fmt.Fprintf(&b, "{\"role\":%q,\"content\":%q}\n", role, sp[2:])
		}
		return b.String()
	}
	meta := func(key, extra string) string {
		return fmt.Sprintf(`{"key":%q,"summary":"","skip":0,"count":0,"created_at":"2026-05-30T10:00:00Z","updated_at":"2026-05-30T10:00:00Z"%s}`, key, extra)
	}
	write(t, filepath.Join(dir, "agent_main_main.jsonl"), lines(main))
	write(t, filepath.Join(dir, "agent_main_main.meta.json"), meta("agent:main:main", ""))
	if legacy != nil {
		write(t, filepath.Join(dir, "agent_main_telegram_direct_42.jsonl"), lines(legacy))
		write(t, filepath.Join(dir, "agent_main_telegram_direct_42.meta.json"), meta("agent:main:telegram:direct:42", ""))
	}
	sk = keying.Opaque("v=1|agent=main|channel=telegram|account=default|chat=direct:42")
	write(t, filepath.Join(dir, sk+".jsonl"), lines(promoted))
	write(t, filepath.Join(dir, sk+".meta.json"), meta(sk, `,"scope":{"version":1,"agent_id":"main","channel":"telegram","account":"default","dimensions":["chat"],"values":{"chat":"direct:42"}},"aliases":["agent:main:main","agent:main:direct:42","agent:main:telegram:direct:42","agent:main:telegram:default:direct:42"]`))
	return dir, sk
}

// v0.2.7-v0.2.9 promotion copied main's history, not the DM's, into the
// DM's new session (picoclaw#2972), and wrote no message times: the copy is
// dropped (it stays in main), the legacy DM history goes whole before the
// session's own messages, and an "ok" pair in both is two pairs.
func TestPicoClawUntimedMainCopyAndMissingLegacy(t *testing.T) {
	main := []string{"u:status?", "a:all good"}
	dir, sk := p5Install(t, main,
		[]string{"u:hi", "a:hello", "u:ok", "a:ok"},
		[]string{"u:status?", "a:all good", "u:back", "a:welcome", "u:ok", "a:ok"})
	p, _, ws := migrateDir(t, dir)
	got, _ := sessionMessages(t, ws, sessionOf(t, p, sk).ID)
	want := []string{"u:hi", "a:hello", "u:ok", "a:ok", "u:back", "a:welcome", "u:ok", "a:ok"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("DM:\n got  %q\n want %q", got, want)
	}
	got, _ = sessionMessages(t, ws, sessionOf(t, p, "agent:main:main").ID)
	if strings.Join(got, "|") != strings.Join([]string{"u:status?", "a:all good"}, "|") {
		t.Fatalf("main: %q", got)
	}

	// A promoted copy of the DM's own history (a build that skipped main)
	// is a duplicate: each message once.
	dir, sk = p5Install(t, main,
		[]string{"u:hi", "a:hello", "u:ok", "a:ok"},
		[]string{"u:hi", "a:hello", "u:ok", "a:ok", "u:back", "a:welcome"})
	p, _, ws = migrateDir(t, dir)
	got, _ = sessionMessages(t, ws, sessionOf(t, p, sk).ID)
	want = []string{"u:hi", "a:hello", "u:ok", "a:ok", "u:back", "a:welcome"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("promoted copy:\n got  %q\n want %q", got, want)
	}

	// Untimed, a chat's opening equal to messages in the middle of main is
	// the chat's own: the copy would have started at main's first message.
	dir, sk = p5Install(t, []string{"u:status?", "a:all good", "u:hi", "a:hello"}, nil,
		[]string{"u:hi", "a:hello", "u:x", "a:y"})
	p, _, ws = migrateDir(t, dir)
	got, _ = sessionMessages(t, ws, sessionOf(t, p, sk).ID)
	want = []string{"u:hi", "a:hello", "u:x", "a:y"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("chat opening like main's middle:\n got  %q\n want %q", got, want)
	}
}

func benchItems(prefix string, n int) []*item {
	out := make([]*item, n)
	for i := range out {
		role := workspace.RoleUser
		if i%2 == 1 {
			role = workspace.RoleAssistant
		}
		c := fmt.Sprintf("%s message %d", prefix, i)
		if i%10 == 5 {
			c = "ok" // repeated messages, as real chats have
		}
		out[i] = &item{rec: workspace.Record{Type: workspace.TypeMessage, Role: role, Content: c}}
	}
	return out
}

// cloneItems copies items as a second source file's reading of the same
// messages would be: other objects, same records.
func cloneItems(items []*item) []*item {
	out := make([]*item, len(items))
	for i, it := range items {
		out[i] = &item{rec: it.rec}
	}
	return out
}

// A 20 000-message JSON-era copy and its JSONL cut at the head: the
// copy's second half, then 20 000 new messages.
func BenchmarkAlignConvertedCut(b *testing.B) {
	old := benchItems("old", 20000)
	newer := benchItems("new", 20000)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		copies := cloneItems(old)
		logs := append(cloneItems(old[10000:]), cloneItems(newer)...)
		b.StartTimer()
		out, st := alignConverted(copies, logs)
		if len(out) != 40000 || st.matched != 10000 {
			b.Fatalf("%d records, %d matched", len(out), st.matched)
		}
	}
	b.ReportMetric(40000*float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}

// A 20 000-message legacy history absent from its promoted session.
func BenchmarkMergeLegacyIntoPromotedAbsent(b *testing.B) {
	legacy := benchItems("legacy", 20000)
	promoted := benchItems("promoted", 20000)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		out, _ := mergeLegacyIntoPromoted(legacy, promoted)
		if len(out) != 40000 {
			b.Fatalf("%d records", len(out))
		}
	}
	b.ReportMetric(40000*float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}
