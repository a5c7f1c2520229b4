package workspace

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The listing cache, cache/listing.log, is a log of entries: a listing
// that found sessions changed appends one frame per changed session (and
// one per session gone), whatever the number of sessions, instead of
// rewriting a file of them all (63 MB at 100 000 sessions). A later
// frame of an id replaces an earlier one. When the log holds more than
// twice as many frames as there are sessions, the next listing that saves
// writes it anew, compacted (a new file renamed into place): rewrites
// cost O(1) per change, amortized.
//
// Every frame carries the CRC-32C of its payload. A reader stops at the
// first frame that is cut short or fails its CRC and takes what came
// before; the next save compacts the log, so bytes torn by a crash or a
// power loss are dropped, never trusted. Entries are checked against each
// session file's identity and tail CRC before use anyway (meta.go).
//
// Several processes may append at once: each frame is one write(2) with
// O_APPEND, placed whole after the others. A compaction renames a new
// file over the log; a frame another process appends to the old file
// meanwhile is lost, which costs that session one re-read later.

// listingLogName is the file of the listing cache under CacheDir.
const listingLogName = "listing.log"

// listingMagic starts the log: the version of its frames (1) and of the
// entries in them (metaCacheVersion). A log of other versions is rebuilt.
var listingMagic = []byte(fmt.Sprintf("picosess listing log 1 entries %d\n", metaCacheVersion))

// frameHeader: the payload's length and its CRC-32C, little-endian.
const frameHeader = 8

// maxFramePayload bounds a frame: a length over it is damage.
const maxFramePayload = 64 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendFrame appends one frame holding payload to b.
func appendFrame(b, payload []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(payload, castagnoli))
	return append(b, payload...)
}

// logState is what a process knows of the log file it read.
type logState struct {
	ident  Identity // of the log as last read or written
	end    int64    // the end of its last whole frame
	frames int      // whole frames up to end
	bad    bool     // damaged, of another version or missing: compact on the next save
	// state is the last state frame read or written (meta_trust.go): what
	// a listing may trust of the entries; nil when there is none.
	state *listingState
}

func (c *metaCache) logPath() string { return filepath.Join(c.w.root, CacheDir, listingLogName) }

// legacyPath is the listing cache of versions up to 4, one JSON file;
// the first compaction removes it.
func (c *metaCache) legacyPath() string { return filepath.Join(c.w.root, CacheDir, "sessions.json") }

// files are the paths of the metadata cache: the listing log, the listing
// cache of older versions, the directory of per-session entries.
func (c *metaCache) files() []string {
	return []string{c.logPath(), c.legacyPath(), c.entryDir()}
}

// loadIfChanged takes the frames another process added to the log since
// this one last read it: only the new ones when the same file grew, all
// of them when it was replaced (compacted) or is new to this process.
func (c *metaCache) loadIfChanged() {
	fi, err := c.w.fs.Stat(c.logPath())
	if err != nil {
		c.log = logState{bad: true}
		return
	}
	now := identityOf(fi)
	if now.equal(c.log.ident) {
		return
	}
	f, err := c.w.fs.OpenFile(c.logPath(), os.O_RDONLY, 0)
	if err != nil {
		c.log = logState{bad: true}
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		now = identityOf(fi) // the file opened, if it was replaced meanwhile
	}
	from := int64(0)
	if c.log.ident.Continues(now) && !c.log.bad && c.log.end >= int64(len(listingMagic)) {
		from = c.log.end
	} else {
		c.log = logState{}
	}
	var r io.Reader = f
	if from > 0 {
		r = io.NewSectionReader(f, from, now.Size-from)
	}
	end, frames, err := c.readLog(bufio.NewReaderSize(r, 256<<10), from)
	c.log.ident, c.log.end = now, end
	c.log.frames += frames
	if err != nil || end != now.Size {
		// A torn or damaged frame (or a frame being written right now:
		// then the compaction is only early).
		c.w.log.Warn("metadata cache damaged; it will be rewritten", "file", c.logPath(), "offset", end, "err", err)
		c.log.bad = true
	}
}

