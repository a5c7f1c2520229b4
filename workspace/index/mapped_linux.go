package index

import "golang.org/x/sys/unix"

const canDropMapped = true

// dropMapped drops this process's page table entries of b, a read-only
// shared mapping of a file that never changes (a segment): the pages stay
// in the page cache, and a later read faults them in again with the same
// bytes (madvise(2): MADV_DONTNEED on a shared file mapping repopulates it
// from the file). Readers of b meanwhile only fault.
func dropMapped(b []byte) {
	if len(b) > 0 {
		_ = unix.Madvise(b, unix.MADV_DONTNEED)
	}
}
