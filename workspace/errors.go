package workspace

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// The error vocabulary of the package. Match with errors.Is; the typed
// errors below carry the details and match their sentinel.
var (
	// ErrNotFound: no session (or checkpoint, or trashed session) by that reference.
	ErrNotFound = errors.New("workspace: not found")
	// ErrLocked: a lock could not be taken within the lock timeout.
	ErrLocked = errors.New("workspace: locked")
	// ErrCorrupt: a session file holds bytes that are not valid records.
	ErrCorrupt = errors.New("workspace: corrupt")
	// ErrNotWorkspace: the directory is not (and cannot be made) a workspace.
	ErrNotWorkspace = errors.New("workspace: not a workspace")
	// ErrAmbiguous: a reference matches several sessions.
	ErrAmbiguous = errors.New("workspace: ambiguous reference")
	// ErrExists: the thing to create or restore is already there.
	ErrExists = errors.New("workspace: already exists")
)

// LockedError says who holds a lock that could not be taken.
type LockedError struct {
	Path  string    // the lock file
	PID   int       // holder's pid, 0 if unknown
	Host  string    // holder's host name, "" if unknown
	Since time.Time // when the holder took it, zero if unknown
	Wait  time.Duration
}

func (e *LockedError) Error() string {
	holder := "unknown holder"
	if e.PID != 0 {
		holder = fmt.Sprintf("pid %d on %s", e.PID, e.Host)
		if !e.Since.IsZero() {
			holder += " since " + e.Since.UTC().Format(time.RFC3339)
		}
	}
	return fmt.Sprintf("workspace: %s is locked by %s (waited %s)", e.Path, holder, e.Wait)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// CorruptError locates bytes that are not a valid record.
type CorruptError struct {
	Path   string
	Line   int   // 1-based line number
	Offset int64 // byte offset of the line's start
	Hint   string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("workspace: %s:%d (offset %d): corrupt record: %s", e.Path, e.Line, e.Offset, e.Hint)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// AmbiguousError is a reference that matches several sessions.
type AmbiguousError struct {
	Ref        string
	Candidates []string // sorted
	// By is how the reference matched them (a Match... constant of
	// LookupRef), when known.
	By string
	// Matches describe the candidates, in the order of Candidates, for a
	// person to choose one: set by Lookup and LookupRef.
	Matches []Candidate
}

// Candidate is one session an ambiguous reference matched.
type Candidate struct {
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Updated time.Time `json:"updated"` // last activity
}

func (e *AmbiguousError) Error() string {
	by := ""
	if e.By != "" {
		by = " by " + e.By
	}
	list := strings.Join(e.Candidates, ", ")
	if len(e.Matches) == len(e.Candidates) && len(e.Matches) > 0 {
		parts := make([]string, len(e.Matches))
		for i, c := range e.Matches {
			parts[i] = fmt.Sprintf("%s (%q, last active %s)", c.ID, c.Title, c.Updated.UTC().Format(time.RFC3339))
		}
		list = strings.Join(parts, ", ")
	}
	return fmt.Sprintf("workspace: %q is ambiguous: it matches %d sessions%s: %s", e.Ref, len(e.Candidates), by, list)
}

// Is makes errors.Is(err, ErrAmbiguous) true.
func (e *AmbiguousError) Is(target error) bool { return target == ErrAmbiguous }
