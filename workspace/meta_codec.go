package workspace

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/picosess/picosess/keying"
)

// The listing cache stores its entries in a compact binary form: decoding
// 100 000 of them from JSON took seconds (most of a warm ls), from this
// form it takes tens of milliseconds. Integers are varints, strings and
// lists are length-prefixed, times are seconds, nanoseconds and the zone
// offset (so ls --json prints them as the session file wrote them). The
// field order is fixed by metaCacheVersion: a change of it is a new
// version, and caches of another version are rebuilt.

// errEntryCodec is a frame whose payload does not decode as an entry; the
// CRC of the frame matched, so this is a bug or another version's frame.
var errEntryCodec = errors.New("metadata cache entry does not decode")

// Entry kinds, the first byte of a payload.
const (
	entryKindMeta = 1 // an entry
	entryKindGone = 2 // the session of this id is gone: forget its entry
)

// appendEntry appends the payload of e to b.
func appendEntry(b []byte, e *metaEntry) []byte {
	// What a listing needs of every entry first (peek): the id, the file
	// identity it describes, the time it sorts by.
	b = append(b, entryKindMeta)
	b = appendStr(b, e.ID)
	b = binary.AppendVarint(b, e.Ident.Size)
	b = binary.AppendUvarint(b, e.Ident.Dev)
	b = binary.AppendUvarint(b, e.Ident.Inode)
	b = appendTime(b, e.Ident.ModTime)
	b = appendTime(b, e.Updated)
	b = appendStr(b, e.Title)
	b = appendStr(b, e.Name)
	if s := e.Scope; s == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.AppendVarint(b, int64(s.Version))
		b = appendStr(b, s.AgentID)
		b = appendStr(b, s.Channel)
		b = appendStr(b, s.Account)
		b = appendStrs(b, s.Dimensions)
		b = appendMap(b, s.Values)
	}
	b = appendStr(b, e.Agent)
	b = appendStr(b, e.Channel)
	b = appendStrs(b, e.Aliases)
	b = appendTime(b, e.Created)
	for _, n := range []int64{int64(e.Messages), int64(e.Tokens), int64(e.UsageIn), int64(e.UsageOut),
		int64(e.ActiveMessages), int64(e.Segments), e.LastSeq, e.Size, int64(e.Corrupt),
		e.Offset, e.LastMsgSeq} {
		b = binary.AppendVarint(b, n)
	}
	b = binary.LittleEndian.AppendUint32(b, e.TailCRC)
	var flags byte
	for i, f := range []bool{e.Summary, e.TitleSet, e.FirstUser, e.DefaultTitle == e.Title, e.Encrypted} {
		if f {
			flags |= 1 << i
		}
	}
	b = append(b, flags)
	if e.DefaultTitle != e.Title {
		b = appendStr(b, e.DefaultTitle)
	}
	b = appendStr(b, e.Damaged)
	if e.Encrypted { // flag 16: the seqs of the sealed title texts (encrypt_meta.go)
		b = binary.AppendVarint(binary.AppendVarint(b, e.TitleSeq), e.FirstUserSeq)
	}
	return b
}

// appendGone appends the payload that forgets the entry of id.
func appendGone(b []byte, id string) []byte {
	return appendStr(append(b, entryKindGone), id)
}

func appendStr(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendStrs(b []byte, ss []string) []byte {
	// nil and empty differ in JSON (null, []): keep which it was.
	if ss == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(ss))+1)
	for _, s := range ss {
		b = appendStr(b, s)
	}
	return b
}

func appendMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, 0)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(m))+1)
	for _, k := range keys {
		b = appendStr(appendStr(b, k), m[k])
	}
	return b
}

