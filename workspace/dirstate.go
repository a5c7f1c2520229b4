package workspace

import (
	"os"
	"strings"
	"sync"
	"time"
)

// DirState identifies the state of a directory: a file created, removed
// or renamed in it changes its modification and change times. Readers that
// follow the change journal (the listing, the search index) compare it
// with the one they stored to learn whether sessions came or went without
// looking at every file.
type DirState struct {
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Mtime int64  `json:"mtime"`
	Ctime int64  `json:"ctime"`
}

// dirSettle: a directory whose times are this recent is looked at again
// by the next reader. File times tick coarsely (a kernel tick), so a
// change in the same tick as the reader's look leaves them as they were.
const (
	dirSettle     = 2 * time.Second
	dirSettleFine = 50 * time.Millisecond
)

// DirSettle is the longest a directory's times may take to be trusted
// (Settled); tests wait that long.
const DirSettle = dirSettle

// Settled reports whether the directory's times are old enough at now to
// be trusted: older than a tick of the filesystem's clock. Times with
// nanoseconds come from a clock that ticks every few milliseconds (the
// kernel's coarse clock: ext4, xfs, btrfs, tmpfs): 50 ms; whole seconds
// may come from a filesystem that keeps no less (ext3, FAT, some network
// filesystems): 2 s. A reader stores the zero DirState instead of one
// that is not settled, so that its next look lists the directory.
func (d DirState) Settled(now time.Time) bool {
	margin := dirSettle
	if d.Mtime%1e9 != 0 || d.Ctime%1e9 != 0 {
		margin = dirSettleFine
	}
	return now.UnixNano()-max(d.Mtime, d.Ctime) > int64(margin)
}

// BootID identifies the running boot of the machine ("" where unknown).
// Journal hints are not fsynced: a reader whose state was stored in
// another boot looks at every file.
var BootID = sync.OnceValue(func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
})
