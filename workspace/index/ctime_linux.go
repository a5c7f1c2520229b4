//go:build linux

package index

import (
	"io/fs"
	"syscall"
	"time"
)

// changeTime is the inode change time of a file (st_ctim): every write
// and every chtimes sets it to the present, and no call sets it back.
func changeTime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Ctim.Sec, st.Ctim.Nsec).UTC()
	}
	return time.Time{}
}
