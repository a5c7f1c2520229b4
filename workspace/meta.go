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
	// Encrypted: the session's records are sealed (docs/encryption.md);
	// its title is known only to a workspace opened with the key.
	Encrypted bool      `json:"encrypted,omitempty"`
	Created   time.Time `json:"created"`
	// Updated is the time of the latest message (of the header before the
	// first message): titles, resets, summaries and checkpoints leave it,
	// and so does an earlier conversation imported late, with older times.
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
	// Encrypted sessions: the seqs of the latest title record and of the
	// first user message, whose texts are sealed (encrypt_meta.go opens
	// them for a workspace with the key; the cache never holds them).
	TitleSeq     int64 `json:"title_seq,omitempty"`
	FirstUserSeq int64 `json:"first_user_seq,omitempty"`
	// refold: a restore, or a summary covering only part of the active
	// history, was fed; ActiveMessages and Summary are taken from a fold.
	refold bool
}

// feed folds one record into the entry.
func (m *metaEntry) feed(r *Record) {
	if r.Type == TypeSession && m.Created.IsZero() {
		m.ID, m.Name, m.Aliases, m.Created = r.ID, r.Name, r.Aliases, r.At
		m.Encrypted = r.KeyID != ""
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
	// Updated is the last activity: the latest message, or the header
	// before any. A title, reset, summary or checkpoint is not activity
	// (a rename must not move a session to the top of a listing). Latest,
	// not last: an earlier conversation imported late (migrate's merge:
	// checkpoint, reset, the old messages, restore) comes after the live
	// one in the file with older times, and must not make the session
	// look idle to cleanup.
	if r.Type == TypeMessage && (r.At.After(m.Updated) || m.Messages == 0) || m.Updated.IsZero() {
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
		if r.Sealed != nil && r.Role == RoleUser && m.FirstUserSeq == 0 {
			m.FirstUserSeq = r.Seq
		}
		if m.DefaultTitle == "" && r.Role == RoleUser && strings.TrimSpace(r.Content) != "" {
			m.DefaultTitle = defaultTitle(r.Content)
		}
		if !m.TitleSet && !m.FirstUser && m.DefaultTitle != "" {
			m.Title, m.FirstUser = m.DefaultTitle, true
		}
	case TypeTitle:
		if r.Sealed != nil {
			m.TitleSeq = r.Seq
		}
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
// the file on each use. It is saved in cache/listing.log (meta_log.go;
// derived, rebuildable: delete it and the next listing reads every file
// again) and, for sessions read on their own, in cache/meta/<id>.json
// (meta_session.go).
type metaCache struct {
	w       *Workspace
	mu      sync.Mutex
	entries map[string]*cacheSlot
	log     logState
	dec     *entryDecoder
	gen     uint32 // of the last refresh: the slots it saw carry it
	src     File   // the log, open while payloads are read back from it
	buf     []byte // a window of src, from bufOff
	bufOff  int64
}

// cacheSlot is the entry of one session as the cache holds it: decoded
// (e), as a payload (raw, meta_codec.go), or as the place of its payload
// in the log (off, n, crc), read back and decoded when used. 100 000
// entries decoded took ~1 KB each (a scope's map, a dozen strings); as
// payloads ~330 bytes; as places in the log, the slot alone.
type cacheSlot struct {
	id      string
	e       *metaEntry
	raw     []byte
	off     int64  // where its payload starts in the log, when n > 0
	n       uint32 // the payload's length
	crc     uint32 // CRC-32C of the payload: a log replaced since fails it
	ident   Identity
	updated time.Time // Meta.Updated: the order of a listing
	gen     uint32
}

func slotOf(e *metaEntry) *cacheSlot {
	return &cacheSlot{id: e.ID, e: e, ident: e.Ident, updated: e.Updated}
}

func newMetaCache(w *Workspace) *metaCache {
	return &metaCache{w: w, entries: map[string]*cacheSlot{}, dec: newEntryDecoder()}
}

// entry returns the entry of id, decoding (and keeping) it if the cache
// holds it encoded; nil when there is none or it does not decode.
func (c *metaCache) entry(id string) *metaEntry {
	s := c.entries[id]
	if s == nil {
		return nil
	}
	if s.e == nil {
		e := c.view(s)
		if e == nil {
			delete(c.entries, id)
			return nil
		}
		s.e, s.raw, s.n = e, nil, 0
	}
	return s.e
}

// view returns the entry of s without keeping it decoded: a listing
// decodes each entry for as long as it needs it. nil when the payload is
// gone from the log (another process compacted it) or does not decode.
func (c *metaCache) view(s *cacheSlot) *metaEntry {
	if s.e != nil {
		return s.e
	}
	p := s.raw
	if p == nil && s.n > 0 {
		p = c.readPayload(s)
	}
	if p == nil {
		return nil
	}
	e, _, err := c.dec.decode(p)
	if err != nil || e == nil || e.ID != s.id {
		c.w.log.Warn("metadata cache entry does not decode; reading the session again", "session", s.id)
		return nil
	}
	return e
}

// readPayload reads the payload of s back from the log, opening it for
// the rest of the operation (closeSrc); nil when it is not there any more.
// It reads a window of 64 KB at a time: the log is written in the order of
// a listing (compact), so a listing reads it mostly front to back.
func (c *metaCache) readPayload(s *cacheSlot) []byte {
	if c.src == nil {
		f, err := c.w.fs.OpenFile(c.logPath(), os.O_RDONLY, 0)
		if err != nil {
			return nil
		}
		c.src, c.bufOff, c.buf = f, 0, c.buf[:0]
	}
	end := s.off + int64(s.n)
	if s.off < c.bufOff || end > c.bufOff+int64(len(c.buf)) {
		size := max(int(s.n), 64<<10)
		if cap(c.buf) < size {
			c.buf = make([]byte, size)
		}
		m, err := c.src.ReadAt(c.buf[:size], s.off)
		if m < int(s.n) && err != nil {
			c.buf = c.buf[:0]
			return nil
		}
		c.buf, c.bufOff = c.buf[:m], s.off
	}
	p := c.buf[s.off-c.bufOff : end-c.bufOff]
	if crc32.Checksum(p, castagnoli) != s.crc {
		return nil
	}
	return p
}

// closeSrc closes the log opened by readPayload.
func (c *metaCache) closeSrc() {
	if c.src != nil {
		c.src.Close()
		c.src, c.buf = nil, c.buf[:0]
	}
}

// metaCacheVersion 4: ActiveMessages and Summary as the fold has them
// (restores and summaries count), Damaged (3: usage sums and the tail
// CRC; 2: Updated is the last message's time, was the last record's);
// caches of another version are rebuilt.
const metaCacheVersion = 4

// offer takes e as the entry of id unless the one held is of the same
// file at the same or a later state (another process may have saved an
// older one). It reports whether it took e.
func (c *metaCache) offer(id string, e *metaEntry) bool {
	if old := c.entries[id]; old != nil && e.Ident.Continues(old.ident) {
		return false
	}
	c.entries[id] = slotOf(e)
	return true
}

// offerLogged is offer for an entry read from the log: one of the same
// state as the entry held replaces it too (its place in the log is the
// current one).
func (c *metaCache) offerLogged(s *cacheSlot) {
	if old := c.entries[s.id]; old != nil && s.ident.Continues(old.ident) && !s.ident.equal(old.ident) {
		return
	}
	c.entries[s.id] = s
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
// those of files that are gone. It returns them in no particular order.
// It looks at the sessions the change journal and the directory name
// (meta_trust.go), or at every file when those cannot be trusted or
// rescan is set.
func (c *metaCache) refresh(ctx context.Context, rescan bool) ([]*cacheSlot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.closeSrc()
	c.loadIfChanged()
	p, err := c.plan(time.Now(), rescan)
	if err != nil {
		return nil, err
	}
	// changed: ids whose entry this listing brought up to date (or took
	// from an entry file), for the log; gone: ids of files that are gone.
	var changed, gone []string
	c.gen++
	gen := c.gen
	seen := func(id string) bool { s := c.entries[id]; return s != nil && s.gen == gen }
	out := make([]*cacheSlot, 0, len(c.entries))
	// Entry files (meta_session.go) are listed once, when an entry is
	// found stale: a session read on its own since may have saved a later
	// state than the listing cache holds.
	var files map[string]bool
	var other []string
	listed := false
	visit := func(id string, now Identity) error {
		took := false
		// One map lookup in the common case, an entry up to date (at
		// 100 000 sessions the lookups were a tenth of a warm listing).
		s := c.entries[id]
		if s == nil || !s.ident.equal(now) {
			if !listed {
				files, other = c.entryFiles()
				listed = true
			}
			if files[id] {
				if saved := c.readEntry(id); saved != nil && c.offer(id, saved) {
					took = true // the log lacked this state
					s = c.entries[id]
				}
			}
		}
		if s != nil && s.ident.equal(now) {
			if took {
				changed = append(changed, id)
			}
			s.gen = gen
			out = append(out, s) // not decoded: List decodes what it returns
			return nil
		}
		e, _, err := c.entryFor(id, now)
		if errors.Is(err, fs.ErrNotExist) {
			if s := c.entries[id]; s != nil {
				s.gen = gen // it may be back; its entry is checked again next time
			}
			return nil
		}
		if err != nil {
			return err
		}
		changed = append(changed, id)
		// Kept as a payload, like those read from the log: a first
		// listing of a million sessions must not hold them all decoded.
		s = &cacheSlot{id: id, raw: appendEntry(nil, e), ident: e.Ident, updated: e.Updated, gen: gen}
		c.entries[id] = s
		out = append(out, s)
		return nil
	}
	if p.full {
		err = c.statSessions(ctx, visit)
	} else {
		err = c.visitChanged(ctx, p.look, visit)
		for id, s := range c.entries {
			if s.gen != gen && !p.look[id] {
				s.gen = gen // trusted: nothing says it changed
				out = append(out, s)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	for id, s := range c.entries {
		if s.gen != gen {
			delete(c.entries, id)
			gone = append(gone, id)
		}
	}
	if len(changed) > 0 || len(gone) > 0 {
		if !listed {
			files, other = c.entryFiles()
		}
		c.tidyEntryFiles(files, other, seen)
	}
	if err := c.save(changed, gone, p.next); err != nil {
		c.w.log.Warn("metadata cache not saved", "file", c.logPath(), "err", err)
	}
	return out, nil
}

// visitChanged calls visit with the identity of each session of look
// whose file is there.
func (c *metaCache) visitChanged(ctx context.Context, look map[string]bool, visit func(string, Identity) error) error {
	for id := range look {
		if err := ctx.Err(); err != nil {
			return err
		}
		now, ok, err := c.w.StatSession(id)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := visit(id, now); err != nil {
			return err
		}
	}
	return nil
}

// refreshEntries is refresh with every entry decoded.
func (c *metaCache) refreshEntries(ctx context.Context) ([]*metaEntry, error) {
	slots, err := c.refresh(ctx, false)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.closeSrc()
	out := make([]*metaEntry, 0, len(slots))
	for _, s := range slots {
		if e, err := c.full(s); err == nil {
			out = append(out, e)
		}
	}
	return out, nil
}

// full returns the entry of s decoded, reading the session file again
// when its payload does not decode (which its CRC makes a bug, not
// damage).
func (c *metaCache) full(s *cacheSlot) (*metaEntry, error) {
	if e := c.view(s); e != nil {
		return e, nil
	}
	delete(c.entries, s.id)
	e, _, err := c.entryFor(s.id, s.ident)
	return e, err
}

// entryFor returns the up-to-date entry of id whose file has identity now,
// reading only the appended bytes when the file just grew.
func (c *metaCache) entryFor(id string, now Identity) (*metaEntry, bool, error) {
	if s, ok := c.entries[id]; ok && s.ident.equal(now) {
		if e := c.entry(id); e != nil {
			return e, false, nil
		}
	}
	old := c.entry(id)
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
	end, err := scanLinesBig(io.NewSectionReader(f, e.Offset, now.Size-e.Offset), e.Offset, c.w.readLimit(), func(line []byte, off int64) error {
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
		h, err := foldTail(context.Background(), f, path, end, 0, c.w.log, c.w.readLimit())
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
	c.entries[id] = slotOf(e)
	return e, true, nil
}

// ListOptions filter a listing. The zero value lists every session.
type ListOptions struct {
	Agent   string    // only sessions of this agent
	Channel string    // only sessions of this channel
	Since   time.Time // only sessions updated at or after this time
	Limit   int       // at most this many (newest first); 0 = all
	// Rescan looks at every session file, as if the change journal could
	// not be trusted (meta_trust.go).
	Rescan bool
}

// List returns the metadata of the live sessions, newest first (by last
// record time, then id). It stats every file and reads only files that
// changed since the cache last saw them, and of those only the new bytes.
// ListEach does the same without holding every Meta at once.
func (w *Workspace) List(ctx context.Context, o ListOptions) ([]Meta, error) {
	var out []Meta
	err := w.ListEach(ctx, o, func(m Meta) error {
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []Meta{}
	}
	return out, nil
}

// listingOrder is the order of a listing: newest first (Meta.Updated),
// then by id.
func listingOrder(a, b *cacheSlot) int {
	if c := b.updated.Compare(a.updated); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

// ListEach calls fn with the Meta of each session List returns, in the
// same order, decoding each only for the call: a listing of 100 000 or
// 1 000 000 sessions holds one Meta at a time, plus the cache's compact
// form of the others. An error from fn stops it and is returned.
func (w *Workspace) ListEach(ctx context.Context, o ListOptions, fn func(Meta) error) error {
	slots, err := w.meta.refresh(ctx, o.Rescan)
	if err != nil {
		return err
	}
	c := w.meta
	agent, channel := strings.ToLower(o.Agent), strings.ToLower(o.Channel)
	if !o.Since.IsZero() {
		slots = slices.DeleteFunc(slots, func(s *cacheSlot) bool { return s.updated.Before(o.Since) })
	}
	if agent != "" || channel != "" {
		c.mu.Lock()
		slots = slices.DeleteFunc(slots, func(s *cacheSlot) bool {
			e, err := c.full(s)
			return err != nil || agent != "" && e.Agent != agent || channel != "" && e.Channel != channel
		})
		c.closeSrc()
		c.mu.Unlock()
	}
	slices.SortFunc(slots, listingOrder)
	if o.Limit > 0 && len(slots) > o.Limit {
		slots = slots[:o.Limit]
	}
	defer func() {
		c.mu.Lock()
		c.closeSrc()
		c.mu.Unlock()
	}()
	for _, s := range slots {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.mu.Lock()
		e, err := c.full(s)
		c.mu.Unlock()
		if err != nil {
			continue // gone meanwhile
		}
		if err := fn(w.openTitle(ctx, e)); err != nil {
			return err
		}
	}
	return nil
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
	return s.w.openTitle(ctx, e), nil
}
