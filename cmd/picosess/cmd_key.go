package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
	"github.com/spf13/cobra"
)

// scopeFlags are the flags that describe an inbound message; key, append
// and other commands that pick a session by route share them.
type scopeFlags struct {
	agent      string
	in         keying.Inbound
	dimensions string
	scope      string
	session    string
}

func (f *scopeFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.agent, "agent", "", "agent id (default main)")
	fl.StringVar(&f.in.Channel, "channel", "", "channel (telegram, slack, ...)")
	fl.StringVar(&f.in.Account, "account", "", "account on the channel (default \"default\")")
	fl.StringVar(&f.in.ChatType, "chat-type", "", "chat type (direct, group, channel, ...; default direct)")
	fl.StringVar(&f.in.ChatID, "chat", "", "chat id")
	fl.StringVar(&f.in.TopicID, "topic", "", "topic or thread id")
	fl.StringVar(&f.in.SpaceType, "space-type", "", "space type (workspace, guild, ...)")
	fl.StringVar(&f.in.SpaceID, "space", "", "space id (Slack team, Discord guild, ...)")
	fl.StringVar(&f.in.SenderID, "sender", "", "sender id (identity links apply)")
	fl.BoolVar(&f.in.Mentioned, "mentioned", false, "the message mentions the assistant (dispatch rules may select on it)")
	fl.StringVar(&f.in.Key, "legacy-key", "", "explicit legacy key the message carried")
	fl.StringVar(&f.dimensions, "dimensions", "", `dimensions in order, comma-separated ("" means none); overrides the config`)
	fl.StringVar(&f.scope, "scope", "", "named scope: "+strings.Join(keying.ScopeNames(), ", ")+"; overrides the config")
	fl.StringVar(&f.session, "session", "", "a named session instead of a routed one")
}

// given reports whether any flag that describes a route was set.
func (f *scopeFlags) given(cmd *cobra.Command) bool {
	for _, n := range []string{"agent", "channel", "account", "chat-type", "chat", "topic", "space-type", "space", "sender", "legacy-key", "dimensions", "scope", "session"} {
		if cmd.Flags().Changed(n) {
			return true
		}
	}
	return false
}

// route resolves the flags under the workspace config: identity links
// always come from it; dimensions from --dimensions/--scope when given,
// else from the config, dispatch rules included.
func (f *scopeFlags) route(cmd *cobra.Command, cfg *workspace.Config) (keying.Route, error) {
	if f.session != "" {
		if f.given(cmd) && (cmd.Flags().Changed("channel") || cmd.Flags().Changed("dimensions") || cmd.Flags().Changed("scope")) {
			return keying.Route{}, usageErrorf("--session names a session by itself: drop --channel, --dimensions and --scope")
		}
		id := keying.NamedID(f.session)
		if id == "" {
			return keying.Route{}, usageErrorf("--session: empty name")
		}
		return keying.Route{Agent: keying.NormalizeAgentID(f.agent), ID: id, MainID: keying.MainID(f.agent), MatchedBy: "session"}, nil
	}
	fl := cmd.Flags()
	if fl.Changed("dimensions") && fl.Changed("scope") {
		return keying.Route{}, usageErrorf("--dimensions and --scope both choose the dimensions: give one")
	}
	if !fl.Changed("channel") && !fl.Changed("legacy-key") {
		return keying.Route{}, usageErrorf("--channel is required (or --session NAME)")
	}
	p := cfg.Policy()
	switch {
	case fl.Changed("dimensions"):
		d, err := keying.ParseDimensions(f.dimensions)
		if err != nil {
			return keying.Route{}, usageErrorf("--dimensions: %v", err)
		}
		p.Dimensions, p.Rules = d, nil
	case fl.Changed("scope"):
		d, main, err := keying.ScopeDimensions(f.scope)
		if err != nil {
			return keying.Route{}, usageErrorf("--scope: %v", err)
		}
		p.Dimensions, p.Main, p.Rules = d, main, nil
	}
	r, err := keying.Resolve(f.agent, f.in, p)
	if err == nil && !r.Main && (fl.Changed("dimensions") || fl.Changed("scope")) {
		r.MatchedBy = "flags"
	}
	return r, err
}

// keyOutput is the --json shape of key (docs/cli.md).
type keyOutput struct {
	ID        string        `json:"id"`
	Signature string        `json:"signature"`
	Scope     *keying.Scope `json:"scope"`
	Aliases   []string      `json:"aliases"`
	MainID    string        `json:"main_id"`
	Agent     string        `json:"agent"`
	MatchedBy string        `json:"matched_by"`
	Name      string        `json:"name,omitempty"`
	Key       string        `json:"legacy_key,omitempty"`
	Warnings  []string      `json:"warnings,omitempty"`
}

func newKeyCmd(a *app) *cobra.Command {
	var f scopeFlags
	cmd := &cobra.Command{
		Use:   "key --agent A --channel C [--chat-type T --chat ID] [--sender ID] ...",
		Short: "Print the session id, signature and legacy aliases of a message's route",
		Long: `Print which session a message goes to: its opaque id (the file name under
sessions/), its canonical signature and the legacy keys that resolve to it.

Identity links always come from the workspace config. Dimensions come from
--dimensions or --scope when given (--dimensions "" means none), else from the
config, dispatch rules included. A missing workspace is fine: defaults apply.

EXAMPLES
  picosess key --channel telegram --chat-type direct --chat 123456789 --sender 123456789
  picosess key --channel slack --account Workspace-A --chat-type channel --chat C001 \
      --space-type workspace --space T001 --sender U123 --dimensions space,sender --json
  picosess key --session my-project

EXIT STATUS
  0 printed; 1 bad flags or a config error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			root, err := a.root()
			if err != nil {
				return err
			}
			cfg, warnings, err := workspace.LoadConfig(root)
			if err != nil {
				return err
			}
			for _, w := range warnings {
				fmt.Fprintln(a.stderr, "warning:", w)
			}
			r, err := f.route(cmd, cfg)
			if err != nil {
				return err
			}
			out := keyOutput{ID: r.ID, Signature: r.Signature, Aliases: r.Aliases, MainID: r.MainID,
				Agent: r.Agent, MatchedBy: r.MatchedBy, Key: r.Key, Warnings: warnings}
			if r.Aliases == nil {
				out.Aliases = []string{}
			}
			if f.session != "" {
				out.Name = keying.NormalizeName(f.session)
			} else {
				out.Scope = &r.Scope
			}
			if a.jsonOut {
				enc := json.NewEncoder(a.stdout)
				enc.SetEscapeHTML(false)
				return enc.Encode(out)
			}
			w := a.stdout
			fmt.Fprintf(w, "id:         %s\n", out.ID)
			if out.Name != "" {
				fmt.Fprintf(w, "name:       %s\n", out.Name)
			} else {
				fmt.Fprintf(w, "signature:  %s\n", out.Signature)
			}
			fmt.Fprintf(w, "agent:      %s (matched by %s)\n", out.Agent, out.MatchedBy)
			fmt.Fprintf(w, "main id:    %s\n", out.MainID)
			for i, al := range out.Aliases {
				label := "aliases:"
				if i > 0 {
					label = ""
				}
				fmt.Fprintf(w, "%-11s %s\n", label, al)
			}
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
