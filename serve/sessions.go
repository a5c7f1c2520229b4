package serve

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// Listing sorts.
const (
	SortUpdated  = "updated"
	SortCreated  = "created"
	SortTitle    = "title"
	SortMessages = "messages"
)

// DefaultListLimit and MaxListLimit bound a page of the listing.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// SessionList is the answer of GET /api/sessions.
type SessionList struct {
	Sessions []workspace.Meta `json:"sessions"`
	// Total counts the sessions that match the filters, on every page.
	Total int `json:"total"`
	// NextCursor continues the listing after this page; "" on the last.
	NextCursor string `json:"next_cursor"`
	// Agents and Channels are the values present among the sessions the
	// other filters (since, q) let through, sorted: a filter menu's
	// choices.
	Agents   []string `json:"agents"`
	Channels []string `json:"channels"`
}

// listCursor is the position after the last session of a page: its sort
// key and id. Pages are keyset pages: the next one starts strictly after
// this position in the order, so a session written meanwhile is never
// repeated, and one that was not written is never skipped.
type listCursor struct {
	Sort  string `json:"s"`
	Desc  bool   `json:"d"`
	Key   string `json:"k"`
	Count int    `json:"n,omitempty"`
	ID    string `json:"i"`
}

func sortKey(m workspace.Meta, by string) (string, int) {
	switch by {
	case SortCreated:
		return m.Created.UTC().Format(time.RFC3339Nano), 0
	case SortTitle:
		return strings.ToLower(m.Title), 0
	case SortMessages:
		return "", m.Messages
	}
	return m.Updated.UTC().Format(time.RFC3339Nano), 0
}

// compareMeta orders metas by the sort key, then id; desc reverses both.
func compareMeta(by string, desc bool) func(a, b workspace.Meta) int {
	return func(a, b workspace.Meta) int {
		var c int
		switch by {
		case SortCreated:
			c = a.Created.Compare(b.Created)
		case SortTitle:
			c = strings.Compare(strings.ToLower(a.Title), strings.ToLower(b.Title))
		case SortMessages:
			c = a.Messages - b.Messages
		default:
			c = a.Updated.Compare(b.Updated)
		}
		if c == 0 {
			c = strings.Compare(a.ID, b.ID)
		}
		if desc {
			c = -c
		}
		return c
	}
}

// afterCursor reports whether m comes after the cursor position.
func afterCursor(m workspace.Meta, c listCursor) bool {
	var k int
	switch c.Sort {
	case SortCreated, SortUpdated:
		t, _ := time.Parse(time.RFC3339Nano, c.Key)
		if c.Sort == SortCreated {
			k = m.Created.Compare(t)
		} else {
			k = m.Updated.Compare(t)
		}
	case SortTitle:
		k = strings.Compare(strings.ToLower(m.Title), c.Key)
	case SortMessages:
		k = m.Messages - c.Count
	}
	if k == 0 {
		k = strings.Compare(m.ID, c.ID)
	}
	if c.Desc {
		return k < 0
	}
	return k > 0
}

func encodeCursor(c listCursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (listCursor, error) {
	var c listCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" {
		return c, badRequest("cursor=%q: not a cursor this server gave", s)
	}
	return c, nil
}

// matchText reports whether a session's title, name, id, agent, channel
// or an alias contains every word of q (case-insensitive).
func matchText(m workspace.Meta, words []string) bool {
	hay := strings.ToLower(strings.Join(append([]string{m.Title, m.Name, m.ID, m.Agent, m.Channel}, m.Aliases...), "\n"))
	for _, w := range words {
		if !strings.Contains(hay, w) {
			return false
		}
	}
	return true
}

