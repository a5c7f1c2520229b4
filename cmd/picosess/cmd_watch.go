package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/picosess/picosess/workspace"
	"github.com/spf13/cobra"
)

// watchLine is the --json shape of watch: one object per record.
type watchLine struct {
	Session string           `json:"session"`
	Record  workspace.Record `json:"record"`
}

func newWatchCmd(a *app) *cobra.Command {
	var (
		fromStart bool
		poll      time.Duration
	)
	cmd := &cobra.Command{
		Use:   "watch [SESSION]",
		Short: "Print records as any process appends them",
		Long: `Follow the workspace (or one SESSION) and print every record appended from now
on, by any process, until interrupted. With --from-start, print the session's
existing records first. Changes are noticed through file-system events and a
rescan every --poll, since events alone can be lost.

--json prints JSON Lines: {"session": ID, "record": RECORD}.

When config.json has a cleanup block (older_than or ttl, purge_after), watch
applies it at start and every cleanup.interval (default 1h), as serve does.

EXIT STATUS
  0 stopped by an interrupt; 1 failure; 10 not a workspace.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := a.openWorkspace()
			if err != nil {
				return err
			}
			defer w.Close()
			o := workspace.WatchOptions{Poll: poll, FromStart: fromStart}
			if len(args) == 1 {
				s, err := w.Lookup(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				o.Session = s.ID()
			} else if fromStart {
				return usageErrorf("--from-start needs a SESSION")
			}
			enc := json.NewEncoder(a.stdout)
			enc.SetEscapeHTML(false)
			ctx, cancel := context.WithCancel(cmd.Context())
			defer a.cleanupInBackground(ctx, w)()
			defer cancel()
			return w.Watch(ctx, o, func(id string, e workspace.Entry) error {
				if a.jsonOut {
					return enc.Encode(watchLine{Session: id, Record: e.Record})
				}
				t := a.term()
				_, err := fmt.Fprintf(a.stdout, "%s %s %s\n", t.faint(fmt.Sprintf("%s #%d", id[:14], e.Seq)),
					t.faint(e.At.Local().Format("15:04:05")), describeRecord(e.Record, t))
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&fromStart, "from-start", false, "print the session's existing records first")
	cmd.Flags().DurationVar(&poll, "poll", workspace.DefaultPollInterval, "rescan interval")
	return cmd
}

// describeRecord is a one-line human form of any record, control
// characters escaped; t styles the author.
func describeRecord(r workspace.Record, t *termOut) string {
	switch r.Type {
	case workspace.TypeMessage:
		who := flat(r.Role)
		if r.Sender != "" {
			who += " (" + flat(r.Sender) + ")"
		}
		return t.bold(who) + ": " + clip(r.Content, 200)
	case workspace.TypeSummary:
		return fmt.Sprintf("summary through #%d: %s", r.Through, clip(r.Text, 160))
	case workspace.TypeTitle:
		return "title: " + flat(r.Text)
	case workspace.TypeReset:
		return "reset (" + flat(r.Reason) + ")"
	case workspace.TypeCheckpoint:
		return "checkpoint " + flat(r.Name)
	case workspace.TypeRestore:
		return fmt.Sprintf("restore checkpoint #%d", r.Checkpoint)
	case workspace.TypeSession:
		return "session " + flat(r.ID)
	}
	return flat(r.Type)
}
