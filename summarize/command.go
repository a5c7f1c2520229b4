package summarize

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Command summarizes with an external program: it is started with Argv (no
// shell), reads the Request as JSON on stdin and writes the summary on
// stdout. A non-zero exit, a run longer than Timeout or an empty stdout is
// an error that quotes the end of its stderr.
type Command struct {
	Argv    []string
	Timeout time.Duration
	// Env, if set, replaces the environment of the program.
	Env []string
}

// CommandError is a summarizer program that failed.
type CommandError struct {
	Program  string
	ExitCode int    // -1 if it did not exit normally (killed, timed out)
	Stderr   string // the last part of its stderr
	Err      error
}

func (e *CommandError) Error() string {
	msg := fmt.Sprintf("summarize: command %s failed", e.Program)
	if e.ExitCode >= 0 {
		msg = fmt.Sprintf("summarize: command %s exited with status %d", e.Program, e.ExitCode)
	} else if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Stderr != "" {
		msg += "; stderr: " + e.Stderr
	}
	return msg
}

func (e *CommandError) Unwrap() error { return e.Err }

// maxStdout bounds what is read from a summarizer program.
const maxStdout = 1 << 20

// Summarize runs the program once.
func (c Command) Summarize(ctx context.Context, req Request) (Result, error) {
	if len(c.Argv) == 0 || c.Argv[0] == "" {
		return Result{}, fmt.Errorf("%w: the command summarizer needs a program", ErrSettings)
	}
	in, err := json.Marshal(req)
	if err != nil {
		return Result{}, fmt.Errorf("summarize: encode request: %w", err)
	}
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Stdin = bytes.NewReader(in)
	var stdout limitedBuffer
	stdout.max = maxStdout
	stderr := tailBuffer{max: 2048}
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if c.Env != nil {
		cmd.Env = c.Env
	}
	// A grandchild that keeps the pipes open must not hang us forever.
	cmd.WaitDelay = 2 * time.Second
	program := filepath.Base(c.Argv[0])
	if err := cmd.Run(); err != nil {
		ce := &CommandError{Program: c.Argv[0], ExitCode: -1, Stderr: stderr.String(), Err: err}
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.Exited() {
			ce.ExitCode = ee.ExitCode()
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && c.Timeout > 0 {
			ce.Err = fmt.Errorf("%w (timeout %s)", ctx.Err(), c.Timeout)
		} else if ctx.Err() != nil {
			ce.Err = ctx.Err()
		}
		return Result{}, ce
	}
	text := strings.TrimSpace(stdout.String())
	if text == "" {
		msg := fmt.Sprintf("command %s wrote nothing on stdout", c.Argv[0])
		if s := stderr.String(); s != "" {
			msg += "; stderr: " + s
		}
		return Result{}, fmt.Errorf("%w: %s", ErrEmptySummary, msg)
	}
	return Result{Text: text, By: KindCommand + ":" + program}, nil
}

// limitedBuffer keeps the first max bytes written and discards the rest.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		if len(p) > room {
			b.Buffer.Write(p[:room])
		} else {
			b.Buffer.Write(p)
		}
	}
	return len(p), nil
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string { return strings.TrimSpace(string(b.buf)) }

// New builds the summarizer that settings choose. Tokens of the extractive
// summarizer are counted with c (nil: Estimate).
func New(s SummarizerSettings, c Counter) (Summarizer, error) {
	switch s.Kind {
	case "", KindExtractive:
		return Extractive{Counter: c}, nil
	case KindOpenAI:
		s = Settings{Summarizer: s}.WithDefaults().Summarizer
		return NewOpenAI(s, os.Getenv)
	case KindCommand:
		if len(s.Command) == 0 || s.Command[0] == "" {
			return nil, fmt.Errorf("%w: summarizer.command is empty", ErrSettings)
		}
		s = Settings{Summarizer: s}.WithDefaults().Summarizer
		return Command{Argv: append([]string(nil), s.Command...), Timeout: time.Duration(s.Timeout)}, nil
	default:
		return nil, fmt.Errorf("%w: summarizer.kind = %q: want \"extractive\", \"openai\" or \"command\"", ErrSettings, s.Kind)
	}
}
