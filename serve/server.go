package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/index"
)

// Defaults used where Options leaves a field zero.
const (
	DefaultMaxBody         = 8 << 20 // bytes of a request body
	DefaultMaxEventClients = 64      // concurrent /api/events streams
	DefaultEventBuffer     = 10000   // events kept for resuming streams
	DefaultHeartbeat       = 15 * time.Second

	// Timeouts of the http.Server that Serve runs.
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 60 * time.Second
	IdleTimeout       = 120 * time.Second
	ShutdownTimeout   = 5 * time.Second
)

// Options configure a Server. The zero value, and a nil *Options, serve
// loopback clients without a token.
type Options struct {
	// Token, when set, is required as "Authorization: Bearer <token>" on
	// every /api request.
	Token string
	// Hosts are the names, besides localhost, loopback addresses and the
	// listen address, that the Host header may carry (a DNS name the
	// server is reached by). Anything else is refused: DNS rebinding.
	Hosts []string
	// AllowOrigins are origins ("https://example.org") other than the
	// server's own that may call the API from a browser (CORS).
	AllowOrigins []string
	// MaxBody bounds a request body; 0 means DefaultMaxBody.
	MaxBody int64
	// MaxEventClients bounds the /api/events streams open at once; 0
	// means DefaultMaxEventClients.
	MaxEventClients int
	// EventBuffer is how many events are kept so that a stream that
	// reconnects with Last-Event-ID misses none; 0 means
	// DefaultEventBuffer.
	EventBuffer int
	// Heartbeat is the interval of keep-alive comments on idle streams; 0
	// means DefaultHeartbeat.
	Heartbeat time.Duration
	// Index is the search index; nil opens one that holds the index lock
	// until Close.
	Index *index.Index
	// Now is the clock /api/info reports (the dashboard groups sessions
	// by it); nil means time.Now.
	Now func() time.Time
	// Logger receives server errors; nil discards.
	Logger *slog.Logger
	// Timeouts of the http.Server that Serve runs; 0 means the constant
	// of the same name.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
}

// Server is the HTTP API and dashboard of one workspace: an http.Handler
// that an assistant can mount in its own http.Server (under "/"; the
// paths are absolute). It shares one workspace watcher among every
// /api/events stream.
type Server struct {
	w       *workspace.Workspace
	x       *index.Index
	ownsX   bool
	o       Options
	log     *slog.Logger
	mux     *http.ServeMux
	hub     *hub
	lists   listCache
	listen  []string // host names of the listen addresses (AddListener)
	mu      sync.Mutex
	closing chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
}

// New returns the server of workspace w. It starts the workspace watcher
// of the live feed and returns once it is following every session file.
// Close stops it.
func New(w *workspace.Workspace, o *Options) (*Server, error) {
	s := &Server{w: w, closing: make(chan struct{}), done: make(chan struct{})}
	if o != nil {
		s.o = *o
	}
	if s.o.MaxBody <= 0 {
		s.o.MaxBody = DefaultMaxBody
	}
	if s.o.MaxEventClients <= 0 {
		s.o.MaxEventClients = DefaultMaxEventClients
	}
	if s.o.EventBuffer <= 0 {
		s.o.EventBuffer = DefaultEventBuffer
	}
	if s.o.Heartbeat <= 0 {
		s.o.Heartbeat = DefaultHeartbeat
	}
	for _, d := range []struct {
		f   *time.Duration
		def time.Duration
	}{{&s.o.ReadHeaderTimeout, ReadHeaderTimeout}, {&s.o.ReadTimeout, ReadTimeout}, {&s.o.WriteTimeout, WriteTimeout}, {&s.o.IdleTimeout, IdleTimeout}} {
		if *d.f <= 0 {
			*d.f = d.def
		}
	}
	if s.o.Now == nil {
		s.o.Now = time.Now
	}
	s.log = s.o.Logger
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for _, origin := range s.o.AllowOrigins {
		if _, err := parseOrigin(origin); err != nil {
			return nil, fmt.Errorf("serve: allowed origin %q: %w", origin, err)
		}
	}
	s.x = s.o.Index
	if s.x == nil {
		x, err := index.Open(w, &index.Options{Hold: true, Logger: s.o.Logger})
		switch {
		case errors.Is(err, index.ErrOff):
			// An encrypted workspace without encryption.index: everything
			// but search (which answers index_off).
		case err != nil:
			return nil, err
		default:
			s.x, s.ownsX = x, true
		}
	}
	s.routes()
	s.hub = newHub(s.o.EventBuffer)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	ready := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(s.done)
		err := w.WatchReady(ctx, workspace.WatchOptions{}, func() { close(ready) }, s.hub.publishRecord)
		if err != nil {
			s.log.Error("live feed stopped", "err", err)
		}
		errc <- err
	}()
	select {
	case <-ready:
	case err := <-errc:
		cancel()
		s.closeIndex()
		if err == nil {
			err = errors.New("watcher stopped")
		}
		return nil, fmt.Errorf("serve: live feed: %w", err)
	}
	return s, nil
}

func (s *Server) closeIndex() {
	if s.ownsX {
		s.x.Close()
	}
}

// AddListener tells the server an address it is reached at, so that the
// Host header may name it. Serve calls it.
func (s *Server) AddListener(addr net.Addr) {
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		host = addr.String()
	}
	s.mu.Lock()
	s.listen = append(s.listen, strings.ToLower(host))
	s.mu.Unlock()
}

// CloseStreams ends every /api/events stream (each client gets a last
// "bye" event); new ones are refused. http.Server.Shutdown does not wait
// for them otherwise: a stream is never idle.
func (s *Server) CloseStreams() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closing:
	default:
		close(s.closing)
	}
}

// Close ends the streams, stops the watcher and lets go of the index (if
// the server opened it). The workspace stays open.
func (s *Server) Close() error {
	s.CloseStreams()
	s.cancel()
	<-s.done
	s.closeIndex()
	return nil
}

// Serve answers on ln with an http.Server configured with timeouts until
// ctx is done, then shuts down gracefully: streams are closed, requests
// in flight get ShutdownTimeout to finish.
//
// It refuses a listener beyond loopback when the server has no token
// (ErrNoToken).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := CheckListen(ln.Addr().String(), s.o.Token); err != nil {
		return err
	}
	s.AddListener(ln.Addr())
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.o.ReadHeaderTimeout,
		ReadTimeout:       s.o.ReadTimeout,
		WriteTimeout:      s.o.WriteTimeout,
		IdleTimeout:       s.o.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(s.CloseStreams)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		err := srv.Shutdown(shut)
		<-done
		if errors.Is(err, context.DeadlineExceeded) {
			srv.Close()
			return nil
		}
		return err
	}
}
