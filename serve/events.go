package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/picosess/picosess/workspace"
)

// Event names of /api/events.
const (
	eventRecord   = "record"   // a record appended by any process
	eventDeleted  = "deleted"  // a session moved to the trash (by this server)
	eventCreated  = "created"  // a named session created (by this server)
	eventRestored = "restored" // a session brought back from the trash (by this server)
	eventReady    = "ready"    // the stream is live; its id is the cursor now
	eventResync   = "resync"   // events were missed: reload, then go on
	eventBye      = "bye"      // the server is shutting down
)

// maxEventRecord bounds the record carried in an event; a bigger one (a
// 10 MB tool result) is announced without it ("truncated": true), to be
// read with GET /api/sessions/{ref}/history.
const maxEventRecord = 64 << 10

// event is one entry of the hub's ring.
type event struct {
	n       uint64 // position in the hub, from 1
	name    string
	session string
	seq     int64
	data    []byte // JSON
}

// hub is the one live feed of a server: the workspace watcher publishes
// into a ring of the last events, and every stream reads the ring from its
// own cursor. A stream that falls behind the ring's start (too slow, or
// resuming from long ago) is told to resync instead of silently missing
// events.
type hub struct {
	mu     sync.Mutex
	epoch  string // tells this server's cursors from an earlier run's
	ring   []event
	next   uint64 // n of the next event
	notify chan struct{}
	nconn  int
}

func newHub(size int) *hub {
	return &hub{epoch: strconv.FormatInt(time.Now().UnixNano(), 36), ring: make([]event, 0, size),
		next: 1, notify: make(chan struct{})}
}

// EventRecord is the data of a "record" event.
type EventRecord struct {
	Session string            `json:"session"`
	Seq     int64             `json:"seq"`
	Type    string            `json:"type"`
	Record  *workspace.Record `json:"record,omitempty"`
	// Truncated: the record was too big to carry; read it with the
	// history route.
	Truncated bool `json:"truncated,omitempty"`
}

func (h *hub) publishRecord(id string, e workspace.Entry) error {
	rec := e.Record
	ev := EventRecord{Session: id, Seq: e.Seq, Type: e.Type, Record: &rec}
	data, err := json.Marshal(ev)
	if err != nil || len(data) > maxEventRecord {
		ev.Record, ev.Truncated = nil, true
		data, _ = json.Marshal(ev)
	}
	h.add(eventRecord, id, e.Seq, data)
	return nil
}

func (h *hub) publish(name, session string, seq int64, v any) {
	data, _ := json.Marshal(v)
	h.add(name, session, seq, data)
}

func (h *hub) add(name, session string, seq int64, data []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ev := event{n: h.next, name: name, session: session, seq: seq, data: data}
	h.next++
	if len(h.ring) == cap(h.ring) {
		copy(h.ring, h.ring[1:])
		h.ring = h.ring[:len(h.ring)-1]
	}
	h.ring = append(h.ring, ev)
	close(h.notify)
	h.notify = make(chan struct{})
}

// since returns the events after n (for session, when not ""), a channel
// closed at the next event, and false when events after n have left the
// ring.
func (h *hub) since(n uint64, session string, max int) ([]event, <-chan struct{}, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	first := h.next - uint64(len(h.ring)) // n of ring[0]
	if n+1 < first {
		return nil, h.notify, false
	}
	var out []event
	for _, ev := range h.ring[n+1-first:] {
		if session == "" || ev.session == session {
			out = append(out, ev)
			if len(out) == max {
				break
			}
		}
	}
	return out, h.notify, true
}

func (h *hub) head() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.next - 1
}

func (h *hub) join(max int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.nconn >= max {
		return false
	}
	h.nconn++
	return true
}

func (h *hub) leave() {
	h.mu.Lock()
	h.nconn--
	h.mu.Unlock()
}

func (h *hub) clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.nconn
}

// cursor is an event id: "<epoch>.<n>", and for a stream of one session
// "<epoch>.<n>.<seq>" with the last seq of that session sent, which lets
// the stream resume from the file even after a restart of the server.
type cursor struct {
	epoch string
	n     uint64
	seq   int64
}

func (c cursor) String() string {
	if c.seq > 0 {
		return fmt.Sprintf("%s.%d.%d", c.epoch, c.n, c.seq)
	}
	return fmt.Sprintf("%s.%d", c.epoch, c.n)
}

func parseCursor(s string) (cursor, bool) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return cursor{}, false
	}
	var c cursor
	var err error
	c.epoch = parts[0]
	if c.n, err = strconv.ParseUint(parts[1], 10, 64); err != nil {
		return cursor{}, false
	}
	if len(parts) == 3 {
		if c.seq, err = strconv.ParseInt(parts[2], 10, 64); err != nil || c.seq < 0 {
			return cursor{}, false
		}
	}
	return c, true
}

