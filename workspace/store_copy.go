package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// CopyReport says what CopySession did.
type CopyReport struct {
	ID      string `json:"id"`
	Records int    `json:"records"` // in the destination, all verified
	Copied  int    `json:"copied"`  // records written now (0: it was there already)
	Bytes   int64  `json:"bytes"`
}

// ErrCopyDiffers: the destination holds a session of the same id whose
// records are not the source's (not a copy of it, or changed since).
var ErrCopyDiffers = errors.New("workspace: the copy differs from its source")

// CopySession copies session id of src into dst, byte for byte, from
// the files to a store, a store to the files, or between two of either.
// It is resumable and idempotent: what the destination holds already
// must be the start of the source (else an error wrapping ErrCopyDiffers,
// and nothing is written), and only the rest is written. Afterwards
// every record of the destination is compared with the source's, line
// by line: its seq in order and its bytes.
func CopySession(ctx context.Context, src, dst *Workspace, id string) (CopyReport, error) {
	rep := CopyReport{ID: id}
	from, err := src.OpenID(id)
	if err != nil {
		return rep, err
	}
	data, err := completeBytes(from)
	if err != nil {
		return rep, err
	}
	if len(data) == 0 {
		return rep, nil
	}
	to := &Session{w: dst, st: dst.state(id), id: id}
	have, err := to.copyRest(ctx, data)
	if err != nil {
		return rep, err
	}
	rep.Bytes = int64(len(data))
	rep.Copied = bytes.Count(data[have:], []byte{'\n'})
	// Verify: the destination, read back, is the source line by line.
	back, err := completeBytes(to)
	if err != nil {
		return rep, fmt.Errorf("workspace: copy %s: read back: %w", id, err)
	}
	if len(back) < len(data) {
		return rep, fmt.Errorf("%w: session %s: %d bytes written, %d read back", ErrCopyDiffers, id, len(data), len(back))
	}
	back = back[:len(data)] // appended to meanwhile: that is not ours to check
	rep.Records, err = verifyLines("session "+id, data, back)
	return rep, err
}

// verifyLines compares a copy with its source line by line (each line's
// bytes, and the seqs going up) and returns the number of lines.
func verifyLines(what string, data, back []byte) (int, error) {
	var seq int64
	n := 0
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		j := bytes.IndexByte(back, '\n')
		if i < 0 {
			i = len(data)
		}
		a, b := data[:i], back[:max(j, 0)]
		if j != i || !bytes.Equal(a, b) {
			return n, fmt.Errorf("%w: %s: record %d differs after the copy", ErrCopyDiffers, what, n+1)
		}
		if r, hint := decodeRecord(a); hint == "" {
			if r.Seq <= seq && r.Seq != 0 {
				return n, fmt.Errorf("%w: %s: seq %d after %d", ErrCorrupt, what, r.Seq, seq)
			}
			seq = r.Seq
		}
		n++
		data, back = data[min(i+1, len(data)):], back[j+1:]
	}
	if len(back) > 0 {
		return n, fmt.Errorf("%w: %s: the copy holds %d bytes more than the source", ErrCopyDiffers, what, len(back))
	}
	return n, nil
}

// completeBytes reads a session's complete lines.
func completeBytes(s *Session) ([]byte, error) {
	f, err := s.openRead()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	end, err := completeEnd(f, fi.Size(), s.Path())
	if err != nil {
		return nil, err
	}
	b := make([]byte, end)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("workspace: read %s: %w", s.Path(), err)
	}
	return b, nil
}

