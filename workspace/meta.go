package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/picosess/picosess/keying"
)

// Meta describes one session for listings.
type Meta struct {
	ID      string        `json:"id"`
	Title   string        `json:"title"`
	Name    string        `json:"name,omitempty"`
	Scope   *keying.Scope `json:"scope,omitempty"`
	Agent   string        `json:"agent,omitempty"`
	Channel string        `json:"channel,omitempty"`
	Aliases []string      `json:"aliases,omitempty"`
	Created time.Time     `json:"created"`
	// Updated is the time of the last message (of the header before the
	// first message): titles, resets, summaries and checkpoints leave it.
	Updated time.Time `json:"updated"`
	// Messages and Tokens count every message record in the file.
	Messages int `json:"messages"`
	Tokens   int `json:"tokens"`
	// UsageIn and UsageOut sum the input and output tokens models
	// reported (Record.Usage) over every message in the file.
	UsageIn  int `json:"usage_in"`
	UsageOut int `json:"usage_out"`
	// ActiveMessages counts the messages of the active history as History
	// folds it: since the last reset, rewound by restores, without those
	// its summary stands in for (History(ctx, 0): its Messages, and the
	// messages among its Skipped, over the read limit).
	ActiveMessages int `json:"active_messages"`
	// Summary is true when the active history has a summary
	// (History.Summary != nil).
	Summary bool `json:"summary"`
	// Segments is the number of conversations: one, plus one per reset.
	Segments int   `json:"segments"`
	LastSeq  int64 `json:"last_seq"`
	Size     int64 `json:"size"`
	// Corrupt counts lines that are not valid records (see Check).
	Corrupt int `json:"corrupt,omitempty"`
	// Damaged says why the file is not a session that can be listed as
	// one: "empty file", or "no session header" (another program's file,
	// a header cut short or lost; picosess check says more). Created and
	// Updated are zero then. "" for a session file with its header.
	Damaged string `json:"damaged,omitempty"`
}

// metaEntry is a Meta with what is needed to bring it up to date by
// reading only what was appended since.
type metaEntry struct {
	Meta
	Ident  Identity `json:"ident"`
	Offset int64    `json:"offset"` // end of the complete lines folded in
	// TailCRC is the CRC-32 of the metaTailBytes bytes before Offset (all
	// of them when fewer). The entry is continued from Offset only while
	// they are unchanged: a file rewritten in place (an editor's save of
	// the same inode, grown but changed before its old end) is read again
	// from the start, instead of from an offset that may now cut a line.
	TailCRC   uint32 `json:"tail_crc"`
	TitleSet  bool   `json:"title_set,omitempty"`
	FirstUser bool   `json:"first_user,omitempty"` // Title is the first user message
	// DefaultTitle is the first user message's title, kept so that a
	// title record with empty text can bring it back.
	DefaultTitle string `json:"default_title,omitempty"`
	// LastMsgSeq is the seq of the last message record: a summary through
	// it or later leaves no active message.
	LastMsgSeq int64 `json:"last_msg_seq,omitempty"`
	// refold: a restore, or a summary covering only part of the active
	// history, was fed; ActiveMessages and Summary are taken from a fold.
	refold bool
}

// feed folds one record into the entry.
func (m *metaEntry) feed(r *Record) {
	if r.Type == TypeSession && m.Created.IsZero() {
		m.ID, m.Name, m.Aliases, m.Created = r.ID, r.Name, r.Aliases, r.At
		if r.Scope != nil {
			m.Scope, m.Agent, m.Channel = r.Scope, r.Scope.AgentID, r.Scope.Channel
		}
		if m.Segments == 0 {
			m.Segments = 1
		}
	}
	if m.Segments == 0 {
		m.Segments = 1
	}
	m.LastSeq = r.Seq
	// Updated is the last activity: the last message, or the header
	// before any. A title, reset, summary or checkpoint is not activity
	// (a rename must not move a session to the top of a listing).
	if r.Type == TypeMessage || m.Updated.IsZero() {
		m.Updated = r.At
	}
	switch r.Type {
	case TypeMessage:
		m.Messages++
		m.ActiveMessages++
		m.LastMsgSeq = r.Seq
		m.Tokens += r.Tokens
		if u := r.Usage; u != nil {
			m.UsageIn += u.InputTokens
			m.UsageOut += u.OutputTokens
		}
		if m.DefaultTitle == "" && r.Role == RoleUser && strings.TrimSpace(r.Content) != "" {
			m.DefaultTitle = defaultTitle(r.Content)
		}
		if !m.TitleSet && !m.FirstUser && m.DefaultTitle != "" {
			m.Title, m.FirstUser = m.DefaultTitle, true
		}
	case TypeTitle:
		m.Title, m.TitleSet = r.Text, r.Text != ""
		if r.Text == "" { // SetTitle(""): back to the default title
			m.Title, m.FirstUser = m.DefaultTitle, m.DefaultTitle != ""
		}
	case TypeReset:
		m.Segments++
		m.ActiveMessages, m.Summary, m.refold = 0, false, false
	case TypeSummary:
		// Through the last message (the usual summary, a carried one):
		// nothing is left active. Through an earlier one (KeepLast), the
		// messages after it are: only a fold knows which are active.
		m.Summary = true
		if r.Through >= m.LastMsgSeq {
			m.ActiveMessages, m.refold = 0, false
		} else {
			m.refold = true
		}
	case TypeRestore:
		m.refold = true
	case TypeAliases:
		for _, a := range r.Aliases {
			if !slices.Contains(m.Aliases, a) {
				m.Aliases = append(m.Aliases, a)
			}
		}
	}
}

