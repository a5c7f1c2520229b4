package serve

import (
	"net/http"
	"strings"
)

// routes registers every route; docs/http.md documents each.
func (s *Server) routes() {
	m := http.NewServeMux()
	// PocketPaw's routes, same paths and methods.
	m.HandleFunc("GET /api/sessions", s.listSessions)
	m.HandleFunc("GET /api/sessions/recent", s.recentSessions)
	m.HandleFunc("GET /api/sessions/search", s.search)
	m.HandleFunc("PUT /api/sessions/{ref}/title", s.setTitle)
	m.HandleFunc("DELETE /api/sessions/{ref}", s.deleteSession)
	// The rest of the engine.
	m.HandleFunc("POST /api/sessions", s.newSession)
	m.HandleFunc("GET /api/sessions/{ref}", s.meta)
	m.HandleFunc("GET /api/sessions/{ref}/history", s.history)
	m.HandleFunc("POST /api/sessions/{ref}/records", s.appendRecords)
	m.HandleFunc("POST /api/sessions/{ref}/reset", s.reset)
	m.HandleFunc("POST /api/sessions/{ref}/clear", s.clear)
	m.HandleFunc("GET /api/sessions/{ref}/checkpoints", s.checkpoints)
	m.HandleFunc("POST /api/sessions/{ref}/checkpoints", s.saveCheckpoint)
	m.HandleFunc("POST /api/sessions/{ref}/checkpoints/{cp}/restore", s.restoreCheckpoint)
	m.HandleFunc("DELETE /api/sessions/{ref}/checkpoints/{cp}", s.deleteCheckpoint)
	m.HandleFunc("GET /api/sessions/{ref}/export", s.export)
	m.HandleFunc("GET /api/sessions/{ref}/policy", s.policy)
	m.HandleFunc("POST /api/records", s.appendByRoute)
	m.HandleFunc("GET /api/key", s.key)
	m.HandleFunc("GET /api/search", s.search)
	m.HandleFunc("GET /api/trash", s.trash)
	m.HandleFunc("POST /api/trash/{name}/restore", s.restoreFromTrash)
	m.HandleFunc("GET /api/events", s.events)
	m.HandleFunc("GET /api/info", s.info)
	// The /v1 API of earlier versions is gone; say where it went.
	m.HandleFunc("/v1/", s.gone)
	// The dashboard.
	m.HandleFunc("GET /{$}", s.dashboard)
	m.HandleFunc("GET /assets/{file}", s.asset)
	s.mux = m
}

// route dispatches to the mux; its own 404 and 405 answers become the
// JSON error body.
func (s *Server) route(rw http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(rw, r) // sets the path values
		return
	}
	// The mux's answer: a 404, a 405 with Allow, or a redirect
	// (cleaning the path). Keep its status and headers, not its text.
	c := &captured{header: http.Header{}}
	h.ServeHTTP(c, r)
	switch {
	case c.status == http.StatusMethodNotAllowed:
		rw.Header().Set("Allow", c.header.Get("Allow"))
		s.writeError(rw, r, &httpError{http.StatusMethodNotAllowed, "method_not_allowed",
			r.Method + " is not allowed on " + r.URL.Path + " (allowed: " + c.header.Get("Allow") + ")"})
	case c.status >= 300 && c.status < 400:
		rw.Header().Set("Location", c.header.Get("Location"))
		writeJSON(rw, c.status, map[string]string{"location": c.header.Get("Location")})
	default:
		what := "no such route"
		if strings.HasPrefix(r.URL.Path, "/api/") {
			what = "no such API route"
		}
		s.writeError(rw, r, &httpError{http.StatusNotFound, "not_found", what + ": " + r.Method + " " + r.URL.Path + " (docs/http.md lists them)"})
	}
}

// captured records what a handler answered, dropping the body.
type captured struct {
	header http.Header
	status int
}

func (c *captured) Header() http.Header { return c.header }
func (c *captured) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return len(b), nil
}
func (c *captured) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}

func (s *Server) gone(rw http.ResponseWriter, r *http.Request) {
	s.writeError(rw, r, &httpError{http.StatusGone, "gone",
		"the /v1 API was replaced by /api (docs/http.md: /v1/sessions is GET /api/sessions, /v1/search is GET /api/search, ...)"})
}
