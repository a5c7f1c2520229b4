package workspace

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/keying"
)

// These tests are about the files and this machine's change journal: they
// open workspaces without a store (withTestStore is not used).

// openTrust opens dir as a new process would.
func openTrust(t *testing.T, dir string, o *Options) *Workspace {
	t.Helper()
	if o == nil {
		o = &Options{}
	}
	o.NoConfig, o.Durability = true, DurabilityNever
	w, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// listBy lists with w and returns the messages per id and how many files
// the listing stat'ed.
func listBy(t *testing.T, w *Workspace, rescan bool) map[string]int {
	t.Helper()
	l, err := w.List(context.Background(), ListOptions{Rescan: rescan})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, m := range l {
		out[m.ID] = m.Messages
	}
	return out
}

// writeBehind appends a message line to a session file the way another
// program would: no lock, no journal hint.
func writeBehind(t *testing.T, s *Session, seq int64, content string) {
	t.Helper()
	f, err := os.OpenFile(s.Path(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line := fmt.Sprintf(`{"type":"message","seq":%d,"at":"2026-12-07T09:00:00Z","role":"user","content":%q}`+"\n", seq, content)
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
}

// waitSettled waits until the sessions directory's times can be trusted.
func waitSettled(t *testing.T, w *Workspace) {
	t.Helper()
	for {
		d, err := StatDir(w.SessionsDir())
		if err != nil {
			t.Fatal(err)
		}
		if d.Settled(time.Now()) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A listing after the first follows the change journal: what an append
// (from another Workspace, as another process) wrote shows; a file written
// behind picosess's back (no hint) shows only when a listing looks at every
// file: with Rescan, or once ListingRescan has passed, or with it negative.
func TestListingFollowsTheJournal(t *testing.T) {
	dir := t.TempDir()
	w := openTrust(t, dir, nil)
	ss := fixtureSessions(t, w, 30)
	waitSettled(t, w)
	listBy(t, openTrust(t, dir, nil), false) // the first listing looks at every file and leaves a state

	mustAppend(t, ss[4], UserMessage("", "one more"))
	writeBehind(t, ss[9], 3, "behind its back")
	l := listBy(t, openTrust(t, dir, nil), false)
	if l[ss[4].ID()] != 3 {
		t.Fatalf("an appended message is not listed: %d messages", l[ss[4].ID()])
	}
	if l[ss[9].ID()] != 2 {
		t.Fatalf("a session nothing named was looked at: %d messages (the listing did not trust the journal)", l[ss[9].ID()])
	}
	if l := listBy(t, openTrust(t, dir, &Options{ListingRescan: -1}), false); l[ss[9].ID()] != 3 {
		t.Fatalf("ListingRescan < 0 did not look at every file: %d messages", l[ss[9].ID()])
	}
	writeBehind(t, ss[11], 3, "behind its back")
	if l := listBy(t, openTrust(t, dir, nil), true); l[ss[11].ID()] != 3 {
		t.Fatalf("Rescan did not look at every file: %d messages", l[ss[11].ID()])
	}
	writeBehind(t, ss[12], 3, "behind its back")
	time.Sleep(20 * time.Millisecond)
	if l := listBy(t, openTrust(t, dir, &Options{ListingRescan: 10 * time.Millisecond}), false); l[ss[12].ID()] != 3 {
		t.Fatalf("a listing after ListingRescan did not look at every file: %d messages", l[ss[12].ID()])
	}
}

// Sessions created, trashed, restored or replaced by a rename (a new inode)
// change the directory: a listing that trusts the journal sees them.
func TestListingSeesTheDirectoryChange(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := openTrust(t, dir, nil)
	ss := fixtureSessions(t, w, 10)
	waitSettled(t, w)
	listBy(t, openTrust(t, dir, nil), false)

	fresh := namedSession(t, w, "fresh")
	mustAppend(t, fresh, UserMessage("", "hello"))
	if _, err := ss[2].Delete(ctx); err != nil {
		t.Fatal(err)
	}
	l := listBy(t, openTrust(t, dir, nil), false)
	if _, ok := l[ss[2].ID()]; ok || l[fresh.ID()] != 1 || len(l) != 10 {
		t.Fatalf("after a create and a delete: %v", l)
	}
	waitSettled(t, w)
	if _, err := w.RestoreFromTrash(ctx, ss[2].ID()); err != nil {
		t.Fatal(err)
	}
	if l := listBy(t, openTrust(t, dir, nil), false); l[ss[2].ID()] != 2 || len(l) != 11 {
		t.Fatalf("after a restore: %v", l)
	}
	// Another program rewrites a session and renames it into place, with
	// one message more: a new inode, seen through the directory.
	waitSettled(t, w)
	b, err := os.ReadFile(ss[5].Path())
	if err != nil {
		t.Fatal(err)
	}
	b = fmt.Appendf(b, `{"type":"message","seq":4,"at":"2026-12-07T09:00:00Z","role":"user","content":"x"}`+"\n")
	tmp := filepath.Join(dir, "rewritten")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, ss[5].Path()); err != nil {
		t.Fatal(err)
	}
	if l := listBy(t, openTrust(t, dir, nil), false); l[ss[5].ID()] != 3 {
		t.Fatalf("a session renamed over: %d messages", l[ss[5].ID()])
	}
}

// A journal that cannot be trusted makes the listing look at every file:
// missing, holding a line that is not a hint, or emptied and written past
// the listing's cursor again (the search index empties it).
func TestListingDistrustsTheJournal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, w *Workspace, other *Session)
	}{
		{"missing", func(t *testing.T, w *Workspace, _ *Session) {
			if err := os.Remove(w.ChangesPath()); err != nil {
				t.Fatal(err)
			}
		}},
		{"torn line", func(t *testing.T, w *Workspace, _ *Session) {
			f, err := os.OpenFile(w.ChangesPath(), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("sk_v1_cut sho\n")
			f.Close()
		}},
		{"emptied and refilled", func(t *testing.T, w *Workspace, other *Session) {
			// Emptied, then refilled with hints of another session up to
			// exactly where the listing stopped, and one past it: only the
			// bytes before the cursor tell this journal from the one read.
			before, err := w.ReadChanges(0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.ResetChanges(); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(other.Path())
			if err != nil {
				t.Fatal(err)
			}
			line := fmt.Sprintf("%s %d\n", other.ID(), fi.Size())
			var fill []byte
			for int64(len(fill)+2*len(line)) <= before.End {
				fill = append(fill, line...)
			}
			pad := int(before.End) - len(fill) - len(line) // zeros before the number
			fill = fmt.Appendf(fill, "%s %0*d\n", other.ID(), len(fmt.Sprint(fi.Size()))+pad, fi.Size())
			if int64(len(fill)) != before.End {
				t.Fatalf("refill of %d bytes, want %d", len(fill), before.End)
			}
			if err := os.WriteFile(w.ChangesPath(), fill, 0o644); err != nil {
				t.Fatal(err)
			}
			mustAppend(t, other, UserMessage("", "past the cursor"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w := openTrust(t, dir, nil)
			ss := fixtureSessions(t, w, 8)
			waitSettled(t, w)
			mustAppend(t, ss[0], UserMessage("", "a hint"))
			listBy(t, openTrust(t, dir, nil), false)
			listBy(t, openTrust(t, dir, nil), false) // trusted from here on
			writeBehind(t, ss[3], 3, "behind its back")
			tc.spoil(t, w, ss[1])
			if l := listBy(t, openTrust(t, dir, nil), false); l[ss[3].ID()] != 3 {
				t.Fatalf("the listing trusted the journal: %d messages", l[ss[3].ID()])
			}
		})
	}
}

// The listing empties a journal grown past listingJournalRotate (nobody
// searches this workspace) and still lists what the hints named.
func TestListingRotatesTheJournal(t *testing.T) {
	old := listingJournalRotate
	listingJournalRotate = 2 << 10
	t.Cleanup(func() { listingJournalRotate = old })
	dir := t.TempDir()
	w := openTrust(t, dir, nil)
	ss := fixtureSessions(t, w, 5)
	listBy(t, openTrust(t, dir, nil), false)
	for i := 0; i < 40; i++ {
		mustAppend(t, ss[i%5], UserMessage("", "more"))
	}
	fi, _ := os.Stat(w.ChangesPath())
	if fi.Size() <= listingJournalRotate {
		t.Fatalf("journal of %d bytes: the test needs more appends", fi.Size())
	}
	l := listBy(t, openTrust(t, dir, nil), false)
	for _, s := range ss {
		if l[s.ID()] != 10 {
			t.Fatalf("%s: %d messages, want 10", s.ID(), l[s.ID()])
		}
	}
	if fi, _ := os.Stat(w.ChangesPath()); fi.Size() != 0 {
		t.Fatalf("journal of %d bytes after the listing: not emptied", fi.Size())
	}
	mustAppend(t, ss[2], UserMessage("", "after"))
	if l := listBy(t, openTrust(t, dir, nil), false); l[ss[2].ID()] != 11 {
		t.Fatalf("after the rotation: %d messages", l[ss[2].ID()])
	}
}

// Processes append to sessions while others list them: every listing that
// follows the journal, and the last one, agrees with a look at every file
// made after the writers stopped.
func TestListingWhileProcessesAppend(t *testing.T) {
	dir := t.TempDir()
	w := openTrust(t, dir, nil)
	fixtureSessions(t, w, 6)
	listBy(t, openTrust(t, dir, nil), false)
	var cmds []*exec.Cmd
	for p := 0; p < 3; p++ {
		cmd := helperCmd(t, fmt.Sprintf("append %s s%02d 1000 %d", dir, p*2, p))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	done := make(chan error, len(cmds))
	for _, cmd := range cmds {
		go func() { done <- cmd.Wait() }()
	}
	listers := 0
	for running := len(cmds); running > 0; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("helper: %v", err)
			}
			running--
		default:
			listBy(t, openTrust(t, dir, nil), false)
			listers++
		}
	}
	t.Logf("%d listings while appending", listers)
	got := listBy(t, openTrust(t, dir, nil), false)
	want := listBy(t, openTrust(t, dir, nil), true)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after %d listings while appending:\n got %v\nwant %v", listers, got, want)
	}
	for p := 0; p < 3; p++ {
		if id := namedSession(t, w, fmt.Sprintf("s%02d", p*2)).ID(); got[id] != 1002 {
			t.Fatalf("s%02d: %d messages, want 1002", p*2, got[id])
		}
	}
}

// A state frame reads, to a reader that knows nothing of states (listing
// log 1 of earlier versions), as a gone frame of an id no session has:
// such a reader passes over it instead of calling the log damaged.
func TestStateFrameIsAGoneFrame(t *testing.T) {
	dir := t.TempDir()
	w := openTrust(t, dir, nil)
	fixtureSessions(t, w, 3)
	listBy(t, openTrust(t, dir, nil), false)
	b, err := os.ReadFile(filepath.Join(dir, CacheDir, listingLogName))
	if err != nil {
		t.Fatal(err)
	}
	b = b[len(listingMagic):]
	d := newEntryDecoder()
	states, entries := 0, 0
	for len(b) > 0 {
		n := int(binary.LittleEndian.Uint32(b))
		p := b[frameHeader : frameHeader+n]
		b = b[frameHeader+n:]
		id, _, _, gone, err := d.peek(p) // what an earlier version does
		if err != nil {
			t.Fatalf("frame %d: %v", states+entries, err)
		}
		switch {
		case gone && strings.HasPrefix(id, stateIDPrefix):
			states++
			if keying.IsID(id) {
				t.Fatalf("the state's id %q is a session id", id)
			}
		case !gone:
			entries++
		}
	}
	if states != 1 || entries != 3 {
		t.Fatalf("%d state frames, %d entries", states, entries)
	}
}
