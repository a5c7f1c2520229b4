package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"syscall"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/index"
)

// ErrorBody is the body of every error the server sends, 404 and 405
// included (docs/http.md lists the codes).
type ErrorBody struct {
	// Error says what went wrong, for people.
	Error string `json:"error"`
	// Code is a stable, machine-readable name: "not_found", "bad_request"...
	Code string `json:"code"`
	// Status repeats the HTTP status.
	Status int `json:"status"`
}

// errorStatus maps what the library says to an HTTP status and a code, in
// this one table, first match wins. Errors the server makes itself
// (*httpError) carry their own.
var errorStatus = []struct {
	err    error
	status int
	code   string
}{
	{index.ErrBadQuery, http.StatusBadRequest, "bad_query"},
	// A trashed session is also not found: the more specific first.
	{workspace.ErrTrashed, http.StatusGone, "trashed"},
	{workspace.ErrNotFound, http.StatusNotFound, "not_found"},
	{workspace.ErrAmbiguous, http.StatusConflict, "ambiguous"},
	{workspace.ErrExists, http.StatusConflict, "exists"},
	{workspace.ErrTimeOrder, http.StatusConflict, "time_order"},
	// A record that means nothing in the session (the message names the
	// record and the field), or one over the workspace's record limit.
	{workspace.ErrInvalidRecord, http.StatusBadRequest, "invalid_record"},
	{workspace.ErrTooLarge, http.StatusRequestEntityTooLarge, "too_large"},
	{workspace.ErrLocked, http.StatusLocked, "locked"},
	{syscall.ENOSPC, http.StatusInsufficientStorage, "no_space"},
	{syscall.EDQUOT, http.StatusInsufficientStorage, "no_space"},
	{syscall.EROFS, http.StatusInternalServerError, "read_only"},
	// Encrypted workspaces (docs/encryption.md): the server was started
	// without the key, or with another one; a record that fails
	// authentication (before ErrCorrupt, which it also matches).
	{workspace.ErrKeyRequired, http.StatusServiceUnavailable, "key_required"},
	{workspace.ErrWrongKey, http.StatusServiceUnavailable, "wrong_key"},
	{workspace.ErrPlaintextSession, http.StatusConflict, "not_encrypted"},
	{workspace.ErrTampered, http.StatusInternalServerError, "tampered"},
	{workspace.ErrIndexOff, http.StatusNotImplemented, "index_off"},
	{workspace.ErrConfig, http.StatusInternalServerError, "config"},
	{workspace.ErrCorrupt, http.StatusInternalServerError, "corrupt"},
	{index.ErrDamaged, http.StatusInternalServerError, "index_damaged"},
	{context.DeadlineExceeded, http.StatusGatewayTimeout, "timeout"},
}

// httpError is an error the server itself decides the status of (bad
// parameters, auth, CSRF...).
type httpError struct {
	status int
	code   string
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, "bad_request", fmt.Sprintf(format, args...)}
}

// statusOf returns the status and code of err.
func statusOf(err error) (int, string) {
	var he *httpError
	if errors.As(err, &he) {
		return he.status, he.code
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return http.StatusRequestEntityTooLarge, "too_large"
	}
	for _, m := range errorStatus {
		if errors.Is(err, m.err) {
			return m.status, m.code
		}
	}
	return http.StatusInternalServerError, "internal"
}

// writeError sends err as an ErrorBody with its status.
func (s *Server) writeError(rw http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away: nobody to tell
	}
	status, code := statusOf(err)
	msg := err.Error()
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		msg = fmt.Sprintf("request body over %d bytes (the server's limit, --max-body)", mb.Limit)
	}
	if status >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	if status == http.StatusLocked || status == http.StatusServiceUnavailable {
		rw.Header().Set("Retry-After", "1")
	}
	writeJSON(rw, status, ErrorBody{Error: msg, Code: code, Status: status})
}

// writeJSON sends v as JSON with status code.
func writeJSON(rw http.ResponseWriter, code int, v any) {
	rw.Header().Set("Content-Type", "application/json; charset=utf-8")
	rw.Header().Set("Cache-Control", "no-store")
	rw.WriteHeader(code)
	enc := json.NewEncoder(rw)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
