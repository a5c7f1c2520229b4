package workspace

import (
	"context"
	"io"
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
	off, err := findSeq(ctx, f, s.Path(), end, seq)
	if err != nil {
		return Record{}, err
	}
	var rec Record
	var hint string
	_, err = scanLines(io.NewSectionReader(f, off, end-off), off, func(line []byte, _ int64) error {
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
