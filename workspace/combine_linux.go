//go:build linux

package workspace

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// combineArea is the slots of a session's lock file, mapped shared.
type combineArea struct {
	mem      []byte
	users    atomic.Int32
	detached atomic.Bool // the lock file was closed: unmapped by the last user
	unmapped atomic.Bool
}

func (a *combineArea) unmapIfUnused() {
	if a.detached.Load() && a.users.Load() == 0 && a.unmapped.CompareAndSwap(false, true) {
		_ = unix.Munmap(a.mem)
	}
}

func (a *combineArea) word(i uint32) *uint32 {
	return (*uint32)(unsafe.Pointer(&a.mem[int(i+1)*combineSlotSize]))
}

func (a *combineArea) slot(i uint32) []byte {
	return a.mem[int(i+1)*combineSlotSize : int(i+2)*combineSlotSize]
}

// shared is a word of the shared page.
func (a *combineArea) shared(off int) *uint32 {
	return (*uint32)(unsafe.Pointer(&a.mem[off]))
}

// published tells a lingering combiner that records are in a slot.
func (a *combineArea) published() {
	n := atomic.AddUint32(a.shared(combinePublished), 1)
	if t := atomic.LoadUint32(a.shared(combineLingering)); t != 0 && int32(n-t) >= 0 {
		futexWake(a.shared(combinePublished))
	}
}

// linger waits up to combineLinger until the count of published records
// reaches target.
func (a *combineArea) linger(target uint32) {
	pw, lw := a.shared(combinePublished), a.shared(combineLingering)
	atomic.StoreUint32(lw, target|1) // never 0 (0: nobody lingers); off by one at worst
	defer atomic.StoreUint32(lw, 0)
	for start := time.Now(); ; {
		left := combineLinger - time.Since(start)
		n := atomic.LoadUint32(pw)
		if left <= 0 || int32(n-target) >= 0 {
			return
		}
		futexWait(pw, n, left)
	}
}

// noteWhere records in c's slot where its records are about to be
// written, under the session lock, before the write.
func (a *combineArea) noteWhere(c *claimedSlot) {
	s := a.slot(c.i)
	le := binary.LittleEndian
	le.PutUint64(s[slotOffFirst:], uint64(c.first))
	le.PutUint64(s[slotOffStart:], uint64(c.start))
	le.PutUint64(s[slotOffEnd:], uint64(c.end))
	le.PutUint64(s[slotOffIno:], c.ino)
	le.PutUint64(s[slotOffNow:], uint64(c.now.UnixNano()))
}

func futexWait(addr *uint32, val uint32, d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	// FUTEX_WAIT (0), not private: the word is shared with other processes.
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), 0, uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
}

func futexWake(addr *uint32) {
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), 1, math.MaxInt32, 0, 0, 0)
}

// areaLocked returns the session's slots, mapped, with one more user
// (release gives it back), or nil. With create unset it maps them only
// if some process made them (nobody waits otherwise). The caller holds
// st.holderMu.
func (w *Workspace) areaLocked(st *sessionState, create bool) *combineArea {
	if st.comb != nil {
		st.comb.users.Add(1)
		return st.comb
	}
	if w.openHolder(st, w.LockPath(st.id)) != nil {
		return nil
	}
	fd := int(st.holder.Fd())
	var fst unix.Stat_t
	if unix.Fstat(fd, &fst) != nil {
		return nil
	}
	if fst.Size < combineFileSize && !create {
		return nil // nobody made the slots: nobody waits
	}
	// The slots' blocks are allocated before they are mapped (extending
	// the file if need be): a store into a hole of a shared mapping
	// allocates on the fault, and on a full disk that fault is a SIGBUS
	// that kills the process. Here a full disk only means no combining.
	if unix.Fallocate(fd, 0, combineOffset, combineLen) != nil {
		return nil
	}
	mem, err := unix.Mmap(fd, combineOffset, combineLen, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil
	}
	st.comb = &combineArea{mem: mem}
	st.comb.users.Add(1)
	return st.comb
}

// area is areaLocked for a caller without holderMu. It does not wait for
// holderMu: whoever holds it holds the session, and unlocking wakes the
// owners of waiting records.
func (w *Workspace) area(st *sessionState) *combineArea {
	if !st.holderMu.TryLock() {
		return nil
	}
	defer st.holderMu.Unlock()
	return w.areaLocked(st, false)
}

