package workspace

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
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
	// Renumbered lists the files whose seqs were used twice or went back,
	// written again with seqs that grow (see Renumbered).
	Renumbered []Renumbered `json:"renumbered"`
	// Remaining lists the problems repair cannot fix, per file.
	Remaining []FileReport `json:"remaining"`
	// Trashed lists the sessions whose conversation had been moved into
	// another (ProblemUnfinishedMove) and that repair put in the trash.
	Trashed []string `json:"trashed"`
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
	if err := w.filesOnly("repair"); err != nil {
		return nil, err
	}
	ids, err := w.sessionIDs()
	if err != nil {
		return nil, err
	}
	rep := &RepairReport{DryRun: o.DryRun, SetAside: []SetAside{}, Headers: []string{}, Renumbered: []Renumbered{}, Remaining: []FileReport{}, Trashed: []string{}}
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
	if err := s.w.filesOnly("repair"); err != nil {
		return nil, err
	}
	rep := &RepairReport{DryRun: o.DryRun, SetAside: []SetAside{}, Headers: []string{}, Renumbered: []Renumbered{}, Remaining: []FileReport{}, Trashed: []string{}}
	return rep, s.repair(ctx, o, rep)
}

func (s *Session) repair(ctx context.Context, o RepairOptions, rep *RepairReport) error {
	lk, err := s.w.lock(ctx, s.st)
	if err != nil {
		return err
	}
	defer lk.unlock()
	s.st.known = false
	s.st.dropSyncEpoch() // the file may be cut back (syncqueue.go)
	fr, err := s.w.checkFile(ctx, s.id)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var bad []Problem
	renumber := false
	rest := fr
	rest.Problems = nil
	for _, m := range fr.moves {
		if err := s.w.finishMove(ctx, m, o.DryRun, rep); err != nil {
			return err
		}
	}
	for _, p := range fr.Problems {
		switch {
		case p.Repairable && (p.Kind == ProblemSeqDuplicate || p.Kind == ProblemSeqOrder):
			renumber = true
		case p.Repairable:
			bad = append(bad, p)
		case p.Severity == SeverityError:
			rest.Problems = append(rest.Problems, p)
		}
	}
	if len(rest.Problems) > 0 {
		rep.Remaining = append(rep.Remaining, rest)
	}
	if len(bad) == 0 && !renumber {
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
		if renumber {
			return s.w.renumberFile(fr, true, rep)
		}
		return nil
	}
	if len(bad) > 0 {
		if err := s.w.removeRanges(fr, bad, rep); err != nil {
			return err
		}
	}
	if !renumber {
		return nil
	}
	// Seqs used twice or going back: renumbered, once the damaged bytes
	// are out, on the file as it is now.
	if fr, err = s.w.checkFile(ctx, s.id); err != nil {
		return err
	}
	for _, p := range fr.Problems {
		if p.Kind == ProblemSeqDuplicate || p.Kind == ProblemSeqOrder {
			return s.w.renumberFile(fr, false, rep)
		}
	}
	return nil
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

// Renumbered is what Repair did (or would do) to a file whose seqs are
// used twice or go back (ProblemSeqDuplicate, ProblemSeqOrder: records
// written without the lock): it wrote the records to a new file, each
// with its seq if that is above the one before it, else the one before it
// plus one, so seqs grow by file order again. The records before the
// first conflict keep their seqs, so every <id>:<seq> quoted of them
// keeps its meaning; references (a summary's or checkpoint's through, a
// restore's or checkpoint_delete's checkpoint) follow their record: a
// reused seq means the latest record of that seq before the reference.
type Renumbered struct {
	File string `json:"file"`
	// Line and Seq are the first record given a new seq (its line and its
	// old seq); Records counts the records given a new seq, References
	// the through and checkpoint values changed with them.
	Line       int   `json:"line"`
	Seq        int64 `json:"seq"`
	Records    int   `json:"records"`
	References int   `json:"references"`
	LastSeq    int64 `json:"last_seq"` // the last seq after renumbering
	// Aside is the original file, kept whole ("" in a dry run):
	// <file>.orig-<stamp>.
	Aside string `json:"aside,omitempty"`
}

// renumbering gives the records of a file new seqs (see Renumbered).
type renumbering struct {
	last  int64           // the last seq given
	of    map[int64]int64 // old seq -> new seq of the latest record of that seq
	line  int
	rep   Renumbered
	write func([]byte) error // nil in a dry run
}

// next returns the new seq of a record whose seq was old.
func (r *renumbering) next(old int64) int64 {
	seq := old
	if seq <= r.last {
		seq = r.last + 1
	}
	r.last = seq
	if seq != old {
		if r.rep.Records == 0 {
			r.rep.Line, r.rep.Seq = r.line, old
		}
		r.rep.Records++
	}
	return seq
}

// ref is the new value of a reference to old.
func (r *renumbering) ref(old int64) int64 {
	if n, ok := r.of[old]; ok {
		return n
	}
	return old
}

// renumber reads the complete lines of f (size bytes) and writes them,
// renumbered, through r.write (when not nil). Lines that are not records
// are copied as they are (repair sets corrupt lines aside before).
func (w *Workspace) renumber(f File, size int64, path string, r *renumbering) error {
	r.of = map[int64]int64{}
	_, err := scanLinesBig(io.NewSectionReader(f, 0, size), 0, w.readLimit(), func(line []byte, off int64) error {
		r.line++
		rec, hint := decodeRecord(line)
		if hint != "" {
			return r.emit(line)
		}
		set := map[string]int64{}
		if seq := r.next(rec.Seq); seq != rec.Seq {
			set["seq"] = seq
		}
		switch rec.Type {
		case TypeSummary, TypeCheckpoint:
			if n := r.ref(rec.Through); rec.Through != 0 && n != rec.Through {
				set["through"] = n
			}
		case TypeRestore, TypeCheckpointDelete:
			if n := r.ref(rec.Checkpoint); n != rec.Checkpoint {
				set["checkpoint"] = n
			}
		}
		r.of[rec.Seq] = r.last
		if len(set) == 0 {
			return r.emit(line)
		}
		if _, ok := set["through"]; ok {
			r.rep.References++
		}
		if _, ok := set["checkpoint"]; ok {
			r.rep.References++
		}
		out, err := setInts(line, set)
		if err != nil {
			return fmt.Errorf("line %d: %w", r.line, err)
		}
		return r.emit(out)
	}, func(l bigLine) error {
		// Over the read limit: only its seq is rewritten, in its first
		// bytes; the rest is copied from the file as it is.
		r.line++
		rec, ok := l.record()
		if !ok {
			return fmt.Errorf("line %d: a record of %d bytes over the read limit, not in picosess's shape: its seq cannot be rewritten without reading it whole; move it out by hand", r.line, l.Len)
		}
		seq := r.next(rec.Seq)
		r.of[rec.Seq] = seq
		if r.write == nil {
			return nil
		}
		head := fmt.Appendf(nil, `{"type":%s,"seq":%d,`, strconv.Quote(rec.Type), seq)
		skip := int64(len(fmt.Sprintf(`{"type":%s,"seq":%d,`, strconv.Quote(rec.Type), rec.Seq)))
		if err := r.write(head); err != nil {
			return err
		}
		buf := make([]byte, 64<<10)
		for off, end := l.Off+skip, l.Off+l.Len+1; off < end; {
			n, err := f.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
			if n > 0 {
				if err := r.write(buf[:n]); err != nil {
					return err
				}
				off += int64(n)
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("workspace: renumber %s: %w", path, err)
	}
	r.rep.LastSeq = r.last
	return nil
}

func (r *renumbering) emit(line []byte) error {
	if r.write == nil {
		return nil
	}
	if err := r.write(line); err != nil {
		return err
	}
	return r.write([]byte{'\n'})
}

// setInts returns line with the integer values of the given top-level
// keys replaced, every other byte kept (unknown fields, key order,
// escapes): a renumbered record is the record it was, with new numbers.
func setInts(line []byte, set map[string]int64) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	type span struct {
		start, end int64
		val        int64
	}
	var spans []span
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		key, _ := k.(string)
		v, ok := set[key]
		if !ok {
			continue
		}
		end := dec.InputOffset()
		start := end - int64(len(raw))
		if _, err := strconv.ParseInt(string(raw), 10, 64); err != nil || string(line[start:end]) != string(raw) {
			return nil, fmt.Errorf("%q is not an integer", key)
		}
		spans = append(spans, span{start, end, v})
	}
	out := make([]byte, 0, len(line)+16)
	pos := int64(0)
	for _, s := range spans {
		out = append(out, line[pos:s.start]...)
		out = strconv.AppendInt(out, s.val, 10)
		pos = s.end
	}
	return append(out, line[pos:]...), nil
}

// renumberFile renumbers the session file (fr, just checked under its
// lock) into <file>.repair, keeps the original whole as
// <file>.orig-<stamp>, and renames the new file over it. A crash before
// the rename leaves the original in place (and a stray .repair, and
// perhaps the copy: evidence twice, nothing lost); after it, the new
// file.
func (w *Workspace) renumberFile(fr FileReport, dryRun bool, rep *RepairReport) error {
	path := fr.Path
	f, err := w.fs.OpenFile(path, os.O_RDONLY|noFollow, 0)
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
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("workspace: stat %s: %w", path, err)
	}
	size := fi.Size()
	r := &renumbering{rep: Renumbered{File: path}}
	if dryRun {
		if err := w.renumber(f, size, path, r); err != nil {
			return err
		}
		rep.Renumbered = append(rep.Renumbered, r.rep)
		return nil
	}
	tmp := path + ".repair"
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
	bw := bufio.NewWriterSize(fileWriter{dst}, 64<<10)
	r.write = func(b []byte) error { _, err := bw.Write(b); return err }
	err = w.renumber(f, size, path, r)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// The original, whole, before the new file takes its name.
		r.rep.Aside, err = w.setAside(path, "orig", func(d File) error { return copyRange(d, f, 0, size) })
	}
	if err == nil {
		err = w.fs.Rename(tmp, path)
	}
	if err != nil {
		_ = w.fs.Remove(tmp)
		return fmt.Errorf("workspace: repair %s: renumber: %w", path, err)
	}
	w.syncDir(w.sessionsDir())
	rep.Renumbered = append(rep.Renumbered, r.rep)
	return nil
}

// fileWriter is the io.Writer of a File that writes every byte
// (writeFull), for bufio.
type fileWriter struct{ f File }

func (w fileWriter) Write(b []byte) (int, error) { return writeFull(w.f, b) }
