package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Store keeps the sessions' records somewhere other than the files of
// sessions/: on a server that the processes of several machines share
// (package workspace/redisstore). Options.Store selects one; nil means the
// files, which take no detour through this interface.
//
// A store keeps each session as the bytes its file would hold (a header
// line, then one JSON line per record, byte for byte), so that every
// reader of the package (history from the tail, pages, records from an
// offset, listing metadata, check, watch, the search index's catch-up)
// runs on it unchanged. Its operations are the ones a session file gets:
//
//   - Stat: the size, generation, time of the last append and last seq.
//   - ReadAt: a range of the bytes (the tail, or from an offset).
//   - Append: bytes added at the end in one atomic step, only if the
//     session is still the size (and generation) the caller built its
//     records on, which is what makes seqs contiguous across machines
//     without a lock; a token makes a retried call land once.
//   - List: every live session with its Stat.
//   - Trash, Restore, Purge, ListTrash: the trash.
//   - Follow: wake-ups for followers.
//   - TryLock: a named lease on a session that every machine sees (the
//     summarize lock), taken without waiting.
//   - PutTrash: a trash entry written whole (store copy).
//
// Errors: a missing session wraps ErrNotFound; a server that cannot be
// reached (or lost a call half-way) wraps ErrStoreUnavailable.
type Store interface {
	// Kind is "redis" and the like, for messages.
	Kind() string
	// Addr says where the store is, without any secret in it.
	Addr() string
	Stat(ctx context.Context, id string) (StoreStat, error)
	ReadAt(ctx context.Context, id string, p []byte, off int64) (int, error)
	// Append adds a.Data at the end of session a.ID if its size is still
	// a.End and (when a.End > 0) its generation a.Gen; otherwise it
	// returns a *ConflictError with the session as it is, and stores
	// nothing. A call whose a.Token was stored already (a retry after a
	// lost reply) stores nothing and returns Dup with the first seq the
	// first call stored.
	Append(ctx context.Context, a StoreAppend) (StoreResult, error)
	List(ctx context.Context) ([]StoreStat, error)
	// Trash moves session id to the trash under name; ErrNotFound when
	// it is not live, ErrExists when name is taken. With ifSize >= 0 it
	// moves it only if it still holds ifSize bytes (else an error
	// wrapping ErrChanged), in the same atomic step: a session another
	// machine appended to after the caller looked stays live.
	Trash(ctx context.Context, id, name string, at time.Time, ifSize int64) error
	ListTrash(ctx context.Context) ([]Trashed, error)
	// Restore brings trash entry name back as session id; ErrExists when
	// a live session id exists.
	Restore(ctx context.Context, name, id string) error
	Purge(ctx context.Context, name string) error
	// ReadTrashAt reads the bytes of trash entry name (size: its Trashed.Size).
	ReadTrashAt(ctx context.Context, name string, p []byte, off int64) (int, error)
	// Follow returns a channel that receives the id of a session after
	// each append to it, until ctx ends (then it is closed). The ids are
	// hints that wake followers: one may be lost while the connection is
	// down, so a follower also rescans on its poll; its cursor, where it
	// stopped in each session (byte offset, last seq), is what makes it
	// miss and repeat nothing.
	Follow(ctx context.Context) (<-chan string, error)
	// TryLock takes lease name of session id for holder (a text naming
	// the process, kept for operators) without waiting: nil and no
	// error when another process, of any machine, holds it. See Lease.
	TryLock(ctx context.Context, id, name, holder string) (Lease, error)
	// PutTrash stores data (complete lines) as trash entry t (t.Name,
	// t.ID, t.Deleted), with lastSeq its last record's seq and meta its
	// listing fields (as StoreAppend.Meta), so that Restore brings it
	// back as a live session. Nothing is visible in ListTrash until the
	// entry is complete. An entry of that name already there is left as
	// it is (had is true; the caller compares its bytes); a copy cut
	// short resumes where it stopped, after checking that what it wrote
	// is the start of data (else an error wrapping ErrCopyDiffers).
	PutTrash(ctx context.Context, t Trashed, data []byte, lastSeq int64, meta map[string]string) (had bool, err error)
	// ChangedSince returns the ids of the sessions appended to (or
	// created) at or after since, by the appender's clock, and of those
	// moved to the trash since: what a search index on another machine
	// must look at (Workspace.StoreChangedSince). It may name sessions
	// that did not change; it must name every one that did.
	ChangedSince(ctx context.Context, since time.Time) ([]string, error)
}

