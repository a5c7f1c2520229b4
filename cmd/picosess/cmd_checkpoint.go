package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/picosess/picosess/workspace"
	"github.com/spf13/cobra"
)

// checkpointOutput is the --json shape of checkpoint save, restore and rm
// (docs/cli.md).
type checkpointOutput struct {
	ID         string                `json:"id"`
	Seq        int64                 `json:"seq"` // of the record appended
	Checkpoint *workspace.Checkpoint `json:"checkpoint,omitempty"`
}

func newCheckpointCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "checkpoint save|ls|restore|rm SESSION ...",
		Short: "Save, list, restore and delete named points in a session's history",
		Long: `A checkpoint names the active history as it is now. Restoring it makes the
active history that again, followed by whatever is appended next; nothing is
removed from the file (show --all still has the messages after it).

  checkpoint save SESSION NAME [--description D]
  checkpoint ls SESSION
  checkpoint restore SESSION NAME|SEQ
  checkpoint rm SESSION NAME|SEQ

A later checkpoint of the same name supersedes the earlier one.

EXIT STATUS
  0 done; 1 bad usage, unknown or ambiguous SESSION, unknown checkpoint;
  10 not a workspace; 11 the session is locked.`,
		Args: cobra.NoArgs,
	}
	var desc string
	save := &cobra.Command{
		Use:   "save SESSION NAME [--description D]",
		Short: "Name the active history as it is now",
		Long: `Name the active history as it is now.

EXIT STATUS
  0 saved; 1 bad usage or unknown SESSION; 10 not a workspace; 11 locked.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withSession(cmd, args[0], func(s *workspace.Session) error {
				c, err := s.SaveCheckpoint(cmd.Context(), args[1], desc)
				if err != nil {
					return err
				}
				if a.jsonOut {
					return a.writeJSON(checkpointOutput{ID: s.ID(), Seq: c.Seq, Checkpoint: &c})
				}
				_, err = fmt.Fprintf(a.stdout, "checkpoint %q saved as #%d (history through #%d)\n", c.Name, c.Seq, c.Through)
				return err
			})
		},
	}
	save.Flags().StringVar(&desc, "description", "", "what the checkpoint is for")
	ls := &cobra.Command{
		Use:   "ls SESSION",
		Short: "List the checkpoints of a session",
		Long: `List the live checkpoints of a session, oldest first. --json prints a JSON
array of {seq, name, description, through, at}.

EXIT STATUS
  0 listed; 1 unknown SESSION; 10 not a workspace.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withSession(cmd, args[0], func(s *workspace.Session) error {
				list, err := s.Checkpoints(cmd.Context())
				if err != nil {
					return err
				}
				if a.jsonOut {
					if list == nil {
						list = []workspace.Checkpoint{}
					}
					return a.writeJSON(list)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "SEQ\tNAME\tTHROUGH\tAT\tDESCRIPTION")
				for _, c := range list {
					fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\n", c.Seq, c.Name, c.Through, c.At.UTC().Format(time.RFC3339), clip(c.Description, 60))
				}
				return tw.Flush()
			})
		},
	}
	restore := &cobra.Command{
		Use:   "restore SESSION NAME|SEQ",
		Short: "Make a checkpoint's history the active history again",
		Long: `Make a checkpoint's history the active history again (a restore record).

EXIT STATUS
  0 restored; 1 unknown SESSION or checkpoint; 10 not a workspace; 11 locked.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withSession(cmd, args[0], func(s *workspace.Session) error {
				seq, err := s.RestoreCheckpoint(cmd.Context(), args[1])
				if err != nil {
					return err
				}
				if a.jsonOut {
					return a.writeJSON(checkpointOutput{ID: s.ID(), Seq: seq})
				}
				_, err = fmt.Fprintf(a.stdout, "checkpoint %s restored (#%d)\n", args[1], seq)
				return err
			})
		},
	}
	rm := &cobra.Command{
		Use:   "rm SESSION NAME|SEQ",
		Short: "Withdraw a checkpoint",
		Long: `Withdraw a checkpoint: it is no longer listed or restorable (a
checkpoint_delete record; a restore made before stays valid).

EXIT STATUS
  0 withdrawn; 1 unknown SESSION or checkpoint; 10 not a workspace; 11 locked.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withSession(cmd, args[0], func(s *workspace.Session) error {
				seq, err := s.DeleteCheckpoint(cmd.Context(), args[1])
				if err != nil {
					return err
				}
				if a.jsonOut {
					return a.writeJSON(checkpointOutput{ID: s.ID(), Seq: seq})
				}
				_, err = fmt.Fprintf(a.stdout, "checkpoint %s withdrawn (#%d)\n", args[1], seq)
				return err
			})
		},
	}
	cmd.AddCommand(save, ls, restore, rm)
	return cmd
}

// withSession opens the workspace, resolves ref and runs f on the session.
func (a *app) withSession(cmd *cobra.Command, ref string, f func(*workspace.Session) error) error {
	s, closeWS, err := a.openSession(cmd.Context(), ref)
	if err != nil {
		return err
	}
	defer closeWS()
	return f(s)
}
