package index

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/picosess/picosess/workspace"
)

// DefaultBatchSize is the most documents per index batch during a
// catch-up, and DefaultBatchBytes the most message text. A batch is held
// in memory twice over while bleve indexes it (the documents, then every
// token of every field with its positions: about 40 times the text of a
// short message), and the next one is read meanwhile, so the batch bounds
// the memory of a catch-up, whatever the length of the history. Smaller
// batches cost more segments and fsyncs; at 500 documents the catch-up
// is as fast as with 1 000 and its heap smaller (docs/performance.md,
// "First search in bounded memory").
const (
	DefaultBatchSize  = 500
	DefaultBatchBytes = 256 << 10
)

// ErrDamaged is matched by errors about an index that cannot be read; the
// index is rebuilt when that happens, so callers see it only from Check.
var ErrDamaged = errors.New("index: damaged")

// Options configure an Index. The zero value, and a nil *Options, work.
type Options struct {
	// LockTimeout bounds the wait for locks/index.lock; 0 means the
	// workspace's lock timeout, a negative value means try once.
	LockTimeout time.Duration
	// BatchSize is the most documents per batch; 0 means
	// DefaultBatchSize.
	BatchSize int
	// BatchBytes is the most message text per batch, in bytes (a batch
	// holds at least one message); 0 means DefaultBatchBytes.
	BatchBytes int
	// Hold keeps the lock and the open index from the first operation
	// until Close, for a long-running process that searches often (a
	// gateway, serve). Other processes then wait for it and time out with
	// an error naming it. By default each operation takes the lock, opens
	// the index, catches up, answers and lets go.
	Hold bool
	// Logger receives what the index does on its own (rebuilds after
	// damage). nil discards.
	Logger *slog.Logger
	// Rescan bounds the time between two full rescans (a stat of every
	// session file), which find changes that bypassed the change journal
	// and the directory check; 0 means DefaultRescan, a negative value a
	// full rescan at every operation. A process that holds the index also
	// rescans every RescanSearches operations.
	Rescan time.Duration
}

func (o *Options) rescan() time.Duration {
	switch {
	case o.Rescan == 0:
		return DefaultRescan
	case o.Rescan < 0:
		return -1
	}
	return o.Rescan
}

// Index is the search index of one workspace, in <root>/index/. It is safe
// for concurrent use; operations of one Index run one at a time.
type Index struct {
	ws   *workspace.Workspace
	dir  string
	opts Options
	log  *slog.Logger
	m    *mapping.IndexMappingImpl
	an   analyzers

	mu  sync.Mutex
	own *owner // non-nil while this Index holds the lock and the open index
}

// owner is a held index: the lock, the open bleve index and watermark
// store, the watermarks read so far and the change state.
type owner struct {
	unlock func() error
	bi     bleve.Index
	st     *store
	wms    map[string]*Watermark // read so far (nil: none stored)
	all    bool                  // wms holds every watermark
	resets map[string]int        // segment of each session with a reset; nil: not read
	cs     changeState
	// numNext and numEnd are the session numbers reserved by this
	// process and not yet given (store.reserve).
	numNext, numEnd uint64
}

// newNum gives a session its number, first reserving a block of them in
// the store when none is left.
func (o *owner) newNum() (uint64, error) {
	if o.numNext == o.numEnd {
		first, err := o.st.reserve()
		if err != nil {
			return 0, err
		}
		o.numNext, o.numEnd = first, first+numBlock
	}
	n := o.numNext
	o.numNext++
	return n, nil
}

// wm returns the watermark of id (nil: none), reading it from the store
// the first time.
func (o *owner) wm(id string) (*Watermark, error) {
	if w, ok := o.wms[id]; ok || o.all {
		return w, nil
	}
	w, err := o.st.get(id)
	if err != nil {
		return nil, err
	}
	o.wms[id] = w
	return w, nil
}

// loadAll reads every watermark.
func (o *owner) loadAll() error {
	if o.all {
		return nil
	}
	wms := make(map[string]*Watermark, len(o.wms))
	if err := o.st.each(func(id string, w *Watermark) { wms[id] = w }); err != nil {
		return err
	}
	o.wms, o.all = wms, true
	return nil
}

// inodes returns the file inode of every watermark.
func (o *owner) inodes() (map[string]uint64, error) {
	m := map[string]uint64{}
	if o.all {
		for id, w := range o.wms {
			if w != nil {
				m[id] = w.File.Inode
			}
		}
		return m, nil
	}
	err := o.st.inodes(func(id string, ino uint64) { m[id] = ino })
	return m, err
}

// segments returns the current segment of every session that had a reset.
func (o *owner) segments() (map[string]int, error) {
	if o.resets != nil {
		return o.resets, nil
	}
	if o.all {
		m := map[string]int{}
		for id, w := range o.wms {
			if w != nil && w.Segment > 0 {
				m[id] = w.Segment
			}
		}
		o.resets = m
		return m, nil
	}
	m, err := o.st.resets()
	if err != nil {
		return nil, err
	}
	o.resets = m
	return m, nil
}

