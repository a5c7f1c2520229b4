package serve

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

var update = flag.Bool("update", false, "rewrite docs/screenshots")

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	stopBrowser()
	os.Exit(code)
}

// testServer is a Server on a real loopback listener.
type testServer struct {
	t    testing.TB
	w    *workspace.Workspace
	srv  *Server
	base string // http://127.0.0.1:port
	ln   net.Listener
}

func newTestServer(t testing.TB, o *Options, wo *workspace.Options) *testServer {
	t.Helper()
	w, err := workspace.Open(t.TempDir(), wo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return serveWorkspace(t, w, o)
}

func serveWorkspace(t testing.TB, w *workspace.Workspace, o *Options) *testServer {
	t.Helper()
	srv, err := New(w, o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		srv.Close()
	})
	return &testServer{t: t, w: w, srv: srv, base: "http://" + ln.Addr().String(), ln: ln}
}

var client = &http.Client{Timeout: 30 * time.Second}

// do sends a request; a body that is not "" goes as application/json.
func (ts *testServer) do(method, path, body string, hdr ...string) (*http.Response, []byte) {
	ts.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.base+path, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	if body != "" || method != "GET" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// want sends a request, checks the status and decodes the JSON answer
// into v (when not nil). An error status must come with the error body.
func (ts *testServer) want(code int, v any, method, path, body string, hdr ...string) *http.Response {
	ts.t.Helper()
	resp, b := ts.do(method, path, body, hdr...)
	if resp.StatusCode != code {
		ts.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, code)
	}
	if code >= 400 {
		checkErrorBody(ts.t, resp, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			ts.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp
}

// checkErrorBody checks the documented error body: JSON with error, code
// and the status.
func checkErrorBody(t testing.TB, resp *http.Response, b []byte) ErrorBody {
	t.Helper()
	var e ErrorBody
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error with Content-Type %q: %s", ct, b)
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Error == "" || e.Code == "" || e.Status != resp.StatusCode {
		t.Fatalf("error body %s (status %d): %v", b, resp.StatusCode, err)
	}
	return e
}

func (ts *testServer) session(name string, recs ...workspace.Record) *workspace.Session {
	ts.t.Helper()
	s, err := ts.w.Session(context.Background(), workspace.Target{Name: name})
	if err != nil {
		ts.t.Fatal(err)
	}
	if len(recs) > 0 {
		if _, err := s.Append(context.Background(), recs...); err != nil {
			ts.t.Fatal(err)
		}
	}
	return s
}

func msg(role, content string) workspace.Record {
	return workspace.Record{Type: workspace.TypeMessage, Role: role, Content: content}
}