// readLog reads frames from r, positioned at file offset from, into the
// entries, and returns the end of the last whole frame and how many
// frames it read. At offset 0 it checks the magic first.
func (c *metaCache) readLog(r *bufio.Reader, from int64) (int64, int, error) {
	end := from
	if from == 0 {
		head := make([]byte, len(listingMagic))
		if _, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head, listingMagic) {
			return 0, 0, fmt.Errorf("not a listing log of this version (%q)", listingMagic)
		}
		end = int64(len(listingMagic))
	}
	d := c.dec
	var hdr [frameHeader]byte
	var payload []byte
	frames := 0
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF {
				return end, frames, nil
			}
			return end, frames, errors.New("frame header cut short")
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		if n == 0 || n > maxFramePayload {
			return end, frames, fmt.Errorf("frame of %d bytes", n)
		}
		if cap(payload) < int(n) {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			return end, frames, errors.New("frame cut short")
		}
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
			return end, frames, errors.New("frame CRC mismatch")
		}
		id, ident, updated, gone, err := d.peek(payload)
		if err != nil {
			return end, frames, err
		}
		if gone {
			if st, ok, err := d.stateOf(id); ok {
				if err != nil {
					return end, frames, err
				}
				c.log.state = st // meta_trust.go
				end += frameHeader + int64(n)
				frames++
				continue
			}
			delete(c.entries, id)
		} else {
			// Only its place is kept: the payload is read back when used.
			c.offerLogged(&cacheSlot{id: id, off: end + frameHeader, n: n, crc: binary.LittleEndian.Uint32(hdr[4:]),
				ident: ident, updated: updated})
		}
		end += frameHeader + int64(n)
		frames++
	}
}

