package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/index"
	"github.com/spf13/cobra"
)

// DefaultListen is where serve listens unless --listen says otherwise:
// loopback only, since the API has no authentication.
const DefaultListen = "127.0.0.1:7420"

func newServeCmd(a *app) *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDR]",
		Short: "Serve the workspace over a local HTTP JSON API",
		Long: `Serve the workspace over HTTP, for assistants written in other languages and for
dashboards. The API has no authentication: it listens on loopback by default.

  GET  /v1/sessions?agent=&channel=&since=&limit=   the listing (as ls --json)
  GET  /v1/sessions/{ref}                           one session's metadata
  GET  /v1/sessions/{ref}/history?limit=N           the active history (default 50)
  GET  /v1/sessions/{ref}/records                   every record, JSON Lines
  POST /v1/sessions/{ref}/records                   append records (a JSON array); {ref}
                                                    may name a new named session; the
                                                    lifecycle policy applies as in append
                                                    (?raw=1: records as given)
  GET  /v1/sessions/{ref}/policy?at=                the lifecycle policy (as policy --json)
  GET  /v1/search?q=&session=&agent=&channel=&sender=&role=&limit=   search (as search --json)

Errors are {"error": "..."} with 400 (bad input), 404 (no such session),
409 (ambiguous reference, or a record dated before the session's last),
410 (the session is in the trash), 423 (a lock timed out) or 500.

When config.json has a cleanup block (older_than or ttl, purge_after), serve
applies it at start and every cleanup.interval (default 1h).

EXIT STATUS
  0 stopped by an interrupt; 1 failure (address in use...); 10 not a workspace.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := a.openWorkspace()
			if err != nil {
				return err
			}
			defer w.Close()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			fmt.Fprintf(a.stderr, "picosess: serving %s on http://%s\n", w.Root(), ln.Addr())
			ctx, cancel := context.WithCancel(cmd.Context())
			defer a.cleanupInBackground(ctx, w)()
			defer cancel()
			return serve(ctx, ln, w)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", DefaultListen, "address to listen on")
	return cmd
}

// serve answers on ln until ctx is done.
func serve(ctx context.Context, ln net.Listener, w *workspace.Workspace) error {
	x, err := index.Open(w, nil)
	if err != nil {
		return err
	}
	defer x.Close()
	api := &httpAPI{w: w, x: x}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/sessions", api.list)
	mux.HandleFunc("GET /v1/sessions/{ref}", api.meta)
	mux.HandleFunc("GET /v1/sessions/{ref}/history", api.history)
	mux.HandleFunc("GET /v1/sessions/{ref}/records", api.records)
	mux.HandleFunc("POST /v1/sessions/{ref}/records", api.appendRecords)
	mux.HandleFunc("GET /v1/sessions/{ref}/policy", api.policy)
	mux.HandleFunc("GET /v1/search", api.search)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
		return nil
	}
}

type httpAPI struct {
	w *workspace.Workspace
	x *index.Index
}

func writeHTTPJSON(rw http.ResponseWriter, code int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(code)
	enc := json.NewEncoder(rw)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// httpError maps library errors to HTTP statuses, in one place.
func httpError(rw http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	var bad *badRequest
	switch {
	case errors.As(err, &bad):
		code = http.StatusBadRequest
	case errors.Is(err, workspace.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, workspace.ErrAmbiguous):
		code = http.StatusConflict
	case errors.Is(err, workspace.ErrLocked):
		code = http.StatusLocked
	case errors.Is(err, workspace.ErrTrashed):
		code = http.StatusGone
	case errors.Is(err, workspace.ErrTimeOrder):
		code = http.StatusConflict
	}
	writeHTTPJSON(rw, code, map[string]string{"error": err.Error()})
}

type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func intParam(r *http.Request, name string, def int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, &badRequest{fmt.Sprintf("%s=%q: want a whole number >= 0", name, s)}
	}
	return n, nil
}

func (api *httpAPI) list(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	o := workspace.ListOptions{Agent: q.Get("agent"), Channel: q.Get("channel")}
	var err error
	if o.Limit, err = intParam(r, "limit", 0); err != nil {
		httpError(rw, err)
		return
	}
	if s := q.Get("since"); s != "" {
		d, err := parseAge("since", s)
		if err != nil {
			httpError(rw, &badRequest{err.Error()})
			return
		}
		o.Since = time.Now().Add(-d)
	}
	list, err := api.w.List(r.Context(), o)
	if err != nil {
		httpError(rw, err)
		return
	}
	if list == nil {
		list = []workspace.Meta{}
	}
	writeHTTPJSON(rw, http.StatusOK, list)
}

func (api *httpAPI) session(r *http.Request) (*workspace.Session, error) {
	return api.w.Lookup(r.Context(), r.PathValue("ref"))
}

func (api *httpAPI) meta(rw http.ResponseWriter, r *http.Request) {
	s, err := api.session(r)
	if err == nil {
		var m workspace.Meta
		if m, err = s.Meta(r.Context()); err == nil {
			writeHTTPJSON(rw, http.StatusOK, m)
			return
		}
	}
	httpError(rw, err)
}

func (api *httpAPI) history(rw http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r, "limit", 50)
	if err != nil {
		httpError(rw, err)
		return
	}
	s, err := api.session(r)
	if err != nil {
		httpError(rw, err)
		return
	}
	h, err := s.History(r.Context(), limit)
	if err != nil {
		httpError(rw, err)
		return
	}
	if h.Messages == nil {
		h.Messages = []workspace.Record{}
	}
	writeHTTPJSON(rw, http.StatusOK, map[string]any{"session": s.ID(), "summary": h.Summary,
		"messages": h.Messages, "more": h.More, "last_seq": h.LastSeq})
}

func (api *httpAPI) records(rw http.ResponseWriter, r *http.Request) {
	s, err := api.session(r)
	if err != nil {
		httpError(rw, err)
		return
	}
	rw.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(rw)
	enc.SetEscapeHTML(false)
	for e, err := range s.Records(r.Context(), 0) {
		if err != nil {
			return // the status is sent; the stream ends early
		}
		if enc.Encode(e.Record) != nil {
			return
		}
	}
}

// appendRecords appends a JSON array of records. An unknown reference
// that is not id-shaped creates the named session of that name.
func (api *httpAPI) appendRecords(rw http.ResponseWriter, r *http.Request) {
	var recs []workspace.Record
	dec := json.NewDecoder(http.MaxBytesReader(rw, r.Body, 64<<20))
	if err := dec.Decode(&recs); err != nil {
		httpError(rw, &badRequest{"body: want a JSON array of records: " + err.Error()})
		return
	}
	if len(recs) == 0 {
		httpError(rw, &badRequest{"body: no records"})
		return
	}
	s, err := api.session(r)
	if errors.Is(err, workspace.ErrNotFound) {
		s, err = api.w.Session(r.Context(), workspace.Target{Name: r.PathValue("ref")})
	}
	if err != nil {
		httpError(rw, err)
		return
	}
	var turn workspace.Turn
	if r.URL.Query().Get("raw") == "1" {
		turn.Seqs, err = s.Append(r.Context(), recs...)
	} else {
		turn, err = s.AppendTurn(r.Context(), recs...)
	}
	if err != nil {
		if !errors.Is(err, workspace.ErrLocked) && !errors.Is(err, workspace.ErrTrashed) &&
			!errors.Is(err, workspace.ErrTimeOrder) && !errors.Is(err, context.Canceled) {
			err = &badRequest{err.Error()}
		}
		httpError(rw, err)
		return
	}
	out := map[string]any{"session": s.ID(), "seqs": turn.Seqs}
	if turn.Reset != nil {
		out["reset"] = turn.Reset
	}
	writeHTTPJSON(rw, http.StatusCreated, out)
}

func (api *httpAPI) policy(rw http.ResponseWriter, r *http.Request) {
	s, err := api.session(r)
	if err != nil {
		httpError(rw, err)
		return
	}
	var at time.Time
	if v := r.URL.Query().Get("at"); v != "" {
		if at, err = time.Parse(time.RFC3339Nano, v); err != nil {
			httpError(rw, &badRequest{fmt.Sprintf("at=%q: want an RFC 3339 time", v)})
			return
		}
	}
	rep, err := s.Policy(r.Context(), at)
	if err != nil {
		httpError(rw, err)
		return
	}
	writeHTTPJSON(rw, http.StatusOK, rep)
}

func (api *httpAPI) search(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := intParam(r, "limit", 0)
	if err != nil {
		httpError(rw, err)
		return
	}
	query := index.Query{Text: q.Get("q"), Limit: limit}
	query.Agent, query.Channel, query.Sender, query.Role = q.Get("agent"), q.Get("channel"), q.Get("sender"), q.Get("role")
	if ref := q.Get("session"); ref != "" {
		s, err := api.w.Lookup(r.Context(), ref)
		if err != nil {
			httpError(rw, err)
			return
		}
		query.Sessions = []string{s.ID()}
	}
	res, err := api.x.Search(r.Context(), query)
	if err != nil {
		httpError(rw, err)
		return
	}
	if res.Hits == nil {
		res.Hits = []index.Hit{}
	}
	writeHTTPJSON(rw, http.StatusOK, res)
}
