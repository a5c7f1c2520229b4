package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

func TestWatchPrintsAppendedRecords(t *testing.T) {
	root := t.TempDir()
	w, err := workspace.Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := w.Session(ctx, workspace.Target{Name: "watched"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, workspace.Record{Type: workspace.TypeMessage, Role: "user", Content: "old"}); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"--workspace", root, "--json", "watch", "watched", "--poll", "50ms"}, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, _ = s.Append(ctx, workspace.Record{Type: workspace.TypeMessage, Role: "assistant", Content: "new reply"})
	}()
	if !lines.Scan() {
		t.Fatalf("no line: %v", lines.Err())
	}
	var got watchLine
	if err := json.Unmarshal(lines.Bytes(), &got); err != nil {
		t.Fatal(err, lines.Text())
	}
	if got.Session != s.ID() || got.Record.Content != "new reply" || got.Record.Seq != 3 {
		t.Fatalf("got %+v, want the new reply at seq 3", got)
	}
	cancel()
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if c := <-code; c != exitOK && c != exitInterrupted {
		t.Fatalf("exit %d", c)
	}
}

func TestWatchNotAWorkspace(t *testing.T) {
	_, errOut, code := runCLI(t, "--workspace", t.TempDir()+"/none", "watch")
	if code != exitNotWS || !strings.Contains(errOut, "not a workspace") {
		t.Fatalf("exit %d %q", code, errOut)
	}
}
