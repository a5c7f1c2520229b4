package migrate

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

const damagedRoot = "../testdata/legacy-damaged"

// damageFixtures are built from the damage docs/migration.md §1 lists,
// one directory per defect.
var damageFixtures = []string{
	"picoclaw/torn-line-glued",
	"picoclaw/torn-tail-no-newline",
	"picoclaw/truncated-json-array",
	"picoclaw/meta-json-migrated",
	"picoclaw/stale-meta-skip",
	"picoclaw/main-copied-into-promoted",
	"picoclaw/p0-p2-twins",
	"picoclaw/old-toolcall-shape",
	"openclaw/duplicate-headers",
	"openclaw/glued-lines",
	"openclaw/invalid-first-line",
	"openclaw/orphans-and-json5-store",
	"openclaw/side-branch",
	"picoclaw/temp-files",
	"picoclaw/backfilled-times",
	"openclaw/store-snapshot-and-copies",
	"pocketpaw/naive-times-dst",
	"pocketpaw/truncated-array",
	"pocketpaw/extra-data",
	"pocketpaw/newer-tmp-copy",
}

func TestDamageGolden(t *testing.T) {
	for _, d := range damageFixtures {
		t.Run(d, func(t *testing.T) {
			r := mustRead(t, filepath.Join(damagedRoot, d), Options{Location: lisbon(t)})
			checkAccounted(t, filepath.Join(damagedRoot, d), r)
			checkGolden(t, "damaged/"+d, goldenView(t, r))
		})
	}
}

// contents returns the message contents of a source, in order.
func contents(s *Source) []string {
	var out []string
	for _, r := range s.Records {
		if r.Type == workspace.TypeMessage {
			out = append(out, r.Content)
		}
	}
	return out
}

func wantContents(t *testing.T, s *Source, want ...string) {
	t.Helper()
	if s == nil {
		t.Fatal("source missing")
	}
	got := contents(s)
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Fatalf("%s messages = %q, want %q", s.Key, got, want)
	}
}

func fileClass(r *Result, suffix string) FileReport {
	for _, f := range r.Files {
		if strings.HasSuffix(f.Path, suffix) {
			return f
		}
	}
	return FileReport{}
}

func TestPicoGluedLineKeepsBothSides(t *testing.T) {
	r := mustRead(t, filepath.Join(damagedRoot, "picoclaw/torn-line-glued"), Options{})
	s := r.Source("agent:main:telegram:direct:42")
	wantContents(t, s, "first", "after crash", "reply after crash")
	if len(s.SetAside) != 1 {
		t.Fatalf("set aside = %+v, want the torn prefix", s.SetAside)
	}
	sa := s.SetAside[0]
	if sa.Line != 2 || string(sa.Data) != `{"role":"user","content":"incomple` || sa.Offset != int64(len(`{"role":"user","content":"first","created_at":"2026-04-01T10:00:00+02:00"}`)+1) {
		t.Fatalf("set aside %+v data %q", sa, sa.Data)
	}
	if !r.Partial() {
		t.Fatal("a read with set-aside bytes must be partial")
	}
	// times are UTC
	if got := s.Records[0].At; got.Location() != time.UTC || !got.Equal(time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)) {
		t.Fatalf("first at = %v", got)
	}
}

func TestPicoTornTail(t *testing.T) {
	r := mustRead(t, filepath.Join(damagedRoot, "picoclaw/torn-tail-no-newline"), Options{})
	s := r.Source("agent:main:slack:channel:c9")
	wantContents(t, s, "question", "answer")
	if len(s.SetAside) != 1 || !strings.Contains(s.SetAside[0].Reason, "torn last line") || string(s.SetAside[0].Data) != `{"role":"user","content":"half a mess` {
		t.Fatalf("set aside = %+v", s.SetAside)
	}
}

func TestPicoTruncatedJSONArray(t *testing.T) {
	r := mustRead(t, filepath.Join(damagedRoot, "picoclaw/truncated-json-array"), Options{})
	s := r.Source("telegram:777")
	wantContents(t, s, "one", "two")
	if len(s.SetAside) != 1 || !strings.HasPrefix(string(bytes.TrimSpace(s.SetAside[0].Data)), `,`) {
		t.Fatalf("set aside = %+v", s.SetAside)
	}
	if f := fileClass(r, "telegram:777.json"); f.Class != ClassImported || f.Records != 2 {
		t.Fatalf("file report %+v", f)
	}
}