// releaseArea gives back a use of a; it never waits.
func (st *sessionState) releaseArea(a *combineArea) {
	a.users.Add(-1)
	a.unmapIfUnused()
}

// detachArea is called when the lock file is closed, under holderMu: the
// mapping is of that file, and goes once nobody uses it.
func (st *sessionState) detachArea() {
	if a := st.comb; a != nil {
		st.comb = nil
		a.detached.Store(true)
		a.unmapIfUnused()
	}
}

// stamp records when slot i last changed state (see abandoned).
func (a *combineArea) stamp(i uint32) {
	binary.LittleEndian.PutUint64(a.slot(i)[slotOffSince:], uint64(time.Now().UnixMilli()))
}

// abandoned reports whether slot i, in state v, was left: answered, being
// filled or claimed, and untouched for combineAbandoned. (An owner reads
// its answer within moments of being woken, and a combiner answers
// within moments of claiming; a process killed or stuck meanwhile never
// does, and an answer that comes after the slot was taken again is
// refused by its generation.)
func (a *combineArea) abandoned(i, v uint32) bool {
	switch slotStateOf(v) {
	case slotFilling, slotClaimed, slotDone, slotRefused, slotFailed:
		since := int64(binary.LittleEndian.Uint64(a.slot(i)[slotOffSince:]))
		return time.Now().UnixMilli()-since > combineAbandoned.Milliseconds()
	}
	return false
}

// take puts payload in a free (or abandoned) slot as ready, returning the
// slot and its generation.
func (a *combineArea) take(payload []byte, count int) (uint32, uint32, bool) {
	for i := uint32(0); i < combineSlots; i++ {
		wp := a.word(i)
		v := atomic.LoadUint32(wp)
		if slotStateOf(v) != slotFree && !a.abandoned(i, v) {
			continue
		}
		gen := (slotGen(v) + 1) & 0xffffff
		if !atomic.CompareAndSwapUint32(wp, v, slotWord(gen, slotFilling)) {
			continue
		}
		a.stamp(i)
		s := a.slot(i)
		le := binary.LittleEndian
		le.PutUint32(s[slotOffPID:], uint32(os.Getpid()))
		le.PutUint32(s[slotOffCount:], uint32(count))
		le.PutUint32(s[slotOffLen:], uint32(len(payload)))
		le.PutUint64(s[slotOffFirst:], 0)
		copy(s[slotOffPayload:], payload)
		atomic.StoreUint32(wp, slotWord(gen, slotReady))
		a.published()
		return i, gen, true
	}
	return 0, 0, false
}

// claim takes every ready slot for a combiner that holds the lock.
func (a *combineArea) claim(into []*claimedSlot) []*claimedSlot {
	for i := uint32(0); i < combineSlots; i++ {
		wp := a.word(i)
		v := atomic.LoadUint32(wp)
		if slotStateOf(v) != slotReady {
			continue
		}
		gen := slotGen(v)
		if !atomic.CompareAndSwapUint32(wp, v, slotWord(gen, slotClaimed)) {
			continue
		}
		a.stamp(i)
		s := a.slot(i)
		le := binary.LittleEndian
		n, count := int(le.Uint32(s[slotOffLen:])), int(le.Uint32(s[slotOffCount:]))
		c := &claimedSlot{i: i, gen: gen, count: count, area: a}
		if n > slotPayloadMax || count <= 0 {
			c.refuseCause = "its header is out of range"
		} else {
			c.payload = append([]byte(nil), s[slotOffPayload:slotOffPayload+n]...)
		}
		into = append(into, c)
	}
	return into
}

// anyReady reports whether some slot waits for a combiner, and wakes the
// owner of the first one (so that it tries the lock) if wake is set.
func (a *combineArea) anyReady(wake bool) bool {
	for i := uint32(0); i < combineSlots; i++ {
		if slotStateOf(atomic.LoadUint32(a.word(i))) == slotReady {
			if wake {
				futexWake(a.word(i))
			}
			return true
		}
	}
	return false
}

