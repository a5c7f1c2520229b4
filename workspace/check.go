package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/picosess/picosess/keying"
)

// Problem kinds reported by Check.
const (
	ProblemTornTail     = "torn_tail"     // the file does not end in '\n' (repairable)
	ProblemCorruptLine  = "corrupt_line"  // a line that is not a record (repairable)
	ProblemBadHeader    = "bad_header"    // the first record is not a valid header
	ProblemIDMismatch   = "id_mismatch"   // header id differs from the file name
	ProblemIDUnderived  = "id_underived"  // warning: id derives from nothing in the header
	ProblemSeqGap       = "seq_gap"       // warning: seqs skip numbers (lines set aside)
	ProblemSeqDuplicate = "seq_duplicate" // a seq used twice: two writers without the lock (repair renumbers)
	ProblemSeqOrder     = "seq_order"     // a seq smaller than the one before it (repair renumbers)
	// ProblemOversized: warning: a record longer than the read limit
	// (Options.MaxRecordBytes; written by hand or by a version without
	// the limit). Readers pass over it in bounded memory (History.Skipped
	// names it); repair keeps it.
	ProblemOversized = "oversized_record"
	// ProblemInvalidRecord: a whole record whose reference names nothing
	// of its kind before it (written by hand, an older version, or an
	// append that did not check): a summary through a seq that is not a
	// message, a restore or checkpoint_delete of a seq that is not a
	// checkpoint, an aliases record without aliases. An error that repair
	// sets aside like a corrupt line; for a checkpoint's through only a
	// warning (restores go by the checkpoint's place, not its through).
	ProblemInvalidRecord = "invalid_record"
	// ProblemUnfinishedMove: warning: this session holds the conversation
	// moved from another (an aliases record with continues and moved),
	// but that session is still live: a crash between the copy and the
	// move to the trash. Its messages are searched and exported twice
	// until repair puts it in the trash (when nothing was appended to it
	// since; otherwise it stays, for a person to look at).
	ProblemUnfinishedMove = "unfinished_move"
)

// Severities.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Problem is one defect in a session file.
type Problem struct {
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	Line     int    `json:"line"`   // 1-based; 0 when not about one line
	Offset   int64  `json:"offset"` // byte offset of the bad bytes
	Length   int64  `json:"length"` // number of bad bytes (0 when not about bytes)
	Seq      int64  `json:"seq,omitempty"`
	Hint     string `json:"hint"`
	// Repairable: Repair sets these bytes aside and the problem is gone.
	Repairable bool `json:"repairable"`
}

// FileReport is what Check found in one session file.
type FileReport struct {
	Path     string    `json:"path"`
	ID       string    `json:"id"`
	Size     int64     `json:"size"`
	Records  int       `json:"records"`
	Problems []Problem `json:"problems"`

	rebuildHeader bool      // repair must write a minimal header
	firstAt       time.Time // time of the first valid record, for that header
	moves         []move    // conversations moved into this session
}

// move is an aliases record that says records were moved here from
// another session.
type move struct {
	from  string
	count int64
	seq   int64
}

// CheckReport is what Check found in the workspace.
type CheckReport struct {
	// Files holds every session file checked, sorted by id, then one
	// report per entry of sessions/, sessions/.trash/ or locks/ that is
	// not picosess's (ProblemNotRegular, ProblemForeignFile), sorted by
	// directory and name.
	Files []FileReport `json:"files"`
	// Checked is the number of session files read (the first Checked
	// entries of Files).
	Checked int `json:"checked"`
	// Other lists picosess's own other files in sessions/: set-aside
	// evidence and a repair's leftover. Never a problem by itself.
	Other []OtherFile `json:"other"`
}

// OtherFile is a file of picosess in sessions/ that is not a session.
type OtherFile struct {
	Name string `json:"name"`
	// Kind: "torn" or "corrupt" (bytes set aside, kept as evidence),
	// "original" (a file as it was before repair renumbered its seqs),
	// "repair_leftover" (a crash during repair; the next repair replaces
	// it). Anything else in sessions/ is a problem (ProblemForeignFile,
	// ProblemNotRegular) in Files.
	Kind string `json:"kind"`
	Size int64  `json:"size"`
}

