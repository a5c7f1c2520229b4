package main

import (
	"io"
	"os"
	"path/filepath"
	"time"

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
