package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/config"
	"github.com/spf13/cobra"
)

// cleanupOptions are the flags of cleanup.
type cleanupOptions struct {
	olderThan       string
	purgeAfter      string
	keepCheckpoints bool
	agent, channel  string
	dryRun          bool
}

func newCleanupCmd(a *app) *cobra.Command {
	var o cleanupOptions
	cmd := &cobra.Command{
		Use:   "cleanup [--older-than DUR] [--keep-checkpoints] [--agent A] [--channel C] [--purge-after DUR] [--dry-run]",
		Short: "Move idle sessions to the trash and purge old deletions",
		Long: `Move the sessions idle longer than --older-than (no message since) to
sessions/.trash/, where rm --restore brings them back, then remove for good
what was deleted more than --purge-after ago.

  cleanup --older-than 30d --dry-run    what would move, and why
  cleanup --older-than 30d --keep-checkpoints --agent main
  cleanup --purge-after 90d             only empty the trash of old deletions
  cleanup                               apply config.json's cleanup block
                                        (older_than or ttl, purge_after,
                                        keep_checkpoints)

DUR is 90m, 36h, 30d, 2w. Without --older-than and --purge-after the
cleanup block of config.json applies; --keep-checkpoints, --agent and
--channel then narrow it. Each session is moved under its lock, after
checking again that nothing was written to it since it was chosen; one
written meanwhile stays, and so does one whose lock stays taken.

EXIT STATUS
  0 done (also when there was nothing to do); 1 bad flags, nothing to do
  given nor configured, a config error, a failure; 10 not a workspace;
  11 a session stayed locked (the others were cleaned up; run it again).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runCleanup(cmd, &o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.olderThan, "older-than", "", "move sessions without a message for longer than this to the trash (30d, 2w, 12h)")
	fl.BoolVar(&o.keepCheckpoints, "keep-checkpoints", false, "keep idle sessions that have a checkpoint")
	fl.StringVar(&o.agent, "agent", "", "only sessions of this agent")
	fl.StringVar(&o.channel, "channel", "", "only sessions of this channel")
	fl.StringVar(&o.purgeAfter, "purge-after", "", "remove from the trash, for good, what was deleted longer ago than this")
	fl.BoolVar(&o.dryRun, "dry-run", false, "print what would be done; change nothing")
	return cmd
}

func (a *app) runCleanup(cmd *cobra.Command, o *cleanupOptions) error {
	olderThan, err := parseCleanupAge("--older-than", o.olderThan)
	if err != nil {
		return err
	}
	purgeAfter, err := parseCleanupAge("--purge-after", o.purgeAfter)
	if err != nil {
		return err
	}
	w, err := a.openWorkspace()
	if err != nil {
		return err
	}
	defer w.Close()
	opts := workspace.CleanupOptions{OlderThan: olderThan, PurgeAfter: purgeAfter}
	if olderThan == 0 && purgeAfter == 0 {
		cfg, err := a.loadConfig()
		if err != nil {
			return err
		}
		if !cfg.Cleanup.Active() {
			return usageErrorf("nothing to clean up: give --older-than DUR (move idle sessions to the trash) and/or --purge-after DUR (empty the trash of old deletions), or set cleanup.older_than / cleanup.purge_after in %s", workspace.ConfigFile)
		}
		opts = workspace.CleanupOptionsFromConfig(cfg.Cleanup)
	}
	opts.KeepCheckpoints = opts.KeepCheckpoints || o.keepCheckpoints
	opts.Agent, opts.Channel, opts.DryRun = o.agent, o.channel, o.dryRun
	if opts.OlderThan == 0 && (o.keepCheckpoints || o.agent != "" || o.channel != "") {
		return usageErrorf("--keep-checkpoints, --agent and --channel choose sessions for --older-than (or the config's older_than), and none is set")
	}
	rep, err := w.Cleanup(cmd.Context(), opts)
	if a.jsonOut {
		if jerr := a.writeJSON(rep); jerr != nil && err == nil {
			err = jerr
		}
		return err
	}
	if perr := printCleanup(a.stdout, rep, opts); perr != nil && err == nil {
		err = perr
	}
	return err
}

// parseCleanupAge parses a DUR flag ("" is 0: not given).
func parseCleanupAge(flag, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := config.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, usageErrorf("%s %q: want a positive duration like 90m, 36h, 30d or 2w", flag, s)
	}
	return d, nil
}

// printCleanup writes the report as text: what moved (or would), the
// idle sessions kept and why, a count of the active ones, what was purged.
func printCleanup(out io.Writer, rep workspace.CleanupReport, o workspace.CleanupOptions) error {
	verb := func(done, would string) string {
		if rep.DryRun {
			return would
		}
		return done
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if o.OlderThan > 0 {
		idle := workspace.FormatAge(o.OlderThan)
		if len(rep.Trashed) == 0 {
			fmt.Fprintf(tw, "no session idle more than %s to move\n", idle)
		} else {
			fmt.Fprintf(tw, "%s %s (%s) idle more than %s to the trash:\n", verb("moved", "would move"), plural(rep.TrashedTotal.Count, "session"), humanSize(rep.TrashedTotal.Bytes), idle)
			fmt.Fprintln(tw, "  SESSION\tIDLE\tSIZE\tTITLE")
			for _, d := range rep.Trashed {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", shortID(d.ID), idleOf(rep.Now, d), humanSize(d.Size), clip(d.Title, 50))
			}
		}
		var kept []workspace.CleanupDecision
		active := 0
		for _, d := range rep.Kept {
			if !d.Updated.IsZero() && !d.Updated.Before(rep.IdleBefore) {
				active++
				continue
			}
			kept = append(kept, d)
		}
		if len(kept) > 0 {
			fmt.Fprintf(tw, "kept %s:\n", plural(len(kept), "idle session"))
			fmt.Fprintln(tw, "  SESSION\tIDLE\tSIZE\tREASON\tTITLE")
			for _, d := range kept {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", shortID(d.ID), idleOf(rep.Now, d), humanSize(d.Size), d.Reason, clip(d.Title, 50))
			}
		}
		if active > 0 {
			fmt.Fprintf(tw, "kept %s written in the last %s\n", plural(active, "active session"), idle)
		}
		if len(rep.Trashed) > 0 && !rep.DryRun {
			fmt.Fprintln(tw, "undo: picosess rm --restore SESSION (picosess rm --trash lists the trash)")
		}
	}
	if o.PurgeAfter > 0 {
		age := workspace.FormatAge(o.PurgeAfter)
		if len(rep.Purged) == 0 {
			fmt.Fprintf(tw, "nothing in the trash deleted more than %s ago\n", age)
		} else {
			fmt.Fprintf(tw, "%s %s (%s) deleted more than %s ago:\n", verb("purged", "would purge"), plural(rep.PurgedTotal.Count, "trash entry"), humanSize(rep.PurgedTotal.Bytes), age)
			fmt.Fprintln(tw, "  SESSION\tDELETED\tSIZE")
			for _, t := range rep.Purged {
				fmt.Fprintf(tw, "  %s\t%s ago\t%s\n", shortID(t.ID), workspace.FormatAge(rep.Now.Sub(t.Deleted)), humanSize(t.Size))
			}
		}
	}
	return tw.Flush()
}

// idleOf is how long ago a session was last written, or "?" when no
// record says.
func idleOf(now time.Time, d workspace.CleanupDecision) string {
	if d.Updated.IsZero() {
		return "?"
	}
	return workspace.FormatAge(now.Sub(d.Updated))
}

// plural writes n and the noun, with "s" (or "y" as "ies") when n != 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if len(noun) > 1 && noun[len(noun)-1] == 'y' {
		return fmt.Sprintf("%d %sies", n, noun[:len(noun)-1])
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// humanSize writes a byte count in B, KiB, MiB or GiB.
func humanSize(n int64) string {
	const k = 1024
	switch {
	case n < k:
		return fmt.Sprintf("%d B", n)
	case n < k*k:
		return fmt.Sprintf("%.1f KiB", float64(n)/k)
	case n < k*k*k:
		return fmt.Sprintf("%.1f MiB", float64(n)/(k*k))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(k*k*k))
}

// cleanupInBackground runs the config's cleanup block periodically for
// serve and watch (Workspace.CleanupEvery), saying on stderr what each run
// moved or purged and what failed. It stops with ctx; wait waits for it.
func (a *app) cleanupInBackground(ctx context.Context, w *workspace.Workspace) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.CleanupEvery(ctx, func(rep workspace.CleanupReport, err error) {
			if n := rep.TrashedTotal.Count + rep.PurgedTotal.Count; n > 0 {
				fmt.Fprintf(a.stderr, "picosess: cleanup moved %s (%s) to the trash and purged %s (%s)\n",
					plural(rep.TrashedTotal.Count, "idle session"), humanSize(rep.TrashedTotal.Bytes),
					plural(rep.PurgedTotal.Count, "trash entry"), humanSize(rep.PurgedTotal.Bytes))
			}
			if err != nil {
				fmt.Fprintf(a.stderr, "picosess: cleanup: %v\n", err)
			}
		})
	}()
	return func() { <-done }
}
