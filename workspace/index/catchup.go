package index

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/picosess/picosess/workspace"
)

// Progress reports a catch-up or rebuild as it goes.
type Progress struct {
	Sessions     int   `json:"sessions"`      // session files to read
	SessionsDone int   `json:"sessions_done"` // read so far
	Bytes        int64 `json:"bytes"`         // bytes to read (as the files were when planned)
	BytesDone    int64 `json:"bytes_done"`
	Records      int64 `json:"records"` // records read so far
	Docs         int64 `json:"docs"`    // messages indexed so far
}

// Stats says what a catch-up did.
type Stats struct {
	Sessions  int   `json:"sessions"`  // session files read (in part or whole)
	Reindexed int   `json:"reindexed"` // of those, read again from the start (shrank, replaced, restored)
	Removed   int   `json:"removed"`   // sessions deleted or purged, their documents removed
	Records   int64 `json:"records"`
	Docs      int64 `json:"docs"`
	Bytes     int64 `json:"bytes"`
	// Looked counts the session files looked at (a stat each) to find
	// what changed; Full says every file was (a full rescan).
	Looked int           `json:"looked"`
	Full   bool          `json:"full"`
	Took   time.Duration `json:"took_ns"`
}

// countDocs counts the live documents of a session.
func countDocs(bi bleve.Index, id string) (uint64, error) {
	q := bleve.NewTermQuery(id)
	q.SetField(FieldSession)
	res, err := bi.Search(bleve.NewSearchRequestOptions(q, 0, 0, false))
	if err != nil {
		return 0, fmt.Errorf("%w: counting documents of %s: %v", ErrDamaged, id, err)
	}
	return res.Total, nil
}

// indexedSessions lists the session ids that have documents.
func indexedSessions(bi bleve.Index) ([]string, error) {
	d, err := bi.FieldDict(FieldSession)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	defer d.Close()
	var ids []string
	for {
		e, err := d.Next()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDamaged, err)
		}
		if e == nil {
			return ids, nil
		}
		ids = append(ids, e.Term)
	}
}

// unchanged reports whether the file is exactly as it was when last read.
func unchanged(was, now workspace.Identity) bool {
	return was.SameFile(now) && was.Size == now.Size && was.ModTime.Equal(now.ModTime)
}

// work is one session file to read.
type work struct {
	id    string
	now   workspace.Identity
	from  int64
	fresh bool // read from the start, removing what the index had
}

// catchUpStats brings the index up to date with every session file: it
// reads what was appended since each file's watermark, reads again a file
// that shrank or was replaced, and removes the documents of sessions that
// are gone. Which files to look at comes from plan (the change journal,
// the directory, now and then every file). Documents go in bleve batches,
// each followed by the watermarks that account for it.
func (x *Index) catchUpStats(ctx context.Context, o *owner, progress func(Progress)) (st Stats, err error) {
	start := time.Now()
	p, err := x.plan(ctx, o)
	if err != nil {
		return st, err
	}
	st.Looked, st.Full = p.looked, p.full
	if len(p.todo) == 0 && len(p.gone) == 0 {
		if !p.next.same(o.cs) {
			if err := o.st.commit(nil, nil, &p.next); err != nil {
				return st, x.storeError(err)
			}
		}
		o.cs = p.next
		return st, nil
	}
	var pr Progress
	for _, w := range p.todo {
		pr.Bytes += max(0, w.now.Size-w.from)
	}
	pr.Sessions = len(p.todo)

	c := &catcher{x: x, o: o, b: o.bi.NewBatch(), pending: map[string]*Watermark{}, removed: map[string]bool{},
		suspect: o.cs.Dirty}
	// The segment files scorch reads while this runs (its merges, the
	// lookups of every batch) are mapped; what they touched is let go
	// every releaseInterval, so that it does not add up with the history.
	defer releaseEvery(o.bi, releaseInterval)()
	// A batch still in flight when reading stops (an error, ctx) is
	// waited for: nothing writes the index after this returns.
	defer func() {
		if werr := c.wait(); err == nil {
			err = werr
		}
	}()
	for _, id := range p.gone {
		if err = c.removeSession(ctx, id); err != nil {
			return st, err
		}
		st.Removed++
	}
	for _, w := range p.todo {
		if err = ctx.Err(); err != nil {
			return st, err
		}
		n, recs, docs, rerr := c.readSession(ctx, w)
		if rerr != nil {
			return st, rerr
		}
		st.Sessions++
		if w.fresh {
			st.Reindexed++
		}
		st.Bytes += n
		st.Records += recs
		st.Docs += docs
		pr.SessionsDone++
		pr.BytesDone += n
		pr.Records += recs
		pr.Docs += docs
		if progress != nil {
			progress(pr)
		}
	}
	c.final = &p.next
	if err = c.flush(); err != nil {
		return st, err
	}
	st.Took = time.Since(start)
	return st, nil
}

