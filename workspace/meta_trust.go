package workspace

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// How a listing learns which sessions changed without a stat of every
// session file (docs/format.md, "Metadata cache"). The listing log holds,
// after the entries, a state frame: the place in the change journal
// (cache/changes, which every append writes under the session's lock)
// up to which the entries before it are up to date, the identity of the
// sessions directory then, and when every file was last looked at. A
// listing that finds such a state
//
//  1. reads the journal from that place and looks at the sessions it
//     names (one stat each);
//  2. when the directory's identity changed (a session created, trashed,
//     restored, renamed over or set aside by a repair), reads its names and
//     inode numbers (getdents, no stat per file) and looks at the sessions
//     that came, went or changed inode;
//  3. trusts the other entries as they are.
//
// It looks at every file instead (as every listing used to) when there is
// no state, the log is damaged, the last full look is older than
// Options.ListingRescan (DefaultListingRescan), the machine rebooted since
// (hints are not fsynced), or the journal is missing, replaced, emptied
// since (its cursor's bytes differ) or holds a line that is not a hint.
// A change none of these sees (another program writing a session file in
// place) shows at the next full look, or at once when an append to the
// same session adds a hint. Sessions kept in a store (Options.Store), and
// filesystems other than the operating system's, are always looked at
// whole: the journal is this machine's.

// DefaultListingRescan is how often a listing that trusts the change
// journal looks at every session file anyway.
const DefaultListingRescan = 5 * time.Minute

// listingJournalRotate is the journal size past which a listing empties
// it (the search index empties it past 1 MiB; a workspace nobody searches
// must not grow it for ever). A variable for tests.
var listingJournalRotate int64 = 4 << 20

// listingJournalSoon is how soon a full look follows one made because the
// journal was missing or replaced: longer than a writer takes to notice
// (journalRecheck); hints written meanwhile may be lost.
const listingJournalSoon = 3 * time.Second

// A state frame is a gone frame (meta_codec.go) of a reserved id that no
// session has: stateIDPrefix, then the state. Readers of listing log 1
// that know nothing of states (versions before this one, which may share
// the workspace) forget the entry of that id, which they never had, and
// read on; a new kind of frame would have made them call the log damaged.
const stateIDPrefix = "\x00listing-state 1\x00"

// listingState is what a state frame says.
type listingState struct {
	Journal Identity // the journal's file (Size not kept)
	Cursor  ChangeCursor
	Dir     DirState  // the sessions directory; zero when it was not settled
	Full    time.Time // the last look at every file
	Boot    string    // BootID then
}

func (s *listingState) equal(o *listingState) bool {
	return s != nil && o != nil && s.Journal.SameFile(o.Journal) && s.Cursor == o.Cursor && s.Dir == o.Dir &&
		s.Full.Equal(o.Full) && s.Boot == o.Boot
}

// appendState appends the payload of a state frame to b.
func appendState(b []byte, s *listingState) []byte {
	st := []byte(stateIDPrefix)
	st = binary.AppendUvarint(st, s.Journal.Dev)
	st = binary.AppendUvarint(st, s.Journal.Inode)
	st = binary.AppendVarint(st, s.Cursor.End)
	st = binary.AppendUvarint(st, uint64(s.Cursor.Tail))
	st = binary.AppendUvarint(st, s.Dir.Dev)
	st = binary.AppendUvarint(st, s.Dir.Ino)
	st = binary.AppendVarint(st, s.Dir.Mtime)
	st = binary.AppendVarint(st, s.Dir.Ctime)
	st = binary.AppendVarint(st, s.Full.UnixNano())
	st = appendStr(st, s.Boot)
	return appendGone(b, string(st))
}

// stateOf decodes the state of the id of a gone frame; ok is false for
// the id of a session.
func (d *entryDecoder) stateOf(id string) (s *listingState, ok bool, err error) {
	rest, ok := strings.CutPrefix(id, stateIDPrefix)
	if !ok {
		return nil, false, nil
	}
	d.b, d.err = []byte(rest), false
	s = &listingState{}
	s.Journal.Dev, s.Journal.Inode = d.uvarint(), d.uvarint()
	s.Cursor.End = d.varint()
	tail := d.uvarint()
	s.Cursor.Tail = uint32(tail)
	s.Dir.Dev, s.Dir.Ino = d.uvarint(), d.uvarint()
	s.Dir.Mtime, s.Dir.Ctime = d.varint(), d.varint()
	s.Full = time.Unix(0, d.varint())
	s.Boot = d.str()
	if d.err || len(d.b) != 0 || tail > 1<<32-1 {
		return nil, true, errEntryCodec
	}
	return s, true, nil
}