// ErrChanged wraps the refusal of a conditional step (Store.Trash with a
// size) on a session that changed since the caller looked.
var ErrChanged = errors.New("workspace: session changed meanwhile")

// StoreStat is a session as a Store holds it.
type StoreStat struct {
	ID      string
	Size    int64     // bytes of its lines
	Gen     uint64    // changes when the session is created anew
	ModTime time.Time // of the last append
	LastSeq int64
}

// StoreAppend is one atomic append to a Store.
type StoreAppend struct {
	ID      string
	End     int64  // the size the records were built on
	Gen     uint64 // its generation (0 to create the session)
	Data    []byte // complete lines
	First   int64  // seq of the first record in Data
	LastSeq int64  // seq of the last record in Data
	Records int    // number of lines in Data
	Token   string // unique per call; a retry reuses it
	// Meta holds listing fields (title, name, scope, aliases, updated)
	// the store may keep beside the records; derived, never read back
	// by the package.
	Meta map[string]string
	Now  time.Time
}

// StoreResult is what came of an Append.
type StoreResult struct {
	Stat StoreStat
	// Dup: the token had been stored; nothing was appended now. First is
	// the first seq the earlier call stored.
	Dup   bool
	First int64
}

// ConflictError says the session changed since the caller looked: its
// records must be built again on Now.
type ConflictError struct {
	ID  string
	Now StoreStat
	// Missing: the session does not exist (any more).
	Missing bool
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("workspace: session %s changed meanwhile (now %d bytes, seq %d)", e.ID, e.Now.Size, e.Now.LastSeq)
}

// ErrStoreUnavailable wraps errors of a Store that could not be reached or
// lost a call half-way: an append that fails with it was not acknowledged
// (it may or may not have been stored; retrying the same call with its
// token does not store it twice).
var ErrStoreUnavailable = errors.New("workspace: store unavailable")

// ErrStoreUnsupported wraps the refusal of an operation that works on
// session files only (repair, encrypt/decrypt/rekey of the files) on a
// workspace whose records are in a Store.
var ErrStoreUnsupported = errors.New("workspace: not possible on this store")

// Store is the store of the workspace's records; nil for the files.
func (w *Workspace) Store() Store { return w.store }

// StoreName says where the records are: "files" or the store's address.
func (w *Workspace) StoreName() string {
	if w.store == nil {
		return "files"
	}
	return w.store.Addr()
}

// filesOnly refuses an operation that rewrites session files (repair,
// Convert) on a workspace whose records are in a store: there, records
// are only ever added by one atomic step, so there is no torn tail or
// half-written line to repair, and a conversion would have to rewrite
// the records in place, which the store does not do.
func (w *Workspace) filesOnly(op string) error {
	if w.store == nil {
		return nil
	}
	return fmt.Errorf("%w: %s works on session files; the records of this workspace are in %s (picosess store copy makes a file workspace of them, and back)", ErrStoreUnsupported, op, w.store.Addr())
}

// storeDev is the device number of the Identity of a session in a Store.
const storeDev = 0x73746f7265 // "store"

// storeFS presents a Store as the FS of sessions/ and sessions/.trash/, so
// that the package's readers and its trash handling run on it unchanged.
// Everything else (config, cache, locks, the index) stays on disk.
// Writing a session's bytes through it is refused (ErrStoreUnsupported):
// appends go to Store.Append (store_append.go).
type storeFS struct {
	disk   FS
	store  Store
	sess   string // sessions dir
	trash  string // trash dir
	prefix string // sess + "/"
}

func newStoreFS(disk FS, root string, st Store) *storeFS {
	sess := filepath.Join(root, SessionsDir)
	return &storeFS{disk: disk, store: st, sess: sess, trash: filepath.Join(sess, TrashDir), prefix: sess + string(filepath.Separator)}
}

// where says what path names: a live session (id), a trash entry
// (trash name), or neither (on disk).
func (f *storeFS) where(path string) (id, trashName string) {
	rest, ok := strings.CutPrefix(path, f.prefix)
	if !ok {
		return "", ""
	}
	if t, ok := strings.CutPrefix(rest, TrashDir+string(filepath.Separator)); ok {
		if trashID(t) != "" {
			return "", t
		}
		return "", ""
	}
	return idFromFileName(rest), ""
}

