package workspace

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace/config"
)

const day = 24 * time.Hour

func TestSelectCleanup(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	metas := []Meta{
		{ID: "fresh", Title: "fresh", Updated: now.Add(-2 * time.Hour), Size: 10, Agent: "main", Channel: "telegram"},
		{ID: "edge", Updated: now.Add(-30 * day), Size: 20, Agent: "main", Channel: "telegram"}, // exactly 30d: not longer
		{ID: "old", Title: "old", Updated: now.Add(-45 * day), Size: 30, Agent: "main", Channel: "telegram"},
		{ID: "oldcp", Updated: now.Add(-40*day - 5*time.Hour), Size: 40, Agent: "main", Channel: "discord"},
		{ID: "support", Updated: now.Add(-60 * day), Size: 50, Agent: "support", Channel: "telegram"},
		{ID: "damaged", Size: 60, Agent: "main", Channel: "telegram"}, // no readable record
	}
	type row struct{ id, action, reason string }
	for _, tt := range []struct {
		name string
		o    CleanupOptions
		want []row
	}{
		{"idle vs active", CleanupOptions{OlderThan: 30 * day}, []row{
			{"fresh", CleanupKeep, "active 2h ago"},
			{"edge", CleanupKeep, "active 30d ago"},
			{"old", CleanupTrash, "idle 45d > 30d"},
			{"oldcp", CleanupTrash, "idle 40d5h > 30d"},
			{"support", CleanupTrash, "idle 60d > 30d"},
			{"damaged", CleanupKeep, "no record time (see picosess check)"},
		}},
		{"keep checkpoints", CleanupOptions{OlderThan: 30 * day, KeepCheckpoints: true, Agent: "main"}, []row{
			{"fresh", CleanupKeep, "active 2h ago"},
			{"edge", CleanupKeep, "active 30d ago"},
			{"old", CleanupTrash, "idle 45d > 30d"},
			{"oldcp", CleanupKeep, "has checkpoint"},
			{"damaged", CleanupKeep, "no record time (see picosess check)"},
		}},
		{"agent filter", CleanupOptions{OlderThan: 30 * day, Agent: "SUPPORT"}, []row{
			{"support", CleanupTrash, "idle 60d > 30d"},
		}},
		{"channel filter", CleanupOptions{OlderThan: 12 * time.Hour, Channel: "discord"}, []row{
			{"oldcp", CleanupTrash, "idle 40d5h > 12h"},
		}},
		{"agent and channel", CleanupOptions{OlderThan: 30 * day, Agent: "support", Channel: "discord"}, nil},
		{"no expiry selects nothing", CleanupOptions{PurgeAfter: day}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var asked []string
			has := func(id string) bool {
				asked = append(asked, id)
				return id == "oldcp"
			}
			var got []row
			for _, d := range SelectCleanup(metas, has, tt.o, now) {
				got = append(got, row{d.ID, d.Action, d.Reason})
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
			// Only idle candidates are asked about checkpoints, and only
			// when checkpoints keep sessions.
			for _, id := range asked {
				if !tt.o.KeepCheckpoints || id == "fresh" || id == "edge" || id == "damaged" {
					t.Errorf("hasCheckpoint(%q) asked", id)
				}
			}
		})
	}
}

func TestFormatAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Hour:                           "0s",
		0:                                    "0s",
		999 * time.Millisecond:               "0s",
		90 * time.Second:                     "1m30s",
		2 * time.Hour:                        "2h",
		2*time.Hour + 15*time.Minute:         "2h15m",
		45 * day:                             "45d",
		30*day + 5*time.Hour + 3*time.Minute: "30d5h",
	} {
		if got := FormatAge(d); got != want {
			t.Errorf("FormatAge(%s) = %q, want %q", d, got, want)
		}
	}
}

// cleanupClock is a settable clock: sessions are written "in the past" by
// setting it back before the appends.
type cleanupClock struct{ t time.Time }

func (c *cleanupClock) now() time.Time { return c.t }

