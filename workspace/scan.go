package workspace

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
)

// scanLines calls fn for every complete line of r (without its '\n'),
// r being positioned at file offset from. It returns the offset after the
// last complete line; bytes after it (a torn tail, or a line being
// written) are not passed to fn. The line slice is valid during fn only.
func scanLines(r io.Reader, from int64, fn func(line []byte, off int64) error) (int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	off := from
	var long []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long, chunk...)
			continue
		}
		if err == io.EOF {
			return off, nil
		}
		if err != nil {
			return off, err
		}
		line := chunk
		if long != nil {
			long = append(long, chunk...)
			line = long
		}
		n := int64(len(line))
		if err := fn(line[:len(line)-1], off); err != nil {
			return off, err
		}
		off += n
		long = nil
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
// the lock and stops at the end of the last complete line; corrupt lines
// are skipped with a warning in the log (Check reports them). The iterator
// yields an error and stops on I/O errors and when ctx is done.
//
// An indexer keeps End and the Identity it read under: when the file no
// longer Continues that identity, it must read again from 0.
func (s *Session) Records(ctx context.Context, from int64) iter.Seq2[Entry, error] {
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
		_, err = scanLines(io.NewSectionReader(f, from, 1<<62), from, func(line []byte, off int64) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			r, hint := decodeRecord(line)
			if hint != "" {
				s.w.log.Warn("corrupt record skipped", "file", s.Path(), "offset", off, "hint", hint)
				return nil
			}
			if !yield(Entry{Record: r, Offset: off, End: off + int64(len(line)) + 1}, nil) {
				return stop
			}
			return nil
		})
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
