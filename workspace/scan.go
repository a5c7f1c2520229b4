package workspace

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"time"
)

// readLimit is the most of one line a reader of w holds (0: no bound):
// the workspace's MaxRecordBytes, at least DefaultMaxRecordBytes, so that
// records an append may write are always read whole. A longer line
// (written by hand, or by an older version without the limit) is passed
// over in bounded memory: only its first and last bytes are kept
// (bigLine), which say its type, seq, time, role and tokens when this
// package wrote it. It is part of the Workspace (Options), never of the
// process: two workspaces with different limits read each by its own.
func (w *Workspace) readLimit() int64 { return w.opts.readLimit }

// readLimitFor is the read limit of a workspace whose appends write
// records of up to max bytes (max < 0: any).
func readLimitFor(max int) int64 {
	switch {
	case max < 0:
		return 0
	case max < DefaultMaxRecordBytes:
		return DefaultMaxRecordBytes
	}
	return int64(max)
}

// Bytes of an oversized line kept to learn what it was.
const (
	bigHeadBytes = 4 << 10
	bigTailBytes = 256
)

// bigLine is a line longer than the read limit, passed over without
// holding it: its offset, its length (without the '\n'), its first and
// last bytes, and the limit it is over.
type bigLine struct {
	Off, Len   int64
	Head, Tail []byte
	Limit      int64
}

// Skipped is a record a reader passed over without reading it whole: its
// line is longer than the read limit (see Options.MaxRecordBytes). What
// its first bytes say is given (Seq is 0 when they do not say).
type Skipped struct {
	Seq    int64     `json:"seq,omitempty"`
	Type   string    `json:"type,omitempty"`
	Role   string    `json:"role,omitempty"`
	At     time.Time `json:"at,omitzero"`
	Offset int64     `json:"offset"`
	Bytes  int64     `json:"bytes"` // the line's length, without its newline
	Limit  int64     `json:"limit"` // the read limit it is over
}

func (l bigLine) skipped() Skipped {
	r, _ := l.record()
	return Skipped{Seq: r.Seq, Type: r.Type, Role: r.Role, At: r.At, Offset: l.Off, Bytes: l.Len, Limit: l.Limit}
}

// record reads what the head and tail of an oversized line say, for a
// line in this package's shape ({"type":"...","seq":N,"at":"...",
// "role":"..." first; "tokens":N near the end): type, seq, at, a
// message's role, tokens. ok is false for any other shape.
func (l bigLine) record() (r Record, ok bool) {
	typ, seq, ok := peekHead(l.Head)
	if !ok {
		return Record{}, false
	}
	r.Type, r.Seq = typ, seq
	rest := l.Head[bytes.Index(l.Head, []byte(`,"seq":`))+1:]
	if i := bytes.Index(rest, []byte(`,"at":"`)); i >= 0 {
		v := rest[i+len(`,"at":"`):]
		if j := bytes.IndexByte(v, '"'); j > 0 {
			r.At, _ = time.Parse(time.RFC3339Nano, string(v[:j]))
			rest = v[j:]
		}
	}
	if typ == TypeMessage && bytes.HasPrefix(rest, []byte(`","role":"`)) {
		v := rest[len(`","role":"`):]
		if j := bytes.IndexByte(v, '"'); j > 0 && j < 32 {
			r.Role = string(v[:j])
		}
	}
	// ,"tokens":N cannot occur inside a JSON string (its quote would be
	// escaped), so the last one is the field.
	if i := bytes.LastIndex(l.Tail, []byte(`,"tokens":`)); i >= 0 {
		v := l.Tail[i+len(`,"tokens":`):]
		n := 0
		for n < len(v) && n < 12 && v[n] >= '0' && v[n] <= '9' {
			r.Tokens = r.Tokens*10 + int(v[n]-'0')
			n++
		}
	}
	return r, !r.At.IsZero()
}

// scanLines calls fn for every complete line of r (without its '\n'),
// r being positioned at file offset from. It returns the offset after the
// last complete line; bytes after it (a torn tail, or a line being
// written) are not passed to fn. The line slice is valid during fn only.
// A line longer than limit (the read limit; 0: none) is not passed to fn
// (see scanLinesBig).
func scanLines(r io.Reader, from, limit int64, fn func(line []byte, off int64) error) (int64, error) {
	return scanLinesBig(r, from, limit, fn, nil)
}

