package workspace

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// CopyTrashed between file workspaces: an entry with an unfinished last
// line is copied without it (and says so); a temporary file an
// interrupted copy left is no trash entry and is not in the way; a second
// copy writes nothing; an entry that differs is refused and left alone;
// the copy restores.
func TestCopyTrashedFiles(t *testing.T) {
	ctx := context.Background()
	open := func() *Workspace {
		w, err := Open(t.TempDir(), &Options{Durability: DurabilityNever})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		return w
	}
	src, dst := open(), open()
	s := namedSession(t, src, "gone")
	mustAppend(t, s, msg(RoleUser, "one"), msg(RoleAssistant, "two"))
	name, err := s.Delete(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A crash had torn the last line before the deletion.
	p := filepath.Join(src.trashDir(), name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"type":"message","seq":4,"ro`)
	f.Close()
	// An interrupted copy left its temporary file.
	if err := os.MkdirAll(dst.trashDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst.trashDir(), "."+name+".copy-0123456789ab"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	list, err := src.Trash(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("trash: %v %v", list, err)
	}
	rep, err := CopyTrashed(ctx, src, dst, list[0])
	if err != nil || !rep.Copied || rep.Records != 3 || rep.TornBytes != 29 {
		t.Fatalf("copy: %+v %v", rep, err)
	}
	if got, err := dst.Trash(ctx); err != nil || len(got) != 1 || got[0].Name != name {
		t.Fatalf("destination trash: %+v %v", got, err)
	}
	if rep, err := CopyTrashed(ctx, src, dst, list[0]); err != nil || rep.Copied || rep.Records != 3 {
		t.Fatalf("again: %+v %v", rep, err)
	}
	r, err := dst.RestoreFromTrash(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := r.ReadAll(ctx)
	// The copy, and the untrash record the restore adds.
	if err != nil || len(recs) != 4 || recs[2].Content != "two" || recs[3].Type != TypeUntrash {
		t.Fatalf("restored: %+v %v", recs, err)
	}
	// Deleted again on dst, then changed: not the source's any more.
	if _, err := r.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	dp := filepath.Join(dst.trashDir(), name)
	b, _ := os.ReadFile(dp)
	b[len(b)-3] = 'X'
	if err := os.WriteFile(dp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CopyTrashed(ctx, src, dst, list[0]); !errors.Is(err, ErrCopyDiffers) {
		t.Fatalf("diverged: %v", err)
	}
	if after, _ := os.ReadFile(dp); string(after) != string(b) {
		t.Fatal("the diverged entry was changed")
	}
}