// defaultTitle is the first user message, on one line, cut to
// DefaultTitleRunes runes.
func defaultTitle(content string) string {
	return cutRunes(strings.Join(strings.Fields(content), " "), DefaultTitleRunes)
}

// metaCache keeps the Meta of every session, checked against a stat of
// the file on each use. It is saved in cache/sessions.json (derived,
// rebuildable: delete it and the next listing reads every file again).
// Several processes may write it; each writes a whole new file and renames
// it into place, so a reader sees one writer's version or another's, each
// of them checked against the files before use.
type metaCache struct {
	w       *Workspace
	mu      sync.Mutex
	entries map[string]*metaEntry
	loaded  Identity // of the cache file as last read or written
}

func newMetaCache(w *Workspace) *metaCache {
	return &metaCache{w: w, entries: map[string]*metaEntry{}}
}

// metaCacheVersion 4: ActiveMessages and Summary as the fold has them
// (restores and summaries count), Damaged (3: usage sums and the tail
// CRC; 2: Updated is the last message's time, was the last record's);
// caches of another version are rebuilt.
const metaCacheVersion = 4

type metaCacheFile struct {
	Version  int                   `json:"version"`
	Sessions map[string]*metaEntry `json:"sessions"`
}

func (c *metaCache) path() string {
	return filepath.Join(c.w.root, CacheDir, "sessions.json")
}

// loadIfChanged merges the cache file when another process rewrote it.
func (c *metaCache) loadIfChanged() {
	fi, err := c.w.fs.Stat(c.path())
	if err != nil {
		return
	}
	id := identityOf(fi)
	if id.equal(c.loaded) {
		return
	}
	f, err := c.w.fs.OpenFile(c.path(), os.O_RDONLY, 0)
	if err != nil {
		return
	}
	defer f.Close()
	var file metaCacheFile
	if err := json.NewDecoder(f).Decode(&file); err != nil || file.Version != metaCacheVersion {
		c.w.log.Warn("metadata cache unreadable; rebuilding", "file", c.path(), "err", err)
		c.loaded = id
		return
	}
	for k, e := range file.Sessions {
		c.offer(k, e)
	}
	c.loaded = id
}

// offer takes e as the entry of id unless the one held is of the same
// file at the same or a later state (another process may have saved an
// older one). It reports whether it took e.
func (c *metaCache) offer(id string, e *metaEntry) bool {
	if old, ok := c.entries[id]; ok && e.Ident.Continues(old.Ident) {
		return false
	}
	c.entries[id] = e
	return true
}

// save writes the cache file: a new file renamed into place.
func (c *metaCache) save() error {
	if err := c.replaceFile(c.path(), metaCacheFile{Version: metaCacheVersion, Sessions: c.entries}); err != nil {
		return err
	}
	if fi, err := c.w.fs.Stat(c.path()); err == nil {
		c.loaded = identityOf(fi)
	}
	return nil
}

// replaceFile writes v as JSON to a new file and renames it to path, so a
// reader (another process) sees the old file or the new one, whole. It is
// not synced: a cache file torn or emptied by a power loss fails to decode
// and only costs a re-read of the session files.
func (c *metaCache) replaceFile(path string, v any) error {
	if err := c.w.fs.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s%s%d-%d", path, tmpInfix, os.Getpid(), time.Now().UnixNano())
	f, err := c.w.fs.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = c.w.fs.Rename(tmp, path)
	}
	if err != nil {
		_ = c.w.fs.Remove(tmp)
	}
	return err
}

// tmpInfix marks a cache file being written: <name>.tmp-<pid>-<nanos>.
const tmpInfix = ".tmp-"

