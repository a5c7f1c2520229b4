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
		p.Config = &TargetConfig{Used: "picosess's defaults (the source install has no config file)"}
		var sb strings.Builder
		if err := p.WriteSummary(&sb, 80); err != nil {
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
		for _, pr := range probs {
			if !strings.Contains(out, clipLine("  "+pr, 80)) {
				t.Errorf("%s: problem missing from the summary: %q", dir, pr)
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
		if n := strings.Count(tb.String(), "\n"); n != len(p.Sessions)+1 {
			t.Errorf("%s: table has %d lines for %d sessions", dir, n, len(p.Sessions))
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
