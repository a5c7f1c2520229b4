package workspace

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/sys/unix"
)

// This file keeps picosess to the files it made: every file it writes in
// sessions/, sessions/.trash/ and locks/ is opened without following a
// symbolic link and must turn out to be a regular file, and Check reports
// every entry of those directories that is not one of picosess's files.

// noFollow is added to the flags of every open of a file picosess writes:
// a symbolic link at the path makes the open fail (it is not followed to
// a file elsewhere), and a named pipe cannot block it. What was opened is
// then checked to be a regular file (regularOpen).
const noFollow = unix.O_NOFOLLOW | unix.O_NONBLOCK

// lstat is Lstat of the FS when it has one, else os.Lstat.
func (w *Workspace) lstat(path string) (fs.FileInfo, error) {
	if l, ok := w.fs.(interface {
		Lstat(string) (fs.FileInfo, error)
	}); ok {
		return l.Lstat(path)
	}
	return os.Lstat(path)
}

// fileKind says what a file that is not regular is, for messages.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "an irregular file"
}

// notRegularError describes the entry at path, which is not a regular file.
func notRegularError(path string, fi fs.FileInfo) *NotRegularError {
	e := &NotRegularError{Path: path, Kind: fileKind(fi.Mode())}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if t, err := os.Readlink(path); err == nil {
			e.Target = t
		}
	}
	return e
}

// inTheWay explains a failed open of path: a *NotRegularError when the
// entry there is not a regular file (an open with noFollow fails on a
// symbolic link, with ELOOP), else nil.
func (w *Workspace) inTheWay(path string) error {
	fi, err := w.lstat(path)
	if err != nil || fi.Mode().IsRegular() {
		return nil
	}
	return notRegularError(path, fi)
}

// regularOpen checks that f, just opened at path, is a regular file. If
// not, it closes f and returns a *NotRegularError.
func regularOpen(f File, path string) error {
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("workspace: stat %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return notRegularError(path, fi)
	}
	return nil
}

// lstatRegular returns the FileInfo of the regular file at path (not
// following a symbolic link): an error wrapping fs.ErrNotExist when
// nothing is there, a *NotRegularError when something else is.
func (w *Workspace) lstatRegular(path string) (fs.FileInfo, error) {
	fi, err := w.lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegularError(path, fi)
	}
	return fi, nil
}

// Problem kinds of directory entries, reported by Check. Both are errors
// that repair leaves alone: the entry is not picosess's to change.
const (
	// ProblemNotRegular: a symbolic link, directory, named pipe, socket or
	// device in sessions/, sessions/.trash/ or locks/, where picosess keeps
	// only regular files. picosess neither follows nor writes through it.
	ProblemNotRegular = "not_regular"
	// ProblemForeignFile: a regular file in one of those directories
	// whose name is not one picosess gives its files.
	ProblemForeignFile = "foreign_file"
)

