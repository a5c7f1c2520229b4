package workspace

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"
	"weak"

	"golang.org/x/sys/unix"
)

// The change journal, <root>/cache/changes, tells the search index which
// sessions changed, so that a search need not stat every session file.
// Every append adds one line under the session's lock, after its write
// (and its fsync, when there is one):
//
//	sk_v1_<64 hex> <end offset>\n
//
// It is a hint, never the record of truth: it is not fsynced, a failed
// write is ignored, and the index owner checks the directory and rescans
// every file now and then (docs/search.md, "Change detection"). Lines are
// small single O_APPEND writes, so concurrent writers do not interleave
// on a local filesystem; a line that is not a hint makes the reader rescan.
// The index owner empties the journal once it has read it all (then
// rescans, since a hint written meanwhile may be lost).

// ChangesName is the change journal's file name, under CacheDir.
const ChangesName = "changes"

// journalRecheck is how often a writer checks that its open journal is
// still the file at the path (someone may have deleted it).
const journalRecheck = time.Second

// journalFile is a process's open descriptor of the journal of one
// workspace, kept open between appends (one write per append instead of
// open, write, close).
type journalFile struct {
	mu      sync.Mutex
	fd      int // -1: not open
	ino     uint64
	checked time.Time
	failed  time.Time // last failure to open: not retried for journalRecheck
}

// journals maps a workspace (weakly: a workspace nobody uses is collected,
// and its descriptor closed) to its journal descriptor.
var journals sync.Map // weak.Pointer[Workspace] → *journalFile

// ChangesPath is the change journal, <root>/cache/changes.
func (w *Workspace) ChangesPath() string { return filepath.Join(w.root, CacheDir, ChangesName) }

// noteChange adds the hint that session id now ends at end. It is called
// under the session's lock, after the write; errors are ignored (a lost
// hint is caught by the index's directory check or its rescan).
func (w *Workspace) noteChange(id string, end int64) {
	j := w.journal()
	var b [96]byte
	line := append(append(b[:0], id...), ' ')
	line = append(strconv.AppendInt(line, end, 10), '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	now := time.Now()
	if j.fd >= 0 && now.Sub(j.checked) > journalRecheck {
		var st unix.Stat_t
		if unix.Stat(w.ChangesPath(), &st) != nil || st.Ino != j.ino {
			unix.Close(j.fd)
			j.fd = -1
		}
		j.checked = now
	}
	if j.fd < 0 {
		if now.Sub(j.failed) < journalRecheck {
			return
		}
		if err := j.open(w); err != nil {
			j.failed = now
			w.log.Debug("change journal not written", "path", w.ChangesPath(), "err", err)
			return
		}
		j.checked = now
	}
	_, _ = unix.Write(j.fd, line)
}

func (j *journalFile) open(w *Workspace) error {
	path := w.ChangesPath()
	flags := unix.O_WRONLY | unix.O_APPEND | unix.O_CREAT | unix.O_CLOEXEC | unix.O_NOFOLLOW
	fd, err := unix.Open(path, flags, 0o644)
	if errors.Is(err, unix.ENOENT) && !w.opts.NoCreate {
		if err = os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
			fd, err = unix.Open(path, flags, 0o644)
		}
	}
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return fmt.Errorf("workspace: %s is not a regular file", path)
	}
	j.fd, j.ino = fd, st.Ino
	return nil
}

// journal returns the journal descriptor of w, making it on first use.
func (w *Workspace) journal() *journalFile {
	key := weak.Make(w)
	if j, ok := journals.Load(key); ok {
		return j.(*journalFile)
	}
	j, loaded := journals.LoadOrStore(key, &journalFile{fd: -1})
	if !loaded {
		runtime.AddCleanup(w, func(k weak.Pointer[Workspace]) {
			if j, ok := journals.LoadAndDelete(k); ok {
				j := j.(*journalFile)
				j.mu.Lock()
				if j.fd >= 0 {
					unix.Close(j.fd)
					j.fd = -1
				}
				j.mu.Unlock()
			}
		}, key)
	}
	return j.(*journalFile)
}

// Change is one hint of the change journal: session ID ended at End
// after an append.
type Change struct {
	ID  string
	End int64
}

// ChangeLog is what ReadChanges found.
type ChangeLog struct {
	// File is the journal's identity when it was read (Size: its size).
	File    Identity
	Changes []Change
	// End is just after the last complete line read: where the next read
	// starts.
	End int64
	// Cursor is End with the CRC of the bytes before it, for ReadChangesAt.
	Cursor ChangeCursor
	// Torn reports a line that is not a hint (a torn or foreign write), or
	// a journal emptied since the reader's cursor: hints may be lost, and
	// the reader must look at every file.
	Torn bool
}

// ChangeCursor is where a reader stopped in the change journal: the end of
// the last whole line it read, and the CRC-32C of the bytes before it (at
// most changesTailBytes: more than one line). A journal emptied and written
// past the cursor again since (another reader rotated it) is told apart by
// those bytes: the line that ends there now is another hint.
type ChangeCursor struct {
	End  int64  `json:"end"`
	Tail uint32 `json:"tail"`
}

