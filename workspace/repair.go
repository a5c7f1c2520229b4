package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
)

// RepairOptions tune Repair.
type RepairOptions struct {
	// DryRun reports what would be set aside without changing anything.
	DryRun bool
}

// SetAside is one range of bytes Repair moved out of a session file.
type SetAside struct {
	File   string `json:"file"`   // the session file
	Kind   string `json:"kind"`   // ProblemTornTail, ProblemCorruptLine or ProblemInvalidRecord
	Line   int    `json:"line"`   // 1-based line in the file before repair
	Offset int64  `json:"offset"` // in the file before repair
	Bytes  int64  `json:"bytes"`
	Lines  int    `json:"lines"` // complete lines among those bytes
	Hint   string `json:"hint"`
	// Aside is the file holding the exact bytes ("" in a dry run).
	Aside string `json:"aside,omitempty"`
}

// RepairReport says what Repair did (or, in a dry run, would do) and
// what it cannot fix.
type RepairReport struct {
	DryRun   bool       `json:"dry_run"`
	SetAside []SetAside `json:"set_aside"`
	// Headers lists the files that got a new minimal header (id only)
	// because theirs was missing; the old header's bytes, if any, are
	// among SetAside.
	Headers []string `json:"headers"`
	// Remaining lists the problems repair cannot fix, per file.
	Remaining []FileReport `json:"remaining"`
}

// Repair fixes what Check calls repairable in every session file (it
// never follows a symbolic link: such entries, and files that are not
// picosess's, are listed in Remaining and left as they are): it
// takes each file's lock, copies damaged bytes to <file>.torn-<stamp> or
// <file>.corrupt-<stamp> (exact bytes, synced), then removes them from the
// file: a torn tail by truncation, corrupt lines by writing the good lines
// to a new file renamed over the old one. Nothing is dropped without a
// copy, and the report names every byte range moved. Running it again
// finds nothing to do.
func (w *Workspace) Repair(ctx context.Context, o RepairOptions) (*RepairReport, error) {
	ids, err := w.sessionIDs()
	if err != nil {
		return nil, err
	}
	rep := &RepairReport{DryRun: o.DryRun, SetAside: []SetAside{}, Headers: []string{}, Remaining: []FileReport{}}
	for _, id := range ids {
		s := &Session{w: w, st: w.state(id), id: id}
		if err := s.repair(ctx, o, rep); err != nil && !errors.Is(err, ErrNotRegular) {
			return rep, err
		}
	}
	// Symbolic links and foreign files are not repair's to change: they
	// remain, for a person to look at.
	entries, err := w.entryProblems()
	if err != nil {
		return rep, err
	}
	rep.Remaining = append(rep.Remaining, entries...)
	return rep, nil
}

// Repair repairs one session file (see Workspace.Repair).
func (s *Session) Repair(ctx context.Context, o RepairOptions) (*RepairReport, error) {
	rep := &RepairReport{DryRun: o.DryRun, SetAside: []SetAside{}, Headers: []string{}, Remaining: []FileReport{}}
	return rep, s.repair(ctx, o, rep)
}

func (s *Session) repair(ctx context.Context, o RepairOptions, rep *RepairReport) error {
	lk, err := s.w.lock(ctx, s.st)
	if err != nil {
		return err
	}
	defer lk.unlock()
	s.st.known = false
	fr, err := s.w.checkFile(ctx, s.id)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var bad []Problem
	rest := fr
	rest.Problems = nil
	for _, p := range fr.Problems {
		if p.Repairable {
			bad = append(bad, p)
		} else if p.Severity == SeverityError {
			rest.Problems = append(rest.Problems, p)
		}
	}
	if len(rest.Problems) > 0 {
		rep.Remaining = append(rep.Remaining, rest)
	}
	if len(bad) == 0 {
		return nil
	}
	slices.SortFunc(bad, func(a, b Problem) int { return int(a.Offset - b.Offset) })
	if o.DryRun {
		for _, p := range bad {
			if p.Length > 0 {
				rep.SetAside = append(rep.SetAside, setAsideOf(fr.Path, p, ""))
			}
		}
		if fr.rebuildHeader {
			rep.Headers = append(rep.Headers, fr.Path)
		}
		return nil
	}
	return s.w.removeRanges(fr, bad, rep)
}

