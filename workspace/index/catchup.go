package index

import (
	"context"
	"encoding/json"
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
	Sessions  int           `json:"sessions"`  // session files read (in part or whole)
	Reindexed int           `json:"reindexed"` // of those, read again from the start (shrank, replaced, restored)
	Removed   int           `json:"removed"`   // sessions deleted or purged, their documents removed
	Records   int64         `json:"records"`
	Docs      int64         `json:"docs"`
	Bytes     int64         `json:"bytes"`
	Took      time.Duration `json:"took_ns"`
}

// readWatermarks loads the watermark of every session the index knows:
// the live session files, and the sessions that have documents in the
// index (the session field's terms), which include the deleted ones.
func (x *Index) readWatermarks(ctx context.Context, o *owner) error {
	files, err := x.ws.SessionFiles(ctx)
	if err != nil {
		return err
	}
	o.wms = make(map[string]*Watermark, len(files))
	ids := make([]string, 0, len(files))
	for _, f := range files {
		ids = append(ids, f.ID)
	}
	indexed, err := indexedSessions(o.bi)
	if err != nil {
		return err
	}
	ids = append(ids, indexed...)
	for _, id := range ids {
		if _, ok := o.wms[id]; ok {
			continue
		}
		b, err := o.bi.GetInternal([]byte(wmPrefix + id))
		if err != nil {
			return fmt.Errorf("%w: reading watermark of %s: %v", ErrDamaged, id, err)
		}
		if b == nil {
			// Documents without a watermark cannot come from a batch of
			// ours; they are removed by reading the session again.
			continue
		}
		wm, err := decodeWatermark(id, b)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrDamaged, err)
		}
		o.wms[id] = wm
	}
	for _, id := range indexed {
		if o.wms[id] != nil {
			continue
		}
		// The terms of deleted documents stay in the dictionary until
		// segments merge: look for live documents.
		n, err := countDocs(o.bi, id)
		if err != nil {
			return err
		}
		if n > 0 {
			o.wms[id] = &Watermark{Docs: int64(n)} // documents without a watermark: remove them
		}
	}
	return nil
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
// are gone. Documents and watermarks go in the same batches.
func (x *Index) catchUpStats(ctx context.Context, o *owner, progress func(Progress)) (st Stats, err error) {
	start := time.Now()
	files, err := x.ws.SessionFiles(ctx)
	if err != nil {
		return st, err
	}
	live := make(map[string]bool, len(files))
	var todo []work
	var p Progress
	for _, f := range files {
		live[f.ID] = true
		wm := o.wms[f.ID]
		switch {
		case wm == nil:
			todo = append(todo, work{id: f.ID, now: f.Identity})
		case unchanged(wm.File, f.Identity):
		case wm.File.Continues(f.Identity):
			todo = append(todo, work{id: f.ID, now: f.Identity, from: wm.Offset})
		default:
			todo = append(todo, work{id: f.ID, now: f.Identity, fresh: true})
		}
	}
	var gone []string
	for id := range o.wms {
		if !live[id] {
			gone = append(gone, id)
		}
	}
	if len(todo) == 0 && len(gone) == 0 {
		return st, nil
	}
	for _, w := range todo {
		p.Bytes += max(0, w.now.Size-w.from)
	}
	p.Sessions = len(todo)

	c := &catcher{x: x, o: o, b: o.bi.NewBatch(), pending: map[string]*Watermark{}, removed: map[string]bool{}}
	for _, id := range gone {
		if err = c.removeSession(ctx, id); err != nil {
			return st, err
		}
		st.Removed++
	}
	for _, w := range todo {
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
		p.SessionsDone++
		p.BytesDone += n
		p.Records += recs
		p.Docs += docs
		if progress != nil {
			progress(p)
		}
	}
	if err = c.flush(); err != nil {
		return st, err
	}
	st.Took = time.Since(start)
	return st, nil
}

// catcher accumulates one batch of a catch-up.
type catcher struct {
	x       *Index
	o       *owner
	b       *bleve.Batch
	docs    int
	pending map[string]*Watermark // watermarks to write with the batch
	removed map[string]bool       // watermarks to delete with the batch
	msg     Message
}

// flush writes the batch: documents, deletions and the watermarks that
// account for them, in one bleve batch.
func (c *catcher) flush() error {
	for id, wm := range c.pending {
		b, err := json.Marshal(wm)
		if err != nil {
			return err
		}
		c.b.SetInternal([]byte(wmPrefix+id), b)
	}
	for id := range c.removed {
		c.b.DeleteInternal([]byte(wmPrefix + id))
	}
	if c.b.Size() > 0 {
		err := within(batchLimit, func() error { return c.o.bi.Batch(c.b) })
		if errors.Is(err, errStuck) {
			// The index's own goroutines are stuck (a persister that
			// failed on a damaged store waits for ever): leave this
			// instance behind, unclosed, and let the caller rebuild.
			c.o.bi = nil
			return fmt.Errorf("%w: writing a batch: %v", ErrDamaged, err)
		}
		if err != nil {
			if unwritable(err) {
				return c.x.asUnwritable("write a batch to", err)
			}
			return fmt.Errorf("%w: writing a batch: %v", ErrDamaged, err)
		}
	}
	for id, wm := range c.pending {
		c.o.wms[id] = wm
	}
	for id := range c.removed {
		delete(c.o.wms, id)
	}
	c.b.Reset()
	c.docs = 0
	clear(c.pending)
	clear(c.removed)
	return nil
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
	if wm := c.o.wms[id]; wm != nil && wm.Docs == 0 {
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
	if old := c.o.wms[w.id]; old != nil && !w.fresh {
		wm = *old
	}
	if w.fresh {
		if err := c.deleteDocs(ctx, w.id); err != nil {
			return 0, 0, 0, err
		}
		wm = Watermark{}
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
					Tool: r.ToolName}
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
			}
		}
		wm.Offset, wm.LastSeq = e.End, r.Seq
		if c.docs >= c.x.opts.BatchSize {
			// A batch ends inside the file: its watermark must not name
			// the file as it was planned (its whole size), or a crash
			// before the next batch leaves a watermark that says the
			// file is unchanged, and the rest of it is never read. It
			// names the bytes read: the next catch-up sees the file grown
			// from there and reads on.
			part := cloneWM(&wm)
			part.File.Size = wm.Offset
			c.pending[w.id] = part
			if err := c.flush(); err != nil {
				return 0, 0, 0, err
			}
		}
	}
	c.pending[w.id] = cloneWM(&wm)
	return wm.Offset - start, recs, docs, nil
}

func cloneWM(w *Watermark) *Watermark { c := *w; return &c }
