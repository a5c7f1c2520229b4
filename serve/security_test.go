package serve

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Every response carries the security headers.
func TestSecurityHeaders(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	for _, path := range []string{"/", "/assets/app.js", "/api/sessions", "/api/nope"} {
		resp, _ := ts.do("GET", path, "")
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") ||
			strings.Contains(csp, "unsafe-inline") || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s: headers %v", path, h)
		}
		if h.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%s: CORS without --allow-origin", path)
		}
	}
	// The dashboard has no inline script for the CSP to allow.
	_, b := ts.do("GET", "/", "")
	if strings.Contains(string(b), "<script>") || strings.Contains(string(b), " on") && strings.Contains(string(b), "onclick") {
		t.Fatalf("inline script in index.html")
	}
}

// DNS rebinding: a Host that is not this server's is refused, API and
// dashboard alike; loopback names, the listen address and configured
// names pass.
func TestHostCheck(t *testing.T) {
	ts := newTestServer(t, &Options{Hosts: []string{"notes.example.lan"}}, nil)
	_, port, _ := net.SplitHostPort(ts.ln.Addr().String())
	for _, host := range []string{"evil.example", "evil.example:" + port, "127.0.0.1.nip.io:" + port, "10.0.0.1:" + port} {
		for _, path := range []string{"/api/sessions", "/"} {
			resp, b := ts.do("GET", path, "", "Host", host)
			if resp.StatusCode != http.StatusMisdirectedRequest {
				t.Fatalf("Host %q %s: %d %s", host, path, resp.StatusCode, b)
			}
			if e := checkErrorBody(t, resp, b); e.Code != "host_not_allowed" {
				t.Fatalf("code %q", e.Code)
			}
		}
	}
	for _, host := range []string{"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port, "notes.example.lan:" + port, "app.localhost:" + port} {
		ts.want(http.StatusOK, nil, "GET", "/api/sessions", "", "Host", host)
	}
}

// CSRF: a cross-origin form or text/plain post changes nothing; a
// same-origin JSON request does; an allowed origin gets CORS.
func TestCSRF(t *testing.T) {
	ts := newTestServer(t, &Options{AllowOrigins: []string{"https://app.example"}}, nil)
	ts.session("target", msg("user", "hello"))
	hostile := []struct {
		origin, ct string
		code       int
	}{
		{"http://evil.example", "text/plain", http.StatusForbidden},
		{"http://evil.example", "application/json", http.StatusForbidden},
		{"http://evil.example", "application/x-www-form-urlencoded", http.StatusForbidden},
		{"null", "text/plain", http.StatusForbidden},
		{"", "text/plain", http.StatusUnsupportedMediaType},
		{"", "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"", "multipart/form-data; boundary=x", http.StatusUnsupportedMediaType},
		{ts.base, "text/plain;charset=UTF-8", http.StatusUnsupportedMediaType},
	}
	for _, h := range hostile {
		for _, req := range []struct{ method, path, body string }{
			{"POST", "/api/sessions", `{"name":"csrf"}`},
			{"POST", "/api/sessions/target/records", `{"role":"user","content":"injected"}`},
			{"PUT", "/api/sessions/target/title", `{"title":"pwned"}`},
			{"DELETE", "/api/sessions/target", ``},
		} {
			r, _ := http.NewRequest(req.method, ts.base+req.path, strings.NewReader(req.body))
			if h.origin != "" {
				r.Header.Set("Origin", h.origin)
			}
			r.Header.Set("Content-Type", h.ct)
			resp, err := client.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != h.code {
				t.Fatalf("%s %s Origin %q %s: %d %s", req.method, req.path, h.origin, h.ct, resp.StatusCode, b)
			}
			checkErrorBody(t, resp, b)
		}
	}
	// Nothing changed.
	var m struct {
		Title    string
		Messages int
	}
	ts.want(http.StatusOK, &m, "GET", "/api/sessions/target", "")
	if m.Title != "hello" || m.Messages != 1 {
		t.Fatalf("a hostile request changed the session: %+v", m)
	}
	ts.want(http.StatusNotFound, nil, "GET", "/api/sessions/csrf", "")
	// Cross-site fetch metadata without an Origin is refused too.
	ts.want(http.StatusForbidden, nil, "POST", "/api/sessions", `{"name":"x"}`, "Sec-Fetch-Site", "cross-site")

	// Same origin, JSON: accepted.
	ts.want(http.StatusOK, nil, "PUT", "/api/sessions/target/title", `{"title":"renamed"}`, "Origin", ts.base)
	// The allowed origin: preflight and request get CORS headers.
	r, _ := http.NewRequest("OPTIONS", ts.base+"/api/sessions/target/title", nil)
	r.Header.Set("Origin", "https://app.example")
	r.Header.Set("Access-Control-Request-Method", "PUT")
	resp, err := client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	resp = ts.want(http.StatusOK, nil, "PUT", "/api/sessions/target/title", `{"title":"from app"}`, "Origin", "https://app.example")
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("no CORS for the allowed origin: %v", resp.Header)
	}
	resp = ts.want(http.StatusOK, nil, "GET", "/api/sessions", "", "Origin", "https://other.example")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("CORS for an origin not allowed")
	}
}

