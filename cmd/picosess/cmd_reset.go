package main

import (
	"fmt"

	"github.com/picosess/picosess/workspace"
	"github.com/spf13/cobra"
)

// resetOutput is the --json shape of reset and clear (docs/cli.md).
type resetOutput struct {
	ID     string `json:"id"`
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

func newResetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "reset [SESSION]",
		Short: "Start a new conversation in a session",
		Long: `Start a new conversation in a session: a reset record (reason "manual") is
appended, and the active history is empty from here. The earlier
conversation stays in the file: show --all, export --all and search see it.

Without SESSION: the session $PICOSESS_SESSION names, else config.json's
session.name (as append uses).

EXIT STATUS
  0 reset; 1 unknown or ambiguous SESSION; 10 not a workspace;
  11 the session is locked by another process.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := a.currentSession(args)
			if err != nil {
				return err
			}
			return a.runReset(cmd, ref, workspace.ReasonManual)
		},
	}
}

func newClearCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "clear [SESSION]",
		Short: "Clear the active history of a session (a reset with reason clear)",
		Long: `Clear the active history of a session: like reset, with reason "clear" (the
user asked to forget the conversation, as PicoClaw's /clear does). Nothing is
deleted from the file; rm deletes a whole session.

Without SESSION: the session $PICOSESS_SESSION names, else config.json's
session.name (as append uses).

EXIT STATUS
  0 cleared; 1 unknown or ambiguous SESSION; 10 not a workspace;
  11 the session is locked by another process.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := a.currentSession(args)
			if err != nil {
				return err
			}
			return a.runReset(cmd, ref, workspace.ReasonClear)
		},
	}
}

func (a *app) runReset(cmd *cobra.Command, ref, reason string) error {
	ctx := cmd.Context()
	s, closeWS, err := a.openSession(ctx, ref)
	if err != nil {
		return err
	}
	defer closeWS()
	seq, err := s.Reset(ctx, reason)
	if err != nil {
		return err
	}
	if a.jsonOut {
		return a.writeJSON(resetOutput{ID: s.ID(), Seq: seq, Reason: reason})
	}
	_, err = fmt.Fprintf(a.stdout, "%s: new conversation from #%d (%s); the earlier one stays in the file (show --all)\n", shortID(s.ID()), seq, reason)
	return err
}