func (s *Server) listSessions(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := intParam(r, "limit", DefaultListLimit, 1, MaxListLimit)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	by := q.Get("sort")
	switch by {
	case "":
		by = SortUpdated
	case SortUpdated, SortCreated, SortTitle, SortMessages:
	default:
		s.writeError(rw, r, badRequest("sort=%q: want updated, created, title or messages", by))
		return
	}
	desc := by != SortTitle
	switch o := q.Get("order"); o {
	case "":
	case "asc", "desc":
		desc = o == "desc"
	default:
		s.writeError(rw, r, badRequest("order=%q: want asc or desc", o))
		return
	}
	var cur *listCursor
	if v := q.Get("cursor"); v != "" {
		c, err := decodeCursor(v)
		if err != nil {
			s.writeError(rw, r, err)
			return
		}
		if c.Sort != by || c.Desc != desc {
			s.writeError(rw, r, badRequest("cursor: it continues a listing sorted by %s; ask with the same sort and order", c.Sort))
			return
		}
		cur = &c
	}
	o := workspace.ListOptions{Agent: q.Get("agent"), Channel: q.Get("channel")}
	if o.Since, err = whenParam(r, "since", s.o.Now()); err != nil {
		s.writeError(rw, r, err)
		return
	}
	metas, err := s.listing(r)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	if !o.Since.IsZero() {
		metas = slices.DeleteFunc(metas, func(m workspace.Meta) bool { return m.Updated.Before(o.Since) })
	}
	if words := strings.Fields(strings.ToLower(q.Get("q"))); len(words) > 0 {
		metas = slices.DeleteFunc(metas, func(m workspace.Meta) bool { return !matchText(m, words) })
	}
	out := SessionList{Sessions: []workspace.Meta{}, Agents: []string{}, Channels: []string{}}
	agents, channels := map[string]bool{}, map[string]bool{}
	for _, m := range metas {
		if m.Agent != "" && !agents[m.Agent] {
			agents[m.Agent] = true
			out.Agents = append(out.Agents, m.Agent)
		}
		if m.Channel != "" && !channels[m.Channel] {
			channels[m.Channel] = true
			out.Channels = append(out.Channels, m.Channel)
		}
	}
	slices.Sort(out.Agents)
	slices.Sort(out.Channels)
	if o.Agent != "" || o.Channel != "" {
		metas = slices.DeleteFunc(metas, func(m workspace.Meta) bool {
			return o.Agent != "" && !strings.EqualFold(m.Agent, o.Agent) || o.Channel != "" && !strings.EqualFold(m.Channel, o.Channel)
		})
	}
	slices.SortFunc(metas, compareMeta(by, desc))
	out.Total = len(metas)
	start := 0
	if cur != nil {
		start, _ = slices.BinarySearchFunc(metas, *cur, func(m workspace.Meta, c listCursor) int {
			if afterCursor(m, c) {
				return 1
			}
			return -1
		})
	}
	end := min(start+limit, len(metas))
	out.Sessions = append(out.Sessions, metas[start:end]...)
	if end < len(metas) && end > start {
		last := metas[end-1]
		k, n := sortKey(last, by)
		out.NextCursor = encodeCursor(listCursor{Sort: by, Desc: desc, Key: k, Count: n, ID: last.ID})
	}
	writeJSON(rw, http.StatusOK, out)
}

func (s *Server) recentSessions(rw http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r, "limit", 10, 1, MaxListLimit)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	metas, err := s.w.List(r.Context(), workspace.ListOptions{Limit: limit})
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	if metas == nil {
		metas = []workspace.Meta{}
	}
	writeJSON(rw, http.StatusOK, map[string]any{"sessions": metas})
}

func (s *Server) meta(rw http.ResponseWriter, r *http.Request) {
	ses, err := s.lookup(r)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	m, err := ses.Meta(r.Context())
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	writeJSON(rw, http.StatusOK, m)
}

// Change is the answer of a route that wrote one record.
type Change struct {
	Session string `json:"session"`
	Seq     int64  `json:"seq"`
}

// change answers a request that appends one record to the session the
// path names: the session is looked up (an unknown one is a 404, never
// made), f appends, and the answer is the session and the record's seq.
func (s *Server) change(rw http.ResponseWriter, r *http.Request, f func(context.Context, *workspace.Session) (int64, error)) {
	ses, err := s.lookup(r)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	seq, err := f(r.Context(), ses)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	writeJSON(rw, http.StatusOK, Change{ses.ID(), seq})
}

