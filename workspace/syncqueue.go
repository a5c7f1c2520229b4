package workspace

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"

	"golang.org/x/sys/unix"
)

// Group commit across processes (durability batch).
//
// A batch is written under the session lock and fsynced after it (see
// syncAfter). Its ticket is where it ends in the session file, with the
// file's inode and an epoch. An fsync records, in the synced slot of the
// session's lock file, the file's size when it began: every batch that
// ends there or before was written before the fsync began, so the fsync
// covered it. A batch whose ticket is covered returns without an fsync
// of its own.
//
// Who fsyncs is settled with an OFD lock (fcntl) on one byte of the
// session file, far past its data (syncQueueOffset): the writer that
// fsyncs holds it exclusively, and the others wait for it with a shared
// lock, so they all wake at once when that fsync ends, read the synced
// slot, and return if it covers them. The first that finds itself not
// covered (it wrote while that fsync ran) fsyncs next, for all of them.
// So while one fsync runs, the batches of every process that writes
// meanwhile gather behind it and share the next one.
//
// Offsets are only comparable while the file only grows. The epoch slot
// of the lock file, written under the session lock, names the file (its
// inode) and an epoch, drawn at random whenever the file is new or
// emptied, was cut back (a failed append, a torn tail, repair) or is not
// the one the slot names; a synced record of another epoch or inode
// covers nothing. A crash that rolls the slots back is harmless: a
// synced record is only written after its fsync finished, and each slot
// is one write within a sector.

const (
	syncEpochOffset  = 4096       // past the holder line of the lock file
	syncSyncedOffset = 4096 + 512 // in another sector
	syncSlotSize     = 32
	// syncQueueOffset is the byte of a session file whose OFD lock
	// (fcntl F_OFD_SETLKW) queues its fsyncs. It lies far past any real
	// size: the lock is on a range, never on data, and readers take no
	// fcntl locks.
	syncQueueOffset = 1 << 62
)

var syncSlotMagic = []byte("pcsync01")

// syncSlot is one slot: an epoch, the session file's inode, an offset.
type syncSlot struct {
	epoch, ino uint64
	end        int64
}

func readSyncSlot(fd int, off int64) (syncSlot, bool) {
	var b [syncSlotSize]byte
	n, err := unix.Pread(fd, b[:], off)
	if err != nil || n != len(b) || !bytes.Equal(b[:8], syncSlotMagic) {
		return syncSlot{}, false
	}
	le := binary.LittleEndian
	return syncSlot{epoch: le.Uint64(b[8:]), ino: le.Uint64(b[16:]), end: int64(le.Uint64(b[24:]))}, true
}

func writeSyncSlot(fd int, off int64, s syncSlot) error {
	var b [syncSlotSize]byte
	copy(b[:], syncSlotMagic)
	le := binary.LittleEndian
	le.PutUint64(b[8:], s.epoch)
	le.PutUint64(b[16:], s.ino)
	le.PutUint64(b[24:], uint64(s.end))
	_, err := unix.Pwrite(fd, b[:], off)
	return err
}

// syncTicket names a batch written under the session lock: the epoch
// and inode of the file, and where the batch ends. It runs under the
// session lock; fresh says the batch started a new or emptied file. ok
// is false when the epoch slot cannot be read or written: the batch then
// fsyncs on its own.
func (st *sessionState) syncTicket(ino uint64, end int64, fresh bool) (syncSlot, bool) {
	if st.holder == nil || ino == 0 {
		return syncSlot{}, false
	}
	fd := int(st.holder.Fd())
	s, ok := readSyncSlot(fd, syncEpochOffset)
	if !ok || s.ino != ino || fresh {
		s = syncSlot{epoch: rand.Uint64() | 1, ino: ino}
		if writeSyncSlot(fd, syncEpochOffset, s) != nil {
			return syncSlot{}, false
		}
	}
	s.end = end
	return s, true
}

