package workspace

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"time"
)

// Combining: group commit across processes for durability batch.
//
// With durability batch a process that finds a session locked by another
// process does not wait for the lock to write its records itself. It
// leaves them, encoded, in a slot of the session's lock file (mapped
// shared by every process that appends to the session) and sleeps on the
// slot (a futex). The process that holds the lock (the combiner) takes
// every record waiting in the slots into its own write, fsyncs once while
// still holding the lock, answers each slot with the seqs its records
// got, and wakes its owner. While it fsyncs, the records of the next
// round gather in the slots. So one write and one fsync serve every
// process, where each process used to take the lock in turn (a hand-over
// and a wake-up each) and share fsyncs only partly (1.36x always with 8
// processes on one session).
//
// The records of a slot are encoded by their owner without their seq and
// time, which the combiner fills in (appendClaimed): the line is the one
// the owner would have written (TestSlotLinesAreTheEncoderLines). Only
// plain appends that look at nothing (Session.Append of records that
// refer to no other record) of a plain session file are combined; records
// over a slot's size, sealed sessions, and a workspace that encrypts take
// the lock themselves.
//
// Safety: a slot is answered only after the fsync of the write that
// carried it, and before the combiner unlocks. A process that holds the
// lock and finds its slot still claimed knows the combiner died: under
// the lock it looks for its lines where the combiner said it would write
// them (recorded in the slot before the write), fsyncs if they are all
// there, and appends them itself if not (combineRecover). A slot waits
// at most combineWaitReady for a combiner; then its owner takes it back
// and locks the session the usual way, so a combiner that never comes (an
// older picosess holding the lock, a filesystem shared across machines)
// only costs that wait.

const (
	// The slots follow the lock file's holder line and sync slots
	// (syncqueue.go): a page of words shared by all (combineHeader), then
	// the slots, each one page: a header, then the records.
	combineOffset   = 8192
	combineSlots    = 16
	combineSlotSize = 4096
	combineLen      = combineSlotSize + combineSlots*combineSlotSize
	combineFileSize = combineOffset + combineLen
	slotHeaderSize  = 80
	slotPayloadMax  = combineSlotSize - slotHeaderSize

	// combineWaitReady is how long records wait in a slot for a combiner
	// before their owner takes them back and locks the session itself.
	combineWaitReady = 20 * time.Millisecond
	// combinePoll is how long a slot's owner sleeps before it looks
	// again whether the lock is free (a wake-up may be missed when the
	// combiner dies).
	combinePoll = 2 * time.Millisecond
	// combineClaimedPoll is how often the owner of a claimed slot checks
	// that its combiner is alive (by trying the lock).
	combineClaimedPoll = 20 * time.Millisecond
	// combineAbandoned is how long an answered (or half-filled) slot
	// stays before another process may take it: its owner died.
	combineAbandoned = time.Minute
	// combineRounds bounds the writes one combiner makes before it
	// unlocks: its own callers wait meanwhile.
	combineRounds = 8
	// combineLinger is how long a combiner that just answered several
	// processes waits at most for them to come back with their next
	// records (see combineLead).
	combineLinger = 200 * time.Microsecond

	// Words of the shared page.
	combinePublished = 0 // counts records put in slots (a futex)
	combineLingering = 4 // while a combiner waits on combinePublished: the count it waits for
)

// A slot's state word (the futex): the state in the low 4 bits, the slot
// layout's version in the next 4, a generation above, so that no answer
// meant for an earlier use of the slot lands in a later one.
const (
	slotFree = iota
	slotFilling
	slotReady   // records waiting for a combiner
	slotClaimed // a combiner took them: answered before it unlocks
	slotDone    // written and fsynced: firstSeq says where
	slotRefused // not written (a sealed or missing file): do it yourself
	slotFailed  // written, and the write or fsync failed: the error text follows
	slotVersion = 1
)

func slotWord(gen, state uint32) uint32 { return gen<<8 | slotVersion<<4 | state }
func slotGen(w uint32) uint32           { return w >> 8 }

// slotStateOf is the state of word w, or slotFree for a word of another
// layout version (never claimed, never answered).
func slotStateOf(w uint32) uint32 {
	if w>>4&0xf != slotVersion {
		return slotFree
	}
	return w & 0xf
}

// Offsets in a slot's header.
const (
	slotOffPID     = 4  // owner's pid (for people reading the file)
	slotOffCount   = 8  // records
	slotOffLen     = 12 // payload bytes
	slotOffFirst   = 16 // answer: seq of the first record
	slotOffStart   = 24 // where the combiner writes the records
	slotOffEnd     = 32
	slotOffIno     = 40 // of the session file written
	slotOffErrLen  = 48 // slotFailed: bytes of error text in the payload
	slotOffNow     = 56 // the time the combiner gave records that had none (Unix ns)
	slotOffSince   = 64 // when the state last changed (Unix ms)
	slotOffPayload = slotHeaderSize
)

// claimedSlot is a slot a combiner took: its records, copied out of the
// shared page, and where they were written.
type claimedSlot struct {
	i, gen  uint32
	count   int
	payload []byte

	written     bool
	now         time.Time
	first       int64
	start, end  int64
	ino         uint64
	area        *combineArea
	refuseCause string
}

