package workspace

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
)

// DefaultPageLimit is the number of records a page holds when
// PageOptions.Limit is zero.
const DefaultPageLimit = 50

// PageOptions choose one page of a session, by seq: the records with
// After < seq < Before (0: no bound), the newest Limit of them, or with
// Forward the oldest Limit. A client pages back with Before = the first
// seq it holds, and forward with Forward and After = the last.
type PageOptions struct {
	Before int64 // only seqs < Before; 0: no upper bound
	After  int64 // only seqs > After
	// Forward reads from After on (from the start when After is 0)
	// instead of from Before (or the end) back.
	Forward bool
	Limit   int // 0 means DefaultPageLimit
}

// Page is one page of a session's records, oldest first.
type Page struct {
	// Summary is the summary standing in for the messages before Records
	// (history pages only, when the page reaches the start of the active
	// history).
	Summary *Record  `json:"summary"`
	Records []Record `json:"records"`
	// More is true when records exist beyond the page in the direction it
	// was read: older ones (above After) for a page read backwards, newer
	// ones (below Before) for a page read forwards.
	More bool `json:"more"`
	// LastSeq is the seq of the last record in the file.
	LastSeq int64 `json:"last_seq"`
	// Skipped lists the records of the page over the read limit, which
	// are not among Records (see History.Skipped), oldest first.
	Skipped []Skipped `json:"skipped,omitempty"`
}

func (o PageOptions) limit() int {
	if o.Limit <= 0 {
		return DefaultPageLimit
	}
	return o.Limit
}

func (o PageOptions) inside(seq int64) bool {
	return seq > o.After && (o.Before <= 0 || seq < o.Before)
}

// openEnd opens the session file for reading and returns it with the end
// of its complete lines.
func (s *Session) openEnd() (File, int64, error) {
	f, err := s.openRead()
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("workspace: stat %s: %w", s.Path(), err)
	}
	end, err := completeEnd(f, fi.Size(), s.Path())
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, end, nil
}

// HistoryPage returns one page of the active history (the fold of
// History: messages since the last reset, rewound by restores, the
// summarized ones left out). It walks back from the end of the file like
// History, looking only at the head of each line until it reaches the
// page, so a page near the end of a long session costs little and a page
// deep in it costs a read of the lines after it, never a decode of them.
// Records holds messages only; Summary is set when the page reaches the
// start of the active history and a summary stands in for older messages.
func (s *Session) HistoryPage(ctx context.Context, o PageOptions) (Page, error) {
	f, end, err := s.openEnd()
	if err != nil {
		return Page{}, err
	}
	defer f.Close()
	p, err := foldPage(ctx, f, s.Path(), end, o, s.w)
	if err != nil {
		return Page{}, err
	}
	return p, s.openPage(&p)
}

// foldPage is foldTail bounded by o. Reading backwards, messages above the
// page are only counted by their head; a page read forwards (After) keeps
// the raw lines of its last limit messages seen, which are the oldest.
func foldPage(ctx context.Context, r io.ReaderAt, path string, end int64, o PageOptions, w *Workspace) (Page, error) {
	var p Page
	limit := o.limit()
	a := newActiveWalk(ctx, r, path, end, w.readLimit(), w.log)
	// forwards: raw lines (or a record over the read limit), newest first
	type held struct {
		line []byte
		big  *Skipped
	}
	var window []held
	seen := 0         // forwards: messages inside the bounds
	var msgs []Record // backwards: newest first
	for {
		m, ok, err := a.next()
		if err != nil {
			return Page{}, err
		}
		if !ok || o.After > 0 && m.seq <= o.After {
			break
		}
		if !o.inside(m.seq) {
			continue
		}
		if o.Forward {
			seen++
			if len(window) == limit {
				window = window[1:]
			}
			h := held{line: slices.Clone(m.line)}
			if m.big != nil {
				sk := m.big.skipped()
				h = held{big: &sk}
			}
			window = append(window, h)
			continue
		}
		if len(msgs) == limit {
			p.More = true
			break
		}
		if m.big != nil {
			a.skip(m)
			continue
		}
		if rec, ok := a.decode(m); ok {
			msgs = append(msgs, rec)
		}
	}
	p.LastSeq = a.lastSeq
	summary, skipped := a.summary, a.skipped
	if o.Forward {
		p.More = seen > len(window)
		// window holds the oldest messages seen, newest first.
		for i := len(window) - 1; i >= 0; i-- {
			if window[i].big != nil {
				skipped = append(skipped, *window[i].big)
				continue
			}
			rec, hint := decodeRecord(window[i].line)
			if hint != "" {
				w.log.Warn("corrupt record skipped", "file", path, "hint", hint)
				continue
			}
			p.Records = append(p.Records, rec)
		}
	} else {
		slices.Reverse(msgs)
		p.Records = msgs
	}
	// The summary stands in for the messages before the page when the
	// page starts the active history.
	if summary != nil {
		if o.Forward {
			if o.After <= summary.Through {
				p.Summary = summary
			}
		} else if !p.More {
			p.Summary = summary
		}
	}
	if p.Records == nil {
		p.Records = []Record{}
	}
	// Oldest first, as Records.
	slices.SortFunc(skipped, func(a, b Skipped) int { return cmp.Compare(a.Seq, b.Seq) })
	p.Skipped = skipped
	return p, nil
}

