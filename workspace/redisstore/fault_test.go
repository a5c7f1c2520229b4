package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/redisstore"
	"github.com/picosess/picosess/workspace/redisstore/redistest"
)

// helperEnv makes the test binary a helper process ("machine") that
// appends to one session of a store.
const helperEnv = "PICOSESS_REDISSTORE_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(failoverHelperEnv) != "" {
		if err := helperFailover(); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	if os.Getenv(helperEnv) != "" {
		if err := helperAppend(); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helperAppend appends $N turns (user + assistant, "<who> <i>") to the
// named session $NAME of the store at $URL with prefix $PREFIX, from a
// workspace directory of its own.
func helperAppend() error {
	ctx := context.Background()
	n, _ := strconv.Atoi(os.Getenv("N"))
	who := os.Getenv("WHO")
	st, err := redisstore.Open(ctx, os.Getenv("URL"), &redisstore.Options{Prefix: os.Getenv("PREFIX")})
	if err != nil {
		return err
	}
	defer st.Close()
	dir, err := os.MkdirTemp("", "picosess-machine-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	w, err := workspace.Open(dir, &workspace.Options{Store: st, NoConfig: true, CountTokens: workspace.EstimateTokens})
	if err != nil {
		return err
	}
	defer w.Close()
	s, err := w.Session(ctx, workspace.Target{Name: os.Getenv("NAME")})
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if _, err := s.Append(ctx, workspace.UserMessage(who, fmt.Sprintf("%s %d", who, i)), workspace.AssistantMessage("m", fmt.Sprintf("%s %d", who, i))); err != nil {
			return err
		}
	}
	return nil
}

// Several OS processes, each with its own workspace directory (as on
// several machines), append to one session at once: every record is
// there once, seqs are contiguous, each call's two records are adjacent,
// and each process's records are in its order.
func TestProcessesAppendToOneSession(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix()
	st := redistest.OpenURL(t, url, prefix)
	const procs, n = 4, 60
	var cmds []*exec.Cmd
	for p := 0; p < procs; p++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"=1", "URL="+url, "PREFIX="+prefix, "NAME=shared", "N="+strconv.Itoa(n), "WHO=p"+strconv.Itoa(p))
		cmd.Stderr = os.Stderr
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
	w := openWS(t, st, nil)
	s, err := w.Lookup(context.Background(), "shared")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := s.ReadAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+2*procs*n {
		t.Fatalf("%d records, want %d", len(recs), 1+2*procs*n)
	}
	next := map[string]int{}
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d", i+1, r.Seq)
		}
		if i == 0 {
			continue
		}
		who, num, _ := strings.Cut(r.Content, " ")
		k, _ := strconv.Atoi(num)
		if r.Role == workspace.RoleUser {
			if k != next[who] {
				t.Fatalf("seq %d: %s, want %s %d", r.Seq, r.Content, who, next[who])
			}
		} else {
			if prev := recs[i-1]; prev.Content != r.Content || prev.Role != workspace.RoleUser {
				t.Fatalf("seq %d: %q not right after its user message (%q)", r.Seq, r.Content, prev.Content)
			}
			next[who]++
		}
	}
	for p := 0; p < procs; p++ {
		if next["p"+strconv.Itoa(p)] != n {
			t.Fatalf("p%d: %d turns", p, next["p"+strconv.Itoa(p)])
		}
	}
}

