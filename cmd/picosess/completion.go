package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/migrate"
	"github.com/picosess/picosess/summarize"
	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/export"
	"github.com/picosess/picosess/workspace/index"
	"github.com/spf13/cobra"
)

// Shell completion (picosess completion bash|zsh|fish|powershell, which
// cobra provides): SESSION arguments complete to the ids and names of the
// sessions, newest first, with their titles as descriptions; flags whose
// values are a fixed set complete to it; --agent and --channel to the
// values in the workspace; directories where a directory is asked for.

// enumFlags are the flags whose values are a fixed set, by flag name and,
// where the name means different things, command name ("" = any).
var enumFlags = []struct {
	command, flag string
	values        func() []string
}{
	{"", "role", func() []string { return appendRoles }},
	{"search", "sort", func() []string { return []string{index.SortRelevance, index.SortTime} }},
	{"export", "format", func() []string { return export.Formats }},
	{"context", "strategy", func() []string {
		return []string{string(summarize.StrategyRecent), string(summarize.StrategySmart), string(summarize.StrategySummarize)}
	}},
	{"migrate", "source", func() []string {
		return []string{string(migrate.SystemAuto), string(migrate.SystemPicoClaw), string(migrate.SystemOpenClaw), string(migrate.SystemPocketPaw)}
	}},
	{"", "scope", keying.ScopeNames},
}

// timeFlags take the forms of parseSince (or a duration); completion
// offers a few.
var timeFlags = []string{"since", "until", "older-than", "purge-after"}

// registerCompletions adds the completion functions to every command of
// the tree under root.
func registerCompletions(root *cobra.Command, a *app) {
	dirs := func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return nil, cobra.ShellCompDirectiveFilterDirs
	}
	_ = root.RegisterFlagCompletionFunc("workspace", dirs)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.ValidArgsFunction == nil {
			c.ValidArgsFunction = argsCompletion(a, c)
		}
		register := func(flag string, f cobra.CompletionFunc) {
			if c.Flags().Lookup(flag) == nil {
				return
			}
			if _, ok := c.GetFlagCompletionFunc(flag); !ok {
				_ = c.RegisterFlagCompletionFunc(flag, f)
			}
		}
		for _, e := range enumFlags {
			if e.command == "" || e.command == c.Name() {
				register(e.flag, fixed(e.values))
			}
		}
		for _, f := range timeFlags {
			register(f, fixed(func() []string {
				if f == "since" || f == "until" {
					return []string{"1h", "24h", "7d", "30d", "today", "yesterday"}
				}
				return []string{"7d", "30d", "90d"}
			}))
		}
		register("agent", a.completeMeta(func(m workspace.Meta) string { return m.Agent }))
		register("channel", a.completeMeta(func(m workspace.Meta) string { return m.Channel }))
		switch c.Name() {
		case "search":
			register("session", a.completeSessions(false))
		case "migrate":
			register("from", dirs)
			register("report", dirs)
			register("config", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
				return []string{"json"}, cobra.ShellCompDirectiveFilterFileExt
			})
		default:
			register("session", a.completeSessions(true)) // key, append: a name
		}
	}
	walk(root)
}

// argsCompletion completes the positional arguments of c: SESSION where
// its usage line starts with one, checkpoint names after it for checkpoint
// restore and rm, directories for DIR; nothing (no file names) otherwise.
func argsCompletion(a *app, c *cobra.Command) cobra.CompletionFunc {
	fields := strings.Fields(c.Use)
	first := ""
	if len(fields) > 1 {
		first = strings.TrimLeft(fields[1], "[")
	}
	sessions := a.completeSessions(false)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		switch {
		case c.HasSubCommands():
			return nil, cobra.ShellCompDirectiveNoFileComp
		case len(args) == 0 && strings.HasPrefix(first, "SESSION"):
			return sessions(cmd, args, toComplete)
		case len(args) == 0 && first == "DIR":
			return nil, cobra.ShellCompDirectiveFilterDirs
		case len(args) == 1 && c.Parent() != nil && c.Parent().Name() == "checkpoint" && (c.Name() == "restore" || c.Name() == "rm"):
			return a.completeCheckpoints(cmd, args[0], toComplete)
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

// fixed completes to a fixed set of values.
func fixed(values func() []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		var out []string
		for _, v := range values() {
			if strings.HasPrefix(v, toComplete) {
				out = append(out, v)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeSessions completes a SESSION: names of named sessions and short
// ids (with or without sk_v1_, as typed so far), newest first, each with
// its title and last activity; only names with named.
func (a *app) completeSessions(named bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		const none = cobra.ShellCompDirectiveNoFileComp
		list, err := a.completionList(cmd)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError | none
		}
		lc := strings.ToLower(toComplete)
		bare := lc != "" && !strings.HasPrefix(keying.IDPrefix, lc) && !strings.HasPrefix(lc, keying.IDPrefix)
		now := time.Now()
		var out []string
		for _, m := range list {
			desc := completionText(m.Title)
			if when := ago(now, m.Updated); when != "" {
				desc += " · " + when
			}
			if m.Name != "" && strings.HasPrefix(m.Name, lc) {
				out = append(out, m.Name+"\t"+desc)
			}
			if named {
				continue
			}
			id := shortID(m.ID)
			if bare {
				id = id[len(keying.IDPrefix):]
			}
			if strings.HasPrefix(id, lc) {
				out = append(out, id+"\t"+desc)
			}
		}
		return out, none | cobra.ShellCompDirectiveKeepOrder
	}
}

// completeMeta completes a flag to the distinct values of a field of the
// sessions (agents, channels), with how many sessions have each.
func (a *app) completeMeta(field func(workspace.Meta) string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		list, err := a.completionList(cmd)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError | cobra.ShellCompDirectiveNoFileComp
		}
		count := map[string]int{}
		for _, m := range list {
			if v := field(m); v != "" && strings.HasPrefix(v, toComplete) {
				count[v]++
			}
		}
		var out []string
		for v, n := range count {
			out = append(out, fmt.Sprintf("%s\t%d session(s)", v, n))
		}
		slices.Sort(out)
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeCheckpoints completes the checkpoint names of the session ref.
func (a *app) completeCheckpoints(cmd *cobra.Command, ref, toComplete string) ([]string, cobra.ShellCompDirective) {
	s, closeWS, err := a.openSession(cmd.Context(), ref)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer closeWS()
	cps, err := s.Checkpoints(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, c := range cps {
		if strings.HasPrefix(c.Name, toComplete) {
			out = append(out, strings.TrimSpace(fmt.Sprintf("%s\t#%d %s", c.Name, c.Seq, completionText(c.Description))))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completionList lists the sessions for completion, newest first.
func (a *app) completionList(cmd *cobra.Command) ([]workspace.Meta, error) {
	w, err := a.openWorkspace()
	if err != nil {
		return nil, err
	}
	defer w.Close()
	return w.List(cmd.Context(), workspace.ListOptions{})
}

// completionText is a description on one line without tabs or control
// characters (the completion protocol is one candidate per line, the
// description after a tab).
func completionText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || 0x80 <= r && r < 0xa0 {
			return ' '
		}
		return r
	}, s)
	return clip(s, 60)
}
