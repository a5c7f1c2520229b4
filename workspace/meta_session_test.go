package workspace

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// metaIn opens the workspace of dir anew, as another process would, and
// returns the session's Meta and the bytes of session files it read.
func metaIn(t *testing.T, dir, id string) (Meta, int64) {
	t.Helper()
	ffs := &faultFS{}
	w, err := Open(dir, &Options{FS: ffs, NoConfig: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s, err := w.OpenID(id)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Meta(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m, ffs.readBytes
}

// appendLine writes one record as a script or an editor would: no lock,
// no workspace, O_APPEND.
func appendLine(t *testing.T, path string, r Record) int {
	t.Helper()
	line, err := appendRecord(nil, &r)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		t.Fatal(err)
	}
	return len(line) + 1
}

// After another process appends, a new process's Session.Meta reads only
// the appended bytes (and the few before them that prove the file was
// not rewritten), whatever the file's length, and saves the new state
// for the next one: what keeps show --limit 50 as fast on 100 000
// messages as on 1 000 (BenchmarkShowAfterOutsideAppend).
func TestMetaReadsOnlyWhatWasAppended(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, &Options{Durability: DurabilityNever, NoConfig: true})
	s := writeSessionFile(t, w, "long", 20_000)
	dir, id := w.Root(), s.ID()
	fi, _ := os.Stat(s.Path())

	m, read := metaIn(t, dir, id)
	if m.Messages != 20_000 || read < fi.Size() {
		t.Fatalf("first read: %d messages, %d of %d bytes read", m.Messages, read, fi.Size())
	}
	if _, err := os.Stat(filepath.Join(dir, CacheDir, MetaDir, id+".json")); err != nil {
		t.Fatalf("no entry file saved: %v", err)
	}
	// A second process with nothing new reads nothing.
	if m, read = metaIn(t, dir, id); read != 0 || m.Messages != 20_000 {
		t.Fatalf("unchanged file: %d bytes read, %d messages", read, m.Messages)
	}
	other, err := Open(dir, &Options{Durability: DurabilityNever, NoConfig: true})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	os2, _ := other.OpenID(id)
	last := m.LastSeq
	for i, appendOutside := range []func() int{
		func() int { // a gateway, through the library
			before, _ := os.Stat(s.Path())
			mustAppend(t, os2, AssistantMessage("m", "reply").WithUsage(100, 10))
			after, _ := os.Stat(s.Path())
			return int(after.Size() - before.Size())
		},
		func() int { // a script or an editor's append
			return appendLine(t, s.Path(), Record{Type: TypeTitle, Seq: last + 2, At: time.Now(), Text: "Renamed outside"})
		},
	} {
		n := appendOutside()
		m, read = metaIn(t, dir, id)
		if read > int64(n)+metaTailBytes {
			t.Fatalf("append %d: read %d bytes for %d appended", i, read, n)
		}
		if m, _ := s.Meta(ctx); m.LastSeq != last+int64(i)+1 {
			t.Fatalf("append %d: this process's Meta has last seq %d", i, m.LastSeq)
		}
	}
	if m.Messages != 20_001 || m.UsageIn != 100 || m.Title != "Renamed outside" || m.LastSeq != last+2 {
		t.Fatalf("meta after outside appends: %+v", m)
	}
	// The listing of a new process takes the later state too.
	ffs := &faultFS{}
	w3, err := Open(dir, &Options{FS: ffs, NoConfig: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w3.Close()
	list, err := w3.List(ctx, ListOptions{})
	if err != nil || len(list) != 1 || list[0].Messages != 20_001 || ffs.readBytes != 0 {
		t.Fatalf("listing: %+v %v, %d bytes read", list, err, ffs.readBytes)
	}
}

// An entry that no longer describes the file is not continued: each row
// changes the file or the entry file after a first Meta saved it, and a
// new process must then give the Meta of a full read.
func TestMetaEntryNotTrusted(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, path, entry string)
	}{
		{"editor rewrote in place, longer", func(t *testing.T, path, _ string) {
			b, _ := os.ReadFile(path)
			b = bytes.Replace(b, []byte("first question"), []byte("first question, edited"), 1)
			b = append(b, `{"type":"message","seq":5,"at":"2026-01-01T00:00:00Z","role":"user","content":"added"}`+"\n"...)
			rewriteInPlace(t, path, b)
		}},
		{"editor saved a new file", func(t *testing.T, path, _ string) {
			b, _ := os.ReadFile(path)
			b = bytes.Replace(b, []byte("first question"), []byte("first question, edited"), 1)
			os.WriteFile(path+".new", b, 0o644)
			os.Rename(path+".new", path)
		}},
		{"file truncated", func(t *testing.T, path, _ string) {
			b, _ := os.ReadFile(path)
			i := bytes.LastIndexByte(b[:len(b)-1], '\n')
			rewriteInPlace(t, path, b[:i+1])
		}},
		{"entry file empty (power loss)", func(t *testing.T, _, entry string) { os.WriteFile(entry, nil, 0o644) }},
		{"entry file torn", func(t *testing.T, _, entry string) {
			b, _ := os.ReadFile(entry)
			os.WriteFile(entry, b[:len(b)/2], 0o644)
		}},
		{"entry file of NULs", func(t *testing.T, _, entry string) { os.WriteFile(entry, make([]byte, 512), 0o644) }},
		{"entry file of an older version", func(t *testing.T, _, entry string) {
			b, _ := os.ReadFile(entry)
			b = bytes.Replace(b, []byte(fmt.Sprintf(`{"version":%d`, metaCacheVersion)), []byte(`{"version":2`), 1)
			os.WriteFile(entry, bytes.ReplaceAll(b, []byte(`"messages":3`), []byte(`"messages":99`)), 0o644)
		}},
		{"entry file of another session", func(t *testing.T, path, entry string) {
			b, _ := os.ReadFile(entry)
			id := strings.TrimSuffix(filepath.Base(path), SessionExt)
			os.WriteFile(entry, bytes.ReplaceAll(b, []byte(id), []byte("sk_v1_"+strings.Repeat("0", 64))), 0o644)
		}},
		{"entry file offset past the end", func(t *testing.T, path, entry string) {
			b, _ := os.ReadFile(entry)
			fi, _ := os.Stat(path)
			os.WriteFile(entry, bytes.Replace(b, []byte(fmt.Sprintf(`"offset":%d`, fi.Size())), []byte(`"offset":99999`), 1), 0o644)
			appendLine(t, path, Record{Type: TypeMessage, Seq: 5, At: time.Now(), Role: RoleUser, Content: "added"})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := openTest(t, &Options{Durability: DurabilityNever, NoConfig: true})
			s := namedSession(t, w, "s")
			mustAppend(t, s, UserMessage("", "first question"), AssistantMessage("", "an answer").WithUsage(10, 2), UserMessage("", "second"))
			dir, id := w.Root(), s.ID()
			metaIn(t, dir, id) // saves the entry file
			entry := filepath.Join(dir, CacheDir, MetaDir, id+".json")
			tc.change(t, s.Path(), entry)
			got, _ := metaIn(t, dir, id)
			os.RemoveAll(filepath.Join(dir, CacheDir))
			want, _ := metaIn(t, dir, id)
			got.Size, want.Size = 0, 0
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
				t.Fatalf("meta from the cache:\n%+v\nfrom the file:\n%+v", got, want)
			}
		})
	}
}

