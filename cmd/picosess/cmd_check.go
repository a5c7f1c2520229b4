package main

import (
	"context"
	"fmt"
	"io"

	"github.com/picosess/picosess/workspace"
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
}

// indexHealth is what check says about the search index (workspace/index),
// and what repair did to it.
type indexHealth struct {
	State  string `json:"state"` // ok, behind, damaged, rebuilt, missing
	Detail string `json:"detail,omitempty"`
}

// checkIndex and rebuildIndex are the hooks for the search index: once
// workspace/index exports a read-only check and a rebuild, check reports an
// index that is behind or damaged (repairable: exit 3) and repair rebuilds
// it. Until then they report nothing (nil), and check and repair cover the
// session files only. The index is derived data: sessions/ is the truth.
func checkIndex(ctx context.Context, w *workspace.Workspace) (*indexHealth, error) { return nil, nil }

func rebuildIndex(ctx context.Context, w *workspace.Workspace, dryRun bool) (*indexHealth, error) {
	return nil, nil
}

func newCheckCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Check every session file (read-only)",
		Long: `Check every session file of the workspace without changing anything: torn
tails (a crash mid-write), lines that are not records, bad headers, ids that
do not match their file, seqs out of order or used twice.

Errors marked repairable are set aside by picosess repair (the bytes are kept
in a file next to the session). A file being appended to while check runs
may show a torn tail that is only a write in progress: run check again.

--json prints one object (docs/cli.md).

EXIT STATUS
  0 no errors (warnings are printed but do not count); 3 errors that repair
  can fix; 4 errors repair cannot fix (4 wins over 3); 1 failure;
  10 not a workspace; 130 interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			w, err := a.openWorkspace()
			if err != nil {
				return err
			}
			defer w.Close()
			rep, err := w.Check(ctx)
			if err != nil {
				return err
			}
			out := checkOutput{Checked: len(rep.Files), Files: []workspace.FileReport{}}
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
			if out.Index != nil && out.Index.State != "ok" {
				out.Repairable++
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
		fmt.Fprintf(ew, "index: %s %s\n", out.Index.State, out.Index.Detail)
	}
	fmt.Fprintf(ew, "checked %d session file(s): %d repairable error(s), %d unrepairable, %d warning(s)\n",
		out.Checked, out.Repairable, out.Unrepairable, out.Warnings)
	switch {
	case out.Unrepairable > 0:
		fmt.Fprintln(ew, "some errors need a person: the hints above say what is wrong; repair sets aside what it can")
	case out.Repairable > 0:
		fmt.Fprintln(ew, "run picosess repair to set the damaged bytes aside (picosess repair --dry-run shows what it would do)")
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
