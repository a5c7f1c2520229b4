package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/picosess/picosess/workspace"
)

// seedSession appends messages to a named session with records stamped at.
func seedSession(t testing.TB, w *workspace.Workspace, name string, at time.Time, contents ...string) *workspace.Session {
	t.Helper()
	ctx := context.Background()
	s, err := w.Session(ctx, workspace.Target{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range contents {
		role := workspace.RoleUser
		if i%2 == 1 {
			role = workspace.RoleAssistant
		}
		if _, err := s.Append(ctx, workspace.Record{Type: workspace.TypeMessage, Role: role, Content: c, At: at.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestLs(t *testing.T) {
	ws := t.TempDir()
	w, err := workspace.Open(ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	seedSession(t, w, "old", now.Add(-30*24*time.Hour), "ancient question", "ancient answer")
	seedSession(t, w, "mid", now.Add(-3*time.Hour), "middle")
	w.Close()
	mustRun(t, "--workspace", ws, "append", "--channel", "telegram", "--chat", "123456789", "--sender", "123456789", "--role", "user", "--content", "newest")

	var list []lsEntry
	out := mustRun(t, "--workspace", ws, "ls", "--json")
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err, out)
	}
	if len(list) != 3 || list[0].ID != telegramDM || list[1].Name != "mid" || list[2].Name != "old" {
		t.Fatalf("ls --json not newest first: %+v", list)
	}
	if list[2].Title != "ancient question" || list[2].Messages != 2 || list[0].Channel != "telegram" || list[0].Aliases == nil {
		t.Fatalf("entry fields: %+v", list)
	}
	for _, tt := range []struct {
		args []string
		want []string // titles, in order
	}{
		{[]string{"--limit", "2"}, []string{"newest", "middle"}},
		{[]string{"--channel", "telegram"}, []string{"newest"}},
		{[]string{"--since", "7d"}, []string{"newest", "middle"}},
		{[]string{"--since", "1h"}, []string{"newest"}},
		{[]string{"--agent", "other"}, nil},
	} {
		out := mustRun(t, append([]string{"--workspace", ws, "ls", "--json"}, tt.args...)...)
		var got []lsEntry
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		var titles []string
		for _, e := range got {
			titles = append(titles, e.Title)
		}
		if strings.Join(titles, "|") != strings.Join(tt.want, "|") {
			t.Errorf("ls %v = %v, want %v", tt.args, titles, tt.want)
		}
		if got == nil {
			t.Errorf("ls %v: --json must print [] when nothing matches, got %q", tt.args, out)
		}
	}
	// Not a terminal: the plain table, short ids that show accepts.
	out = mustRun(t, "--workspace", ws, "ls")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "UPDATED") || !strings.Contains(lines[1], shortID(telegramDM)) ||
		!strings.Contains(lines[3], "name:old") || strings.Contains(out, "Today") {
		t.Fatalf("plain table:\n%s", out)
	}
	if got := mustRun(t, "--workspace", ws, "show", shortID(telegramDM)); !strings.Contains(got, "newest") {
		t.Fatalf("the short id of ls does not work with show:\n%s", got)
	}
}

func TestLsErrors(t *testing.T) {
	ws := t.TempDir()
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"ls"}, exitNotWS, "has no sessions/ directory"},
	} {
		_, errOut, code := runCLI(t, append([]string{"--workspace", ws}, tt.args...)...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, %q", tt.args, code, errOut)
		}
	}
	mustRun(t, "--workspace", ws, "append", "--session", "x", "--role", "user", "--content", "c")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"ls", "--limit", "-1"}, "--limit -1: want 0 (all) or more"},
		{[]string{"ls", "--since", "-5m"}, `--since "-5m": want a duration back from now`},
		{[]string{"ls", "--since", "tomorrow"}, `--since "tomorrow"`},
		{[]string{"ls", "--limit", "ten"}, `invalid argument "ten"`},
		{[]string{"ls", "extra"}, `unknown command "extra"`},
	} {
		_, errOut, code := runCLI(t, append([]string{"--workspace", ws}, tt.args...)...)
		if code != 1 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want 1 and %q", tt.args, code, errOut, tt.want)
		}
	}
}