// catcher accumulates one batch of a catch-up. While bleve indexes one
// batch (and the watermarks that account for it are written), the next
// one is read: at most one batch is in flight (start, wait).
type catcher struct {
	x       *Index
	o       *owner
	b       *bleve.Batch
	docs    int                   // documents in b
	bytes   int                   // message text in b
	pending map[string]*Watermark // watermarks to write after the batch
	removed map[string]bool       // watermarks to delete after the batch
	msg     Message
	dirty   bool         // the store is marked dirty (a batch was written)
	final   *changeState // with the last flush: the change state to store
	suspect bool         // the last catch-up did not finish: a watermark's Docs may be short

	inflight chan error // the batch being written, nil if none
	applied  func()     // what its success changes in the owner's memory
	sinceWM  int        // documents sent since the watermarks were last written
	// unpersisted are the batches sent and not yet on disk, oldest
	// first: each channel receives once its batch is persisted.
	unpersisted []chan error
}

// maxUnpersisted bounds the batches a catch-up keeps sent and not yet on
// disk. bleve takes a batch (runtimeConfig: "unsafe_batch") once it is an
// in-memory segment, and persists what it has in the background, merging
// the segments that wait into one file and one fsync; a batch waits for
// the oldest ones to be persisted beyond this many.
const maxUnpersisted = 4

// send gives b to bleve: once it returns the documents are searchable,
// and the returned channel receives once they are on disk.
func send(bi bleve.Index, b *bleve.Batch) (chan error, error) {
	p := make(chan error, 1)
	b.SetPersistedCallback(func(err error) { p <- err })
	if err := within(batchLimit, func() error { return bi.Batch(b) }); err != nil {
		return nil, err
	}
	return p, nil
}

// awaitPersisted waits until at most keep of the batches in *ps are not
// yet on disk, oldest first, each for at most batchLimit: scorch's
// persister, failing (a full disk, a damaged store), retries for ever.
func awaitPersisted(ps *[]chan error, keep int) error {
	for len(*ps) > keep {
		t := time.NewTimer(batchLimit)
		select {
		case err := <-(*ps)[0]:
			t.Stop()
			if err != nil {
				return err
			}
		case <-t.C:
			return fmt.Errorf("%w within %s: persisting a batch (a damaged store, a full disk?)", errStuck, batchLimit)
		}
		*ps = (*ps)[1:]
	}
	return nil
}

// sendDurable gives b to bleve and waits until it is on disk.
func sendDurable(bi bleve.Index, b *bleve.Batch) error {
	p, err := send(bi, b)
	if err != nil {
		return err
	}
	ps := []chan error{p}
	return awaitPersisted(&ps, 0)
}

// wmEvery is how many documents a catch-up sends between two writes of
// the watermarks: after a crash at most that many are read again (they
// replace themselves: ids are session and seq). Counted in documents,
// not batches, so that the size of a batch does not change how often the
// watermark store is written.
const wmEvery = 80000

// flush writes the batch and waits for it.
func (c *catcher) flush() error {
	if err := c.start(); err != nil {
		return err
	}
	return c.wait()
}

