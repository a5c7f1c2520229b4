package migrate

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

const fxPassword = "correct horse battery staple"

func sourceMessages(s *Source) []workspace.Record {
	var out []workspace.Record
	for _, r := range s.Records {
		if r.Type == workspace.TypeMessage {
			out = append(out, r)
		}
	}
	return out
}

func recordsOf(s *Source, typ string) []workspace.Record {
	var out []workspace.Record
	for _, r := range s.Records {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

func assertFxMessages(t *testing.T, s *Source, want []fxWant) {
	t.Helper()
	got := sourceMessages(s)
	if len(got) != len(want) {
		t.Fatalf("%s: %d messages, want %d", s.Key, len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Role != w.role || g.Content != w.content || !g.At.Equal(time.UnixMilli(w.ms).UTC()) {
			t.Fatalf("%s message %d: got %s %q at %s, want %s %q at %s", s.Key, i, g.Role, g.Content, g.At, w.role, w.content, time.UnixMilli(w.ms).UTC())
		}
	}
}

// Every messages row of a Clodds database is imported once, in its
// session, in timestamp order (ties in insertion order), whatever order
// the rows were written in; context-only messages join in time order;
// titles, summaries and checkpoints become records.
func TestCloddsReadEveryRow(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fx := makeCloddsFixture(t, dir, 40, 70, 1)
	write(t, filepath.Join(dir, "clodds.json"), "{session: {dmScope: 'per-channel-peer'}}\n")
	write(t, filepath.Join(dir, "logs", "clodds.log"), "x\n")
	write(t, filepath.Join(dir, "notes.txt"), "x\n")
	if fx.rows < 2000 {
		t.Fatalf("fixture has %d rows, want a few thousand", fx.rows)
	}
	before := treeHashes(t, dir)
	res, err := Read(ctx, dir, Options{Password: fxPassword})
	if err != nil {
		t.Fatal(err)
	}
	if res.System != SystemClodds {
		t.Fatalf("detected %s, want clodds", res.System)
	}
	if !equalMaps(before, treeHashes(t, dir)) {
		t.Fatal("reading changed the source tree")
	}
	files := map[string]FileReport{}
	for _, f := range res.Files {
		files[f.Path] = f
	}
	if f := files["clodds.db"]; f.Class != ClassImported || f.Records != fx.rows+3 {
		t.Fatalf("clodds.db reported %+v, want imported with %d messages", f, fx.rows+3)
	}
	if f := files["clodds.json"]; f.Class != ClassIgnored || !strings.Contains(f.Reason, "config") {
		t.Fatalf("clodds.json reported %+v", f)
	}
	if f := files["notes.txt"]; f.Class != ClassIgnored {
		t.Fatalf("notes.txt reported %+v", f)
	}
	total := 0
	for _, s := range fx.sessions {
		src := res.Source(s.key)
		if src == nil {
			t.Fatalf("no source for %s", s.key)
		}
		assertFxMessages(t, src, s.want)
		total += len(s.want)
		titles := recordsOf(src, workspace.TypeTitle)
		if s.title != "" && (len(titles) != 1 || titles[0].Text != s.title) {
			t.Fatalf("%s: titles %+v, want %q", s.key, titles, s.title)
		}
		if s.title == "" && len(titles) != 0 {
			t.Fatalf("%s: unexpected title %+v", s.key, titles)
		}
		for i, r := range src.Records {
			if r.Seq != int64(i+2) {
				t.Fatalf("%s: record %d has seq %d", s.key, i, r.Seq)
			}
		}
	}
	gone := res.Source("clodds:session:deleted-session-1")
	if gone == nil {
		t.Fatal("rows of a deleted session were not imported")
	}
	o := fx.orphans["deleted-session-1"] // same time: insertion (rowid) order
	if o[0].rowid > o[1].rowid {
		o = []*fxMsg{o[1], o[0]}
	}
	assertFxMessages(t, gone, []fxWant{{o[0].role, o[0].content, o[0].ts}, {o[1].role, o[1].content, o[1].ts}})
	if len(gone.Warnings) == 0 || !strings.Contains(gone.Warnings[0], "deleted-session-1") {
		t.Fatalf("orphan rows not reported: %v", gone.Warnings)
	}
	if got := res.Messages(); got != total+2 {
		t.Fatalf("%d messages read, want %d", got, total+2)
	}
	// the plain summary: through the last message before the kept history
	sum := fx.sessions[len(fx.sessions)-2]
	src := res.Source(sum.key)
	ss := recordsOf(src, workspace.TypeSummary)
	if len(ss) != 1 || ss[0].Text != "- user: asked about spreads" {
		t.Fatalf("summary records %+v", ss)
	}
	var wantThrough, wantCkpt int64
	for _, r := range src.Records {
		if r.Type == workspace.TypeMessage && r.At.Before(time.UnixMilli(sum.msgs[6].ts)) {
			wantThrough = r.Seq
		}
		if r.Type == workspace.TypeMessage && !r.At.After(time.UnixMilli(sum.msgs[4].ts)) {
			wantCkpt = r.Seq
		}
	}
	if ss[0].Through != wantThrough || ss[0].Seq != wantThrough+1 && ss[0].Seq != wantThrough+2 {
		t.Fatalf("summary through %d at seq %d, want through %d right after it", ss[0].Through, ss[0].Seq, wantThrough)
	}
	cp := recordsOf(src, workspace.TypeCheckpoint)
	if len(cp) != 1 || cp[0].Through != wantCkpt || cp[0].Name != "clodds-checkpoint" {
		t.Fatalf("checkpoint records %+v, want one through %d", cp, wantCkpt)
	}
	// the Node-encrypted context, opened with the password
	enc := res.Source(fx.sessions[len(fx.sessions)-1].key)
	if ss := recordsOf(enc, workspace.TypeSummary); len(ss) != 1 || ss[0].Text != "- user: asked about weather markets\n- assistant: listed three" {
		t.Fatalf("encrypted session summary %+v", ss)
	}
	if cp := recordsOf(enc, workspace.TypeCheckpoint); len(cp) != 1 || cp[0].Description != "before switching to sports" || cp[0].Through != 3 {
		t.Fatalf("encrypted session checkpoint %+v (want through seq 3, the second message)", cp)
	}
	if m := enc.Meta["clodds"].(map[string]any); m["context_encrypted"] != true || m["messageCount"] == nil {
		t.Fatalf("encrypted session meta %v", m)
	}
}

// Without the password, or with a wrong one, the encrypted context is
// reported and every row is still imported; the password is never in
// what the importer returns.
func TestCloddsEncryptedWithoutPassword(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fx := makeCloddsFixture(t, dir, 6, 10, 2)
	enc := fx.sessions[len(fx.sessions)-1]
	for _, pw := range []string{"", "wrong password"} {
		res, err := Read(ctx, dir, Options{Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		src := res.Source(enc.key)
		assertFxMessages(t, src, enc.want)
		if len(recordsOf(src, workspace.TypeSummary)) != 0 {
			t.Fatalf("%q: a summary was read from a context that could not be opened", pw)
		}
		w := strings.Join(src.Warnings, "\n")
		if !strings.Contains(w, "encrypted") {
			t.Fatalf("%q: not reported: %q", pw, w)
		}
		if pw != "" && !strings.Contains(strings.Join(res.Warnings, "\n"), "could not be opened") {
			t.Fatalf("wrong password not reported: %v", res.Warnings)
		}
		b, _ := json.Marshal(res)
		if pw != "" && strings.Contains(string(b), pw) {
			t.Fatal("the password is in the read result")
		}
	}
	if _, err := decryptClodds(cloddsEnvelope{Salt: "AA==", IV: "AA==", AuthTag: "AAAAAAAAAAAAAAAAAAAAAA==", Data: "AA=="}, "x"); !errorsIs(err, ErrPassword) {
		t.Fatalf("bad envelope: %v, want ErrPassword", err)
	}
}

// Sessions are keyed by channel, account, chat and user: under the
// default target config a DM's id is the one live traffic derives
// (signature written out here, not computed by the code under test), a
// shared DM session keeps its own key; applying twice changes nothing and
// verify finds every message.
func TestCloddsPlanApplyTwice(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fx := makeCloddsFixture(t, dir, 12, 30, 3)
	before := treeHashes(t, dir)
	wsDir := t.TempDir()
	ws, err := workspace.Open(wsDir, &workspace.Options{Durability: workspace.DurabilityNever})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	opts := PlanOptions{Read: Options{Password: fxPassword}, Policy: &keying.Policy{}}
	p, err := NewPlan(ctx, dir, ws, opts)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]*PlannedSession{}
	for _, ps := range p.Sessions {
		for _, k := range ps.Keys {
			byKey[k] = ps
		}
	}
	tg := fx.sessions[0] // telegram DM, chat = user
	if ps := byKey[tg.key]; ps.Rule != RuleA || ps.ID != keying.Opaque("v=1|agent=main|channel=telegram|account=default|chat=direct:"+tg.chat) {
		t.Fatalf("telegram DM planned %s %s", ps.Rule, ps.ID)
	}
	dc := fx.sessions[1] // discord DM of account bot-a
	if ps := byKey[dc.key]; ps.Rule != RuleA || ps.ID != keying.Opaque("v=1|agent=main|channel=discord|account=bot-a|chat=direct:"+dc.chat) {
		t.Fatalf("discord DM planned %s %s", ps.Rule, ps.ID)
	}
	sl := fx.sessions[3] // slack channel of workspace account T01
	if ps := byKey[sl.key]; ps.Rule != RuleA || ps.ID != keying.Opaque("v=1|agent=main|channel=slack|account=t01|chat=group:"+strings.ToLower(sl.chat)) {
		t.Fatalf("slack channel planned %s %s", ps.Rule, ps.ID)
	}
	if ps := byKey["agent:main:dm:main"]; ps.Rule != RuleB || ps.ID != keying.LegacyHash("agent:main:dm:main") || ps.Aliases[0] != "agent:main:dm:main" {
		t.Fatalf("shared DM session planned %+v", ps)
	}
	rep, err := Apply(ctx, ws, p, ApplyOptions{ReportDir: filepath.Join(t.TempDir(), "r")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verify == nil || !rep.Verify.OK() || rep.Verify.Messages != p.Messages() {
		t.Fatalf("verify after apply: %+v", rep.Verify)
	}
	// the session file holds the messages in order
	s, err := ws.OpenID(byKey[tg.key].ID)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := s.ReadAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []fxWant
	for _, r := range recs {
		if r.Type == workspace.TypeMessage {
			got = append(got, fxWant{r.Role, r.Content, r.At.UnixMilli()})
		}
	}
	if len(got) != len(tg.want) {
		t.Fatalf("%d messages in the session, want %d", len(got), len(tg.want))
	}
	for i := range got {
		if got[i] != tg.want[i] {
			t.Fatalf("message %d: %+v, want %+v", i, got[i], tg.want[i])
		}
	}
	after := treeHashes(t, wsDir)
	p2, err := NewPlan(ctx, dir, ws, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, ps := range p2.Sessions {
		if ps.Action != ActionSkip {
			t.Fatalf("second plan: %s is %s, want skip", ps.ID, ps.Action)
		}
	}
	if _, err := Apply(ctx, ws, p2, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	again := treeHashes(t, wsDir)
	for k, v := range after {
		if !strings.Contains(k, string(filepath.Separator)+"index") && again[k] != v {
			t.Fatalf("second apply changed %s", k)
		}
	}
	if !equalMaps(before, treeHashes(t, dir)) {
		t.Fatal("migrating changed the source tree")
	}
	b, _ := os.ReadFile(filepath.Join(wsDir, "sessions"))
	_ = b
}
