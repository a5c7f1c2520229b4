package workspace

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
)

// writeSessionFile writes a session of n short messages directly (fast),
// in the format the package writes.
func writeSessionFile(t testing.TB, w *Workspace, name string, n int) *Session {
	t.Helper()
	s := namedSession(t, w, name)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var buf []byte
	for i := 0; i < n; i++ {
		role := RoleUser
		if i%2 == 1 {
			role = RoleAssistant
		}
		r := Record{Type: TypeMessage, Seq: int64(i + 2), At: at.Add(time.Duration(i) * time.Second), Role: role,
			Content: fmt.Sprintf("message %d with some text to make the line a realistic length for a chat", i), Tokens: 20}
		buf, _ = appendRecord(buf, &r)
		buf = append(buf, '\n')
		if len(buf) > 1<<20 {
			appendRawLines(t, s, buf)
			buf = buf[:0]
		}
	}
	appendRawLines(t, s, buf)
	return s
}

func TestHistoryFold(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)

	t.Run("reset starts a new conversation", func(t *testing.T) {
		s := namedSession(t, w, "reset")
		mustAppend(t, s, msg(RoleUser, "a"), msg(RoleAssistant, "b"))
		if _, err := s.Reset(ctx, ""); err != nil {
			t.Fatal(err)
		}
		mustAppend(t, s, msg(RoleUser, "c"))
		h, err := s.History(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := contents(h.Messages); !slices.Equal(got, []string{"c"}) {
			t.Fatalf("active history %q, want [c]", got)
		}
		segs, _ := s.Segments(ctx)
		if len(segs) != 2 || !slices.Equal(contents(segs[0].Messages()), []string{"a", "b"}) || segs[1].Reset.Reason != ReasonManual {
			t.Fatalf("segments: %+v", segs)
		}
	})

	t.Run("summary stands in for what it covers", func(t *testing.T) {
		s := namedSession(t, w, "summary")
		seqs := mustAppend(t, s, msg(RoleUser, "1"), msg(RoleAssistant, "2"), msg(RoleUser, "3"))
		mustAppend(t, s, Record{Type: TypeSummary, Through: seqs[1], Text: "they said 1 and 2", By: "test"})
		mustAppend(t, s, msg(RoleAssistant, "4"))
		h, _ := s.History(ctx, 0)
		if h.Summary == nil || h.Summary.Text != "they said 1 and 2" || !slices.Equal(contents(h.Messages), []string{"3", "4"}) {
			t.Fatalf("history %+v", h)
		}
		if h.Summary.Tokens == 0 {
			t.Fatal("summary tokens not counted")
		}
	})

	t.Run("restore brings back the checkpoint's history", func(t *testing.T) {
		s := namedSession(t, w, "restore")
		mustAppend(t, s, msg(RoleUser, "keep1"), msg(RoleAssistant, "keep2"))
		cp, err := s.SaveCheckpoint(ctx, "good", "before the detour")
		if err != nil {
			t.Fatal(err)
		}
		mustAppend(t, s, msg(RoleUser, "detour"))
		if _, err := s.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		mustAppend(t, s, msg(RoleUser, "after clear"))
		if _, err := s.RestoreCheckpoint(ctx, "good"); err != nil {
			t.Fatal(err)
		}
		mustAppend(t, s, msg(RoleUser, "continued"))
		h, _ := s.History(ctx, 0)
		if got := contents(h.Messages); !slices.Equal(got, []string{"keep1", "keep2", "continued"}) {
			t.Fatalf("active history %q", got)
		}
		if cp.Through != 3 {
			t.Fatalf("checkpoint through %d, want 3", cp.Through)
		}
		// Restoring by seq works too, and nothing was removed from disk.
		if _, err := s.RestoreCheckpoint(ctx, fmt.Sprint(cp.Seq)); err != nil {
			t.Fatal(err)
		}
		all, _ := s.ReadAll(ctx)
		var n int
		for _, r := range all {
			if r.Type == TypeMessage {
				n++
			}
		}
		if n != 5 {
			t.Fatalf("%d messages on disk, want 5", n)
		}
	})

	t.Run("limit keeps the newest and says there is more", func(t *testing.T) {
		s := namedSession(t, w, "limit")
		for i := 0; i < 10; i++ {
			mustAppend(t, s, msg(RoleUser, fmt.Sprint(i)))
		}
		h, _ := s.History(ctx, 3)
		if !slices.Equal(contents(h.Messages), []string{"7", "8", "9"}) || !h.More || h.LastSeq != 11 {
			t.Fatalf("history %+v", h)
		}
		h, _ = s.History(ctx, 10)
		if len(h.Messages) != 10 || h.More {
			t.Fatalf("limit equal to size: %d messages, more=%v", len(h.Messages), h.More)
		}
	})

	t.Run("restore far back in a long file", func(t *testing.T) {
		s := writeSessionFile(t, w, "farback", 3000)
		cp, err := s.SaveCheckpoint(ctx, "mid", "")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2000; i++ {
			mustAppend(t, s, msg(RoleUser, "later"))
		}
		if _, err := s.RestoreCheckpoint(ctx, "mid"); err != nil {
			t.Fatal(err)
		}
		h, _ := s.History(ctx, 2)
		if len(h.Messages) != 2 || h.Messages[1].Seq != cp.Through {
			t.Fatalf("after restore: %+v", h.Messages)
		}
	})
}

// The last 50 messages of a 100 000-message session are read from the
// tail: a tiny part of the file.
func TestHistoryReadsOnlyTheTail(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 15 MB file")
	}
	ffs := &faultFS{}
	w := openTest(t, &Options{FS: ffs})
	s := writeSessionFile(t, w, "long", 100_000)
	fi, _ := os.Stat(s.Path())
	ffs.readBytes = 0
	h, err := s.History(context.Background(), 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != 50 || h.Messages[49].Seq != 100_001 || !h.More {
		t.Fatalf("got %d messages, last seq %d", len(h.Messages), h.Messages[len(h.Messages)-1].Seq)
	}
	if ffs.readBytes > 64<<10 {
		t.Fatalf("read %d bytes of a %d-byte file for 50 messages", ffs.readBytes, fi.Size())
	}
	t.Logf("read %d of %d bytes", ffs.readBytes, fi.Size())
}
