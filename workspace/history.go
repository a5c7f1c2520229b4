package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
)

// History is the active history of a session: the fold docs/format.md
// describes ("The active history"), read from the tail of the file.
type History struct {
	// Summary is the latest summary standing in for the messages before
	// Messages, if the walk reached one.
	Summary *Record
	// Messages of the active history, oldest first, the summarized ones
	// left out.
	Messages []Record
	// More is true when the limit cut off older active messages.
	More bool
	// Trimmed counts the messages that history limits left out (Within,
	// Session.Active), TrimmedTokens their tokens.
	Trimmed       int `json:"trimmed,omitempty"`
	TrimmedTokens int `json:"trimmed_tokens,omitempty"`
	// LastSeq is the seq of the last record in the file.
	LastSeq int64
	// Skipped lists the records of the active history over the read limit
	// (Options.MaxRecordBytes; written by hand or by an older version),
	// newest first: the walk passed over them without reading them whole,
	// so they are not among Messages.
	Skipped []Skipped `json:"skipped,omitempty"`
}

// History returns the active history: the messages after the last reset,
// rewound by restores to their checkpoint, with the latest summary
// standing in for the messages it covers. limit > 0 keeps only the newest
// limit messages; the file is then read from the tail only as far as
// needed. The read takes no lock.
func (s *Session) History(ctx context.Context, limit int) (History, error) {
	f, err := s.openRead()
	if err != nil {
		return History{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return History{}, fmt.Errorf("workspace: stat %s: %w", s.Path(), err)
	}
	end, err := completeEnd(f, fi.Size(), s.Path())
	if err != nil {
		return History{}, err
	}
	return s.openHistory(foldTail(ctx, f, s.Path(), end, limit, s.w.log, s.w.readLimit()))
}

// foldTail walks back from end (activeWalk), keeping the newest limit
// messages (all with limit 0).
func foldTail(ctx context.Context, r io.ReaderAt, path string, end int64, limit int, log *slog.Logger, readLimit int64) (History, error) {
	var h History
	a := newActiveWalk(ctx, r, path, end, readLimit, log)
	for {
		m, ok, err := a.next()
		if err != nil {
			return History{}, err
		}
		if !ok {
			break
		}
		if limit > 0 && len(h.Messages) == limit {
			h.More = true
			break
		}
		if m.big != nil {
			a.skip(m)
			continue
		}
		if rec, ok := a.decode(m); ok {
			h.Messages = append(h.Messages, rec)
		}
	}
	slices.Reverse(h.Messages)
	h.Summary, h.LastSeq, h.Skipped = a.summary, a.lastSeq, a.skipped
	return h, nil
}

var errSeqNotFound = errors.New("seq not found")

// findSeq returns the offset of the line holding record seq among the
// lines before end. Seqs grow along the file, so it bisects on offsets
// down to a small range and then scans it: a restore costs O(log n)
// reads, not a walk over everything after its checkpoint.
func findSeq(ctx context.Context, r io.ReaderAt, path string, end, seq, readLimit int64) (int64, error) {
	lo, hi := int64(0), end
	for hi-lo > 64<<10 {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		mid := lo + (hi-lo)/2
		start, line, err := lineAfter(r, mid, hi, readLimit)
		if err != nil {
			return 0, fmt.Errorf("workspace: read %s: %w", path, err)
		}
		if start < 0 {
			hi = mid
			continue
		}
		_, s, ok := headOf(line)
		switch {
		case !ok:
			hi = mid // a corrupt line: narrow conservatively
		case s == seq:
			return start, nil
		case s < seq:
			lo = start
		default:
			hi = start
		}
	}
	found := int64(-1)
	_, err := scanLines(io.NewSectionReader(r, lo, hi-lo), lo, readLimit, func(line []byte, off int64) error {
		if _, s, ok := headOf(line); ok && s == seq {
			found = off
			return io.EOF
		}
		return nil
	})
	if err != nil && err != io.EOF {
		return 0, fmt.Errorf("workspace: read %s: %w", path, err)
	}
	if found < 0 {
		return 0, errSeqNotFound
	}
	return found, nil
}

// lineAfter returns the first line that starts after offset at (strictly)
// and ends before limit, or start -1 if there is none.
func lineAfter(r io.ReaderAt, at, limit, readLimit int64) (int64, []byte, error) {
	buf := make([]byte, 8<<10)
	pos := at
	start := int64(-1)
	var line []byte
	// Of a line over the read limit only the first bytes are kept: they
	// say its type and seq (headOf), all the bisection needs.
	keep := func(b []byte) {
		if lim := int(readLimit); lim > 0 && len(line)+len(b) > lim {
			b = b[:max(lim-len(line), 0)]
		}
		line = append(line, b...)
	}
	for pos < limit {
		n := int64(len(buf))
		if n > limit-pos {
			n = limit - pos
		}
		m, err := r.ReadAt(buf[:n], pos)
		if m == 0 && err != nil {
			return -1, nil, err
		}
		chunk := buf[:m]
		for len(chunk) > 0 {
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				if start >= 0 {
					keep(chunk)
				}
				break
			}
			if start < 0 {
				start = pos + int64(m-len(chunk)) + int64(i) + 1
				chunk = chunk[i+1:]
				continue
			}
			keep(chunk[:i])
			return start, line, nil
		}
		pos += int64(m)
	}
	return -1, nil, nil
}

// Segment is one conversation of a session: the records from one reset
// (or the start of the file) to the next.
type Segment struct {
	Index int `json:"index"` // 0 for the first conversation
	// Reset is the reset record that began the segment; nil for the first.
	Reset *Record `json:"reset,omitempty"`
	// Records of the segment, oldest first: messages, summaries, titles,
	// checkpoints, restores (not the header, not the starting reset).
	Records []Record `json:"records"`
	// Skipped lists the records of the segment over the read limit, which
	// are not among Records (see History.Skipped).
	Skipped []Skipped `json:"skipped,omitempty"`
}

// Messages returns the message records of the segment.
func (g Segment) Messages() []Record {
	var out []Record
	for _, r := range g.Records {
		if r.Type == TypeMessage {
			out = append(out, r)
		}
	}
	return out
}

// Segments reads the whole file and returns every conversation, oldest
// first: the full history, past resets included. For files too big to
// hold, iterate with Records instead.
func (s *Session) Segments(ctx context.Context) ([]Segment, error) {
	segs := []Segment{{Index: 0}}
	skipped := func(sk Skipped) {
		cur := &segs[len(segs)-1]
		cur.Skipped = append(cur.Skipped, sk)
	}
	for e, err := range s.records(ctx, 0, skipped) {
		if err != nil {
			return nil, err
		}
		switch e.Type {
		case TypeSession:
		case TypeReset:
			r := e.Record
			segs = append(segs, Segment{Index: len(segs), Reset: &r})
		default:
			cur := &segs[len(segs)-1]
			cur.Records = append(cur.Records, e.Record)
		}
	}
	return segs, nil
}