func TestLsGroups(t *testing.T) {
	loc := time.FixedZone("X", 2*3600)
	now := time.Date(2026, 3, 18, 10, 0, 0, 0, loc) // a Wednesday
	for _, tt := range []struct {
		t    time.Time
		want string
	}{
		{now, "Today"},
		{time.Date(2026, 3, 18, 0, 0, 0, 0, loc), "Today"},
		{time.Date(2026, 3, 17, 23, 59, 0, 0, loc), "Yesterday"},
		{time.Date(2026, 3, 17, 0, 0, 0, 0, loc), "Yesterday"},
		{time.Date(2026, 3, 16, 23, 0, 0, 0, loc), "This Week"},
		{time.Date(2026, 3, 10, 0, 0, 0, 0, loc), "This Week"},
		{time.Date(2026, 3, 9, 23, 0, 0, 0, loc), "Older"},
		// 23:30 UTC on the 17th is 01:30 on the 18th in loc: today.
		{time.Date(2026, 3, 17, 23, 30, 0, 0, time.UTC), "Today"},
	} {
		if got := lsGroup(tt.t, now); got != tt.want {
			t.Errorf("lsGroup(%v) = %s, want %s", tt.t, got, tt.want)
		}
	}
	list := []workspace.Meta{
		{ID: telegramDM, Title: "a", Channel: "telegram", Updated: now.Add(-time.Hour), Messages: 3},
		{ID: "sk_v1_" + strings.Repeat("b", 64), Title: "b", Name: "proj", Updated: now.Add(-20 * time.Hour)},
		{ID: "sk_v1_" + strings.Repeat("c", 64), Title: "c", Channel: "slack", Updated: now.Add(-100 * 24 * time.Hour)},
	}
	var b strings.Builder
	if err := writeLsGrouped(&b, list, now, plainTerm()); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	iToday, iYest, iOld := strings.Index(got, "\nToday\n"), strings.Index(got, "\nYesterday\n"), strings.Index(got, "\nOlder\n")
	if !strings.HasPrefix(got, "  UPDATED") || iToday < 0 || iYest < iToday || iOld < iYest || strings.Contains(got, "This Week") ||
		!strings.Contains(got, "09:00") || !strings.Contains(got, "name:proj") || !strings.Contains(got, "Dec 08 2025") {
		t.Fatalf("grouped view:\n%s", got)
	}
}

// The grouped view is one grid: every column starts at the same place in
// every group, agent and channel are shown, and each line fits the width,
// the title cut to what is left (by display width: CJK takes two).
func TestLsGroupedGrid(t *testing.T) {
	now := time.Date(2026, 3, 18, 10, 0, 0, 0, time.UTC)
	list := []workspace.Meta{
		{ID: telegramDM, Title: "short", Agent: "main", Channel: "telegram", Updated: now.Add(-time.Hour), Messages: 3},
		{ID: "sk_v1_" + strings.Repeat("b", 64), Title: strings.Repeat("公寓", 40), Agent: "support-bot", Channel: "whatsapp", Updated: now.Add(-3 * 24 * time.Hour), Messages: 1234},
		{ID: "sk_v1_" + strings.Repeat("c", 64), Title: "\x1b[31mred\x1b[0m\n two lines", Name: "proj", Updated: now.Add(-100 * 24 * time.Hour), Messages: 7},
	}
	for _, width := range []int{80, 120, 50} {
		term := plainTerm()
		term.width = width
		var b strings.Builder
		if err := writeLsGrouped(&b, list, now, term); err != nil {
			t.Fatal(err)
		}
		got := b.String()
		lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
		// header, Today, row, This Week, row, Older, row
		if len(lines) != 7 || lines[1] != "Today" || lines[3] != "This Week" || lines[5] != "Older" {
			t.Fatalf("width %d:\n%s", width, got)
		}
		titleAt := strings.Index(lines[0], "TITLE")
		for _, i := range []int{2, 4, 6} {
			if w := displayWidth(lines[i]); w > max(width, titleAt+12) {
				t.Errorf("width %d: line %d is %d columns:\n%s", width, i, w, lines[i])
			}
			// The title starts in the TITLE column in every group.
			prefix := []rune(lines[i])[:titleAt]
			if string(prefix[len(prefix)-2:]) != "  " || prefix[len(prefix)-3] == ' ' {
				t.Errorf("width %d: line %d does not reach the title column at %d:\n%s", width, i, titleAt, got)
			}
		}
		for _, want := range []string{"AGENT", "CHANNEL", "main", "telegram", "support-bot", "whatsapp", "name:proj", "1234", `\x1b[31mred`} {
			if !strings.Contains(got, want) {
				t.Errorf("width %d: no %q in\n%s", width, want, got)
			}
		}
		if strings.ContainsRune(got, 0x1b) || !strings.Contains(lines[4], "…") {
			t.Errorf("width %d: raw ESC or uncut title:\n%s", width, got)
		}
	}
}

