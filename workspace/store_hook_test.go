package workspace

import (
	"context"
	"io"
	"os"
	"testing"
	"time"
)

// testStoreEnv set to "redis" runs the tests that open their workspace
// with openTest on a Redis store (store_suite_test.go re-runs them so).
const testStoreEnv = "PICOSESS_TEST_STORE"

// onStoreMark is logged by each test whose workspace is on the store.
const onStoreMark = "workspace on the test store"

// testStoreFor opens the store of one test; set by store_suite_test.go
// (package workspace_test, which may import redisstore) when the
// workspace tests run on Redis.
var testStoreFor func(testing.TB) Store

// SetTestStore is how store_suite_test.go sets testStoreFor.
func SetTestStore(f func(testing.TB) Store) { testStoreFor = f }

// withTestStore puts the test store into o when the tests run on one.
func withTestStore(t testing.TB, o *Options) *Options {
	if os.Getenv(testStoreEnv) == "" {
		return o
	}
	if testStoreFor == nil {
		t.Fatalf("$%s is set but no store is registered", testStoreEnv)
	}
	var c Options
	if o != nil {
		c = *o
	}
	if c.FS != nil {
		t.Skip("injects faults through an FS: files only")
	}
	c.Store = testStoreFor(t)
	t.Log(onStoreMark)
	return &c
}

// readSessionBytes reads the bytes of a session as its file (or the
// store) holds them.
func readSessionBytes(s *Session) ([]byte, error) {
	f, err := s.w.fs.OpenFile(s.Path(), os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// appendRawLines adds complete lines at the end of a session as they
// are, to its file or its store (test sessions made fast).
func appendRawLines(t testing.TB, s *Session, b []byte) {
	t.Helper()
	if len(b) == 0 {
		return
	}
	if s.w.store == nil {
		f, err := os.OpenFile(s.Path(), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
		return
	}
	ctx := context.Background()
	cur, err := s.w.store.Stat(ctx, s.id)
	if err != nil {
		t.Fatal(err)
	}
	last, n := lastSeqOf(b)
	if _, err := s.w.store.Append(ctx, StoreAppend{ID: s.id, End: cur.Size, Gen: cur.Gen, Data: b, First: cur.LastSeq + 1, LastSeq: last, Records: n, Token: appendToken(), Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	s.st.known = false
}

// sameStore returns o (or empty options) with the store of w: a second
// Workspace on the same sessions, as another process would open them.
func sameStore(w *Workspace, o *Options) *Options {
	var c Options
	if o != nil {
		c = *o
	}
	c.Store = w.store
	return &c
}