// scanLinesBig is scanLines that passes each line longer than limit to
// big (when not nil) instead of fn, having held only its first and last
// bytes.
func scanLinesBig(r io.Reader, from, limit int64, fn func(line []byte, off int64) error, big func(bigLine) error) (int64, error) {
	// A buffer no bigger than what there is to read: most session files
	// are a few KB, and clearing 64 KB for each of 100 000 of them was a
	// quarter of a catch-up's reading.
	size := 64 << 10
	if sr, ok := r.(*io.SectionReader); ok && sr.Size() < int64(size) {
		size = max(int(sr.Size())+1, 16)
	}
	br := bufio.NewReaderSize(r, size)
	off := from
	var long []byte
	var over *bigLine // the line being passed over
	for {
		chunk, err := br.ReadSlice('\n')
		full := err == bufio.ErrBufferFull
		if err == io.EOF {
			return off, nil // what is left is a torn tail, not a line
		}
		if err != nil && !full {
			return off, err
		}
		if over == nil {
			n := len(long) + len(chunk)
			if !full {
				n-- // the '\n'
			}
			switch {
			case limit > 0 && int64(n) > limit:
				// Too long to hold: keep its head, from now on only its tail.
				long = append(long, chunk...)
				over = &bigLine{Off: off, Len: int64(len(long)), Limit: limit,
					Head: bytes.Clone(long[:min(len(long), bigHeadBytes)]),
					Tail: bytes.Clone(long[len(long)-min(len(long), bigTailBytes):])}
				long = nil
			case full:
				long = append(long, chunk...)
				continue
			default:
				line := chunk
				if long != nil {
					long = append(long, chunk...)
					line = long
				}
				if err := fn(line[:len(line)-1], off); err != nil {
					return off, err
				}
				off += int64(len(line))
				long = nil
				continue
			}
		} else {
			over.Len += int64(len(chunk))
			over.Tail = append(over.Tail, chunk...)
			if k := len(over.Tail) - bigTailBytes; k > 0 {
				over.Tail = append(over.Tail[:0], over.Tail[k:]...)
			}
		}
		if full {
			continue
		}
		// The end of the line passed over.
		over.Len--
		over.Tail = over.Tail[:len(over.Tail)-1]
		if big != nil {
			if err := big(*over); err != nil {
				return off, err
			}
		}
		off += over.Len + 1
		over = nil
	}
}

// Entry is a record read from a session file with its place in the file.
type Entry struct {
	Record
	// Offset is where the record's line starts; End is just after its
	// '\n', the offset to resume reading from.
	Offset, End int64
}

// Records iterates over the records of the session from byte offset from
// (0, or the End of an Entry read before), oldest first. It reads without
// the lock and stops at the end of the last complete line the file held
// when the iteration began; corrupt lines
// are skipped with a warning in the log (Check reports them). The iterator
// yields an error and stops on I/O errors and when ctx is done.
//
// An indexer keeps End and the Identity it read under: when the file no
// longer Continues that identity, it must read again from 0.
func (s *Session) Records(ctx context.Context, from int64) iter.Seq2[Entry, error] {
	return s.records(ctx, from, nil)
}

// records is Records that passes each record over the read limit to
// skipped (when not nil) as well as to the log.
func (s *Session) records(ctx context.Context, from int64, skipped func(Skipped)) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		f, err := s.openRead()
		if err != nil {
			yield(Entry{}, err)
			return
		}
		defer f.Close()
		if from < 0 {
			yield(Entry{}, fmt.Errorf("workspace: read %s: negative offset %d", s.Path(), from))
			return
		}
		if from > 0 {
			var b [1]byte
			if _, err := f.ReadAt(b[:], from-1); err != nil || b[0] != '\n' {
				yield(Entry{}, fmt.Errorf("workspace: read %s: offset %d is not the start of a line (did the file shrink or change?)", s.Path(), from))
				return
			}
		}
		stop := errors.New("stop")
		skip := func(l bigLine) error {
			sk := l.skipped()
			s.w.log.Warn("record over the read limit skipped", "file", s.Path(), "offset", l.Off, "bytes", l.Len, "seq", sk.Seq, "type", sk.Type)
			if skipped != nil {
				skipped(sk)
			}
			return nil
		}
		// Up to the size now: what is appended meanwhile is read next time.
		size := int64(1 << 62)
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = max(fi.Size()-from, 0)
		}
		_, err = scanLinesBig(io.NewSectionReader(f, from, size), from, s.w.readLimit(), func(line []byte, off int64) error {
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
			if !yield(Entry{Record: r, Offset: off, End: off + int64(len(line)) + 1}, nil) {
				return stop
			}
			return nil
		}, skip)
		if err != nil && err != stop {
			yield(Entry{}, fmt.Errorf("workspace: read %s: %w", s.Path(), err))
		}
	}
}

// ReadAll returns every record of the session, oldest first (see Records).
func (s *Session) ReadAll(ctx context.Context) ([]Record, error) {
	var out []Record
	for e, err := range s.Records(ctx, 0) {
		if err != nil {
			return nil, err
		}
		out = append(out, e.Record)
	}
	return out, nil
}
