package index

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"github.com/picosess/picosess/workspace"
)

// How the index owner learns what changed (docs/search.md, "Change
// detection"), cheapest first:
//
//  1. the change journal (cache/changes): every append adds "<id> <end>"
//     under the session's lock; the owner reads what was added since its
//     cursor and looks at those sessions only;
//  2. the sessions directory: when its identity (inode, mtime, ctime)
//     differs from the one stored, the owner reads its names and inode
//     numbers (no stat per file) and compares them with the watermarks:
//     files created, deleted, renamed over or set aside by a repair;
//  3. a full rescan (a stat of every file, as every search used to do):
//     when the last one is older than Options.Rescan or, in a process that
//     holds the index, RescanSearches operations ago; when the journal is
//     missing, torn, emptied or replaced; after a reboot (hints are not
//     fsynced); after a catch-up that did not finish; and when the journal
//     has grown past journalRotate (it is emptied, then the rescan covers
//     whatever a hint lost in between named).
//
// A change that none of 1 and 2 sees (a file written in place by another
// program: an editor that does not rename, `cat >>`) is seen at the next
// full rescan, or at once when an append to the same session adds a hint.

// Defaults of Options.Rescan and RescanSearches.
const (
	DefaultRescan  = 5 * time.Minute
	RescanSearches = 1000
)

// journalRotate is the journal size past which the owner empties it (a
// variable for tests).
var journalRotate int64 = 1 << 20

// storeSkew is how far before its last look the owner asks a store what
// changed: the store keeps the times of the machines that appended, and
// its activity times are up to a second behind.
const storeSkew = 2 * time.Minute

// journalSoon is how soon a full rescan follows one made because the
// journal was missing or replaced: longer than a writer takes to notice.
const journalSoon = 3 * time.Second

// plan is what one catch-up must do.
type plan struct {
	todo   []work
	gone   []string
	next   changeState // the change state once it is done
	full   bool
	looked int // session files stat'ed
}

// changed reports whether next differs from cs in what is stored.
func (c changeState) same(o changeState) bool {
	return c.Journal.SameFile(o.Journal) && c.Cursor == o.Cursor && c.Tail == o.Tail && c.Dir == o.Dir && c.StoreSeen.Equal(o.StoreSeen) &&
		c.Full.Equal(o.Full) && c.Boot == o.Boot && c.Dirty == o.Dirty
}

