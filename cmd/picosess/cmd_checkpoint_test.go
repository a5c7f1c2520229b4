package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

func TestCheckpointCommands(t *testing.T) {
	ws := seedConversations(t)
	var c checkpointOutput
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "checkpoint", "save", "chat", "before-weather", "--description", "ok so far", "--json")), &c); err != nil {
		t.Fatal(err)
	}
	if c.Checkpoint == nil || c.Checkpoint.Name != "before-weather" || c.Checkpoint.Through != 10 || c.Seq != 11 {
		t.Fatalf("save: %+v", c)
	}
	mustRun(t, "--workspace", ws, "append", "chat", "--role", "user", "--content", "off the rails")
	var list []workspace.Checkpoint
	_ = json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "checkpoint", "ls", "chat", "--json")), &list)
	if len(list) != 1 || list[0].Description != "ok so far" || list[0].At.After(time.Now()) {
		t.Fatalf("ls: %+v", list)
	}
	if out := mustRun(t, "--workspace", ws, "checkpoint", "ls", "chat"); !strings.Contains(out, "before-weather") || !strings.HasPrefix(out, "SEQ") {
		t.Fatalf("ls table:\n%s", out)
	}
	mustRun(t, "--workspace", ws, "checkpoint", "restore", "chat", "before-weather")
	out := mustRun(t, "--workspace", ws, "show", "chat")
	if strings.Contains(out, "off the rails") || !strings.Contains(out, "second 4") {
		t.Fatalf("show after restore:\n%s", out)
	}
	if out := mustRun(t, "--workspace", ws, "show", "chat", "--all"); !strings.Contains(out, "off the rails") {
		t.Fatalf("restore removed a message from the file:\n%s", out)
	}
	mustRun(t, "--workspace", ws, "checkpoint", "rm", "chat", "11")
	if out := mustRun(t, "--workspace", ws, "checkpoint", "ls", "chat", "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("ls after rm: %s", out)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"checkpoint", "restore", "chat", "before-weather"}, `no checkpoint "before-weather"`},
		{[]string{"checkpoint", "save", "chat"}, "accepts 2 arg(s)"},
		{[]string{"checkpoint", "ls", "nosuch"}, `no session matches "nosuch"`},
		{[]string{"checkpoint", "rm", "chat", "99"}, `no checkpoint "99"`},
	} {
		_, errOut, code := runCLI(t, append([]string{"--workspace", ws}, tt.args...)...)
		if code != 1 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", tt.args, code, errOut, tt.want)
		}
	}
}