// Errors counts problems of severity error.
func (r *CheckReport) Errors() (repairable, unrepairable int) {
	for _, f := range r.Files {
		for _, p := range f.Problems {
			switch {
			case p.Severity != SeverityError:
			case p.Repairable:
				repairable++
			default:
				unrepairable++
			}
		}
	}
	return repairable, unrepairable
}

// Clean reports whether no file has a problem of severity error.
func (r *CheckReport) Clean() bool {
	a, b := r.Errors()
	return a == 0 && b == 0
}

// Check reads every session file, without locks and without changing
// anything, and reports what is wrong with each (see FileReport); then
// every entry of sessions/, sessions/.trash/ and locks/ that is not a
// regular file or not named as picosess names its files (symbolic links
// included: they are reported, never followed). Files being appended to
// meanwhile may show a torn tail that is only a write in progress; run it
// again, or Repair, which takes the locks.
func (w *Workspace) Check(ctx context.Context) (*CheckReport, error) {
	ids, err := w.sessionIDs()
	if err != nil {
		return nil, err
	}
	rep := &CheckReport{Files: []FileReport{}, Other: w.otherFiles()}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fr, err := w.checkFile(ctx, id)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrNotRegular) {
			continue // gone or replaced meanwhile; the entries below say what is there
		}
		if err != nil {
			return nil, err
		}
		rep.Files = append(rep.Files, fr)
	}
	rep.Checked = len(rep.Files)
	entries, err := w.entryProblems()
	if err != nil {
		return nil, err
	}
	rep.Files = append(rep.Files, entries...)
	return rep, nil
}

// Check checks one session file (see Workspace.Check).
func (s *Session) Check(ctx context.Context) (FileReport, error) {
	return s.w.checkFile(ctx, s.id)
}

// otherFiles lists the files of sessions/ that are not session files.
func (w *Workspace) otherFiles() []OtherFile {
	des, err := w.fs.ReadDir(w.sessionsDir())
	if err != nil {
		return nil
	}
	out := []OtherFile{}
	for _, de := range des {
		name := de.Name()
		kind := evidenceKind(name)
		if kind == "" || !de.Type().IsRegular() {
			continue // a session file, or an entry Check reports as a problem
		}
		var size int64
		if fi, err := de.Info(); err == nil {
			size = fi.Size()
		}
		out = append(out, OtherFile{Name: name, Kind: kind, Size: size})
	}
	return out
}

