package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/index"
	"github.com/spf13/cobra"
)

// checkOutput is the --json shape of check (docs/cli.md). Files lists only
// the session files with problems.
type checkOutput struct {
	Checked      int                    `json:"checked"`
	Clean        bool                   `json:"clean"`
	Repairable   int                    `json:"repairable"`
	Unrepairable int                    `json:"unrepairable"`
	Warnings     int                    `json:"warnings"`
	Files        []workspace.FileReport `json:"files"`
	Index        *indexHealth           `json:"index,omitempty"`
	// Store: where the records are, when not in files, and what its
	// server keeps on disk (a warning when a restart would lose data).
	Store *storeHealth `json:"store,omitempty"`
}

// indexHealth is what check says about the search index (workspace/index),
// and what repair did to it.
type indexHealth struct {
	// State: ok, missing (never built; the first search builds it),
	// behind (sessions changed since the index read them; the next search
	// catches up), damaged (unreadable: repair rebuilds it), locked (a
	// process that searches holds it), caught_up and rebuilt (after repair).
	State    string `json:"state"`
	Detail   string `json:"detail,omitempty"`
	Sessions int    `json:"sessions"`
	Behind   int    `json:"behind"` // sessions changed since indexed
	Stale    int    `json:"stale"`  // deleted sessions still indexed
}

// checkIndex asks the search index whether it is damaged or behind the
// session files, without changing it. The index is derived data: only
// damage counts as a (repairable) error; an index that is missing or
// behind is normal between searches. A lock held by a searching process is
// reported, not waited on past the lock timeout.
func checkIndex(ctx context.Context, w *workspace.Workspace) (*indexHealth, error) {
	if err := w.IndexAllowed(); err != nil {
		return &indexHealth{State: "off", Detail: "encrypted workspace: search is off unless encryption.index is set (docs/encryption.md)"}, nil
	}
	r, err := index.Check(ctx, w)
	switch {
	case errors.Is(err, workspace.ErrLocked):
		return &indexHealth{State: "locked", Detail: err.Error()}, nil
	case err != nil:
		return nil, err
	}
	h := &indexHealth{State: "ok", Sessions: r.Sessions, Behind: len(r.Behind), Stale: len(r.Stale)}
	switch {
	case !r.Exists:
		h.State, h.Detail = "missing", "no index yet: the first search (or repair) builds it"
	case r.Damaged != "":
		h.State, h.Detail = "damaged", r.Damaged
	case !r.Clean():
		h.State = "behind"
		h.Detail = fmt.Sprintf("%d session(s) changed and %d deleted since indexed; the next search catches up", h.Behind, h.Stale)
	}
	return h, nil
}

// repairIndex rebuilds a damaged (or missing) index and catches up one
// that is behind; in a dry run it only says which it would do.
func repairIndex(ctx context.Context, w *workspace.Workspace, dryRun bool) (*indexHealth, error) {
	h, err := checkIndex(ctx, w)
	if err != nil || h.State == "ok" || h.State == "locked" || h.State == "off" {
		return h, err
	}
	if dryRun {
		h.Detail = "would rebuild: " + h.Detail
		if h.State == "behind" {
			h.Detail = "would catch up: " + h.Detail
		}
		return h, nil
	}
	var st index.Stats
	if h.State == "behind" {
		x, err := index.Open(w, nil)
		if err != nil {
			return nil, err
		}
		st, err = x.CatchUp(ctx, nil)
		if cerr := x.Close(); err == nil {
			err = cerr
		}
		h.State = "caught_up"
		if err != nil {
			return nil, fmt.Errorf("index catch-up: %w", err)
		}
	} else {
		if st, err = index.Rebuild(ctx, w, nil); err != nil {
			return nil, fmt.Errorf("index rebuild: %w", err)
		}
		h.State = "rebuilt"
	}
	h.Detail = fmt.Sprintf("%d session(s) read, %d record(s), %d document(s)", st.Sessions, st.Records, st.Docs)
	return h, nil
}

// openForCheck opens the workspace as check reads it: without its
// config (a broken config.json must not stop it) and creating nothing, so
// that check changes nothing, also on a read-only or full disk.
func (a *app) openForCheck() (*workspace.Workspace, error) {
	a.noConfig = true
	root, err := a.root()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(root, workspace.SessionsDir)); errors.Is(err, fs.ErrNotExist) && !a.onStore() {
		return nil, fmt.Errorf("%w: %s has no %s/ directory", workspace.ErrNotWorkspace, root, workspace.SessionsDir)
	}
	o, err := a.options()
	if err != nil {
		return nil, err
	}
	o.NoCreate = true
	return workspace.Open(root, o)
}

func newCheckCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Check every session file (read-only)",
		Long: `Check every session file of the workspace without changing anything: torn
tails (a crash mid-write), lines that are not records, bad headers, ids that
do not match their file, seqs out of order or used twice.

Then every entry of sessions/, sessions/.trash/ and locks/ that picosess did
not make: a symbolic link, directory, named pipe or other non-regular file
where picosess keeps files (not_regular; links are reported, never
followed), and a file whose name picosess does not give its files there
(foreign_file). Both are errors repair cannot fix: a person must look.

The search index (index/) is checked too: damage is a repairable error
(repair rebuilds it); an index that is missing or behind the session files
is normal between searches and only reported.

check writes nothing, not even a lock file's holder line (it takes the search
index's lock shared, read-only), so it works on a read-only or full disk.

Errors marked repairable are set aside by picosess repair (the bytes are kept
in a file next to the session); seqs used twice or going back (two writers
without the lock) are renumbered by repair, the original file kept whole.
Records that refer to nothing of their kind (invalid_record) are set aside;
records over the read limit (oversized_record) are warnings. A file being appended to while check runs
may show a torn tail that is only a write in progress: run check again.

--json prints one object (docs/cli.md).

EXIT STATUS
  0 no errors (warnings are printed but do not count); 3 errors that repair
  can fix; 4 errors repair cannot fix (4 wins over 3); 1 failure;
  10 not a workspace; 130 interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			w, err := a.openForCheck()
			if err != nil {
				return err
			}
			defer w.Close()
			rep, err := w.Check(ctx)
			if err != nil {
				return err
			}
			out := checkOutput{Checked: rep.Checked, Files: []workspace.FileReport{}}
			out.Repairable, out.Unrepairable = rep.Errors()
			for _, f := range rep.Files {
				if len(f.Problems) > 0 {
					out.Files = append(out.Files, f)
				}
				for _, p := range f.Problems {
					if p.Severity == workspace.SeverityWarning {
						out.Warnings++
					}
				}
			}
			if out.Index, err = checkIndex(ctx, w); err != nil {
				return err
			}
			if out.Index.State == "damaged" {
				out.Repairable++
			}
			if out.Store, err = checkStore(ctx, w); err != nil {
				return err
			}
			if out.Store != nil && out.Store.Warning != "" {
				out.Warnings++
			}
			if out.Store != nil && out.Store.ReplicaWarning != "" {
				out.Warnings++
			}
			out.Clean = out.Repairable == 0 && out.Unrepairable == 0
			if a.jsonOut {
				if err := a.writeJSON(out); err != nil {
					return err
				}
			} else if err := writeCheckText(a.stdout, out); err != nil {
				return err
			}
			switch {
			case out.Unrepairable > 0:
				return &exitError{code: exitUnrepairabl}
			case out.Repairable > 0:
				return &exitError{code: exitRepairable}
			}
			return nil
		},
	}
}

func writeCheckText(w io.Writer, out checkOutput) error {
	ew := &errWriter{w: w}
	for _, f := range out.Files {
		fmt.Fprintf(ew, "%s\n", f.Path)
		writeProblems(ew, f.Problems)
	}
	if out.Index != nil {
		fmt.Fprintf(ew, "search index: %s", out.Index.State)
		if out.Index.Detail != "" {
			fmt.Fprintf(ew, " (%s)", out.Index.Detail)
		}
		fmt.Fprintln(ew)
	}
	if st := out.Store; st != nil {
		fmt.Fprintf(ew, "store: %s %s", st.Kind, st.Addr)
		if st.Persistence != nil && st.Persistence.AOF {
			fmt.Fprintf(ew, " (appendonly, appendfsync %s)", st.Persistence.Fsync)
		}
		fmt.Fprintln(ew)
		if st.Warning != "" {
			fmt.Fprintf(ew, "  warning store_persistence: %s\n", st.Warning)
		}
		if st.ReplicaWarning != "" {
			fmt.Fprintf(ew, "  warning store_replicas: %s\n", st.ReplicaWarning)
		}
	}
	fmt.Fprintf(ew, "checked %d session file(s): %d repairable error(s), %d unrepairable, %d warning(s)\n",
		out.Checked, out.Repairable, out.Unrepairable, out.Warnings)
	switch {
	case out.Unrepairable > 0:
		fmt.Fprintln(ew, "some errors need a person: the hints above say what is wrong; repair sets aside what it can")
	case out.Repairable > 0:
		fmt.Fprintln(ew, "run picosess repair to fix them (picosess repair --dry-run shows what it would do)")
	}
	return ew.err
}

func writeProblems(w io.Writer, ps []workspace.Problem) {
	for _, p := range ps {
		fix := ""
		if p.Severity == workspace.SeverityError {
			fix = "  [cannot be repaired]"
			if p.Repairable {
				fix = "  [repairable]"
			}
		}
		where := ""
		if p.Line > 0 {
			where = fmt.Sprintf(" line %d", p.Line)
		}
		if p.Length > 0 {
			where += fmt.Sprintf(" offset %d (%d bytes)", p.Offset, p.Length)
		}
		fmt.Fprintf(w, "  %-7s %s%s: %s%s\n", p.Severity, p.Kind, where, p.Hint, fix)
	}
}