// RecordsPage returns one page of every record of the file (all types,
// the header and past conversations included), by seq. It finds the
// page's start by bisecting on offsets (seqs grow along the file), so any
// page of a session of any size costs a few small reads.
func (s *Session) RecordsPage(ctx context.Context, o PageOptions) (Page, error) {
	f, end, err := s.openEnd()
	if err != nil {
		return Page{}, err
	}
	defer f.Close()
	var p Page
	if p.LastSeq, err = lastSeq(f, end, s.Path(), s.w.readLimit()); err != nil {
		return Page{}, err
	}
	limit := o.limit()
	if o.Forward {
		from, err := seqLowerBound(ctx, f, s.Path(), end, o.After+1, s.w.readLimit())
		if err != nil {
			return Page{}, err
		}
		big := func(b bigLine) error {
			sk := b.skipped()
			switch {
			case sk.Seq > 0 && sk.Seq <= o.After:
				return nil
			case sk.Seq > 0 && !o.inside(sk.Seq):
				return io.EOF
			case len(p.Records) == limit:
				p.More = true
				return io.EOF
			}
			p.Skipped = append(p.Skipped, sk)
			return ctx.Err()
		}
		_, err = scanLinesBig(io.NewSectionReader(f, from, end-from), from, s.w.readLimit(), func(line []byte, off int64) error {
			_, seq, ok := headOf(line)
			if !ok || seq <= o.After {
				return nil
			}
			if !o.inside(seq) {
				return io.EOF
			}
			if len(p.Records) == limit {
				p.More = true
				return io.EOF
			}
			rec, hint := decodeRecord(line)
			if hint != "" {
				s.w.log.Warn("corrupt record skipped", "file", s.Path(), "offset", off, "hint", hint)
				return nil
			}
			p.Records = append(p.Records, rec)
			return ctx.Err()
		}, big)
		if err != nil && err != io.EOF {
			return Page{}, fmt.Errorf("workspace: read %s: %w", s.Path(), err)
		}
	} else {
		upTo := end
		if o.Before > 0 {
			if upTo, err = seqLowerBound(ctx, f, s.Path(), end, o.Before, s.w.readLimit()); err != nil {
				return Page{}, err
			}
		}
		br := newBackReader(f, s.Path(), upTo, s.w.readLimit())
		for {
			line, off, err := br.prev()
			if err == io.EOF {
				break
			}
			if err != nil {
				return Page{}, err
			}
			_, seq, ok := headOf(line)
			if !ok && br.big == nil || ok && !o.inside(seq) {
				continue
			}
			if len(p.Records) == limit {
				p.More = true
				break
			}
			if br.big != nil {
				// Over the read limit: line is its first bytes only.
				p.Skipped = append(p.Skipped, br.big.skipped())
				continue
			}
			rec, hint := decodeRecord(line)
			if hint != "" {
				s.w.log.Warn("corrupt record skipped", "file", s.Path(), "offset", off, "hint", hint)
				continue
			}
			p.Records = append(p.Records, rec)
			if err := ctx.Err(); err != nil {
				return Page{}, err
			}
		}
		slices.Reverse(p.Records)
		slices.Reverse(p.Skipped)
	}
	if p.Records == nil {
		p.Records = []Record{}
	}
	return p, s.openPage(&p)
}

// seqLowerBound returns the offset of the first line, among the complete
// lines before end, whose seq is at least seq (end if there is none). It
// bisects on offsets down to a small range, then scans it.
func seqLowerBound(ctx context.Context, r io.ReaderAt, path string, end, seq, readLimit int64) (int64, error) {
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
		_, s, ok := headOf(line)
		if start < 0 || !ok {
			// A line longer than the range, or a corrupt one: scan the
			// whole range (hi stays a line start, or end).
			break
		}
		switch {
		case s < seq:
			lo = start
		default:
			hi = start
		}
	}
	found := hi
	_, err := scanLinesBig(io.NewSectionReader(r, lo, hi-lo), lo, readLimit, func(line []byte, off int64) error {
		if _, s, ok := headOf(line); ok && s >= seq {
			found = off
			return io.EOF
		}
		return nil
	}, func(b bigLine) error {
		// Over the read limit: its first bytes say its seq.
		if _, s, ok := peekHead(b.Head); ok && s >= seq {
			found = b.Off
			return io.EOF
		}
		return nil
	})
	if err != nil && err != io.EOF {
		return 0, fmt.Errorf("workspace: read %s: %w", path, err)
	}
	return found, nil
}
