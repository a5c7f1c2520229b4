package migrate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// PicoClaw v0.0.1 stored every channel message under the empty key, in
// sessions/.json: it is imported whole under picoclaw:empty-key, with a
// warning, not reported as an unknown file.
func TestPicoClawEmptyKeySession(t *testing.T) {
	home := t.TempDir()
	day := time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC)
	picoJSON(t, filepath.Join(home, "sessions", ".json"), "", day, "u:hi from telegram", "a:hello", "u:hi from discord", "a:hello again")
	picoJSON(t, filepath.Join(home, "sessions", "cli:default.json"), "cli:default", day, "u:summarize my day", "a:taxes")
	p, _, ws := migrateDir(t, home)
	ps := sessionOf(t, p, picoEmptyKey)
	if ps.Scope != nil && ps.Scope.Channel != "" {
		t.Errorf("the importer's key %s gave the session channel %q", picoEmptyKey, ps.Scope.Channel)
	}
	got, _ := sessionMessages(t, ws, ps.ID)
	want := []string{"u:hi from telegram", "a:hello", "u:hi from discord", "a:hello again"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("empty-key session:\n got  %q\n want %q", got, want)
	}
	warned := false
	for _, s := range p.Read.Sources {
		if s.Key == picoEmptyKey {
			for _, w := range s.Warnings {
				warned = warned || strings.Contains(w, "empty key")
			}
		}
	}
	if !warned {
		t.Error("no warning says the session is the empty key's")
	}
	for _, f := range p.Read.Files {
		if strings.HasSuffix(f.Path, "/.json") && f.Class != ClassImported {
			t.Errorf("%s: %s (%s), want imported", f.Path, f.Class, f.Reason)
		}
	}
	// a hidden file that is not the empty key's session stays unknown
	home = t.TempDir()
	write(t, filepath.Join(home, "sessions", "._telegram:1.json"), "\x00\x05\x16\x07 AppleDouble")
	picoJSON(t, filepath.Join(home, "sessions", "telegram:1.json"), "telegram:1", day, "u:x", "a:y")
	p, _, _ = migrateDir(t, home)
	for _, f := range p.Read.Files {
		if strings.HasSuffix(f.Path, "/._telegram:1.json") && f.Class != ClassUnknown {
			t.Errorf("%s: %s, want unknown", f.Path, f.Class)
		}
	}
}

// One key's JSON-era files in two sessions directories that do not share
// a message: v0.0.1's $PICOCLAW_HOME/sessions/cli:default.json and
// v0.1.1's <workspace>/sessions/cli:default.json, which started afresh.
// Their messages carry no time; the files' "updated" fields order them,
// whatever the file times say (a copied home's are the copy's).
func TestPicoClawCopiesOrderedByUpdated(t *testing.T) {
	home := t.TempDir()
	p0 := filepath.Join(home, "sessions", "cli:default.json")
	p1 := filepath.Join(home, "workspace", "sessions", "cli:default.json")
	jsonAt := func(p, created, updated string, specs ...string) {
		picoJSON(t, p, "cli:default", time.Time{}, specs...)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.Replace(string(b), "\n}", ",\n  \"created\": \""+created+"\",\n  \"updated\": \""+updated+"\"\n}", 1)
		write(t, p, s)
	}
	migrate := func(p1Created string) (*Plan, *workspace.Workspace) {
		jsonAt(p0, "2026-02-09T20:00:00+08:00", "2026-02-10T09:00:00+08:00", "u:summarize my day", "a:taxes")
		jsonAt(p1, p1Created, "2026-02-13T09:00:00Z", "u:what's left?", "a:only the taxes")
		// file times the other way round
		newer, older := time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		for p, at := range map[string]time.Time{p0: newer, p1: older} {
			if err := os.Chtimes(p, at, at); err != nil {
				t.Fatal(err)
			}
		}
		p, _, ws := migrateDir(t, home)
		return p, ws
	}
	undecided := func(p *Plan) bool {
		for _, w := range sessionOf(t, p, "cli:default").Warnings {
			if strings.Contains(w, "order undecided") {
				return true
			}
		}
		return false
	}
	want := []string{"u:summarize my day", "a:taxes", "u:what's left?", "a:only the taxes"}
	// the second session was created after the first last changed: its
	// messages come after the first's, and that is no guess
	p, ws := migrate("2026-02-12T10:00:00Z")
	got, _ := sessionMessages(t, ws, sessionOf(t, p, "cli:default").ID)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("cli:default:\n got  %q\n want %q", got, want)
	}
	if undecided(p) {
		t.Errorf("sessions one after the other reported as an undecided order: %q", sessionOf(t, p, "cli:default").Warnings)
	}
	// created before the first last changed: the two overlap in time, so
	// the older-first order is a guess, and the plan says so
	p, ws = migrate("2026-02-10T00:30:00Z")
	got, _ = sessionMessages(t, ws, sessionOf(t, p, "cli:default").ID)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("cli:default, overlapping:\n got  %q\n want %q", got, want)
	}
	if !undecided(p) {
		t.Errorf("overlapping sessions: no 'order undecided' warning: %q", sessionOf(t, p, "cli:default").Warnings)
	}
}

