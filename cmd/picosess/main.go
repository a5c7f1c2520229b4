// Command picosess is the operator's tool for a picosess workspace: list,
// show, search, export, migrate, repair and serve chat-assistant sessions.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
)

// silentRedisLog drops go-redis's own log lines.
type silentRedisLog struct{}

func (silentRedisLog) Printf(context.Context, string, ...any) {}

// Exit codes, as docs/cli.md ("Exit codes") documents them.
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
	// go-redis logs its connection retries on stderr by itself; the
	// error a command returns says what failed (and --verbose is ours).
	redis.SetLogger(silentRedisLog{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process exit code. Tests
// call it with buffers.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, errOut: stderr, getenv: os.Getenv}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	start := time.Now()
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		a.log().Info("done", "command", cmd.CommandPath(), "took", time.Since(start).Round(time.Millisecond))
		return exitOK
	}
	if cmd == root && !errors.As(err, new(*exitError)) {
		// The root runs nothing: what fails there is the command line
		// itself (an unknown command).
		err = usageError(root, err)
	}
	return a.printError(ctx, cmd, err, jsonRequested(a, args))
}

// printError prints err on stderr, as a line of text or with --json as one
// JSON object, and returns the exit code. An exitError without a message
// (check's exit 3) prints nothing. A usage error points to the command's
// --help. Errors are printed even with --quiet.
func (a *app) printError(ctx context.Context, cmd *cobra.Command, err error, asJSON bool) int {
	exit, code := classify(ctx, err)
	var quiet *exitError
	if errors.As(err, &quiet) && quiet.msg == "" && quiet.err == nil {
		return exit
	}
	hint := ""
	if code == codeUsage {
		hint = "see " + cmd.CommandPath() + " --help"
	}
	if asJSON {
		enc := json.NewEncoder(a.errOut)
		enc.SetEscapeHTML(false)
		enc.Encode(errorJSON{Error: err.Error(), Code: code, Exit: exit, Hint: hint})
		return exit
	}
	msg := escapeControls(err.Error())
	if hint != "" {
		msg += "\n  " + hint
	}
	fmt.Fprintf(a.errOut, "picosess: %s\n", msg)
	return exit
}

// jsonRequested says whether --json was given: the flag as parsed, or,
// when parsing stopped at an error before reaching it, as written.
func jsonRequested(a *app, args []string) bool {
	if a.jsonOut {
		return true
	}
	for _, arg := range args {
		switch arg {
		case "--":
			return false
		case "--json", "--json=true", "--json=1":
			return true
		}
	}
	return false
}
