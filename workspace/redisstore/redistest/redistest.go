// Package redistest gives tests a real Redis: the server .ci/run starts
// (its address in $PICOSESS_TEST_REDIS), never a mock. Without the
// variable a test is skipped with a message, except under CI ($CI set),
// where it fails: a CI run must not pass by skipping the Redis tests.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace/redisstore"
)

// Env names the variable that holds the test server's URL.
const Env = "PICOSESS_TEST_REDIS"

// URL returns the test server's URL, or skips (fails under CI).
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(Env)
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("$%s is not set under CI: .ci/run starts a redis-server and sets it", Env)
		}
		t.Skipf("no Redis for this test: set $%s=redis://127.0.0.1:PORT (a redis-server of your own; .ci/run starts one)", Env)
	}
	return u
}

// Prefix returns a key prefix no other test uses.
func Prefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "picosess-test:" + hex.EncodeToString(b[:]) + ":"
}

// Open opens a Store on the test server under a prefix of its own, and
// removes the prefix's keys when the test ends.
func Open(t testing.TB) *redisstore.Store {
	t.Helper()
	return OpenURL(t, URL(t), Prefix())
}

// OpenURL opens a Store on the server at url under prefix, closed and
// cleaned when the test ends.
func OpenURL(t testing.TB, url, prefix string) *redisstore.Store {
	t.Helper()
	ctx := context.Background()
	st, err := redisstore.Open(ctx, url, &redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = Clean(ctx, st)
		st.Close()
	})
	return st
}

// Clean deletes every key under the store's prefix.
func Clean(ctx context.Context, st *redisstore.Store) error {
	c := st.Client()
	iter := c.Scan(ctx, 0, st.Prefix()+"*", 1000).Iterator()
	// One key per DEL: the keys of a prefix span the slots of a Cluster.
	pipe := c.Pipeline()
	for iter.Next(ctx) {
		pipe.Del(ctx, iter.Val())
		if pipe.Len() == 500 {
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	_, err := pipe.Exec(ctx)
	return err
}

// Server is a redis-server process of a test's own (kill -9, restarts,
// durability settings), in a temporary directory, on a free loopback port.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	args []string
	conf string // a Sentinel's config file
	cmd  *exec.Cmd
}

// StartServer starts redis-server (from $PATH) with extra arguments
// (like "--appendfsync", "always"). Without the binary the test is skipped,
// or fails under CI. The server is killed when the test ends.
func StartServer(t testing.TB, args ...string) *Server {
	t.Helper()
	bin, port := serverBinAndPort(t)
	s := &Server{t: t, bin: bin, dir: t.TempDir(), port: port, args: args}
	s.Start()
	t.Cleanup(func() { s.Kill() })
	return s
}

// URL is the server's URL (database 0).
func (s *Server) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }

// Dir is the server's directory (its AOF).
func (s *Server) Dir() string { return s.dir }

// Start starts the server (again, on the same port and directory) and
// waits until it answers.
func (s *Server) Start() {
	s.t.Helper()
	args := append([]string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--dir", s.dir, "--save", ""}, s.args...)
	if s.conf != "" {
		args = []string{s.conf, "--sentinel"}
	}
	s.cmd = exec.Command(s.bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = io.Discard, io.Discard
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 100*time.Millisecond)
		if err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 64)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := c.Read(buf)
			c.Close()
			if strings.HasPrefix(string(buf[:n]), "+PONG") {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("redis-server on port %d did not answer", s.port)
}

// Kill kills the server with SIGKILL (no chance to flush anything) and
// waits for it.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Port is the server's port.
func (s *Server) Port() int { return s.port }

// Addr is the server's host:port.
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// StartSentinel starts a Redis Sentinel (redis-server --sentinel, the same
// binary) on a free loopback port, in a temporary directory of its own
// (Sentinel rewrites its config file), watching the primary at
// masterAddr as masterName with a quorum of one, down after downAfter and
// a failover timeout of failoverTimeout. Killed when the test ends.
func StartSentinel(t testing.TB, masterName, masterAddr string, downAfter, failoverTimeout time.Duration) *Server {
	t.Helper()
	bin, port := serverBinAndPort(t)
	dir := t.TempDir()
	host, mport, err := net.SplitHostPort(masterAddr)
	if err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n"+
		"sentinel monitor %s %s %s 1\n"+
		"sentinel down-after-milliseconds %s %d\n"+
		"sentinel failover-timeout %s %d\n"+
		"sentinel parallel-syncs %s 1\n",
		port, dir, dir+"/sentinel.log", masterName, host, mport, masterName, downAfter.Milliseconds(), masterName, failoverTimeout.Milliseconds(), masterName)
	path := dir + "/sentinel.conf"
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, bin: bin, dir: dir, port: port, conf: path}
	s.Start()
	t.Cleanup(func() { s.Kill() })
	return s
}

// serverBinAndPort finds redis-server (skipping the test without it, or
// failing under CI) and a free loopback port for it.
func serverBinAndPort(t testing.TB) (string, int) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server is not installed under CI (.ci/run installs it)")
		}
		t.Skip("redis-server is not installed (apt-get install redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return bin, port
}
