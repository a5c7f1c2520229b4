package redisstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/redisstore"
	"github.com/picosess/picosess/workspace/redisstore/redistest"
)

// failoverHelperEnv makes the test binary a process that appends to one
// session through Sentinel until a stop file appears (TestSentinelFailover).
const failoverHelperEnv = "PICOSESS_REDISSTORE_FAILOVER_HELPER"

// helperFailover appends "m<i>" to session $NAME of the store at $URL
// (prefix $PREFIX), from a workspace directory of its own, one call after
// another, each with the token "ftok-m<i>" kept across its retries. It
// prints "OK m<i> <seq>" for an acknowledged append and "ERR m<i> <error>"
// for a failed attempt (then retries the same call), and stops after the
// first acknowledged append once the file $STOP exists.
func helperFailover() error {
	ctx := context.Background()
	st, err := redisstore.Open(ctx, os.Getenv("URL"), &redisstore.Options{Prefix: os.Getenv("PREFIX"),
		DialTimeout: 200 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: time.Second})
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
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for i := 0; ; i++ {
		text := fmt.Sprintf("m%d", i)
		for attempt := 0; ; attempt++ {
			// Shorter than a failover: calls during it fail (and are
			// retried here, with their token) rather than wait it out.
			actx, cancel := context.WithTimeout(workspace.WithAppendToken(ctx, "ftok-"+text), 400*time.Millisecond)
			seqs, err := s.Append(actx, workspace.UserMessage("u", text))
			cancel()
			if err == nil {
				fmt.Fprintf(out, "OK %s %d\n", text, seqs[0])
				break
			}
			if !errors.Is(err, workspace.ErrStoreUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("%s: %w", text, err)
			}
			fmt.Fprintf(out, "ERR %s %s\n", text, strings.ReplaceAll(err.Error(), "\n", " "))
			out.Flush()
			if attempt == 400 {
				return fmt.Errorf("%s never acknowledged: %w", text, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		out.Flush()
		if _, err := os.Stat(os.Getenv("STOP")); err == nil {
			return nil
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestSentinelFailover: a primary, two replicas and one Sentinel, started
// here on free ports in temporary directories. Another OS process appends
// in a loop through a redis+sentinel:// URL with min_replicas=1. The
// primary is killed (-9); Sentinel promotes the replica with the most
// data and points the other at it; appends fail meanwhile, then go on.
// Afterwards every acknowledged append is in the session with the seq it
// was acknowledged with, none twice, the seqs contiguous.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts three servers and fails one over")
	}
	master := redistest.StartServer(t)
	replicas := []*redistest.Server{
		redistest.StartServer(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port())),
		redistest.StartServer(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port())),
	}
	sentinel := redistest.StartSentinel(t, "pm", master.Addr(), 500*time.Millisecond, 2*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sc := redisSentinelClient(t, sentinel.Addr())
	// Sentinel has found the replica, and the replica is in sync.
	waitFor(t, ctx, "the sentinel to see the replicas", func() bool {
		r, err := sc.Do(ctx, "SENTINEL", "REPLICAS", "pm").Slice()
		return err == nil && len(r) == 2 && !strings.Contains(fmt.Sprint(r), "s_down")
	})
	mc := redisSentinelClient(t, master.Addr()) // a plain connection to the primary
	waitFor(t, ctx, "both replicas online", func() bool {
		info, err := mc.Info(ctx, "replication").Result()
		return err == nil && strings.Count(info, "state=online") == 2
	})
	t.Logf("sentinel and replicas ready")
	prefix := redistest.Prefix()
	url := fmt.Sprintf("redis+sentinel://%s/pm?min_replicas=1&wait_timeout=200ms", sentinel.Addr())
	stop := filepath.Join(t.TempDir(), "stop")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), failoverHelperEnv+"=1", "URL="+url, "PREFIX="+prefix, "NAME=failover", "STOP="+stop)
	cmd.Stderr = os.Stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var mu sync.Mutex
	acked := map[string]int64{}
	okCount, errCount := 0, 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			f := strings.SplitN(sc.Text(), " ", 3)
			mu.Lock()
			switch f[0] {
			case "OK":
				seq, _ := strconv.ParseInt(f[2], 10, 64)
				if _, dup := acked[f[1]]; dup {
					t.Errorf("%s acknowledged twice", f[1])
				}
				acked[f[1]] = seq
				okCount++
			case "ERR":
				errCount++
			}
			mu.Unlock()
		}
	}()
	count := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return okCount, errCount
	}
	waitFor(t, ctx, "30 acknowledged appends", func() bool { n, _ := count(); return n >= 30 })
	okBefore, errBefore := count()
	t.Logf("%d acknowledged: kill -9 of the primary", okBefore)
	killed := time.Now()
	master.Kill()
	var promoted time.Time
	waitFor(t, ctx, "the sentinel to promote a replica", func() bool {
		a, err := sc.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "pm").StringSlice()
		if err != nil || len(a) != 2 {
			return false
		}
		for _, r := range replicas {
			if a[1] == strconv.Itoa(r.Port()) {
				promoted = time.Now()
				return true
			}
		}
		return false
	})
	waitFor(t, ctx, "30 more acknowledged appends", func() bool { n, _ := count(); return n >= okBefore+30 })
	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	<-done
	okN, errN := count()
	if errN == errBefore {
		t.Fatal("no append failed across the failover: the test did not cross it")
	}
	// Read back through Sentinel: the new primary.
	st, err := redisstore.Open(ctx, fmt.Sprintf("redis+sentinel://%s/pm", sentinel.Addr()), &redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w := openWS(t, st, nil)
	s, err := w.Lookup(ctx, "failover")
	if err != nil {
		t.Fatal(err)
	}
	n := checkAcknowledged(t, s, acked, "after the failover")
	t.Logf("%d appends acknowledged, all present (%d records); %d attempts failed across the failover (%d before it); promotion seen %s after the kill",
		okN, n-1, errN-errBefore, errBefore, promoted.Sub(killed).Round(time.Millisecond))
}