func setAsideOf(path string, p Problem, aside string) SetAside {
	lines := 1
	if p.Kind == ProblemTornTail || p.Hint == "a torn record glued to a complete one; repair keeps the complete one" {
		lines = 0
	}
	return SetAside{File: path, Kind: p.Kind, Line: p.Line, Offset: p.Offset, Bytes: p.Length, Lines: lines, Hint: p.Hint, Aside: aside}
}

// removeRanges sets aside the bad ranges of a file (sorted by offset) and
// rewrites it without them. Called under the session lock.
func (w *Workspace) removeRanges(fr FileReport, bad []Problem, rep *RepairReport) error {
	path := fr.Path
	f, err := w.fs.OpenFile(path, os.O_RDWR|noFollow, 0)
	if err != nil {
		if nr := w.inTheWay(path); nr != nil {
			return nr
		}
		return fmt.Errorf("workspace: repair %s: %w", path, err)
	}
	if err := regularOpen(f, path); err != nil {
		return err
	}
	defer f.Close()

	var torn *Problem
	var corrupt []Problem
	for i := range bad {
		switch {
		case bad[i].Kind == ProblemTornTail:
			torn = &bad[i]
		case bad[i].Length > 0:
			corrupt = append(corrupt, bad[i])
		}
	}
	if len(corrupt) > 0 {
		aside, err := w.setAside(path, "corrupt", func(dst File) error {
			for _, p := range corrupt {
				if err := copyRange(dst, f, p.Offset, p.Length); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, p := range corrupt {
			rep.SetAside = append(rep.SetAside, setAsideOf(path, p, aside))
		}
	}
	if torn != nil {
		aside, err := w.setAside(path, "torn", func(dst File) error {
			return copyRange(dst, f, torn.Offset, torn.Length)
		})
		if err != nil {
			return err
		}
		rep.SetAside = append(rep.SetAside, setAsideOf(path, *torn, aside))
	}
	var header []byte
	if fr.rebuildHeader {
		h := Record{Type: TypeSession, Seq: 1, At: fr.firstAt, V: FormatVersion, ID: fr.ID}
		b, err := appendRecord(nil, &h)
		if err != nil {
			return err
		}
		header = append(b, '\n')
	}
	if len(corrupt) == 0 && header == nil {
		if torn == nil {
			return nil
		}
		// Only a torn tail: truncate in place.
		if err := f.Truncate(torn.Offset); err != nil {
			return fmt.Errorf("workspace: repair %s: truncate: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("workspace: repair %s: fsync: %w", path, err)
		}
		return nil
	}
	// Corrupt lines: copy the good ranges to a new file, then rename it
	// over the old one. A crash before the rename leaves the old file and
	// a stray .repair file; after it, the new file.
	end := fr.Size
	if torn != nil {
		end = torn.Offset
	}
	tmp := path + ".repair"
	// A leftover of an earlier repair is overwritten; a symbolic link
	// there is not followed.
	dst, err := w.fs.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|noFollow, 0o644)
	if err != nil {
		if nr := w.inTheWay(tmp); nr != nil {
			return nr
		}
		return fmt.Errorf("workspace: repair %s: %w", path, err)
	}
	if err := regularOpen(dst, tmp); err != nil {
		return err
	}
	if header != nil {
		_, err = writeFull(dst, header)
	}
	pos := int64(0)
	for _, p := range corrupt {
		if err == nil {
			err = copyRange(dst, f, pos, p.Offset-pos)
		}
		pos = p.Offset + p.Length
	}
	if err == nil {
		err = copyRange(dst, f, pos, end-pos)
	}
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.fs.Rename(tmp, path)
	}
	if err != nil {
		_ = w.fs.Remove(tmp)
		return fmt.Errorf("workspace: repair %s: rewrite: %w", path, err)
	}
	w.syncDir(w.sessionsDir())
	if header != nil {
		rep.Headers = append(rep.Headers, path)
	}
	return nil
}
