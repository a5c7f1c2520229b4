//go:build linux

package workspace

import (
	"io"

	"golang.org/x/sys/unix"
)

// queueLock takes the OFD lock of the fsync queue, shared or exclusive,
// waiting for it or not; false if it was not taken.
func (f *rawFile) queueLock(typ int16, wait bool) bool {
	lk := unix.Flock_t{Type: typ, Whence: io.SeekStart, Start: syncQueueOffset, Len: 1}
	cmd := unix.F_OFD_SETLK
	if wait {
		cmd = unix.F_OFD_SETLKW
	}
	for {
		err := unix.FcntlFlock(uintptr(f.fd), cmd, &lk)
		if err == unix.EINTR {
			continue
		}
		return err == nil
	}
}

func (f *rawFile) queueUnlock() {
	lk := unix.Flock_t{Type: unix.F_UNLCK, Whence: io.SeekStart, Start: syncQueueOffset, Len: 1}
	_ = unix.FcntlFlock(uintptr(f.fd), unix.F_OFD_SETLK, &lk)
}

// queueHolder returns the kind of lock (F_RDLCK, F_WRLCK) that keeps an
// exclusive lock of the queue from being taken now, F_UNLCK if none.
func (f *rawFile) queueHolder() int16 {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart, Start: syncQueueOffset, Len: 1}
	if unix.FcntlFlock(uintptr(f.fd), unix.F_OFD_GETLK, &lk) != nil {
		return unix.F_UNLCK
	}
	return lk.Type
}
