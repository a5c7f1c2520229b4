package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// Append writes records at the end of the session, in one write, and
// returns their seqs. A whole turn (the user's message, tool calls, tool
// results, the reply) given in one call lands together with consecutive
// seqs, whatever other processes append at the same time.
//
// Append fills Seq, At (when zero; times are stored in UTC) and Tokens of
// messages and summaries (when zero, with Options.CountTokens). The records
// passed in are not modified. It returns when the records are as durable
// as Options.Durability promises. With DurabilityBatch, a call that has
// joined a batch waits for that batch even if ctx ends meanwhile: the
// batch is already being written.
//
// The records are checked first (docs/format.md, "What an append
// accepts"), those that refer to others under the lock, against the file
// as it is and the records before them in the call: Seq must be 0; a time
// given (At) must not be before the session's last record nor the record
// before it (ErrTimeOrder); a summary's Through must be a message of the
// active history (0 only when it holds none); a checkpoint's Through its
// last message (0 when none); a restore or checkpoint_delete must name a
// live checkpoint; an aliases record needs aliases. A record refused
// gives an error wrapping ErrInvalidRecord (a *RecordError naming the
// record and the field), one over Options.MaxRecordBytes ErrTooLarge; in
// either case nothing of the call is written.
func (s *Session) Append(ctx context.Context, recs ...Record) ([]int64, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	// Copies, so the caller's records stay as they were; tokens are
	// counted here, not under the lock (a real tokenizer takes a while).
	recs = append([]Record(nil), recs...)
	look := false
	for i := range recs {
		if err := validateAppend(&recs[i]); err != nil {
			return nil, fmt.Errorf("workspace: append to %s: record %d: %w; nothing was written", s.id, i+1, err)
		}
		if (recs[i].Type == TypeMessage || recs[i].Type == TypeSummary) && recs[i].Tokens == 0 {
			recs[i].Tokens = s.w.opts.CountTokens(recs[i])
		}
		look = look || needsFile(&recs[i])
	}
	if !look {
		// Nothing refers to the file: the records may share a write with
		// other calls' (group commit).
		return s.appendReq(ctx, &appendReq{build: func(lockedView) ([]Record, error) { return recs, nil }, plain: true})
	}
	return s.appendReq(ctx, &appendReq{build: func(v lockedView) ([]Record, error) {
		if err := s.checkLocked(ctx, v, recs, nil, checkMode{times: true, strict: true}, nil); err != nil {
			return nil, err
		}
		return recs, nil
	}})
}

// lockedView is what a record builder sees while the session is locked:
// the file as it is (complete lines only) and its last seq.
type lockedView struct {
	s       *Session
	f       File
	end     int64 // end of the complete lines
	lastSeq int64
}

// history folds the active history of the locked file.
func (v lockedView) history(ctx context.Context, limit int) (History, error) {
	return v.s.openHistory(foldTail(ctx, v.f, v.s.Path(), v.end, limit, v.s.w.log, v.s.w.readLimit()))
}

// appendReq is one call of append: what to write, and what came of it.
type appendReq struct {
	build func(lockedView) ([]Record, error)
	// plain: build returns fixed records and looks at nothing, so its
	// records may share a write with other calls' records.
	plain bool
	seqs  []int64
	err   error
	ch    chan bool // batch only: true = done, false = lead the next flush
}

// append is the append protocol; docs/crash-safety.md explains the
// order. build runs under the lock and returns the records to
// write (nil: only make sure the file exists with its header).
func (s *Session) append(ctx context.Context, build func(lockedView) ([]Record, error)) ([]int64, error) {
	return s.appendReq(ctx, &appendReq{build: build})
}

func (s *Session) appendReq(ctx context.Context, req *appendReq) ([]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.w.opts.Durability == DurabilityBatch {
		return s.appendGrouped(ctx, req)
	}
	s.flush(ctx, []*appendReq{req})
	return req.seqs, req.err
}

