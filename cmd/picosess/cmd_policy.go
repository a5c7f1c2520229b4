package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/picosess/picosess/workspace"
	"github.com/spf13/cobra"
)

// policyOptions are the flags of policy.
type policyOptions struct {
	at string
}

func newPolicyCmd(a *app) *cobra.Command {
	var o policyOptions
	cmd := &cobra.Command{
		Use:   "policy [SESSION] [--at TIME]",
		Short: "Show the lifecycle policy of a session and what it decides now",
		Long: `Show the lifecycle settings that apply to a session (automatic resets,
reset triggers, history limits, send policy, expiry), the config path each
comes from (or "default"), whether the next user message would start a new
conversation and why, and whether an assistant may send into it.

--at asks about a message arriving at that time (RFC 3339) instead of now.

EXAMPLES
  picosess policy sk_v1_67fe19a8ec8f
  picosess policy todo --at 2026-12-08T05:00:00+01:00 --json

Without SESSION: the session $PICOSESS_SESSION names, else config.json's
session.name (as append uses).

EXIT STATUS
  0 shown; 1 bad flags, unknown or ambiguous SESSION, a config error;
  10 not a workspace.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var at time.Time
			if o.at != "" {
				t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(o.at))
				if err != nil {
					return usageErrorf("--at %q: want an RFC 3339 time such as 2026-12-01T08:30:00Z", o.at)
				}
				at = t
			}
			ctx := cmd.Context()
			ref, err := a.currentSession(args)
			if err != nil {
				return err
			}
			s, closeWS, err := a.openSession(ctx, ref)
			if err != nil {
				return err
			}
			defer closeWS()
			rep, err := s.Policy(ctx, at)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.writeJSON(rep)
			}
			title := ""
			if m, err := s.Meta(ctx); err == nil {
				title = m.Title
			}
			return printPolicy(a.stdout, rep, title)
		},
	}
	cmd.Flags().StringVar(&o.at, "at", "", "evaluate for a message arriving at this time (RFC 3339; default now)")
	return cmd
}

// printPolicy writes a policy report as text.
func printPolicy(out io.Writer, rep workspace.PolicyReport, title string) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "session\t%s  %s\n", shortID(rep.ID), clip(title, 60))
	fmt.Fprintf(tw, "applies to\tagent %s, channel %s, chat type %s\n", rep.Agent, orNone(rep.Channel), orNone(rep.ChatType))
	fmt.Fprintln(tw, "\nRESET\tVALUE\tFROM")
	r := rep.Reset
	zone := r.Timezone.Value
	if zone == "" {
		zone = r.ZoneName(rep.At) + " (the machine's zone)"
	}
	fmt.Fprintf(tw, "daily_at\t%s\t%s\n", offIfEmpty(r.DailyAt.Value), r.DailyAt.From)
	fmt.Fprintf(tw, "idle_minutes\t%s\t%s\n", offIfZero(r.IdleMinutes.Value), r.IdleMinutes.From)
	fmt.Fprintf(tw, "timezone\t%s\t%s\n", zone, r.Timezone.From)
	fmt.Fprintf(tw, "triggers\t%s\t%s\n", offIfEmpty(strings.Join(r.Triggers.Value, " ")), r.Triggers.From)
	fmt.Fprintf(tw, "carry_summary\t%t\t%s\n", r.CarrySummary.Value, r.CarrySummary.From)
	fmt.Fprintln(tw, "\nLIMITS\tVALUE\tFROM")
	l := rep.Limits
	fmt.Fprintf(tw, "max_messages\t%s\t%s\n", offIfZero(l.MaxMessages.Value), l.MaxMessages.From)
	fmt.Fprintf(tw, "max_tokens\t%s\t%s\n", offIfZero(l.MaxTokens.Value), l.MaxTokens.From)
	fmt.Fprintf(tw, "compaction\t%s\t%s\n", l.Compaction.Value, l.Compaction.From)
	if err := tw.Flush(); err != nil {
		return err
	}
	last := "none (the current conversation is empty)"
	if !rep.LastMessage.IsZero() {
		last = rep.LastMessage.Local().Format("2006-01-02 15:04:05 MST")
	}
	fmt.Fprintf(out, "\nlast message: %s\n", last)
	at := rep.At.Local().Format("2006-01-02 15:04:05 MST")
	if rep.Next.Reset {
		fmt.Fprintf(out, "next user message (%s): starts a new conversation (%s reset): %s [%s]\n", at, rep.Next.Reason, rep.Next.Why, rep.Next.Rule)
	} else {
		fmt.Fprintf(out, "next user message (%s): continues the conversation: %s\n", at, rep.Next.Why)
	}
	verdict := "allowed"
	if !rep.Send.Allowed {
		verdict = "denied"
	}
	fmt.Fprintf(out, "sending: %s (%s)\n", verdict, rep.Send.Why)
	expiry := time.Duration(rep.ExpirySeconds) * time.Second
	switch {
	case expiry <= 0:
		fmt.Fprintln(out, "expiry: none (cleanup.older_than and cleanup.ttl are not set)")
	case rep.ExpiresAt.IsZero():
		fmt.Fprintf(out, "expiry: after %s without a message\n", workspace.FormatAge(expiry))
	default:
		fmt.Fprintf(out, "expiry: after %s without a message: cleanup moves it to the trash from %s\n",
			workspace.FormatAge(expiry), rep.ExpiresAt.Local().Format("2006-01-02 15:04 MST"))
	}
	return nil
}

func offIfEmpty(s string) string {
	if s == "" {
		return "off"
	}
	return s
}

func offIfZero(n int) string {
	if n <= 0 {
		return "off"
	}
	return strconv.Itoa(n)
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