func (f *storeFS) unsupported(op, path string) error {
	return &fs.PathError{Op: op, Path: path, Err: fmt.Errorf("%w: the records are in %s, not in files (picosess store copy makes a file workspace of them)", ErrStoreUnsupported, f.store.Addr())}
}

func (f *storeFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	id, tn := f.where(name)
	if id == "" && tn == "" {
		if strings.HasPrefix(name, f.prefix) && flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE) != 0 {
			return nil, f.unsupported("open", name) // set-aside and temporary files of repair, convert
		}
		return f.disk.OpenFile(name, flag, perm)
	}
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0 {
		return nil, f.unsupported("open", name)
	}
	if tn != "" {
		fi, err := f.Stat(name)
		if err != nil {
			return nil, err
		}
		return &storeFile{fs: f, name: name, st: StoreStat{ID: trashID(tn), Size: fi.Size(), ModTime: fi.ModTime()}, trash: tn}, nil
	}
	st, err := f.store.Stat(context.Background(), id)
	if err != nil {
		return nil, storePathError("open", name, err)
	}
	return &storeFile{fs: f, name: name, st: st}, nil
}

func storePathError(op, path string, err error) error {
	if errors.Is(err, ErrNotFound) {
		return &fs.PathError{Op: op, Path: path, Err: fs.ErrNotExist}
	}
	return &fs.PathError{Op: op, Path: path, Err: err}
}