// redisSentinelClient is a plain connection to a Sentinel (its commands)
// or a server.
func redisSentinelClient(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// waitFor polls cond until it holds, or fails the test when ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// min_replicas on a primary without a replica: the append is refused
// (ErrNotReplicated, which is ErrStoreUnavailable: not acknowledged);
// once a replica follows it, the same call with its token succeeds with
// the first attempt's seq, stored once.
func TestMinReplicasRefusesUnreplicated(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts two servers")
	}
	master := redistest.StartServer(t)
	ctx := context.Background()
	st, err := redisstore.Open(ctx, master.URL()+"?min_replicas=1&wait_timeout=100ms", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w := openWS(t, st, nil)
	s, err := w.Session(ctx, workspace.Target{Name: "wait"})
	if err != nil {
		t.Fatal(err)
	}
	tctx := workspace.WithAppendToken(ctx, "the-call")
	actx, cancel := context.WithTimeout(tctx, 400*time.Millisecond)
	_, err = s.Append(actx, workspace.UserMessage("u", "replicate me"))
	cancel()
	if !errors.Is(err, redisstore.ErrNotReplicated) || !errors.Is(err, workspace.ErrStoreUnavailable) {
		t.Fatalf("append without a replica: %v", err)
	}
	replica := redistest.StartServer(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port()))
	_ = replica
	var seqs []int64
	waitFor(t, ctx, "the append to be acknowledged", func() bool {
		actx, cancel := context.WithTimeout(tctx, 500*time.Millisecond)
		defer cancel()
		seqs, err = s.Append(actx, workspace.UserMessage("u", "replicate me"))
		return err == nil
	})
	recs, err := s.ReadAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[1].Content != "replicate me" || seqs[0] != 2 {
		t.Fatalf("after the retry: %d records, seqs %v", len(recs), seqs)
	}
	// And a new append is acknowledged at once now.
	if _, err := s.Append(ctx, workspace.UserMessage("u", "next")); err != nil {
		t.Fatal(err)
	}
}
