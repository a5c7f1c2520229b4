package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/picosess/picosess/migrate"
	"github.com/picosess/picosess/summarize"
	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/index"
	"github.com/spf13/cobra"
)

// Error codes: the "code" of an error printed with --json, one per class
// of error, stable across releases (docs/cli.md lists them).
const (
	codeUsage        = "usage"         // a flag or an argument is wrong
	codeNotFound     = "not_found"     // no such session, checkpoint, trash entry...
	codeAmbiguous    = "ambiguous"     // a reference matches several
	codeLocked       = "locked"        // a lock stayed held past --lock-timeout
	codeNotWorkspace = "not_workspace" // the directory is not a workspace
	codeConfig       = "config"        // config.json or a summarizer setting is wrong
	codeCorrupt      = "corrupt"       // a file or the index is damaged
	codeNotRegular   = "not_regular"   // a symlink, directory, pipe... where a file of ours belongs
	codeExists       = "exists"        // something is in the way
	codeTrashed      = "trashed"       // the session is in the trash
	codeTimeOrder    = "time_order"    // a record dated before the session's last
	codeBadQuery     = "bad_query"     // the search query does not parse
	codeChanged      = "changed"       // the data changed under the command; run it again
	codeSummarizer   = "summarizer"    // the summarizer failed
	codeNotLegacy    = "not_legacy"    // migrate --from names no legacy install
	codeLiveWriter   = "live_writer"   // migrate: the legacy assistant is running
	codePartial      = "partial"       // exit 3: part done, or repairable problems
	codeUnrepairable = "unrepairable"  // exit 4
	codeInterrupted  = "interrupted"   // exit 130
	codeFailure      = "failure"       // anything else
	codeIndex        = "index"         // exit 12: the search index cannot be written (or read) here
	codeKeyRequired  = "key_required"  // exit 13: the session is encrypted and no key was given
	codeWrongKey     = "wrong_key"     // exit 13: not the key the session was encrypted with
	codeNotEncrypted = "not_encrypted" // exit 13: encryption is enabled and the session is plaintext
	codeKey          = "key"           // exit 13: the key file or key cannot be used
	codeTampered     = "tampered"      // exit 4: an encrypted record failed authentication
	codeIndexOff     = "index_off"     // search in an encrypted workspace without encryption.index
)

// Codes of records append refuses, and of faults of the disk.
const (
	codeInvalid    = "invalid_record" // a record given to append means nothing in the session
	codeTooLarge   = "too_large"      // a record over the workspace's size limit
	codeNoSpace    = "no_space"       // the disk (or a quota) is full
	codeReadOnly   = "read_only"      // the workspace is on a read-only file system
	codePermission = "permission"     // the process may not write (or read) there
)

// exitIndex: the search index directory cannot be written or read by this
// process (permissions, a read-only mount, a full disk). It is not damage
// (a damaged index is rebuilt by itself); the message says what to do.
const exitIndex = 12

