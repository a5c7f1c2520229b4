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
	// ErrNotRegular: where picosess keeps one of its files (a session file,
	// a lock file, a trash entry) there is a symbolic link, a directory, a
	// named pipe or another file that is not a regular file. picosess does
	// not follow it or write through it; a person must look at it.
	ErrNotRegular = errors.New("workspace: not a regular file")
	// ErrNoHeader: a session file that is not empty does not start with
	// its session header (a foreign file, another program's JSONL, a header
	// cut short). Nothing is appended to it. A *NoHeaderError matches both
	// ErrNoHeader and ErrCorrupt.
	ErrNoHeader = errors.New("workspace: no session header")
	// ErrInvalidRecord: a record given to append means nothing in the
	// session (a restore of no live checkpoint, a summary through a seq
	// that is not a message of the active history, a seq given by the
	// caller...). Nothing of the call is written; a *RecordError names the
	// record and the field.
	ErrInvalidRecord = errors.New("workspace: invalid record")
	// ErrTooLarge: a record is larger, encoded, than Options.MaxRecordBytes.
	// Nothing of the call is written; a *RecordError says the size and the
	// limit.
	ErrTooLarge = errors.New("workspace: record too large")
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

// NotRegularError is an entry that is not a regular file where picosess
// keeps one (see ErrNotRegular).
type NotRegularError struct {
	Path string
	// Kind says what it is: "a symbolic link", "a directory",
	// "a named pipe (FIFO)", "a socket", "a device", or "not a regular file".
	Kind string
	// Target is where a symbolic link points ("" for anything else).
	Target string
}

func (e *NotRegularError) Error() string {
	what := e.Kind
	if e.Target != "" {
		what += " to " + e.Target
	}
	return fmt.Sprintf("workspace: %s is %s where picosess keeps a file of its own; it does not follow it or write through it, and changed nothing "+
		"(look at it, then put the file itself there or move the entry out; picosess check lists every such entry)", e.Path, what)
}

// Is makes errors.Is(err, ErrNotRegular) true.
func (e *NotRegularError) Is(target error) bool { return target == ErrNotRegular }

// NoHeaderError is a session file that is not empty and does not start
// with its session header (see ErrNoHeader). Nothing was written to it.
type NoHeaderError struct {
	Path string
	Size int64
	// Line, Seq and Type describe the first valid record; Line is 0 when
	// the file holds no valid record at all.
	Line int
	Seq  int64
	Type string
	// Repair says what picosess repair would do about it; "" when it
	// cannot fix it.
	Repair string
	// Migrate is set when the file looks like another program's session
	// file (lines of JSON that are not records), which picosess migrate
	// imports.
	Migrate bool
}

func (e *NoHeaderError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "workspace: %s has no session header, so nothing was appended: ", e.Path)
	if e.Line == 0 {
		fmt.Fprintf(&b, "its %d bytes hold no valid record (another program's file, or a workspace pointed at the wrong directory?)", e.Size)
	} else {
		fmt.Fprintf(&b, "its first record (line %d) is %q with seq %d", e.Line, e.Type, e.Seq)
	}
	if e.Repair != "" {
		fmt.Fprintf(&b, "; picosess repair would %s", e.Repair)
	} else {
		b.WriteString("; picosess repair cannot fix this: move the file out of sessions/ and look at it")
	}
	if e.Migrate {
		b.WriteString("; if it is a PicoClaw or OpenClaw session file, move it out of sessions/ and import it with picosess migrate --from <its workspace> instead")
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNoHeader) and errors.Is(err, ErrCorrupt) true.
func (e *NoHeaderError) Is(target error) bool { return target == ErrNoHeader || target == ErrCorrupt }
