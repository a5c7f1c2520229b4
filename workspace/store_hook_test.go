package workspace

import (
	"io"
	"os"
	"testing"
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
