package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// underPTY runs the binary with stdout, stdin and stderr on a
// pseudo-terminal of cols columns and returns what it printed (the
// terminal's \r\n turned back into \n). env replaces the environment but
// for PATH and HOME.
func underPTY(t *testing.T, bin string, cols uint16, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: cols})
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer f.Close()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(&out, f)
		done <- err
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out.String())
	}
	select {
	case err := <-done: // Linux: EIO once the child closed its side
		if err != nil && !errors.Is(err, syscall.EIO) {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pty output did not end")
	}
	return strings.ReplaceAll(out.String(), "\r\n", "\n")
}

// Styling follows the terminal conventions: on under a terminal; off with
// NO_COLOR, with TERM=dumb, and through a pipe. The grouped ls fits the
// terminal's width.
func TestBinaryStylingUnderPTY(t *testing.T) {
	bin := buildBinary(t)
	ws := t.TempDir()
	for _, c := range []string{"what is the weather in Paris tomorrow, and should I take an umbrella with me on the trip?", "second"} {
		if _, errOut, code := exitOf(t, bin, "--workspace", ws, "append", "--session", "trip", "--role", "user", "--content", c); code != 0 {
			t.Fatal(errOut)
		}
	}
	if _, errOut, code := exitOf(t, bin, "--workspace", ws, "append", "--channel", "telegram", "--chat", "42", "--sender", "42", "--role", "user", "--content", "hello "+pwned); code != 0 {
		t.Fatal(errOut)
	}
	term := []string{"TERM=xterm-256color"}

	ls := underPTY(t, bin, 72, term, "--workspace", ws, "ls")
	if !strings.Contains(ls, "\x1b[1mToday\x1b[0m") || !strings.Contains(ls, "telegram") {
		t.Fatalf("ls under a terminal is not styled:\n%q", ls)
	}
	if strings.Contains(ls, "\x1b]0;pwned") || strings.Contains(ls, "\x1b[2J") {
		t.Fatalf("ls under a terminal printed the title's escape sequence raw:\n%q", ls)
	}
	for _, line := range strings.Split(strings.TrimSpace(ls), "\n") {
		plain := stripANSI(line)
		if w := displayWidth(plain); w > 72 {
			t.Errorf("ls line of %d columns on a 72-column terminal: %q", w, plain)
		}
	}
	show := underPTY(t, bin, 100, term, "--workspace", ws, "show", "trip")
	if !strings.Contains(show, "\x1b[1muser\x1b[0m:") {
		t.Fatalf("show under a terminal is not styled:\n%q", show)
	}

	for _, tt := range []struct {
		name string
		env  []string
	}{
		{"NO_COLOR=1", append(term, "NO_COLOR=1")},
		{"TERM=dumb", []string{"TERM=dumb"}},
	} {
		for _, args := range [][]string{{"ls"}, {"show", "trip"}} {
			out := underPTY(t, bin, 100, tt.env, append([]string{"--workspace", ws}, args...)...)
			if strings.Contains(out, "\x1b") || !strings.Contains(out, "second") && !strings.Contains(out, "Today") {
				t.Errorf("%s %v: escape sequences or no output:\n%q", tt.name, args, out)
			}
		}
	}
	// Through a pipe (exitOf): no styling either, whatever TERM says.
	for _, args := range [][]string{{"ls"}, {"show", "trip"}, {"search", "umbrella"}} {
		cmd := exec.Command(bin, append([]string{"--workspace", ws}, args...)...)
		cmd.Env = append(os.Environ(), "TERM=xterm-256color")
		out, err := cmd.Output()
		if err != nil || strings.Contains(string(out), "\x1b") || len(out) == 0 {
			t.Errorf("%v through a pipe: %v\n%q", args, err, out)
		}
	}
}

// stripANSI removes CSI sequences (styling) from s.
func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
