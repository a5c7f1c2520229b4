package workspace

import (
	"bytes"
	"fmt"
	"io"
)

const (
	tailFirstBlock = 16 << 10
	tailMaxBlock   = 1 << 20
)

// backReader returns the complete lines of a file from the last to the
// first, reading blocks backwards from the end. Only the blocks holding the
// lines asked for are read.
type backReader struct {
	r     io.ReaderAt
	path  string
	base  int64  // file offset of data[0]
	data  []byte // file bytes [base, base+len(data))
	end   int64  // lines before this offset are still to be returned
	block int
	limit int64 // the read limit: longer lines are passed over, not held
	// big is set when the line prev returned last was longer than limit:
	// prev returned its first bytes only (see bigLine).
	big *bigLine
}

// newBackReader reads the lines of r that end before end; end must be 0 or
// the offset just after a '\n'.
// Lines longer than limit (0: none) are passed over (see prev).
func newBackReader(r io.ReaderAt, path string, end, limit int64) *backReader {
	return &backReader{r: r, path: path, base: end, end: end, block: tailFirstBlock, limit: limit}
}

// prev returns the line before the last one returned (without its '\n')
// and its offset; io.EOF before the first line. The slice is valid until
// the next call.
//
// A line longer than the read limit is passed over in bounded memory:
// prev returns its first bytes (which say its type and seq when this
// package wrote it), and b.big describes it.
func (b *backReader) prev() ([]byte, int64, error) {
	b.big = nil
	if b.end <= 0 {
		return nil, 0, io.EOF
	}
	// The line is [start, b.end-1); find the '\n' before b.end-1.
	for {
		hi := int(b.end - 1 - b.base)
		if hi < 0 {
			// The block holding this line's '\n' is not read yet.
			if err := b.grow(); err != nil {
				return nil, 0, err
			}
			continue
		}
		if i := bytes.LastIndexByte(b.data[:hi], '\n'); i >= 0 {
			start := b.base + int64(i) + 1
			line := b.data[i+1 : hi]
			b.end = start
			if b.limit > 0 && int64(len(line)) > b.limit {
				// Read whole within the last block, but over the limit all
				// the same: passed over like any longer line.
				b.big = &bigLine{Off: start, Len: int64(len(line)), Limit: b.limit,
					Head: line[:min(len(line), bigHeadBytes)], Tail: line[len(line)-min(len(line), bigTailBytes):]}
				return b.big.Head, start, nil
			}
			return line, start, nil
		}
		if b.limit > 0 && int64(hi) > b.limit {
			return b.passOver()
		}
		if b.base == 0 {
			line := b.data[:hi]
			b.end = 0
			return line, 0, nil
		}
		if err := b.grow(); err != nil {
			return nil, 0, err
		}
	}
}

// passOver finds the start of the line that ends at b.end-1, known to be
// longer than the limit, reading backwards in fixed blocks and keeping
// none of them; it returns the line's first bytes and sets b.big.
func (b *backReader) passOver() ([]byte, int64, error) {
	buf := make([]byte, 64<<10)
	start := int64(0)
	for pos := b.base; pos > 0; {
		n := min(int64(len(buf)), pos)
		if _, err := b.r.ReadAt(buf[:n], pos-n); err != nil {
			return nil, 0, fmt.Errorf("workspace: read %s at %d: %w", b.path, pos-n, err)
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			start = pos - n + int64(i) + 1
			break
		}
		pos -= n
	}
	l := bigLine{Off: start, Len: b.end - 1 - start, Limit: b.limit}
	l.Head = make([]byte, min(l.Len, bigHeadBytes))
	l.Tail = make([]byte, min(l.Len, bigTailBytes))
	if _, err := b.r.ReadAt(l.Head, start); err != nil {
		return nil, 0, fmt.Errorf("workspace: read %s at %d: %w", b.path, start, err)
	}
	if _, err := b.r.ReadAt(l.Tail, b.end-1-int64(len(l.Tail))); err != nil {
		return nil, 0, fmt.Errorf("workspace: read %s at %d: %w", b.path, b.end-1-int64(len(l.Tail)), err)
	}
	b.base, b.data, b.end, b.big = start, nil, start, &l
	return l.Head, start, nil
}

// grow reads the block before base, keeping only what is still needed.
func (b *backReader) grow() error {
	n := int64(b.block)
	if n > b.base {
		n = b.base
	}
	keep := b.data[:b.end-b.base]
	nd := make([]byte, int(n)+len(keep))
	if _, err := b.r.ReadAt(nd[:n], b.base-n); err != nil {
		return fmt.Errorf("workspace: read %s at %d: %w", b.path, b.base-n, err)
	}
	copy(nd[n:], keep)
	b.data = nd
	b.base -= n
	if b.block < tailMaxBlock {
		b.block *= 2
	}
	return nil
}

// completeEnd returns the offset just after the last '\n' of the first size
// bytes of r: the end of the complete lines. Bytes after it are a torn tail
// (or a line still being written, for a reader).
func completeEnd(r io.ReaderAt, size int64, path string) (int64, error) {
	buf := make([]byte, 4096)
	for pos := size; pos > 0; {
		n := int64(len(buf))
		if n > pos {
			n = pos
		}
		if _, err := r.ReadAt(buf[:n], pos-n); err != nil {
			return 0, fmt.Errorf("workspace: read %s at %d: %w", path, pos-n, err)
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return pos - n + int64(i) + 1, nil
		}
		pos -= n
		if len(buf) < tailMaxBlock {
			buf = make([]byte, len(buf)*4)
		}
	}
	return 0, nil
}

// lastSeq walks back from end to the last line that is a valid record and
// returns its seq (0 for a file with no valid record).
func lastSeq(r io.ReaderAt, end int64, path string, limit int64) (int64, error) {
	br := newBackReader(r, path, end, limit)
	for {
		line, _, err := br.prev()
		if err == io.EOF {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		if _, seq, ok := headOf(line); ok {
			return seq, nil
		}
	}
}