// appendGrouped is group commit. Calls queue up; one of them, the leader,
// takes the lock, writes everything queued in one write, unlocks, makes
// the batch durable (syncAfter: its own fsync, or one of another process
// that began after the write), answers the batch and hands the lead to
// the first call that queued meanwhile. Each call returns only after an
// fsync that covers its records.
func (s *Session) appendGrouped(ctx context.Context, req *appendReq) ([]int64, error) {
	st := s.st
	req.ch = make(chan bool, 1)
	st.qmu.Lock()
	st.queue = append(st.queue, req)
	lead := !st.flushing
	st.flushing = true
	shared := st.lastBatch > 1
	st.qmu.Unlock()
	if !lead && <-req.ch {
		return req.seqs, req.err
	}
	// Let the callers the last leader just released queue their next
	// appends too: without this, batches alternate between two halves.
	// A session whose last batch was one call has nobody to wait for.
	if !lead || shared {
		runtime.Gosched()
	}
	st.qmu.Lock()
	batch := st.queue
	st.queue = nil
	st.lastBatch = len(batch)
	st.qmu.Unlock()
	// The others' appends must not fail because this caller gave up.
	s.flush(context.WithoutCancel(ctx), batch)
	for _, r := range batch {
		if r != req {
			r.ch <- true
		}
	}
	// The lead goes on after the fsync: the calls that queued during it
	// make the next batch (handing it on before the fsync made batches
	// smaller, 4.3-4.6x always instead of 5.7-6.9x).
	st.qmu.Lock()
	if len(st.queue) > 0 {
		next := st.queue[0]
		st.qmu.Unlock()
		next.ch <- false
	} else {
		st.flushing = false
		st.qmu.Unlock()
	}
	return req.seqs, req.err
}

// flush takes the lock and appends the records of reqs, setting each
// one's seqs or err. With DurabilityBatch the fsync comes after the
// unlock (syncAfter), so that other processes write meanwhile.
func (s *Session) flush(ctx context.Context, reqs []*appendReq) {
	if s.w.store != nil {
		s.flushStore(ctx, reqs) // store_append.go
		return
	}
	if s.w.opts.Durability == DurabilityBatch && s.flushCombining(ctx, reqs) {
		return // combine.go
	}
	lk, err := s.w.lock(ctx, s.st)
	if err != nil {
		for _, r := range reqs {
			r.err = err
		}
		return
	}
	pend, err := s.flushLocked(reqs, s.w.opts.Durability == DurabilityBatch)
	lk.unlock()
	if err == nil && pend != nil {
		err = s.syncAfter(ctx, pend)
	}
	if err != nil {
		for _, r := range reqs {
			if r.err == nil {
				r.seqs, r.err = nil, err
			}
		}
	}
}

// pendingSync is a batch written under the lock and not yet fsynced:
// the open file and where the batch lies in it.
type pendingSync struct {
	f          File
	path       string
	start, end int64
	ident      Identity // of the file after the write
	newFile    bool     // the batch created the file: its directory is synced too
	ticket     syncSlot
	ticketed   bool // ticket is valid (syncqueue.go)
}

// syncAfter makes a batch durable after the lock was released, while
// other writers, of this process or others, write theirs: by an fsync of
// its own or by one that another writer began after the batch was
// written (groupSync, syncqueue.go). If the fsync fails, the batch is cut
// away as under the lock when nothing was written after it; otherwise
// records written after it may already be acknowledged, so the batch
// stays and the error says so.
func (s *Session) syncAfter(ctx context.Context, p *pendingSync) error {
	defer p.f.Close()
	w := s.w
	var serr error
	if rf, ok := p.f.(*rawFile); ok && p.ticketed {
		serr = s.groupSync(rf, p.ticket, p.start)
	} else {
		serr = p.f.Sync()
	}
	if serr == nil {
		if p.newFile {
			w.syncDir(w.sessionsDir())
		}
		return nil
	}
	cause := fmt.Errorf("workspace: append to %s: fsync: %w", p.path, serr)
	lk, err := w.lock(ctx, s.st)
	if err != nil {
		return fmt.Errorf("%w (and the batch could not be cut away: %w; it stays in the file, not known to be durable)", cause, err)
	}
	defer lk.unlock()
	s.st.known = false
	fi, err := p.f.Stat()
	if err == nil && identityOf(fi).SameFile(p.ident) && fi.Size() == p.end {
		return s.undoWrite(p.f, p.start, cause)
	}
	return fmt.Errorf("%w; records were appended after this batch, so its bytes %d-%d stay in the file, not known to be durable", cause, p.start, p.end)
}