// plan decides what the catch-up reads, from the journal and the
// directory, or from a full rescan when they cannot be trusted.
func (x *Index) plan(ctx context.Context, o *owner) (plan, error) {
	now := time.Now()
	sessions := x.ws.SessionsDir()
	cs := o.cs
	cs.Searches++
	// Look at the journal and the directory before the files: whatever
	// changes after this is for the next catch-up.
	full := cs.Dirty || cs.Full.IsZero() || now.Sub(cs.Full) > x.opts.rescan() || cs.Full.Sub(now) > time.Minute ||
		cs.Boot != workspace.BootID() || (x.opts.Hold && cs.Searches > RescanSearches)
	// A journal found missing or replaced: writers that had the old one
	// open write there until they notice (workspace.journalRecheck), so
	// the next full rescan comes soon after this one.
	soon := false
	jl, err := x.ws.ReadChangesAt(workspace.ChangeCursor{End: cs.Cursor, Tail: cs.Tail})
	if err == nil && !jl.File.SameFile(cs.Journal) {
		full, soon = true, !cs.Journal.SameFile(workspace.Identity{}) // another journal than the one read: hints may be lost
		if cs.Cursor > 0 {
			jl, err = x.ws.ReadChanges(0)
		}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		full, soon = true, true
		jl.File, err = x.ws.ResetChanges()
	case err != nil:
	case jl.Torn:
		full = true // a line that is not a hint, or emptied by another owner
	case jl.End > journalRotate:
		// Empty it; the full rescan covers what a hint written between
		// the read and the emptying named.
		full = true
		jl = workspace.ChangeLog{}
		jl.File, err = x.ws.ResetChanges()
	}
	if err != nil {
		return plan{}, x.journalError(err)
	}
	dir, err := workspace.StatDir(sessions)
	if err != nil {
		return plan{}, err
	}
	cs.Journal, cs.Cursor, cs.Tail, cs.Dirty = jl.File, jl.Cursor.End, jl.Cursor.Tail, false
	if x.ws.Store() != nil {
		cs.StoreSeen = now
	}
	cs.Journal.Size = 0
	cs.Dir = dir
	if !dir.Settled(now) {
		cs.Dir = workspace.DirState{}
	}
	if full {
		cs.Full, cs.Boot, cs.Searches = now, workspace.BootID(), 0
		if r := x.opts.rescan(); soon && r > journalSoon {
			cs.Full = now.Add(journalSoon - r)
		}
		return x.planFull(ctx, o, cs)
	}
	p := plan{next: cs}
	look := make(map[string]bool, len(jl.Changes))
	for _, c := range jl.Changes {
		look[c.ID] = true
	}
	// On a store, the journal and the directory are this machine's: the
	// store says what the others changed (appends, creates, moves to and
	// from the trash), by their clocks, hence the margin.
	if ids, ok, err := x.ws.StoreChangedSince(ctx, o.cs.StoreSeen.Add(-storeSkew)); ok {
		if err != nil {
			return plan{}, err
		}
		for _, id := range ids {
			look[id] = true
		}
	}
	if dir != o.cs.Dir {
		files, evidence, ok, err := workspace.ListSessionDir(sessions)
		if err != nil {
			return plan{}, err
		}
		if !ok {
			cs.Full, cs.Boot, cs.Searches = now, workspace.BootID(), 0
			return x.planFull(ctx, o, cs)
		}
		known, err := o.inodes()
		if err != nil {
			return plan{}, err
		}
		for id, ino := range files {
			if k, ok := known[id]; !ok || k != ino {
				look[id] = true
			}
		}
		for id := range known {
			if _, ok := files[id]; !ok {
				look[id] = true
			}
		}
		for _, id := range evidence {
			look[id] = true
		}
	}
	for id := range look {
		if err := ctx.Err(); err != nil {
			return plan{}, err
		}
		wm, err := o.wm(id)
		if err != nil {
			return plan{}, err
		}
		// Through the workspace: a session in a store is no file here.
		ident, there, err := x.ws.StatSession(id)
		p.looked++
		switch {
		case err != nil:
			return plan{}, err
		case !there:
			// Gone, or not a regular file (as SessionFiles: never
			// followed; check reports it).
			if wm != nil {
				p.gone = append(p.gone, id)
			}
			continue
		}
		if w, ok := classify(id, ident, wm); ok {
			p.todo = append(p.todo, w)
		}
	}
	return p, nil
}

// planFull looks at every session file (one stat each) and every
// watermark, and at the sessions that have documents but no file.
func (x *Index) planFull(ctx context.Context, o *owner, cs changeState) (plan, error) {
	p := plan{next: cs, full: true}
	if err := o.loadAll(); err != nil {
		return p, err
	}
	files, err := x.ws.SessionFiles(ctx)
	if err != nil {
		return p, err
	}
	indexed, err := indexedSessions(o.bi)
	if err != nil {
		return p, err
	}
	p.looked = len(files)
	live := make(map[string]bool, len(files))
	for _, f := range files {
		live[f.ID] = true
	}
	for _, id := range indexed {
		if o.wms[id] != nil {
			continue
		}
		// The terms of deleted documents stay in the dictionary until
		// segments merge: look for live documents. Documents without a
		// watermark (a batch whose watermarks were not written) are
		// removed, or read again from the start.
		n, err := countDocs(o.bi, id)
		if err != nil {
			return p, err
		}
		if n > 0 {
			o.wms[id] = &Watermark{Docs: int64(n)}
		}
	}
	for _, f := range files {
		if w, ok := classify(f.ID, f.Identity, o.wms[f.ID]); ok {
			p.todo = append(p.todo, w)
		}
	}
	for id, wm := range o.wms {
		if wm != nil && !live[id] {
			p.gone = append(p.gone, id)
		}
	}
	return p, nil
}

// classify says what to read of a session file, given its watermark.
func classify(id string, now workspace.Identity, wm *Watermark) (work, bool) {
	switch {
	case wm == nil:
		return work{id: id, now: now}, true
	case unchanged(wm.File, now):
		return work{}, false
	case wm.File.Continues(now):
		return work{id: id, now: now, from: wm.Offset}, true
	default:
		return work{id: id, now: now, fresh: true}, true
	}
}

// journalError: the journal cannot be read or made (a read-only
// workspace): not damage of the index.
func (x *Index) journalError(err error) error {
	if unwritable(err) {
		return &UnwritableError{Dir: x.ws.ChangesPath(), Op: "read or write the change journal", Err: err}
	}
	return err
}