// copyRest writes what the session lacks of data, after checking that
// what it has is the start of data. It returns the bytes it had.
func (s *Session) copyRest(ctx context.Context, data []byte) (int64, error) {
	w := s.w
	if w.store != nil {
		// The in-process semaphore guards what this process remembers of
		// the session (flushStore takes it too).
		select {
		case s.st.sem <- struct{}{}:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		defer func() { <-s.st.sem }()
		for {
			cur, err := w.store.Stat(ctx, s.id)
			if errors.Is(err, ErrNotFound) {
				cur, err = StoreStat{ID: s.id, Gen: newGen()}, nil
			}
			if err != nil {
				return 0, err
			}
			if err := s.samePrefix(ctx, data, cur.Size); err != nil {
				return 0, err
			}
			if cur.Size == int64(len(data)) {
				return cur.Size, nil
			}
			rest := data[cur.Size:]
			last, n := lastSeqOf(rest)
			first := cur.LastSeq + 1
			_, err = w.store.Append(ctx, StoreAppend{ID: s.id, End: cur.Size, Gen: cur.Gen, Data: rest, First: first, LastSeq: last, Records: n,
				Token: appendToken(), Meta: copyMeta(rest), Now: w.opts.Now()})
			var ce *ConflictError
			if errors.As(err, &ce) {
				continue // written meanwhile: look again
			}
			s.st.known = false
			return cur.Size, err
		}
	}
	lk, err := w.lock(ctx, s.st)
	if err != nil {
		return 0, err
	}
	defer lk.unlock()
	path := s.Path()
	f, err := w.fs.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE|noFollow, 0o644)
	if err != nil {
		if nr := w.inTheWay(path); nr != nil {
			return 0, nr
		}
		return 0, fmt.Errorf("workspace: open %s: %w", path, err)
	}
	if err := regularOpen(f, path); err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end, err := completeEnd(f, fi.Size(), path)
	if err != nil {
		return 0, err
	}
	if end < fi.Size() {
		// An interrupted copy's last line, or a crash's: kept aside.
		if err := w.setTornAside(f, path, end, fi.Size()); err != nil {
			return 0, err
		}
	}
	if err := s.samePrefix(ctx, data, end); err != nil {
		return 0, err
	}
	s.st.known = false
	if end == int64(len(data)) {
		return end, nil
	}
	if n, err := writeFull(f, data[end:]); err != nil {
		return 0, s.undoWrite(f, end, fmt.Errorf("workspace: copy to %s: %d of %d bytes written: %w", path, n, len(data)-int(end), err))
	}
	if err := f.Sync(); err != nil {
		return 0, s.undoWrite(f, end, fmt.Errorf("workspace: copy to %s: fsync: %w", path, err))
	}
	if end == 0 {
		w.syncDir(w.sessionsDir())
	}
	w.noteChange(s.id, int64(len(data)))
	return end, nil
}

// samePrefix checks that the session's first n bytes are data's.
func (s *Session) samePrefix(ctx context.Context, data []byte, n int64) error {
	if n == 0 {
		return nil
	}
	if n > int64(len(data)) {
		return fmt.Errorf("%w: session %s: the destination holds %d bytes, the source %d", ErrCopyDiffers, s.id, n, len(data))
	}
	f, err := s.w.fs.OpenFile(s.Path(), os.O_RDONLY|noFollow, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: session %s went away during the copy", ErrCopyDiffers, s.id)
		}
		return err
	}
	defer f.Close()
	have := make([]byte, n)
	if _, err := f.ReadAt(have, 0); err != nil && err != io.EOF {
		return err
	}
	if !bytes.Equal(have, data[:n]) {
		return fmt.Errorf("%w: session %s: the destination's %d bytes are not the start of the source's", ErrCopyDiffers, s.id, n)
	}
	return ctx.Err()
}

// lastSeqOf returns the seq of the last record of complete lines, and
// their count.
func lastSeqOf(b []byte) (int64, int) {
	n := bytes.Count(b, []byte{'\n'})
	lines := bytes.Split(bytes.TrimSuffix(b, []byte{'\n'}), []byte{'\n'})
	for i := len(lines) - 1; i >= 0; i-- {
		if r, hint := decodeRecord(lines[i]); hint == "" {
			return r.Seq, n
		}
	}
	return 0, n
}

// copyMeta derives the store's listing fields from copied lines.
func copyMeta(b []byte) map[string]string {
	m := map[string]string{}
	for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte{'\n'}), []byte{'\n'}) {
		if r, hint := decodeRecord(line); hint == "" {
			storeMeta(m, &r, r.Sealed != nil)
		}
	}
	return m
}