// close closes the bleve index and the store.
func (o *owner) close() error {
	err := closeBleve(o.bi)
	if serr := o.st.close(); err == nil {
		err = serr
	}
	o.bi, o.st = nil, nil
	return err
}

// Open returns the index of ws. It touches nothing on disk: the first
// operation takes the lock and opens, creates or rebuilds <root>/index/.
func Open(ws *workspace.Workspace, opts *Options) (*Index, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = ws.LockTimeout()
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = DefaultBatchBytes
	}
	if err := ws.IndexAllowed(); err != nil { // encrypted.go
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m, err := newMapping()
	if err != nil {
		return nil, err
	}
	an, err := newAnalyzers(m)
	if err != nil {
		return nil, err
	}
	return &Index{ws: ws, dir: filepath.Join(ws.Root(), workspace.IndexDir), opts: o, log: log, m: m, an: an}, nil
}

// Dir is the index directory, <root>/index.
func (x *Index) Dir() string { return x.dir }

// Close closes the index and lets go of the lock if Hold kept them.
func (x *Index) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.release()
}

func (x *Index) release() error {
	if x.own == nil {
		return nil
	}
	o := x.own
	x.own = nil
	err := o.close()
	if uerr := o.unlock(); err == nil {
		err = uerr
	}
	return err
}

// with runs fn as the owner of the index: under the lock, with the index
// open and caught up with every session file (so fn sees every record
// appended before it was called). An index found damaged, at open or
// while fn runs, is rebuilt and fn run again, once.
func (x *Index) with(ctx context.Context, progress func(Progress), fn func(*owner) error) (err error) {
	_, err = x.withStats(ctx, progress, fn)
	return err
}

func (x *Index) withStats(ctx context.Context, progress func(Progress), fn func(*owner) error) (st Stats, err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.opts.Hold {
		defer func() {
			if rerr := x.release(); err == nil {
				err = rerr
			}
		}()
	}
	for attempt := 0; ; attempt++ {
		if err := x.acquire(ctx); err != nil {
			return st, err
		}
		err = x.guard(func() error {
			var err error
			if st, err = x.catchUpStats(ctx, x.own, progress); err != nil {
				return err
			}
			if fn == nil {
				return nil
			}
			return fn(x.own)
		})
		if err == nil {
			return st, nil
		}
		if errors.Is(err, ErrDamaged) && attempt == 0 && ctx.Err() == nil {
			x.log.Warn("search index damaged; rebuilding", "dir", x.dir, "err", err)
			if err = x.recreate(x.own); err == nil {
				continue
			}
		}
		if errors.Is(err, ErrDamaged) && attempt > 0 {
			err = fmt.Errorf("%w (still, after a rebuild: delete %s and run the operation again)", err, x.dir)
		}
		// Forget what this process believes of the index: the next
		// operation reads it again from what the batches committed.
		_ = x.release()
		return st, err
	}
}

// acquire takes the lock and opens the index, unless this Index holds them.
func (x *Index) acquire(ctx context.Context) error {
	if x.own != nil {
		return nil
	}
	unlock, err := x.ws.LockIndex(ctx, x.opts.LockTimeout)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	o := &owner{unlock: unlock}
	if err := x.load(ctx, o); err != nil {
		_ = o.close()
		_ = unlock()
		return err
	}
	x.own = o
	return nil
}

// guard runs fn, turning a panic in bleve (a damaged segment read in
// this goroutine) into ErrDamaged.
func (x *Index) guard(fn func() error) error { return guard(fn) }

// load opens the index directory, checking it first, and reads the
// watermarks; a missing index is created, a damaged one rebuilt.
func (x *Index) load(ctx context.Context, o *owner) error {
	err := x.guard(func() error {
		bi, err := x.openExisting()
		if err != nil {
			return err
		}
		o.bi = bi
		return x.openStore(o)
	})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	if errors.Is(err, ErrUnwritable) {
		return err // not damage: a rebuild would fail too, after deleting
	}
	if !errors.Is(err, os.ErrNotExist) {
		x.log.Warn("search index damaged; rebuilding", "dir", x.dir, "err", err)
	}
	return x.recreate(o)
}

