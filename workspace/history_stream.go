package workspace

import (
	"context"
	"fmt"
	"io"
	"slices"
)

// HistoryStream is the active history of a session, as History(ctx, 0)
// folds it, without its messages in memory: the fold keeps where each
// message lies in the file (8 bytes each), and Each reads them forward
// through Records, one at a time. A show or export of a 100 000-message
// history then holds one message at a time instead of all of them.
type HistoryStream struct {
	// History is the fold without Messages: Summary (opened), LastSeq,
	// Skipped. More is false: nothing is cut.
	History
	s       *Session
	offsets []int64 // of the messages' lines, ascending
}

// Len is the number of messages Each yields (len(History(ctx,
// 0).Messages)).
func (h *HistoryStream) Len() int { return len(h.offsets) }

// HistoryStream folds the active history as History(ctx, 0) does, keeping
// only where its messages lie.
func (s *Session) HistoryStream(ctx context.Context) (*HistoryStream, error) {
	f, err := s.openRead()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("workspace: stat %s: %w", s.Path(), err)
	}
	end, err := completeEnd(f, fi.Size(), s.Path())
	if err != nil {
		return nil, err
	}
	h := &HistoryStream{s: s}
	sumAt, err := h.fold(ctx, f, end)
	if err != nil {
		return nil, err
	}
	slices.Reverse(h.offsets)
	if err := h.openSummary(ctx, sumAt); err != nil {
		return nil, err
	}
	return h, nil
}

// openSummary reads the summary at sumAt (none if negative) through
// Records, which opens a sealed record.
func (h *HistoryStream) openSummary(ctx context.Context, sumAt int64) error {
	if sumAt < 0 {
		return nil
	}
	for e, err := range h.s.Records(ctx, sumAt) {
		if err != nil {
			return err
		}
		if e.Offset == sumAt {
			r := e.Record
			h.Summary = &r
		}
		break
	}
	return nil
}

// fold is foldTail keeping offsets: the same walk (activeWalk). It
// returns the offset of the summary (-1 for none).
// TestHistoryStreamIsHistory holds the two to the same answers.
func (h *HistoryStream) fold(ctx context.Context, r io.ReaderAt, end int64) (int64, error) {
	a := newActiveWalk(ctx, r, h.s.Path(), end, h.s.w.readLimit(), h.s.w.log)
	for {
		m, ok, err := a.next()
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		if m.big != nil {
			a.skip(m)
			continue
		}
		if _, ok := a.decode(m); ok {
			h.offsets = append(h.offsets, m.off)
		}
	}
	h.LastSeq, h.Skipped = a.lastSeq, a.skipped
	return a.sumAt, nil
}

// Each calls fn with each message of the active history, oldest first,
// read forward through Records (opened when sealed). An error from fn
// stops it and is returned.
func (h *HistoryStream) Each(ctx context.Context, fn func(Record) error) error {
	if len(h.offsets) == 0 {
		return nil
	}
	next := h.offsets
	for e, err := range h.s.Records(ctx, next[0]) {
		if err != nil {
			return err
		}
		for len(next) > 0 && next[0] < e.Offset {
			next = next[1:] // not a record any more (the file was replaced?)
		}
		if len(next) == 0 {
			return nil
		}
		if e.Offset != next[0] {
			continue
		}
		next = next[1:]
		if err := fn(e.Record); err != nil {
			return err
		}
		if len(next) == 0 {
			return nil
		}
	}
	return nil
}
