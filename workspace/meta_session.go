package workspace

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A session read on its own (show, a history page, an embedder's
// Session.Meta) must not cost a read of the whole file each time another
// process has appended to it. Its metadata entry is therefore also kept in
// a file of its own, cache/meta/<id>.json, written by the reader that
// brought it up to date: the next process reads that small file and only
// the bytes appended since its offset. Rewriting cache/sessions.json for
// one session would cost as much as the whole listing (4 MB for 10 000
// sessions); reading it for one session, the same. Both files are derived
// and checked against the session file before use, so either may be
// missing, stale or torn.

// MetaDir is the directory, under CacheDir, of the per-session metadata
// entries.
const MetaDir = "meta"

// metaTailBytes is how many bytes before an entry's offset its TailCRC
// covers: more than a record's "seq" and "at", so a rewritten line differs.
const metaTailBytes = 64

// metaEntryFile is the JSON of cache/meta/<id>.json.
type metaEntryFile struct {
	Version int        `json:"version"`
	Session *metaEntry `json:"session"`
}

func (c *metaCache) entryDir() string { return filepath.Join(c.w.root, CacheDir, MetaDir) }

func (c *metaCache) entryPath(id string) string {
	return filepath.Join(c.entryDir(), id+".json")
}

// sessionEntry is entryFor for a session read on its own. Before reading
// the session file it takes the furthest state saved by any process: the
// session's entry file, else the listing cache when that is smaller than
// what would be left to read. After reading it saves the entry file, so
// the next reader starts from here.
func (c *metaCache) sessionEntry(id string, now Identity) (*metaEntry, error) {
	defer c.closeSrc()
	if s := c.entries[id]; s != nil && s.ident.equal(now) {
		if e := c.entry(id); e != nil {
			return e, nil
		}
	}
	saved := c.readEntry(id)
	if saved != nil {
		c.offer(id, saved)
	}
	if left := c.leftToRead(id, now); left > 0 {
		if fi, err := c.w.fs.Stat(c.logPath()); err == nil && fi.Size() < left {
			// Decoding the listing log costs less per byte than
			// scanning a session file.
			c.loadIfChanged()
		}
	}
	e, _, err := c.entryFor(id, now)
	if err != nil {
		return nil, err
	}
	if saved == nil || !saved.Ident.equal(e.Ident) {
		if err := c.replaceFile(c.entryPath(id), metaEntryFile{Version: metaCacheVersion, Session: e}); err != nil {
			c.w.log.Warn("metadata cache entry not saved", "file", c.entryPath(id), "err", err)
		}
	}
	return e, nil
}

// leftToRead is how many bytes of the file entryFor would read for id.
func (c *metaCache) leftToRead(id string, now Identity) int64 {
	if e := c.entry(id); e != nil && e.Ident.Continues(now) && e.Offset <= now.Size {
		return now.Size - e.Offset
	}
	return now.Size
}

// readEntry reads the entry file of id; nil when it is missing, torn, of
// another version or of another session.
func (c *metaCache) readEntry(id string) *metaEntry {
	f, err := c.w.fs.OpenFile(c.entryPath(id), os.O_RDONLY, 0)
	if err != nil {
		return nil
	}
	defer f.Close()
	var file metaEntryFile
	if err := json.NewDecoder(f).Decode(&file); err != nil || file.Version != metaCacheVersion ||
		file.Session == nil || file.Session.ID != id {
		return nil
	}
	return file.Session
}

// entryFiles lists cache/meta/: the ids that have an entry file, and the
// names of the other files there (temporary files, strays).
func (c *metaCache) entryFiles() (ids map[string]bool, other []string) {
	des, err := c.w.fs.ReadDir(c.entryDir())
	if err != nil {
		return nil, nil
	}
	ids = make(map[string]bool, len(des))
	for _, de := range des {
		if id, ok := strings.CutSuffix(de.Name(), ".json"); ok && idFromFileName(id+SessionExt) != "" {
			ids[id] = true
			continue
		}
		other = append(other, de.Name())
	}
	return ids, other
}

// tidyEntryFiles removes the entry files of sessions that are no longer
// live (a new session of the same id must not inherit one: inode numbers
// are reused) and temporary files a crashed writer left over an hour ago.
func (c *metaCache) tidyEntryFiles(ids map[string]bool, other []string, live func(id string) bool) {
	for id := range ids {
		if !live(id) {
			_ = c.w.fs.Remove(c.entryPath(id))
		}
	}
	for _, name := range other {
		if !strings.Contains(name, tmpInfix) {
			continue
		}
		path := filepath.Join(c.entryDir(), name)
		if fi, err := c.w.fs.Stat(path); err == nil && time.Since(fi.ModTime()) > time.Hour {
			_ = c.w.fs.Remove(path)
		}
	}
}

// readTail reads the metaTailBytes bytes before off (fewer at the start
// of the file).
func readTail(r io.ReaderAt, off int64) ([]byte, error) {
	n := min(off, metaTailBytes)
	buf := make([]byte, n, metaTailBytes)
	if m, err := r.ReadAt(buf, off-n); int64(m) < n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF // the file shrank meanwhile
		}
		return nil, err
	}
	return buf, nil
}

// keepTail returns the last metaTailBytes bytes of tail, line and the
// newline that ended line (scanLines leaves it out), reusing tail.
func keepTail(tail, line []byte) []byte {
	if len(line)+1 >= metaTailBytes {
		tail = append(tail[:0], line[len(line)+1-metaTailBytes:]...)
	} else {
		tail = append(tail, line...)
		if over := len(tail) + 1 - metaTailBytes; over > 0 {
			tail = tail[:copy(tail, tail[over:])]
		}
	}
	return append(tail, '\n')
}