// changesTailBytes is how much of the journal before a cursor its CRC
// covers: a hint line is at most 93 bytes.
const changesTailBytes = 96

// ReadChanges reads the change journal from offset from (a line start
// that an earlier ReadChanges returned as End, or 0). A journal smaller
// than from was emptied or replaced: the caller compares File with what
// it read before. A missing journal is an error wrapping fs.ErrNotExist.
func (w *Workspace) ReadChanges(from int64) (ChangeLog, error) {
	return w.readChanges(ChangeCursor{End: from}, false)
}

// ReadChangesAt is ReadChanges from a cursor a reader kept: when the bytes
// before it are not those it was taken after, or the journal is shorter,
// the journal was emptied since; the ChangeLog is then Torn and holds the
// hints of the whole journal (and its Cursor, the journal's end).
func (w *Workspace) ReadChangesAt(cur ChangeCursor) (ChangeLog, error) {
	return w.readChanges(cur, true)
}

func (w *Workspace) readChanges(cur ChangeCursor, check bool) (ChangeLog, error) {
	var l ChangeLog
	f, err := os.OpenFile(w.ChangesPath(), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return l, fmt.Errorf("workspace: change journal: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return l, fmt.Errorf("workspace: change journal: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return l, fmt.Errorf("workspace: change journal %s is not a regular file", w.ChangesPath())
	}
	l.File = identityOf(fi)
	from := cur.End
	if from < 0 || from > l.File.Size {
		if !check {
			l.Torn = true
			return l, nil
		}
		from = -1
	}
	start := max(0, from-changesTailBytes)
	buf := make([]byte, l.File.Size-start)
	n, err := f.ReadAt(buf, start)
	if err != nil && err != io.EOF {
		return l, fmt.Errorf("workspace: change journal: %w", err)
	}
	buf = buf[:n]
	if check && from > 0 && crc32.Checksum(buf[:from-start], castagnoli) != cur.Tail {
		from = -1
	}
	if from < 0 {
		// Emptied since the cursor: every hint the journal holds now.
		l.Torn, from = true, 0
		if start > 0 {
			start = 0
			if buf, err = readAllAt(f, l.File.Size); err != nil {
				return l, fmt.Errorf("workspace: change journal: %w", err)
			}
		}
	}
	l.End = from
	seen := make(map[string]int, 16)
	rest := buf[from-start:]
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break // an incomplete line: read it when it is whole
		}
		line := rest[:i]
		rest = rest[i+1:]
		l.End += int64(i + 1)
		c, ok := parseChange(line)
		if !ok {
			l.Torn = true
			continue
		}
		if k, ok := seen[c.ID]; ok {
			l.Changes[k].End = max(l.Changes[k].End, c.End)
			continue
		}
		seen[c.ID] = len(l.Changes)
		l.Changes = append(l.Changes, c)
	}
	l.Cursor = ChangeCursor{End: l.End, Tail: crc32.Checksum(buf[max(0, l.End-changesTailBytes)-start:l.End-start], castagnoli)}
	return l, nil
}

// readAllAt reads the first size bytes of f.
func readAllAt(f *os.File, size int64) ([]byte, error) {
	b := make([]byte, size)
	n, err := f.ReadAt(b, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return b[:n], nil
}

// parseChange parses one journal line.
func parseChange(line []byte) (Change, bool) {
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		return Change{}, false
	}
	id := string(line[:i])
	if checkID(id) != nil {
		return Change{}, false
	}
	end, err := strconv.ParseInt(string(line[i+1:]), 10, 64)
	if err != nil || end < 0 {
		return Change{}, false
	}
	return Change{ID: id, End: end}, true
}

// ResetChanges empties the change journal in place (writers keep their
// descriptors: their next hint lands at the start), creating it and
// cache/ if missing, and returns its identity. A hint written between the
// caller's last read and this is lost: the caller must then look at every
// file.
func (w *Workspace) ResetChanges() (Identity, error) {
	path := w.ChangesPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return Identity{}, fmt.Errorf("workspace: change journal: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return Identity{}, fmt.Errorf("workspace: change journal: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrInvalid
	}
	if err == nil {
		err = f.Truncate(0)
	}
	if err == nil {
		fi, err = f.Stat()
	}
	if err != nil {
		return Identity{}, fmt.Errorf("workspace: change journal %s: %w", path, err)
	}
	return identityOf(fi), nil
}

// SessionsDir is the directory of the live session files, <root>/sessions.
func (w *Workspace) SessionsDir() string { return w.sessionsDir() }

// IdentityOf is the Identity of a file from its FileInfo (as SessionFiles
// gives it), for a caller that stats one session file itself.
func IdentityOf(fi fs.FileInfo) Identity { return identityOf(fi) }
