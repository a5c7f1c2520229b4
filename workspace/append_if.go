package workspace

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// AppendIf appends recs like Append, but only if check, run under the
// session's lock with the active history as it is at that moment, returns
// nil; otherwise nothing is written and check's error is returned. A
// caller that computed records from an earlier unlocked read (a summary,
// say) uses it to make sure nothing it relied on changed meanwhile.
//
// Folding the active history under the lock costs as much as the history
// is long, and every appender of the session waits meanwhile; a caller
// that read with HistoryMark uses AppendAfter instead, which looks only at
// what was appended since its read.
func (s *Session) AppendIf(ctx context.Context, check func(History) error, recs ...Record) ([]int64, error) {
	for i := range recs {
		if err := validateAppend(&recs[i]); err != nil {
			return nil, fmt.Errorf("workspace: append to %s: record %d: %w", s.id, i+1, err)
		}
	}
	return s.append(ctx, func(v lockedView) ([]Record, error) {
		h, err := v.history(ctx, 0)
		if err != nil {
			return nil, err
		}
		if err := check(h); err != nil {
			return nil, err
		}
		// The importer's path: times are the caller's, and references need
		// only name a record of the right type (a legacy summary may cover
		// messages that were never kept).
		if err := s.checkLocked(ctx, v, recs, &h, checkMode{}, nil); err != nil {
			return nil, err
		}
		return recs, nil
	})
}

// ErrDiverged: the session file no longer continues from a Mark. It was
// replaced (repair, a restore from the trash), cut, or rewritten before
// the mark, so what was read before the mark may no longer be what the
// file holds.
var ErrDiverged = errors.New("workspace: session file no longer continues from the mark")

// Mark is where a read of a session ended: the file it read, the end of
// the complete lines it read, and the last of those lines (its seq, and a
// checksum that tells a file cut and written again apart from the one
// read). A later look reads only what was appended after it (Since,
// AppendAfter). Get one from HistoryMark or Since.
type Mark struct {
	File Identity // the file as it was read
	End  int64    // offset just after the last complete line read
	Seq  int64    // seq of that line's record; 0 if none or unreadable
	sum  uint32   // CRC-32 of that line
}

// HistoryMark is History(ctx, limit), also returning where the read
// ended: what a caller that computes records from the history (a
// summary) gives AppendAfter.
func (s *Session) HistoryMark(ctx context.Context, limit int) (History, Mark, error) {
	f, err := s.openRead()
	if err != nil {
		return History{}, Mark{}, err
	}
	defer f.Close()
	m, err := s.markOf(f)
	if err != nil {
		return History{}, Mark{}, err
	}
	h, err := s.openHistory(foldTail(ctx, f, s.Path(), m.End, limit, s.w.log, s.w.readLimit()))
	if err != nil {
		return History{}, Mark{}, err
	}
	return h, m, nil
}

// Since returns the records appended after m, oldest first, and the mark
// of the file's end now. It reads without the lock, and only the bytes
// after m (plus the line before it, to check that the file still
// continues from m; if not, the error wraps ErrDiverged). Corrupt lines
// are skipped with a warning in the log, as History skips them.
func (s *Session) Since(ctx context.Context, m Mark) ([]Record, Mark, error) {
	f, err := s.openRead()
	if err != nil {
		return nil, Mark{}, err
	}
	defer f.Close()
	now, err := s.markOf(f)
	if err != nil {
		return nil, Mark{}, err
	}
	recs, err := s.since(ctx, f, m, now)
	if err != nil {
		return nil, Mark{}, err
	}
	return recs, now, nil
}