// dropSyncEpoch is called under the session lock when the session file
// was cut back: what was recorded as synced no longer says anything.
func (st *sessionState) dropSyncEpoch() {
	if st.holder != nil {
		_ = writeSyncSlot(int(st.holder.Fd()), syncEpochOffset, syncSlot{})
	}
}

// covered reports whether the synced slot says an fsync that finished
// covered t. It runs under the queue's OFD lock, shared or exclusive.
func (st *sessionState) covered(t syncSlot) bool {
	st.holderMu.Lock() // the lock file stays open meanwhile
	defer st.holderMu.Unlock()
	if st.holder == nil {
		return false
	}
	s, ok := readSyncSlot(int(st.holder.Fd()), syncSyncedOffset)
	return ok && s.epoch == t.epoch && s.ino == t.ino && s.end >= t.end
}

// recordSynced writes the synced slot: an fsync begun when the file
// ended at t.end finished, for the batch [start, end). It runs under the
// queue's exclusive lock. An fsync that covered that batch alone (see
// syncTurn) is not written down: any bytes of others it covered lie
// before start or after end.
func (st *sessionState) recordSynced(t syncSlot, start, end int64) {
	st.holderMu.Lock()
	defer st.holderMu.Unlock()
	alone := t.end == end && st.ownSynced.epoch == t.epoch && st.ownSynced.ino == t.ino && st.ownSynced.end == start
	st.ownSynced = t
	if st.holder != nil && !alone {
		_ = writeSyncSlot(int(st.holder.Fd()), syncSyncedOffset, t)
	}
}

// groupSync makes the batch of ticket t in f durable, by an fsync of its
// own or by one that another writer (of any process) began after it was
// written.
func (s *Session) groupSync(f *rawFile, t syncSlot, start int64) error {
	// Nobody else syncing or looking: the turn is ours at once.
	if f.queueLock(unix.F_WRLCK, false) {
		return s.syncTurn(f, t, start, false)
	}
	for {
		if !f.queueLock(unix.F_RDLCK, true) {
			// No OFD locks here (an old kernel, some network filesystems):
			// the fsync alone is still correct, only not shared.
			return f.Sync()
		}
		done := s.st.covered(t)
		f.queueUnlock()
		if done {
			return nil
		}
		if !f.queueLock(unix.F_WRLCK, false) {
			if f.queueHolder() == unix.F_WRLCK {
				continue // someone is fsyncing: wait for it with the others
			}
			// Others are only reading the slot: wait for them.
			if !f.queueLock(unix.F_WRLCK, true) {
				return f.Sync()
			}
		}
		return s.syncTurn(f, t, start, true)
	}
}

// syncTurn runs with the queue's exclusive lock: fsync unless an fsync
// that finished covered t already (looked at when waited: a turn taken at
// once seldom is), record what this one covers, unlock.
//
// The record is left out when the fsync covered this batch alone: the
// file ended where the batch ends when it began, and the batch starts
// where this process's last fsync ended (so nobody wrote between them).
// Then no other writer can be waiting for it, and the lock file is not
// written: a session with one writer (8 processes on 8 sessions) paid for
// that write in every append (0.87-0.90x always; 0.95-1.02x without it).
func (s *Session) syncTurn(f *rawFile, t syncSlot, start int64, waited bool) error {
	defer f.queueUnlock()
	if waited && s.st.covered(t) {
		return nil
	}
	// Where the file ends before the fsync begins: all of it is covered.
	var fst unix.Stat_t
	upTo := int64(-1)
	if unix.Fstat(f.fd, &fst) == nil && uint64(fst.Ino) == t.ino {
		upTo = fst.Size
	}
	err := f.Sync()
	if err == nil && upTo >= t.end {
		s.st.recordSynced(syncSlot{epoch: t.epoch, ino: t.ino, end: upTo}, start, t.end)
	}
	return err
}