// events streams the live feed as Server-Sent Events (docs/http.md).
func (s *Server) events(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var only string
	if ref := r.URL.Query().Get("session"); ref != "" {
		ses, err := s.w.Lookup(ctx, ref)
		if err != nil {
			s.writeError(rw, r, err)
			return
		}
		only = ses.ID()
	}
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_event_id")
	}
	var from cursor
	resume := false
	if last != "" {
		var ok bool
		if from, ok = parseCursor(last); !ok {
			s.writeError(rw, r, badRequest("Last-Event-ID %q: not an event id of this server", last))
			return
		}
		resume = true
	}
	select {
	case <-s.closing:
		s.writeError(rw, r, &httpError{http.StatusServiceUnavailable, "shutting_down", "the server is shutting down"})
		return
	default:
	}
	if !s.hub.join(s.o.MaxEventClients) {
		s.writeError(rw, r, &httpError{http.StatusServiceUnavailable, "too_many_clients",
			fmt.Sprintf("%d event streams are open, the most this server takes (--max-clients)", s.o.MaxEventClients)})
		return
	}
	defer s.hub.leave()
	rc := http.NewResponseController(rw)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream lives long
	_ = rc.SetReadDeadline(time.Time{})
	h := rw.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	rw.WriteHeader(http.StatusOK)

	st := &stream{rw: rw, rc: rc, epoch: s.hub.epoch, only: only}
	fmt.Fprintf(rw, "retry: 2000\n\n")
	pos := s.hub.head()
	switch {
	case !resume:
	case from.epoch == s.hub.epoch && from.n <= pos:
		pos, st.lastSeq = from.n, from.seq
	case only != "" && from.seq > 0:
		// Another run of the server (or a cursor from too long ago):
		// read what the file has after the last seq sent, then go on
		// live from now, skipping what was already read.
		st.lastSeq = from.seq
		if err := s.replayFile(r, st, pos); err != nil {
			return
		}
	default:
		st.send(eventResync, cursor{s.hub.epoch, pos, 0}, []byte(`{"reason":"the events after your Last-Event-ID are no longer kept; reload, then go on from this id"}`))
	}
	st.send(eventReady, st.cursor(pos), []byte(`{}`))
	if st.err != nil {
		return
	}
	beat := time.NewTicker(s.o.Heartbeat)
	defer beat.Stop()
	for {
		evs, wake, ok := s.hub.since(pos, only, 1000)
		if !ok {
			pos = s.hub.head()
			if only != "" && st.lastSeq > 0 {
				// One session: its file has what the buffer lost.
				if err := s.replayFile(r, st, pos); err != nil {
					return
				}
				continue
			}
			st.send(eventResync, st.cursor(pos), []byte(`{"reason":"this stream fell behind the server's event buffer; reload, then go on from this id"}`))
		}
		for _, ev := range evs {
			pos = ev.n
			if ev.name == eventRecord && only != "" && ev.seq <= st.lastSeq {
				continue // already sent from the file
			}
			if ev.seq > 0 && only != "" {
				st.lastSeq = ev.seq
			}
			st.send(ev.name, st.cursor(pos), ev.data)
		}
		if st.err != nil {
			return
		}
		if len(evs) > 0 || !ok {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-s.closing:
			st.send(eventBye, st.cursor(pos), []byte(`{"reason":"server shutting down"}`))
			return
		case <-beat.C:
			st.comment("ping")
		case <-wake:
		}
		if st.err != nil {
			return
		}
	}
}

// replayFile sends the records of the stream's session after
// st.lastSeq, read from the file, with ids at hub position pos.
func (s *Server) replayFile(r *http.Request, st *stream, pos uint64) error {
	ses, err := s.w.OpenID(st.only)
	if err != nil {
		return err
	}
	for {
		p, err := ses.RecordsPage(r.Context(), workspace.PageOptions{After: st.lastSeq, Forward: true, Limit: 500})
		if err != nil {
			return err
		}
		for i := range p.Records {
			rec := p.Records[i]
			data, _ := json.Marshal(EventRecord{Session: st.only, Seq: rec.Seq, Type: rec.Type, Record: &rec})
			st.lastSeq = rec.Seq
			st.send(eventRecord, st.cursor(pos), data)
		}
		if st.err != nil {
			return st.err
		}
		if !p.More {
			return nil
		}
	}
}

// stream writes events to one client.
type stream struct {
	rw      http.ResponseWriter
	rc      *http.ResponseController
	epoch   string
	only    string
	lastSeq int64
	err     error
}

func (st *stream) cursor(n uint64) cursor {
	c := cursor{epoch: st.epoch, n: n}
	if st.only != "" {
		c.seq = st.lastSeq
	}
	return c
}

func (st *stream) send(name string, id cursor, data []byte) {
	if st.err != nil {
		return
	}
	_, st.err = fmt.Fprintf(st.rw, "id: %s\nevent: %s\ndata: %s\n\n", id, name, data)
	if st.err == nil {
		st.err = st.rc.Flush()
	}
}

func (st *stream) comment(text string) {
	if st.err != nil {
		return
	}
	_, st.err = fmt.Fprintf(st.rw, ": %s\n\n", text)
	if st.err == nil {
		st.err = st.rc.Flush()
	}
}
