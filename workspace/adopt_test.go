package workspace

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/keying"
)

const legacyDM = "agent:main:discord:direct:555"

// discordDM is the inbound of the user 555 writing to the bot in a Discord
// DM channel: the new route's id is not the legacy key's, but the route
// lists the legacy key among its aliases.
func discordDM() keying.Inbound {
	return keying.Inbound{Channel: "discord", ChatType: "direct", ChatID: "dm-channel-9", SenderID: "555"}
}

// importLegacy writes a session as the migrator does for a key it cannot
// map: id LegacyHash(key), an origin, the key as alias. Its history has a
// reset, a summary, a checkpoint and a restore, so references must follow
// the records when they move.
func importLegacy(t *testing.T, w *Workspace, key string) (*Session, []Record) {
	t.Helper()
	ctx := context.Background()
	s, err := w.Session(ctx, Target{ID: keying.LegacyHash(key), Aliases: []string{key},
		Origin: json.RawMessage(`{"source":"picoclaw","path":"sessions/x.jsonl"}`)})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	m := func(role, text string) Record {
		at = at.Add(time.Minute)
		r := msg(role, text)
		r.At = at
		return r
	}
	// seqs: 2 old, 3 reset, 4..7 messages, 8 summary through 5, 9
	// checkpoint through 7, 10 message, 11 restore of 9, 12 message
	recs := []Record{
		m(RoleUser, "an older conversation"),
		{Type: TypeReset, At: at, Reason: ReasonImported},
		m(RoleUser, "hello from discord"), m(RoleAssistant, "hi there"), m(RoleUser, "ok"), m(RoleAssistant, "ok"),
		{Type: TypeSummary, At: at, Through: 5, Text: "they greeted each other"},
		{Type: TypeCheckpoint, At: at, Name: "before", Through: 7},
		m(RoleUser, "a detour"),
		{Type: TypeRestore, At: at, Checkpoint: 9},
		m(RoleUser, "the last imported message"),
	}
	if _, err := s.AppendIf(ctx, func(History) error { return nil }, recs...); err != nil {
		t.Fatal(err)
	}
	all, err := s.ReadAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s, all
}

