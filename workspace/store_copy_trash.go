package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// TrashCopyReport says what CopyTrashed did.
type TrashCopyReport struct {
	Name    string `json:"name"` // the entry's name in the trash (both ends)
	ID      string `json:"id"`
	Records int    `json:"records"` // in the destination, all verified
	Copied  bool   `json:"copied"`  // written now (false: it was there already)
	Bytes   int64  `json:"bytes"`
	// TornBytes: the source entry ended in an unfinished line (a crash
	// before its deletion); those bytes are not copied.
	TornBytes int64 `json:"torn_bytes,omitempty"`
}

// CopyTrashed copies trash entry t of src into the trash of dst under the
// same name, so that RestoreFromTrash on dst brings the session back. A
// trash entry never changes, so the copy is all or nothing: an entry of
// that name in dst must be byte for byte the source's (else an error
// wrapping ErrCopyDiffers, and it is left alone); a copy cut short leaves
// nothing visible (a temporary file, or a part key in a store), and the
// next run writes it (a store continues its part). Afterwards the
// destination's entry is read back and compared record by record.
//
// On files the entry's deletion time is its change time, so a copy into
// files counts as deleted when it was copied (cleanup.purge_after starts
// again); a copy into a store keeps t.Deleted.
func CopyTrashed(ctx context.Context, src, dst *Workspace, t Trashed) (TrashCopyReport, error) {
	rep := TrashCopyReport{Name: t.Name, ID: t.ID}
	if trashID(t.Name) == "" || trashID(t.Name) != t.ID {
		return rep, fmt.Errorf("workspace: %q is not a trash entry name", t.Name)
	}
	data, torn, err := readTrashEntry(ctx, src, t.Name)
	if err != nil {
		return rep, err
	}
	rep.Bytes, rep.TornBytes = int64(len(data)), torn
	if len(data) == 0 {
		// Purged (or expired) since it was listed, or no complete line:
		// nothing that restore could bring back.
		return rep, fmt.Errorf("%w: trash entry %s is gone or holds no complete record", ErrNotFound, t.Name)
	}
	had := false
	if dst.store != nil {
		last, _ := lastSeqOf(data)
		had, err = dst.store.PutTrash(ctx, t, data, last, copyMeta(data))
	} else {
		had, err = dst.putTrashFile(ctx, t.Name, data)
	}
	if err != nil {
		return rep, fmt.Errorf("workspace: copy %s from the trash: %w", t.Name, err)
	}
	rep.Copied = !had
	back, _, err := readTrashEntry(ctx, dst, t.Name)
	if err != nil {
		return rep, fmt.Errorf("workspace: copy %s from the trash: read back: %w", t.Name, err)
	}
	rep.Records, err = verifyLines("trash entry "+t.Name, data, back)
	return rep, err
}

// readTrashEntry reads the complete lines of a trash entry, and says how
// many bytes of an unfinished last line it left out. An entry missing
// from a store reads as empty.
func readTrashEntry(ctx context.Context, w *Workspace, name string) ([]byte, int64, error) {
	if w.store != nil {
		// Straight from the store: through storeFS every open would list
		// the whole trash to find the entry's size.
		var b []byte
		buf := make([]byte, 1<<20)
		for {
			n, err := w.store.ReadTrashAt(ctx, name, buf, int64(len(b)))
			if err != nil {
				return nil, 0, fmt.Errorf("workspace: trash entry %s: %w", name, err)
			}
			b = append(b, buf[:n]...)
			if n < len(buf) {
				break
			}
		}
		end := bytes.LastIndexByte(b, '\n') + 1
		return b[:end], int64(len(b) - end), nil
	}
	path := filepath.Join(w.trashDir(), name)
	if _, err := w.lstatRegular(path); err != nil {
		return nil, 0, fmt.Errorf("workspace: trash entry %s: %w", name, err)
	}
	f, err := w.fs.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("workspace: trash entry %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	end, err := completeEnd(f, fi.Size(), path)
	if err != nil {
		return nil, 0, err
	}
	b := make([]byte, end)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, 0, fmt.Errorf("workspace: read %s: %w", path, err)
	}
	return b, fi.Size() - end, nil
}

// putTrashFile writes a trash entry of a file workspace: a temporary file
// in sessions/.trash/ (its name is no trash entry's), synced, then linked
// to its name, which never replaces an entry that is there. had: one was.
func (w *Workspace) putTrashFile(ctx context.Context, name string, data []byte) (bool, error) {
	path := filepath.Join(w.trashDir(), name)
	if _, err := w.lstat(path); err == nil {
		return true, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if err := w.fs.MkdirAll(w.trashDir(), 0o755); err != nil {
		return false, err
	}
	if err := w.trashReady(); err != nil {
		return false, err
	}
	tmp := filepath.Join(w.trashDir(), "."+name+".copy-"+appendToken()[:12])
	f, err := w.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, 0o644)
	if err != nil {
		return false, err
	}
	defer w.fs.Remove(tmp)
	if _, err := writeFull(f, data); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Close(); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if _, ok := w.fs.(OSFS); ok {
		if err := os.Link(tmp, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return true, nil // another copy was faster
			}
			return false, err
		}
	} else if err := w.fs.Rename(tmp, path); err != nil {
		return false, err
	}
	w.syncDir(w.trashDir())
	return false, nil
}
