package workspace

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperMain runs in a re-executed test binary. Modes:
//
//	append <root> <name> <n> <writer>  append n messages "w<writer>-<i>"
//	loop <root> <name>                 append until killed; print each acknowledged seq
//	hold <root> <name>                 take the session lock, print "locked", sleep
func helperMain(mode string) error {
	args := strings.Fields(mode)
	ctx := context.Background()
	if len(args) < 3 {
		return fmt.Errorf("bad helper mode %q", mode)
	}
	if args[0] == "route" {
		return routeHelper(args)
	}
	if args[0] == "batchbench" {
		return batchBenchHelper(args, os.Stdin, os.Stdout)
	}
	d := DurabilityNever
	switch args[0] {
	case "turns", "combine", "combinedie":
		d = DurabilityBatch
	}
	// The estimate: these tests are about locks and crashes, and an exact
	// count of the 200 KB messages of "loop" costs a third of a second.
	w, err := Open(args[1], &Options{Durability: d, LockTimeout: time.Minute, CountTokens: EstimateTokens})
	if err != nil {
		return err
	}
	s, err := w.Session(ctx, Target{Name: args[2]})
	if err != nil {
		return err
	}
	switch args[0] {
	case "combine", "combinedie":
		return combineHelper(args, w, s)
	case "append":
		n, _ := strconv.Atoi(args[3])
		for i := 0; i < n; i++ {
			if _, err := s.Append(ctx, msg(RoleUser, fmt.Sprintf("w%s-%d", args[4], i))); err != nil {
				return err
			}
		}
		return nil
	case "turns":
		// 4 goroutines, n turns each, durability batch: turns from this
		// process's goroutines share writes, and other processes interleave.
		n, _ := strconv.Atoi(args[3])
		errs := make(chan error, 4)
		for g := 0; g < 4; g++ {
			go func() {
				for i := 0; i < n; i++ {
					tag := fmt.Sprintf("p%s-g%d-%d", args[4], g, i)
					if _, err := s.Append(ctx, msg(RoleUser, tag), msg(RoleTool, tag), msg(RoleAssistant, tag)); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for g := 0; g < 4; g++ {
			if err := <-errs; err != nil {
				return err
			}
		}
		return nil
	case "loop":
		out := bufio.NewWriter(os.Stdout)
		big := strings.Repeat("x", 200<<10)
		for i := 0; ; i++ {
			content := "m" + strconv.Itoa(i)
			if i%7 == 3 {
				content += big // big writes widen the window for a torn line
			}
			seqs, err := s.Append(ctx, msg(RoleUser, content), msg(RoleAssistant, "r"+strconv.Itoa(i)))
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%d %d %d\n", i, seqs[0], seqs[1])
			out.Flush()
		}
	case "turn":
		// turn DIR NAME AT START TAG: wait until START (unix ms), then append
		// a user message dated AT through the lifecycle policy of a config
		// with idle_minutes 10.
		cfg, _, err := ParseConfig("config.json", []byte(`{"reset": {"idle_minutes": 10}}`))
		if err != nil {
			return err
		}
		w2, err := Open(args[1], &Options{Durability: DurabilityNever, LockTimeout: time.Minute, Config: cfg})
		if err != nil {
			return err
		}
		s2, err := w2.Session(ctx, Target{Name: args[2]})
		if err != nil {
			return err
		}
		at, err := time.Parse(time.RFC3339, args[3])
		if err != nil {
			return err
		}
		start, _ := strconv.ParseInt(args[4], 10, 64)
		time.Sleep(time.Until(time.UnixMilli(start)))
		m := msg(RoleUser, "from "+args[5])
		m.At = at
		_, err = s2.AppendTurn(ctx, m)
		return err
	case "hold":
		lk, err := w.lock(ctx, s.st)
		if err != nil {
			return err
		}
		defer lk.unlock()
		lk.writeHolderIfHeld() // what the holder timer does after 20 ms, now
		fmt.Println("locked")
		time.Sleep(time.Minute)
		return nil
	}
	return fmt.Errorf("bad helper mode %q", mode)
}

func helperCmd(t testing.TB, mode string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Stderr = os.Stderr
	return cmd
}

// cmdPipe is a helper process started with pipes to its stdin and
// stdout.
type cmdPipe struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startPiped(t testing.TB, mode string) *cmdPipe {
	t.Helper()
	cmd := helperCmd(t, mode)
	in, err := cmd.StdinPipe()
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
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return &cmdPipe{cmd: cmd, in: in, out: bufio.NewReader(out)}
}

// Eight processes append 500 messages each to one session at the same
// time: every message is there once, seqs are 1..4001 in file order, and
// every line is a whole record.
func TestEightProcessesAppendToOneSession(t *testing.T) {
	const procs, each = 8, 500
	root := t.TempDir()
	w, err := Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := namedSession(t, w, "shared")
	var cmds []*exec.Cmd
	for p := 0; p < procs; p++ {
		cmd := helperCmd(t, fmt.Sprintf("append %s shared %d %d", root, each, p))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper: %v", err)
		}
	}
	rep, err := s.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 0 {
		t.Fatalf("check found problems: %v", rep.Problems)
	}
	recs, err := s.ReadAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	requireEachOnce(t, recs, procs*each)
	next := make([]int, procs) // each writer's messages arrive in its own order
	for i, r := range recs[1:] {
		var p, k int
		if _, err := fmt.Sscanf(r.Content, "w%d-%d", &p, &k); err != nil {
			t.Fatalf("line %d: unexpected content %q", i+2, r.Content)
		}
		if k != next[p] {
			t.Fatalf("writer %d: message %d arrived before %d", p, k, next[p])
		}
		next[p]++
	}
}

// requireEachOnce checks that recs are a header and n messages, seqs
// 1..n+1 in file order, no content twice.
func requireEachOnce(t *testing.T, recs []Record, n int) {
	t.Helper()
	if len(recs) != n+1 {
		t.Fatalf("got %d records, want %d", len(recs), n+1)
	}
	seen := map[string]bool{}
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d", i+1, r.Seq)
		}
		if i > 0 && seen[r.Content] {
			t.Fatalf("message %q twice", r.Content)
		}
		seen[r.Content] = true
	}
}

