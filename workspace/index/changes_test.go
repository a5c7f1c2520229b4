package index

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

// catchUp runs a catch-up and returns what it did.
func catchUp(t *testing.T, x *Index) Stats {
	t.Helper()
	st, err := x.CatchUp(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// settle waits until the sessions directory's times are old enough to be
// trusted (dirSettleFine, or dirSettle on a filesystem of whole seconds), so that a catch-up after it need not list it.
func settle(t *testing.T, x *Index) {
	t.Helper()
	time.Sleep(workspace.DirSettle + 100*time.Millisecond)
	catchUp(t, x)
}

// What a catch-up looks at follows what changed, not how many sessions
// there are: nothing when nothing changed, the appended-to session after
// an append, the new file after a create.
func TestCatchUpLooksAtWhatChanged(t *testing.T) {
	ws := openWS(t, "")
	var ss []*workspace.Session
	for i := 0; i < 20; i++ {
		s := chatSession(t, ws, "main", fmt.Sprint(i))
		say(t, s, workspace.RoleUser, "u", fmt.Sprintf("message %d", i))
		ss = append(ss, s)
	}
	for _, hold := range []bool{false, true} {
		t.Run(fmt.Sprintf("hold=%v", hold), func(t *testing.T) {
			x := openIndex(t, ws, &Options{Hold: hold})
			if st := catchUp(t, x); !st.Full && !hold {
				t.Logf("first: %+v", st)
			}
			settle(t, x)
			if st := catchUp(t, x); st.Looked != 0 || st.Full || st.Sessions != 0 {
				t.Fatalf("nothing changed: %+v", st)
			}
			say(t, ss[3], workspace.RoleUser, "u", "one more")
			say(t, ss[3], workspace.RoleUser, "u", "and another")
			if st := catchUp(t, x); st.Looked != 1 || st.Full || st.Sessions != 1 || st.Docs != 2 {
				t.Fatalf("after two appends to one session: %+v", st)
			}
			n := chatSession(t, ws, "main", fmt.Sprint("new", hold))
			word := fmt.Sprintf("brand%vnew", hold)
			w := say(t, n, workspace.RoleUser, "u", word+" words")
			st := catchUp(t, x)
			if st.Full || st.Sessions != 1 || st.Docs != 1 || st.Looked != 1 {
				t.Fatalf("after a new session: %+v", st)
			}
			res := mustSearch(t, x, Query{Text: word})
			if got := ids(res); len(got) != 1 || got[0] != docID(n.ID(), w) {
				t.Fatalf("new session's message: %v", got)
			}
		})
	}
}

// Writes that bypass the change journal: a person with an editor. An
// editor that saves by renaming a new file over the old one is seen at
// once (the directory check); one that writes in place (or `cat >>`) is
// seen at the next full rescan, at most Options.Rescan later, or at once
// when the session's next append adds a hint.
func TestEditorWritesAreFound(t *testing.T) {
	ws := openWS(t, "")
	s := chatSession(t, ws, "main", "1")
	say(t, s, workspace.RoleUser, "u", "the original words")
	x := openIndex(t, ws, &Options{Rescan: time.Hour})
	catchUp(t, x)
	settle(t, x)
	line := func(seq int64, text string) string {
		b, _ := json.Marshal(workspace.Record{Type: workspace.TypeMessage, Seq: seq, At: time.Now().UTC(),
			Role: workspace.RoleUser, Sender: "editor", Content: text})
		return string(b) + "\n"
	}

	// In place, appended as `cat >>` would.
	f, err := os.OpenFile(s.Path(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(line(3, "typed by hand in place")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if res := mustSearch(t, x, Query{Text: "hand"}); len(res.Hits) != 0 {
		t.Fatalf("seen before the rescan bound: the test's premise is wrong: %v", ids(res))
	}
	rescan := openIndex(t, ws, &Options{Rescan: -1}) // a rescan at every operation
	if res := mustSearch(t, rescan, Query{Text: "hand"}); len(res.Hits) != 1 {
		t.Fatalf("after a full rescan: %v", ids(res))
	}
	rescan.Close()
	// The next picosess append to the session hints it: everything after
	// the watermark is read, the hand-written line too.
	x2 := openIndex(t, ws, &Options{Rescan: time.Hour})
	catchUp(t, x2)
	settle(t, x2)
	if _, err := f.Stat(); err != nil {
		t.Log(err)
	}
	raw, _ := os.ReadFile(s.Path())
	if err := os.WriteFile(s.Path(), append(raw, line(4, "a second hand line")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := mustSearch(t, x2, Query{Text: "second"}); len(res.Hits) != 0 {
		t.Fatalf("in-place rewrite seen before the bound: %v", ids(res))
	}
	say(t, s, workspace.RoleUser, "u", "appended through picosess")
	if res := mustSearch(t, x2, Query{Text: "second OR picosess"}); len(res.Hits) != 2 {
		t.Fatalf("after a hinted append: %v", ids(res))
	}

	// Saved by rename: a new inode under the same name.
	raw, _ = os.ReadFile(s.Path())
	edited := strings.Replace(string(raw), "the original words", "the rewritten words", 1)
	tmp := filepath.Join(filepath.Dir(s.Path()), ".edit.tmp")
	if err := os.WriteFile(tmp, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, s.Path()); err != nil {
		t.Fatal(err)
	}
	if res := mustSearch(t, x2, Query{Text: "rewritten"}); len(res.Hits) != 1 {
		t.Fatalf("after a save by rename: %v", ids(res))
	}
	if res := mustSearch(t, x2, Query{Text: "original"}); len(res.Hits) != 0 {
		t.Fatalf("old words after a save by rename: %v", ids(res))
	}
}

// A journal that is missing, torn, emptied by someone else or grown past
// its limit makes the next catch-up a full rescan; so does an old rescan.
func TestJournalTroubleMeansFullRescan(t *testing.T) {
	ws := openWS(t, "")
	s := chatSession(t, ws, "main", "1")
	say(t, s, workspace.RoleUser, "u", "hello")
	x := openIndex(t, ws, &Options{Hold: true, Rescan: time.Hour})
	catchUp(t, x)
	if st := catchUp(t, x); st.Full {
		t.Fatalf("second catch-up: %+v", st)
	}
	cases := []struct {
		name   string
		break_ func()
	}{
		{"emptied", func() {
			say(t, s, workspace.RoleUser, "u", "hello again")
			catchUp(t, x)
			os.Truncate(ws.ChangesPath(), 0)
		}},
		{"emptied and refilled past the cursor", func() {
			// Another reader (a listing) empties it, and appends fill
			// it up to the owner's cursor and past: only the bytes
			// before the cursor tell it from the journal read.
			say(t, s, workspace.RoleUser, "u", "before")
			catchUp(t, x)
			before, err := ws.ReadChanges(0)
			if err != nil {
				t.Fatal(err)
			}
			line := fmt.Sprintf("%s %d\n", s.ID(), 1)
			fill := strings.Repeat(line, int(before.End)/len(line)-1)
			fill += fmt.Sprintf("%s %0*d\n", s.ID(), int(before.End)-len(fill)-len(s.ID())-2, 1)
			if len(fill) != int(before.End) {
				t.Fatalf("refill of %d bytes, want %d", len(fill), before.End)
			}
			os.WriteFile(ws.ChangesPath(), []byte(fill), 0o644)
			say(t, s, workspace.RoleUser, "u", "after")
		}},
		{"big", func() {
			journalRotate = 10
			say(t, s, workspace.RoleUser, "u", "one more")
		}},
		{"missing", func() { os.Remove(ws.ChangesPath()) }},
		{"torn", func() { appendFile(t, ws.ChangesPath(), "sk_v1_12\x00\x00\n") }},
		{"replaced", func() {
			b, _ := os.ReadFile(ws.ChangesPath())
			os.WriteFile(ws.ChangesPath()+".new", b, 0o644)
			os.Rename(ws.ChangesPath()+".new", ws.ChangesPath())
		}},
	}
	for _, c := range cases {
		c.break_()
		if st := catchUp(t, x); !st.Full {
			t.Fatalf("%s: %+v", c.name, st)
		}
		journalRotate = 1 << 20
		if st := catchUp(t, x); st.Full {
			t.Fatalf("%s, the catch-up after: %+v", c.name, st)
		}
	}
	// A held index rescans every RescanSearches operations.
	for i := 0; i < RescanSearches-1; i++ {
		catchUp(t, x)
	}
	if st := catchUp(t, x); !st.Full {
		t.Fatalf("after %d operations: %+v", RescanSearches, st)
	}
}

// A catch-up killed after a batch and before its watermarks leaves the
// store dirty: the next one is a full rescan and finds every message
// exactly once.
func TestDirtyStoreMeansFullRescan(t *testing.T) {
	ws := openWS(t, "")
	s := chatSession(t, ws, "main", "1")
	say(t, s, workspace.RoleUser, "u", "hello")
	x := openIndex(t, ws, nil)
	catchUp(t, x)
	// What a kill between the batch and the store's commit leaves: the
	// documents, and a store marked dirty that does not know them.
	x.mu.Lock()
	if err := x.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	o := x.own
	seq := say(t, s, workspace.RoleUser, "u", "hello kill")
	b := o.bi.NewBatch()
	wm, err := o.st.get(s.ID())
	if err != nil || wm == nil {
		t.Fatalf("watermark: %v %v", wm, err)
	}
	m := &Message{Session: s.ID(), Role: workspace.RoleUser, Text: "hello kill", Seq: float64(seq), Num: wm.Num}
	if err := b.IndexAdvanced(x.an.newDoc(m)); err != nil {
		t.Fatal(err)
	}
	if err := o.bi.Batch(b); err != nil {
		t.Fatal(err)
	}
	d := o.cs
	d.Dirty = true
	if err := o.st.commit(nil, nil, &d); err != nil {
		t.Fatal(err)
	}
	x.release()
	x.mu.Unlock()
	st := catchUp(t, x)
	if !st.Full {
		t.Fatalf("after a dirty store: %+v", st)
	}
	if res := mustSearch(t, x, Query{Text: "hello"}); len(res.Hits) != 2 || res.Total != 2 {
		t.Fatalf("hits: %v total %d", ids(res), res.Total)
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}
