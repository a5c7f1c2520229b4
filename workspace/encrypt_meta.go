package workspace

import (
	"context"
	"io"
	"slices"
)

// openTitle returns e's Meta with the title of an encrypted session, which
// the listing cache does not hold (it is sealed): opened from its record
// when the workspace has the key, else left empty.
func (w *Workspace) openTitle(ctx context.Context, e *metaEntry) Meta {
	m := e.Meta
	if !m.Encrypted || w.opts.Key == nil || m.Title != "" {
		return m
	}
	s := &Session{w: w, st: w.state(m.ID), id: m.ID}
	if e.TitleSeq > 0 {
		if r, err := s.recordBySeq(ctx, e.TitleSeq); err == nil && r.Text != "" {
			m.Title = r.Text
			return m
		}
	}
	if e.FirstUserSeq > 0 {
		if r, err := s.recordBySeq(ctx, e.FirstUserSeq); err == nil {
			m.Title = defaultTitle(r.Content)
		}
	}
	return m
}

// recordBySeq reads and opens the record of seq (found by bisecting).
func (s *Session) recordBySeq(ctx context.Context, seq int64) (Record, error) {
	f, end, err := s.openEnd()
	if err != nil {
		return Record{}, err
	}
	defer f.Close()
	off, err := findSeq(ctx, f, s.Path(), end, seq, s.w.readLimit())
	if err != nil {
		return Record{}, err
	}
	var rec Record
	var hint string
	_, err = scanLines(io.NewSectionReader(f, off, end-off), off, s.w.readLimit(), func(line []byte, _ int64) error {
		rec, hint = decodeRecord(line)
		return io.EOF
	})
	if err != nil && err != io.EOF {
		return Record{}, err
	}
	if hint != "" {
		return Record{}, &CorruptError{Path: s.Path(), Offset: off, Hint: hint}
	}
	return rec, s.open(&rec)
}

// checkpointsClear lists the live checkpoints of a session from their
// clear fields only (seq, through, at; no name): what cleanup needs of an
// encrypted session it has no key for. Without names, a checkpoint
// superseded by a later one of the same name still counts: cleanup then
// keeps a session it could have expired, never the reverse.
func (s *Session) checkpointsClear(ctx context.Context) ([]Checkpoint, error) {
	f, end, err := s.openEnd()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var list []Checkpoint
	_, err = scanLines(io.NewSectionReader(f, 0, end), 0, s.w.readLimit(), func(line []byte, _ int64) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, hint := decodeRecord(line)
		switch {
		case hint != "":
		case r.Type == TypeCheckpoint:
			list = append(list, Checkpoint{Seq: r.Seq, Through: r.Through, At: r.At})
		case r.Type == TypeCheckpointDelete:
			list = slices.DeleteFunc(list, func(c Checkpoint) bool { return c.Seq == r.Checkpoint })
		}
		return nil
	})
	return list, err
}