// flushLocked does the work of flush under the lock. An error it returns
// fails every request; an error of one request's build or encoding fails
// that request only. With later set, what it wrote is not fsynced but
// returned, the file still open, for syncAfter.
func (s *Session) flushLocked(reqs []*appendReq, later bool) (*pendingSync, error) {
	var pend *pendingSync
	err := s.flushInto(reqs, later, &pend, nil)
	return pend, err
}

// flushInto writes reqs, and after them the records other processes left
// in claimed (combine.go), if any, in the same write. The claimed records
// go only into a plain session file that exists or that reqs create;
// otherwise they are left unwritten, for their owners to append.
func (s *Session) flushInto(reqs []*appendReq, later bool, pend **pendingSync, claimed []*claimedSlot) error {
	w, st, path := s.w, s.st, s.Path()
	// Never through a symbolic link, and only into a regular file: the
	// torn-tail cut below would otherwise truncate whatever it points at.
	f, err := w.fs.OpenFile(path, os.O_RDWR|os.O_APPEND|noFollow, 0)
	if errors.Is(err, fs.ErrNotExist) {
		if len(reqs) == 0 {
			return nil // only claimed records: their owners make the file
		}
		if err := s.mayCreate(); err != nil {
			return err
		}
		if err := s.mayCreateSealed(); err != nil {
			return err
		}
		f, err = w.fs.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE|noFollow, 0o644)
	}
	if err != nil {
		if nr := w.inTheWay(path); nr != nil {
			return nr
		}
		return fmt.Errorf("workspace: open %s: %w", path, err)
	}
	if err := regularOpen(f, path); err != nil {
		return err
	}
	defer func() {
		if *pend == nil {
			f.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("workspace: stat %s: %w", path, err)
	}
	ident := identityOf(fi)
	end, last := ident.Size, st.lastSeq
	if !st.known || !st.ident.SameFile(ident) || st.ident.Size != ident.Size {
		// Someone else wrote, or we never looked: learn the file again.
		st.known = false
		if end, err = completeEnd(f, ident.Size, path); err != nil {
			return err
		}
		// Nothing is appended to a file that does not start with its
		// header (checked before a torn tail is cut: a refused file stays
		// as it is).
		if err := requireHeader(f, path, end, ident.Size, w.readLimit()); err != nil {
			return err
		}
		if end < ident.Size {
			if err := w.setTornAside(f, path, end, ident.Size); err != nil {
				return err
			}
			st.dropSyncEpoch() // cut back (syncqueue.go)
		}
		if last, err = lastSeq(f, end, path, w.readLimit()); err != nil {
			return err
		}
	}
	// Sealed or plain, decided before anything is written (encrypt.go).
	encode, sealed, err := s.encoderFor(f, end, ident)
	if err != nil {
		return err
	}
	start := end
	now := w.opts.Now().UTC()
	var buf []byte
	if end == 0 {
		// A new (or emptied) file starts with its header.
		h := s.newHeader(now)
		mark := len(buf)
		if buf, err = encode(buf, &h); err != nil {
			return fmt.Errorf("workspace: append to %s: header: %w", s.id, err)
		}
		if err := w.sizeCheck(h.Type, len(buf)-mark); err != nil {
			return fmt.Errorf("workspace: append to %s: the header: %w; nothing was written", s.id, err)
		}
		buf = append(buf, '\n')
		last = 1
	}
	write := func() error {
		if len(buf) == 0 {
			return nil
		}
		// One write per batch: a reader or a crash sees all of these
		// records or a torn tail that the next append sets aside, never
		// some of them complete.
		n, err := writeFull(f, buf)
		if err != nil {
			return s.undoWrite(f, start, fmt.Errorf("workspace: append to %s: %d of %d bytes written: %w", path, n, len(buf), err))
		}
		end += int64(len(buf))
		buf = buf[:0]
		return nil
	}
	for _, r := range reqs {
		if r.build == nil {
			continue
		}
		if !r.plain {
			// It looks at the file: let it see everything before it.
			if err := write(); err != nil {
				return err
			}
		}
		recs, err := r.build(lockedView{s: s, f: f, end: end, lastSeq: last})
		if err != nil {
			r.err = err
			continue
		}
		mark, seq0 := len(buf), last
		var seqs []int64
		if buf, seqs, err = w.encodeRecords(buf, recs, last, now, encode, nil); err != nil {
			buf, last = buf[:mark], seq0
			r.err = fmt.Errorf("workspace: append to %s: %w", s.id, err)
			continue
		}
		last += int64(len(seqs))
		r.seqs = seqs
	}
	if len(claimed) > 0 && !sealed && end+int64(len(buf)) > 0 {
		buf, last = appendClaimed(buf, claimed, last, now, end, ident.Inode)
		if w.combineHook != nil {
			w.combineHook(f, buf)
		}
	}
	if err := write(); err != nil {
		return err
	}
	if later && end > start {
		// Synced after the unlock (syncAfter).
		ident.Size = end
		st.known, st.ident, st.lastSeq = true, ident, last
		w.noteChange(s.id, end)
		p := &pendingSync{f: f, path: path, start: start, end: end, ident: ident, newFile: start == 0}
		p.ticket, p.ticketed = st.syncTicket(ident.Inode, end, start == 0)
		*pend = p
		return nil
	}
	if end > start && w.opts.Durability != DurabilityNever {
		if err := f.Sync(); err != nil {
			// Not acknowledged, so not kept: a caller that retries must not
			// find the records twice.
			return s.undoWrite(f, start, fmt.Errorf("workspace: append to %s: fsync: %w", path, err))
		}
	}
	if start == 0 && end > 0 && w.opts.Durability != DurabilityNever {
		// A new file: its directory entry must be durable too.
		w.syncDir(w.sessionsDir())
	}
	ident.Size = end
	st.known, st.ident, st.lastSeq = true, ident, last
	// A hint for the search index, still under the lock (journal.go).
	w.noteChange(s.id, end)
	return nil
}