// cleanupFixture is a workspace whose clock has moved on 50 days since its
// sessions were written: old (idle 50d), oldcp (idle 50d, a checkpoint),
// support (agent support, idle 50d), fresh (written 2h ago).
func cleanupFixture(t *testing.T) (*Workspace, *cleanupClock, map[string]*Session) {
	t.Helper()
	// 50 days before the real clock: the trash dates deletions by the
	// file's ctime, so purge tests need the two clocks close.
	clk := &cleanupClock{t: time.Now().UTC().Truncate(time.Second).Add(-50 * day)}
	w := openTest(t, &Options{Now: clk.now})
	ctx := context.Background()
	mk := func(agent, channel, chat, text string) *Session {
		sc := keying.Scope{Version: 1, AgentID: agent, Channel: channel, Account: "default", Dimensions: []string{"chat"}, Values: map[string]string{"chat": chat}}
		s, err := w.Session(ctx, Target{Scope: &sc})
		if err != nil {
			t.Fatal(err)
		}
		mustAppend(t, s, msg(RoleUser, text), msg(RoleAssistant, "answer to "+text))
		return s
	}
	ss := map[string]*Session{
		"old":     mk("main", "telegram", "direct:1", "old question"),
		"oldcp":   mk("main", "discord", "direct:2", "question worth a checkpoint"),
		"support": mk("support", "telegram", "group:3", "support question"),
	}
	if _, err := ss["oldcp"].SaveCheckpoint(ctx, "keep-me", ""); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(50*day - 2*time.Hour)
	ss["fresh"] = mk("main", "telegram", "direct:4", "fresh question")
	clk.t = clk.t.Add(2 * time.Hour)
	return w, clk, ss
}

// treeBytes maps every file under dir to its contents.
func treeBytes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		out[path] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func reportIDs(ds []CleanupDecision) (out []string) {
	for _, d := range ds {
		out = append(out, d.ID)
	}
	slices.Sort(out)
	return out
}

func idsOf(ss map[string]*Session, names ...string) (out []string) {
	for _, n := range names {
		out = append(out, ss[n].ID())
	}
	slices.Sort(out)
	return out
}