// A pre-routing <channel>:<chat> key of a channel other than Telegram
// (v0.1.x: slack:C01ABC, discord:<channel id>) does not say whether the
// chat is a DM or a group, so it is kept under its key; the first message
// the assistant routes to that chat continues it, DM or group.
func TestPicoClawPreRoutingKeyContinued(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	dir := filepath.Join(home, "workspace", "sessions")
	picoJSON(t, filepath.Join(dir, "slack:C01ABC.json"), "slack:C01ABC", time.Time{}, "u:standup at 10?", "a:yes, 10:00")
	picoJSON(t, filepath.Join(dir, "discord:1187766554433221100.json"), "discord:1187766554433221100", time.Time{}, "u:hey", "a:hello")
	p, _, ws := migrateDir(t, home)
	for _, c := range []struct {
		key  string
		in   keying.Inbound
		want []string
	}{
		{"slack:C01ABC", keying.Inbound{Channel: "slack", ChatType: "channel", ChatID: "C01ABC", SenderID: "U42"}, []string{"u:standup at 10?", "a:yes, 10:00"}},
		{"discord:1187766554433221100", keying.Inbound{Channel: "discord", ChatType: "direct", ChatID: "1187766554433221100", SenderID: "555000111222333444"}, []string{"u:hey", "a:hello"}},
	} {
		old := sessionOf(t, p, c.key)
		r, err := ws.Route("main", c.in)
		if err != nil {
			t.Fatal(err)
		}
		if r.ID == old.ID {
			t.Fatalf("%s: imported under the route's id %s; this test wants a key kept under itself", c.key, r.ID)
		}
		s, err := ws.SessionFor(ctx, "main", c.in)
		if err != nil {
			t.Fatal(err)
		}
		if s.ID() != r.ID {
			t.Errorf("%s: SessionFor gave %s, route %s", c.key, s.ID(), r.ID)
		}
		got, _ := sessionMessages(t, ws, s.ID())
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s continued:\n got  %q\n want %q", c.key, got, c.want)
		}
		if l, err := ws.Lookup(ctx, c.key); err != nil {
			t.Errorf("%s: lookup after the route's first message: %v", c.key, err)
		} else if l.ID() != r.ID {
			t.Errorf("%s names %s after the route's first message, want the route's %s", c.key, l.ID(), r.ID)
		}
	}
}

// An install upgraded from v0.1.x to v0.2.x holds a Discord DM under its
// pre-routing key (the DM channel's id) and under its routing-era key
// (the author's id), two sessions the migrator cannot join. The route's
// alias names the routing-era one, which is continued; the older one is
// not taken for a second match (which would leave both alone) and stays
// under its key.
func TestPicoClawPreRoutingKeyAfterRoutingKey(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	dir := filepath.Join(home, "workspace", "sessions")
	picoJSON(t, filepath.Join(dir, "discord_1187766554433221100.json"), "discord:1187766554433221100", time.Time{}, "u:hey", "a:hello")
	picoJSON(t, filepath.Join(dir, "agent_main_discord_direct_555000111222333444.json"), "agent:main:discord:direct:555000111222333444", time.Time{}, "u:back", "a:welcome back")
	_, _, ws := migrateDir(t, home)
	in := keying.Inbound{Channel: "discord", ChatType: "direct", ChatID: "1187766554433221100", SenderID: "555000111222333444"}
	s, err := ws.SessionFor(ctx, "main", in)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := sessionMessages(t, ws, s.ID())
	if want := []string{"u:back", "a:welcome back"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("route's session:\n got  %q\n want %q", got, want)
	}
	old, err := ws.Lookup(ctx, "discord:1187766554433221100")
	if err != nil {
		t.Fatal(err)
	}
	if old.ID() == s.ID() {
		t.Fatal("the pre-routing session was merged into the route's")
	}
	got, _ = sessionMessages(t, ws, old.ID())
	if want := []string{"u:hey", "a:hello"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("pre-routing session:\n got  %q\n want %q", got, want)
	}
}

