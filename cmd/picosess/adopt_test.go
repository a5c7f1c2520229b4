package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// A user migrates a PicoClaw install whose Discord DM cannot get its new
// id offline, then the assistant's first DM message arrives through
// `append` with the DM channel's id: the imported conversation continues
// in the route's session, and its messages are shown and found once.
func TestAppendByRouteContinuesImportedDM(t *testing.T) {
	ws := t.TempDir()
	from := filepath.Join("..", "..", "testdata", "legacy-rules", "dm-per-channel")
	if _, errOut, code := runCLI(t, "--workspace", ws, "migrate", "--from", from, "--yes"); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, errOut)
	}
	route := []string{"--workspace", ws, "--channel", "discord", "--chat-type", "direct", "--chat", "998877665544332211", "--sender", "555000111222333444"}
	keyOut, errOut, code := runCLI(t, append(append([]string{}, route[:2]...), append([]string{"key", "--json"}, route[2:]...)...)...)
	if code != 0 {
		t.Fatalf("key: exit %d: %s", code, errOut)
	}
	var k struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(keyOut), &k); err != nil {
		t.Fatal(err, keyOut)
	}
	args := append(append([]string{}, route[:2]...), append([]string{"append", "--role", "user", "--content", "discord: I am back"}, route[2:]...)...)
	if _, errOut, code := runCLI(t, args...); code != 0 {
		t.Fatalf("append: exit %d: %s", code, errOut)
	}
	show, errOut, code := runCLI(t, "--workspace", ws, "show", k.ID, "--all")
	if code != 0 {
		t.Fatalf("show: exit %d: %s", code, errOut)
	}
	want := []string{"discord: first question", "discord: first answer", "discord: second question", "discord: second answer", "moved here", "discord: I am back"}
	last := -1
	for _, w := range want {
		i := strings.Index(show, w)
		if i < 0 || w != "moved here" && i < last {
			t.Fatalf("show --all: %q missing or out of order:\n%s", w, show)
		}
		if w != "moved here" {
			last = i
		}
	}
	hits, errOut, code := runCLI(t, "--workspace", ws, "search", "first question", "--json")
	if code != 0 {
		t.Fatalf("search: exit %d: %s", code, errOut)
	}
	if n := strings.Count(hits, "discord: first question"); n != 1 {
		t.Fatalf("search finds the moved message %d times:\n%s", n, hits)
	}
}
