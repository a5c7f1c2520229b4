package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace/index"
)

// searchSeqs runs search --json and returns the hits as SESSION-PREFIX:SEQ
// of the named sessions (flat, office), sorted.
func searchSeqs(t *testing.T, dir string, args ...string) []string {
	t.Helper()
	out, errOut, code := runCLI(t, append([]string{"--workspace", dir, "search", "--json", "--limit", "100"}, args...)...)
	if code != 0 {
		t.Fatalf("search %v: exit %d: %s", args, code, errOut)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var h index.Hit
		if err := json.Unmarshal([]byte(l), &h); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		got = append(got, h.Snippet)
	}
	slices.Sort(got)
	return got
}

// search role:user dentist returned every user message: words are now all
// required, and field:value narrows.
func TestSearchCLIMeansWhatYouTyped(t *testing.T) {
	dir, _, officeID := seedSearch(t)
	for _, tt := range []struct {
		args []string
		want []string // snippets
	}{
		{[]string{"role:user berlin"}, []string{"The **Berlin** office moves in May", "Viewing the **Berlin** flat on Friday"}},
		{[]string{"role:user passport"}, nil},
		{[]string{"berlin flat"}, []string{"Viewing the **Berlin** **flat** on Friday"}},
		{[]string{"berlin flat", "--any"}, []string{"The **Berlin** office moves in May", "Viewing the **Berlin** **flat** on Friday"}},
		{[]string{"flat OR passport"}, []string{"Bring your **passport**", "Viewing the Berlin **flat** on Friday"}},
		{[]string{"berlin -flat"}, []string{"The **Berlin** office moves in May"}},
		{[]string{"berlin -session:" + officeID[6:14]}, []string{"Viewing the **Berlin** flat on Friday"}},
		{[]string{"sender:ALICE berl*", "--since", "yesterday"}, []string{"The **Berlin** office moves in May", "Viewing the **Berlin** flat on Friday"}},
		{[]string{`"flat on friday"`}, []string{"Viewing the Berlin **flat** **on** **Friday**"}},
	} {
		if got := searchSeqs(t, dir, tt.args...); !slices.Equal(got, tt.want) {
			t.Errorf("search %q: %q, want %q", tt.args, got, tt.want)
		}
	}
	// The error shows the query with a caret under the column.
	_, errOut, code := runCLI(t, "--workspace", dir, "search", `role:user "dentist`)
	if code != 1 || !strings.Contains(errOut, "  role:user \"dentist\n            ^") {
		t.Fatalf("exit %d, %q", code, errOut)
	}
	_, errOut, _ = runCLI(t, "--workspace", dir, "search", `公寓 colour:red`)
	if !strings.Contains(errOut, "  公寓 colour:red\n       ^") {
		t.Fatalf("caret under a CJK query: %q", errOut)
	}
}