// start waits for the batch in flight, then sends this one off: the
// batch (documents and deletions), then the watermarks that account for
// it, in this order: after a crash in between a watermark is behind its
// documents, never ahead (store.go). Before the first batch the store is
// marked dirty; the last flush stores the change state, clean.
func (c *catcher) start() error {
	if err := c.wait(); err != nil {
		return err
	}
	b, pending, removed, final := c.b, c.pending, c.removed, c.final
	if b.Size() > 0 {
		if !c.dirty && !c.o.cs.Dirty {
			d := c.o.cs
			d.Dirty = true
			// Not fsynced: a killed process leaves it in the page cache;
			// a power loss changes the boot id, which forces the full
			// rescan by itself.
			c.o.st.db.NoSync = true
			err := c.o.st.commit(nil, nil, &d)
			c.o.st.db.NoSync = false
			if err != nil {
				return c.x.storeError(err)
			}
			c.o.cs.Dirty = true
		}
		c.dirty = true
		c.b = c.o.bi.NewBatch()
	}
	// Watermarks go to the store once wmEvery documents were sent since
	// they last did (and with the last batch, and with removals), not
	// with each batch: the ids are hashes, so
	// the watermarks of one batch of many small sessions fall on nearly
	// every page of the store, and each commit wrote them all again. Held
	// back, a watermark is behind its documents, never ahead.
	c.sinceWM += c.docs
	if final == nil && len(removed) == 0 && c.sinceWM < wmEvery {
		pending = nil // kept in c.pending for a later batch
	} else {
		c.pending, c.sinceWM = map[string]*Watermark{}, 0
	}
	c.removed = map[string]bool{}
	c.docs, c.bytes = 0, 0
	bi, st := c.o.bi, c.o.st
	commit := len(pending) > 0 || len(removed) > 0 || final != nil
	done := make(chan error, 1)
	go func() {
		// c.unpersisted is this goroutine's: the next one starts after
		// wait received from done.
		if b.Size() > 0 {
			p, err := send(bi, b)
			if err != nil {
				done <- err
				return
			}
			c.unpersisted = append(c.unpersisted, p)
		}
		keep := maxUnpersisted
		if commit {
			keep = 0 // watermarks only after their documents are on disk
		}
		if err := awaitPersisted(&c.unpersisted, keep); err != nil {
			done <- err
			return
		}
		if commit {
			if err := st.commit(pending, removed, final); err != nil {
				done <- storeErr{err}
				return
			}
		}
		done <- nil
	}()
	c.inflight = done
	c.applied = func() {
		for id, wm := range pending {
			c.o.wms[id] = wm
		}
		for id := range removed {
			delete(c.o.wms, id)
		}
		if len(pending) > 0 || len(removed) > 0 {
			c.o.resets = nil
		}
		if final != nil {
			c.o.cs = *final
		}
	}
	return nil
}

// storeErr is an error of the watermark store, from a batch in flight.
type storeErr struct{ err error }

func (e storeErr) Error() string { return e.err.Error() }

// wait waits for the batch in flight, if any, and applies it.
func (c *catcher) wait() error {
	if c.inflight == nil {
		return nil
	}
	err := <-c.inflight
	c.inflight = nil
	var se storeErr
	switch {
	case err == nil:
		c.applied()
		return nil
	case errors.As(err, &se):
		return c.x.storeError(se.err)
	case errors.Is(err, errStuck):
		// The index's own goroutines are stuck (a persister that failed
		// on a damaged store waits for ever): leave this instance behind,
		// unclosed, and let the caller rebuild.
		c.o.bi = nil
		return fmt.Errorf("%w: writing a batch: %v", ErrDamaged, err)
	case unwritable(err):
		return c.x.asUnwritable("write a batch to", err)
	}
	return fmt.Errorf("%w: writing a batch: %v", ErrDamaged, err)
}

// removeSession deletes every document of a session and its watermark.
func (c *catcher) removeSession(ctx context.Context, id string) error {
	if err := c.deleteDocs(ctx, id); err != nil {
		return err
	}
	delete(c.pending, id)
	c.removed[id] = true
	return nil
}

// deleteDocs adds the deletion of every document of session id to the
// batch, finding them by the session field.
func (c *catcher) deleteDocs(ctx context.Context, id string) error {
	if wm := c.o.wms[id]; wm != nil && wm.Docs == 0 && !c.suspect {
		return nil
	}
	const page = 50000
	q := bleve.NewTermQuery(id)
	q.SetField(FieldSession)
	for from := 0; ; from += page {
		req := bleve.NewSearchRequestOptions(q, page, from, false)
		req.SortBy([]string{"_id"})
		res, err := c.o.bi.SearchInContext(ctx, req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: listing documents of %s: %v", ErrDamaged, id, err)
		}
		for _, h := range res.Hits {
			c.b.Delete(h.ID)
		}
		if len(res.Hits) < page {
			return nil
		}
	}
}

// errRestart: the file changed under the reader in a way that needs a
// read from the start.
var errRestart = errors.New("restart")

