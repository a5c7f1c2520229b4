package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/picosess/picosess/keying"
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
	at         string
	raw        bool
	// usage the model reported for an assistant message (flags given only
	// when Changed)
	usageIn, usageOut, usageCacheRead, usageCacheWrite int
}

// appendOutput is the --json shape of append (docs/cli.md).
type appendOutput struct {
	ID  string `json:"id"`
	Seq int64  `json:"seq"`
	// Name is the session's name, for a named session (--session,
	// $PICOSESS_SESSION, session.name or a generated name).
	Name string `json:"name,omitempty"`
	// Reset is set when the message started a new conversation.
	Reset *workspace.TurnReset `json:"reset,omitempty"`
}

var appendRoles = []string{workspace.RoleUser, workspace.RoleAssistant, workspace.RoleSystem, workspace.RoleTool, workspace.RoleDeveloper, workspace.RoleFunction}

func newAppendCmd(a *app) *cobra.Command {
	var o appendOptions
	cmd := &cobra.Command{
		Use:   "append [SESSION | --channel C ... | --session NAME] --role R [--sender S] [--content TEXT] [--usage-in N --usage-out N]",
		Short: "Append one message to a session and print its seq",
		Long: `Append one message to a session and print its seq (its stable id in the file).

The session is SESSION (an existing session: id, prefix, signature, legacy key,
name or title), or the route of the scope flags (as in picosess key; the session is
created with its scope and aliases on first append), or --session NAME (a named
session, created with its name on first append). With none of them, the
session is the one named by $PICOSESS_SESSION, else by config.json's
session.name, else a new one with a generated name (session-<unix ms>-<4 hex
digits>, sortable by creation), which a line on stderr gives.

The content is --content, else standard input read to its end (one trailing
newline is dropped). Empty content is refused, as is a terminal on stdin
without --content. The workspace is created if it does not exist.

The lifecycle policy of config.json applies to a user message (picosess
policy SESSION shows it): a message that is a reset trigger (/new, /reset)
starts a new conversation, and the text after the trigger, if any, is its
first message; a message arriving after reset.idle_minutes without one, or
after a reset.daily_at boundary, starts a new conversation with a reset
record written just before it. A line on stderr says so, and --json prints
the reset. --at dates the message when it was actually sent (queued offline,
backfilled); policies are evaluated at that time, and a time before the
session's last record is refused. --raw appends the message as given, with
no policy.

--usage-in N --usage-out N record the token usage the model reported for an
assistant message (its API's input and output tokens; both, or neither), and
--usage-cache-read/--usage-cache-write its prompt-cache counts. Counts are
whole numbers, 0 or more; usage on any other role is refused. show prints it
after the author, ls --json sums it per session.

EXAMPLES
  picosess append --channel telegram --chat 123456789 --sender 123456789 --role user --content "hi"
  echo "remember the milk" | picosess append --session todo --role user
  PICOSESS_SESSION=todo picosess append --role user --content "and bread"
  picosess append sk_v1_67fe19a8ec8f --role assistant --content "hello" --json
  picosess append --session todo --role user --content "/new buy bread"
  picosess append --session todo --role user --at 2026-12-01T08:30:00Z --content "sent offline"
  picosess append --session todo --role assistant --model gpt-5.4 --usage-in 1200 --usage-out 85 --content "Done."

EXIT STATUS
  0 appended; 1 bad flags (usage on a role other than assistant, a negative
  count, --usage-in without --usage-out), unknown or ambiguous SESSION, empty content,
  --at before the session's last record, a session in the trash, a config
  error; 10 not a workspace (a file in the way, no permission); 11 the session is
  locked by another process for longer than --lock-timeout; 14 the Redis store
  cannot be reached (the record was not acknowledged; docs/redis.md);
  130 interrupted.`,
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
	fl.StringVar(&o.at, "at", "", "when the message was sent (RFC 3339, e.g. 2026-12-01T08:30:00Z; default now)")
	fl.BoolVar(&o.raw, "raw", false, "append as given: no reset trigger, no automatic reset")
	fl.IntVar(&o.usageIn, "usage-in", 0, "input tokens the model reported for this assistant message (with --usage-out)")
	fl.IntVar(&o.usageOut, "usage-out", 0, "output tokens the model reported for this assistant message (with --usage-in)")
	fl.IntVar(&o.usageCacheRead, "usage-cache-read", 0, "prompt-cache tokens read, as the model reported them (with --usage-in/--usage-out)")
	fl.IntVar(&o.usageCacheWrite, "usage-cache-write", 0, "prompt-cache tokens written, as the model reported them (with --usage-in/--usage-out)")
	return cmd
}

func (a *app) runAppend(cmd *cobra.Command, o *appendOptions, args []string) error {
	ctx := cmd.Context()
	rec, err := o.record(cmd, a.stdin)
	if err != nil {
		return err
	}
	generated := false
	if len(args) == 1 {
		for _, n := range []string{"agent", "channel", "account", "chat-type", "chat", "topic", "space-type", "space", "legacy-key", "dimensions", "scope", "session", "mentioned"} {
			if cmd.Flags().Changed(n) {
				return usageErrorf("SESSION names the session by itself: drop --%s", n)
			}
		}
	} else if !cmd.Flags().Changed("session") && !cmd.Flags().Changed("channel") && !cmd.Flags().Changed("legacy-key") {
		// No session named: $PICOSESS_SESSION, session.name or a new
		// generated name, as if given as --session (session_name.go).
		var name string
		if name, generated, err = a.defaultSessionName(cmd); err != nil {
			return err
		}
		o.scope.session = name
		cmd.Flags().Lookup("session").Changed = true
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
	var turn workspace.Turn
	if o.raw {
		turn.Seqs, err = s.Append(ctx, rec)
	} else {
		turn, err = s.AppendTurn(ctx, rec)
	}
	if errors.Is(err, workspace.ErrStoreUnavailable) {
		// The store lost the call, or (min_replicas) not enough replicas
		// acknowledged it: it may be stored, it was not acknowledged.
		return fmt.Errorf("append to %s failed; the message was not acknowledged (the store may hold it): %w", s.ID(), err)
	}
	if err != nil {
		return fmt.Errorf("append to %s failed; the message was not written: %w", s.ID(), err)
	}
	if generated {
		a.noteGeneratedSession(o.scope.session, s.ID())
	}
	if a.jsonOut {
		out := appendOutput{ID: s.ID(), Seq: turn.Seqs[0], Reset: turn.Reset}
		if len(args) == 0 && cmd.Flags().Changed("session") {
			out.Name = keying.NormalizeName(o.scope.session)
		}
		return a.writeJSON(out)
	}
	if turn.Seqs[0] == 2 && len(args) == 0 {
		// A new session (its first record after the header). If an earlier
		// one of the same name or route was moved to the trash (rm,
		// cleanup's expiry), say so: this message starts afresh.
		if t, ok := w.InTrash(ctx, s.ID()); ok {
			fmt.Fprintf(a.stderr, "note: this starts a new session; the earlier one is in the trash as %s (picosess rm --restore %s brings it back once this one is removed)\n", t.Name, t.Name)
		}
	}
	if r := turn.Reset; r != nil {
		fmt.Fprintf(a.stderr, "new conversation (%s reset, seq %d): %s [%s]\n", r.Reason, r.Seq, r.Why, r.Rule)
		if r.Carried > 0 {
			fmt.Fprintf(a.stderr, "the previous conversation's summary carried over as seq %d\n", r.Carried)
		}
	}
	_, err = fmt.Fprintln(a.stdout, turn.Seqs[0])
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
	usage, err := o.usage(cmd, role)
	if err != nil {
		return workspace.Record{}, err
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
	var at time.Time
	if o.at != "" {
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(o.at))
		if err != nil {
			return workspace.Record{}, usageErrorf("--at %q: want an RFC 3339 time such as 2026-12-01T08:30:00Z or 2026-12-01T09:30:00+01:00", o.at)
		}
		at = t.UTC()
	}
	return workspace.Record{
		Type: workspace.TypeMessage, At: at, Role: role, Content: content, Sender: o.scope.in.SenderID,
		ModelName: o.model, ToolCallID: o.toolCallID, Usage: usage,
	}, nil
}

// usage builds the message's usage from the --usage-* flags: nil when none
// is given; --usage-in and --usage-out together, on an assistant message,
// every count 0 or more.
func (o *appendOptions) usage(cmd *cobra.Command, role string) (*workspace.Usage, error) {
	flags := []struct {
		name string
		n    int
	}{{"usage-in", o.usageIn}, {"usage-out", o.usageOut}, {"usage-cache-read", o.usageCacheRead}, {"usage-cache-write", o.usageCacheWrite}}
	given := ""
	for _, f := range flags {
		if !cmd.Flags().Changed(f.name) {
			continue
		}
		if f.n < 0 {
			return nil, usageErrorf("--%s %d: want a token count, 0 or more", f.name, f.n)
		}
		if given == "" {
			given = f.name
		}
	}
	switch {
	case given == "":
		return nil, nil
	case role != workspace.RoleAssistant:
		return nil, usageErrorf("--%s: token usage is what a model reported for its reply; --role %s is not assistant", given, role)
	case !cmd.Flags().Changed("usage-in") || !cmd.Flags().Changed("usage-out"):
		return nil, usageErrorf("--%s: give both --usage-in and --usage-out (a model reports both)", given)
	}
	return &workspace.Usage{InputTokens: o.usageIn, OutputTokens: o.usageOut,
		CacheReadTokens: o.usageCacheRead, CacheWriteTokens: o.usageCacheWrite}, nil
}