// With a token, every /api request needs it; the dashboard's files do not
// (they hold no data).
func TestToken(t *testing.T) {
	ts := newTestServer(t, &Options{Token: "s3cret"}, nil)
	for _, auth := range []string{"", "Bearer wrong", "Basic czNjcmV0", "Bearer", "s3cret"} {
		resp := ts.want(http.StatusUnauthorized, nil, "GET", "/api/sessions", "", "Authorization", auth)
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("401 without WWW-Authenticate")
		}
	}
	ts.want(http.StatusUnauthorized, nil, "GET", "/api/events", "")
	ts.want(http.StatusUnauthorized, nil, "POST", "/api/sessions", `{"name":"x"}`)
	ts.want(http.StatusOK, nil, "GET", "/api/sessions", "", "Authorization", "Bearer s3cret")
	ts.want(http.StatusOK, nil, "GET", "/api/info", "", "Authorization", "bearer s3cret")
	ts.want(http.StatusOK, nil, "GET", "/", "")
	ts.want(http.StatusOK, nil, "GET", "/assets/app.js", "")
}

// A server without a token refuses to serve beyond loopback.
func TestNoTokenBeyondLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:7420": true, "[::1]:7420": true, "localhost:7420": true, "127.1.2.3:1": true,
		"0.0.0.0:7420": false, ":7420": false, "[::]:7420": false, "192.168.1.10:7420": false, "example.org:80": false,
	} {
		if err := CheckListen(addr, ""); (err == nil) != ok {
			t.Errorf("CheckListen(%q): %v", addr, err)
		}
		if err := CheckListen(addr, "tok"); err != nil {
			t.Errorf("CheckListen(%q) with a token: %v", addr, err)
		}
	}
	ts := newTestServer(t, nil, nil)
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Skip("cannot listen on 0.0.0.0:", err)
	}
	defer ln.Close()
	if err := ts.srv.Serve(context.Background(), ln); !errors.Is(err, ErrNoToken) {
		t.Fatalf("Serve on %s without a token: %v", ln.Addr(), err)
	}
}

// Slow headers: a client that never finishes its request headers is cut
// off after ReadHeaderTimeout.
func TestSlowHeaders(t *testing.T) {
	ts := newTestServer(t, &Options{ReadHeaderTimeout: 300 * time.Millisecond}, nil)
	conn, err := net.Dial("tcp", ts.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, "GET /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(conn) // the server closes the connection
	if err != nil {
		t.Fatalf("the connection was not closed by the server: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("closed after %v", d)
	}
}

// An oversized body is a 413 with the JSON error, and nothing is written.
func TestOversizedBody(t *testing.T) {
	ts := newTestServer(t, &Options{MaxBody: 1024}, nil)
	ts.session("big", msg("user", "hello"))
	big := `{"role":"user","content":"` + strings.Repeat("x", 4096) + `"}`
	resp := ts.want(http.StatusRequestEntityTooLarge, nil, "POST", "/api/sessions/big/records", big)
	_ = resp
	_, b := ts.do("POST", "/api/sessions/big/records", big)
	if !strings.Contains(string(b), "1024") || !strings.Contains(string(b), "too_large") {
		t.Fatalf("413 body %s", b)
	}
	ts.want(http.StatusRequestEntityTooLarge, nil, "POST", "/api/records", `{"route":{"channel":"x"},"records":[`+big+`]}`)
	var m struct{ Messages int }
	ts.want(http.StatusOK, &m, "GET", "/api/sessions/big", "")
	if m.Messages != 1 {
		t.Fatalf("an oversized body was written: %+v", m)
	}
}

// Shutdown ends the event streams cleanly (a "bye" event, then the end)
// and Serve returns.
func TestGracefulShutdownClosesStreams(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	srv := ts.srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv2 := srv // the same handler on a second listener we stop ourselves
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv2.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "event: ready") {
			break
		}
	}
	start := time.Now()
	cancel()
	rest, _ := io.ReadAll(rd)
	if !strings.Contains(string(rest), "event: bye") {
		t.Fatalf("no bye event: %q", rest)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if d := time.Since(start); d > ShutdownTimeout {
		t.Fatalf("shutdown took %v", d)
	}
}