// readSession indexes one session file from w.from. It returns the bytes
// and records read and the documents added.
func (c *catcher) readSession(ctx context.Context, w work) (n, recs, docs int64, err error) {
	s, err := c.x.ws.OpenID(w.id)
	if err != nil {
		if errors.Is(err, workspace.ErrNotFound) {
			return 0, 0, 0, nil // deleted meanwhile: the next catch-up removes it
		}
		return 0, 0, 0, err
	}
	for attempt := 0; attempt < 2; attempt++ {
		n, recs, docs, err = c.readFrom(ctx, s, w)
		if !errors.Is(err, errRestart) {
			return n, recs, docs, err
		}
		w.from, w.fresh = 0, true
	}
	return n, recs, docs, err
}

func (c *catcher) readFrom(ctx context.Context, s *workspace.Session, w work) (n, recs, docs int64, err error) {
	var wm Watermark
	old := c.o.wms[w.id]
	if old != nil && !w.fresh {
		wm = *old
	}
	if w.fresh {
		if err := c.deleteDocs(ctx, w.id); err != nil {
			return 0, 0, 0, err
		}
		wm = Watermark{}
	}
	// A session keeps its number while it has a watermark, also when it
	// is read again from the start (its documents replace themselves).
	if old != nil {
		wm.Num = old.Num
	}
	if wm.Num == 0 {
		n, err := c.o.newNum()
		if err != nil {
			return 0, 0, 0, c.x.storeError(err)
		}
		wm.Num = n
	}
	wm.File = w.now
	start := w.from
	wm.Offset = w.from
	m := &c.msg
	for e, rerr := range s.Records(ctx, w.from) {
		if rerr != nil {
			if errors.Is(rerr, workspace.ErrNotFound) {
				break
			}
			if ctx.Err() != nil {
				return 0, 0, 0, ctx.Err()
			}
			if w.from > 0 && e.End == 0 && recs == 0 {
				return 0, 0, 0, errRestart
			}
			return 0, 0, 0, fmt.Errorf("index: %w", rerr)
		}
		recs++
		r := &e.Record
		switch r.Type {
		case workspace.TypeSession:
			if r.Scope != nil {
				wm.Agent, wm.Channel, wm.Account = r.Scope.AgentID, r.Scope.Channel, r.Scope.Account
				wm.Chat, wm.Topic, wm.Sender = r.Scope.Values["chat"], r.Scope.Values["topic"], r.Scope.Values["sender"]
			}
		case workspace.TypeTitle:
			wm.Title = r.Text
		case workspace.TypeReset:
			wm.Segment++
		case workspace.TypeMessage:
			if wm.FirstUser == "" && r.Role == workspace.RoleUser {
				wm.FirstUser = workspace.DefaultTitle(r.Content)
			}
			if r.Content != "" {
				*m = Message{Session: w.id, Agent: wm.Agent, Channel: wm.Channel, Account: wm.Account,
					Chat: wm.Chat, Topic: wm.Topic, Sender: r.Sender, Role: r.Role, Time: TimeTerm(r.At),
					Seq: float64(r.Seq), Segment: float64(wm.Segment), Offset: float64(e.Offset), Text: r.Content,
					Tool: r.ToolName, Num: wm.Num}
				if r.IsError {
					m.Failed = "true"
				}
				if m.Sender == "" {
					m.Sender = wm.Sender
				}
				if err := c.b.IndexAdvanced(c.x.an.newDoc(m)); err != nil {
					return 0, 0, 0, fmt.Errorf("index: %s:%d: %w", w.id, r.Seq, err)
				}
				docs++
				wm.Docs++
				c.docs++
				c.bytes += len(m.Text)
			}
		}
		wm.Offset, wm.LastSeq = e.End, r.Seq
		if c.docs >= c.x.opts.BatchSize || c.bytes >= c.x.opts.BatchBytes {
			// A batch ends inside the file: its watermark must not name
			// the file as it was planned (its whole size), or a crash
			// before the next batch leaves a watermark that says the
			// file is unchanged, and the rest of it is never read. It
			// names the bytes read: the next catch-up sees the file grown
			// from there and reads on.
			part := cloneWM(&wm)
			part.File.Size = wm.Offset
			c.pending[w.id] = part
			if err := c.start(); err != nil {
				return 0, 0, 0, err
			}
		}
	}
	c.pending[w.id] = cloneWM(&wm)
	return wm.Offset - start, recs, docs, nil
}

func cloneWM(w *Watermark) *Watermark { c := *w; return &c }
