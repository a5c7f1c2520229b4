package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/picosess/picosess/workspace"
	"github.com/spf13/cobra"
)

// app holds what every command shares: the global flags and the streams.
type app struct {
	workspaceDir string
	jsonOut      bool
	lockTimeout  time.Duration

	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "picosess",
		Short:         "Sessions of chat assistants: keys, history, search, summaries, migration",
		SilenceUsage:  true,
		SilenceErrors: true,
		Long: `picosess keeps the conversation history of self-hosted chat assistants in a
workspace directory of append-only JSONL files, one per session.

The workspace is --workspace, else $PICOSESS_WORKSPACE, else ~/.workspace.`,
	}
	f := root.PersistentFlags()
	f.StringVar(&a.workspaceDir, "workspace", "", "workspace directory (default $PICOSESS_WORKSPACE or ~/.workspace)")
	f.BoolVar(&a.jsonOut, "json", false, "machine-readable output on stdout")
	f.DurationVar(&a.lockTimeout, "lock-timeout", 10*time.Second, "how long to wait for a lock held by another process")

	root.AddCommand(
		newKeyCmd(a),
		newVersionCmd(a),
		newAppendCmd(a), newLsCmd(a), newShowCmd(a), newExportCmd(a), newRenameCmd(a), newResetCmd(a), newClearCmd(a), newRmCmd(a), newCheckpointCmd(a), newCheckCmd(a), newRepairCmd(a), newDemoCmd(a),
		newWatchCmd(a),
		newSearchCmd(a), newReindexCmd(a),
		newServeCmd(a),
	)
	return root
}

// root returns the workspace directory: the flag, else $PICOSESS_WORKSPACE,
// else ~/.workspace.
func (a *app) root() (string, error) {
	if a.workspaceDir != "" {
		return a.workspaceDir, nil
	}
	if env := a.getenv("PICOSESS_WORKSPACE"); env != "" {
		return env, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".workspace"), nil
}

// options are the workspace options the global flags choose: the lock
// timeout, and warnings (corrupt lines skipped...) logged to stderr.
func (a *app) options() *workspace.Options {
	return &workspace.Options{
		LockTimeout: a.lockTimeout,
		Logger:      slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// openWorkspace opens an existing workspace; a directory without
// sessions/ is not one (exit 10), and is not created.
func (a *app) openWorkspace() (*workspace.Workspace, error) {
	root, err := a.root()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(root, workspace.SessionsDir)); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s/ directory (create one with append, migrate or demo)", workspace.ErrNotWorkspace, root, workspace.SessionsDir)
	}
	return workspace.Open(root, a.options())
}

// createWorkspace opens the workspace, creating its layout if needed.
func (a *app) createWorkspace() (*workspace.Workspace, error) {
	root, err := a.root()
	if err != nil {
		return nil, err
	}
	return workspace.Open(root, a.options())
}
