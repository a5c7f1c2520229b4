package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/picosess/picosess/summarize"
	"github.com/spf13/cobra"
)

// contextOptions are the flags of context.
type contextOptions struct {
	maxTokens int
	strategy  string
	pins      []int64
}

// contextOutput is the --json shape of context (docs/cli.md): the
// library's Context (messages, tokens, seqs, budget, accounting) with the
// session id and each message's token count.
type contextOutput struct {
	ID    string `json:"id"`
	Agent string `json:"agent"`
	summarize.Context
	// MessageTokens[i] is what Messages[i] costs (the library's
	// Context.MessageTokens, which its JSON leaves out); their sum plus the
	// reply priming is Tokens.
	MessageTokens []int `json:"message_tokens"`
}

func newContextCmd(a *app) *cobra.Command {
	var o contextOptions
	cmd := &cobra.Command{
		Use:   "context [SESSION] --max-tokens N [--strategy recent|smart|summarize] [--pin SEQ]...",
		Short: "Print the messages to send to a model within a token budget",
		Long: `Build the context of a session: the messages to send to a model (OpenAI chat
format, the summary as a system message) that fit in --max-tokens, and the
token accounting. A tool call is never sent without its results.

Strategies (docs/summarize.md):
  recent     the newest messages that fit; no summary
  smart      system messages, the summary, pinned messages (--pin SEQ), then
             the newest that fit (default)
  summarize  the summary, then the newest that fit; when the history does
             not fit, it is summarized first (a summary record is appended,
             with the summarizer of the workspace config)

Tokens are counted with the configured counter (tiktoken o200k_base by
default); counts stored at append are trusted.

--json prints one object (docs/cli.md): "messages" (what to send), "tokens"
(their total, reply priming included, never above --max-tokens),
"message_tokens", "seqs", and the accounting.

EXAMPLES
  picosess context sk_v1_67fe19a8ec8f --max-tokens 8000
  picosess context my-project --max-tokens 2000 --strategy recent --json

Without SESSION: the session $PICOSESS_SESSION names, else config.json's
session.name (as append uses).

EXIT STATUS
  0 printed; 1 bad flags (--max-tokens missing or not positive, unknown
  strategy), unknown or ambiguous SESSION, a config error, or (summarize
  strategy) the summarizer failed; 10 not a workspace; 11 locked;
  130 interrupted.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := a.currentSession(args)
			if err != nil {
				return err
			}
			return a.runContext(cmd.Context(), cmd, &o, ref)
		},
	}
	cmd.Flags().IntVar(&o.maxTokens, "max-tokens", 0, "token budget (required)")
	cmd.Flags().StringVar(&o.strategy, "strategy", string(summarize.DefaultStrategy), "recent, smart or summarize")
	cmd.Flags().Int64SliceVar(&o.pins, "pin", nil, "seq of a message the smart strategy keeps (repeatable)")
	return cmd
}

func (a *app) runContext(ctx context.Context, cmd *cobra.Command, o *contextOptions, ref string) error {
	if !cmd.Flags().Changed("max-tokens") {
		return usageErrorf("--max-tokens N is required: the budget the context must fit")
	}
	if o.maxTokens <= 0 {
		return usageErrorf("--max-tokens %d: want a positive number of tokens", o.maxTokens)
	}
	st := summarize.Strategy(o.strategy)
	switch st {
	case summarize.StrategyRecent, summarize.StrategySmart, summarize.StrategySummarize:
	default:
		return usageErrorf("--strategy %q: want recent, smart or summarize", o.strategy)
	}
	if len(o.pins) > 0 && st != summarize.StrategySmart {
		return usageErrorf("--pin applies to the smart strategy only")
	}
	s, closeWS, err := a.openSession(ctx, ref)
	if err != nil {
		return err
	}
	defer closeWS()
	m, err := s.Meta(ctx)
	if err != nil {
		return err
	}
	k, err := a.compactors(s.Workspace()).For(ctx, s)
	if err != nil {
		return err
	}
	c, err := k.Context(ctx, s, summarize.Budget{MaxTokens: o.maxTokens, Strategy: st, Pinned: o.pins})
	if err != nil {
		return err
	}
	out := contextOutput{ID: s.ID(), Agent: agentName(m.Agent), Context: c, MessageTokens: c.MessageTokens}
	if a.jsonOut {
		return a.writeJSON(out)
	}
	return writeContextText(a.stdout, out)
}

func writeContextText(w io.Writer, c contextOutput) error {
	bw := &errWriter{w: w}
	fmt.Fprintf(bw, "context of %s (agent %s) · strategy %s · budget %d tokens\n", c.ID, c.Agent, c.Strategy, c.Budget.MaxTokens)
	if len(c.Messages) == 0 {
		fmt.Fprintln(bw, "  (nothing to send)")
	} else {
		tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "SEQ\tTOKENS\t\tMESSAGE")
		for i, m := range c.Messages {
			fmt.Fprintf(tw, "#%d\t%d\t\t%s\n", c.Seqs[i], c.MessageTokens[i], chatLine(m))
		}
		tw.Flush()
	}
	sum := ""
	if c.SummaryTokens > 0 {
		sum = fmt.Sprintf(" + the summary #%d (%d tokens)", c.SummarySeq, c.SummaryTokens)
	}
	fmt.Fprintf(bw, "total %d of %d tokens (%d for the reply priming); %d of %d message(s) sent%s",
		c.Tokens, c.Budget.MaxTokens, primeOf(c), c.Included, c.Available, sum)
	if c.Omitted > 0 {
		fmt.Fprintf(bw, "; %d left out (%d tokens)", c.Omitted, c.OmittedTokens)
	}
	fmt.Fprintln(bw)
	for _, r := range c.Repairs {
		fmt.Fprintf(bw, "repaired: %s\n", r)
	}
	for _, n := range c.Notes {
		fmt.Fprintf(bw, "note: %s\n", n)
	}
	return bw.err
}

func primeOf(c contextOutput) int {
	if len(c.Messages) == 0 {
		return 0
	}
	return summarize.TokensReplyPrime
}

// chatLine renders a chat message on one line: role, then content or
// tool calls.
func chatLine(m summarize.ChatMessage) string {
	text := m.Content
	if m.ToolCallID != "" {
		text = "[result of " + m.ToolCallID + "] " + text
	}
	var calls []string
	for _, tc := range m.ToolCalls {
		calls = append(calls, fmt.Sprintf("→ %s(%s)", tc.Function.Name, clip(tc.Function.Arguments, 60)))
	}
	if len(calls) > 0 {
		text = strings.TrimSpace(text + " " + strings.Join(calls, " "))
	}
	return fmt.Sprintf("%-9s %s", m.Role, clip(text, 100))
}
