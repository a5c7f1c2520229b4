package serve

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// The Content-Security-Policy of every response: the dashboard's own
// script and style files only, no inline script, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// ServeHTTP applies the safety rules (docs/http.md, "Safety"), in this
// order, then routes the request:
//
//  1. security headers on every response;
//  2. Host must be loopback, localhost, a listen address or Options.Hosts
//     (DNS rebinding);
//  3. CORS only for Options.AllowOrigins;
//  4. a state-changing request needs a same-origin (or allowed) Origin
//     when it has one, and Content-Type application/json (CSRF);
//  5. /api needs the bearer token when one is set;
//  6. the body is limited to Options.MaxBody.
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	h := rw.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")

	if !s.hostAllowed(r.Host) {
		s.writeError(rw, r, &httpError{http.StatusMisdirectedRequest, "host_not_allowed",
			"Host " + quoteHost(r.Host) + " is not a name of this server (add it with --host)"})
		return
	}
	origin := r.Header.Get("Origin")
	allowed := origin != "" && s.originAllowed(origin)
	if allowed {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "false")
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID")
			h.Set("Access-Control-Max-Age", "600")
			rw.WriteHeader(http.StatusNoContent)
			return
		}
	}
	if unsafeMethod(r.Method) {
		if origin != "" && !allowed && !sameOrigin(origin, r) {
			s.writeError(rw, r, &httpError{http.StatusForbidden, "cross_origin",
				"Origin " + origin + " may not change anything here (same-origin requests only; see --allow-origin)"})
			return
		}
		if origin == "" && r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			s.writeError(rw, r, &httpError{http.StatusForbidden, "cross_origin", "a cross-site request may not change anything here"})
			return
		}
		if !isJSON(r.Header.Get("Content-Type")) {
			s.writeError(rw, r, &httpError{http.StatusUnsupportedMediaType, "content_type",
				"a " + r.Method + " needs Content-Type: application/json"})
			return
		}
	}
	if s.o.Token != "" && (r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/")) && !s.authorized(r) {
		h.Set("WWW-Authenticate", `Bearer realm="picosess"`)
		s.writeError(rw, r, &httpError{http.StatusUnauthorized, "unauthorized",
			"this server needs its token: Authorization: Bearer <token>"})
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(rw, r.Body, s.o.MaxBody)
	}
	s.route(rw, r)
}

func unsafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

func quoteHost(h string) string {
	if len(h) > 100 {
		h = h[:100] + "…"
	}
	return "\"" + h + "\""
}

// hostAllowed reports whether the Host header names this server: a
// loopback address, localhost (or a name under .localhost), a listen
// address, or a configured name. When the server listens on every
// address (0.0.0.0, ::), any IP literal is one of its addresses; a DNS
// name must be configured: a page of another site that rebinds its name
// to this machine sends that name.
func (s *Server) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "" {
		return false
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() {
		return true
	}
	for _, name := range s.o.Hosts {
		if strings.EqualFold(strings.TrimSuffix(name, "."), host) {
			return true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.listen {
		l = strings.Trim(l, "[]")
		if l == host {
			return true
		}
		if lip := net.ParseIP(l); ip != nil && (l == "" || lip != nil && lip.IsUnspecified()) {
			return true
		}
	}
	return false
}

func parseOrigin(origin string) (*url.URL, error) {
	u, err := url.Parse(origin)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Path != "" && u.Path != "/" {
		return nil, errors.New("want scheme://host[:port]")
	}
	return u, nil
}

// sameOrigin reports whether origin is the server's own: same host and
// port as the request's Host.
func sameOrigin(origin string, r *http.Request) bool {
	u, err := parseOrigin(origin)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

func (s *Server) originAllowed(origin string) bool {
	for _, o := range s.o.AllowOrigins {
		if strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}

func (s *Server) authorized(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(auth) < len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(auth[len(prefix):])))
	want := sha256.Sum256([]byte(s.o.Token))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}
