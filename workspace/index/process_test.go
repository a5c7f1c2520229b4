package index

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

// Helper processes: the test binary re-executed with helperEnv set to a
// role. They report on stdout, one line per event.
const (
	helperEnv = "PICOSESS_INDEX_HELPER"
	helperDir = "PICOSESS_INDEX_HELPER_DIR"
	helperArg = "PICOSESS_INDEX_HELPER_ARG"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(helperEnv); role != "" {
		os.Exit(runHelper(role, os.Getenv(helperDir), os.Getenv(helperArg)))
	}
	os.Exit(m.Run())
}

func runHelper(role, dir, arg string) int {
	ctx := context.Background()
	ws, err := workspace.Open(dir, &workspace.Options{LockTimeout: 30 * time.Second}) // appends fsync
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer ws.Close()
	switch role {
	case "append":
		// arg: "<session id> <proc> <count>"; acknowledge each append
		// once Append has returned.
		f := strings.Fields(arg)
		n, _ := strconv.Atoi(f[2])
		s, err := ws.OpenID(f[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		for i := 0; i < n; i++ {
			seqs, err := s.Append(ctx, workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleUser,
				Sender: "p" + f[1], Content: fmt.Sprintf("shared words from p%s number %d", f[1], i)})
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			fmt.Printf("ack %s\n", docID(f[0], seqs[0]))
		}
		return 0
	case "reindex":
		bs, _ := strconv.Atoi(arg)
		x, err := Open(ws, &Options{BatchSize: bs})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		_, err = x.Rebuild(ctx, func(p Progress) {
			fmt.Printf("progress %d\n", p.Docs)
			time.Sleep(100 * time.Millisecond) // a window for the parent's SIGKILL
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Println("done")
		return 0
	case "hold":
		unlock, err := ws.LockIndex(ctx, time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
		_ = unlock()
		return 0
	}
	return 2
}

// helper starts the test binary in a role; lines it prints go to lines.
func helper(t *testing.T, dir, role, arg string) (*exec.Cmd, <-chan string, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+role, helperDir+"="+dir, helperArg+"="+arg)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, lines, stdin
}

// Four processes append to two sessions while this one searches with two
// index handles (each its own lock holder, as two processes would be).
// Every search finds every record acknowledged before it began.
func TestSearchWhileFourProcessesAppend(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process")
	}
	ctx := context.Background()
	dir := t.TempDir()
	ws := openWS(t, dir)
	a := chatSession(t, ws, "main", "1")
	b := chatSession(t, ws, "main", "2")
	const perProc = 150
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	for p := 0; p < 4; p++ {
		sess := a.ID()
		if p >= 2 {
			sess = b.ID()
		}
		_, lines, _ := helper(t, dir, "append", fmt.Sprintf("%s %d %d", sess, p, perProc))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l := range lines {
				if id, ok := strings.CutPrefix(l, "ack "); ok {
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	searcher := func(x *Index) (searches int, err error) {
		for {
			select {
			case <-done:
				return searches, nil
			default:
			}
			mu.Lock()
			before := make([]string, 0, len(acked))
			for id := range acked {
				before = append(before, id)
			}
			mu.Unlock()
			res, err := x.Search(ctx, Query{Text: "shared", Limit: 4 * perProc})
			if err != nil {
				return searches, err
			}
			found := map[string]bool{}
			for _, h := range res.Hits {
				found[h.ID] = true
			}
			for _, id := range before {
				if !found[id] {
					return searches, fmt.Errorf("search %d missed %s, acknowledged before it began (%d acked, %d found)", searches, id, len(before), len(found))
				}
			}
			searches++
		}
	}
	errs := make(chan error, 2)
	counts := make(chan int, 2)
	for i := 0; i < 2; i++ {
		x := openIndex(t, ws, &Options{LockTimeout: 20 * time.Second, BatchSize: 50})
		go func() { n, err := searcher(x); counts <- n; errs <- err }()
	}
	total := 0
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		total += <-counts
	}
	if total == 0 {
		t.Fatal("no search ran while the appenders ran")
	}
	x := openIndex(t, ws, nil)
	res := mustSearch(t, x, Query{Text: "shared", Limit: 1000})
	if len(res.Hits) != 4*perProc || len(acked) != 4*perProc {
		t.Fatalf("final: %d hits, %d acked, want %d", len(res.Hits), len(acked), 4*perProc)
	}
	t.Logf("%d searches while appending", total)
}

// A process killed with SIGKILL in the middle of a rebuild leaves an index
// the next search uses or rebuilds by itself: every message is found.
func TestKilledDuringReindexRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process")
	}
	dir := t.TempDir()
	ws := openWS(t, dir)
	const sessions, per = 6, 200
	for i := 0; i < sessions; i++ {
		s := chatSession(t, ws, "main", strconv.Itoa(i))
		recs := make([]workspace.Record, per)
		for j := range recs {
			recs[j] = workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleUser, Content: fmt.Sprintf("apple %d in basket %d", j, i)}
		}
		if _, err := s.Append(context.Background(), recs...); err != nil {
			t.Fatal(err)
		}
	}
	cmd, lines, _ := helper(t, dir, "reindex", "100")
	for l := range lines {
		if strings.HasPrefix(l, "progress") { // some batches are committed
			break
		}
		if l == "done" {
			t.Fatal("rebuild finished before it could be killed")
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("the rebuild was not killed: %v", cmd.ProcessState)
	}
	if _, err := os.Stat(filepath.Join(dir, "index", "index_meta.json")); err != nil {
		t.Fatalf("the killed rebuild left no index to recover: %v", err)
	}

	x := openIndex(t, ws, nil)
	res := mustSearch(t, x, Query{Text: "apple", Limit: 1})
	if res.Total != sessions*per {
		t.Fatalf("after kill: %d docs found, want %d", res.Total, sessions*per)
	}
	rep, err := Check(context.Background(), ws)
	if err != nil || !rep.Clean() || rep.Docs != sessions*per {
		t.Fatalf("check after recovery: %+v %v", rep, err)
	}
}

// A process that cannot get the index within the lock timeout gets an
// error naming the holder, not a hang.
func TestLockTimeoutNamesHolder(t *testing.T) {
	dir := t.TempDir()
	ws := openWS(t, dir)
	say(t, chatSession(t, ws, "main", "1"), workspace.RoleUser, "u", "hello")
	cmd, lines, stdin := helper(t, dir, "hold", "")
	if l := <-lines; l != "locked" {
		t.Fatalf("helper: %q", l)
	}
	x := openIndex(t, ws, &Options{LockTimeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := x.Search(context.Background(), Query{Text: "hello"})
	var le *workspace.LockedError
	if !errors.As(err, &le) || !errors.Is(err, workspace.ErrLocked) {
		t.Fatalf("want a LockedError, got %v", err)
	}
	if le.PID != cmd.Process.Pid || !strings.Contains(err.Error(), strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("holder not named: pid %d in %v", cmd.Process.Pid, err)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Fatalf("waited %v", waited)
	}
	impatient, err := workspace.Open(dir, &workspace.Options{LockTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer impatient.Close()
	if _, err := Check(context.Background(), impatient); !errors.As(err, &le) || le.PID != cmd.Process.Pid {
		t.Fatalf("check: want a LockedError naming %d, got %v", cmd.Process.Pid, err)
	}
	if _, err := Rebuild(context.Background(), impatient, nil); !errors.As(err, &le) || le.PID != cmd.Process.Pid {
		t.Fatalf("rebuild: want a LockedError naming %d, got %v", cmd.Process.Pid, err)
	}
	stdin.Close()
	_ = cmd.Wait()
	if res := mustSearch(t, x, Query{Text: "hello"}); len(res.Hits) != 1 {
		t.Fatalf("after the holder left: %v", ids(res))
	}
}