// save records the entries of changed (ids of live sessions) and forgets
// those of gone: by appending frames to the log, or by writing the log
// anew when it is damaged, missing, or more than half stale.
//
// state, when not nil, is written last: the entries the log holds once
// these are appended are up to date as it says (meta_trust.go). It is
// written only to the log this process read (another one's compaction
// may lack entries this process took from the old log).
func (c *metaCache) save(changed, gone []string, state *listingState) error {
	if len(changed) == 0 && len(gone) == 0 && (state == nil || state.equal(c.log.state)) {
		return nil
	}
	if c.log.bad || c.log.frames+len(changed)+len(gone) > 2*len(c.entries)+1024 {
		return c.compact(state)
	}
	var b []byte
	var payload []byte
	type placed struct {
		s      *cacheSlot
		off    int64 // of the payload in b
		n, crc uint32
	}
	var places []placed
	for _, id := range changed {
		s := c.entries[id]
		if s == nil {
			continue
		}
		p := c.payload(s, &payload)
		if p == nil {
			continue
		}
		places = append(places, placed{s, int64(len(b)) + frameHeader, uint32(len(p)), crc32.Checksum(p, castagnoli)})
		b = appendFrame(b, p)
	}
	for _, id := range gone {
		payload = appendGone(payload[:0], id)
		b = appendFrame(b, payload)
	}
	// No O_CREATE: a log removed meanwhile stays removed until the next
	// compaction writes it whole (frames alone, without the magic, would
	// be a damaged log).
	f, err := c.w.fs.OpenFile(c.logPath(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return c.compact(state)
	}
	// Whether another process appended or compacted since this one read
	// the log: then this one's knowledge stops where it read, and the
	// next load reads on from there (this one's frames again among them,
	// which change nothing).
	fi, err := f.Stat()
	alone := err == nil && identityOf(fi).equal(c.log.ident)
	// The state goes only to the file this process read: frames others
	// appended since change nothing it says, but a compaction may have
	// dropped what this process read.
	ownLog := err == nil && identityOf(fi).SameFile(c.log.ident) && fi.Size() >= c.log.end
	if state != nil && ownLog {
		payload = appendState(payload[:0], state)
		b = appendFrame(b, payload)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		c.log.bad = true
		return err
	}
	if alone {
		if fi, err := c.w.fs.Stat(c.logPath()); err == nil && fi.Size() == c.log.end+int64(len(b)) {
			// Nobody else wrote: the entries just appended lie where
			// this process put them, and are kept as places only.
			for _, pl := range places {
				c.entries[pl.s.id] = &cacheSlot{id: pl.s.id, off: c.log.end + pl.off, n: pl.n, crc: pl.crc,
					ident: pl.s.ident, updated: pl.s.updated, gen: pl.s.gen}
			}
			c.log.ident, c.log.end = identityOf(fi), fi.Size()
			c.log.frames += len(changed) + len(gone)
			if state != nil {
				c.log.frames++
				c.log.state = state
			}
		}
	}
	return nil
}

// payload returns the payload of s: the one held, one encoded into buf,
// or the one read back from the log (nil if it is not there any more).
func (c *metaCache) payload(s *cacheSlot, buf *[]byte) []byte {
	switch {
	case s.e != nil:
		*buf = appendEntry((*buf)[:0], s.e)
		return *buf
	case s.raw != nil:
		return s.raw
	}
	return c.readPayload(s)
}

// compact writes every entry held to a new log and renames it into
// place.
// state, when not nil, is written last, unless an entry could not be
// written (then the log is not known to be whole).
func (c *metaCache) compact(state *listingState) error {
	dir := filepath.Join(c.w.root, CacheDir)
	if err := c.w.fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s%s%d-%d", c.logPath(), tmpInfix, os.Getpid(), time.Now().UnixNano())
	f, err := c.w.fs.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	bw.Write(listingMagic)
	// Where each entry's payload will lie in the new log, to keep only
	// that once it is in place (in new slots: a listing under way may be
	// sorting the old ones without the lock).
	type placed struct {
		s      *cacheSlot
		off    int64
		n, crc uint32
	}
	places := make([]placed, 0, len(c.entries))
	off := int64(len(listingMagic))
	// In the order of a listing, newest first, so that a listing reads
	// the log back front to back.
	order := make([]*cacheSlot, 0, len(c.entries))
	for _, s := range c.entries {
		order = append(order, s)
	}
	slices.SortFunc(order, listingOrder)
	var payload, frame []byte
	for _, s := range order {
		id := s.id
		p := c.payload(s, &payload)
		if p == nil {
			delete(c.entries, id) // its payload is gone: read the session again
			state = nil
			continue
		}
		frame = appendFrame(frame[:0], p)
		bw.Write(frame)
		places = append(places, placed{s, off + frameHeader, uint32(len(p)), crc32.Checksum(p, castagnoli)})
		off += int64(len(frame))
	}
	frames := len(places)
	if state != nil {
		payload = appendState(payload[:0], state)
		frame = appendFrame(frame[:0], payload)
		bw.Write(frame)
		frames++
	}
	err = bw.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = c.w.fs.Rename(tmp, c.logPath())
	}
	if err != nil {
		_ = c.w.fs.Remove(tmp)
		return err
	}
	c.closeSrc() // the log replaced: its places are the new file's now
	for _, pl := range places {
		c.entries[pl.s.id] = &cacheSlot{id: pl.s.id, off: pl.off, n: pl.n, crc: pl.crc, ident: pl.s.ident, updated: pl.s.updated, gen: pl.s.gen}
	}
	c.log = logState{frames: frames, state: state}
	if fi, err := c.w.fs.Stat(c.logPath()); err == nil {
		c.log.ident, c.log.end = identityOf(fi), fi.Size()
	}
	_ = c.w.fs.Remove(c.legacyPath())
	c.tidyCacheDir()
	return nil
}

// tidyCacheDir removes temporary files of the log a crashed writer left
// over an hour ago.
func (c *metaCache) tidyCacheDir() {
	dir := filepath.Join(c.w.root, CacheDir)
	des, err := c.w.fs.ReadDir(dir)
	if err != nil {
		return
	}
	for _, de := range des {
		if !bytes.HasPrefix([]byte(de.Name()), []byte(listingLogName+tmpInfix)) && !bytes.HasPrefix([]byte(de.Name()), []byte("sessions.json"+tmpInfix)) {
			continue
		}
		path := filepath.Join(dir, de.Name())
		if fi, err := c.w.fs.Stat(path); err == nil && time.Since(fi.ModTime()) > time.Hour {
			_ = c.w.fs.Remove(path)
		}
	}
}