// sizeCheck refuses a record of n bytes (encoded, without its newline)
// over Options.MaxRecordBytes.
func (w *Workspace) sizeCheck(typ string, n int) error {
	if max := w.opts.MaxRecordBytes; max > 0 && n > max {
		return &RecordError{Type: typ, Reason: fmt.Sprintf("%d bytes encoded, over the limit of %d bytes (Options.MaxRecordBytes)", n, max), Err: ErrTooLarge}
	}
	return nil
}

// sessionPrefix begins every header line (docs/format.md: type, then seq).
const sessionPrefix = `{"type":"session","seq":1,`

// requireHeader returns a *NoHeaderError unless the file (size bytes, its
// complete lines ending at end) may be appended to: it is empty; or its
// first valid record is the session header; or it has no complete line
// and its bytes are what a crash leaves of a header being written (a
// prefix of a header line, or NUL bytes), which the append sets aside as
// a torn tail before writing a new header. A foreign file, another
// program's JSONL, a header line cut short or a file whose header was lost
// are refused as they are.
func requireHeader(f File, path string, end, size, limit int64) error {
	if size == 0 {
		return nil
	}
	if end == 0 {
		if leftOfHeader(f, size) {
			return nil
		}
		var first [1]byte
		_, _ = f.ReadAt(first[:], 0)
		return &NoHeaderError{Path: path, Size: size, Migrate: first[0] == '{',
			Repair: "set its bytes aside (kept in " + filepath.Base(path) + ".torn-<time>), after which the next append starts the session with a new header"}
	}
	// Fast path: the first line, from one read, is the header.
	buf := make([]byte, 4096)
	n, err := f.ReadAt(buf[:min(int64(len(buf)), end)], 0)
	if err != nil && err != io.EOF {
		return fmt.Errorf("workspace: read %s: %w", path, err)
	}
	if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
		if r, hint := decodeRecord(buf[:i]); hint == "" && r.Type == TypeSession {
			return nil
		}
	}
	// Else find the first valid record.
	e := &NoHeaderError{Path: path, Size: size}
	line := 0
	errStop := errors.New("stop")
	_, err = scanLines(io.NewSectionReader(f, 0, end), 0, limit, func(b []byte, _ int64) error {
		line++
		r, hint := decodeRecord(b)
		if hint != "" {
			if k, ok := gluedRecord(b); ok {
				// A torn record glued to a whole one: the whole one counts,
				// as for Check (and repair keeps it).
				r, _ = decodeRecord(b[k:])
			} else {
				if line == 1 && len(b) > 0 && b[0] == '{' && json.Valid(b) {
					e.Migrate = true // JSON, but not a record: someone else's JSONL
				}
				return nil
			}
		}
		e.Line, e.Seq, e.Type = line, r.Seq, r.Type
		return errStop
	})
	if err != nil && err != errStop {
		return fmt.Errorf("workspace: read %s: %w", path, err)
	}
	aside := filepath.Base(path) + ".corrupt-<time>"
	switch {
	case e.Line > 0 && e.Type == TypeSession:
		return nil // corrupt lines before it; check reports them
	case e.Line == 0:
		e.Repair = "set every line aside (kept in " + aside + "), after which the next append starts the session with a new header"
	case e.Seq > 1 && e.Line > 1:
		e.Repair = fmt.Sprintf("set the %d line(s) before it aside (kept in %s) and write a minimal header (the id only) as seq 1, keeping every record", e.Line-1, aside)
	case e.Seq > 1:
		e.Repair = "write a minimal header (the id only) as seq 1, keeping every record"
	}
	return e
}

