package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// pwned is what a hostile chat user sends: set the window title, clear
// the screen.
const pwned = "\x1b]0;pwned\x07\x1b[2J"

// noRawControls fails when out holds a byte a terminal would act on.
func noRawControls(t *testing.T, what, out string) {
	t.Helper()
	for _, r := range out {
		if r < 0x20 && r != '\n' && r != '\t' || r >= 0x7f && r <= 0x9f {
			t.Errorf("%s: raw control %U in\n%q", what, r, out)
			return
		}
	}
	if !strings.Contains(out, `\x1b]0;pwned\x07\x1b[2J`) {
		t.Errorf("%s: the escaped sequence is not shown:\n%s", what, out)
	}
}

// Through the real command tree: a message (and sender) holding escape
// sequences is shown escaped by show, ls (as the title), watch, search and
// export (markdown and text).
func TestControlCharactersShownEscaped(t *testing.T) {
	ws := t.TempDir()
	mustRun(t, "--workspace", ws, "append", "--session", "evil", "--role", "user", "--sender", "mallory"+pwned, "--content", pwned+" hello world")
	mustRun(t, "--workspace", ws, "append", "--session", "evil", "--role", "assistant", "--content", "reply "+pwned)

	noRawControls(t, "show", mustRun(t, "--workspace", ws, "show", "evil"))
	noRawControls(t, "show --all", mustRun(t, "--workspace", ws, "show", "evil", "--all"))
	noRawControls(t, "ls", mustRun(t, "--workspace", ws, "ls"))
	noRawControls(t, "export markdown", mustRun(t, "--workspace", ws, "export", "evil", "--format", "markdown"))
	noRawControls(t, "export text", mustRun(t, "--workspace", ws, "export", "evil", "--format", "text"))
	noRawControls(t, "search", mustRun(t, "--workspace", ws, "search", "hello"))

	// watch --from-start prints the session's records, then follows it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--workspace", ws, "watch", "evil", "--from-start", "--poll", "50ms"}, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var lines []string
	for len(lines) < 3 && sc.Scan() { // header, the user message, the reply
		lines = append(lines, sc.Text())
	}
	cancel()
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	<-done
	noRawControls(t, "watch", strings.Join(lines, "\n"))
}
