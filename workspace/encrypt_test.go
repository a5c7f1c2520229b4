package workspace

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace/config"
	"github.com/picosess/picosess/workspace/seal"
)

const secretText = "my blood test results are in: ferritin 12"

func testKey(t testing.TB, b byte) *seal.Key {
	t.Helper()
	k, err := seal.KeyFromBytes(bytes.Repeat([]byte{b}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return &k
}

func encryptedConfig() *config.File {
	return &config.File{Encryption: config.Encryption{Enabled: true}}
}

// openEncrypted opens dir as an encrypted workspace with key (nil: none).
func openEncrypted(t testing.TB, dir string, key *seal.Key) *Workspace {
	t.Helper()
	w, err := Open(dir, &Options{Config: encryptedConfig(), Key: key, Now: fixedClock(), Durability: DurabilityNever})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func TestEncryptedRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := openEncrypted(t, dir, testKey(t, 1))
	s := namedSession(t, w, "health")
	mustAppend(t, s, Record{Type: TypeMessage, Role: RoleUser, Content: secretText, Sender: "alice"},
		AssistantMessage("gpt-5.4", "Low ferritin; see a doctor.").WithUsage(100, 9))
	if _, err := s.SetTitle(ctx, "Blood test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveCheckpoint(ctx, "before-doctor", "what I knew then"); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"ferritin", "alice", "Blood test", "before-doctor", "what I knew"} {
		if bytes.Contains(raw, []byte(leak)) {
			t.Errorf("file holds %q in clear:\n%s", leak, raw)
		}
	}
	if !bytes.Contains(raw, []byte(`"key_id":"`+testKey(t, 1).ID()+`"`)) {
		t.Errorf("header does not name the key:\n%s", raw)
	}
	h, err := s.History(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := contents(h.Messages); len(got) != 2 || got[0] != secretText || h.Messages[0].Sender != "alice" || h.Messages[1].Usage.InputTokens != 100 {
		t.Fatalf("history = %+v", h.Messages)
	}
	cps, err := s.Checkpoints(ctx)
	if err != nil || len(cps) != 1 || cps[0].Name != "before-doctor" {
		t.Fatalf("checkpoints = %+v, %v", cps, err)
	}
	all, err := s.ReadAll(ctx)
	if err != nil || len(all) != 5 || all[3].Text != "Blood test" {
		t.Fatalf("records = %+v, %v", all, err)
	}
	for _, r := range all {
		if r.Sealed != nil {
			t.Fatalf("record %d still sealed", r.Seq)
		}
	}
	// The opened record is exactly what a plaintext workspace writes.
	pw := openTest(t, &Options{Now: fixedClock(), Durability: DurabilityNever})
	ps := namedSession(t, pw, "health")
	mustAppend(t, ps, Record{Type: TypeMessage, Role: RoleUser, Content: secretText, Sender: "alice"})
	plain, _ := ps.ReadAll(ctx)
	a, _ := plain[1].MarshalJSON()
	b, _ := all[1].MarshalJSON()
	if string(a) != string(b) {
		t.Errorf("opened record\n%s\nwant\n%s", b, a)
	}
}

func TestEncryptedWithoutKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := namedSession(t, openEncrypted(t, dir, testKey(t, 1)), "n")
	mustAppend(t, s, msg(RoleUser, secretText))
	before, _ := os.ReadFile(s.Path())

	for name, w := range map[string]*Workspace{
		"missing key": openEncrypted(t, dir, nil),
		"wrong key":   openEncrypted(t, dir, testKey(t, 2)),
	} {
		want := ErrKeyRequired
		if name == "wrong key" {
			want = ErrWrongKey
		}
		s := namedSession(t, w, "n")
		if _, err := s.History(ctx, 10); !errors.Is(err, want) {
			t.Errorf("%s: History err = %v, want %v", name, err, want)
		}
		if _, err := s.ReadAll(ctx); !errors.Is(err, want) {
			t.Errorf("%s: ReadAll err = %v, want %v", name, err, want)
		}
		if _, err := s.Append(ctx, msg(RoleUser, "more")); !errors.Is(err, want) {
			t.Errorf("%s: Append err = %v, want %v", name, err, want)
		}
		// A new session cannot be made with a wrong key or without one.
		if _, err := w.Session(ctx, Target{Name: "other"}); !errors.Is(err, want) {
			t.Errorf("%s: new session err = %v, want %v", name, err, want)
		}
		// Listing works.
		list, err := w.List(ctx, ListOptions{})
		if err != nil || len(list) != 1 || list[0].Messages != 1 {
			t.Errorf("%s: List = %+v, %v", name, list, err)
		}
	}
	after, _ := os.ReadFile(s.Path())
	if !bytes.Equal(before, after) {
		t.Error("a refused append changed the file")
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, SessionsDir)); len(ents) != 2 { // the session and .trash
		t.Errorf("a refused new session left a file: %v", ents)
	}
}

func TestEncryptedRefusesPlaintextSession(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pw, err := Open(dir, &Options{NoConfig: true})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, namedSession(t, pw, "old"), msg(RoleUser, "plain"))
	pw.Close()
	w := openEncrypted(t, dir, testKey(t, 1))
	s := namedSession(t, w, "old")
	if _, err := s.Append(ctx, msg(RoleUser, secretText)); !errors.Is(err, ErrPlaintextSession) {
		t.Fatalf("err = %v", err)
	}
	raw, _ := os.ReadFile(s.Path())
	if strings.Contains(string(raw), "ferritin") {
		t.Fatal("plaintext written")
	}
	// Reading the plaintext session still works.
	if h, err := s.History(ctx, 0); err != nil || len(h.Messages) != 1 {
		t.Fatalf("history = %+v, %v", h, err)
	}
}

