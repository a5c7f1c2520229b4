package serve

import (
	"context"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/config"
	"github.com/picosess/picosess/workspace/seal"
)

// A server of an encrypted workspace starts with search off, reads and
// writes sessions with its key, and says key_required without one.
func TestServeEncryptedWorkspace(t *testing.T) {
	k, _ := seal.NewKey()
	cfg := &config.File{Encryption: config.Encryption{Enabled: true}}
	ts := newTestServer(t, nil, &workspace.Options{Config: cfg, Key: &k})
	s, err := ts.w.Session(context.Background(), workspace.Target{Name: "enc"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(context.Background(), workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleUser, Content: "sealed hello"}); err != nil {
		t.Fatal(err)
	}
	if _, b := ts.do("GET", "/api/sessions/enc/history", ""); !strings.Contains(string(b), "sealed hello") {
		t.Fatalf("history: %s", b)
	}
	ts.want(501, nil, "GET", "/api/search?q=hello", "")

	// The same workspace served without the key.
	w2, err := workspace.Open(ts.w.Root(), &workspace.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	ts2 := serveWorkspace(t, w2, nil)
	ts2.want(503, nil, "GET", "/api/sessions/enc/history", "")
	ts2.want(200, nil, "GET", "/api/sessions", "")
}