// answer tells each claimed slot's owner what became of its records: err
// is the write's (nil: written and fsynced).
func answer(claimed []*claimedSlot, err error) {
	for _, c := range claimed {
		s := c.area.slot(c.i)
		state := uint32(slotDone)
		switch {
		case !c.written:
			state = slotRefused
		case err != nil:
			state = slotFailed
			msg := err.Error()
			if len(msg) > slotPayloadMax {
				msg = msg[:slotPayloadMax]
			}
			copy(s[slotOffPayload:], msg)
			binary.LittleEndian.PutUint32(s[slotOffErrLen:], uint32(len(msg)))
		}
		c.area.stamp(c.i)
		wp := c.area.word(c.i)
		if atomic.CompareAndSwapUint32(wp, slotWord(c.gen, slotClaimed), slotWord(c.gen, state)) {
			futexWake(wp)
		}
	}
}

// localLocks reports whether the lock files are on a disk filesystem of
// this machine, where a shared mapping is shared by every process that
// locks them. On a network filesystem (NFS, SMB, 9p, FUSE, ...) processes
// of other machines lock the same files but see other pages: combining is
// off there, and batch appends take the lock themselves.
func (w *Workspace) localLocks() bool {
	w.localOnce.Do(func() {
		var fs unix.Statfs_t
		if unix.Statfs(w.locksDir(), &fs) != nil {
			return
		}
		switch uint32(fs.Type) {
		case unix.EXT4_SUPER_MAGIC, unix.XFS_SUPER_MAGIC, unix.BTRFS_SUPER_MAGIC,
			unix.TMPFS_MAGIC, unix.F2FS_SUPER_MAGIC, unix.OVERLAYFS_SUPER_MAGIC,
			0x2fc12fc1, // zfs
			0xca451a4e, // bcachefs
			0x3153464a, // jfs
			0x52654973: // reiserfs
			w.local = true
		}
	})
	return w.local
}

// flushCombining is flush for durability batch when reqs may be combined
// (combine.go). It reports false when it did nothing and the usual path
// must append reqs.
func (s *Session) flushCombining(ctx context.Context, reqs []*appendReq) bool {
	w, st := s.w, s.st
	if w.Encrypting() || !w.localLocks() {
		return false
	}
	for _, r := range reqs {
		if !r.plain || r.build == nil {
			return false
		}
	}
	lk, a := w.tryLockOrArea(st)
	if lk != nil {
		s.combineLead(lk, reqs)
		return true
	}
	if a == nil {
		return false // held in this process (or no lock file): the usual wait
	}
	defer st.releaseArea(a)
	payload, counts, ok := slotPayload(reqs, w.opts.MaxRecordBytes)
	if !ok {
		return false
	}
	i, gen, ok := a.take(payload, sum(counts))
	if !ok {
		return false
	}
	return s.combineWait(ctx, a, i, gen, reqs, counts)
}

func sum(ns []int) int {
	t := 0
	for _, n := range ns {
		t += n
	}
	return t
}