// A rename is not activity: the session stays where its last message put
// it (here yesterday, not today), and so does its order.
func TestLsRenameKeepsPlace(t *testing.T) {
	ws := t.TempDir()
	w, err := workspace.Open(ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	yesterday := time.Now().Add(-30 * time.Hour)
	seedSession(t, w, "old", yesterday, "old question")
	seedSession(t, w, "new", time.Now().Add(-time.Minute), "new question")
	w.Close()
	mustRun(t, "--workspace", ws, "rename", "old", "Renamed just now")
	var list []lsEntry
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "ls", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "new" || list[1].Title != "Renamed just now" || list[1].Updated.After(yesterday.Add(time.Minute)) {
		t.Fatalf("after rename: %+v", list)
	}
	if g := lsGroup(list[1].Updated, time.Now()); g == "Today" {
		t.Fatalf("renamed session grouped %s", g)
	}
}

// BenchmarkLs10000 lists 10 000 sessions through the command tree (open,
// warm listing cache, table to a discarding writer).
func BenchmarkLs10000(b *testing.B) {
	ws := b.TempDir()
	w, err := workspace.Open(ws, &workspace.Options{Durability: workspace.DurabilityNever})
	if err != nil {
		b.Fatal(err)
	}
	at := time.Now().Add(-time.Hour)
	for i := 0; i < 10000; i++ {
		seedSession(b, w, fmt.Sprintf("s%05d", i), at.Add(time.Duration(i)*time.Millisecond), "question", "answer")
	}
	w.Close()
	for _, args := range [][]string{{"ls"}, {"ls", "--json"}} {
		b.Run(strings.Join(args, " "), func(b *testing.B) {
			full := append([]string{"--workspace", ws}, args...)
			if code := run(context.Background(), full, strings.NewReader(""), io.Discard, io.Discard); code != 0 {
				b.Fatalf("exit %d", code) // also warms the listing cache
			}
			b.ResetTimer()
			for range b.N {
				if code := run(context.Background(), full, strings.NewReader(""), io.Discard, io.Discard); code != 0 {
					b.Fatalf("exit %d", code)
				}
			}
		})
	}
}

// writeTabbed prints what text/tabwriter prints for the table of ls, on
// cells of every width: wide and combining runes, empty cells, escapes.
func TestWriteTabbedIsTabwriter(t *testing.T) {
	for _, rows := range [][]string{
		{lsHeader},
		{lsHeader, "2026-01-01T00:00:00Z\tsk_v1_0123\tmain\ttelegram\t4\tquestion"},
		{lsHeader, "a\tb\tc\td\te\tf", "\t\t\t\t\t", "日本語の\tß\te\u0301\t-\t100000\t\U0001F600 title"},
		{lsHeader, "damaged\tsk_v1_9\t-\t-\t-\t(empty file, 0 bytes: see picosess check)", "x\xffesc\xff\ty\tz\tw\tv\tu"},
	} {
		var got, want bytes.Buffer
		if err := writeTabbed(&got, rows); err != nil {
			t.Fatal(err)
		}
		tw := tabwriter.NewWriter(&want, 0, 0, 2, ' ', 0)
		for _, r := range rows {
			fmt.Fprintln(tw, r)
		}
		tw.Flush()
		if got.String() != want.String() {
			t.Errorf("rows %q:\ngot\n%s\nwant\n%s", rows, got.String(), want.String())
		}
	}
}
