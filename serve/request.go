package serve

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/picosess/picosess/workspace"
)

// lookup resolves the {ref} of the path. An unknown reference is a 404:
// it never becomes a new session.
func (s *Server) lookup(r *http.Request) (*workspace.Session, error) {
	ref := strings.TrimSpace(r.PathValue("ref"))
	if ref == "" {
		return nil, badRequest("empty session reference")
	}
	return s.w.Lookup(r.Context(), ref)
}

// intParam reads a whole-number query parameter within [min, max].
func intParam(r *http.Request, name string, def, min, max int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, badRequest("%s=%q: want a whole number from %d to %d", name, v, min, max)
	}
	return n, nil
}

// seqParam reads a seq query parameter (0 when absent).
func seqParam(r *http.Request, name string) (int64, bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, false, badRequest("%s=%q: want a seq (a whole number >= 0)", name, v)
	}
	return n, true, nil
}

func boolParam(r *http.Request, name string) (bool, error) {
	switch v := r.URL.Query().Get(name); strings.ToLower(v) {
	case "", "0", "false", "no":
		return false, nil
	case "1", "true", "yes":
		return true, nil
	default:
		return false, badRequest("%s=%q: want 1 or 0", name, v)
	}
}

// whenParam parses since/until: a duration back from now (90m, 36h, 7d,
// 2w), a date (2026-01-31) or an RFC 3339 time.
func whenParam(r *http.Request, name string, now time.Time) (time.Time, error) {
	v := strings.TrimSpace(r.URL.Query().Get(name))
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	if d, ok := parseAge(v); ok {
		return now.Add(-d), nil
	}
	return time.Time{}, badRequest("%s=%q: want a duration (90m, 36h, 7d, 2w), a date (2026-01-31) or an RFC 3339 time", name, v)
}

// parseAge parses Go durations plus days and weeks (7d, 2w); positive.
func parseAge(s string) (time.Duration, bool) {
	if n := len(s); n > 1 && (s[n-1] == 'd' || s[n-1] == 'w') {
		k, err := strconv.Atoi(s[:n-1])
		if err != nil || k <= 0 {
			return 0, false
		}
		d := time.Duration(k) * 24 * time.Hour
		if s[n-1] == 'w' {
			d *= 7
		}
		return d, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d > 0
}

// decodeBody decodes a JSON body into v. An empty body leaves v as it is
// when optional.
func decodeBody(r *http.Request, v any, optional bool) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) && optional {
		return nil
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return err
	}
	if err != nil {
		return badRequest("body: %v", err)
	}
	if dec.More() {
		return badRequest("body: one JSON value expected")
	}
	return nil
}
