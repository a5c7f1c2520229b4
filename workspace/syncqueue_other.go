//go:build !linux

package workspace

import "golang.org/x/sys/unix"

// Without OFD locks (they are Linux's) the queue is never taken: every
// batch fsyncs on its own, which is correct, only not shared.

func (f *rawFile) queueLock(int16, bool) bool { return false }

func (f *rawFile) queueUnlock() {}

func (f *rawFile) queueHolder() int16 { return unix.F_UNLCK }
