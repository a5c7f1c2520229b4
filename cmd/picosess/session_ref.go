package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/picosess/picosess/workspace"
)

// sessionForms says what a SESSION argument may be, for errors and help.
const sessionForms = "an id or a prefix of one (8+ hex digits, with or without sk_v1_; id:seq as search prints it), " +
	"a signature, a legacy key, a session name, or a title or part of one"

// refError replaces the message of a lookup error for a person and keeps
// the library error (and its sentinel, for the exit code) underneath.
type refError struct {
	msg string
	err error
}

func (e *refError) Error() string { return e.msg }
func (e *refError) Unwrap() error { return e.err }

// lookupRef resolves a SESSION argument (workspace.LookupRef), saying what
// to do next when it names no session or several.
func lookupRef(ctx context.Context, w *workspace.Workspace, ref string) (workspace.Ref, error) {
	r, err := w.LookupRef(ctx, ref)
	var amb *workspace.AmbiguousError
	switch {
	case errors.As(err, &amb):
		return r, &refError{msg: ambiguousMessage(amb), err: err}
	case errors.Is(err, workspace.ErrNotFound):
		return r, fmt.Errorf("%w\n  picosess ls lists the sessions; SESSION is %s", err, sessionForms)
	}
	return r, err
}

// ambiguousMessage lists the candidates one per line: a short id that
// names it, its last activity (local time) and its title.
func ambiguousMessage(amb *workspace.AmbiguousError) string {
	var b strings.Builder
	by := ""
	if amb.By != "" {
		by = " (by " + amb.By + ")"
	}
	fmt.Fprintf(&b, "%q is ambiguous: it matches %d sessions%s:", amb.Ref, len(amb.Candidates), by)
	width := distinctPrefix(amb.Candidates)
	const most = 20
	for i, id := range amb.Candidates {
		if i == most {
			fmt.Fprintf(&b, "\n  ... and %d more", len(amb.Candidates)-most)
			break
		}
		var c workspace.Candidate
		if i < len(amb.Matches) {
			c = amb.Matches[i]
		}
		when := "-               "
		if !c.Updated.IsZero() {
			when = c.Updated.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(&b, "\n  %s  %s  %s", id[:min(len(id), width)], when, clip(c.Title, 60))
	}
	b.WriteString("\n  name one by its id (the first column is enough)")
	if amb.By == workspace.MatchTitlePart || amb.By == workspace.MatchTitle {
		b.WriteString(", or give more of its title")
	}
	return b.String()
}

// distinctPrefix is the length of the shortest prefixes, at least those
// of shortID, that tell the ids apart.
func distinctPrefix(ids []string) int {
	n := len(shortID(strings.Repeat("0", 80)))
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	for i := 1; i < len(sorted); i++ {
		a, b := sorted[i-1], sorted[i]
		k := 0
		for k < len(a) && k < len(b) && a[k] == b[k] {
			k++
		}
		n = max(n, k+1)
	}
	return n
}

// openSessionRef opens the existing workspace and resolves a SESSION
// argument in it, with the seq of an id:seq reference; closeWS closes the
// workspace.
func (a *app) openSessionRef(ctx context.Context, ref string) (r workspace.Ref, closeWS func(), err error) {
	w, err := a.openWorkspace()
	if err != nil {
		return r, nil, err
	}
	if r, err = lookupRef(ctx, w, ref); err != nil {
		w.Close()
		return r, nil, err
	}
	return r, func() { w.Close() }, nil
}

// ago says how long ago t was, roughly, for completion descriptions.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case t.IsZero():
		return ""
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}
