package main

import (
	"github.com/picosess/picosess/workspace/export"
	"github.com/spf13/cobra"
)

// exportOptions are the flags of export.
type exportOptions struct {
	format     string
	all        bool
	noMetadata bool
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
		Use:   "export [SESSION] [--format markdown|text|json|jsonl] [--all] [--no-metadata]",
		Short: "Write a session out as Markdown, plain text, JSON or JSON Lines",
		Long: `Write a session to standard output.

By default the active history is exported (the summary standing in for the
messages it covers, then the messages since the last reset); --all exports
every conversation of the file, past resets included.

  markdown  a document for people: a heading per message, tool calls as JSON
            and tool results in code fences; lines of a message that
            Markdown would read as headings are escaped
  text      plain text for people: a line naming each message's author,
            then the message as written
  json      one object: id, title, header, then summary and messages, or
            segments with --all (records as stored on disk)
  jsonl     records as stored, one per line, the header first; with --all the
            file's records exactly as they are (streamed, any size), which a
            workspace reads back as a session file

--no-metadata (markdown and text, as Clodds' export offers) leaves out what
is about the session rather than the conversation: its id, scope, dates and
counts, each message's time and seq, title and checkpoint records.

Control characters in messages (an ESC that would drive a terminal) are
written escaped (\x1b) in markdown and text; json and jsonl keep the records
as stored, JSON-escaped.

The global --json flag has no effect here: --format chooses.

EXAMPLES
  picosess export my-project > my-project.md
  picosess export my-project --format text --no-metadata
  picosess export sk_v1_67fe19a8ec8f --format jsonl --all | jq -c 'select(.type=="message")'

Without SESSION: the session $PICOSESS_SESSION names, else config.json's
session.name (as append uses).

EXIT STATUS
  0 exported; 1 bad flags or --format, unknown or ambiguous SESSION;
  10 not a workspace; 130 interrupted.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := a.currentSession(args)
			if err != nil {
				return err
			}
			return a.runExport(cmd, &o, ref)
		},
	}
	cmd.Flags().StringVar(&o.format, "format", "markdown", "markdown, text, json or jsonl")
	cmd.Flags().BoolVar(&o.all, "all", false, "every conversation, past resets included")
	cmd.Flags().BoolVar(&o.noMetadata, "no-metadata", false, "markdown and text: only the conversation (no id, scope, dates, seqs)")
	return cmd
}

func (a *app) runExport(cmd *cobra.Command, o *exportOptions, ref string) error {
	ctx := cmd.Context()
	format, err := export.ParseFormat(o.format)
	if err != nil {
		return usageErrorf("--%v", err)
	}
	if o.noMetadata && (format == export.JSON || format == export.JSONL) {
		return usageErrorf("--no-metadata applies to --format markdown and text; json and jsonl carry the records as stored")
	}
	s, closeWS, err := a.openSession(ctx, ref)
	if err != nil {
		return err
	}
	defer closeWS()
	return export.Write(ctx, a.stdout, s, export.Options{Format: format, All: o.all, NoMetadata: o.noMetadata})
}
