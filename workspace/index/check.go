package index

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/blevesearch/bleve/v2"
	"github.com/picosess/picosess/workspace"
)

// Report is what Check found in the index. The index being behind is
// normal (the next search catches up); damage is repaired by Rebuild, or
// by the next search, which rebuilds a damaged index by itself.
type Report struct {
	Dir     string `json:"dir"`
	Exists  bool   `json:"exists"`
	Damaged string `json:"damaged,omitempty"` // why the index cannot be read; "" when it can
	// Sessions counts the live session files.
	Sessions int `json:"sessions"`
	// Behind lists the sessions whose file changed since the index last
	// read it (or that it never read), sorted.
	Behind []string `json:"behind"`
	// Stale lists the sessions that still have documents but no file:
	// deleted or purged since the last catch-up.
	Stale []string `json:"stale"`
	Docs  uint64   `json:"docs"`
}

// Clean reports whether the index exists, is readable and is current.
func (r *Report) Clean() bool {
	return r.Exists && r.Damaged == "" && len(r.Behind) == 0 && len(r.Stale) == 0
}

// Check reads the index without changing it (under locks/index.lock, with
// the workspace's lock timeout) and reports whether it is damaged or
// behind the session files. A missing index is reported, not created.
func Check(ctx context.Context, ws *workspace.Workspace) (*Report, error) {
	dir := filepath.Join(ws.Root(), workspace.IndexDir)
	r := &Report{Dir: dir, Behind: []string{}, Stale: []string{}}
	// Shared, read-only, no holder line: check changes nothing, and works
	// on a read-only or full disk.
	unlock, err := ws.LockIndexShared(ctx, ws.LockTimeout())
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	defer unlock()
	files, err := ws.SessionFiles(ctx)
	if err != nil {
		return nil, err
	}
	r.Sessions = len(files)
	if _, err := os.Stat(filepath.Join(dir, "index_meta.json")); err != nil {
		for _, f := range files {
			r.Behind = append(r.Behind, f.ID)
		}
		slices.Sort(r.Behind)
		return r, nil
	}
	r.Exists = true
	damaged := func(err error) (*Report, error) {
		r.Damaged = err.Error()
		return r, nil
	}
	if err := verifySegments(dir, false); err != nil {
		return damaged(err)
	}
	var bi bleve.Index
	err = guard(func() error {
		var err error
		bi, err = bleve.OpenUsing(dir, map[string]any{"read_only": true, "bolt_timeout": "1s"})
		return err
	})
	if err != nil {
		return damaged(err)
	}
	defer bi.Close()
	err = guard(func() error {
		if v, err := bi.GetInternal([]byte(keyFormat)); err != nil || string(v) != formatValue {
			return fmt.Errorf("not a picosess index of format %d", formatNumber)
		}
		n, err := bi.DocCount()
		if err != nil {
			return err
		}
		r.Docs = n
		live := map[string]bool{}
		st, err := openStore(dir, true)
		if err != nil {
			return err
		}
		defer st.close()
		for _, f := range files {
			live[f.ID] = true
			var wm *Watermark
			if st != nil {
				if wm, err = st.get(f.ID); err != nil {
					return err
				}
			}
			if wm == nil || !unchanged(wm.File, f.Identity) {
				r.Behind = append(r.Behind, f.ID)
			}
		}
		indexed, err := indexedSessions(bi)
		if err != nil {
			return err
		}
		for _, id := range indexed {
			if live[id] {
				continue
			}
			if n, err := countDocs(bi, id); err != nil {
				return err
			} else if n > 0 {
				r.Stale = append(r.Stale, id)
			}
		}
		return nil
	})
	if err != nil {
		return damaged(err)
	}
	slices.Sort(r.Behind)
	slices.Sort(r.Stale)
	return r, nil
}

// Rebuild deletes the index and builds it again from every session file,
// reporting progress as it goes (progress may be nil). It waits for the
// index lock at most the workspace's lock timeout.
func Rebuild(ctx context.Context, ws *workspace.Workspace, progress func(Progress)) (Stats, error) {
	x, err := Open(ws, nil)
	if err != nil {
		return Stats{}, err
	}
	defer x.Close()
	return x.Rebuild(ctx, progress)
}

// Rebuild deletes the index and builds it again from every session file.
func (x *Index) Rebuild(ctx context.Context, progress func(Progress)) (Stats, error) {
	x.mu.Lock()
	if x.own == nil {
		unlock, err := x.ws.LockIndex(ctx, x.opts.LockTimeout)
		if err != nil {
			x.mu.Unlock()
			return Stats{}, fmt.Errorf("index: %w", err)
		}
		x.own = &owner{unlock: unlock}
	}
	err := x.recreate(x.own)
	if err != nil {
		_ = x.release()
	}
	x.mu.Unlock()
	if err != nil {
		return Stats{}, err
	}
	return x.withStats(ctx, progress, nil)
}

// CatchUp brings the index up to date with the session files (what every
// search does first) and says what it did.
func (x *Index) CatchUp(ctx context.Context, progress func(Progress)) (Stats, error) {
	return x.withStats(ctx, progress, nil)
}

// guard turns a panic in bleve into ErrDamaged.
func guard(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrDamaged, r)
		}
	}()
	return fn()
}