// appendTime keeps the instant and the zone offset: 0 for the zero time,
// else 1 (UTC) or 2 (an offset of seconds east) and the instant.
func appendTime(b []byte, t time.Time) []byte {
	switch _, off := t.Zone(); {
	case t.IsZero():
		return append(b, 0)
	case t.Location() == time.UTC:
		b = append(b, 1)
	default:
		b = binary.AppendVarint(append(b, 2), int64(off))
	}
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// entryDecoder decodes payloads, sharing the strings many entries repeat
// (agents, channels, accounts, scope dimensions): they would otherwise be
// a copy per session in memory.
type entryDecoder struct {
	b      []byte
	err    bool
	common map[string]string
	zones  map[int]*time.Location
}

func newEntryDecoder() *entryDecoder {
	return &entryDecoder{common: map[string]string{}, zones: map[int]*time.Location{}}
}

// decode returns the entry of payload p, or (for a gone payload) nil and
// the id.
func (d *entryDecoder) decode(p []byte) (e *metaEntry, id string, err error) {
	if len(p) == 0 {
		return nil, "", errEntryCodec
	}
	d.b, d.err = p[1:], false
	switch p[0] {
	case entryKindGone:
		id = d.str()
		if d.err || len(d.b) != 0 {
			return nil, "", errEntryCodec
		}
		return nil, id, nil
	case entryKindMeta:
	default:
		return nil, "", errEntryCodec
	}
	e = &metaEntry{}
	e.ID = d.str()
	e.Ident = d.ident()
	e.Updated = d.time()
	e.Title, e.Name = d.str(), d.str()
	if d.byte() == 1 {
		s := &keying.Scope{Version: int(d.varint())}
		s.AgentID, s.Channel, s.Account = d.shared(), d.shared(), d.shared()
		s.Dimensions = d.strs(true)
		s.Values = d.strMap()
		e.Scope = s
	}
	e.Agent, e.Channel = d.shared(), d.shared()
	e.Aliases = d.strs(false)
	e.Created = d.time()
	for _, n := range []*int{&e.Messages, &e.Tokens, &e.UsageIn, &e.UsageOut, &e.ActiveMessages, &e.Segments} {
		*n = d.int()
	}
	e.LastSeq, e.Size = d.varint(), d.varint()
	e.Corrupt = d.int()
	e.Offset, e.LastMsgSeq = d.varint(), d.varint()
	if len(d.b) < 4 {
		return nil, "", errEntryCodec
	}
	e.TailCRC, d.b = binary.LittleEndian.Uint32(d.b), d.b[4:]
	flags := d.byte()
	e.Summary, e.TitleSet, e.FirstUser = flags&1 != 0, flags&2 != 0, flags&4 != 0
	if flags&8 != 0 {
		e.DefaultTitle = e.Title
	} else {
		e.DefaultTitle = d.str()
	}
	e.Damaged = d.shared()
	if flags&16 != 0 {
		e.Encrypted = true
		e.TitleSeq, e.FirstUserSeq = d.varint(), d.varint()
	}
	if d.err || len(d.b) != 0 {
		return nil, "", errEntryCodec
	}
	return e, e.ID, nil
}

// peek decodes what a listing needs of every entry (appendEntry writes
// it first): the id, the identity and the time of the last message. A
// gone payload has a zero identity and time.
func (d *entryDecoder) peek(p []byte) (id string, ident Identity, updated time.Time, gone bool, err error) {
	if len(p) == 0 || p[0] != entryKindMeta && p[0] != entryKindGone {
		return "", Identity{}, time.Time{}, false, errEntryCodec
	}
	d.b, d.err = p[1:], false
	id = d.str()
	if p[0] == entryKindGone {
		if d.err || len(d.b) != 0 {
			return "", Identity{}, time.Time{}, false, errEntryCodec
		}
		return id, Identity{}, time.Time{}, true, nil
	}
	ident, updated = d.ident(), d.time()
	if d.err {
		return "", Identity{}, time.Time{}, false, errEntryCodec
	}
	return id, ident, updated, false, nil
}

func (d *entryDecoder) ident() Identity {
	return Identity{Size: d.varint(), Dev: d.uvarint(), Inode: d.uvarint(), ModTime: d.time()}
}

func (d *entryDecoder) byte() byte {
	if len(d.b) == 0 {
		d.err = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *entryDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *entryDecoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *entryDecoder) int() int {
	v := d.varint()
	if v < math.MinInt || v > math.MaxInt {
		d.err = true
	}
	return int(v)
}

func (d *entryDecoder) raw() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err, d.b = true, nil
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

func (d *entryDecoder) str() string { return string(d.raw()) }

// shared is str for strings that repeat across sessions: one copy each.
func (d *entryDecoder) shared() string {
	b := d.raw()
	if len(b) == 0 {
		return ""
	}
	if s, ok := d.common[string(b)]; ok {
		return s
	}
	if len(d.common) > 4096 { // many distinct ones: stop sharing
		return string(b)
	}
	s := string(b)
	d.common[s] = s
	return s
}

func (d *entryDecoder) strs(shared bool) []string {
	n := d.uvarint()
	if n == 0 || d.err {
		return nil
	}
	n--
	if n > uint64(len(d.b)) {
		d.err = true
		return nil
	}
	out := make([]string, n)
	for i := range out {
		if shared {
			out[i] = d.shared()
		} else {
			out[i] = d.str()
		}
	}
	return out
}

func (d *entryDecoder) strMap() map[string]string {
	n := d.uvarint()
	if n == 0 || d.err {
		return nil
	}
	n--
	if n > uint64(len(d.b)) {
		d.err = true
		return nil
	}
	m := make(map[string]string, n)
	for i := uint64(0); i < n; i++ {
		k := d.shared()
		m[k] = d.str()
	}
	return m
}

func (d *entryDecoder) time() time.Time {
	var loc *time.Location
	switch d.byte() {
	case 0:
		return time.Time{}
	case 1:
		loc = time.UTC
	case 2:
		off := d.int()
		if loc = d.zones[off]; loc == nil {
			loc = time.FixedZone("", off)
			d.zones[off] = loc
		}
	default:
		d.err = true
		return time.Time{}
	}
	sec, nsec := d.varint(), d.uvarint()
	if nsec >= 1e9 {
		d.err = true
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).In(loc)
}
