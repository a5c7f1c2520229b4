package main

import (
	"fmt"
	"io"

	"github.com/picosess/picosess/workspace"
	"github.com/spf13/cobra"
)

// repairOutput is the --json shape of repair (docs/cli.md).
type repairOutput struct {
	*workspace.RepairReport
	Index *indexHealth `json:"index,omitempty"`
}

func newRepairCmd(a *app) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "repair [--dry-run]",
		Short: "Set damaged bytes of session files aside",
		Long: `Repair what check calls repairable, file by file under each session's lock:
a torn tail (a crash mid-write) is copied to <file>.torn-<time> and cut off;
lines that are not records, and records that refer to nothing of their kind
(invalid_record), are copied to <file>.corrupt-<time> and the good lines are
kept; seqs used twice or going back (two writers without the lock) are
renumbered into a new file (the records before the first conflict keep their
seqs; references follow their records) and the original is kept whole as
<file>.orig-<time>. Nothing is dropped without a copy, and the report names
every byte range moved. Running repair again finds nothing to do. Symbolic links,
other non-regular entries and foreign files that check reports are left as
they are and listed as remaining (exit 4).

Then the search index (index/, derived from the session files): a damaged or
missing index is rebuilt, one behind the files catches up.

--dry-run reports what would be set aside and changes nothing.

EXIT STATUS
  0 repaired, or nothing to do; 3 with --dry-run: there is something to
  repair; 4 problems remain that repair cannot fix (see check); 1 failure;
  10 not a workspace; 11 a session stayed locked by another process;
  130 interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			a.noConfig = true // a broken config.json must not stop it
			w, err := a.openWorkspace()
			if err != nil {
				return err
			}
			defer w.Close()
			rep, err := w.Repair(ctx, workspace.RepairOptions{DryRun: dryRun})
			if err != nil {
				if rep != nil && len(rep.SetAside) > 0 {
					// Say what was done before the failure.
					_ = writeRepairText(a.stderr, repairOutput{RepairReport: rep})
				}
				return err
			}
			out := repairOutput{RepairReport: rep}
			if out.Index, err = repairIndex(ctx, w, dryRun); err != nil {
				return err
			}
			if a.jsonOut {
				if err := a.writeJSON(out); err != nil {
					return err
				}
			} else if err := writeRepairText(a.stdout, out); err != nil {
				return err
			}
			unrepairable := 0
			for _, f := range rep.Remaining {
				for _, p := range f.Problems {
					if p.Severity == workspace.SeverityError {
						unrepairable++
					}
				}
			}
			switch {
			case unrepairable > 0:
				return &exitError{code: exitUnrepairabl}
			case dryRun && (len(rep.SetAside) > 0 || len(rep.Renumbered) > 0 || len(rep.Trashed) > 0 || out.Index != nil && out.Index.State == "damaged"):
				return &exitError{code: exitRepairable}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would be set aside; change nothing")
	return cmd
}

func writeRepairText(w io.Writer, out repairOutput) error {
	ew := &errWriter{w: w}
	verb := "set aside"
	if out.DryRun {
		verb = "would set aside"
	}
	var bytes int64
	for _, s := range out.SetAside {
		bytes += s.Bytes
		fmt.Fprintf(ew, "%s %s: %s, %d byte(s), %d line(s) from line %d (offset %d): %s\n", verb, s.File, s.Kind, s.Bytes, s.Lines, s.Line, s.Offset, s.Hint)
		if s.Aside != "" {
			fmt.Fprintf(ew, "  kept in %s\n", s.Aside)
		}
	}
	rverb := "renumbered"
	if out.DryRun {
		rverb = "would renumber"
	}
	for _, r := range out.Renumbered {
		fmt.Fprintf(ew, "%s %s: %d record(s) from line %d (seq %d) on, %d reference(s) with them; seqs now end at %d\n",
			rverb, r.File, r.Records, r.Line, r.Seq, r.References, r.LastSeq)
		if r.Aside != "" {
			fmt.Fprintf(ew, "  the original kept in %s\n", r.Aside)
		}
	}
	tverb := "put in the trash"
	if out.DryRun {
		tverb = "would put in the trash"
	}
	for _, id := range out.Trashed {
		fmt.Fprintf(ew, "%s %s: its conversation was moved into another session by a move a crash interrupted\n", tverb, id)
	}
	for _, f := range out.Remaining {
		if len(f.Problems) > 0 {
			fmt.Fprintf(ew, "remaining in %s:\n", f.Path)
			writeProblems(ew, f.Problems)
		}
	}
	if out.Index != nil {
		fmt.Fprintf(ew, "search index: %s (%s)\n", out.Index.State, out.Index.Detail)
	}
	switch {
	case len(out.SetAside) == 0 && len(out.Renumbered) == 0 && len(out.Trashed) == 0:
		fmt.Fprintln(ew, "session files: nothing to repair")
	case len(out.SetAside) == 0:
	default:
		fmt.Fprintf(ew, "%s %d range(s), %d byte(s) in all\n", verb, len(out.SetAside), bytes)
	}
	return ew.err
}