// rewriteInPlace writes b over the file at path without replacing it (the
// same inode), as some editors save.
func rewriteInPlace(t *testing.T, path string, b []byte) {
	t.Helper()
	fi, _ := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	// Make sure the identity changes even within the clock's resolution.
	os.Chtimes(path, time.Now(), fi.ModTime().Add(time.Second))
}

// A listing drops the entry files of sessions no longer live (a new
// session of the same id must not start from one) and temporary files a
// crashed writer left long ago.
func TestListTidiesEntryFiles(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, &Options{NoConfig: true})
	keep, gone := namedSession(t, w, "keep"), namedSession(t, w, "gone")
	mustAppend(t, keep, UserMessage("", "k"))
	mustAppend(t, gone, UserMessage("", "g"))
	metaIn(t, w.Root(), keep.ID())
	metaIn(t, w.Root(), gone.ID())
	dir := filepath.Join(w.Root(), CacheDir, MetaDir)
	oldTmp, newTmp := filepath.Join(dir, keep.ID()+".json.tmp-1-1"), filepath.Join(dir, keep.ID()+".json.tmp-2-2")
	os.WriteFile(oldTmp, []byte("{"), 0o644)
	os.WriteFile(newTmp, []byte("{"), 0o644)
	os.Chtimes(oldTmp, time.Now().Add(-2*time.Hour), time.Now().Add(-2*time.Hour))
	if _, err := gone.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.List(ctx, ListOptions{}); err != nil {
		t.Fatal(err)
	}
	var names []string
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		names = append(names, de.Name())
	}
	if want := []string{keep.ID() + ".json", filepath.Base(newTmp)}; fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("cache/meta holds %v, want %v", names, want)
	}
}

// Processes reading and appending at once each get a Meta of some state
// of the file and never a wrong one, and the last read has everything.
func TestMetaConcurrentProcesses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func() *Workspace {
		w, err := Open(dir, &Options{Durability: DurabilityNever, NoConfig: true})
		if err != nil {
			t.Error(err)
		}
		return w
	}
	w := open()
	defer w.Close()
	s := namedSession(t, w, "busy")
	mustAppend(t, s, AssistantMessage("", "first").WithUsage(1, 1))
	const writers, each = 2, 50
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ww := open()
			defer ww.Close()
			ss, _ := ww.OpenID(s.ID())
			for i := 0; i < each; i++ {
				if _, err := ss.Append(ctx, AssistantMessage("", "r").WithUsage(1, 1)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				rw := open()
				rs, _ := rw.OpenID(s.ID())
				m, err := rs.Meta(ctx)
				if err != nil || m.Messages != m.UsageIn || m.LastSeq != int64(m.Messages)+1 {
					t.Errorf("meta %+v %v", m, err)
				}
				rw.Close()
			}
		}()
	}
	wg.Wait()
	rw := open()
	defer rw.Close()
	rs, _ := rw.OpenID(s.ID())
	if m, err := rs.Meta(ctx); err != nil || m.Messages != writers*each+1 || m.UsageOut != writers*each+1 {
		t.Fatalf("final meta %+v %v", m, err)
	}
}

// keepTail keeps the last metaTailBytes bytes of the lines fed to it,
// newlines included, whatever the lengths of the lines.
func TestKeepTail(t *testing.T) {
	var all, tail []byte
	for i, n := range []int{0, 3, 70, 0, 62, 63, 64, 1, 200, 5, 5, 5} {
		line := bytes.Repeat([]byte{byte('a' + i)}, n)
		all = append(append(all, line...), '\n')
		tail = keepTail(tail, line)
		want := all[max(0, len(all)-metaTailBytes):]
		if !bytes.Equal(tail, want) {
			t.Fatalf("after line %d (%d bytes): %q, want %q", i, n, tail, want)
		}
	}
}
