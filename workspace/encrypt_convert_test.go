package workspace

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writePlainWorkspace fills dir with two plaintext sessions (one with a
// tool call, a title, a summary and a checkpoint) and one in the trash.
func writePlainWorkspace(t *testing.T, dir string) []*Session {
	t.Helper()
	ctx := context.Background()
	w, err := Open(dir, &Options{NoConfig: true, Now: fixedClock(), Durability: DurabilityNever})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	a := namedSession(t, w, "a")
	mustAppend(t, a, Record{Type: TypeMessage, Role: RoleUser, Content: secretText, Sender: "alice"},
		Record{Type: TypeMessage, Role: RoleAssistant, ToolCalls: []byte(`[{"id":"call_1","type":"function","function":{"name":"read_file","arguments":"{\"path\":\"labs.txt\"}"}}]`)},
		Record{Type: TypeMessage, Role: RoleTool, Content: "ferritin 12", ToolCallID: "call_1", ToolName: "read_file"})
	if _, err := a.SetTitle(ctx, "ferritin"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetSummary(ctx, "talked about ferritin", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SaveCheckpoint(ctx, "ferritin-cp", "ferritin desc"); err != nil {
		t.Fatal(err)
	}
	b := namedSession(t, w, "b")
	mustAppend(t, b, msg(RoleUser, "hello"))
	gone := namedSession(t, w, "gone")
	mustAppend(t, gone, msg(RoleUser, "ferritin in the trash"))
	if _, err := gone.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.List(ctx, ListOptions{}); err != nil { // fills the cache
		t.Fatal(err)
	}
	return []*Session{a, b}
}

func TestConvertRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	plain := writePlainWorkspace(t, dir)
	before := map[string][]byte{}
	for _, s := range plain {
		before[s.id], _ = os.ReadFile(s.Path())
	}
	key := testKey(t, 7)
	w := openEncrypted(t, dir, key)
	rep, err := w.Convert(ctx, ConvertOptions{To: key})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sessions) != 2 || rep.Messages != 4 {
		t.Fatalf("report = %+v", rep)
	}
	assertNoPlaintext(t, dir, "ferritin")
	// With the key, everything reads as before.
	h, err := namedSession(t, w, "a").History(ctx, 0)
	if err != nil || h.Summary == nil || h.Summary.Text != "talked about ferritin" {
		t.Fatalf("history = %+v, %v", h, err)
	}
	// A second run changes nothing.
	rep, err = w.Convert(ctx, ConvertOptions{To: key})
	if err != nil || rep.Messages != 0 {
		t.Fatalf("second run: %+v, %v", rep, err)
	}
	// Appends work, sealed.
	mustAppend(t, namedSession(t, w, "b"), msg(RoleUser, "ferritin again"))
	assertNoPlaintext(t, dir, "ferritin")
	// Rekey, then decrypt: the original bytes come back.
	key2 := testKey(t, 8)
	if _, err := w.Convert(ctx, ConvertOptions{To: key2}); err != nil {
		t.Fatal(err)
	}
	w2, err := Open(dir, &Options{NoConfig: true, Key: key2})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if _, err := w2.Convert(ctx, ConvertOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range plain {
		got, _ := os.ReadFile(s.Path())
		if s.id == plain[1].id {
			got = got[:len(before[s.id])]
		}
		if !bytes.Equal(got, before[s.id]) {
			t.Errorf("%s after encrypt, rekey, decrypt:\n%s\nwant\n%s", s.id, got, before[s.id])
		}
	}
}

// assertNoPlaintext fails if word appears in any file under dir.
func assertNoPlaintext(t *testing.T, dir, word string) {
	t.Helper()
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(path)
		if bytes.Contains(bytes.ToLower(b), []byte(strings.ToLower(word))) {
			t.Errorf("%s holds %q in clear", path, word)
		}
		return nil
	})
}

func TestConvertRefusesDamage(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	plain := writePlainWorkspace(t, dir)
	f, _ := os.OpenFile(plain[1].Path(), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"type":"message","seq":3,"at":"2026-`)
	f.Close()
	key := testKey(t, 7)
	w := openEncrypted(t, dir, key)
	rep, err := w.Convert(ctx, ConvertOptions{To: key, KeepPlaintext: true})
	if !errors.Is(err, ErrConvert) || len(rep.Failed) != 1 || !strings.Contains(rep.Failed[plain[1].id], "repair") {
		t.Fatalf("err = %v, report = %+v", err, rep)
	}
	if len(rep.Sessions) != 1 {
		t.Fatalf("the sound session was not converted: %+v", rep)
	}
}

// A rekey killed half-way leaves sessions under either key; the rerun
// (workspace opened with the old key) converts the rest and skips those
// already under the new one.
func TestRekeyResumes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k1, k2 := testKey(t, 1), testKey(t, 2)
	w1 := openEncrypted(t, dir, k1)
	mustAppend(t, namedSession(t, w1, "a"), msg(RoleUser, "a"))
	mustAppend(t, namedSession(t, w1, "b"), msg(RoleUser, "b"))
	// As if killed after the first session: b alone under k2.
	b := namedSession(t, w1, "b")
	if _, err := b.convert(ctx, k2); err != nil {
		t.Fatal(err)
	}
	rep, err := w1.Convert(ctx, ConvertOptions{To: k2})
	if err != nil || len(rep.Sessions) != 2 || rep.Messages != 1 {
		t.Fatalf("resumed rekey: %+v, %v", rep, err)
	}
	w2 := openEncrypted(t, dir, k2)
	for _, name := range []string{"a", "b"} {
		recs, err := namedSession(t, w2, name).ReadAll(ctx)
		if err != nil || recs[1].Content != name {
			t.Fatalf("%s under the new key: %+v, %v", name, recs, err)
		}
	}
	// Without any key, decrypt stops at once with key_required.
	if _, err := openEncrypted(t, dir, nil).Convert(ctx, ConvertOptions{}); !errors.Is(err, ErrKeyRequired) {
		t.Fatalf("decrypt without a key: %v", err)
	}
}