// Listings show the titles of encrypted sessions with the key (opened from
// the file, never cached), none without it.
func TestEncryptedTitles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := openEncrypted(t, dir, testKey(t, 1))
	a, b := namedSession(t, w, "a"), namedSession(t, w, "b")
	mustAppend(t, a, msg(RoleUser, "first words of a"))
	mustAppend(t, b, msg(RoleUser, "first words of b"))
	if _, err := b.SetTitle(ctx, "Title of b"); err != nil {
		t.Fatal(err)
	}
	list, err := w.List(ctx, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	titles := map[string]string{}
	for _, m := range list {
		titles[m.Name] = m.Title
		if !m.Encrypted {
			t.Errorf("%s not marked encrypted", m.Name)
		}
	}
	if titles["a"] != "first words of a" || titles["b"] != "Title of b" {
		t.Fatalf("titles = %v", titles)
	}
	if m, _ := b.Meta(ctx); m.Title != "Title of b" {
		t.Fatalf("Meta title = %q", m.Title)
	}
	assertNoPlaintext(t, dir, "words of")
	assertNoPlaintext(t, dir, "Title of")
	nk := openEncrypted(t, dir, nil)
	list, _ = nk.List(ctx, ListOptions{})
	for _, m := range list {
		if m.Title != "" {
			t.Errorf("title without the key: %q", m.Title)
		}
	}
}

// Cleanup works without the key: a checkpoint of an encrypted session
// keeps it (keep_checkpoints), found from the clear fields.
func TestEncryptedCleanupWithoutKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := openEncrypted(t, dir, testKey(t, 1))
	kept, gone := namedSession(t, w, "kept"), namedSession(t, w, "gone")
	mustAppend(t, kept, msg(RoleUser, "x"))
	mustAppend(t, gone, msg(RoleUser, "y"))
	if _, err := kept.SaveCheckpoint(ctx, "cp", ""); err != nil {
		t.Fatal(err)
	}
	later := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	nk, err := Open(dir, &Options{Config: encryptedConfig(), Now: func() time.Time { return later }})
	if err != nil {
		t.Fatal(err)
	}
	defer nk.Close()
	rep, err := nk.Cleanup(ctx, CleanupOptions{OlderThan: time.Hour, KeepCheckpoints: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(kept.Path()); err != nil {
		t.Errorf("the session with a checkpoint was cleaned up: %+v", rep)
	}
	if _, err := os.Stat(gone.Path()); err == nil {
		t.Errorf("the other session stayed: %+v", rep)
	}
}
