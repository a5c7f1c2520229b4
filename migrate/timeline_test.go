package migrate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// copyOf builds one copy of a conversation from specs "role:content" or
// "role:content@minute" (a message sent at t0 plus that many minutes);
// roles u, a, t are user, assistant, tool.
func copyOf(name string, specs ...string) []*item {
	var out []*item
	for i, sp := range specs {
		role, rest, _ := strings.Cut(sp, ":")
		it := &item{prov: Provenance{Path: name, Line: i + 1}}
		it.rec.Type = workspace.TypeMessage
		it.rec.Role = map[string]string{"u": "user", "a": "assistant", "t": "tool", "s": "system"}[role]
		if c, at, ok := strings.Cut(rest, "@"); ok {
			m, err := strconv.Atoi(at)
			if err != nil {
				panic(sp)
			}
			rest = c
			it.rec.At, it.timed = t0.Add(time.Duration(m)*time.Minute), true
		}
		it.rec.Content = rest
		out = append(out, it)
	}
	return out
}

// spec renders items back as "role:content" for comparison.
func spec(items []*item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.rec.Role[:1]+":"+it.rec.Content)
	}
	return out
}

func wantSeq(t *testing.T, got []*item, want ...string) {
	t.Helper()
	g := spec(got)
	if strings.Join(g, "|") != strings.Join(want, "|") {
		t.Fatalf("timeline:\n got  %q\n want %q", g, want)
	}
}

