package workspace

import (
	"context"
	"errors"
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

// fold is foldTail keeping offsets: the same walk back from end, which
// stops at a reset, at the messages the latest summary covers, and jumps
// from a restore to its checkpoint. It returns the offset of the summary
// (-1 for none). TestHistoryStreamIsHistory holds the two to the same
// answers.
func (h *HistoryStream) fold(ctx context.Context, r io.ReaderAt, end int64) (int64, error) {
	path, log := h.s.Path(), h.s.w.log
	br := newBackReader(r, path, end, h.s.w.readLimit())
	first := true
	sumAt, through := int64(-1), int64(0)
	for {
		line, off, err := br.prev()
		if err == io.EOF {
			return sumAt, nil
		}
		if err != nil {
			return 0, err
		}
		typ, seq, ok := headOf(line)
		if br.big != nil {
			if ok && first {
				h.LastSeq, first = seq, false
			}
			switch {
			case typ == TypeReset:
				return sumAt, nil
			case typ == TypeMessage && sumAt >= 0 && seq <= through:
				return sumAt, nil
			}
			h.Skipped = append(h.Skipped, br.big.skipped())
			continue
		}
		if !ok {
			log.Warn("corrupt record skipped", "file", path, "offset", off)
			continue
		}
		if first {
			h.LastSeq, first = seq, false
		}
		switch typ {
		case TypeReset:
			return sumAt, nil
		case TypeMessage:
			if sumAt >= 0 && seq <= through {
				return sumAt, nil
			}
			if _, hint := decodeRecord(line); hint != "" {
				log.Warn("corrupt record skipped", "file", path, "offset", off, "hint", hint)
				continue
			}
			h.offsets = append(h.offsets, off)
		case TypeSummary:
			if sumAt >= 0 {
				continue
			}
			rec, hint := decodeRecord(line)
			if hint != "" {
				log.Warn("corrupt record skipped", "file", path, "offset", off, "hint", hint)
				continue
			}
			sumAt, through = off, rec.Through
			if n := len(h.offsets); n > 0 && h.lastSeqAt(r, h.offsets[n-1]) <= rec.Through {
				return sumAt, nil
			}
		case TypeRestore:
			rec, hint := decodeRecord(line)
			if hint != "" || rec.Checkpoint <= 0 || rec.Checkpoint >= seq {
				log.Warn("restore ignored", "file", path, "offset", off, "checkpoint", rec.Checkpoint)
				continue
			}
			at, err := findSeq(ctx, r, path, off, rec.Checkpoint, h.s.w.readLimit())
			if errors.Is(err, errSeqNotFound) {
				log.Warn("restore names a checkpoint not in the file; ignored", "file", path, "seq", seq, "checkpoint", rec.Checkpoint)
				continue
			}
			if err != nil {
				return 0, err
			}
			br = newBackReader(r, path, at, h.s.w.readLimit())
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
}

// lastSeqAt is the seq of the line at off (0 if it cannot be read).
func (h *HistoryStream) lastSeqAt(r io.ReaderAt, off int64) int64 {
	start, line, err := lineAfter(r, off-1, 1<<62, h.s.w.readLimit())
	if err != nil || start != off {
		return 0
	}
	_, seq, _ := headOf(line)
	return seq
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
