// Command picosess is the operator's tool for a picosess workspace: list,
// show, search, export, migrate, repair and serve chat-assistant sessions.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes, as DESIGN.md section 6 fixes them.
const (
	exitOK          = 0
	exitFailure     = 1
	exitRepairable  = 3
	exitUnrepairabl = 4
	exitNotWS       = 10
	exitLocked      = 11
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process exit code. Tests
// call it with buffers.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(ctx, err)
	var quiet *exitError
	if !errors.As(err, &quiet) || quiet.msg != "" || quiet.err != nil {
		fmt.Fprintf(stderr, "picosess: %v\n", err)
	}
	return code
}

// exitError carries an exit code chosen by a command (for example 3 from
// check). A nil err and empty msg print nothing.
type exitError struct {
	code int
	msg  string
	err  error
}

func (e *exitError) Error() string {
	switch {
	case e.msg != "" && e.err != nil:
		return e.msg + ": " + e.err.Error()
	case e.err != nil:
		return e.err.Error()
	}
	return e.msg
}

func (e *exitError) Unwrap() error { return e.err }

// exitCode maps an error to the exit code of DESIGN.md section 6, in this
// one place.
func exitCode(ctx context.Context, err error) int {
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return exitInterrupted
	}
	for _, m := range errorCodes {
		if errors.Is(err, m.err) {
			return m.code
		}
	}
	return exitFailure
}