// TestAlignRules runs each alignment rule on its own pair (or trio) of
// copies, asserting every message's role, content and position.
func TestAlignRules(t *testing.T) {
	cases := []struct {
		name      string
		copies    [][]string // oldest first
		want      []string
		undecided int
	}{
		{
			name: "older copy has extra messages at the start (newer one was cut)",
			copies: [][]string{
				{"u:hi", "a:hello", "u:weather?", "a:sunny"},
				{"u:weather?", "a:sunny", "u:thanks", "a:any time"},
			},
			want: []string{"u:hi", "a:hello", "u:weather?", "a:sunny", "u:thanks", "a:any time"},
		},
		{
			name: "older copy has extra messages in the middle",
			copies: [][]string{
				{"u:hi", "a:hello", "u:lost line", "a:lost reply", "u:weather?", "a:sunny"},
				{"u:hi", "a:hello", "u:weather?", "a:sunny", "u:bye"},
			},
			want: []string{"u:hi", "a:hello", "u:lost line", "a:lost reply", "u:weather?", "a:sunny", "u:bye"},
		},
		{
			name: "older copy has extra messages at the end, no times: older first, undecided",
			copies: [][]string{
				{"u:hi", "a:hello", "u:old tail"},
				{"u:hi", "a:hello", "u:new tail", "a:new reply"},
			},
			want:      []string{"u:hi", "a:hello", "u:old tail", "u:new tail", "a:new reply"},
			undecided: 3,
		},
		{
			name: "extra messages at the end with times: times decide",
			copies: [][]string{
				{"u:hi@0", "a:hello@1", "u:old tail@5"},
				{"u:hi@0", "a:hello@1", "u:new tail@3", "a:new reply@4", "u:later@9"},
			},
			want: []string{"u:hi", "a:hello", "u:new tail", "a:new reply", "u:old tail", "u:later"},
		},
		{
			name: "both copies hold messages of their own",
			copies: [][]string{
				{"u:a", "u:only old 1", "u:b", "u:c", "u:only old 2", "u:d"},
				{"u:a", "u:b", "u:only new 1", "u:c", "u:d", "u:only new 2"},
			},
			want: []string{"u:a", "u:only old 1", "u:b", "u:only new 1", "u:c", "u:only old 2", "u:d", "u:only new 2"},
		},
		{
			name: "repeated ok is never an anchor on its own",
			// the newer copy was cut at its head; its first "ok" is the
			// older copy's last one, not its first
			copies: [][]string{
				{"u:do x", "a:ok", "u:do y", "a:ok"},
				{"a:ok", "u:do z", "a:ok"},
			},
			// "ok" occurs twice in each copy and nothing unique is shared:
			// no anchor, and the "ok"s that end both copies are no
			// evidence on their own; nothing is matched, nothing lost,
			// older first, and the order is reported undecided
			want:      []string{"u:do x", "a:ok", "u:do y", "a:ok", "a:ok", "u:do z", "a:ok"},
			undecided: 7,
		},
		{
			name: "copies that begin with the same repeated message: no evidence on its own",
			// the newer copy was cut at its head and begins with an "ok"
			// that is not the older copy's first
			copies: [][]string{
				{"a:ok", "u:a", "a:ok", "u:b"},
				{"a:ok", "u:c", "a:ok", "u:d"},
			},
			want:      []string{"a:ok", "u:a", "a:ok", "u:b", "a:ok", "u:c", "a:ok", "u:d"},
			undecided: 8,
		},
		{
			name: "a run of repeated messages beside a unique one is matched",
			copies: [][]string{
				{"a:ok", "a:ok", "u:unique", "a:ok", "u:old tail"},
				{"a:ok", "a:ok", "u:unique", "a:ok", "u:new tail"},
			},
			want:      []string{"a:ok", "a:ok", "u:unique", "a:ok", "u:old tail", "u:new tail"},
			undecided: 2,
		},
		{
			name: "repeated ok between unique anchors",
			copies: [][]string{
				{"u:one", "a:ok", "u:two", "a:ok", "u:three", "a:ok"},
				{"u:two", "a:ok", "u:three", "a:ok", "u:four", "a:ok"},
			},
			want: []string{"u:one", "a:ok", "u:two", "a:ok", "u:three", "a:ok", "u:four", "a:ok"},
		},
		{
			name: "repeated tool results told apart by time",
			copies: [][]string{
				{"t:done@1", "t:done@2", "t:done@3"},
				{"t:done@2", "t:done@3", "t:done@4"},
			},
			want: []string{"t:done", "t:done", "t:done", "t:done"},
		},
		{
			name: "copies without times",
			copies: [][]string{
				{"u:a", "a:b", "u:c", "a:d"},
				{"u:c", "a:d", "u:e", "a:f"},
			},
			want: []string{"u:a", "a:b", "u:c", "a:d", "u:e", "a:f"},
		},
		{
			name: "a unique message out of order in one copy does not reorder the other",
			copies: [][]string{
				{"u:a", "u:b", "u:c", "u:d"},
				{"u:a", "u:c", "u:b", "u:d"},
			},
			// b and c cannot both be anchors; the longest chain keeps one
			// (b), the other copy's c stays in its copy's order, and the
			// contradiction is reported
			want:      []string{"u:a", "u:c", "u:b", "u:c", "u:d"},
			undecided: 2,
		},
		{
			name: "three copies",
			copies: [][]string{
				{"u:1", "a:2", "u:3"},
				{"u:3", "a:4", "u:5"},
				{"u:5", "a:6", "u:7"},
			},
			want: []string{"u:1", "a:2", "u:3", "a:4", "u:5", "a:6", "u:7"},
		},
		{
			name: "three copies, the middle one with a message the others lack",
			copies: [][]string{
				{"u:1", "a:2", "u:3", "a:4"},
				{"u:1", "a:2", "u:only middle", "u:3", "a:4"},
				{"u:3", "a:4", "u:5"},
			},
			want: []string{"u:1", "a:2", "u:only middle", "u:3", "a:4", "u:5"},
		},
		{
			name: "identical copies",
			copies: [][]string{
				{"u:a", "a:ok", "a:ok", "u:b"},
				{"u:a", "a:ok", "a:ok", "u:b"},
			},
			want: []string{"u:a", "a:ok", "a:ok", "u:b"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var copies [][]*item
			var names []string
			for k, sp := range c.copies {
				n := fmt.Sprintf("copy%d", k)
				copies = append(copies, copyOf(n, sp...))
				names = append(names, n)
			}
			var out []*item
			undecided := 0
			for _, cp := range copies {
				var st alignStats
				out, st = align(out, cp, true)
				undecided += st.undecided
			}
			wantSeq(t, out, c.want...)
			if undecided != c.undecided {
				t.Fatalf("undecided = %d, want %d", undecided, c.undecided)
			}
			// every record of every copy is in the result, itself or as
			// the record it was aligned with
			held := map[string]bool{}
			for _, it := range out {
				held[provString(it.prov)] = true
				for _, p := range it.also {
					held[provString(p)] = true
				}
			}
			for _, cp := range copies {
				for _, it := range cp {
					if !held[provString(it.prov)] {
						t.Errorf("%s is in no record of the timeline", provString(it.prov))
					}
				}
			}
			// messages of one copy keep their order
			for _, cp := range copies {
				pos := map[*item]int{}
				for i, it := range out {
					pos[it] = i
				}
				last := -1
				for _, it := range cp {
					p, ok := pos[it]
					if !ok {
						continue
					}
					if p < last {
						t.Fatalf("%s moved before an earlier record of its copy", provString(it.prov))
					}
					last = p
				}
			}
		})
	}
}

