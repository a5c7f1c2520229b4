package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

type sseEvent struct {
	ID, Name string
	Data     string
}

// sseStream reads events from GET /api/events.
type sseStream struct {
	resp   *http.Response
	events chan sseEvent
}

func (ts *testServer) stream(t testing.TB, query, lastID string) *sseStream {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.base+"/api/events"+query, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("events: %d", resp.StatusCode)
	}
	st := &sseStream{resp: resp, events: make(chan sseEvent, 1000)}
	t.Cleanup(func() { resp.Body.Close() })
	go func() {
		defer close(st.events)
		rd := bufio.NewReader(resp.Body)
		var ev sseEvent
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				if ev.Name != "" {
					st.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.Name = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.Data = line[6:]
			}
		}
	}()
	return st
}

// next returns the next event that is not "ready".
func (st *sseStream) next(t testing.TB, timeout time.Duration) sseEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-st.events:
			if !ok {
				t.Fatal("stream ended")
			}
			if ev.Name == eventReady {
				continue
			}
			return ev
		case <-deadline:
			t.Fatal("no event")
		}
	}
}

func (st *sseStream) ready(t testing.TB) sseEvent {
	t.Helper()
	select {
	case ev := <-st.events:
		if ev.Name != eventReady {
			t.Fatalf("first event %+v, want ready", ev)
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no ready event")
	}
	return sseEvent{}
}

func (st *sseStream) none(t testing.TB, wait time.Duration) {
	t.Helper()
	select {
	case ev := <-st.events:
		t.Fatalf("unexpected event %+v", ev)
	case <-time.After(wait):
	}
}

func recordOf(t testing.TB, ev sseEvent) EventRecord {
	t.Helper()
	var r EventRecord
	if ev.Name != eventRecord {
		t.Fatalf("event %+v, want a record", ev)
	}
	if err := json.Unmarshal([]byte(ev.Data), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// Every record appended, by the API or by the library (as another process
// would), arrives on every stream; a session filter keeps the others out.
func TestEventsLive(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	a := ts.session("alpha")
	b := ts.session("beta")
	all := ts.stream(t, "", "")
	onlyA := ts.stream(t, "?session=alpha", "")
	all.ready(t)
	onlyA.ready(t)

	ts.want(http.StatusCreated, nil, "POST", "/api/sessions/alpha/records", `{"role":"user","content":"one"}`)
	if _, err := b.Append(context.Background(), msg("user", "to beta")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Append(context.Background(), msg("assistant", "two")); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for i := 0; i < 3; i++ {
		r := recordOf(t, all.next(t, 10*time.Second))
		got[r.Session] = append(got[r.Session], r.Record.Content)
	}
	if strings.Join(got[a.ID()], ",") != "one,two" || strings.Join(got[b.ID()], ",") != "to beta" {
		t.Fatalf("all: %v", got)
	}
	for _, want := range []string{"one", "two"} {
		if r := recordOf(t, onlyA.next(t, 10*time.Second)); r.Record.Content != want || r.Session != a.ID() {
			t.Fatalf("alpha stream: %+v", r)
		}
	}
	onlyA.none(t, 300*time.Millisecond)

	// Delete is announced.
	ts.want(http.StatusOK, nil, "DELETE", "/api/sessions/beta", "")
	if ev := all.next(t, 10*time.Second); ev.Name != eventDeleted || !strings.Contains(ev.Data, b.ID()) {
		t.Fatalf("delete event %+v", ev)
	}
	ts.want(http.StatusNotFound, nil, "GET", "/api/events?session=nobody", "")
	ts.want(http.StatusBadRequest, nil, "GET", "/api/events", "", "Last-Event-ID", "garbage")
}

// Last-Event-ID resumes exactly after the last event seen: nothing missed,
// nothing twice, from the buffer or (one session, after a restart) from
// the file; an unfiltered stream that cannot resume is told to resync.
func TestEventsResume(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	ctx := context.Background()
	s := ts.session("resume")
	st := ts.stream(t, "", "")
	st.ready(t)
	for _, c := range []string{"m1", "m2"} {
		if _, err := s.Append(ctx, msg("user", c)); err != nil {
			t.Fatal(err)
		}
	}
	recordOf(t, st.next(t, 10*time.Second))
	ev := st.next(t, 10*time.Second)
	last := ev.ID
	st.resp.Body.Close()
	for _, c := range []string{"m3", "m4"} {
		if _, err := s.Append(ctx, msg("user", c)); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the hub has them, then resume.
	deadline := time.Now().Add(10 * time.Second)
	for ts.srv.hub.head() < 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	again := ts.stream(t, "", last)
	var seen []string
	for i := 0; i < 2; i++ {
		seen = append(seen, recordOf(t, again.next(t, 10*time.Second)).Record.Content)
	}
	if strings.Join(seen, ",") != "m3,m4" {
		t.Fatalf("resumed with %v, want m3,m4", seen)
	}
	again.none(t, 300*time.Millisecond)

	// One session's stream, resumed against another server (a restart):
	// the records after the seq in the id are read from the file.
	one := ts.stream(t, "?session=resume", "")
	one.ready(t)
	if _, err := s.Append(ctx, msg("user", "m5")); err != nil {
		t.Fatal(err)
	}
	ev = one.next(t, 10*time.Second)
	if recordOf(t, ev).Record.Content != "m5" {
		t.Fatalf("one: %+v", ev)
	}
	one.resp.Body.Close()
	for _, c := range []string{"m6", "m7"} {
		if _, err := s.Append(ctx, msg("user", c)); err != nil {
			t.Fatal(err)
		}
	}
	other := serveWorkspace(t, ts.w, &Options{Index: ts.srv.x})
	resumed := other.stream(t, "?session=resume", ev.ID)
	seen = nil
	for i := 0; i < 2; i++ {
		seen = append(seen, recordOf(t, resumed.next(t, 10*time.Second)).Record.Content)
	}
	if strings.Join(seen, ",") != "m6,m7" {
		t.Fatalf("resumed after a restart with %v, want m6,m7", seen)
	}
	if _, err := s.Append(ctx, msg("user", "m8")); err != nil {
		t.Fatal(err)
	}
	if r := recordOf(t, resumed.next(t, 10*time.Second)); r.Record.Content != "m8" {
		t.Fatalf("then live: %+v", r)
	}
	resumed.none(t, 300*time.Millisecond)

	// All sessions, an id of another run: resync.
	lost := other.stream(t, "", last)
	if ev := <-lost.events; ev.Name != eventResync {
		t.Fatalf("first event %+v, want resync", ev)
	}
}

// The number of streams is capped; the one over is a 503 error body.
func TestEventsClientCap(t *testing.T) {
	ts := newTestServer(t, &Options{MaxEventClients: 2}, nil)
	ts.stream(t, "", "").ready(t)
	ts.stream(t, "", "").ready(t)
	resp := ts.want(http.StatusServiceUnavailable, nil, "GET", "/api/events", "")
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
}
