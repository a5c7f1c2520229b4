package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/picosess/picosess/summarize"
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

	counterOnce sync.Once
	counter     func(workspace.Record) int

	// cfg is config.json as loadConfig read it (nil until then).
	cfg *workspace.Config
	// noConfig opens the workspace without its config (check, repair: a
	// broken config must not stop them).
	noConfig bool
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "picosess",
		Short:         "Sessions of chat assistants: keys, history, search, summaries, migration",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion().String(),
		Long: `picosess keeps the conversation history of self-hosted chat assistants in a
workspace directory of append-only JSONL files, one per session.

The workspace is --workspace, else $PICOSESS_WORKSPACE, else ~/.workspace.`,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	f := root.PersistentFlags()
	f.StringVar(&a.workspaceDir, "workspace", "", "workspace directory (default $PICOSESS_WORKSPACE or ~/.workspace)")
	f.BoolVar(&a.jsonOut, "json", false, "machine-readable output on stdout")
	f.DurationVar(&a.lockTimeout, "lock-timeout", 10*time.Second, "how long to wait for a lock held by another process")

	root.AddCommand(
		newKeyCmd(a),
		newVersionCmd(a),
		newAppendCmd(a), newLsCmd(a), newShowCmd(a), newExportCmd(a), newRenameCmd(a), newResetCmd(a), newClearCmd(a), newRmCmd(a), newCheckpointCmd(a), newCheckCmd(a), newRepairCmd(a), newDemoCmd(a),
		newCleanupCmd(a), newPolicyCmd(a),
		newWatchCmd(a),
		newSearchCmd(a), newReindexCmd(a),
		newSummarizeCmd(a),
		newContextCmd(a),
		newMigrateCmd(a),
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
// timeout, warnings (corrupt lines skipped...) logged to stderr, the
// configured token counter for what is appended, and config.json (read
// once; a broken config is an error, except for check and repair).
func (a *app) options() (*workspace.Options, error) {
	o := &workspace.Options{
		LockTimeout: a.lockTimeout,
		Logger:      a.logger(),
		CountTokens: a.countTokens,
		NoConfig:    a.noConfig,
	}
	if !a.noConfig {
		cfg, err := a.loadConfig()
		if err != nil {
			return nil, err
		}
		o.Config = cfg
	}
	return o, nil
}

// logger logs warnings to stderr.
func (a *app) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// countTokens counts a record's tokens as the summarize package does, with
// the counter the config chooses (tiktoken o200k_base by default). The
// counter is built on first use: commands that only read never pay for it.
func (a *app) countTokens(r workspace.Record) int {
	a.counterOnce.Do(func() { a.counter = a.buildCounter() })
	return a.counter(r)
}

func (a *app) buildCounter() func(workspace.Record) int {
	root, err := a.root()
	if err == nil {
		var cfg *workspace.Config
		if cfg, _, err = workspace.LoadConfig(root); err == nil {
			// Not a.loadConfig: its warnings are printed once already.
			var s summarize.Settings
			if s, err = summarize.FromConfig(cfg.Defaults()); err == nil {
				var c summarize.Counter
				if c, err = summarize.NewCounter(s); err == nil {
					return summarize.TokenFunc(c)
				}
			}
		}
	}
	fmt.Fprintf(a.stderr, "warning: token counter: %v; counting with the estimate\n", err)
	return workspace.EstimateTokens
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
	o, err := a.options()
	if err != nil {
		return nil, err
	}
	return workspace.Open(root, o)
}

// createWorkspace opens the workspace, creating its layout if needed.
func (a *app) createWorkspace() (*workspace.Workspace, error) {
	root, err := a.root()
	if err != nil {
		return nil, err
	}
	o, err := a.options()
	if err != nil {
		return nil, err
	}
	return workspace.Open(root, o)
}