func (s *Server) setTitle(rw http.ResponseWriter, r *http.Request) {
	var body struct {
		Title *string `json:"title"`
	}
	if err := decodeBody(r, &body, false); err != nil {
		s.writeError(rw, r, err)
		return
	}
	if body.Title == nil {
		s.writeError(rw, r, badRequest(`body: want {"title": "..."} ("" brings back the default title)`))
		return
	}
	s.change(rw, r, func(ctx context.Context, ses *workspace.Session) (int64, error) {
		return ses.SetTitle(ctx, strings.TrimSpace(*body.Title))
	})
}

// Deleted is the answer of DELETE /api/sessions/{ref}.
type Deleted struct {
	Session string `json:"session"`
	// Trash is the session's name in the trash: POST
	// /api/trash/{trash}/restore brings it back.
	Trash string `json:"trash"`
}

func (s *Server) deleteSession(rw http.ResponseWriter, r *http.Request) {
	ses, err := s.lookup(r)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	name, err := ses.Delete(r.Context())
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	s.hub.publish(eventDeleted, ses.ID(), 0, map[string]string{"session": ses.ID(), "trash": name})
	writeJSON(rw, http.StatusOK, Deleted{ses.ID(), name})
}

func (s *Server) newSession(rw http.ResponseWriter, r *http.Request) {
	var body struct {
		Name  string `json:"name"`
		Title string `json:"title"`
	}
	if err := decodeBody(r, &body, true); err != nil {
		s.writeError(rw, r, err)
		return
	}
	ctx := r.Context()
	name := strings.TrimSpace(body.Name)
	if name == "" {
		// A fresh name, like a chat app's "new chat".
		base := "chat-" + s.o.Now().UTC().Format("20060102-150405")
		name = base
		for i := 2; ; i++ {
			if _, err := s.w.OpenID(keying.NamedID(name)); errors.Is(err, workspace.ErrNotFound) {
				break
			}
			name = fmt.Sprintf("%s-%d", base, i)
		}
	}
	id := keying.NamedID(name)
	if _, err := s.w.OpenID(id); err == nil {
		s.writeError(rw, r, fmt.Errorf("%w: a session named %q (%s)", workspace.ErrExists, keying.NormalizeName(name), id))
		return
	}
	ses, err := s.w.Session(ctx, workspace.Target{Name: name})
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	if t := strings.TrimSpace(body.Title); t != "" {
		if _, err := ses.SetTitle(ctx, t); err != nil {
			s.writeError(rw, r, err)
			return
		}
	}
	m, err := ses.Meta(ctx)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	s.hub.publish(eventCreated, ses.ID(), 0, m)
	writeJSON(rw, http.StatusCreated, m)
}

func (s *Server) reset(rw http.ResponseWriter, r *http.Request) {
	var body struct {
		Reason string `json:"reason"`
	}
	if err := decodeBody(r, &body, true); err != nil {
		s.writeError(rw, r, err)
		return
	}
	switch body.Reason {
	case "", workspace.ReasonManual, workspace.ReasonDaily, workspace.ReasonIdle, workspace.ReasonClear, workspace.ReasonImported:
	default:
		s.writeError(rw, r, badRequest("reason %q: want manual, daily, idle, clear or imported", body.Reason))
		return
	}
	s.change(rw, r, func(ctx context.Context, ses *workspace.Session) (int64, error) {
		return ses.Reset(ctx, body.Reason)
	})
}

func (s *Server) clear(rw http.ResponseWriter, r *http.Request) {
	if err := decodeBody(r, &struct{}{}, true); err != nil {
		s.writeError(rw, r, err)
		return
	}
	s.change(rw, r, func(ctx context.Context, ses *workspace.Session) (int64, error) {
		return ses.Clear(ctx)
	})
}

func (s *Server) checkpoints(rw http.ResponseWriter, r *http.Request) {
	ses, err := s.lookup(r)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	cps, err := ses.Checkpoints(r.Context())
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	if cps == nil {
		cps = []workspace.Checkpoint{}
	}
	writeJSON(rw, http.StatusOK, map[string]any{"session": ses.ID(), "checkpoints": cps})
}