// BenchmarkReadPicoClawP0P2 reads a home upgraded from v0.0.1 through
// v0.1.2, untimed as those versions wrote: the empty key's session of
// 20 000 messages in sessions/, and 2 000 chats, each a v0.1.1 colon file
// of 20 messages beside the v0.1.2 file that went on (the 20, then 10
// more; every fourth message "ok"): 120 000 messages read, 80 000 kept.
func BenchmarkReadPicoClawP0P2(b *testing.B) {
	const chats, old, more, p0 = 2000, 20, 10, 20000
	home := b.TempDir()
	jsonFile := func(p, key string, n int, msg func(k int) string) {
		var sb strings.Builder
		fmt.Fprintf(&sb, "{\n  \"key\": %q,\n  \"messages\": [\n", key)
		for k := range n {
			if k > 0 {
				sb.WriteString(",\n")
			}
			role := "user"
			if k%2 == 1 {
				role = "assistant"
			}
			fmt.Fprintf(&sb, "    {\n      \"role\": %q,\n      \"content\": %q\n    }", role, msg(k))
		}
		sb.WriteString("\n  ],\n  \"created\": \"2026-02-11T10:00:00Z\",\n  \"updated\": \"2026-02-16T10:00:00Z\"\n}")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	jsonFile(filepath.Join(home, "sessions", ".json"), "", p0, func(k int) string { return fmt.Sprintf("channel message %d", k) })
	dir := filepath.Join(home, "workspace", "sessions")
	for c := range chats {
		msg := func(k int) string {
			if k%4 == 3 {
				return "ok"
			}
			return fmt.Sprintf("chat %d message %d: what about item %d?", c, k, k)
		}
		key := fmt.Sprintf("discord:%d", 1187766554433221100+c)
		jsonFile(filepath.Join(dir, key+".json"), key, old, msg)
		jsonFile(filepath.Join(dir, strings.ReplaceAll(key, ":", "_")+".json"), key, old+more, msg)
	}
	b.ResetTimer()
	for b.Loop() {
		r, err := Read(context.Background(), home, Options{System: SystemPicoClaw})
		if err != nil {
			b.Fatal(err)
		}
		if got := r.Messages(); got != p0+chats*(old+more) {
			b.Fatalf("read %d messages, want %d", got, p0+chats*(old+more))
		}
	}
	b.ReportMetric(float64(p0+chats*(2*old+more))*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// PicoClaw v0.1.2's forceCompression replaced the oldest half of a
// history (its first message kept) with a system note saying how many
// messages it dropped; the v0.1.1 colon file still holds them. They come
// where the note stands, before it, and since the note says how many
// there were, that order is not reported as undecided; a note that does
// not account for the gap still is.
func TestPicoClawCompressionNoteGap(t *testing.T) {
	note := "s:[System: Emergency compression dropped 2 oldest messages due to context limit]"
	for _, c := range []struct {
		name      string
		old       []string
		undecided bool
	}{
		{"the two dropped", []string{"u:weather?", "a:calling web_fetch", "t:12°C", "a:12°C and clear", "u:thanks", "a:welcome"}, false},
		{"three in the gap", []string{"u:weather?", "a:calling web_fetch", "t:12°C", "a:hm", "a:12°C and clear", "u:thanks", "a:welcome"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			home := t.TempDir()
			dir := filepath.Join(home, "workspace", "sessions")
			key := "telegram:-1001234567890"
			picoJSON(t, filepath.Join(dir, key+".json"), key, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), c.old...)
			picoJSON(t, filepath.Join(dir, "telegram_-1001234567890.json"), key, time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC),
				"u:weather?", note, "a:12°C and clear", "u:thanks", "a:welcome", "u:summarize the week", "a:quiet")
			p, _, ws := migrateDir(t, home)
			ps := sessionOf(t, p, key)
			got, _ := sessionMessages(t, ws, ps.ID)
			want := append(append([]string{}, c.old[:len(c.old)-3]...), note, "a:12°C and clear", "u:thanks", "a:welcome", "u:summarize the week", "a:quiet")
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("timeline:\n got  %q\n want %q", got, want)
			}
			undecided := false
			for _, w := range ps.Warnings {
				undecided = undecided || strings.Contains(w, "order undecided")
			}
			if undecided != c.undecided {
				t.Errorf("'order undecided' warned: %v, want %v (%q)", undecided, c.undecided, ps.Warnings)
			}
		})
	}
}