// leftOfHeader reports whether the size bytes of f, which hold no '\n',
// are what a crash may leave of a new session file: a prefix of a header
// line, or NUL bytes (a size that reached the disk before the data).
func leftOfHeader(f File, size int64) bool {
	buf := make([]byte, min(size, 64<<10))
	for off := int64(0); off < size; {
		p := buf[:min(int64(len(buf)), size-off)]
		if n, _ := f.ReadAt(p, off); n < len(p) {
			return false
		}
		if off == 0 && p[0] != 0 {
			k := min(len(p), len(sessionPrefix))
			return string(p[:k]) == sessionPrefix[:k]
		}
		for _, c := range p {
			if c != 0 {
				return false
			}
		}
		off += int64(len(p))
	}
	return true
}

// undoWrite cuts the file back to end after a failed write or fsync, so
// that it holds complete records only, and forgets what we knew of it.
func (s *Session) undoWrite(f File, end int64, cause error) error {
	s.st.known = false
	s.st.dropSyncEpoch() // cut back (syncqueue.go)
	if err := f.Truncate(end); err != nil {
		return fmt.Errorf("%w (and truncating back to %d failed: %w; the next append sets the partial record aside)", cause, end, err)
	}
	_ = f.Sync()
	return cause
}

// setTornAside copies the bytes [end, size) of a file that does not end in
// '\n' (a crash mid-write) to <file>.torn-<UTC stamp>, syncs that copy, then
// truncates the file to end. The copy comes first: a crash in between
// leaves the tail in both places, never in neither.
func (w *Workspace) setTornAside(f File, path string, end, size int64) error {
	aside, err := w.setAside(path, "torn", func(dst File) error {
		return copyRange(dst, f, end, size-end)
	})
	if err != nil {
		return err
	}
	if err := f.Truncate(end); err != nil {
		return fmt.Errorf("workspace: truncate torn tail of %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("workspace: fsync %s: %w", path, err)
	}
	w.log.Warn("torn tail set aside", "file", path, "offset", end, "bytes", size-end, "aside", aside)
	return nil
}

// setAside creates <path>.<kind>-<UTC stamp> (never overwriting one),
// fills it with fill, and syncs it and its directory.
func (w *Workspace) setAside(path, kind string, fill func(File) error) (string, error) {
	stamp := w.opts.Now().UTC().Format("20060102T150405.000000000Z")
	var name string
	var dst File
	var err error
	for i := 0; i < 1000; i++ {
		name = path + "." + kind + "-" + stamp
		if i > 0 {
			name += fmt.Sprintf("-%d", i)
		}
		dst, err = w.fs.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("workspace: set aside %s bytes of %s: %w", kind, path, err)
	}
	if err := fill(dst); err != nil {
		dst.Close()
		return "", fmt.Errorf("workspace: set aside %s bytes of %s: %w", kind, path, err)
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return "", fmt.Errorf("workspace: fsync %s: %w", name, err)
	}
	if err := dst.Close(); err != nil {
		return "", fmt.Errorf("workspace: close %s: %w", name, err)
	}
	w.syncDir(filepath.Dir(path))
	return name, nil
}

// copyRange copies n bytes of src from off to dst.
func copyRange(dst File, src File, off, n int64) error {
	buf := make([]byte, 64<<10)
	for n > 0 {
		k := int64(len(buf))
		if k > n {
			k = n
		}
		m, err := src.ReadAt(buf[:k], off)
		if m > 0 {
			// A short count here would leave the evidence cut short
			// without a word: writeFull names the errno.
			if _, werr := writeFull(dst, buf[:m]); werr != nil {
				return werr
			}
		}
		if err != nil && m < int(k) {
			return err
		}
		off += int64(m)
		n -= int64(m)
	}
	return nil
}

// syncDir fsyncs a directory so that a rename or a new file in it is
// durable. Errors are ignored: not every filesystem supports it.
func (w *Workspace) syncDir(dir string) {
	if d, err := w.fs.OpenFile(dir, os.O_RDONLY, 0); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// encodeRecords appends recs to buf as lines, seqs following last: each a
// copy (the caller's records stay as they were) given its seq, the time
// now when it has none, and its token count when a message or summary
// has none; one over the size limit stops it. each (when not nil) sees
// every record as written. On an error buf may hold part of the records:
// the caller cuts it back.
func (w *Workspace) encodeRecords(buf []byte, recs []Record, last int64, now time.Time, encode recordEncoder, each func(*Record)) ([]byte, []int64, error) {
	seqs := make([]int64, 0, len(recs))
	for i := range recs {
		rec := recs[i]
		last++
		rec.Seq = last
		if rec.At.IsZero() {
			rec.At = now
		}
		if (rec.Type == TypeMessage || rec.Type == TypeSummary) && rec.Tokens == 0 {
			rec.Tokens = w.opts.CountTokens(rec)
		}
		at := len(buf)
		var err error
		if buf, err = encode(buf, &rec); err != nil {
			return buf, nil, err
		}
		if err := w.sizeCheck(rec.Type, len(buf)-at); err != nil {
			return buf, nil, fmt.Errorf("record %d: %w; nothing was written", i+1, err)
		}
		buf = append(buf, '\n')
		seqs = append(seqs, rec.Seq)
		if each != nil {
			each(&rec)
		}
	}
	return buf, seqs, nil
}