func TestRouteAdoptsImportedConversation(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	old, before := importLegacy(t, w, legacyDM)
	oldHist, err := old.History(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := w.Route("", discordDM())
	if err != nil {
		t.Fatal(err)
	}
	if r.ID == old.ID() || !slices.Contains(r.Aliases, legacyDM) {
		t.Fatalf("the test needs a route with another id that lists %s: %+v", legacyDM, r)
	}
	s, err := w.SessionFor(ctx, "", discordDM())
	if err != nil {
		t.Fatal(err)
	}
	if s.ID() != r.ID {
		t.Fatalf("session %s, want the route's %s", s.ID(), r.ID)
	}
	after, err := s.ReadAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before)+1 {
		t.Fatalf("%d records, want %d (header, aliases, the %d moved)", len(after), len(before)+1, len(before)-1)
	}
	if h := after[0]; h.Type != TypeSession || h.Scope == nil || !h.At.Equal(before[0].At) {
		t.Fatalf("header %+v: want the route's scope, dated when the imported conversation began", h)
	}
	a := after[1]
	if a.Type != TypeAliases || a.Continues != old.ID() || a.Moved != int64(len(before)-1) || !slices.Contains(a.Aliases, legacyDM) {
		t.Fatalf("aliases record %+v", a)
	}
	for i, want := range before[1:] {
		got := after[i+2]
		if got.Seq != want.Seq+1 || got.Type != want.Type || got.Content != want.Content || got.Role != want.Role || !got.At.Equal(want.At) {
			t.Fatalf("record %d: got %+v, want %+v moved one seq up", i, got, want)
		}
		for _, ref := range [][2]int64{{got.Through, want.Through}, {got.Checkpoint, want.Checkpoint}} {
			if ref[1] != 0 && ref[0] != ref[1]+1 {
				t.Fatalf("record %d: reference %d, want %d", got.Seq, ref[0], ref[1]+1)
			}
		}
	}
	hist, err := s.History(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist.Messages) != len(oldHist.Messages) || hist.Summary == nil || hist.Summary.Text != oldHist.Summary.Text {
		t.Fatalf("active history %+v, want the imported one %+v", hist, oldHist)
	}
	for i := range hist.Messages {
		if hist.Messages[i].Content != oldHist.Messages[i].Content {
			t.Fatalf("message %d: %q, want %q", i, hist.Messages[i].Content, oldHist.Messages[i].Content)
		}
	}
	// The imported file is in the trash, whole; the legacy key finds the
	// new session.
	if _, err := w.OpenID(old.ID()); err == nil {
		t.Fatal("the imported session is still live: its messages would be searched and exported twice")
	}
	tr, ok := w.InTrash(ctx, old.ID())
	if !ok {
		t.Fatal("the imported session is not in the trash")
	}
	f, err := w.fs.OpenFile(filepath.Join(w.trashDir(), tr.Name), os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil || strings.Count(string(b), "\n") != len(before) {
		t.Fatalf("trash copy: %d lines, %v", strings.Count(string(b), "\n"), err)
	}
	found, err := w.Lookup(ctx, legacyDM)
	if err != nil || found.ID() != s.ID() {
		t.Fatalf("lookup %s: %v %v", legacyDM, found, err)
	}
	// The next message goes on in the same session; routing again moves
	// nothing.
	if _, err := s.AppendTurn(ctx, UserMessage("555", "I am back")); err != nil {
		t.Fatal(err)
	}
	again, err := w.SessionFor(ctx, "", discordDM())
	if err != nil || again.ID() != s.ID() {
		t.Fatal(again, err)
	}
	final, _ := again.ReadAll(ctx)
	if n := len(final); n != len(after)+1 || final[n-1].Content != "I am back" {
		t.Fatalf("after a turn: %d records, last %+v", n, final[n-1])
	}
	rep, err := w.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Files {
		if len(f.Problems) > 0 {
			t.Fatalf("check after adoption: %s: %+v", f.ID, f.Problems)
		}
	}
}

// Nothing is moved when two imported sessions answer to the route (the dm
// and direct spellings kept apart), nor from a session the migrator did not
// write (no origin): the route gets a new session and the others stay.
func TestRouteDoesNotAdoptAmbiguousOrForeign(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func(*testing.T, *Workspace) []string
	}{
		{"two spellings", func(t *testing.T, w *Workspace) []string {
			a, _ := importLegacy(t, w, legacyDM)
			b, _ := importLegacy(t, w, strings.Replace(legacyDM, ":direct:", ":dm:", 1))
			return []string{a.ID(), b.ID()}
		}},
		{"not imported", func(t *testing.T, w *Workspace) []string {
			s, err := w.Session(ctx, Target{ID: keying.LegacyHash(legacyDM), Aliases: []string{legacyDM}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Append(ctx, msg(RoleUser, "typed by hand")); err != nil {
				t.Fatal(err)
			}
			return []string{s.ID()}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := openTest(t, nil)
			keep := tc.setup(t, w)
			s, err := w.SessionFor(ctx, "", discordDM())
			if err != nil {
				t.Fatal(err)
			}
			recs, _ := s.ReadAll(ctx)
			for _, r := range recs {
				if r.Type == TypeMessage || r.Continues != "" {
					t.Fatalf("new session got %+v", r)
				}
			}
			for _, id := range keep {
				if _, err := w.OpenID(id); err != nil {
					t.Fatalf("%s: %v", id, err)
				}
			}
		})
	}
}

// Four processes route the first message of the same person at the same
// moment: one of them moves the imported conversation, every imported
// record is in the new session once, and each process's message is there.
func TestRouteAdoptionFromConcurrentProcesses(t *testing.T) {
	w := openTest(t, nil)
	_, before := importLegacy(t, w, legacyDM)
	start := time.Now().Add(300 * time.Millisecond).UnixMilli()
	var cmds []interface{ Wait() error }
	for i := 0; i < 4; i++ {
		c := helperCmd(t, fmt.Sprintf("route %s %d p%d", w.Root(), start, i))
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	s, err := w.SessionFor(context.Background(), "", discordDM())
	if err != nil {
		t.Fatal(err)
	}
	recs, err := s.ReadAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	moved := 0
	for _, r := range recs {
		if r.Type == TypeMessage {
			count[r.Content]++
		}
		if r.Moved > 0 {
			moved++
		}
	}
	if moved != 1 {
		t.Fatalf("%d moves, want 1", moved)
	}
	for _, r := range before {
		if r.Type == TypeMessage && count[r.Content] != countContent(before, r.Content) {
			t.Fatalf("%q: %d times, want %d", r.Content, count[r.Content], countContent(before, r.Content))
		}
	}
	for i := 0; i < 4; i++ {
		if count["from p"+strconv.Itoa(i)] != 1 {
			t.Fatalf("message of process %d: %d times", i, count["from p"+strconv.Itoa(i)])
		}
	}
}

func countContent(recs []Record, content string) int {
	n := 0
	for _, r := range recs {
		if r.Type == TypeMessage && r.Content == content {
			n++
		}
	}
	return n
}

// routeHelper: route ROOT START TAG: wait until START (unix ms), route the
// Discord DM and append "from TAG" as a turn.
func routeHelper(args []string) error {
	ctx := context.Background()
	w, err := Open(args[1], &Options{Durability: DurabilityNever, LockTimeout: time.Minute, CountTokens: EstimateTokens})
	if err != nil {
		return err
	}
	start, _ := strconv.ParseInt(args[2], 10, 64)
	time.Sleep(time.Until(time.UnixMilli(start)))
	s, err := w.SessionFor(ctx, "", discordDM())
	if err != nil {
		return err
	}
	_, err = s.AppendTurn(ctx, UserMessage("555", "from "+args[3]))
	return err
}

// A crash between the copy and the move to the trash leaves the imported
// session live beside the one that holds its records: check says so, and
// repair finishes the move, unless the old session got records since
// (they are in no other file: it stays).
func TestRepairFinishesAnInterruptedMove(t *testing.T) {
	ctx := context.Background()
	for _, appendedSince := range []bool{false, true} {
		t.Run(fmt.Sprintf("appended since %v", appendedSince), func(t *testing.T) {
			w := openTest(t, nil)
			old, before := importLegacy(t, w, legacyDM)
			r, err := w.Route("", discordDM())
			if err != nil {
				t.Fatal(err)
			}
			sc := r.Scope
			to, err := w.handle(Target{ID: r.ID, Scope: &sc, Aliases: r.Aliases})
			if err != nil {
				t.Fatal(err)
			}
			moved, err := movedRecords(old.ID(), before[0], before[1:])
			if err != nil {
				t.Fatal(err)
			}
			// the adoption's write, without the move to the trash
			if _, err := to.AppendIf(ctx, func(History) error { return nil }, moved...); err != nil {
				t.Fatal(err)
			}
			if appendedSince {
				if _, err := old.Append(ctx, msg(RoleUser, "written to the old key after the crash")); err != nil {
					t.Fatal(err)
				}
			}
			fr, err := to.Check(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(fr.Problems) != 1 || fr.Problems[0].Kind != ProblemUnfinishedMove || !strings.Contains(fr.Problems[0].Hint, old.ID()) {
				t.Fatalf("check: %+v", fr.Problems)
			}
			dry, err := w.Repair(ctx, RepairOptions{DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.OpenID(old.ID()); err != nil {
				t.Fatal("a dry run moved it")
			}
			rep, err := w.Repair(ctx, RepairOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, live := w.OpenID(old.ID())
			if appendedSince {
				if live != nil || len(rep.Trashed) != 0 || len(dry.Trashed) != 0 {
					t.Fatalf("the old session had a record of its own and was trashed: %v %+v", live, rep)
				}
				return
			}
			if live == nil || !slices.Equal(rep.Trashed, []string{old.ID()}) || !slices.Equal(dry.Trashed, rep.Trashed) {
				t.Fatalf("not trashed: %v %+v (dry run %+v)", live, rep, dry)
			}
			if fr, _ := to.Check(ctx); len(fr.Problems) != 0 {
				t.Fatalf("after repair: %+v", fr.Problems)
			}
		})
	}
}
