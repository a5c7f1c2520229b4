package main

import (
	"github.com/picosess/picosess/export"
	"github.com/spf13/cobra"
)

// exportOptions are the flags of export.
type exportOptions struct {
	format string
	all    bool
}

// exportActive and exportAll are the document of export --format json
// (docs/cli.md), without and with --all: package export writes them.
type (
	exportActive = export.Active
	exportAll    = export.All
)

func newExportCmd(a *app) *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export SESSION [--format markdown|json|jsonl] [--all]",
		Short: "Write a session out as Markdown, JSON or JSON Lines",
		Long: `Write a session to standard output.

By default the active history is exported (the summary standing in for the
messages it covers, then the messages since the last reset); --all exports
every conversation of the file, past resets included.

  markdown  a document for people: a heading per message, tool calls as JSON
  json      one object: id, title, header, then summary and messages, or
            segments with --all (records as stored on disk)
  jsonl     records as stored, one per line, the header first; with --all the
            file's records exactly as they are (streamed, any size), which a
            workspace reads back as a session file

The global --json flag has no effect here: --format chooses.

EXAMPLES
  picosess export my-project > my-project.md
  picosess export sk_v1_67fe19a8ec8f --format jsonl --all | jq -c 'select(.type=="message")'

EXIT STATUS
  0 exported; 1 bad flags or --format, unknown or ambiguous SESSION;
  10 not a workspace; 130 interrupted.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runExport(cmd, &o, args[0])
		},
	}
	cmd.Flags().StringVar(&o.format, "format", "markdown", "markdown, json or jsonl")
	cmd.Flags().BoolVar(&o.all, "all", false, "every conversation, past resets included")
	return cmd
}

func (a *app) runExport(cmd *cobra.Command, o *exportOptions, ref string) error {
	ctx := cmd.Context()
	format, err := export.ParseFormat(o.format)
	if err != nil {
		return usageErrorf("--%v", err)
	}
	s, closeWS, err := a.openSession(ctx, ref)
	if err != nil {
		return err
	}
	defer closeWS()
	return export.Write(ctx, a.stdout, s, export.Options{Format: format, All: o.all})
}