// AppendAfter appends recs like Append, but only if the file still
// continues from m (else the error wraps ErrDiverged) and check, run under
// the session's lock with the records appended after m (oldest first,
// often none), returns nil; otherwise nothing is written and check's error
// is returned. The work under the lock is proportional to what was
// appended after m, not to the history: a caller that read with
// HistoryMark and then worked for a while (a summarizer) does not hold up
// the session's other appenders while its result is validated.
//
// The records are checked as Append checks them, except what they refer
// to: that needs the active history, which only the caller has (it read
// it at m, and check sees what came since). Here a reference need only
// name a record of the right type, as with AppendIf; that a summary's
// Through is a message of the active history is the caller's check
// (summarize's: no reset, restore or other summary came since its read).
func (s *Session) AppendAfter(ctx context.Context, m Mark, check func(since []Record) error, recs ...Record) ([]int64, error) {
	// Copies, with tokens counted here rather than under the lock.
	recs = append([]Record(nil), recs...)
	for i := range recs {
		if err := validateAppend(&recs[i]); err != nil {
			return nil, fmt.Errorf("workspace: append to %s: record %d: %w; nothing was written", s.id, i+1, err)
		}
		if (recs[i].Type == TypeMessage || recs[i].Type == TypeSummary) && recs[i].Tokens == 0 {
			recs[i].Tokens = s.w.opts.CountTokens(recs[i])
		}
	}
	return s.append(ctx, func(v lockedView) ([]Record, error) {
		fi, err := v.f.Stat()
		if err != nil {
			return nil, fmt.Errorf("workspace: stat %s: %w", s.Path(), err)
		}
		got, err := s.since(ctx, v.f, m, Mark{File: identityOf(fi), End: v.end})
		if err != nil {
			return nil, err
		}
		if err := check(got); err != nil {
			return nil, err
		}
		if err := s.checkLocked(ctx, v, recs, nil, checkMode{times: true}, nil); err != nil {
			return nil, err
		}
		return recs, nil
	})
}

// markOf returns the mark of the end of the complete lines of f.
func (s *Session) markOf(f File) (Mark, error) {
	fi, err := f.Stat()
	if err != nil {
		return Mark{}, fmt.Errorf("workspace: stat %s: %w", s.Path(), err)
	}
	end, err := completeEnd(f, fi.Size(), s.Path())
	if err != nil {
		return Mark{}, err
	}
	return markAt(f, s.Path(), identityOf(fi), end, s.w.readLimit())
}

// markAt builds the mark of a file whose complete lines end at end.
func markAt(r io.ReaderAt, path string, id Identity, end, limit int64) (Mark, error) {
	m := Mark{File: id, End: end}
	if end == 0 {
		return m, nil
	}
	line, _, err := newBackReader(r, path, end, limit).prev()
	if err != nil {
		return Mark{}, err
	}
	m.sum = crc32.ChecksumIEEE(line)
	if _, seq, ok := headOf(line); ok {
		m.Seq = seq
	}
	return m, nil
}

// since reads the records between m and now (the same file, later) in f.
func (s *Session) since(ctx context.Context, f io.ReaderAt, m, now Mark) ([]Record, error) {
	if !m.File.SameFile(now.File) || now.End < m.End {
		return nil, fmt.Errorf("workspace: %s: %w", s.Path(), ErrDiverged)
	}
	if m.End > 0 {
		var nl [1]byte
		if _, err := f.ReadAt(nl[:], m.End-1); err != nil {
			return nil, fmt.Errorf("workspace: read %s: %w", s.Path(), err)
		}
		if nl[0] != '\n' {
			return nil, fmt.Errorf("workspace: %s: %w (offset %d no longer ends a line)", s.Path(), ErrDiverged, m.End)
		}
	}
	then, err := markAt(f, s.Path(), now.File, m.End, s.w.readLimit())
	if err != nil {
		return nil, err
	}
	if then.sum != m.sum || then.Seq != m.Seq {
		return nil, fmt.Errorf("workspace: %s: %w (the line before offset %d changed)", s.Path(), ErrDiverged, m.End)
	}
	var out []Record
	_, err = scanLines(io.NewSectionReader(f, m.End, now.End-m.End), m.End, s.w.readLimit(), func(line []byte, off int64) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, hint := decodeRecord(line)
		if hint != "" {
			s.w.log.Warn("corrupt record skipped", "file", s.Path(), "offset", off, "hint", hint)
			return nil
		}
		if err := s.open(&r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("workspace: read %s: %w", s.Path(), err)
	}
	return out, nil
}