func TestPicoMetaJSONMigrated(t *testing.T) {
	r := mustRead(t, filepath.Join(damagedRoot, "picoclaw/meta-json-migrated"), Options{})
	s := r.Source("agent:main:direct:bob")
	wantContents(t, s, "weather?", "sunny")
	var summaries int
	for _, rec := range s.Records {
		if rec.Type == workspace.TypeSummary {
			summaries++
			if rec.Text != "Bob asked about the weather." {
				t.Fatalf("summary %q", rec.Text)
			}
		}
	}
	if summaries != 1 {
		t.Fatalf("%d summaries, want 1 (JSON copy and meta say the same)", summaries)
	}
	if !hasWarning(s.Warnings, ".meta.json.migrated") && !hasWarning(s.Warnings, "meta renamed") {
		t.Fatalf("warnings %q lack the renamed meta", s.Warnings)
	}
}

func hasWarning(ws []string, sub string) bool {
	for _, w := range ws {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

func TestPicoSkip(t *testing.T) {
	r := mustRead(t, filepath.Join(damagedRoot, "picoclaw/stale-meta-skip"), Options{})
	// skip 5 over 2 lines: everything summarized, reported, nothing lost
	d1 := r.Source("agent:main:discord:channel:d1")
	wantContents(t, d1, "a", "b")
	if !hasWarning(d1.Warnings, "skip 5") {
		t.Fatalf("warnings %q", d1.Warnings)
	}
	last := d1.Records[len(d1.Records)-1]
	if last.Type != workspace.TypeSummary || last.Through != 3 {
		t.Fatalf("last record %+v, want the summary through seq 3", last)
	}
	// skip 2 counts the corrupt first line: the summary covers "c" only
	d2 := r.Source("agent:main:discord:channel:d2")
	wantContents(t, d2, "c", "d", "e")
	var sum workspace.Record
	for _, rec := range d2.Records {
		if rec.Type == workspace.TypeSummary {
			sum = rec
		}
	}
	if sum.Through != 2 || d2.Records[1].Type != workspace.TypeSummary {
		t.Fatalf("summary %+v at the wrong place: %+v", sum, d2.Records)
	}
	if len(d2.SetAside) != 1 || d2.SetAside[0].Line != 1 {
		t.Fatalf("set aside %+v", d2.SetAside)
	}
}

func TestPicoMainCopyStrippedAndLegacyPrepended(t *testing.T) {
	r := mustRead(t, filepath.Join(damagedRoot, "picoclaw/main-copied-into-promoted"), Options{})
	sk := r.Source("sk_v1_67fe19a8ec8fd03673f4b28c2fcddc0a2712152896ff962b8eec1b0debfdb4c5")
	wantContents(t, sk, "old telegram dm", "old reply", "new dm after upgrade", "new reply")
	wantContents(t, r.Source("agent:main:main"), "hello main", "hi from main")
	if r.Source("agent:main:telegram:direct:123456789") != nil {
		t.Fatal("the legacy DM must be folded into its promoted session")
	}
	if !hasWarning(sk.Warnings, "dropped 2 leading messages copied from agent:main:main") {
		t.Fatalf("warnings %q", sk.Warnings)
	}
	for _, a := range sk.RecordedAliases {
		if a == "agent:main:main" {
			t.Fatal("agent:main:main must stay on the main session only")
		}
	}
	if f := fileClass(r, "agent_main_telegram_direct_123456789.jsonl"); f.Class != ClassImported || f.Key != sk.Key {
		t.Fatalf("legacy file report %+v", f)
	}
}

func TestPicoTwinsUnionAndUnknownFiles(t *testing.T) {
	r := mustRead(t, filepath.Join(damagedRoot, "picoclaw/p0-p2-twins"), Options{})
	if len(r.Sources) != 1 {
		t.Fatalf("%d sources, want the twins as one", len(r.Sources))
	}
	wantContents(t, r.Sources[0], "twin one", "twin two", "twin three", "twin four")
	if f := fileClass(r, "notes.txt"); f.Class != ClassUnknown {
		t.Fatalf("notes.txt: %+v", f)
	}
	if f := fileClass(r, "seahorse.db"); f.Class != ClassIgnored {
		t.Fatalf("seahorse.db: %+v", f)
	}
}

func TestPicoOldToolCallShape(t *testing.T) {
	r := mustRead(t, filepath.Join(damagedRoot, "picoclaw/old-toolcall-shape"), Options{})
	s := r.Source("cron-job7")
	if len(s.Records) != 4 {
		t.Fatalf("records %+v", s.Records)
	}
	tc := string(s.Records[2].ToolCalls)
	if !strings.Contains(tc, `"function":{"arguments":"{\"day\":\"mon\"}","name":"report"}`) {
		t.Fatalf("tool calls %s: function not built from name/arguments", tc)
	}
	if !strings.Contains(string(s.Provenance[1].Extra), "thought_only") {
		t.Fatalf("thought-only message not flagged: %s", s.Provenance[1].Extra)
	}
	if !s.ApproxTimes || !s.Records[0].At.Equal(time.Date(2026, 2, 15, 6, 0, 0, 0, time.UTC)) {
		t.Fatalf("untimed messages must take the session start and mark approx: %v %v", s.ApproxTimes, s.Records[0].At)
	}
}

func TestOpenClawDuplicateHeaders(t *testing.T) {
	r := mustRead(t, filepath.Join(damagedRoot, "openclaw/duplicate-headers"), Options{})
	s := r.Source("agent:main:main")
	wantContents(t, s, "hi", "hello", "bye")
	if !hasWarning(s.Warnings, "duplicate session header") || !hasWarning(s.Warnings, "repeated") {
		t.Fatalf("warnings %q", s.Warnings)
	}
}

func TestOpenClawGluedLines(t *testing.T) {
	r := mustRead(t, filepath.Join(damagedRoot, "openclaw/glued-lines"), Options{})
	s := r.Source("agent:main:telegram:direct:42")
	wantContents(t, s, "first", "after the crash", "still here")
	if len(s.SetAside) != 2 {
		t.Fatalf("set aside %+v, want the torn b2 and the torn tail", s.SetAside)
	}
}

func TestOpenClawInvalidFirstLine(t *testing.T) {
	r := mustRead(t, filepath.Join(damagedRoot, "openclaw/invalid-first-line"), Options{})
	s := r.Source("agent:main:main")
	wantContents(t, s, "headerless", "still imported")
	if !hasWarning(s.Warnings, "no valid session header") || len(s.SetAside) != 1 || s.SetAside[0].Line != 1 {
		t.Fatalf("warnings %q set aside %+v", s.Warnings, s.SetAside)
	}
}

func TestOpenClawOrphansJSON5Locks(t *testing.T) {
	dir := filepath.Join(damagedRoot, "openclaw/orphans-and-json5-store")
	r := mustRead(t, dir, Options{})
	wantContents(t, r.Source("agent:ops:main"), "live one")
	wantContents(t, r.Source("openclaw:ops:55555555-2222-4333-8444-555555555555"), "orphaned before /new")
	wantContents(t, r.Source("openclaw:ops:66666666-2222-4333-8444-555555555555"), "deleted session text")
	if f := fileClass(r, ".lock"); f.Class != ClassIgnored || !strings.Contains(f.Reason, "stale lock") {
		t.Fatalf("lock: %+v", f)
	}
	if f := fileClass(r, "agent_main_x.jsonl"); f.Class != ClassUnknown {
		t.Fatalf("foreign file: %+v", f)
	}
	if f := fileClass(r, ".trajectory.jsonl"); f.Class != ClassIgnored {
		t.Fatalf("trajectory: %+v", f)
	}
	title := r.Source("agent:ops:main").Records
	if last := title[len(title)-1]; last.Type != workspace.TypeTitle || last.Text != "Ops desk" {
		t.Fatalf("label not carried as a title: %+v", last)
	}
}

// A lock naming a live pid stops the read unless forced.
func TestOpenClawLiveLockRefused(t *testing.T) {
	dir := t.TempDir()
	sd := filepath.Join(dir, "agents", "main", "sessions")
	if err := os.MkdirAll(sd, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(sd, "sessions.json"), `{}`)
	write(t, filepath.Join(sd, "sessions.json.lock"), `{"pid":`+itoa(os.Getpid())+`}`)
	_, err := Read(context.Background(), dir, Options{})
	if !errors.Is(err, ErrLiveWriter) || !strings.Contains(err.Error(), "sessions.json.lock") {
		t.Fatalf("err = %v, want ErrLiveWriter naming the lock", err)
	}
	if _, err := Read(context.Background(), dir, Options{Force: true}); err != nil {
		t.Fatalf("forced read: %v", err)
	}
}

func TestOpenClawSideBranch(t *testing.T) {
	r := mustRead(t, filepath.Join(damagedRoot, "openclaw/side-branch"), Options{})
	wantContents(t, r.Source("agent:main:main"), "root question", "regenerated answer", "kept follow-up")
	br := r.Source("openclaw:main:77777777-2222-4333-8444-555555555555:branch:g3")
	wantContents(t, br, "first answer", "abandoned follow-up")
}

func TestPocketPawNaiveTimesAcrossDST(t *testing.T) {
	r := mustRead(t, filepath.Join(damagedRoot, "pocketpaw/naive-times-dst"), Options{Location: lisbon(t)})
	s := r.Source("telegram:555")
	want := []string{"2026-10-24T23:59:50Z", "2026-10-25T00:10:00Z", "2026-10-25T00:50:00.25Z", "2026-10-25T01:05:00Z", "2026-10-25T01:30:00Z", "2026-10-25T02:10:00Z"}
	for i, rec := range s.Records {
		if got := rec.At.Format(time.RFC3339Nano); got != want[i] {
			t.Fatalf("record %d at %s, want %s", i, got, want[i])
		}
	}
	if !hasWarning(s.Warnings, "repeated DST hour") {
		t.Fatalf("warnings %q", s.Warnings)
	}
	gap := r.Source("telegram:556")
	if !hasWarning(gap.Warnings, "DST gap") {
		t.Fatalf("warnings %q", gap.Warnings)
	}
	// read as UTC, the same file gives other instants: the zone matters
	u := mustRead(t, filepath.Join(damagedRoot, "pocketpaw/naive-times-dst"), Options{Location: time.UTC})
	if u.Source("telegram:555").Records[1].At.Equal(s.Records[1].At) {
		t.Fatal("the source zone was ignored")
	}
}

func TestPocketPawTruncatedAndExtraData(t *testing.T) {
	r := mustRead(t, filepath.Join(damagedRoot, "pocketpaw/truncated-array"), Options{})
	s := r.Source("discord:900")
	wantContents(t, s, "kept one", "kept two")
	if len(s.SetAside) != 1 {
		t.Fatalf("set aside %+v", s.SetAside)
	}
	r = mustRead(t, filepath.Join(damagedRoot, "pocketpaw/extra-data"), Options{})
	s = r.Source("slack:C0X")
	wantContents(t, s, "short one", "short two", "only in the longer copy", "also longer")
	if len(s.SetAside) == 0 {
		t.Fatal("the stray bytes around the recovered messages must be set aside")
	}
	r = mustRead(t, filepath.Join(damagedRoot, "pocketpaw/newer-tmp-copy"), Options{})
	wantContents(t, r.Source("slack:C0X"), "short one", "short two", "only in the longer copy", "also longer")
}

func TestNotLegacyDirectory(t *testing.T) {
	dir := filepath.Join(damagedRoot, "none/plain-directory")
	_, err := Read(context.Background(), dir, Options{})
	if !errors.Is(err, ErrNotLegacy) || !strings.Contains(err.Error(), "plain-directory") {
		t.Fatalf("err = %v, want ErrNotLegacy naming the directory", err)
	}
	if _, err := Detect(context.Background(), dir); !errors.Is(err, ErrNotLegacy) {
		t.Fatalf("Detect: %v", err)
	}
	if _, err := Read(context.Background(), filepath.Join(dir, "README.txt"), Options{}); !errors.Is(err, ErrNotLegacy) {
		t.Fatalf("a file: %v", err)
	}
}

func TestAmbiguousDirectory(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, filepath.Join(legacyRoot, "picoclaw/1-old-json"), filepath.Join(dir, "workspace", "sessions"))
	copyTree(t, filepath.Join(legacyRoot, "pocketpaw/dot-pocketpaw"), filepath.Join(dir, "pp"))
	_, err := Read(context.Background(), dir, Options{})
	if !errors.Is(err, ErrAmbiguousSource) || !strings.Contains(err.Error(), "picoclaw") || !strings.Contains(err.Error(), "pocketpaw") {
		t.Fatalf("err = %v", err)
	}
	r, err := Read(context.Background(), dir, Options{System: SystemPocketPaw})
	if err != nil || r.System != SystemPocketPaw || len(r.Sources) != 3 {
		t.Fatalf("explicit system: %v %+v", err, r)
	}
}

func TestPicoTempFiles(t *testing.T) {
	r := mustRead(t, filepath.Join(damagedRoot, "picoclaw/temp-files"), Options{})
	wantContents(t, r.Source("telegram:5"), "t1", "t2", "t3 only in the temp file")
	wantContents(t, r.Source("agent:main:main"), "m1", "m2", "m3 only in the rewrite")
	if f := fileClass(r, ".meta.json.tmp-123-1775808060000000001"); f.Class != ClassIgnored {
		t.Fatalf("meta temp: %+v", f)
	}
}

// A .bak store snapshot names transcripts the live store lost; a repair
// backup holds a line the repair dropped (merged back by time); dm and
// direct keys of one peer end in one session as two generations.
func TestOpenClawSnapshotsAndCopies(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(damagedRoot, "openclaw/store-snapshot-and-copies")
	r := mustRead(t, dir, Options{})
	wantContents(t, r.Source("agent:main:cron:nightly"), "nightly job text")
	wantContents(t, r.Source("agent:main:telegram:dm:42"), "old dm generation")
	live := r.Source("agent:main:telegram:direct:42")
	wantContents(t, live, "new generation", "a reply the repair dropped", "new reply")
	if live.Generations != 1 || fileClass(r, ".bak-4242-1775000100000").Class != ClassImported {
		t.Fatalf("the repair backup's extra entry belongs to the live conversation: %d generations", live.Generations)
	}
	p, err := PlanResult(ctx, r, nil, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Sessions {
		if len(s.Keys) == 2 {
			if s.Keys[0] != "agent:main:telegram:dm:42" || s.Keys[1] != "agent:main:telegram:direct:42" || s.Generations != 2 || s.Rule != RuleA || s.Messages != 4 {
				t.Fatalf("dm/direct session: keys %q rule %s generations %d messages %d", s.Keys, s.Rule, s.Generations, s.Messages)
			}
			return
		}
	}
	t.Fatal("dm and direct keys of one peer must share a session")
}

// The dm and direct spellings of a Rule B key are one session too.
func TestPlanDMDirectRuleB(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "agent_main_direct_bob.json"), `{"key":"agent:main:direct:bob","messages":[{"role":"user","content":"b2","created_at":"2026-03-01T10:00:00Z"}]}`)
	write(t, filepath.Join(dir, "agent_main_dm_bob.json"), `{"key":"agent:main:dm:bob","messages":[{"role":"user","content":"b1","created_at":"2026-02-01T10:00:00Z"}]}`)
	p, err := NewPlan(context.Background(), dir, nil, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Sessions) != 1 {
		t.Fatalf("%d sessions", len(p.Sessions))
	}
	s := p.Sessions[0]
	if s.Rule != RuleB || s.Aliases[0] != "agent:main:direct:bob" || s.ID != keying.LegacyHash("agent:main:direct:bob") || s.Generations != 2 || s.records[0].Content != "b1" {
		t.Fatalf("%+v", s)
	}
}

// Times the JSON->JSONL conversion invented are dropped: the JSON copy,
// which has none, is the truth; they take the session start, marked approx.
func TestPicoBackfilledTimes(t *testing.T) {
	r := mustRead(t, filepath.Join(damagedRoot, "picoclaw/backfilled-times"), Options{})
	s := r.Source("agent:main:telegram:direct:77")
	start := time.Date(2026, 2, 20, 18, 30, 0, 0, time.UTC)
	if !s.ApproxTimes || !s.Records[0].At.Equal(start) || !s.Records[1].At.Equal(start) {
		t.Fatalf("approx %v, times %v %v", s.ApproxTimes, s.Records[0].At, s.Records[1].At)
	}
	if !s.Records[2].At.Equal(time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC)) {
		t.Fatalf("a real time must stay: %v", s.Records[2].At)
	}
	if f := fileClass(r, ".json.migrated"); f.Class != ClassDuplicate {
		t.Fatalf("the copy adds no message: %+v", f)
	}
}