// slotEntry appends the slot form of rec (tokens counted) to b: the type
// (JSON), the time if the caller set one, and the rest of the line after
// "at". ok is false when rec cannot go in a slot.
func slotEntry(b []byte, rec *Record) ([]byte, bool) {
	r := *rec
	r.Seq = 0
	line, err := appendRecord(nil, &r)
	if err != nil {
		return b, false
	}
	typ := appendString(nil, r.Type)
	var at []byte
	if !r.At.IsZero() {
		at = r.At.UTC().AppendFormat(nil, time.RFC3339Nano)
	}
	pre := len(`{"type":`) + len(typ) + len(`,"seq":0,"at":"`) + len(r.At.UTC().AppendFormat(nil, time.RFC3339Nano)) + 1
	if pre > len(line) || string(line[len(`{"type":`):len(`{"type":`)+len(typ)]) != string(typ) {
		return b, false
	}
	suffix := line[pre:]
	b = binary.LittleEndian.AppendUint16(b, uint16(len(typ)))
	b = append(b, typ...)
	b = append(b, byte(len(at)))
	b = append(b, at...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(suffix)))
	return append(b, suffix...), true
}

// slotLines appends the lines of a slot's payload (count records) to b,
// with seqs after last and now for records that carry no time. ok is
// false if the payload does not parse.
func slotLines(b, payload []byte, count int, last int64, now time.Time) (_ []byte, _ int64, ok bool) {
	p := payload
	for n := 0; n < count; n++ {
		if len(p) < 2 {
			return b, last, false
		}
		tl := int(binary.LittleEndian.Uint16(p))
		if len(p) < 2+tl+1 {
			return b, last, false
		}
		typ := p[2 : 2+tl]
		p = p[2+tl:]
		al := int(p[0])
		if len(p) < 1+al+4 {
			return b, last, false
		}
		at := p[1 : 1+al]
		p = p[1+al:]
		sl := int(binary.LittleEndian.Uint32(p))
		if len(p) < 4+sl {
			return b, last, false
		}
		suffix := p[4 : 4+sl]
		p = p[4+sl:]
		// The shape of a record's line, so that nothing but whole lines
		// is ever written from a slot.
		if tl < 2 || typ[0] != '"' || typ[tl-1] != '"' || sl == 0 || suffix[sl-1] != '}' ||
			bytes.IndexByte(typ, '\n') >= 0 || bytes.IndexByte(suffix, '\n') >= 0 ||
			bytes.IndexByte(at, '"') >= 0 || bytes.IndexByte(at, '\n') >= 0 {
			return b, last, false
		}
		last++
		b = append(b, `{"type":`...)
		b = append(b, typ...)
		b = append(b, `,"seq":`...)
		b = strconv.AppendInt(b, last, 10)
		b = append(b, `,"at":"`...)
		if al > 0 {
			b = append(b, at...)
		} else {
			b = now.UTC().AppendFormat(b, time.RFC3339Nano)
		}
		b = append(b, '"')
		b = append(b, suffix...)
		b = append(b, '\n')
	}
	return b, last, len(p) == 0
}

// slotPayload encodes the records of reqs (all plain) for a slot, and
// how many each request has. ok is false when they do not fit one slot
// or one cannot be encoded (the usual path says why).
func slotPayload(reqs []*appendReq, maxRecord int) (payload []byte, counts []int, ok bool) {
	counts = make([]int, len(reqs))
	for i, r := range reqs {
		if !r.plain || r.build == nil {
			return nil, nil, false
		}
		recs, err := r.build(lockedView{})
		if err != nil {
			return nil, nil, false
		}
		for j := range recs {
			mark := len(payload)
			if payload, ok = slotEntry(payload, &recs[j]); !ok {
				return nil, nil, false
			}
			// The seq is not known yet: leave room for any.
			if maxRecord > 0 && len(payload)-mark+40 > maxRecord {
				return nil, nil, false
			}
		}
		counts[i] = len(recs)
		if len(payload) > slotPayloadMax {
			return nil, nil, false
		}
	}
	return payload, counts, true
}

// appendClaimed appends the lines of the claimed slots to buf, which
// will be written at end of the file (inode ino), and records in each
// slot where its records go before they are written (for
// combineRecover). It runs under the session lock.
func appendClaimed(buf []byte, claimed []*claimedSlot, last int64, now time.Time, end int64, ino uint64) ([]byte, int64) {
	for _, c := range claimed {
		if c.refuseCause != "" {
			continue
		}
		mark, first := len(buf), last+1
		var ok bool
		buf, last, ok = slotLines(buf, c.payload, c.count, last, now)
		if !ok {
			buf, last = buf[:mark], first-1
			c.refuseCause = "its records do not parse"
			continue
		}
		c.written, c.first, c.now = true, first, now
		c.start, c.end, c.ino = end+int64(mark), end+int64(len(buf)), ino
		c.area.noteWhere(c)
	}
	return buf, last
}
