package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExportFormats(t *testing.T) {
	ws := seedConversations(t)
	md := mustRun(t, "--workspace", ws, "export", "chat")
	for _, want := range []string{"# first question\n", "- name: `chat`", "## user — ", "second 1", "get_weather", "```json"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "thanks") {
		t.Errorf("markdown of the active history has the conversation before the reset:\n%s", md)
	}
	mdAll := mustRun(t, "--workspace", ws, "export", "chat", "--format", "markdown", "--all")
	if i, j := strings.Index(mdAll, "thanks"), strings.Index(mdAll, "*Conversation 2: reset (manual)"); i < 0 || j < i {
		t.Errorf("markdown --all:\n%s", mdAll)
	}

	var doc exportActive
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "export", "chat", "--format", "json")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Header.Type != "session" || doc.Header.Name != "chat" || len(doc.Messages) != 5 || doc.Messages[0].Content != "second 1" {
		t.Fatalf("json: %+v", doc)
	}
	var all exportAll
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "export", "chat", "--format", "json", "--all")), &all); err != nil {
		t.Fatal(err)
	}
	if len(all.Segments) != 2 {
		t.Fatalf("json --all: %+v", all)
	}

	// jsonl --all is the file itself, byte for byte.
	file, err := os.ReadFile(filepath.Join(ws, "sessions", doc.ID+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if got := mustRun(t, "--workspace", ws, "export", "chat", "--format", "jsonl", "--all"); got != string(file) {
		t.Fatalf("jsonl --all differs from the file:\n%s\nfile:\n%s", got, file)
	}
	// jsonl: the header, then the active history, one record a line.
	got := mustRun(t, "--workspace", ws, "export", "chat", "--format", "jsonl")
	sc := bufio.NewScanner(strings.NewReader(got))
	var types []string
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		types = append(types, m["type"].(string))
	}
	if strings.Join(types, ",") != "session,message,message,message,message,message" {
		t.Fatalf("jsonl records: %v", types)
	}
}

func TestExportErrors(t *testing.T) {
	t.Setenv(envSession, "") // the current session's variable would change the errors
	ws := seedConversations(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "chat", "--format", "pdf"}, `--format "pdf": want one of markdown, text, json, jsonl`},
		{[]string{"export", "chat", "--format", "jsonl", "--no-metadata"}, "--no-metadata applies to --format markdown and text"},
		{[]string{"export", "nosuch"}, `no session matches "nosuch"`},
		{[]string{"export"}, "which session? give SESSION, or set PICOSESS_SESSION"},
	} {
		out, errOut, code := runCLI(t, append([]string{"--workspace", ws}, tt.args...)...)
		if code != 1 || !strings.Contains(errOut, tt.want) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 1 and %q", tt.args, code, out, errOut, tt.want)
		}
	}
}

func TestRenameResetClear(t *testing.T) {
	ws := seedConversations(t)
	if out := mustRun(t, "--workspace", ws, "rename", "chat", "Weather talk"); !strings.Contains(out, `"Weather talk"`) {
		t.Fatalf("rename: %q", out)
	}
	var list []lsEntry
	_ = json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "ls", "--json")), &list)
	if len(list) != 1 || list[0].Title != "Weather talk" {
		t.Fatalf("title after rename: %+v", list)
	}
	var tout titleOutput
	_ = json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "rename", "chat", "", "--json")), &tout)
	if tout.Title != "first question" || tout.Seq != 12 {
		t.Fatalf("rename to \"\" must bring back the default title: %+v", tout)
	}

	var r resetOutput
	_ = json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "reset", "chat", "--json")), &r)
	if r.Reason != "manual" || r.Seq != 13 {
		t.Fatalf("reset --json: %+v", r)
	}
	if out := mustRun(t, "--workspace", ws, "show", "chat"); !strings.Contains(out, "no messages since the last reset") {
		t.Fatalf("show after reset:\n%s", out)
	}
	mustRun(t, "--workspace", ws, "append", "chat", "--role", "user", "--content", "third conversation")
	out := mustRun(t, "--workspace", ws, "clear", "chat")
	if !strings.Contains(out, "(clear)") {
		t.Fatalf("clear: %q", out)
	}
	all := mustRun(t, "--workspace", ws, "show", "chat", "--all")
	if !strings.Contains(all, "reset (clear)") || !strings.Contains(all, "third conversation") || !strings.Contains(all, "first question") {
		t.Fatalf("reset and clear must keep every record:\n%s", all)
	}
	for _, args := range [][]string{{"rename", "chat"}, {"reset", "nosuch"}, {"clear", "a", "b"}} {
		if _, _, code := runCLI(t, append([]string{"--workspace", ws}, args...)...); code != 1 {
			t.Errorf("%v: exit %d, want 1", args, code)
		}
	}
}