// lockFileName matches the names of lock files: <id>.lock, per-session
// locks of other kinds (<id>.summarize.lock) and the index lock.
var lockFileName = regexp.MustCompile(`^(sk_v1_[0-9a-f]{64}(\.[a-z][a-z0-9_-]*)?|` + IndexLockName + `)\` + LockExt + `$`)

// entryProblems reports every entry of sessions/, sessions/.trash/ and
// locks/ that is not a regular file or has a name picosess does not give
// its files there, one FileReport each, sorted by path. Nothing is opened
// or followed. Stray .probe-<pid> files (the write probe of older
// versions of Open) are left out.
func (w *Workspace) entryProblems() ([]FileReport, error) {
	out := []FileReport{}
	dirs := []struct {
		dir   string
		ours  func(string) bool
		names string // the names picosess gives its files there
		where string
	}{
		{w.sessionsDir(), func(n string) bool { return idFromFileName(n) != "" || evidenceKind(n) != "" },
			"sk_v1_<64 hex>.jsonl, and <id>.jsonl.torn-*, .corrupt-*, .orig-*, .repair set aside by appends and repair", "sessions/"},
		{w.trashDir(), func(n string) bool { return trashID(n) != "" },
			"<id>.jsonl and <id>.<stamp>.jsonl", "sessions/.trash/"},
		{w.locksDir(), lockFileName.MatchString,
			"<id>.lock, <id>.summarize.lock and index.lock", "locks/"},
	}
	for _, d := range dirs {
		des, err := w.fs.ReadDir(d.dir)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("workspace: list %s: %w", d.dir, err)
		}
		for _, de := range des {
			name := de.Name()
			if strings.HasPrefix(name, ".probe-") {
				continue
			}
			path := filepath.Join(d.dir, name)
			if d.dir == w.sessionsDir() && name == TrashDir {
				if !de.IsDir() {
					fr := entryReport(w, path, "", ProblemNotRegular,
						"where the trash directory belongs; picosess moves no session there through it. Look at it, then put a directory there")
					out = append(out, fr)
				}
				continue
			}
			ours := d.ours(name)
			if de.Type().IsRegular() && ours {
				continue
			}
			id := idFromFileName(name)
			if d.dir == w.trashDir() {
				id = trashID(name)
			} else if d.dir == w.locksDir() && len(name) >= 70 && checkID(name[:70]) == nil {
				id = name[:70]
			}
			var fr FileReport
			switch {
			case !de.Type().IsRegular() && d.dir == w.sessionsDir() && idFromFileName(name) != "":
				fr = entryReport(w, path, id, ProblemNotRegular,
					"where a session file belongs: picosess does not follow it, so appends to this session are refused, and ls, search and repair skip it. "+
						"Look at it: if it is this session's file, put the file itself here (mv it over the link); else move the entry out of sessions/")
			case !de.Type().IsRegular():
				fr = entryReport(w, path, id, ProblemNotRegular,
					fmt.Sprintf("in %s, where picosess keeps only its own regular files: it neither follows nor writes through it. Look at it, then move it out of %s", d.where, d.where))
			default:
				hint := fmt.Sprintf("not a file picosess writes in %s (it names its files %s)", d.where, d.names)
				switch d.dir {
				case w.sessionsDir():
					hint += ": another program's file, or a workspace pointed at the wrong directory? Move it out; a PicoClaw or OpenClaw session file is imported with picosess migrate"
				case w.trashDir():
					hint += "; picosess rm --purge does not remove it. Move it out"
				default:
					hint += ". Move it out"
				}
				fr = entryReport(w, path, id, ProblemForeignFile, hint)
			}
			out = append(out, fr)
		}
	}
	return out, nil
}

// entryReport is the FileReport of one entry with one unrepairable error.
func entryReport(w *Workspace, path, id, kind, hint string) FileReport {
	fr := FileReport{Path: path, ID: id, Problems: []Problem{}}
	if fi, err := w.lstat(path); err == nil {
		if fi.Mode().IsRegular() {
			fr.Size = fi.Size()
		} else {
			e := notRegularError(path, fi)
			what := e.Kind
			if e.Target != "" {
				what += " to " + e.Target
			}
			hint = what + " " + hint
		}
	}
	fr.Problems = append(fr.Problems, Problem{Kind: kind, Severity: SeverityError, Hint: hint})
	return fr
}

// evidenceKind says which of picosess's set-aside files name is
// ("torn", "corrupt", "original", "repair_leftover"), or "".
func evidenceKind(name string) string {
	i := strings.Index(name, SessionExt+".")
	if i <= 0 || checkID(name[:i]) != nil {
		return ""
	}
	switch rest := name[i+len(SessionExt)+1:]; {
	case strings.HasPrefix(rest, "torn-"):
		return "torn"
	case strings.HasPrefix(rest, "corrupt-"):
		return "corrupt"
	case rest == "repair":
		return "repair_leftover"
	case rest == "convert":
		return "convert_leftover" // encrypt, decrypt or rekey killed before its rename
	case strings.HasPrefix(rest, "orig-"):
		return "original" // the file as it was before repair renumbered it
	}
	return ""
}