// refresh brings the entries of every live session up to date and drops
// those of files that are gone. It returns them sorted by id.
func (c *metaCache) refresh(ctx context.Context) ([]*metaEntry, error) {
	des, err := c.w.fs.ReadDir(c.w.sessionsDir())
	if err != nil {
		return nil, fmt.Errorf("workspace: list %s: %w", c.w.sessionsDir(), err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loadIfChanged()
	changed := false
	seen := make(map[string]bool, len(des))
	out := make([]*metaEntry, 0, len(des))
	// Entry files (meta_session.go) are listed once, when an entry is
	// found stale: a session read on its own since may have saved a later
	// state than the listing cache holds.
	var files map[string]bool
	var other []string
	listed := false
	for _, de := range des {
		id := idFromFileName(de.Name())
		if id == "" || !de.Type().IsRegular() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fi, err := de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("workspace: stat %s: %w", de.Name(), err)
		}
		seen[id] = true
		now := identityOf(fi)
		if e := c.entries[id]; e == nil || !e.Ident.equal(now) {
			if !listed {
				files, other = c.entryFiles()
				listed = true
			}
			if files[id] {
				if saved := c.readEntry(id); saved != nil && c.offer(id, saved) {
					changed = true // sessions.json lacked this state
				}
			}
		}
		e, upd, err := c.entryFor(id, now)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		changed = changed || upd
		out = append(out, e)
	}
	for id := range c.entries {
		if !seen[id] {
			delete(c.entries, id)
			changed = true
		}
	}
	if changed {
		if !listed {
			files, other = c.entryFiles()
		}
		c.tidyEntryFiles(files, other, seen)
		if err := c.save(); err != nil {
			c.w.log.Warn("metadata cache not saved", "file", c.path(), "err", err)
		}
	}
	return out, nil
}

// entryFor returns the up-to-date entry of id whose file has identity now,
// reading only the appended bytes when the file just grew.
func (c *metaCache) entryFor(id string, now Identity) (*metaEntry, bool, error) {
	old := c.entries[id]
	if old != nil && old.Ident.equal(now) {
		return old, false, nil
	}
	path := c.w.SessionPath(id)
	f, err := c.w.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	e := &metaEntry{}
	var tail []byte // the metaTailBytes bytes before the read position
	if old != nil && old.Ident.Continues(now) && old.Offset <= now.Size {
		if t, err := readTail(f, old.Offset); err == nil && crc32.ChecksumIEEE(t) == old.TailCRC {
			cp := *old
			e, tail = &cp, t
		}
	}
	end, err := scanLinesBig(io.NewSectionReader(f, e.Offset, now.Size-e.Offset), e.Offset, func(line []byte, off int64) error {
		tail = keepTail(tail, line)
		r, hint := decodeRecord(line)
		if hint != "" {
			e.Corrupt++
			return nil
		}
		e.feed(&r)
		return nil
	}, func(l bigLine) error {
		// Over the read limit: counted from what its first and last bytes
		// say (type, seq, time, role, tokens), never held whole.
		tail = keepTail(tail, l.Tail)
		if r, ok := l.record(); ok {
			e.feed(&r)
		} else {
			e.Corrupt++
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("workspace: read %s: %w", path, err)
	}
	if e.refold {
		// Rare (a restore, a partial summary): the fold says what is
		// active, as History does.
		h, err := foldTail(context.Background(), f, path, end, 0, c.w.log)
		if err != nil {
			return nil, false, err
		}
		e.ActiveMessages, e.Summary, e.refold = len(h.Messages), h.Summary != nil, false
		for _, sk := range h.Skipped {
			if sk.Type == TypeMessage {
				e.ActiveMessages++
			}
		}
	}
	e.Damaged = ""
	if e.Created.IsZero() {
		e.Damaged = "no session header"
		if now.Size == 0 {
			e.Damaged = "empty file"
		}
	}
	e.Offset, e.Ident, e.Size, e.TailCRC = end, now, now.Size, crc32.ChecksumIEEE(tail)
	if e.ID == "" {
		e.ID = id
	}
	c.entries[id] = e
	return e, true, nil
}

// ListOptions filter a listing. The zero value lists every session.
type ListOptions struct {
	Agent   string    // only sessions of this agent
	Channel string    // only sessions of this channel
	Since   time.Time // only sessions updated at or after this time
	Limit   int       // at most this many (newest first); 0 = all
}

// List returns the metadata of the live sessions, newest first (by last
// record time, then id). It stats every file and reads only files that
// changed since the cache last saw them, and of those only the new bytes.
func (w *Workspace) List(ctx context.Context, o ListOptions) ([]Meta, error) {
	entries, err := w.meta.refresh(ctx)
	if err != nil {
		return nil, err
	}
	agent, channel := strings.ToLower(o.Agent), strings.ToLower(o.Channel)
	out := make([]Meta, 0, len(entries))
	for _, e := range entries {
		if agent != "" && e.Agent != agent || channel != "" && e.Channel != channel {
			continue
		}
		if !o.Since.IsZero() && e.Updated.Before(o.Since) {
			continue
		}
		out = append(out, e.Meta)
	}
	slices.SortFunc(out, func(a, b Meta) int {
		if c := b.Updated.Compare(a.Updated); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if o.Limit > 0 && len(out) > o.Limit {
		out = out[:o.Limit]
	}
	return out, nil
}

// Meta returns the metadata of the session. It reads only what was
// appended since the state this or another process saved last (the
// session's entry in cache/meta/, or the listing cache), and saves the
// new state for the next reader: its cost does not grow with the file.
func (s *Session) Meta(ctx context.Context) (Meta, error) {
	fi, err := s.w.fs.Stat(s.Path())
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Meta{}, fmt.Errorf("%w: session %s", ErrNotFound, s.id)
		}
		return Meta{}, fmt.Errorf("workspace: %w", err)
	}
	c := s.w.meta
	c.mu.Lock()
	defer c.mu.Unlock()
	e, err := c.sessionEntry(s.id, identityOf(fi))
	if err != nil {
		return Meta{}, err
	}
	return e.Meta, nil
}