func TestCleanupDryRunChangesNothing(t *testing.T) {
	ctx := context.Background()
	w, clk, ss := cleanupFixture(t)
	if _, err := ss["old"].Delete(ctx); err != nil { // something in the trash to purge
		t.Fatal(err)
	}
	before := treeBytes(t, w.sessionsDir())
	rep, err := w.Cleanup(ctx, CleanupOptions{OlderThan: 30 * day, KeepCheckpoints: true, PurgeAfter: time.Minute, DryRun: true, Now: clk.t.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if after := treeBytes(t, w.sessionsDir()); !mapsEqual(before, after) {
		t.Fatalf("dry run changed sessions/:\nbefore %v\nafter  %v", keys(before), keys(after))
	}
	if got, want := reportIDs(rep.Trashed), idsOf(ss, "support"); !slices.Equal(got, want) || !rep.DryRun {
		t.Fatalf("would trash %v, want %v", got, want)
	}
	if rep.Trashed[0].Trash != "" || rep.Trashed[0].Reason != "idle 50d1h > 30d" {
		t.Fatalf("dry-run decision %+v", rep.Trashed[0])
	}
	if got, want := reportIDs(rep.Kept), idsOf(ss, "oldcp", "fresh"); !slices.Equal(got, want) {
		t.Fatalf("kept %v, want %v", got, want)
	}
	if len(rep.Purged) != 1 || rep.Purged[0].ID != ss["old"].ID() || rep.PurgedTotal.Count != 1 || rep.PurgedTotal.Bytes != rep.Purged[0].Size {
		t.Fatalf("would purge %+v (%+v)", rep.Purged, rep.PurgedTotal)
	}
	if rep.TrashedTotal != (CleanupTotal{Count: 1, Bytes: rep.Trashed[0].Size}) || rep.Trashed[0].Size == 0 {
		t.Fatalf("totals %+v", rep.TrashedTotal)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) (out []string) {
	for k := range m {
		out = append(out, filepath.Base(k))
	}
	slices.Sort(out)
	return out
}

func TestCleanupMovesToTrashAndRestores(t *testing.T) {
	ctx := context.Background()
	w, clk, ss := cleanupFixture(t)
	oldBytes, err := os.ReadFile(ss["old"].Path())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := w.Cleanup(ctx, CleanupOptions{OlderThan: 30 * day, Agent: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := reportIDs(rep.Trashed), idsOf(ss, "old", "oldcp"); !slices.Equal(got, want) {
		t.Fatalf("trashed %v, want %v", got, want)
	}
	if got, want := reportIDs(rep.Kept), idsOf(ss, "fresh"); !slices.Equal(got, want) {
		t.Fatalf("kept %v, want %v (support is out of scope)", got, want)
	}
	if !rep.Now.Equal(clk.t) || !rep.IdleBefore.Equal(clk.t.Add(-30*day)) || !rep.PurgeBefore.IsZero() {
		t.Fatalf("report times %v %v %v", rep.Now, rep.IdleBefore, rep.PurgeBefore)
	}
	for _, d := range rep.Trashed {
		if _, err := os.Stat(filepath.Join(w.trashDir(), d.Trash)); err != nil {
			t.Fatalf("%s not in the trash: %v", d.ID, err)
		}
	}
	live := mustList(t, w, ListOptions{})
	if len(live) != 2 {
		t.Fatalf("live after cleanup: %+v", live)
	}
	// A second run finds nothing more to do.
	if rep2, err := w.Cleanup(ctx, CleanupOptions{OlderThan: 30 * day, Agent: "main"}); err != nil || len(rep2.Trashed) != 0 {
		t.Fatalf("second run: %+v %v", rep2.Trashed, err)
	}
	r, err := w.RestoreFromTrash(ctx, ss["old"].ID())
	if err != nil {
		t.Fatal(err)
	}
	// The file comes back whole, with one record more that says so.
	got, err := os.ReadFile(r.Path())
	if err != nil || !strings.HasPrefix(string(got), string(oldBytes)) {
		t.Fatalf("restored file differs (%v)", err)
	}
	if note := strings.TrimPrefix(string(got), string(oldBytes)); !strings.HasPrefix(note, `{"type":"untrash","seq":4,"at":"`+clk.t.Format(time.RFC3339)) || strings.Count(note, "\n") != 1 {
		t.Fatalf("after the restored records: %q", note)
	}
	if h, err := r.History(ctx, 0); err != nil || len(h.Messages) != 2 || h.Messages[0].Content != "old question" {
		t.Fatalf("restored history %+v %v", h.Messages, err)
	}
	// The next cleanup leaves it, and says why; the policy counts its
	// expiry from the restore; once idle that long since, it goes again.
	rep3, err := w.Cleanup(ctx, CleanupOptions{OlderThan: 30 * day, Agent: "main"})
	if err != nil || len(rep3.Trashed) != 0 {
		t.Fatalf("cleanup right after the restore: trashed %+v, %v", rep3.Trashed, err)
	}
	var kept CleanupDecision
	for _, d := range rep3.Kept {
		if d.ID == r.ID() {
			kept = d
		}
	}
	if kept.Reason != "brought back from the trash 0s ago" {
		t.Fatalf("kept with %q", kept.Reason)
	}
	w.opts.Config.Cleanup.OlderThan = config.Duration(30 * day)
	if pol, err := r.Policy(ctx, time.Time{}); err != nil || !pol.ExpiresAt.Equal(clk.t.Add(30*day)) {
		t.Fatalf("expires at %v (%v), want 30 days after the restore", pol.ExpiresAt, err)
	}
	clk.t = clk.t.Add(31 * day)
	rep4, err := w.Cleanup(ctx, CleanupOptions{OlderThan: 30 * day, Agent: "main"})
	if err != nil || !slices.Contains(reportIDs(rep4.Trashed), r.ID()) {
		t.Fatalf("31 days after the restore: trashed %+v, %v", rep4.Trashed, err)
	}
}

func TestCleanupPurgeAfter(t *testing.T) {
	ctx := context.Background()
	w, _, ss := cleanupFixture(t)
	for _, n := range []string{"old", "support"} {
		if _, err := ss[n].Delete(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The trash dates deletions by the file's ctime, the real clock.
	realNow := time.Now()
	rep, err := w.Cleanup(ctx, CleanupOptions{PurgeAfter: 30 * day, Now: realNow})
	if err != nil || len(rep.Purged) != 0 || len(rep.Trashed)+len(rep.Kept) != 0 {
		t.Fatalf("fresh deletions purged: %+v %v", rep, err)
	}
	rep, err = w.Cleanup(ctx, CleanupOptions{PurgeAfter: 30 * day, Now: realNow.Add(31 * day)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Purged) != 2 || rep.PurgedTotal.Count != 2 || rep.PurgedTotal.Bytes != rep.Purged[0].Size+rep.Purged[1].Size {
		t.Fatalf("purged %+v %+v", rep.Purged, rep.PurgedTotal)
	}
	if trash, _ := w.Trash(ctx); len(trash) != 0 {
		t.Fatalf("trash after purge: %+v", trash)
	}
	if len(mustList(t, w, ListOptions{})) != 2 {
		t.Fatal("purge touched live sessions")
	}
}

// An append that lands between the listing and the move keeps the session.
func TestCleanupWrittenMeanwhile(t *testing.T) {
	ctx := context.Background()
	w, _, ss := cleanupFixture(t)
	target := ss["old"].ID()
	rep, err := w.cleanup(ctx, CleanupOptions{OlderThan: 30 * day}, func(d CleanupDecision) {
		if d.ID == target {
			mustAppend(t, ss["old"], msg(RoleUser, "I am back"))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := reportIDs(rep.Trashed), idsOf(ss, "oldcp", "support"); !slices.Equal(got, want) {
		t.Fatalf("trashed %v, want %v", got, want)
	}
	i := slices.IndexFunc(rep.Kept, func(d CleanupDecision) bool { return d.ID == target })
	if i < 0 || rep.Kept[i].Reason != CleanupWrittenMeanwhile || rep.Kept[i].Action != CleanupKeep {
		t.Fatalf("kept %+v", rep.Kept)
	}
	if h, err := ss["old"].History(ctx, 0); err != nil || len(h.Messages) != 3 {
		t.Fatalf("session written meanwhile: %+v %v", h.Messages, err)
	}
}

// The check under the lock, called directly: a listing older than the
// file is refused, the current one is obeyed.
func TestCleanupTrashIfIdle(t *testing.T) {
	ctx := context.Background()
	w, clk, ss := cleanupFixture(t)
	s := ss["old"]
	m := metaOf(t, w, s.ID())
	listed := CleanupDecision{ID: m.ID, Updated: m.Updated, Size: m.Size}
	idleBefore := clk.t.Add(-30 * day)
	mustAppend(t, s, msg(RoleUser, "late")) // stamped now: active again
	if _, err := w.trashIfIdle(ctx, listed, idleBefore); !errors.Is(err, errWrittenMeanwhile) {
		t.Fatalf("stale listing: %v", err)
	}
	if _, err := w.trashIfIdle(ctx, CleanupDecision{ID: s.ID(), Updated: clk.t, Size: metaOf(t, w, s.ID()).Size}, idleBefore); !errors.Is(err, errWrittenMeanwhile) {
		t.Fatalf("active session: %v", err)
	}
	m = metaOf(t, w, ss["support"].ID())
	name, err := w.trashIfIdle(ctx, CleanupDecision{ID: m.ID, Updated: m.Updated, Size: m.Size}, idleBefore)
	if err != nil || name != m.ID+SessionExt {
		t.Fatalf("idle session: %q %v", name, err)
	}
	if _, err := w.trashIfIdle(ctx, CleanupDecision{ID: m.ID, Updated: m.Updated, Size: m.Size}, idleBefore); !errors.Is(err, ErrNotFound) {
		t.Fatalf("gone session: %v", err)
	}
}

// A session whose lock another holder keeps is left in place; the others
// are still cleaned up and the error says ErrLocked.
func TestCleanupLockedSessionLeftInPlace(t *testing.T) {
	ctx := context.Background()
	w, clk, ss := cleanupFixture(t)
	w.opts.LockTimeout = -1 // try once
	other, err := Open(w.Root(), &Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lk, err := other.lock(ctx, other.state(ss["old"].ID()))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := w.Cleanup(ctx, CleanupOptions{OlderThan: 30 * day})
	lk.unlock()
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("err %v, want ErrLocked", err)
	}
	if got, want := reportIDs(rep.Trashed), idsOf(ss, "oldcp", "support"); !slices.Equal(got, want) {
		t.Fatalf("trashed %v, want %v", got, want)
	}
	i := slices.IndexFunc(rep.Kept, func(d CleanupDecision) bool { return d.ID == ss["old"].ID() })
	if i < 0 || rep.Kept[i].Reason != CleanupLocked {
		t.Fatalf("kept %+v", rep.Kept)
	}
	if _, err := os.Stat(ss["old"].Path()); err != nil {
		t.Fatal("locked session moved")
	}
}

func TestCleanupFromConfig(t *testing.T) {
	ctx := context.Background()
	w, _, ss := cleanupFixture(t)
	c := config.Cleanup{TTL: config.Duration(30 * day), KeepCheckpoints: true, PurgeAfter: config.Duration(7 * day)}
	if o := CleanupOptionsFromConfig(c); o != (CleanupOptions{OlderThan: 30 * day, KeepCheckpoints: true, PurgeAfter: 7 * day}) {
		t.Fatalf("options %+v", o)
	}
	rep, err := w.CleanupFromConfig(ctx, c, true)
	if err != nil || !rep.DryRun {
		t.Fatal(err)
	}
	if got, want := reportIDs(rep.Trashed), idsOf(ss, "old", "support"); !slices.Equal(got, want) {
		t.Fatalf("would trash %v, want %v", got, want)
	}
	if rep, err := w.CleanupFromConfig(ctx, config.Cleanup{}, false); err != nil || len(rep.Trashed)+len(rep.Kept)+len(rep.Purged) != 0 {
		t.Fatalf("empty block did something: %+v %v", rep, err)
	}
	if _, err := w.Cleanup(ctx, CleanupOptions{OlderThan: -time.Hour}); err == nil {
		t.Fatal("negative older-than accepted")
	}
}