// kill -9 of a server running with appendfsync always, during a load:
// after a restart from its AOF, every append that was acknowledged is
// there, none twice, seqs contiguous; appends while it is down fail with
// ErrStoreUnavailable (never a false success), and a retry of the same
// call with its token does not store it twice.
func TestKillNineAppendfsyncAlways(t *testing.T) {
	srv := redistest.StartServer(t, "--appendonly", "yes", "--appendfsync", "always")
	ctx := context.Background()
	st, err := redisstore.Open(ctx, srv.URL(), &redisstore.Options{DialTimeout: 200 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w := openWS(t, st, nil)
	s, err := w.Session(ctx, workspace.Target{Name: "load"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	acked := map[string]int64{}
	var failed, retriedOK int
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				text := fmt.Sprintf("g%d-%d", g, i)
				token := "tok-" + text
				// A short deadline: an append that cannot finish fails
				// instead of waiting the whole outage out.
				actx, cancel := context.WithTimeout(workspace.WithAppendToken(ctx, token), 300*time.Millisecond)
				seqs, err := s.Append(actx, workspace.UserMessage("u", text))
				cancel()
				for attempt := 0; err != nil && attempt < 100; attempt++ {
					if !errors.Is(err, workspace.ErrStoreUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("append %s: %v", text, err)
						return
					}
					mu.Lock()
					failed++
					mu.Unlock()
					time.Sleep(50 * time.Millisecond)
					// The same call again, with its token.
					actx, cancel := context.WithTimeout(workspace.WithAppendToken(ctx, token), 2*time.Second)
					seqs, err = s.Append(actx, workspace.UserMessage("u", text))
					cancel()
					if err == nil {
						mu.Lock()
						retriedOK++
						mu.Unlock()
					}
				}
				if err != nil {
					t.Errorf("append %s never succeeded: %v", text, err)
					return
				}
				mu.Lock()
				acked[text] = seqs[0]
				mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	srv.Kill()
	time.Sleep(700 * time.Millisecond) // appends meanwhile fail
	srv.Start()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if t.Failed() {
		return
	}
	// A new connection after the restart reads what the AOF kept.
	st2, err := redisstore.Open(ctx, srv.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	w2 := openWS(t, st2, nil)
	s2, err := w2.Lookup(ctx, "load")
	if err != nil {
		t.Fatal(err)
	}
	checkAcknowledged(t, s2, acked, "after kill -9 and restart")
	if len(acked) < 20 || failed == 0 {
		t.Fatalf("the load did not cross the outage: %d acknowledged, %d failed attempts", len(acked), failed)
	}
	t.Logf("%d appends acknowledged, all present; %d attempts failed while the server was down, %d retried with their token", len(acked), failed, retriedOK)
}

// Redis down at start: Open fails with ErrStoreUnavailable; an append on a
// store whose server went away fails so too, and works again when it is
// back.
func TestDownAndBack(t *testing.T) {
	srv := redistest.StartServer(t, "--appendonly", "yes")
	ctx := context.Background()
	st, err := redisstore.Open(ctx, srv.URL(), &redisstore.Options{DialTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w := openWS(t, st, nil)
	s, err := w.Session(ctx, workspace.Target{Name: "db"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	if _, err := redisstore.Open(ctx, srv.URL(), &redisstore.Options{DialTimeout: 200 * time.Millisecond}); !errors.Is(err, workspace.ErrStoreUnavailable) {
		t.Fatalf("open while down: %v", err)
	}
	actx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = s.Append(actx, workspace.UserMessage("u", "while down"))
	cancel()
	if err == nil {
		t.Fatal("an append succeeded with the server down")
	}
	if !errors.Is(err, workspace.ErrStoreUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("append while down: %v", err)
	}
	if _, err := s.History(ctx, 10); err == nil {
		t.Fatal("a read succeeded with the server down")
	}
	srv.Start()
	if _, err := s.Append(ctx, workspace.UserMessage("u", "back")); err != nil {
		t.Fatal(err)
	}
	h, err := s.History(ctx, 10)
	if err != nil || len(h.Messages) != 1 || h.Messages[0].Content != "back" {
		t.Fatalf("after restart: %+v %v", h.Messages, err)
	}
}

// A Redis Cluster of three local nodes: one session's keys share a slot,
// so appends (from two "machines"), listing, trash and restore work; the
// sessions land on different nodes.
func TestCluster(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-cli is not installed under CI")
		}
		t.Skip("redis-cli is not installed")
	}
	var nodes []*redistest.Server
	var addrs []string
	for i := 0; i < 3; i++ {
		n := redistest.StartServer(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--appendonly", "yes")
		nodes = append(nodes, n)
		addrs = append(addrs, strings.TrimSuffix(strings.TrimPrefix(n.URL(), "redis://"), "/0"))
	}
	out, err := exec.Command(cli, append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("cluster create: %v\n%s", err, out)
	}
	url := "redis://" + addrs[0] + "?cluster=true&addr=" + addrs[1] + "&addr=" + addrs[2]
	ctx := context.Background()
	var st *redisstore.Store
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err = redisstore.Open(ctx, url, nil)
		if err == nil {
			var state string
			state, err = st.Client().ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(state, "cluster_state:ok") {
				break
			}
			st.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster did not come up: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	defer st.Close()
	a := openWS(t, st, nil)
	b := openWS(t, st, nil)
	for i := 0; i < 6; i++ {
		s, err := a.Session(ctx, workspace.Target{Name: fmt.Sprintf("c%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, workspace.UserMessage("u", "q")); err != nil {
			t.Fatal(err)
		}
		s2, err := b.Lookup(ctx, fmt.Sprintf("c%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s2.Append(ctx, workspace.AssistantMessage("m", "a")); err != nil {
			t.Fatal(err)
		}
		h, err := s.History(ctx, 0)
		if err != nil || len(h.Messages) != 2 || h.Messages[1].Seq != 3 {
			t.Fatalf("c%d: %+v %v", i, h.Messages, err)
		}
	}
	l, err := b.List(ctx, workspace.ListOptions{})
	if err != nil || len(l) != 6 {
		t.Fatalf("list: %d %v", len(l), err)
	}
	s, _ := a.Lookup(ctx, "c0")
	name, err := s.Delete(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.RestoreFromTrash(ctx, name); err != nil {
		t.Fatal(err)
	}
	// The summarize lease, across the two workspaces.
	la, err := s.TryLock(ctx, "summarize")
	if err != nil || la == nil {
		t.Fatalf("lease on the cluster: %v %v", la, err)
	}
	s2, _ := b.Lookup(ctx, "c0")
	if lb, err := s2.TryLock(ctx, "summarize"); err != nil || lb != nil {
		t.Fatalf("second lease on the cluster: %v %v", lb, err)
	}
	la.Release()
	// The trash copied into the cluster (another prefix) and restored.
	if name, err = s.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	st2, err := redisstore.Open(ctx, url, &redisstore.Options{Prefix: "copy:"})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	c := openWS(t, st2, nil)
	tr, err := a.Trash(ctx)
	if err != nil || len(tr) != 1 {
		t.Fatalf("trash: %v %v", tr, err)
	}
	// Header, two messages, and the untrash record of the restore above.
	if rep, err := workspace.CopyTrashed(ctx, a, c, tr[0]); err != nil || !rep.Copied || rep.Records != 4 {
		t.Fatalf("copy of the trash into the cluster: %+v %v", rep, err)
	}
	if r, err := c.RestoreFromTrash(ctx, name); err != nil {
		t.Fatal(err)
	} else if h, err := r.History(ctx, 0); err != nil || len(h.Messages) != 2 {
		t.Fatalf("restored copy: %+v %v", h.Messages, err)
	}
	// The sessions are spread over the nodes.
	used := 0
	for _, n := range nodes {
		c, err := redisstore.Open(ctx, n.URL(), nil)
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := c.Client().Keys(ctx, redisstore.DefaultPrefix+"{*}:log").Result()
		c.Close()
		if len(keys) > 0 {
			used++
		}
	}
	if used < 2 {
		t.Fatalf("the sessions are on %d node(s)", used)
	}
	if p, err := st.Persistence(ctx); err != nil || !p.AOF {
		t.Fatalf("persistence of the cluster: %+v %v", p, err)
	}
}

// A watch outlives a restart of the server: what is appended after it
// comes back is delivered, nothing twice, nothing missed.
func TestWatchResumesAfterRestart(t *testing.T) {
	srv := redistest.StartServer(t, "--appendonly", "yes", "--appendfsync", "always")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// No retries inside go-redis: the scans while the server is down fail
	// at once, and the watch must outlive them.
	st, err := redisstore.Open(ctx, srv.URL()+"?max_retries=-1", &redisstore.Options{DialTimeout: 100 * time.Millisecond, ReadTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w := openWS(t, st, nil)
	s, err := w.Session(ctx, workspace.Target{Name: "followed"})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 100)
	ready := make(chan struct{})
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- w.WatchReady(wctx, workspace.WatchOptions{Poll: 100 * time.Millisecond}, func() { close(ready) }, func(id string, e workspace.Entry) error {
			got <- e.Content
			return nil
		})
	}()
	<-ready
	if _, err := s.Append(ctx, workspace.UserMessage("u", "one")); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	time.Sleep(time.Second) // scans (every 100 ms) fail meanwhile
	srv.Start()
	for {
		if _, err := s.Append(ctx, workspace.UserMessage("u", "two")); err == nil {
			break
		} else if !errors.Is(err, workspace.ErrStoreUnavailable) {
			t.Fatal(err)
		}
	}
	var seen []string
	for len(seen) < 2 {
		select {
		case c := <-got:
			seen = append(seen, c)
		case err := <-done:
			t.Fatalf("the watch ended (%v) after delivering %v", err, seen)
		case <-ctx.Done():
			t.Fatalf("watch delivered %v", seen)
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("watch ended with %v", err)
	}
	close(got)
	for c := range got {
		seen = append(seen, c)
	}
	if strings.Join(seen, ",") != "one,two" {
		t.Fatalf("watch delivered %v", seen)
	}
}

// checkAcknowledged fails unless session s holds contiguous seqs, every
// message once, and each acknowledged message (text → the seq its append
// returned) at its seq. It returns the number of records.
func checkAcknowledged(t *testing.T, s *workspace.Session, acked map[string]int64, after string) int {
	t.Helper()
	recs, err := s.ReadAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int64{}
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d", i+1, r.Seq)
		}
		if i == 0 {
			continue
		}
		if _, dup := seen[r.Content]; dup {
			t.Fatalf("%s stored twice", r.Content)
		}
		seen[r.Content] = r.Seq
	}
	for text, seq := range acked {
		if got, ok := seen[text]; !ok || got != seq {
			t.Fatalf("acknowledged %s (seq %d) is not there %s (found seq %d, %v)", text, seq, after, got, ok)
		}
	}
	return len(recs)
}
