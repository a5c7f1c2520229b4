package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/picosess/picosess/workspace"
)

// loadConfig reads the workspace config, once, and prints its warnings to
// stderr.
func (a *app) loadConfig() (*workspace.Config, error) {
	if a.cfg != nil {
		return a.cfg, nil
	}
	root, err := a.root()
	if err != nil {
		return nil, err
	}
	cfg, warnings, err := workspace.LoadConfig(root)
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		fmt.Fprintln(a.stderr, "warning:", w)
	}
	a.cfg = cfg
	return cfg, nil
}

// lookup resolves a SESSION argument, adding what to do next to the
// library's not-found and ambiguity errors (which keep their sentinels):
// lookupRef without the seq of an id:seq reference.
func lookup(ctx context.Context, w *workspace.Workspace, ref string) (*workspace.Session, error) {
	r, err := lookupRef(ctx, w, ref)
	return r.Session, err
}

// openSession opens the existing workspace and resolves a SESSION
// argument in it; closeWS closes the workspace.
func (a *app) openSession(ctx context.Context, ref string) (s *workspace.Session, closeWS func(), err error) {
	w, err := a.openWorkspace()
	if err != nil {
		return nil, nil, err
	}
	if s, err = lookup(ctx, w, ref); err != nil {
		w.Close()
		return nil, nil, err
	}
	return s, func() { w.Close() }, nil
}

// writeJSON prints one JSON value and a newline on stdout.
func (a *app) writeJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// parseAge parses a duration for --since and --older-than: Go durations
// (90m, 36h) plus days and weeks (7d, 2w). It must be positive.
func parseAge(flag, s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	var err error
	if n, unit := strings.TrimRight(s, "dw"), strings.TrimLeft(s, "0123456789"); len(n) > 0 && (unit == "d" || unit == "w") {
		var k int
		k, err = strconv.Atoi(n)
		d = time.Duration(k) * 24 * time.Hour
		if unit == "w" {
			d *= 7
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, usageErrorf("%s %q: want a positive duration like 90m, 36h, 7d or 2w", flag, s)
	}
	return d, nil
}

// shortID is an id cut to a prefix Lookup accepts (12 hex digits).
func shortID(id string) string {
	const n = len("sk_v1_") + 12
	if len(id) > n {
		return id[:n]
	}
	return id
}
