package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/picosess/picosess/workspace"
	"github.com/spf13/cobra"
)

// rmOptions are the flags of rm.
type rmOptions struct {
	yes       bool
	restore   bool
	trash     bool
	purge     bool
	olderThan string
}

// rmOutput is the --json shape of rm SESSION and rm --restore (docs/cli.md).
type rmOutput struct {
	ID    string `json:"id"`
	Trash string `json:"trash"` // the file name in sessions/.trash/
}

// purgeOutput is the --json shape of rm --purge.
type purgeOutput struct {
	Purged []workspace.Trashed `json:"purged"`
}

func newRmCmd(a *app) *cobra.Command {
	var o rmOptions
	cmd := &cobra.Command{
		Use:   "rm SESSION [--yes] | rm --restore REF | rm --trash | rm --purge [--older-than DUR] [--yes]",
		Short: "Delete a session to the trash, restore it, or purge the trash",
		Long: `Delete a session: its file moves to sessions/.trash/ (under the session lock,
so no append is lost half-way), where it stays until purged.

  rm SESSION            move a session to the trash
  rm --restore REF      bring a deleted session back (REF: the trash name rm
                        printed, an id, or an id prefix); refused if a live
                        session of that id was started since
  rm --trash            list the trash
  rm --purge            remove everything in the trash for good
  rm --purge --older-than 30d   only what was deleted more than 30 days ago

rm SESSION and --purge ask for confirmation on a terminal; otherwise (a
script, a pipe) they are refused unless --yes is given.

EXIT STATUS
  0 done (also when the question was answered no); 1 bad flags, unknown or
  ambiguous SESSION or REF, no --yes without a terminal, a live session in
  the way of --restore; 10 not a workspace; 11 the session is locked.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runRm(cmd, &o, args)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation")
	fl.BoolVar(&o.restore, "restore", false, "restore the deleted session REF from the trash")
	fl.BoolVar(&o.trash, "trash", false, "list the deleted sessions in the trash")
	fl.BoolVar(&o.purge, "purge", false, "remove deleted sessions from the trash for good")
	fl.StringVar(&o.olderThan, "older-than", "", "with --purge: only sessions deleted longer ago than this (36h, 30d, 2w)")
	return cmd
}

func (a *app) runRm(cmd *cobra.Command, o *rmOptions, args []string) error {
	ctx := cmd.Context()
	modes := 0
	for _, b := range []bool{o.restore, o.trash, o.purge} {
		if b {
			modes++
		}
	}
	switch {
	case modes > 1:
		return usageErrorf("--restore, --trash and --purge are separate actions: give one")
	case o.olderThan != "" && !o.purge:
		return usageErrorf("--older-than goes with --purge")
	case (o.trash || o.purge) && len(args) > 0:
		return usageErrorf("--trash and --purge take no SESSION")
	case !o.trash && !o.purge && len(args) != 1:
		if o.restore {
			return usageErrorf("--restore needs the REF of a deleted session (rm --trash lists them)")
		}
		return usageErrorf("which session? give SESSION (picosess ls lists them)")
	}
	w, err := a.openWorkspace()
	if err != nil {
		return err
	}
	defer w.Close()
	switch {
	case o.trash:
		list, err := w.Trash(ctx)
		if err != nil {
			return err
		}
		if a.jsonOut {
			if list == nil {
				list = []workspace.Trashed{}
			}
			return a.writeJSON(list)
		}
		if len(list) == 0 {
			fmt.Fprintln(a.stderr, "the trash is empty")
			return nil
		}
		refs := trashRefs(list)
		tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "DELETED\tSIZE\tREF\tTITLE")
		for _, t := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", humanize.Time(t.Deleted), humanize.IBytes(uint64(max(t.Size, 0))),
				refs[t.Name], clip(trashTitle(w, t), 60))
		}
		return tw.Flush()
	case o.restore:
		s, err := w.RestoreFromTrash(ctx, args[0])
		if err != nil {
			return err
		}
		if a.jsonOut {
			return a.writeJSON(rmOutput{ID: s.ID(), Trash: args[0]})
		}
		m, err := s.Meta(ctx)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "restored %s %q\n", shortID(s.ID()), clip(m.Title, 60))
		return err
	case o.purge:
		po := workspace.PurgeOptions{All: true}
		what := "everything in the trash"
		if o.olderThan != "" {
			d, err := parseAge("--older-than", o.olderThan)
			if err != nil {
				return err
			}
			po = workspace.PurgeOptions{Before: time.Now().Add(-d)}
			what = "sessions deleted more than " + o.olderThan + " ago"
		}
		if ok, err := a.confirm(o.yes, "Remove "+what+" for good?"); !ok || err != nil {
			return err
		}
		titles := map[string]string{} // the files are gone after Purge
		if !a.jsonOut {
			list, err := w.Trash(ctx)
			if err != nil {
				return err
			}
			for _, t := range list {
				titles[t.Name] = trashTitle(w, t)
			}
		}
		done, err := w.Purge(ctx, po)
		if a.jsonOut && err == nil {
			if done == nil {
				done = []workspace.Trashed{}
			}
			return a.writeJSON(purgeOutput{Purged: done})
		}
		refs := trashRefs(done)
		for _, t := range done {
			fmt.Fprintf(a.stdout, "purged %s %q (%s, deleted %s)\n", refs[t.Name], clip(titles[t.Name], 60),
				humanize.IBytes(uint64(max(t.Size, 0))), humanize.Time(t.Deleted))
		}
		if err == nil && len(done) == 0 {
			fmt.Fprintln(a.stderr, "nothing to purge")
		}
		return err
	}
	s, err := lookup(ctx, w, args[0])
	if err != nil {
		return err
	}
	m, err := s.Meta(ctx)
	if err != nil {
		return err
	}
	prompt := fmt.Sprintf("Delete session %s %q (%d messages) to the trash?", shortID(s.ID()), clip(m.Title, 40), m.Messages)
	if ok, err := a.confirm(o.yes, prompt); !ok || err != nil {
		return err
	}
	name, err := s.Delete(ctx)
	if err != nil {
		return err
	}
	if a.jsonOut {
		return a.writeJSON(rmOutput{ID: s.ID(), Trash: name})
	}
	// The newest deletion of an id is what --restore with the id finds.
	_, err = fmt.Fprintf(a.stdout, "deleted %s %q to the trash\nundo: picosess rm --restore %s\n", shortID(s.ID()), clip(m.Title, 60), shortID(s.ID()))
	return err
}

// confirm asks a yes/no question when stdin is a terminal; without one,
// only --yes lets a destructive action go ahead.
func (a *app) confirm(yes bool, question string) (bool, error) {
	if yes {
		return true, nil
	}
	if !isTerminal(a.stdin) {
		return false, usageErrorf("refusing without --yes: standard input is not a terminal to ask (%s)", question)
	}
	ok := askYes(a.stdin, a.errOut, question) // asked even with --quiet
	if !ok {
		fmt.Fprintln(a.stderr, "nothing done")
	}
	return ok, nil
}

// trashRefs gives each trash entry the reference a person types to
// restore it: the short id for the newest deletion of an id (which
// --restore with the id finds), the trash name for older ones.
func trashRefs(list []workspace.Trashed) map[string]string {
	newest := map[string]workspace.Trashed{}
	for _, t := range list {
		if n, ok := newest[t.ID]; !ok || t.Deleted.After(n.Deleted) || t.Deleted.Equal(n.Deleted) && t.Name > n.Name {
			newest[t.ID] = t
		}
	}
	refs := make(map[string]string, len(list))
	for _, t := range list {
		refs[t.Name] = t.Name
		if newest[t.ID].Name == t.Name {
			refs[t.Name] = shortID(t.ID)
		}
	}
	return refs
}

// trashTitle is the title of a session in the trash, read from its file
// as a listing would compute it: the last title record, else the first
// user message, else the session's name. "" when the file cannot be read.
func trashTitle(w *workspace.Workspace, t workspace.Trashed) string {
	f, err := w.OpenTrashed(t)
	if err != nil {
		return ""
	}
	defer f.Close()
	var name, title, first string
	titleSet, head := false, true
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A long line (a big tool result): not a header or title.
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			continue
		}
		if len(line) > 0 && (head || bytes.Contains(line, []byte(`"title"`)) || first == "" && bytes.Contains(line, []byte(`"user"`))) {
			var r workspace.Record
			if json.Unmarshal(line, &r) == nil {
				switch {
				case r.Type == workspace.TypeSession && head:
					name = r.Name
				case r.Type == workspace.TypeTitle:
					title, titleSet = r.Text, r.Text != ""
				case r.Type == workspace.TypeMessage && r.Role == workspace.RoleUser && first == "" && strings.TrimSpace(r.Content) != "":
					first = workspace.DefaultTitle(r.Content)
				}
			}
		}
		head = false
		if err != nil {
			break
		}
	}
	switch {
	case titleSet:
		return title
	case first != "":
		return first
	}
	return name
}

// askYes prints question and reads one line: y or yes (any case) is yes,
// anything else (and end of input) is no.
func askYes(in io.Reader, out io.Writer, question string) bool {
	fmt.Fprintf(out, "%s [y/N] ", question)
	line, _ := bufio.NewReader(in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}
