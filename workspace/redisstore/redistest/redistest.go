// Package redistest gives tests a real Redis: the server .ci/run starts
// (its address in $PICOSESS_TEST_REDIS), never a mock. Without the
// variable a test is skipped with a message, except under CI ($CI set),
// where it fails: a CI run must not pass by skipping the Redis tests.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
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