// openExisting checks and opens <root>/index. It fails with an error
// wrapping os.ErrNotExist when there is no index, ErrDamaged when the
// files are not a readable index of this format.
func (x *Index) openExisting() (bleve.Index, error) {
	if _, err := os.Stat(filepath.Join(x.dir, "index_meta.json")); err != nil {
		return nil, fmt.Errorf("index: %s: %w", x.dir, os.ErrNotExist)
	}
	if err := verifySegments(x.dir, true); err != nil {
		if unwritable(err) {
			return nil, x.asUnwritable("read", err)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrDamaged, x.dir, err)
	}
	bi, err := bleve.OpenUsing(x.dir, runtimeConfig())
	if err != nil {
		if unwritable(err) {
			return nil, x.asUnwritable("open", err)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrDamaged, x.dir, err)
	}
	v, err := bi.GetInternal([]byte(keyFormat))
	if err != nil || string(v) != formatValue {
		_ = closeBleve(bi)
		return nil, fmt.Errorf("%w: %s: not a picosess index of format %d", ErrDamaged, x.dir, formatNumber)
	}
	return bi, nil
}

// recreate removes the index directory and makes a new, empty index:
// everything in it is derived from sessions/.
func (x *Index) recreate(o *owner) error {
	if o.bi != nil {
		_ = x.guard(func() error { return closeBleve(o.bi) })
		o.bi = nil
	}
	_ = o.st.close()
	o.st = nil
	if err := x.checkWritable(); err != nil {
		return err
	}
	if err := os.RemoveAll(x.dir); err != nil {
		if unwritable(err) {
			return x.asUnwritable("remove", err)
		}
		return fmt.Errorf("index: remove %s: %w", x.dir, err)
	}
	bi, err := bleve.NewUsing(x.dir, x.m, scorch.Name, scorch.Name, runtimeConfig())
	if err != nil {
		if unwritable(err) {
			return x.asUnwritable("create", err)
		}
		return fmt.Errorf("index: create %s: %w", x.dir, err)
	}
	b := bi.NewBatch()
	b.SetInternal([]byte(keyFormat), []byte(formatValue))
	if err := sendDurable(bi, b); err != nil {
		_ = closeBleve(bi)
		if unwritable(err) {
			return x.asUnwritable("create", err)
		}
		return fmt.Errorf("index: create %s: %w", x.dir, err)
	}
	o.bi = bi
	return x.openStore(o)
}

// openStore opens the watermark store of the open index and reads the
// change state; the owner starts with no watermark read.
func (x *Index) openStore(o *owner) error {
	st, err := openStore(x.dir, false)
	if err != nil {
		return x.storeError(err)
	}
	o.st = st
	o.wms, o.all, o.resets = map[string]*Watermark{}, false, nil
	o.numNext, o.numEnd = 0, 0
	o.cs, err = st.state()
	return err
}

// storeError classifies an error of the watermark store.
func (x *Index) storeError(err error) error {
	if errors.Is(err, ErrDamaged) {
		return err
	}
	if unwritable(err) {
		return x.asUnwritable("write the watermarks of", err)
	}
	return fmt.Errorf("%w: %s: %v", ErrDamaged, StoreName, err)
}

// runtimeConfig is scorch's configuration. Batches are "unsafe": a batch
// returns once its documents are an in-memory segment, and scorch's
// persister writes what it has in the background (several batches
// merged into one file and one fsync). Every write waits for its batch's
// persisted callback before what depends on it: a catch-up writes the
// watermarks only after their documents are on disk (catcher.start), and
// a new index's format key is on disk before it is used (recreate). So
// what a killed process leaves is consistent: a watermark behind its
// documents, never ahead.
//
// Merged segments hold fewer than maxSegmentDocs documents: a merge reads
// all of its sources and builds the new segment's dictionaries on the
// heap, so its memory follows the size of what it merges, and scorch's
// tiers make merges as large as the history. With the bound a first search
// of 1 000 000 messages peaked at 57-62 MB instead of 86-101 MB
// (docs/performance.md, "First search in bounded memory"); a long history
// is more segments for a query to visit instead (about one per 50 000 to
// 100 000 messages).
func runtimeConfig() map[string]any {
	return map[string]any{"bolt_timeout": "1s", "unsafe_batch": true,
		"scorchMergePlanOptions": map[string]any{"MaxSegmentSize": maxSegmentDocs}}
}

// maxSegmentDocs bounds the documents of a merged segment (scorch's
// MaxSegmentSize; a segment of half as many or more is not merged again).
const maxSegmentDocs = 100_000

func closeBleve(bi bleve.Index) error {
	if bi == nil {
		return nil
	}
	return within(batchLimit, bi.Close)
}

// batchLimit bounds a bleve batch or close. A healthy batch takes well
// under a second; bleve's scorch waits for ever for a batch to be
// persisted when its persister has failed (seen with a root.bolt cut
// short), and its Close waits for that persister.
const batchLimit = 30 * time.Second

// errStuck: a bleve call did not return within batchLimit.
var errStuck = errors.New("the index did not answer")

// within runs fn, giving up after limit: the call then stays blocked in
// its goroutine (bleve offers no way to cancel it) and within returns an
// error wrapping errStuck.
func within(limit time.Duration, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("%w within %s (a damaged store?)", errStuck, limit)
	}
}
