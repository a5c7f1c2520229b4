//go:build linux

package workspace

import (
	"syscall"
	"time"
)

// storeSys is the Sys of a store's FileInfo: the generation as the inode
// and the time of the last append as the modification and change time.
func storeSys(st StoreStat, mod time.Time) any {
	ts := syscall.NsecToTimespec(mod.UnixNano())
	return &syscall.Stat_t{Dev: storeDev, Ino: st.Gen, Size: st.Size, Mode: syscall.S_IFREG | 0o644, Mtim: ts, Ctim: ts}
}
