package summarize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

const commandHelperEnv = "PICOSESS_SUMMARIZE_COMMAND_HELPER"

// TestMain lets the test binary act as an external summarizer program
// (and as the session helper process, see session_test.go).
func TestMain(m *testing.M) {
	if mode := os.Getenv(commandHelperEnv); mode != "" {
		os.Exit(commandHelper(mode))
	}
	if os.Getenv(sessionHelperEnv) != "" {
		os.Exit(sessionHelper())
	}
	os.Exit(m.Run())
}

// commandHelper is a summarizer program: it reads a Request on stdin.
func commandHelper(mode string) int {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "read stdin:", err)
		return 2
	}
	var req Request
	if err := json.Unmarshal(in, &req); err != nil {
		fmt.Fprintln(os.Stderr, "stdin is not a request:", err)
		return 2
	}
	switch mode {
	case "echo":
		fmt.Printf("%d messages, seq %d..%d, target %d, previous %q, first %q\n",
			len(req.Messages), req.From, req.Through, req.TargetTokens, req.Previous, req.Messages[0].Text)
		return 0
	case "fail":
		fmt.Fprintln(os.Stderr, strings.Repeat("noise ", 1000))
		fmt.Fprintln(os.Stderr, "model crashed: out of memory")
		return 3
	case "empty":
		fmt.Fprintln(os.Stderr, "nothing to say")
		return 0
	case "hang":
		time.Sleep(time.Hour)
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown mode", mode)
	return 2
}

func helperCommand(t *testing.T, mode string) Command {
	t.Helper()
	return Command{Argv: []string{os.Args[0]}, Env: append(os.Environ(), commandHelperEnv+"="+mode), Timeout: 20 * time.Second}
}

func TestCommandGetsTheRequestOnStdin(t *testing.T) {
	res, err := helperCommand(t, "echo").Summarize(context.Background(), gardenRequest())
	if err != nil {
		t.Fatal(err)
	}
	want := `8 messages, seq 0..0, target 80, previous "user: The user lives in Lisbon and grows tomatoes on a balcony.", first "Hi! How often`
	if !strings.HasPrefix(res.Text, want) {
		t.Fatalf("got %q\nwant prefix %q", res.Text, want)
	}
	if !strings.HasPrefix(res.By, "command:") {
		t.Fatalf("by %q", res.By)
	}
}

func TestCommandWithShell(t *testing.T) {
	c := Command{Argv: []string{"sh", "-c", `cat >/dev/null; printf '  shell summary \n'`}}
	res, err := c.Summarize(context.Background(), gardenRequest())
	if err != nil || res.Text != "shell summary" || res.By != "command:sh" {
		t.Fatalf("got %+v %v", res, err)
	}
}

func TestCommandFailureQuotesStderr(t *testing.T) {
	_, err := helperCommand(t, "fail").Summarize(context.Background(), gardenRequest())
	var ce *CommandError
	if !errors.As(err, &ce) || ce.ExitCode != 3 {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "exited with status 3") || !strings.HasSuffix(err.Error(), "model crashed: out of memory") {
		t.Fatalf("message: %v", err)
	}
	if len(ce.Stderr) > 2048 {
		t.Fatalf("stderr excerpt not bounded: %d bytes", len(ce.Stderr))
	}
}

func TestCommandEmptyOutput(t *testing.T) {
	_, err := helperCommand(t, "empty").Summarize(context.Background(), gardenRequest())
	if !errors.Is(err, ErrEmptySummary) || !strings.Contains(err.Error(), "nothing to say") {
		t.Fatalf("got %v", err)
	}
}

func TestCommandTimeoutKillsIt(t *testing.T) {
	c := helperCommand(t, "hang")
	c.Timeout = 100 * time.Millisecond
	start := time.Now()
	_, err := c.Summarize(context.Background(), gardenRequest())
	var ce *CommandError
	if !errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) || ce.ExitCode != -1 {
		t.Fatalf("got %v", err)
	}
	if time.Since(start) > 15*time.Second {
		t.Fatalf("hung program was not killed")
	}
}

func TestCommandMissingProgram(t *testing.T) {
	c := Command{Argv: []string{"/nonexistent/summarizer"}}
	_, err := c.Summarize(context.Background(), gardenRequest())
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/summarizer") {
		t.Fatalf("got %v", err)
	}
	if _, err := New(SummarizerSettings{Kind: KindCommand}, nil); !errors.Is(err, ErrSettings) {
		t.Fatalf("empty command: %v", err)
	}
	if _, err := New(SummarizerSettings{Kind: "magic"}, nil); !errors.Is(err, ErrSettings) {
		t.Fatalf("unknown kind: %v", err)
	}
}