// listingPlan is what one listing must look at.
type listingPlan struct {
	full bool
	look map[string]bool // when not full: the sessions to stat
	// next is the state the listing leaves once done; nil when none can be
	// trusted (no journal on a read-only workspace, another filesystem).
	next *listingState
}

// trusting reports whether listings of this workspace may follow the
// change journal.
func (c *metaCache) trusting() bool {
	if c.w.store != nil || c.w.opts.ListingRescan < 0 {
		return false
	}
	_, ok := c.w.fs.(OSFS)
	return ok
}

// plan decides what a listing looks at, from the state the log holds,
// the change journal and the sessions directory. It reads them before any
// session file: whatever changes after this is for the next listing.
func (c *metaCache) plan(now time.Time, rescan bool) (listingPlan, error) {
	p := listingPlan{full: true}
	if !c.trusting() {
		return p, nil
	}
	w := c.w
	every := w.opts.ListingRescan
	if every == 0 {
		every = DefaultListingRescan
	}
	st := c.log.state
	full := rescan || st == nil || c.log.bad || now.Sub(st.Full) > every || st.Full.Sub(now) > time.Minute ||
		st.Boot != BootID()
	var cur ChangeCursor
	if st != nil {
		cur = st.Cursor
	}
	soon := false
	jl, err := w.ReadChangesAt(cur)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Writers make it on their next append; made now, the next
		// listing may trust it (soon: writers that failed to open it
		// retry after journalRecheck, their hints meanwhile lost).
		full, soon = true, true
		if w.opts.NoCreate {
			return p, nil
		}
		if jl.File, err = w.makeChanges(); err != nil {
			w.log.Debug("change journal not made", "path", w.ChangesPath(), "err", err)
			return p, nil
		}
		jl.Cursor = ChangeCursor{}
	case err != nil:
		w.log.Debug("change journal not read", "path", w.ChangesPath(), "err", err)
		return p, nil
	case st != nil && !jl.File.SameFile(st.Journal):
		full, soon = true, true // another journal: writers of the old one write there a while
	case jl.Torn:
		full = true
	}
	if jl.Cursor.End > listingJournalRotate {
		// Emptied before the full look, which covers what a hint written
		// between the read and the emptying named.
		full = true
		if jl.File, err = w.ResetChanges(); err != nil {
			return p, nil
		}
		jl.Cursor = ChangeCursor{}
	}
	dir, err := StatDir(w.sessionsDir())
	if err != nil {
		return p, nil // the walk says what is wrong
	}
	next := &listingState{Journal: jl.File, Cursor: jl.Cursor, Dir: dir}
	next.Journal.Size, next.Journal.ModTime = 0, time.Time{}
	if !dir.Settled(now) {
		next.Dir = DirState{}
	}
	p.next = next
	if full {
		next.Full, next.Boot = now, BootID()
		if soon && every > listingJournalSoon {
			next.Full = now.Add(listingJournalSoon - every)
		}
		return p, nil
	}
	next.Full, next.Boot = st.Full, st.Boot
	p.full = false
	p.look = make(map[string]bool, len(jl.Changes))
	for _, ch := range jl.Changes {
		p.look[ch.ID] = true
	}
	if dir != st.Dir {
		files, evidence, ok, err := ListSessionDir(w.sessionsDir())
		if err != nil || !ok {
			p.full, p.look = true, nil
			next.Full, next.Boot = now, BootID()
			return p, nil
		}
		for id, ino := range files {
			if s := c.entries[id]; s == nil || s.ident.Inode != ino {
				p.look[id] = true
			}
		}
		for id := range c.entries {
			if _, ok := files[id]; !ok {
				p.look[id] = true
			}
		}
		for _, id := range evidence {
			p.look[id] = true
		}
	}
	return p, nil
}

// makeChanges makes the change journal (empty, unless a writer made it
// meanwhile) and returns its identity.
func (w *Workspace) makeChanges() (Identity, error) {
	path := w.ChangesPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return Identity{}, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return Identity{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Identity{}, err
	}
	return identityOf(fi), nil
}
