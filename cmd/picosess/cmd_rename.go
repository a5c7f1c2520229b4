package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// titleOutput is the --json shape of rename (docs/cli.md).
type titleOutput struct {
	ID    string `json:"id"`
	Seq   int64  `json:"seq"`
	Title string `json:"title"`
}

func newRenameCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "rename SESSION TITLE",
		Short: "Set the title of a session",
		Long: `Set the title of a session (a title record is appended; the earlier title
stays in the file). An empty TITLE ("") brings back the default title: the
first user message.

EXIT STATUS
  0 renamed; 1 unknown or ambiguous SESSION; 10 not a workspace;
  11 the session is locked by another process.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, closeWS, err := a.openSession(ctx, args[0])
			if err != nil {
				return err
			}
			defer closeWS()
			seq, err := s.SetTitle(ctx, args[1])
			if err != nil {
				return err
			}
			m, err := s.Meta(ctx)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.writeJSON(titleOutput{ID: s.ID(), Seq: seq, Title: m.Title})
			}
			_, err = fmt.Fprintf(a.stdout, "%s is now %q\n", shortID(s.ID()), m.Title)
			return err
		},
	}
}