// A writer in a tight append loop is killed with SIGKILL. Check must say
// exactly what the file holds, Repair must leave a clean file, and every
// append the writer saw succeed must still be there.
func TestKilledWriterLosesNoAcknowledgedAppend(t *testing.T) {
	root := t.TempDir()
	cmd := helperCmd(t, "loop "+root+" victim")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[int][2]int64{}
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(acked) < 300 {
		var i int
		var a, b int64
		if _, err := fmt.Sscanf(sc.Text(), "%d %d %d", &i, &a, &b); err != nil {
			t.Fatalf("helper said %q", sc.Text())
		}
		acked[i] = [2]int64{a, b}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() { // acknowledgements written before the kill landed
		var i int
		var a, b int64
		if _, err := fmt.Sscanf(sc.Text(), "%d %d %d", &i, &a, &b); err == nil {
			acked[i] = [2]int64{a, b}
		}
	}
	_ = cmd.Wait()

	w, err := Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := namedSession(t, w, "victim")
	raw, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rep, err := s.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	torn := len(raw) > 0 && raw[len(raw)-1] != '\n'
	gotTorn := false
	for _, p := range rep.Problems {
		switch p.Kind {
		case ProblemTornTail:
			gotTorn = true
			if want := int64(len(raw)) - int64(strings.LastIndexByte(string(raw), '\n')+1); p.Length != want {
				t.Errorf("torn tail of %d bytes reported, file has %d", p.Length, want)
			}
		default:
			t.Errorf("unexpected problem after kill: %v", p)
		}
	}
	if gotTorn != torn {
		t.Fatalf("check says torn=%v, file ends torn=%v", gotTorn, torn)
	}
	t.Logf("%d appends acknowledged; file %d bytes, torn tail: %v", len(acked), len(raw), torn)

	rr, err := w.Repair(ctx, RepairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if torn != (len(rr.SetAside) == 1) {
		t.Fatalf("repair set aside %v for torn=%v", rr.SetAside, torn)
	}
	if after, _ := w.Check(ctx); !after.Clean() {
		t.Fatalf("problems after repair: %+v", after)
	}
	recs, err := s.ReadAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bySeq := map[int64]Record{}
	for _, r := range recs {
		bySeq[r.Seq] = r
	}
	for i, seqs := range acked {
		u, a := bySeq[seqs[0]], bySeq[seqs[1]]
		if !strings.HasPrefix(u.Content, "m"+strconv.Itoa(i)) || a.Content != "r"+strconv.Itoa(i) {
			t.Fatalf("acknowledged append %d (seqs %v) is missing or wrong: %q / %q", i, seqs, u.Content, a.Content)
		}
	}
	// The session takes appends again, after the last surviving seq.
	last := recs[len(recs)-1].Seq
	if got := mustAppend(t, s, msg(RoleUser, "after")); got[0] != last+1 {
		t.Fatalf("append after repair got seq %d, want %d", got[0], last+1)
	}
}

// Another process holds the session lock: an append gives up after the
// lock timeout with a LockedError that names that process. With durability
// batch the wait is a blocking flock(2) that goes on after the append gave
// up: once the holder dies it takes the lock, lets it go and frees the
// session for the next append of this process; a wait cut short by its
// context does the same.
func TestLockTimeoutNamesTheHolder(t *testing.T) {
	for _, d := range []Durability{DurabilityAlways, DurabilityBatch} {
		t.Run(string(d), func(t *testing.T) { lockTimeoutNamesTheHolder(t, d) })
	}
}

func lockTimeoutNamesTheHolder(t *testing.T, d Durability) {
	root := t.TempDir()
	w, err := Open(root, &Options{LockTimeout: 300 * time.Millisecond, Durability: d})
	if err != nil {
		t.Fatal(err)
	}
	s := namedSession(t, w, "busy")
	cmd := helperCmd(t, "hold "+root+" busy")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "locked" {
		t.Fatalf("helper did not take the lock: %q", sc.Text())
	}
	_, err = s.Append(context.Background(), msg(RoleUser, "blocked"))
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("got %v, want a LockedError", err)
	}
	if le.PID != cmd.Process.Pid {
		t.Fatalf("LockedError names pid %d, holder is %d (%v)", le.PID, cmd.Process.Pid, err)
	}
	host, _ := os.Hostname()
	if le.Host != host || le.Since.IsZero() || !strings.Contains(err.Error(), strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("LockedError incomplete: %+v", le)
	}
	// A wait cut short by its context.
	cctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if _, err := s.Append(cctx, msg(RoleUser, "cancelled")); !errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &le) {
		t.Fatalf("append with a context that ends: %v", err)
	}
	cancel()
	// Nothing was written.
	if h, _ := s.History(context.Background(), 0); len(h.Messages) != 0 {
		t.Fatalf("blocked append wrote %v", h.Messages)
	}
	// Once the holder dies, the lock is free (flock dies with its process).
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	mustAppend(t, s, msg(RoleUser, "free"))
	mustAppend(t, s, msg(RoleUser, "and again"))
	if h, _ := s.History(context.Background(), 0); len(h.Messages) != 2 {
		t.Fatalf("after the holder died: %v", h.Messages)
	}
}

// Four processes, each with four goroutines, append 3-record turns with
// durability batch: group commit inside each process, the file lock
// between them. Every turn is whole and in order, seqs are contiguous.
func TestBatchTurnsFromSeveralProcesses(t *testing.T) {
	const procs, each = 4, 40
	root := t.TempDir()
	w, err := Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := namedSession(t, w, "batched")
	var cmds []*exec.Cmd
	for p := 0; p < procs; p++ {
		cmd := helperCmd(t, fmt.Sprintf("turns %s batched %d %d", root, each, p))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper: %v", err)
		}
	}
	recs, err := s.ReadAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + procs*4*each*3; len(recs) != want {
		t.Fatalf("%d records, want %d", len(recs), want)
	}
	seen := map[string]bool{}
	for i := 1; i < len(recs); i += 3 {
		tag := recs[i].Content
		if recs[i+1].Content != tag || recs[i+2].Content != tag || recs[i].Role != RoleUser || recs[i+2].Role != RoleAssistant {
			t.Fatalf("turn %q split at seq %d", tag, recs[i].Seq)
		}
		if seen[tag] {
			t.Fatalf("turn %q twice", tag)
		}
		seen[tag] = true
	}
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d", i+1, r.Seq)
		}
	}
}
