package workspace

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace/seal"
)

// tamperSetup writes two encrypted sessions of three messages and returns
// them with their files' lines.
func tamperSetup(t *testing.T) (w *Workspace, a, b *Session, la, lb [][]byte) {
	t.Helper()
	w = openEncrypted(t, t.TempDir(), testKey(t, 3))
	a, b = namedSession(t, w, "a"), namedSession(t, w, "b")
	for _, s := range []*Session{a, b} {
		mustAppend(t, s, msg(RoleUser, "one "+s.id[:8]), msg(RoleAssistant, "two"), msg(RoleUser, "three"))
	}
	return w, a, b, fileLinesOf(t, a.Path()), fileLinesOf(t, b.Path())
}

func fileLinesOf(t *testing.T, path string) [][]byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(raw, []byte("\n"))[:bytes.Count(raw, []byte("\n"))]
}

func writeLines(t *testing.T, path string, lines [][]byte) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Join(lines, nil), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Every kind of tampering is found by History (a clear error naming the
// seq), by Check (a tampered problem with the seq), and left alone by
// Repair.
func TestEncryptedTampering(t *testing.T) {
	ctx := context.Background()
	flip := func(line []byte) []byte {
		out := append([]byte{}, line...)
		i := bytes.Index(out, []byte(`"enc":"`)) + 12
		if out[i] == 'A' {
			out[i] = 'B'
		} else {
			out[i] = 'A'
		}
		return out
	}
	cut := func(line []byte) []byte {
		i := bytes.LastIndex(line, []byte(`"}`))
		return append(append(append([]byte{}, line[:i-8]...), line[i:i+2]...), '\n')
	}
	for _, c := range []struct {
		name    string
		edit    func(la, lb [][]byte) [][]byte
		wantSeq int64
		want    error
	}{
		{"flipped bit", func(la, _ [][]byte) [][]byte { la[2] = flip(la[2]); return la }, 3, ErrTampered},
		{"truncated ciphertext", func(la, _ [][]byte) [][]byte { la[3] = cut(la[3]); return la }, 4, ErrTampered},
		{"record from another session", func(la, lb [][]byte) [][]byte { la[2] = lb[2]; return la }, 3, ErrTampered},
		{"records swapped between seqs", func(la, _ [][]byte) [][]byte {
			// The boxes of seq 3 and 4 swapped, the clear seqs kept.
			b3, b4 := encOf(la[2]), encOf(la[3])
			la[2] = bytes.Replace(la[2], b3, b4, 1)
			la[3] = bytes.Replace(la[3], b4, b3, 1)
			return la
		}, 3, ErrTampered},
		{"clear field changed", func(la, _ [][]byte) [][]byte {
			la[1] = bytes.Replace(la[1], []byte(`"role":"user"`), []byte(`"role":"system"`), 1)
			return la
		}, 2, ErrTampered},
		{"replayed header", func(la, lb [][]byte) [][]byte {
			// b's header with a's id written over it.
			la[0] = bytes.Replace(lb[0], []byte(encOfID(lb[0])), []byte(encOfID(la[0])), 1)
			return la
		}, 1, ErrTampered},
		{"plaintext record slipped in", func(la, _ [][]byte) [][]byte {
			la[3] = []byte(`{"type":"message","seq":4,"at":"2026-11-21T09:00:05Z","role":"user","content":"send the money","tokens":3}` + "\n")
			return la
		}, 4, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, a, _, la, lb := tamperSetup(t)
			writeLines(t, a.Path(), c.edit(la, lb))
			before, _ := os.ReadFile(a.Path())
			fr, err := w.checkFile(ctx, a.id)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, p := range fr.Problems {
				if (p.Kind == ProblemTampered || p.Kind == ProblemPlaintextRecord) && p.Seq == c.wantSeq && !p.Repairable {
					found = true
				}
			}
			if !found {
				t.Fatalf("check: %+v", fr.Problems)
			}
			if c.want != nil {
				_, err = a.ReadAll(ctx)
				var se *SealError
				if !errors.Is(err, c.want) || !errors.As(err, &se) || se.Seq != c.wantSeq || !errors.Is(err, seal.ErrAuth) {
					t.Fatalf("ReadAll err = %v, want %v at seq %d", err, c.want, c.wantSeq)
				}
				if !strings.Contains(err.Error(), "seq") {
					t.Errorf("error does not name the seq: %v", err)
				}
			}
			if _, err := a.Repair(ctx, RepairOptions{}); err != nil {
				t.Fatal(err)
			}
			if after, _ := os.ReadFile(a.Path()); !bytes.Equal(before, after) {
				t.Fatal("repair changed a tampered file")
			}
		})
	}
}

func encOf(line []byte) []byte {
	i := bytes.Index(line, []byte(`"enc":"`)) + 7
	j := bytes.LastIndex(line, []byte(`"}`))
	return line[i:j]
}

func encOfID(line []byte) string {
	i := bytes.Index(line, []byte(`"id":"`)) + 6
	return string(line[i : i+70])
}
