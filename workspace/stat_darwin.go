package workspace

import (
	"syscall"
	"time"
)

// statTimes returns the modification and change times of a stat buffer.
func statTimes(st *syscall.Stat_t) (mtime, ctime time.Time) {
	return time.Unix(st.Mtimespec.Unix()), time.Unix(st.Ctimespec.Unix())
}