// The alignment is symmetric in what it keeps: swapping which copy is
// older changes only the order inside undecided gaps.
func TestAlignKeepsEveryMessageOnce(t *testing.T) {
	a := copyOf("a", "u:x", "a:ok", "u:y", "a:ok", "u:z")
	b := copyOf("b", "u:y", "a:ok", "u:z", "a:ok", "u:w")
	out, st := align(a, b, false)
	if st.matched != 3 || st.oldOnly != 2 || st.newOnly != 2 {
		t.Fatalf("stats %+v", st)
	}
	wantSeq(t, out, "u:x", "a:ok", "u:y", "a:ok", "u:z", "a:ok", "u:w")
}

// picoFile writes a PicoClaw JSON-era copy of key with the messages given
// as specs (see copyOf), and sets its modification time.
func picoJSON(t *testing.T, p, key string, mtime time.Time, specs ...string) {
	t.Helper()
	var msgs []string
	for _, it := range copyOf("", specs...) {
		m := fmt.Sprintf(`{"role":%q,"content":%q`, it.rec.Role, it.rec.Content)
		if it.timed {
			m += fmt.Sprintf(`,"created_at":%q`, it.rec.At.Format(time.RFC3339Nano))
		}
		msgs = append(msgs, m+"}")
	}
	write(t, p, fmt.Sprintf("{\n  \"key\": %q,\n  \"messages\": [\n    %s\n  ]\n}", key, strings.Join(msgs, ",\n    ")))
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func picoJSONL(t *testing.T, dir, stem, key string, mtime time.Time, specs ...string) {
	t.Helper()
	var b strings.Builder
	for _, it := range copyOf("", specs...) {
		fmt.Fprintf(&b, `{"role":%q,"content":%q`, it.rec.Role, it.rec.Content)
		if it.timed {
			fmt.Fprintf(&b, `,"created_at":%q`, it.rec.At.Format(time.RFC3339Nano))
		}
		b.WriteString("}\n")
	}
	p := filepath.Join(dir, stem+".jsonl")
	write(t, p, b.String())
	write(t, filepath.Join(dir, stem+".meta.json"), fmt.Sprintf(`{"key":%q,"summary":"","skip":0,"count":%d}`, key, len(specs)))
	for _, f := range []string{p, filepath.Join(dir, stem+".meta.json")} {
		if err := os.Chtimes(f, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

// sessionMessages returns a migrated session's messages and resets as
// "role:content" ("reset:" for a reset), in file order.
func sessionMessages(t *testing.T, ws *workspace.Workspace, id string) ([]string, []workspace.Record) {
	t.Helper()
	s, err := ws.OpenID(id)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := s.ReadAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		switch r.Type {
		case workspace.TypeMessage:
			out = append(out, r.Role[:1]+":"+r.Content)
		case workspace.TypeReset:
			out = append(out, "reset:")
		}
	}
	return out, recs
}

// migrateDir plans and applies src into a fresh workspace, checks the
// source is unchanged, verify passed and a second run changes nothing.
func migrateDir(t *testing.T, src string) (*Plan, *Report, *workspace.Workspace) {
	t.Helper()
	ctx := context.Background()
	before := treeHashes(t, src)
	ws := openWS(t, filepath.Join(t.TempDir(), "ws"))
	p, err := NewPlan(ctx, src, ws, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkAccounted(t, src, p.Read)
	rep, err := Apply(ctx, ws, p, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Verify.OK() || rep.Verify.Messages != p.Messages() {
		t.Fatalf("verify %+v", rep.Verify)
	}
	files := treeHashes(t, filepath.Join(ws.Root(), "sessions"))
	p2, err := NewPlan(ctx, src, ws, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep2, err := Apply(ctx, ws, p2, ApplyOptions{}); err != nil || rep2.Appended != 0 {
		t.Fatalf("second apply: %v, %d appended", err, rep2.Appended)
	}
	if !equalMaps(files, treeHashes(t, filepath.Join(ws.Root(), "sessions"))) {
		t.Fatal("second run changed the workspace")
	}
	if !equalMaps(before, treeHashes(t, src)) {
		t.Fatal("migrating changed the source")
	}
	return p, rep, ws
}

// A PicoClaw key with three copies written by upstream's own upgrades: a
// P0 .json.migrated, its P2 twin .json.migrated (written later, with a
// message the P0 copy lacks in the middle) and the JSONL (cut at its head
// by nothing but holding later messages). No times anywhere (PicoClaw
// before 2026-05-11).
func TestPicoClawCopiesOneTimeline(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sessions")
	key := "agent:main:telegram:direct:300400599"
	day := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	picoJSON(t, filepath.Join(dir, "telegram:300400599.json.migrated"), key, day,
		"u:hi", "a:ok", "u:remind me at 5", "a:ok")
	picoJSON(t, filepath.Join(dir, "telegram_300400599.json.migrated"), key, day.Add(24*time.Hour),
		"u:hi", "a:ok", "u:remind me at 5", "a:ok", "u:and at 6", "a:ok")
	picoJSONL(t, dir, "agent_main_telegram_direct_300400599", key, day.Add(48*time.Hour),
		"u:remind me at 5", "a:ok", "u:and at 6", "a:ok", "u:thanks", "a:ok")
	p, rep, ws := migrateDir(t, dir)
	ps := sessionOf(t, p, key)
	got, recs := sessionMessages(t, ws, ps.ID)
	want := []string{"u:hi", "a:ok", "u:remind me at 5", "a:ok", "u:and at 6", "a:ok", "u:thanks", "a:ok"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("session:\n got  %q\n want %q", got, want)
	}
	// no time anywhere: the header takes the session start it has, and
	// no message is dated before it
	for _, r := range recs[1:] {
		if r.At.Before(recs[0].At) {
			t.Fatalf("record %d at %s is before the header %s", r.Seq, r.At, recs[0].At)
		}
	}
	// every source file's messages are proved present
	for _, f := range rep.Verify.Files {
		if f.Missing != 0 {
			t.Fatalf("verify file %+v", f)
		}
	}
	if len(rep.Verify.Files) != 3 {
		t.Fatalf("verify covers %d files, want the three copies: %+v", len(rep.Verify.Files), rep.Verify.Files)
	}
	// take "hi" (only in the two JSON copies) out of the session file:
	// verify blames exactly those two files
	path := ws.SessionPath(ps.ID)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if !strings.Contains(line, `"content":"hi"`) {
			kept = append(kept, line)
		}
	}
	if len(kept) != strings.Count(string(b), "\n") {
		t.Fatalf("the session file has no single \"hi\" line to take out")
	}
	write(t, path, strings.Join(kept, ""))
	v, err := Verify(context.Background(), ws, p)
	if err != nil {
		t.Fatal(err)
	}
	missing := map[string]int{}
	for _, f := range v.Files {
		missing[f.Path] = f.Missing
	}
	wantMissing := map[string]int{"telegram:300400599.json.migrated": 1, "telegram_300400599.json.migrated": 1, "agent_main_telegram_direct_300400599.jsonl": 0}
	if !equalCounts(missing, wantMissing) || len(v.Missing) != 1 {
		t.Fatalf("verify after losing one message: files %+v, missing %+v", v.Files, v.Missing)
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// The JSON-era copy holds messages the JSONL lacks at its start, in its
// middle and at its end; the JSONL holds messages of its own after them.
// With times, times decide; the report names no undecided order.
func TestPicoClawOldCopyExtrasTimed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sessions")
	key := "agent:main:telegram:direct:77"
	day := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	picoJSON(t, filepath.Join(dir, "agent_main_telegram_direct_77.json.migrated"), key, day,
		"u:start only in json@0", "a:ok@1", "u:shared 1@2", "a:middle only in json@3", "u:shared 2@4", "a:end only in json@6")
	picoJSONL(t, dir, "agent_main_telegram_direct_77", key, day.Add(time.Hour),
		"u:shared 1@2", "u:shared 2@4", "u:jsonl own@5", "a:ok@7")
	p, _, ws := migrateDir(t, dir)
	ps := sessionOf(t, p, key)
	got, recs := sessionMessages(t, ws, ps.ID)
	want := []string{"u:start only in json", "a:ok", "u:shared 1", "a:middle only in json", "u:shared 2", "u:jsonl own", "a:end only in json", "a:ok"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("session:\n got  %q\n want %q", got, want)
	}
	for _, w := range ps.Warnings {
		if strings.Contains(w, "order undecided") {
			t.Fatalf("times decide every gap, yet: %s", w)
		}
	}
	// created and last activity come from the messages
	if !recs[0].At.Equal(t0) {
		t.Fatalf("header at %s, want the first message's %s", recs[0].At, t0)
	}
	sess, err := ws.OpenID(ps.ID)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sess.Meta(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !m.Created.Equal(t0) || !m.Updated.Equal(t0.Add(7*time.Minute)) {
		t.Fatalf("created %s updated %s", m.Created, m.Updated)
	}
}

// Without times, a gap where both copies hold messages of their own is
// placed older first, and the report says the order was not decided.
func TestPicoClawUndecidedOrderReported(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sessions")
	key := "agent:main:telegram:direct:88"
	day := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	picoJSON(t, filepath.Join(dir, "agent_main_telegram_direct_88.json.migrated"), key, day,
		"u:shared", "a:only json")
	picoJSONL(t, dir, "agent_main_telegram_direct_88", key, day.Add(time.Hour),
		"u:shared", "a:only jsonl")
	p, rep, ws := migrateDir(t, dir)
	ps := sessionOf(t, p, key)
	got, _ := sessionMessages(t, ws, ps.ID)
	if strings.Join(got, "|") != "u:shared|a:only json|a:only jsonl" {
		t.Fatalf("session %q", got)
	}
	found := false
	for _, s := range rep.Sessions {
		for _, w := range s.Warnings {
			found = found || strings.Contains(w, "order undecided")
		}
	}
	if !found {
		t.Fatalf("no undecided-order note in the report: %+v", rep.Sessions)
	}
}

// Random copies cut from one true conversation (windows that overlap, a
// few messages dropped from each, repeated "ok"s throughout), with and
// without times: every message of each copy is in the timeline once, in
// its copy's order; where the copies carry times, or hold only unique
// messages, the timeline is exactly the true conversation's messages.
func TestAlignRandomCopies(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 1))
	for round := 0; round < 300; round++ {
		n := 20 + rng.IntN(200)
		timed := round%2 == 0
		withOK := round%3 != 0
		var truth []string
		for k := 0; k < n; k++ {
			sp := fmt.Sprintf("u:m%d", k)
			if withOK && rng.IntN(3) == 0 {
				sp = "a:ok"
			}
			if timed {
				sp += fmt.Sprintf("@%d", k)
			}
			truth = append(truth, sp)
		}
		// old: a window from the start; new: a later window to the end;
		// each loses a few messages of its own
		oEnd := n/3 + rng.IntN(n/2)
		nStart := rng.IntN(oEnd)
		var oldSp, newSp []string
		var oldIdx, newIdx []int
		for k := 0; k < oEnd; k++ {
			if rng.IntN(20) != 0 {
				oldSp, oldIdx = append(oldSp, truth[k]), append(oldIdx, k)
			}
		}
		for k := nStart; k < n; k++ {
			if rng.IntN(20) != 0 {
				newSp, newIdx = append(newSp, truth[k]), append(newIdx, k)
			}
		}
		old, nw := copyOf("old", oldSp...), copyOf("new", newSp...)
		out, st := align(old, nw, true)
		// every record once, directly or as the one it was matched with
		seen := map[string]int{}
		for _, it := range out {
			seen[provString(it.prov)]++
			for _, p := range it.also {
				seen[provString(p)]++
			}
		}
		for _, cp := range [][]*item{old, nw} {
			for _, it := range cp {
				if seen[provString(it.prov)] != 1 {
					t.Fatalf("round %d: %s is in the timeline %d times", round, provString(it.prov), seen[provString(it.prov)])
				}
			}
		}
		// each copy's order is kept
		pos := map[string]int{}
		for i, it := range out {
			pos[provString(it.prov)] = i
			for _, p := range it.also {
				pos[provString(p)] = i
			}
		}
		for _, cp := range [][]*item{old, nw} {
			last := -1
			for _, it := range cp {
				if p := pos[provString(it.prov)]; p < last {
					t.Fatalf("round %d: %s moved before an earlier message of its copy", round, provString(it.prov))
				} else {
					last = p
				}
			}
		}
		// exact when times decide, or unique messages leave no gap
		// undecided
		if timed || (!withOK && st.undecided == 0) {
			have := map[int]bool{}
			for _, k := range oldIdx {
				have[k] = true
			}
			for _, k := range newIdx {
				have[k] = true
			}
			var want []string
			for k := 0; k < n; k++ {
				if have[k] {
					r, c, _ := strings.Cut(truth[k], ":")
					c, _, _ = strings.Cut(c, "@")
					want = append(want, r+":"+c)
				}
			}
			if got := spec(out); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("round %d (timed %v):\n got  %q\n want %q", round, timed, got, want)
			}
		}
	}
}

// The JSONL (no times) and its JSON-era copy (timed) share every message;
// the meta's summary covers the first two lines. The shared messages are
// the JSONL's, with the copy's times, and the summary still follows the
// last skipped line.
func TestPicoClawSharedMessagesKeepSummaryPlace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sessions")
	key := "agent:main:telegram:direct:99"
	stem := "agent_main_telegram_direct_99"
	day := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	picoJSON(t, filepath.Join(dir, stem+".json.migrated"), key, day, "u:one@1", "a:ok@2", "u:two@3", "a:ok@4")
	picoJSONL(t, dir, stem, key, day.Add(time.Hour), "u:one", "a:ok", "u:two", "a:ok")
	write(t, filepath.Join(dir, stem+".meta.json"), fmt.Sprintf(`{"key":%q,"summary":"the user said one","skip":2,"count":4}`, key))
	p, _, ws := migrateDir(t, dir)
	ps := sessionOf(t, p, key)
	_, recs := sessionMessages(t, ws, ps.ID)
	var got []string
	for _, r := range recs[1:] {
		switch r.Type {
		case workspace.TypeMessage:
			got = append(got, fmt.Sprintf("%s:%s@%s", r.Role[:1], r.Content, r.At.Sub(t0)))
		case workspace.TypeSummary:
			got = append(got, fmt.Sprintf("summary:%s through %d", r.Text, r.Through))
		}
	}
	want := []string{"u:one@1m0s", "a:ok@2m0s", "summary:the user said one through 3", "u:two@3m0s", "a:ok@4m0s"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("records:\n got  %q\n want %q", got, want)
	}
}
