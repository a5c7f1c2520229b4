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

	"github.com/picosess/picosess/workspace"
	"github.com/spf13/cobra"
)

// app holds what every command shares: the global flags and the streams.
type app struct {
	workspaceDir string
	jsonOut      bool
	lockTimeout  time.Duration
	// quiet leaves only data (stdout) and errors; verbose adds info-level
	// logs on stderr.
	quiet, verbose bool

	stdin io.Reader
	// stderr is for progress, notes and warnings (io.Discard with
	// --quiet); errOut is the real standard error, for errors and
	// questions.
	stdout, stderr, errOut io.Writer
	getenv                 func(string) string

	termOnce sync.Once
	termOut  *termOut

	// cfg is config.json as loadConfig read it (nil until then).
	cfg *workspace.Config
	// noConfig opens the workspace without its config (check, repair: a
	// broken config must not stop them).
	noConfig bool
	// keyFile is --key-file: the master key of an encrypted workspace
	// (keysource.go).
	keyFile string
	// storeFlag is --store: files, or a redis:// URL (store.go).
	storeFlag string
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

The workspace is --workspace, else $PICOSESS_WORKSPACE, else ~/.workspace.

Output is styled only on a terminal, and not when NO_COLOR is set or
TERM=dumb. --quiet leaves only data and errors; --verbose adds info logs.
With --json, errors are one JSON object on stderr:
{"error": "...", "code": "not_found", "exit": 1} (docs/cli.md lists the codes).`,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if a.quiet && a.verbose {
				return usageErrorf("--quiet and --verbose: give one")
			}
			if a.quiet {
				a.stderr = io.Discard
			}
			return nil
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	f := root.PersistentFlags()
	f.StringVar(&a.workspaceDir, "workspace", "", "workspace directory (default $PICOSESS_WORKSPACE or ~/.workspace)")
	f.BoolVar(&a.jsonOut, "json", false, "machine-readable output on stdout; errors as JSON on stderr")
	f.DurationVar(&a.lockTimeout, "lock-timeout", 10*time.Second, "how long to wait for a lock held by another process")
	f.BoolVarP(&a.quiet, "quiet", "q", false, "print only data and errors (no progress, notes or warnings)")
	f.BoolVar(&a.verbose, "verbose", false, "print more detail on stderr (info-level logs)")
	f.StringVar(&a.storeFlag, "store", "", "where the records are: files, or redis://host:port/db (default $PICOSESS_STORE, then config.json's store block; docs/redis.md)")
	f.StringVar(&a.keyFile, "key-file", "", "master key file of an encrypted workspace (default $PICOSESS_KEY, then encryption.key_file; docs/encryption.md)")

	root.AddCommand(
		newKeyCmd(a),
		newVersionCmd(a),
		newAppendCmd(a), newLsCmd(a), newShowCmd(a), newExportCmd(a), newRenameCmd(a), newResetCmd(a), newClearCmd(a), newRmCmd(a), newCheckpointCmd(a), newCheckCmd(a), newRepairCmd(a), newDemoCmd(a),
		newCleanupCmd(a), newPolicyCmd(a),
		newWatchCmd(a),
		newSearchCmd(a), newReindexCmd(a),
		newSummarizeCmd(a),
		newContextCmd(a),
		newMigrateCmd(a), newStoreCmd(a),
		newServeCmd(a),
		newManCmd(a),
		newKeygenCmd(a), newEncryptCmd(a), newDecryptCmd(a), newRekeyCmd(a),
	)
	registerCompletions(root, a)
	markUsageErrors(root)
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
// token counter config.json names (the workspace's default), and config.json (read
// once; a broken config is an error, except for check and repair).
func (a *app) options() (*workspace.Options, error) {
	o := &workspace.Options{
		LockTimeout: a.lockTimeout,
		Logger:      a.logger(),
		NoConfig:    a.noConfig,
	}
	if !a.noConfig {
		cfg, err := a.loadConfig()
		if err != nil {
			return nil, err
		}
		o.Config = cfg
	}
	root, err := a.root()
	if err != nil {
		return nil, err
	}
	if o.Key, err = a.masterKey(root, o.Config); err != nil {
		return nil, err
	}
	if o.Store, err = a.openStore(o.Config); err != nil {
		return nil, err
	}
	return o, nil
}

// logger logs warnings to stderr; with --verbose, info too; with
// --quiet, nothing (stderr is then discarded).
func (a *app) logger() *slog.Logger {
	level := slog.LevelWarn
	if a.verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
}

// log is the logger of the CLI's own notes (what --verbose adds).
func (a *app) log() *slog.Logger { return a.logger() }

// openWorkspace opens an existing workspace; a directory without
// sessions/ is not one (exit 10), and is not created.
func (a *app) openWorkspace() (*workspace.Workspace, error) {
	root, err := a.root()
	if err != nil {
		return nil, err
	}
	// On a store, this directory is only this machine's config, cache
	// and index: it is made when missing.
	if _, err := os.Stat(filepath.Join(root, workspace.SessionsDir)); errors.Is(err, fs.ErrNotExist) && !a.onStore() {
		return nil, fmt.Errorf("%w: %s has no %s/ directory (create one with append, migrate or demo)", workspace.ErrNotWorkspace, root, workspace.SessionsDir)
	}
	o, err := a.options()
	if err != nil {
		return nil, err
	}
	a.log().Info("opening workspace", "root", root)
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