// combineWait waits for a combiner to answer slot i, or becomes one.
func (s *Session) combineWait(ctx context.Context, a *combineArea, i, gen uint32, reqs []*appendReq, counts []int) bool {
	w, st := s.w, s.st
	wp := a.word(i)
	ready, claimed := slotWord(gen, slotReady), slotWord(gen, slotClaimed)
	start := time.Now()
	var claimedSince time.Time
	for {
		v := atomic.LoadUint32(wp)
		switch v {
		case ready:
			// Published; the lock may have been let go meanwhile (the
			// combiner looks at the slots once more after unlocking, and
			// this try comes after publishing: one of the two sees the
			// other).
			if lk := w.tryLock(st); lk != nil {
				if atomic.CompareAndSwapUint32(wp, ready, slotWord(gen, slotFree)) {
					s.combineLead(lk, reqs)
					return true
				}
				s.combineLead(lk, nil) // claimed meanwhile, and answered
				continue
			}
			if time.Since(start) > combineWaitReady || ctx.Err() != nil {
				if atomic.CompareAndSwapUint32(wp, ready, slotWord(gen, slotFree)) {
					return false // lock the usual way (it reports ctx)
				}
				continue
			}
			futexWait(wp, ready, combinePoll)
		case claimed:
			if claimedSince.IsZero() {
				claimedSince = time.Now()
			}
			futexWait(wp, claimed, combineClaimedPoll)
			if atomic.LoadUint32(wp) != claimed || time.Since(claimedSince) < combineClaimedPoll {
				continue
			}
			// A combiner answers before it unlocks: if the lock is free
			// and the slot still claimed, it died.
			if lk := w.tryLock(st); lk != nil {
				if atomic.LoadUint32(wp) == claimed {
					s.combineRecover(lk, a, i, reqs, counts)
					atomic.CompareAndSwapUint32(wp, claimed, slotWord(gen, slotFree))
					return true
				}
				lk.unlock()
			}
			// A combiner alive and holding the session this long is stuck
			// (stopped, or its disk is): give up as a lock wait would, but
			// the records may have been written.
			limit := w.opts.LockTimeout
			if limit <= 0 {
				limit = DefaultLockTimeout
			}
			if waited := time.Since(claimedSince); waited > limit {
				err := fmt.Errorf("workspace: append to %s: another process took these records to write them and has held the session for %s without answering (%v); they may or may not be in the session", s.id, waited.Round(time.Millisecond), w.lockedError(w.LockPath(st.id), waited))
				for _, r := range reqs {
					r.seqs, r.err = nil, err
				}
				return true // the slot stays claimed; taken again once abandoned
			}
		case slotWord(gen, slotDone):
			first := int64(binary.LittleEndian.Uint64(a.slot(i)[slotOffFirst:]))
			giveSeqs(reqs, counts, first)
			w.combined.Add(int64(len(reqs)))
			atomic.CompareAndSwapUint32(wp, v, slotWord(gen, slotFree))
			return true
		case slotWord(gen, slotFailed):
			sl := a.slot(i)
			n := min(int(binary.LittleEndian.Uint32(sl[slotOffErrLen:])), slotPayloadMax)
			err := fmt.Errorf("workspace: append to %s (written for this process by another one): %s", s.id, string(sl[slotOffPayload:slotOffPayload+n]))
			for _, r := range reqs {
				r.seqs, r.err = nil, err
			}
			atomic.CompareAndSwapUint32(wp, v, slotWord(gen, slotFree))
			return true
		case slotWord(gen, slotRefused):
			atomic.CompareAndSwapUint32(wp, v, slotWord(gen, slotFree))
			return false
		default:
			// Nobody else frees or takes a slot that is not free: this is
			// a slot trampled by something else. Its records may or may
			// not have been written; say so rather than write them twice.
			err := fmt.Errorf("workspace: append to %s: the lock file's slot %d was overwritten while its records waited (state %#x); they may or may not be in the session: %w", s.id, i, v, errSlotLost)
			for _, r := range reqs {
				r.seqs, r.err = nil, err
			}
			return true
		}
	}
}

var errSlotLost = errors.New("combined append lost track of its records")

// giveSeqs gives each request its seqs, consecutive from first.
func giveSeqs(reqs []*appendReq, counts []int, first int64) {
	for k, r := range reqs {
		seqs := make([]int64, counts[k])
		for j := range seqs {
			seqs[j] = first
			first++
		}
		r.seqs, r.err = seqs, nil
	}
}

// combineLead appends reqs (may be none) with the records waiting in the
// slots, fsyncs under the lock, answers the slots, and goes on while
// records wait (combineRounds writes at most), then unlocks. After
// unlocking it looks at the slots once more (see combineWait).
func (s *Session) combineLead(lk *sessionLock, reqs []*appendReq) {
	w, st := s.w, s.st
	for rounds := 0; ; {
		// The slots if this process mapped them already (no system call:
		// a session nobody else writes pays nothing here); records put
		// in them before this process mapped them are seen after
		// unlocking.
		a := st.comb
		if a != nil {
			a.users.Add(1)
		}
		var served, seen uint32
		for {
			var claimed []*claimedSlot
			if a != nil {
				if served > 1 {
					// The processes just answered come back with their
					// next records while others' wait: let them join
					// this write, or the writers split into two groups
					// that take turns, each with half the batch.
					a.linger(seen + served)
				}
				claimed = a.claim(nil)
			}
			if len(reqs) == 0 && len(claimed) == 0 {
				break
			}
			var pend *pendingSync
			err := s.flushInto(reqs, false, &pend, claimed)
			if err != nil {
				for _, r := range reqs {
					if r.err == nil {
						r.seqs, r.err = nil, err
					}
				}
			}
			if a != nil {
				seen = atomic.LoadUint32(a.shared(combinePublished))
			}
			answer(claimed, err)
			served = uint32(len(claimed))
			reqs = nil
			if rounds++; rounds >= combineRounds {
				break
			}
		}
		if a != nil {
			st.releaseArea(a)
		}
		lk.unlock() // wakes an owner of records still waiting, to lead next
		if rounds >= combineRounds {
			return
		}
		a = w.area(st)
		more := a != nil && a.anyReady(false)
		if a != nil {
			st.releaseArea(a)
		}
		if !more {
			return
		}
		if lk = w.tryLock(st); lk == nil {
			return // whoever holds it combines them
		}
	}
}