func (s *Server) saveCheckpoint(rw http.ResponseWriter, r *http.Request) {
	var body struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := decodeBody(r, &body, false); err != nil {
		s.writeError(rw, r, err)
		return
	}
	name := strings.TrimSpace(body.Name)
	if name == "" {
		s.writeError(rw, r, badRequest(`body: a checkpoint needs a "name"`))
		return
	}
	if strings.Trim(name, "0123456789") == "" {
		s.writeError(rw, r, badRequest("checkpoint name %q is a number; numbers name checkpoints by seq", name))
		return
	}
	ses, err := s.lookup(r)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	cp, err := ses.SaveCheckpoint(r.Context(), name, body.Description)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	writeJSON(rw, http.StatusCreated, cp)
}

func (s *Server) restoreCheckpoint(rw http.ResponseWriter, r *http.Request) {
	if err := decodeBody(r, &struct{}{}, true); err != nil {
		s.writeError(rw, r, err)
		return
	}
	s.change(rw, r, func(ctx context.Context, ses *workspace.Session) (int64, error) {
		return ses.RestoreCheckpoint(ctx, r.PathValue("cp"))
	})
}

func (s *Server) deleteCheckpoint(rw http.ResponseWriter, r *http.Request) {
	s.change(rw, r, func(ctx context.Context, ses *workspace.Session) (int64, error) {
		return ses.DeleteCheckpoint(ctx, r.PathValue("cp"))
	})
}

func (s *Server) trash(rw http.ResponseWriter, r *http.Request) {
	t, err := s.w.Trash(r.Context())
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	if t == nil {
		t = []workspace.Trashed{}
	}
	writeJSON(rw, http.StatusOK, map[string]any{"trash": t})
}

func (s *Server) restoreFromTrash(rw http.ResponseWriter, r *http.Request) {
	if err := decodeBody(r, &struct{}{}, true); err != nil {
		s.writeError(rw, r, err)
		return
	}
	ses, err := s.w.RestoreFromTrash(r.Context(), r.PathValue("name"))
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	m, err := ses.Meta(r.Context())
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	s.hub.publish(eventRestored, ses.ID(), 0, m)
	writeJSON(rw, http.StatusOK, m)
}

func (s *Server) policy(rw http.ResponseWriter, r *http.Request) {
	var at time.Time
	if v := r.URL.Query().Get("at"); v != "" {
		var err error
		if at, err = time.Parse(time.RFC3339Nano, v); err != nil {
			s.writeError(rw, r, badRequest("at=%q: want an RFC 3339 time", v))
			return
		}
	}
	ses, err := s.lookup(r)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	rep, err := ses.Policy(r.Context(), at)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	writeJSON(rw, http.StatusOK, rep)
}

// Info is the answer of GET /api/info.
type Info struct {
	Workspace string    `json:"workspace"`
	Now       time.Time `json:"now"`
	Auth      bool      `json:"auth"`
	Events    struct {
		Clients    int `json:"clients"`
		MaxClients int `json:"max_clients"`
	} `json:"events"`
}

func (s *Server) info(rw http.ResponseWriter, r *http.Request) {
	i := Info{Workspace: s.w.Root(), Now: s.o.Now().UTC(), Auth: s.o.Token != ""}
	i.Events.Clients = s.hub.clients()
	i.Events.MaxClients = s.o.MaxEventClients
	writeJSON(rw, http.StatusOK, i)
}

// listCacheTTL bounds how long a listing is reused. The live feed
// invalidates it at once for every record appended and every session this
// server creates, deletes or restores; the TTL covers what the feed does
// not see (another process's rm, a restore from the trash by the CLI).
const listCacheTTL = 2 * time.Second

type listCache struct {
	mu    sync.Mutex
	metas []workspace.Meta
	head  uint64 // the hub's position when read
	at    time.Time
}

// listing returns every live session's metadata, newest first, as a copy
// the caller may change. Paging through 10 000 sessions reads the
// workspace (a stat per file) once, not once per page.
func (s *Server) listing(r *http.Request) ([]workspace.Meta, error) {
	c := &s.lists
	c.mu.Lock()
	defer c.mu.Unlock()
	head := s.hub.head()
	if c.metas == nil || c.head != head || time.Since(c.at) > listCacheTTL {
		metas, err := s.w.List(r.Context(), workspace.ListOptions{})
		if err != nil {
			return nil, err
		}
		c.metas, c.head, c.at = metas, head, time.Now()
	}
	return slices.Clone(c.metas), nil
}
