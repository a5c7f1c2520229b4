package index

import (
	"context"
	"testing"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// openWS opens a workspace in a temporary directory; appends are not
// fsynced (the tests are about the index, not durability).
func openWS(t testing.TB, dir string) *workspace.Workspace {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	ws, err := workspace.Open(dir, &workspace.Options{Durability: workspace.DurabilityNever, LockTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// chatSession creates the telegram direct-chat session of chat under agent.
func chatSession(t testing.TB, ws *workspace.Workspace, agent, chat string) *workspace.Session {
	t.Helper()
	sc := keying.Scope{Version: 1, AgentID: agent, Channel: "telegram", Account: "default",
		Dimensions: []string{"chat"}, Values: map[string]string{"chat": "direct:" + chat}}
	s, err := ws.Session(context.Background(), workspace.Target{Scope: &sc})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func say(t testing.TB, s *workspace.Session, role, sender, content string) int64 {
	t.Helper()
	seqs, err := s.Append(context.Background(), workspace.Record{Type: workspace.TypeMessage, Role: role, Sender: sender, Content: content})
	if err != nil {
		t.Fatal(err)
	}
	return seqs[0]
}

func openIndex(t testing.TB, ws *workspace.Workspace, o *Options) *Index {
	t.Helper()
	x, err := Open(ws, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

func mustSearch(t testing.TB, x *Index, q Query) *Result {
	t.Helper()
	res, err := x.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("search %q: %v", q.Text, err)
	}
	return res
}

// ids returns the hit ids.
func ids(res *Result) []string {
	var out []string
	for _, h := range res.Hits {
		out = append(out, h.ID)
	}
	return out
}