// combineRecover runs under the lock when the combiner that claimed slot
// i died before answering. The records it wrote completely where it noted
// are kept (fsynced); the rest are appended now.
func (s *Session) combineRecover(lk *sessionLock, a *combineArea, i uint32, reqs []*appendReq, counts []int) {
	defer lk.unlock()
	sl := a.slot(i)
	le := binary.LittleEndian
	first := int64(le.Uint64(sl[slotOffFirst:]))
	start, end := int64(le.Uint64(sl[slotOffStart:])), int64(le.Uint64(sl[slotOffEnd:]))
	ino := le.Uint64(sl[slotOffIno:])
	now := time.Unix(0, int64(le.Uint64(sl[slotOffNow:]))).UTC()
	n, count := int(le.Uint32(sl[slotOffLen:])), int(le.Uint32(sl[slotOffCount:]))
	s.st.known = false // the combiner wrote, or died writing
	kept := 0
	if first > 0 && end > start && n <= slotPayloadMax {
		var err error
		if kept, err = s.linesInPlace(sl[slotOffPayload:slotOffPayload+n], count, first, start, end, ino, now); err != nil {
			for _, r := range reqs {
				r.seqs, r.err = nil, err
			}
			return
		}
	}
	var recs []Record
	for _, r := range reqs {
		rs, _ := r.build(lockedView{})
		recs = append(recs, rs...)
	}
	seqs := make([]int64, 0, len(recs))
	for k := 0; k < kept; k++ {
		seqs = append(seqs, first+int64(k))
	}
	if kept < len(recs) {
		rest := &appendReq{build: func(lockedView) ([]Record, error) { return recs[kept:], nil }, plain: true}
		var pend *pendingSync
		err := s.flushInto([]*appendReq{rest}, false, &pend, nil)
		if err == nil {
			err = rest.err
		}
		if err != nil {
			for _, r := range reqs {
				r.seqs, r.err = nil, err
			}
			return
		}
		seqs = append(seqs, rest.seqs...)
	}
	for k, r := range reqs {
		r.seqs, r.err = seqs[:counts[k]:counts[k]], nil
		seqs = seqs[counts[k]:]
	}
}

// linesInPlace counts the records of a slot's payload that are complete
// in the session file where a combiner noted it would write them, and
// fsyncs the file if there are any.
func (s *Session) linesInPlace(payload []byte, count int, first, start, end int64, ino uint64, now time.Time) (int, error) {
	f, err := s.w.fs.OpenFile(s.Path(), os.O_RDWR|noFollow, 0)
	if err != nil {
		return 0, nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || identityOf(fi).Inode != ino || fi.Size() <= start {
		return 0, nil
	}
	got := make([]byte, min(end, fi.Size())-start)
	if _, err := f.ReadAt(got, start); err != nil {
		return 0, nil
	}
	want, _, ok := slotLines(nil, payload, count, first-1, now)
	if !ok {
		return 0, nil
	}
	kept := 0
	for len(want) > 0 {
		nl := bytes.IndexByte(want, '\n') + 1
		if len(got) < nl || string(got[:nl]) != string(want[:nl]) {
			break
		}
		got, want = got[nl:], want[nl:]
		kept++
	}
	if kept > 0 {
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("workspace: append to %s: another process wrote these records and died before its fsync, and this one failed: %w; they stay in the file, not known to be durable", s.id, err)
		}
	}
	return kept, nil
}