// errorCodes is the one table from errors to exit codes (docs/cli.md,
// "Exit codes") and to the code of a --json error, matched with errors.Is in
// order: the first row that matches wins, so a more specific error comes
// before the one it wraps. Errors not listed exit 1 with code "failure";
// context.Canceled after an interrupt exits 130 (classify). The
// not-found and ambiguity messages come from lookup, which adds what to
// do next.
var errorCodes = []struct {
	err  error
	exit int
	code string
}{
	{workspace.ErrLocked, exitLocked, codeLocked},
	// The store (Redis) is away or lost the call: the append was not
	// acknowledged; a files-only command on a store is refused.
	{workspace.ErrStoreUnavailable, exitStore, codeStoreUnavailable},
	{workspace.ErrStoreUnsupported, exitFailure, codeStoreUnsupported},
	{workspace.ErrNotWorkspace, exitNotWS, codeNotWorkspace},
	{workspace.ErrTrashed, exitFailure, codeTrashed},
	{workspace.ErrNotFound, exitFailure, codeNotFound},
	{workspace.ErrAmbiguous, exitFailure, codeAmbiguous},
	{workspace.ErrExists, exitFailure, codeExists},
	{workspace.ErrConfig, exitFailure, codeConfig},
	{summarize.ErrSettings, exitFailure, codeConfig},
	// Encrypted workspaces (docs/encryption.md): no key, the wrong key, a
	// key that cannot be used, a plaintext session where encryption is
	// enabled (exit 13); a record that fails authentication (exit 4: a
	// person must look; before ErrCorrupt, which it also matches).
	{workspace.ErrTampered, exitUnrepairabl, codeTampered},
	{workspace.ErrKeyRequired, exitKey, codeKeyRequired},
	{workspace.ErrWrongKey, exitKey, codeWrongKey},
	{workspace.ErrPlaintextSession, exitKey, codeNotEncrypted},
	{errKeySource, exitKey, codeKey},
	{workspace.ErrConvert, exitRepairable, codePartial},
	{workspace.ErrIndexOff, exitFailure, codeIndexOff},
	// A session file no command may touch until a person has looked: no
	// session header (append refuses; the message says what repair or
	// migrate would do), or a symbolic link or other non-regular file where
	// a session or lock file belongs (never followed). Exit 4, as for
	// problems repair cannot fix by itself. ErrNoHeader before ErrCorrupt,
	// which a *NoHeaderError also matches.
	{workspace.ErrNoHeader, exitUnrepairabl, codeCorrupt},
	{workspace.ErrNotRegular, exitUnrepairabl, codeNotRegular},
	{workspace.ErrCorrupt, exitFailure, codeCorrupt},
	{index.ErrUnwritable, exitIndex, codeIndex},
	{index.ErrDamaged, exitFailure, codeCorrupt},
	{workspace.ErrTimeOrder, exitFailure, codeTimeOrder},
	// A record given to append that means nothing in the session or is
	// over the size limit: the message names the record and the field, or
	// the size and the limit. Nothing was written.
	{workspace.ErrInvalidRecord, exitFailure, codeInvalid},
	{workspace.ErrTooLarge, exitFailure, codeTooLarge},
	{index.ErrBadQuery, exitFailure, codeBadQuery},
	{summarize.ErrStale, exitFailure, codeChanged},
	{summarize.ErrBadResponse, exitFailure, codeSummarizer},
	{summarize.ErrEmptySummary, exitFailure, codeSummarizer},
	{migrate.ErrUsage, exitFailure, codeUsage},
	{migrate.ErrNotLegacy, exitFailure, codeNotLegacy},
	{migrate.ErrAmbiguousSource, exitFailure, codeAmbiguous},
	{migrate.ErrLiveWriter, exitFailure, codeLiveWriter},
	{migrate.ErrSourceChanged, exitFailure, codeChanged},
	// Faults of the disk, last so that what the library says of them
	// first (not a workspace, an index that cannot be written) wins; the
	// message carries the errno's words and the path.
	{syscall.ENOSPC, exitFailure, codeNoSpace},
	{syscall.EDQUOT, exitFailure, codeNoSpace},
	{syscall.EROFS, exitFailure, codeReadOnly},
	{syscall.EACCES, exitFailure, codePermission},
	{syscall.EPERM, exitFailure, codePermission},
}

// exitError carries an exit code chosen by a command (for example 3 from
// check). A nil err and empty msg print nothing. code, when set, is the
// code of the --json error (usageErrorf sets "usage"); otherwise err, then
// the exit code, decide it.
type exitError struct {
	code int
	msg  string
	err  error
	kind string
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

// usageErrorf is a bad flag or argument: exit 1, code "usage", and the
// message points to the command's --help (run adds it). The message names
// the flag or argument.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitFailure, msg: fmt.Sprintf(format, args...), kind: codeUsage}
}

// classify maps an error to its exit code and --json code, in this one
// place.
func classify(ctx context.Context, err error) (exit int, code string) {
	var ee *exitError
	if errors.As(err, &ee) {
		exit = ee.code
		switch {
		case ee.kind != "":
			return exit, ee.kind
		case ee.err != nil:
			if _, c := classifyLibrary(ee.err); c != "" {
				return exit, c
			}
		}
		switch exit {
		case exitLocked:
			return exit, codeLocked
		case exitNotWS:
			return exit, codeNotWorkspace
		case exitRepairable:
			return exit, codePartial
		case exitUnrepairabl:
			return exit, codeUnrepairable
		case exitInterrupted:
			return exit, codeInterrupted
		}
		return exit, codeFailure
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return exitInterrupted, codeInterrupted
	}
	if exit, code := classifyLibrary(err); code != "" {
		return exit, code
	}
	return exitFailure, codeFailure
}

func classifyLibrary(err error) (int, string) {
	for _, m := range errorCodes {
		if errors.Is(err, m.err) {
			return m.exit, m.code
		}
	}
	return exitFailure, ""
}

// exitCode is the process exit code for err.
func exitCode(ctx context.Context, err error) int {
	code, _ := classify(ctx, err)
	return code
}

// usageError marks an error cobra found in the flags or arguments of c
// as a usage error; the usage line names the arguments c takes.
func usageError(c *cobra.Command, err error) error {
	msg := err.Error()
	if use := strings.TrimSuffix(c.UseLine(), " [flags]"); !strings.Contains(msg, "flag") {
		msg += "\n  usage: " + use
	}
	return &exitError{code: exitFailure, msg: msg, kind: codeUsage}
}

// markUsageErrors makes every flag and argument error of the tree a
// usage error: the flag-error function of the root (inherited), and each
// command's argument validator.
func markUsageErrors(root *cobra.Command) {
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError(c, err) })
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if args := c.Args; args != nil {
			c.Args = func(c *cobra.Command, a []string) error {
				if err := args(c, a); err != nil {
					return usageError(c, err)
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// errorJSON is what --json prints on stderr for an error (docs/cli.md).
type errorJSON struct {
	Error string `json:"error"`
	Code  string `json:"code"`
	Exit  int    `json:"exit"`
	Hint  string `json:"hint,omitempty"`
}
