package workspace

import (
	"io/fs"
	"syscall"
	"time"
)

// Identity tells whether a session file is still the file a reader saw
// before: an indexer keeps it with its watermark, and reads from the
// watermark only when Continues says the file only grew.
type Identity struct {
	Size    int64     `json:"size"`
	Dev     uint64    `json:"dev"`
	Inode   uint64    `json:"inode"`
	ModTime time.Time `json:"mtime"`
}

// identityOf builds an Identity from a FileInfo; Dev and Inode are zero
// where the platform does not expose them.
func identityOf(fi fs.FileInfo) Identity {
	id := Identity{Size: fi.Size(), ModTime: fi.ModTime().UTC()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.Dev = uint64(st.Dev) //nolint:unconvert // int32 on some platforms
		id.Inode = uint64(st.Ino)
	}
	return id
}

// SameFile reports whether a and b describe the same file (same device and
// inode), whatever its size.
func (id Identity) SameFile(b Identity) bool { return id.Dev == b.Dev && id.Inode == b.Inode }

// Continues reports whether the file described by now is the file described
// by id, grown or unchanged: reading on from id.Size is then enough.
// A file that shrank (repair truncated it) or was replaced (repair, restore
// from trash, an editor's save) must be read again from the start.
func (id Identity) Continues(now Identity) bool {
	return id.SameFile(now) && now.Size >= id.Size
}

// equal reports whether a and b describe the same file in the same state.
func (id Identity) equal(b Identity) bool {
	return id.SameFile(b) && id.Size == b.Size && id.ModTime.Equal(b.ModTime)
}

// changeTime is the inode change time of fi (a rename sets it), or its
// modification time where the platform does not say.
func changeTime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		_, c := statTimes(st)
		return c.UTC()
	}
	return fi.ModTime().UTC()
}
