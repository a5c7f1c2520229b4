package workspace

import (
	"context"
	"errors"
	"io"
	"log/slog"
)

// activeWalk walks the active history of a file back from its end: the
// lines after the last reset, jumping from a restore to the line before
// its checkpoint (whose history the restore brings back), down to the
// latest summary and never past the messages it covers. History,
// HistoryStream and HistoryPage are three readings of this one walk; next
// gives them the messages, newest first, and the walk keeps the rest: the
// last seq, the summary, the lines over the read limit passed over.
type activeWalk struct {
	ctx       context.Context
	r         io.ReaderAt
	path      string
	readLimit int64
	log       *slog.Logger
	br        *backReader

	first   bool
	lastSeq int64   // of the file's last line whose head reads
	summary *Record // the latest summary, once met
	sumAt   int64   // its offset (-1: none yet)
	oldest  int64   // seq of the oldest message given so far
	skipped []Skipped
}

// activeLine is a message of the active history: its line (valid until
// the next call of next) and where it lies. A line over the read limit
// has big set and line is its first bytes only; the reader takes it as a
// message of its own or calls skip.
type activeLine struct {
	seq  int64
	line []byte
	off  int64
	big  *bigLine
}

func newActiveWalk(ctx context.Context, r io.ReaderAt, path string, end, readLimit int64, log *slog.Logger) *activeWalk {
	return &activeWalk{ctx: ctx, r: r, path: path, readLimit: readLimit, log: log,
		br: newBackReader(r, path, end, readLimit), first: true, sumAt: -1}
}

// next returns the next message back; ok is false where the active
// history ends.
func (a *activeWalk) next() (m activeLine, ok bool, err error) {
	for {
		if err := a.ctx.Err(); err != nil {
			return activeLine{}, false, err
		}
		line, off, err := a.br.prev()
		if err == io.EOF {
			return activeLine{}, false, nil
		}
		if err != nil {
			return activeLine{}, false, err
		}
		typ, seq, hok := headOf(line)
		if hok && a.first {
			a.lastSeq, a.first = seq, false
		}
		if a.br.big != nil {
			switch {
			case typ == TypeReset || typ == TypeMessage && a.covered(seq):
				return activeLine{}, false, nil
			case typ == TypeMessage:
				a.oldest = seq
				return activeLine{seq: seq, line: line, off: off, big: a.br.big}, true, nil
			}
			a.skipped = append(a.skipped, a.br.big.skipped())
			continue
		}
		if !hok {
			a.log.Warn("corrupt record skipped", "file", a.path, "offset", off)
			continue
		}
		switch typ {
		case TypeReset:
			return activeLine{}, false, nil
		case TypeMessage:
			if a.covered(seq) {
				return activeLine{}, false, nil
			}
			a.oldest = seq
			return activeLine{seq: seq, line: line, off: off}, true, nil
		case TypeSummary:
			if a.summary != nil {
				continue
			}
			rec, hint := decodeRecord(line)
			if hint != "" {
				a.log.Warn("corrupt record skipped", "file", a.path, "offset", off, "hint", hint)
				continue
			}
			a.summary, a.sumAt = &rec, off
			if a.oldest > 0 && a.oldest <= rec.Through {
				// Never happens with records written in order; be safe.
				return activeLine{}, false, nil
			}
		case TypeRestore:
			rec, hint := decodeRecord(line)
			if hint != "" || rec.Checkpoint <= 0 || rec.Checkpoint >= seq {
				a.log.Warn("restore ignored", "file", a.path, "offset", off, "checkpoint", rec.Checkpoint)
				continue
			}
			at, err := findSeq(a.ctx, a.r, a.path, off, rec.Checkpoint, a.readLimit)
			if errors.Is(err, errSeqNotFound) {
				a.log.Warn("restore names a checkpoint not in the file; ignored", "file", a.path, "seq", seq, "checkpoint", rec.Checkpoint)
				continue
			}
			if err != nil {
				return activeLine{}, false, err
			}
			a.br = newBackReader(a.r, a.path, at, a.readLimit)
		}
	}
}

// covered reports whether the summary met stands in for message seq.
func (a *activeWalk) covered(seq int64) bool { return a.summary != nil && seq <= a.summary.Through }

// skip records message m, over the read limit, as passed over.
func (a *activeWalk) skip(m activeLine) { a.skipped = append(a.skipped, m.big.skipped()) }

// decode reads message m's record, or warns and reports false if its
// line does not decode.
func (a *activeWalk) decode(m activeLine) (Record, bool) {
	rec, hint := decodeRecord(m.line)
	if hint != "" {
		a.log.Warn("corrupt record skipped", "file", a.path, "offset", m.off, "hint", hint)
		return Record{}, false
	}
	return rec, true
}
