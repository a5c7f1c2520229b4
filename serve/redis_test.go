package serve

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/redisstore/redistest"
)

// serve on a Redis store: the API reads the sessions there, and the live
// feed delivers what another machine (another workspace directory on the
// same store) appends.
func TestServeOnRedis(t *testing.T) {
	st := redistest.Open(t)
	ts := newTestServer(t, nil, &workspace.Options{Store: st, NoConfig: true, CountTokens: workspace.EstimateTokens})
	other, err := workspace.Open(t.TempDir(), &workspace.Options{Store: st, NoConfig: true, CountTokens: workspace.EstimateTokens})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	ev := ts.stream(t, "", "")
	// Give the feed its first scan (ready), then make the session and
	// append elsewhere: a session that existed at the first scan would be
	// followed from its end instead (and whether one made just before the
	// scan existed then is a race).
	deadline := time.Now().Add(5 * time.Second)
	for ready := false; !ready && time.Now().Before(deadline); {
		select {
		case e := <-ev.events:
			ready = e.Name == eventReady
		case <-time.After(100 * time.Millisecond):
		}
	}
	s, err := other.Session(ctx, workspace.Target{Name: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, workspace.UserMessage("u", "before")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, workspace.AssistantMessage("m", "live from elsewhere")); err != nil {
		t.Fatal(err)
	}
	// The session was made after the feed began: it is followed from its
	// first record, in order, each once.
	for i, want := range []string{`"seq":1,"type":"session"`, `"content":"before"`, `"content":"live from elsewhere"`} {
		got := ev.next(t, 10*time.Second)
		if got.Name != "record" || !strings.Contains(got.Data, want) {
			t.Fatalf("event %d: %+v, want %s", i, got, want)
		}
	}
	var list struct {
		Sessions []workspace.Meta `json:"sessions"`
	}
	ts.want(http.StatusOK, &list, "GET", "/api/sessions", "")
	if len(list.Sessions) != 1 || list.Sessions[0].Messages != 2 || list.Sessions[0].Name != "shared" {
		t.Fatalf("sessions: %+v", list.Sessions)
	}
}
