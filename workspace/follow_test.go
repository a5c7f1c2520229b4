package workspace

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/picosess/picosess/keying"
)

// Records appended by another OS process reach Watch, in order, and a
// session created after the watch began is followed from its start.
func TestWatchSeesOtherProcesses(t *testing.T) {
	root := t.TempDir()
	w, err := Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	old, err := w.Session(ctx, Target{Name: "old"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Append(ctx, msg(RoleUser, "before the watch")); err != nil {
		t.Fatal(err)
	}

	type got struct {
		id  string
		seq int64
		txt string
	}
	events := make(chan got, 100)
	done := make(chan error, 1)
	go func() {
		done <- w.Watch(ctx, WatchOptions{Poll: 50 * time.Millisecond}, func(id string, e Entry) error {
			events <- got{id, e.Seq, e.Content}
			return nil
		})
	}()
	time.Sleep(200 * time.Millisecond) // let the watch position itself at the ends

	// Another process appends 3 messages to the old session and creates a new one.
	cmd := exec.Command(os.Args[0], "-test.run=^TestWatchHelperProcess$")
	cmd.Env = append(os.Environ(), "PICOSESS_WATCH_HELPER="+root)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	want := map[string][]string{old.ID(): {"a0", "a1", "a2"}, keying.NamedID("new"): {"", "n0"}}
	seen := map[string][]string{}
	for n := 0; n < 5; n++ {
		select {
		case e := <-events:
			if e.txt == "before the watch" {
				t.Fatal("a record from before the watch was delivered")
			}
			seen[e.id] = append(seen[e.id], e.txt)
		case <-time.After(20 * time.Second):
			t.Fatalf("timed out; seen %v", seen)
		}
	}
	for id, w := range want {
		if len(seen[id]) != len(w) {
			t.Fatalf("%s: got %q, want %q", id, seen[id], w)
		}
		for i := range w {
			if seen[id][i] != w[i] {
				t.Fatalf("%s: got %q, want %q", id, seen[id], w)
			}
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Watch returned %v after cancel, want nil", err)
	}
}

func TestWatchHelperProcess(t *testing.T) {
	root := os.Getenv("PICOSESS_WATCH_HELPER")
	if root == "" {
		t.Skip("helper process only")
	}
	w, err := Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := w.Session(ctx, Target{Name: "old"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := s.Append(ctx, msg(RoleUser, "a"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	n, err := w.Session(ctx, Target{Name: "new"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Append(ctx, msg(RoleUser, "n0")); err != nil {
		t.Fatal(err)
	}
}