// sessionIDs lists the ids of live session files, sorted.
func (w *Workspace) sessionIDs() ([]string, error) {
	des, err := w.fs.ReadDir(w.sessionsDir())
	if err != nil {
		return nil, fmt.Errorf("workspace: list %s: %w", w.sessionsDir(), err)
	}
	var ids []string
	for _, de := range des {
		if id := idFromFileName(de.Name()); id != "" && de.Type().IsRegular() {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// checkFile scans one file. Bad byte ranges are the problems with a Length.
func (w *Workspace) checkFile(ctx context.Context, id string) (FileReport, error) {
	path := w.SessionPath(id)
	f, err := w.fs.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		if nr := w.inTheWay(path); nr != nil {
			return FileReport{}, nr
		}
		return FileReport{}, err
	}
	if err := regularOpen(f, path); err != nil {
		return FileReport{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return FileReport{}, fmt.Errorf("workspace: stat %s: %w", path, err)
	}
	fr, err := checkReader(ctx, f, fi.Size(), path, id, w.readLimit())
	if err == nil {
		err = w.checkSealed(ctx, f, fi.Size(), &fr) // encrypt_check.go
	}
	for _, m := range fr.moves {
		if _, err := w.lstatRegular(w.SessionPath(m.from)); err == nil {
			fr.Problems = append(fr.Problems, Problem{Kind: ProblemUnfinishedMove, Severity: SeverityWarning, Seq: m.seq,
				Hint: fmt.Sprintf("the conversation of %s was moved here (%d records), but %s is still in sessions/ (the move was interrupted): its messages are searched and exported twice; repair puts it in the trash", m.from, m.count, m.from)})
		}
	}
	return fr, err
}

// checkReader is the check of the first size bytes of r, a file of
// session id.
func checkReader(ctx context.Context, r io.ReaderAt, size int64, path, id string, limit int64) (FileReport, error) {
	fr := FileReport{Path: path, ID: id, Size: size, Problems: []Problem{}}
	add := func(p Problem) {
		if p.Severity == "" {
			p.Severity = SeverityError
		}
		fr.Problems = append(fr.Problems, p)
	}
	line := 0
	var prev int64
	var header *Record
	var refs refState
	// record checks one record read from line (length bytes with its
	// '\n'; glued: read from behind torn bytes of the line).
	record := func(rec Record, off, length int64, glued bool) {
		fr.Records++
		if header == nil && fr.Records == 1 {
			switch {
			case rec.Type == TypeSession:
				// Line 1 unless corrupt lines (set aside by repair) precede it.
				h := rec
				header = &h
			case rec.Seq > 1:
				// The header is gone (set aside, or never written): seq 1 is
				// free, so repair can put a minimal one back.
				add(Problem{Kind: ProblemBadHeader, Line: line, Offset: off, Seq: rec.Seq, Repairable: true,
					Hint: fmt.Sprintf("no session header: the first record is %q with seq %d; repair writes a header (id only) as seq 1", rec.Type, rec.Seq)})
				fr.rebuildHeader, fr.firstAt = true, rec.At
			default:
				add(Problem{Kind: ProblemBadHeader, Line: line, Offset: off, Seq: rec.Seq,
					Hint: fmt.Sprintf("the first record is %q with seq %d; a session file starts with its session header", rec.Type, rec.Seq)})
			}
		} else if rec.Type == TypeSession {
			add(Problem{Kind: ProblemBadHeader, Line: line, Offset: off, Seq: rec.Seq, Hint: "a second session header in the middle of the file (files glued together?)"})
		}
		switch {
		case prev == 0 && rec.Seq != 1:
			add(Problem{Kind: ProblemSeqGap, Severity: SeverityWarning, Line: line, Offset: off, Seq: rec.Seq, Hint: fmt.Sprintf("the first record has seq %d, not 1", rec.Seq)})
		case prev == 0:
		case rec.Seq == prev:
			add(Problem{Kind: ProblemSeqDuplicate, Line: line, Offset: off, Seq: rec.Seq, Repairable: true,
				Hint: fmt.Sprintf("seq %d appears twice: written without the lock? %s", rec.Seq, renumberHint)})
		case rec.Seq < prev:
			add(Problem{Kind: ProblemSeqOrder, Line: line, Offset: off, Seq: rec.Seq, Repairable: true,
				Hint: fmt.Sprintf("seq %d after seq %d. %s", rec.Seq, prev, renumberHint)})
		case rec.Seq > prev+1:
			add(Problem{Kind: ProblemSeqGap, Severity: SeverityWarning, Line: line, Offset: off, Seq: rec.Seq, Hint: fmt.Sprintf("seqs %d..%d are missing (set aside by a repair, or lost)", prev+1, rec.Seq-1)})
		}
		if rec.Seq > prev {
			prev = rec.Seq
		}
		if rec.Type == TypeAliases && rec.Moved > 0 && keying.IsID(rec.Continues) {
			fr.moves = append(fr.moves, move{from: rec.Continues, count: rec.Moved, seq: rec.Seq})
		}
		if field, why, removable := refs.check(&rec); field != "" {
			p := Problem{Kind: ProblemInvalidRecord, Line: line, Offset: off, Seq: rec.Seq,
				Hint: fmt.Sprintf("%s: %s; the record means nothing", field, why)}
			if removable && !glued {
				p.Length, p.Repairable = length, true
				p.Hint += "; repair sets it aside"
			} else {
				p.Severity = SeverityWarning
			}
			add(p)
		}
	}
	// A line over the read limit is not held: what its first bytes say is
	// checked, and it is reported.
	big := func(l bigLine) error {
		line++
		rec, ok := l.record()
		add(Problem{Kind: ProblemOversized, Severity: SeverityWarning, Line: line, Offset: l.Off, Seq: rec.Seq,
			Hint: fmt.Sprintf("a %s record of %d bytes, over the read limit of %d (Options.MaxRecordBytes): readers pass over it without reading it whole, and show says so; repair keeps it", orUnknown(rec.Type), l.Len, l.Limit)})
		if ok {
			record(rec, l.Off, l.Len+1, false)
		}
		return nil
	}
	end, err := scanLinesBig(io.NewSectionReader(r, 0, size), 0, limit, func(b []byte, off int64) error {
		line++
		if line%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, hint := decodeRecord(b)
		glued := false
		if hint != "" {
			p := Problem{Kind: ProblemCorruptLine, Line: line, Offset: off, Length: int64(len(b)) + 1, Hint: hint, Repairable: true}
			if k, ok := gluedRecord(b); ok {
				// A torn record with a whole one glued after it: only the
				// torn prefix is bad.
				p.Length = int64(k)
				p.Hint = "a torn record glued to a complete one; repair keeps the complete one"
				rec, _ = decodeRecord(b[k:])
				hint, glued = "", true
			}
			add(p)
			if hint != "" {
				return nil
			}
		}
		record(rec, off, int64(len(b))+1, glued)
		return nil
	}, big)
	if err != nil {
		return FileReport{}, fmt.Errorf("workspace: check %s: %w", path, err)
	}
	if end < size {
		add(Problem{Kind: ProblemTornTail, Line: line + 1, Offset: end, Length: size - end, Hint: fmt.Sprintf("%d bytes after the last newline: a write cut short by a crash", size-end), Repairable: true})
	}
	if header != nil {
		checkHeaderID(header, id, add)
	} else if fr.Records == 0 && end > 0 {
		add(Problem{Kind: ProblemBadHeader, Line: 1, Repairable: true,
			Hint: "no valid record at all; repair sets every line aside, and the next append starts the file with a new header"})
	}
	return fr, nil
}

// checkHeaderID compares the header's id with the file name and with the
// ids it may derive from: the scope's signature, the name of a named
// session, or (migrated sessions, Rule B) the first alias.
func checkHeaderID(h *Record, id string, add func(Problem)) {
	if h.ID != id {
		add(Problem{Kind: ProblemIDMismatch, Line: 1, Hint: fmt.Sprintf("header id %q, file name says %s", h.ID, id)})
		return
	}
	if h.Name != "" && keying.NamedID(h.Name) == id {
		return
	}
	if h.Scope != nil && h.Scope.ID() == id {
		return
	}
	if len(h.Aliases) > 0 && keying.Opaque(h.Aliases[0]) == id {
		return
	}
	if h.Scope != nil && keying.MainID(h.Scope.AgentID) == id {
		return
	}
	if h.Scope == nil && h.Name == "" && len(h.Aliases) == 0 {
		return // a bare header: nothing to derive from, nothing to contradict
	}
	add(Problem{Kind: ProblemIDUnderived, Severity: SeverityWarning, Line: 1,
		Hint: "the id is not the hash of the scope's signature, the name, the first alias or the agent's main key (a kept PicoClaw key?)"})
}

// renumberHint says what repair does about seqs used twice or going back.
const renumberHint = "Repair renumbers the records from here on into a new file (those before keep their seqs; references follow their records) and keeps the original as <file>.orig-<time>"

func orUnknown(typ string) string {
	if typ == "" {
		return "(unreadable)"
	}
	return typ
}

// gluedRecord finds a complete record glued after torn bytes in a
// corrupt line and returns where it starts.
func gluedRecord(b []byte) (int, bool) {
	const start = `{"type":"`
	for k := bytes.LastIndex(b, []byte(start)); k > 0; k = bytes.LastIndex(b[:k], []byte(start)) {
		if _, hint := decodeRecord(b[k:]); hint == "" {
			return k, true
		}
	}
	return 0, false
}

// describe renders a problem for logs and messages.
func (p Problem) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", p.Severity, p.Kind)
	if p.Line > 0 {
		fmt.Fprintf(&b, " at line %d", p.Line)
	}
	if p.Length > 0 {
		fmt.Fprintf(&b, " (offset %d, %d bytes)", p.Offset, p.Length)
	}
	fmt.Fprintf(&b, ": %s", p.Hint)
	return b.String()
}