func (f *storeFS) Stat(name string) (fs.FileInfo, error) {
	id, tn := f.where(name)
	switch {
	case id != "":
		st, err := f.store.Stat(context.Background(), id)
		if err != nil {
			return nil, storePathError("stat", name, err)
		}
		return storeInfo(st, filepath.Base(name), st.ModTime), nil
	case tn != "":
		list, err := f.store.ListTrash(context.Background())
		if err != nil {
			return nil, storePathError("stat", name, err)
		}
		for _, t := range list {
			if t.Name == tn {
				return storeInfo(StoreStat{ID: t.ID, Size: t.Size, ModTime: t.Deleted}, tn, t.Deleted), nil
			}
		}
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return f.disk.Stat(name)
}

// Lstat: the store holds no symbolic links.
func (f *storeFS) Lstat(name string) (fs.FileInfo, error) {
	id, tn := f.where(name)
	if id != "" || tn != "" {
		return f.Stat(name)
	}
	if l, ok := f.disk.(interface {
		Lstat(string) (fs.FileInfo, error)
	}); ok {
		return l.Lstat(name)
	}
	return os.Lstat(name)
}

func (f *storeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	switch filepath.Clean(name) {
	case f.sess:
		list, err := f.store.List(context.Background())
		if err != nil {
			return nil, storePathError("readdir", name, err)
		}
		out := make([]fs.DirEntry, 0, len(list))
		for _, st := range list {
			out = append(out, fs.FileInfoToDirEntry(storeInfo(st, st.ID+SessionExt, st.ModTime)))
		}
		return out, nil
	case f.trash:
		list, err := f.store.ListTrash(context.Background())
		if err != nil {
			return nil, storePathError("readdir", name, err)
		}
		out := make([]fs.DirEntry, 0, len(list))
		for _, t := range list {
			out = append(out, fs.FileInfoToDirEntry(storeInfo(StoreStat{ID: t.ID, Size: t.Size, ModTime: t.Deleted}, t.Name, t.Deleted)))
		}
		return out, nil
	}
	return f.disk.ReadDir(name)
}

func (f *storeFS) MkdirAll(name string, perm fs.FileMode) error { return f.disk.MkdirAll(name, perm) }

func (f *storeFS) Rename(oldpath, newpath string) error {
	oid, otn := f.where(oldpath)
	nid, ntn := f.where(newpath)
	ctx := context.Background()
	switch {
	case oid != "" && ntn != "" && trashID(ntn) == oid:
		if err := f.store.Trash(ctx, oid, ntn, time.Now(), -1); err != nil {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
		}
		return nil
	case otn != "" && nid != "" && trashID(otn) == nid:
		if err := f.store.Restore(ctx, otn, nid); err != nil {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
		}
		return nil
	case oid == "" && otn == "" && nid == "" && ntn == "" && !strings.HasPrefix(newpath, f.prefix):
		return f.disk.Rename(oldpath, newpath)
	}
	return f.unsupported("rename", oldpath)
}

// renameToTrash moves a session into the trash; on a store with ifSize
// >= 0 only if it still holds that many bytes (an error wrapping
// ErrChanged otherwise).
func (w *Workspace) renameToTrash(oldpath, newpath string, ifSize int64) error {
	f, ok := w.fs.(*storeFS)
	if !ok || ifSize < 0 {
		return w.fs.Rename(oldpath, newpath)
	}
	oid, _ := f.where(oldpath)
	_, ntn := f.where(newpath)
	if oid == "" || ntn == "" || trashID(ntn) != oid {
		return f.unsupported("rename", oldpath)
	}
	if err := f.store.Trash(context.Background(), oid, ntn, time.Now(), ifSize); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}

func (f *storeFS) Remove(name string) error {
	id, tn := f.where(name)
	switch {
	case tn != "":
		if err := f.store.Purge(context.Background(), tn); err != nil {
			return storePathError("remove", name, err)
		}
		return nil
	case id != "":
		return f.unsupported("remove", name)
	}
	return f.disk.Remove(name)
}

// storeInfo is the FileInfo of a session (or trash entry) in a store. Its
// Sys is a *syscall.Stat_t, so that identityOf and changeTime read its
// generation as the inode and its time as the change time.
func storeInfo(st StoreStat, name string, mod time.Time) fs.FileInfo {
	return &storeFileInfo{name: name, size: st.Size, mod: mod, sys: storeSys(st, mod)}
}

type storeFileInfo struct {
	name string
	size int64
	mod  time.Time
	sys  any
}

func (i *storeFileInfo) Name() string       { return i.name }
func (i *storeFileInfo) Size() int64        { return i.size }
func (i *storeFileInfo) Mode() fs.FileMode  { return 0o644 }
func (i *storeFileInfo) ModTime() time.Time { return i.mod }
func (i *storeFileInfo) IsDir() bool        { return false }
func (i *storeFileInfo) Sys() any           { return i.sys }

// storeFile is a session of a store opened for reading: its bytes as they
// were when it was opened (later appends are past its size).
type storeFile struct {
	fs   *storeFS
	name string
	st   StoreStat
	off  int64
	// pending: bytes an append is about to store after st.Size, seen by
	// the builders of its later records.
	pending []byte
	// trash: the trash entry read, when not a live session.
	trash string
}

func (f *storeFile) Read(b []byte) (int, error) {
	n, err := f.ReadAt(b, f.off)
	f.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (f *storeFile) ReadAt(b []byte, off int64) (int, error) {
	if len(f.pending) > 0 {
		return f.readPending(b, off)
	}
	if off >= f.st.Size {
		return 0, io.EOF
	}
	want := b
	if rest := f.st.Size - off; int64(len(want)) > rest {
		want = want[:rest]
	}
	var n int
	var err error
	if f.trash != "" {
		n, err = f.fs.store.ReadTrashAt(context.Background(), f.trash, want, off)
	} else {
		n, err = f.fs.store.ReadAt(context.Background(), f.st.ID, want, off)
	}
	if err != nil {
		return n, &fs.PathError{Op: "read", Path: f.name, Err: err}
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// readPending reads the stored bytes, then the pending ones.
func (f *storeFile) readPending(b []byte, off int64) (int, error) {
	n := 0
	if off < f.st.Size {
		stored := storeFile{fs: f.fs, name: f.name, st: f.st}
		k, err := stored.ReadAt(b[:min(int64(len(b)), f.st.Size-off)], off)
		n += k
		if err != nil && err != io.EOF {
			return n, err
		}
		off += int64(k)
	}
	if p := off - f.st.Size; p >= 0 && p < int64(len(f.pending)) {
		n += copy(b[n:], f.pending[p:])
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

func (f *storeFile) Write([]byte) (int, error) { return 0, f.fs.unsupported("write", f.name) }
func (f *storeFile) Close() error              { return nil }
func (f *storeFile) Sync() error               { return nil }
func (f *storeFile) Truncate(int64) error      { return f.fs.unsupported("truncate", f.name) }
func (f *storeFile) Stat() (fs.FileInfo, error) {
	st := f.st
	st.Size += int64(len(f.pending))
	return storeInfo(st, filepath.Base(f.name), st.ModTime), nil
}
