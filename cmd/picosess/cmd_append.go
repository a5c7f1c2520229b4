package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/picosess/picosess/workspace"
	"github.com/spf13/cobra"
)

// appendOptions are the flags of append.
type appendOptions struct {
	scope      scopeFlags
	role       string
	content    string
	model      string
	toolCallID string
}

// appendOutput is the --json shape of append (docs/cli.md).
type appendOutput struct {
	ID  string `json:"id"`
	Seq int64  `json:"seq"`
}

var appendRoles = []string{workspace.RoleUser, workspace.RoleAssistant, workspace.RoleSystem, workspace.RoleTool}

func newAppendCmd(a *app) *cobra.Command {
	var o appendOptions
	cmd := &cobra.Command{
		Use:   "append [SESSION | --channel C ... | --session NAME] --role R [--sender S] [--content TEXT]",
		Short: "Append one message to a session and print its seq",
		Long: `Append one message to a session and print its seq (its stable id in the file).

The session is SESSION (an existing session: id, prefix, signature, legacy key
or name), or the route of the scope flags (as in picosess key; the session is
created with its scope and aliases on first append), or --session NAME (a named
session, created with its name on first append).

The content is --content, else standard input read to its end (one trailing
newline is dropped). Empty content is refused, as is a terminal on stdin
without --content. The workspace is created if it does not exist.

EXAMPLES
  picosess append --channel telegram --chat 123456789 --sender 123456789 --role user --content "hi"
  echo "remember the milk" | picosess append --session todo --role user
  picosess append sk_v1_67fe19a8ec8f --role assistant --content "hello" --json

EXIT STATUS
  0 appended; 1 bad flags, unknown or ambiguous SESSION, empty content;
  10 not a workspace (a file in the way, no permission); 11 the session is
  locked by another process for longer than --lock-timeout; 130 interrupted.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runAppend(cmd, &o, args)
		},
	}
	o.scope.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&o.role, "role", "", "message role: "+strings.Join(appendRoles, ", ")+" (required)")
	fl.StringVar(&o.content, "content", "", "message text (default: standard input)")
	fl.StringVar(&o.model, "model", "", "model that wrote an assistant message (model_name)")
	fl.StringVar(&o.toolCallID, "tool-call-id", "", "the tool call a tool message answers")
	return cmd
}

func (a *app) runAppend(cmd *cobra.Command, o *appendOptions, args []string) error {
	ctx := cmd.Context()
	rec, err := o.record(cmd, a.stdin)
	if err != nil {
		return err
	}
	routed := o.scope.given(cmd)
	if len(args) == 1 {
		for _, n := range []string{"agent", "channel", "account", "chat-type", "chat", "topic", "space-type", "space", "legacy-key", "dimensions", "scope", "session", "mentioned"} {
			if cmd.Flags().Changed(n) {
				return usageErrorf("SESSION names the session by itself: drop --%s", n)
			}
		}
	} else if !routed || !cmd.Flags().Changed("session") && !cmd.Flags().Changed("channel") && !cmd.Flags().Changed("legacy-key") {
		return usageErrorf("which session? give SESSION, --session NAME, or a route (--channel C ...; see picosess key)")
	}
	w, err := a.createWorkspace()
	if err != nil {
		return err
	}
	defer w.Close()
	var s *workspace.Session
	switch {
	case len(args) == 1:
		s, err = lookup(ctx, w, args[0])
	case cmd.Flags().Changed("session"):
		if strings.TrimSpace(o.scope.session) == "" {
			return usageErrorf("--session: empty name")
		}
		for _, n := range []string{"agent", "channel", "account", "chat-type", "chat", "topic", "space-type", "space", "legacy-key", "dimensions", "scope"} {
			if cmd.Flags().Changed(n) {
				return usageErrorf("--session names a session by itself: drop --%s", n)
			}
		}
		s, err = w.Session(ctx, workspace.Target{Name: o.scope.session})
	default:
		cfg, cerr := a.loadConfig()
		if cerr != nil {
			return cerr
		}
		r, rerr := o.scope.route(cmd, cfg)
		if rerr != nil {
			return rerr
		}
		s, err = w.SessionForRoute(ctx, r)
	}
	if err != nil {
		return err
	}
	seqs, err := s.Append(ctx, rec)
	if err != nil {
		return fmt.Errorf("append to %s failed; the message was not written: %w", s.ID(), err)
	}
	if a.jsonOut {
		return a.writeJSON(appendOutput{ID: s.ID(), Seq: seqs[0]})
	}
	_, err = fmt.Fprintln(a.stdout, seqs[0])
	return err
}

// record builds the message from the flags and stdin.
func (o *appendOptions) record(cmd *cobra.Command, stdin io.Reader) (workspace.Record, error) {
	role := strings.ToLower(strings.TrimSpace(o.role))
	switch {
	case !cmd.Flags().Changed("role"):
		return workspace.Record{}, usageErrorf("--role is required (%s)", strings.Join(appendRoles, ", "))
	case !slices.Contains(appendRoles, role):
		return workspace.Record{}, usageErrorf("--role %q: want one of %s", o.role, strings.Join(appendRoles, ", "))
	}
	content := o.content
	if !cmd.Flags().Changed("content") {
		if isTerminal(stdin) {
			return workspace.Record{}, usageErrorf("no content: give --content TEXT or pipe the message on standard input")
		}
		b, err := io.ReadAll(stdin)
		if err != nil {
			return workspace.Record{}, fmt.Errorf("read the message from standard input: %w", err)
		}
		content = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	}
	if strings.TrimSpace(content) == "" {
		return workspace.Record{}, usageErrorf("empty content: nothing to append (give --content TEXT or pipe the message on standard input)")
	}
	return workspace.Record{
		Type: workspace.TypeMessage, Role: role, Content: content, Sender: o.scope.in.SenderID,
		ModelName: o.model, ToolCallID: o.toolCallID,
	}, nil
}
