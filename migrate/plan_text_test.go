package migrate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/picosess/picosess/keying"
)

// The summary of every install in testdata fits an 80x24 terminal, counts
// every session and message once, names no rule letter, and lists every
// problem; the table has one line per session.
func TestPlanSummaryFitsOneScreen(t *testing.T) {
	ctx := context.Background()
	var installs []string
	for _, glob := range []string{"legacy/*/*", "legacy-rules/*", "legacy-damaged/*"} {
		m, _ := filepath.Glob(filepath.Join("..", "testdata", glob))
		installs = append(installs, m...)
	}
	clodds := t.TempDir()
	makeCloddsFixture(t, clodds, 40, 70, 1)
	installs = append(installs, clodds)
	tried := 0
	for _, dir := range installs {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		res, err := Read(ctx, dir, Options{})
		if err != nil {
			continue // several systems, or none: not a single install
		}
		tried++
		p, err := PlanResult(ctx, res, nil, PlanOptions{Policy: &keying.Policy{}})
		if err != nil {
			t.Fatal(err)
		}
		p.Config = &TargetConfig{Used: "the proposed config", Settings: []string{`session.dmScope "per-channel-peer"`},
			Problems: []string{"ids follow the proposed config, which the workspace lacks: pass --write-config"}}
		var sb strings.Builder
		if err := p.WriteSummary(&sb, 80, 24); err != nil {
			t.Fatal(err)
		}
		out := sb.String()
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		probs := p.Problems()
		if len(lines) > 23 { // the prompt line of the terminal stays visible
			t.Errorf("%s: summary has %d lines:\n%s", dir, len(lines), out)
		}
		for _, l := range lines {
			if utf8.RuneCountInString(l) > 80 {
				t.Errorf("%s: line wider than 80: %q", dir, l)
			}
			for _, f := range strings.Fields(l) {
				if f == "A" || f == "B" || f == "K" || strings.HasPrefix(f, "Rule") {
					t.Errorf("%s: rule letter in %q", dir, l)
				}
			}
		}
		if len(probs) > 0 && !strings.Contains(out, "problems (") {
			t.Errorf("%s: %d problems not listed:\n%s", dir, len(probs), out)
		}
		flat := strings.Join(strings.Fields(out), " ")
		if len(probs) > 0 && !strings.Contains(out, "problems ("+itoa(len(probs))+"):") {
			t.Errorf("%s: the problems are not counted (%d):\n%s", dir, len(probs), out)
		}
		if !strings.Contains(out, "--verbose lists") { // nothing grouped: each is there
			for _, pr := range probs {
				head := strings.TrimSuffix(clipLine(pr, 30), "…")
				if !strings.Contains(flat, strings.Join(strings.Fields(pr), " ")) && !strings.Contains(out, head) {
					t.Errorf("%s: problem missing from the summary: %q", dir, pr)
				}
			}
		}
		// counts: the era lines add up to the sessions and messages
		sessions, msgs, kept := 0, 0, 0
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) >= 6 && strings.Contains(l, p.Sessions[0].Era) {
				sessions += atoiT(t, f[len(f)-5])
				msgs += atoiT(t, f[len(f)-4])
			}
		}
		for _, s := range p.Sessions {
			if s.Rule == RuleB {
				kept++
				if s.Reason == "" {
					t.Errorf("%s: %s stays under its old key with no reason", dir, s.Keys[0])
				}
			}
		}
		byEra, byEraMsgs := 0, 0
		for _, s := range p.Sessions {
			if s.Era == p.Sessions[0].Era {
				byEra++
				byEraMsgs += s.Messages
			}
		}
		if msgs != byEraMsgs {
			t.Errorf("%s: era %q counts %d messages, plan has %d", dir, p.Sessions[0].Era, msgs, byEraMsgs)
		}
		if sessions != byEra {
			t.Errorf("%s: era %q counts %d sessions, plan has %d:\n%s", dir, p.Sessions[0].Era, sessions, byEra, out)
		}
		if kept > 0 && !strings.Contains(out, "under their old key ("+itoa(kept)+")") {
			t.Errorf("%s: %d sessions under their old key not counted:\n%s", dir, kept, out)
		}
		var tb strings.Builder
		if err := p.WriteTable(&tb); err != nil {
			t.Fatal(err)
		}
		if n := len(strings.Split(strings.TrimRight(strings.SplitN(tb.String(), "\n\nevery problem", 2)[0], "\n"), "\n")); n != len(p.Sessions)+1 {
			t.Errorf("%s: table has %d lines for %d sessions", dir, n, len(p.Sessions))
		}
		for _, pr := range probs {
			if !strings.Contains(tb.String(), "  "+pr+"\n") {
				t.Errorf("%s: the table does not list problem %q", dir, pr)
			}
		}
	}
	if tried < 8 {
		t.Fatalf("only %d installs summarized", tried)
	}
}

func atoiT(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("%q is not a count", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// Every reason fits an 80-column summary line beside its count.
func TestKeptReasonsFitTheScreen(t *testing.T) {
	for _, r := range []string{KeptMain, KeptNoChat, KeptRebuilt, KeptChatType, KeptDirect, KeptNoChannel, KeptToMain, KeptCollision, KeptUnreadable, KeptShared, KeptMissing} {
		if n := utf8.RuneCountInString(r); n > 80-len("    2  ") {
			t.Errorf("%d characters: %q", n, r)
		}
	}
}

// Too many problems for the screen: one cut line each, then one line per
// subject, then the first ones and how many more; never more lines than
// the room.
func TestProblemLinesFitTheRoom(t *testing.T) {
	var probs []string
	for i := 0; i < 30; i++ {
		probs = append(probs, "damaged bytes in file"+itoa(i)+".jsonl line 3 (offset 7, 9 bytes): torn: set aside, not imported")
	}
	for i := 0; i < 4; i++ {
		probs = append(probs, "agent:main:main: problem number "+itoa(i)+" of the main session, with a long explanation that wraps")
	}
	probs = append(probs, "unknown file notes.txt: not a session file name")
	all := problemLines(probs, 80, 0)
	if len(all) < len(probs)/10 { // no room limit: wrapped, 30 damaged runs counted on one line
		t.Fatalf("unlimited: %q", all)
	}
	for _, room := range []int{20, 6, 3, 2} {
		got := problemLines(probs, 80, room)
		if len(got) > room {
			t.Fatalf("room %d: %d lines: %q", room, len(got), got)
		}
		for _, l := range got {
			if utf8.RuneCountInString(l) > 80 {
				t.Fatalf("room %d: line too wide: %q", room, l)
			}
		}
		text := strings.Join(got, "\n")
		if !strings.Contains(text, "30 like this one") && !strings.Contains(text, "damaged bytes set aside: 30 problems") && !strings.Contains(text, "more: --verbose lists every problem") {
			t.Fatalf("room %d: the 30 damaged runs are not counted: %q", room, got)
		}
	}
	if got := problemLines(probs, 80, 2); len(got) != 2 || !strings.Contains(got[1], "and ") || !strings.Contains(got[1], "more") {
		t.Fatalf("room 2: %q", got)
	}
}
