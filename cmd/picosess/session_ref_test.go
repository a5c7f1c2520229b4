package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// A SESSION argument by bare hex prefix, title, part of a title; the
// SESSION:SEQ that search prints opens show around that record.
func TestSessionRefForms(t *testing.T) {
	dir, flatID, officeID := seedSearch(t)
	for _, tt := range []struct{ ref, want string }{
		{flatID[6:14], flatID},                        // bare hex
		{"viewing the berlin flat on friday", flatID}, // title (the first user message)
		{"office moves", officeID},                    // part of a title
		{"OFFICE", officeID},                          // a name
		{shortID(officeID), officeID},                 // as ls prints it
		{strings.ToUpper(officeID[6:18]), officeID},   // hex in capitals
	} {
		out, errOut, code := runCLI(t, "--workspace", dir, "show", tt.ref, "--json")
		var got showActive
		if code != 0 || json.Unmarshal([]byte(out), &got) != nil || got.ID != tt.want {
			t.Errorf("show %q: exit %d, %s %s; want %s", tt.ref, code, out, errOut, tt.want)
		}
	}
	// Part of two titles: exit 1, each candidate with its id, last
	// activity and title.
	_, errOut, code := runCLI(t, "--workspace", dir, "show", "berlin")
	if code != 1 || !strings.Contains(errOut, `"berlin" is ambiguous: it matches 2 sessions (by title part)`) ||
		!regexp.MustCompile(`\n  `+shortID(flatID)+`  \d{4}-\d\d-\d\d \d\d:\d\d  Viewing the Berlin flat on Friday`).MatchString(errOut) ||
		!strings.Contains(errOut, shortID(officeID)) || !strings.Contains(errOut, "give more of its title") {
		t.Fatalf("ambiguous title: exit %d\n%s", code, errOut)
	}
	_, errOut, code = runCLI(t, "--workspace", dir, "--json", "show", "berlin")
	if code != 1 || !strings.Contains(errOut, `"code":"ambiguous"`) {
		t.Fatalf("--json ambiguous: exit %d %s", code, errOut)
	}

	// search prints SESSION-PREFIX:SEQ; show opens there.
	out, _, _ := runCLI(t, "--workspace", dir, "search", "passport")
	ref := regexp.MustCompile(`sk_v1_[0-9a-f]{12}:\d+`).FindString(out)
	if ref != shortID(flatID)+":3" {
		t.Fatalf("search output %q", out)
	}
	out, errOut, code = runCLI(t, "--workspace", dir, "show", ref, "--limit", "1")
	if code != 0 || !strings.Contains(out, "around #3") || !strings.Contains(out, "> #3 ") ||
		!strings.Contains(out, "  #2 ") || !strings.Contains(out, "  #4 ") || strings.Contains(out, "#1 ") {
		t.Fatalf("show %s: exit %d\n%s%s", ref, code, out, errOut)
	}
	out, _, code = runCLI(t, "--workspace", dir, "show", flatID[6:14]+":2", "--json")
	var around showAroundOutput
	if code != 0 || json.Unmarshal([]byte(out), &around) != nil || around.Seq != 2 || len(around.Records) != 4 ||
		around.Records[0].Seq != 1 || around.Before || around.After {
		t.Fatalf("show id:seq --json: %d %s", code, out)
	}
	_, errOut, code = runCLI(t, "--workspace", dir, "show", shortID(flatID)+":99")
	if code != 1 || !strings.Contains(errOut, "no record #99 (its last is #4)") {
		t.Fatalf("missing seq: %d %s", code, errOut)
	}
	_, errOut, code = runCLI(t, "--workspace", dir, "show", "nothing like it")
	if code != 1 || !strings.Contains(errOut, "a title or part of one") {
		t.Fatalf("not found: %d %s", code, errOut)
	}
}
