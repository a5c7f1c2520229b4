package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
	"github.com/spf13/cobra"
)

// demoOutput is the --json shape of demo (docs/cli.md).
type demoOutput struct {
	Workspace string   `json:"workspace"`
	Sessions  []string `json:"sessions"` // ids, in the order they were made
}

func newDemoCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "demo [DIR]",
		Short: "Build an example workspace and walk through ls, show, export, search and context",
		Long: `Build a small, realistic workspace and walk through it: a Telegram direct
chat that was reset, a Slack channel with a tool call, a Telegram group where
two people talk, a Telegram forum topic, and a named session with a
checkpoint. Then run ls, show and export on it, explaining what they print.

The workspace goes to DIR (which must be empty or absent), else to a new
temporary directory; it is kept afterwards so you can explore it. The global
--workspace flag is not used: demo never writes into an existing workspace.

--json builds the workspace and prints {"workspace": DIR, "sessions": [ids]}
without the walk-through.

EXIT STATUS
  0 done; 1 DIR is not empty, or a failure; 130 interrupted.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			dir, err := demoDir(args)
			if err != nil {
				return err
			}
			ids, err := buildDemo(ctx, dir, time.Now())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.writeJSON(demoOutput{Workspace: dir, Sessions: ids})
			}
			return a.walkDemo(ctx, dir, ids)
		},
	}
}

// demoDir is DIR, checked to be empty or absent, or a new temporary
// directory.
func demoDir(args []string) (string, error) {
	if len(args) == 0 {
		return os.MkdirTemp("", "picosess-demo-")
	}
	dir, err := filepath.Abs(args[0])
	if err != nil {
		return "", err
	}
	des, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return dir, nil
	case err != nil:
		return "", fmt.Errorf("demo: %w", err)
	case len(des) > 0:
		return "", usageErrorf("demo: %s is not empty; give a new or empty directory (demo never writes into an existing workspace)", dir)
	}
	return dir, nil
}

// demoStep is one thing that happened in the demo workspace.
type demoStep struct {
	ago  time.Duration // before now
	recs []workspace.Record
}

func msg(role, sender, content string) workspace.Record {
	return workspace.Record{Type: workspace.TypeMessage, Role: role, Sender: sender, Content: content}
}

// buildDemo writes the demo sessions into dir, their records stamped in
// the past relative to now, and returns their ids: the Telegram DM, the
// Slack channel, the Telegram group, the forum topic, the named session.
func buildDemo(ctx context.Context, dir string, now time.Time) ([]string, error) {
	clock := now
	w, err := workspace.Open(dir, &workspace.Options{Durability: workspace.DurabilityNever, Now: func() time.Time { return clock }})
	if err != nil {
		return nil, err
	}
	defer w.Close()
	policy := keying.Policy{} // the default: one session per chat
	// open creates the session of in, its header stamped ago before now.
	open := func(ago time.Duration, in keying.Inbound) (*workspace.Session, error) {
		r, err := keying.Resolve("main", in, policy)
		if err != nil {
			return nil, err
		}
		clock = now.Add(-ago)
		return w.SessionForRoute(ctx, r)
	}
	play := func(s *workspace.Session, steps []demoStep) error {
		for _, st := range steps {
			clock = now.Add(-st.ago)
			if _, err := s.Append(ctx, st.recs...); err != nil {
				return err
			}
		}
		return nil
	}
	const (
		day    = 24 * time.Hour
		min    = time.Minute
		second = time.Second
	)
	var ids []string

	// 1. A Telegram direct chat: yesterday's conversation, a daily reset,
	// and this morning's.
	dm, err := open(day+3*time.Hour+second, keying.Inbound{Channel: "telegram", ChatType: "direct", ChatID: "123456789", SenderID: "123456789"})
	if err != nil {
		return nil, err
	}
	if err := play(dm, []demoStep{
		{day + 3*time.Hour, []workspace.Record{msg("user", "alice", "Can you remind me what time the dentist is on Friday?")}},
		{day + 3*time.Hour - min, []workspace.Record{msg("assistant", "", "Your dentist appointment is on Friday at 09:30, at Dr. Jansen's on Elm Street.")}},
		{day + 3*time.Hour - 2*min, []workspace.Record{msg("user", "alice", "Thanks! Please also remind me to bring the insurance card.")}},
		{day + 3*time.Hour - 3*min, []workspace.Record{msg("assistant", "", "Noted: I will remind you on Friday at 08:00 to bring your insurance card.")}},
		{5 * time.Hour, []workspace.Record{{Type: workspace.TypeReset, Reason: workspace.ReasonDaily}}},
		{5*time.Hour - min, []workspace.Record{msg("user", "alice", "Good morning! What's on my list today?")}},
		{5*time.Hour - 2*min, []workspace.Record{msg("assistant", "", "Good morning, Alice. Today: the dentist at 09:30 (bring the insurance card) and a call with Bob at 15:00.")}},
	}); err != nil {
		return nil, err
	}
	ids = append(ids, dm.ID())

	// 2. A Slack channel, where one turn calls a tool: the question, the
	// tool call, its result and the answer land in one write.
	slack, err := open(40*min+second, keying.Inbound{Channel: "slack", Account: "acme", ChatType: "channel", ChatID: "C0OPS", SpaceType: "workspace", SpaceID: "T0ACME", SenderID: "U07DANA"})
	if err != nil {
		return nil, err
	}
	call := json.RawMessage(`[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rotterdam\"}"}}]`)
	toolResult := msg("tool", "", `{"city":"Rotterdam","temp_c":14,"sky":"light rain","wind_kmh":32}`)
	toolResult.ToolCallID = "call_1"
	if err := play(slack, []demoStep{
		{40 * min, []workspace.Record{
			msg("user", "U07DANA", "Is it going to rain in Rotterdam for the team lunch?"),
			{Type: workspace.TypeMessage, Role: "assistant", ToolCalls: call, ModelName: "gpt-4o-mini"},
			toolResult,
			msg("assistant", "", "Light rain in Rotterdam right now (14 °C, wind 32 km/h): book a table inside."),
		}},
	}); err != nil {
		return nil, err
	}
	ids = append(ids, slack.ID())

	// 3. A Telegram group where two people talk to the assistant: one
	// session for the chat, each message keeps its sender.
	group, err := open(3*day+2*time.Hour+second, keying.Inbound{Channel: "telegram", ChatType: "group", ChatID: "-1001234567", SenderID: "bob"})
	if err != nil {
		return nil, err
	}
	if err := play(group, []demoStep{
		{3*day + 2*time.Hour, []workspace.Record{msg("user", "bob", "@assistant which evening works for the book club next week?")}},
		{3*day + 2*time.Hour - min, []workspace.Record{msg("assistant", "", "Tuesday and Thursday are free for everyone who answered the poll.")}},
		{3*day + 2*time.Hour - 3*min, []workspace.Record{msg("user", "carol", "Thursday please, I have choir on Tuesdays.")}},
		{3*day + 2*time.Hour - 4*min, []workspace.Record{msg("assistant", "", "Thursday it is. I have set the title of the next meeting to 'Book club: The Dispossessed'.")}},
		{3*day + 2*time.Hour - 5*min, []workspace.Record{{Type: workspace.TypeTitle, Text: "Book club planning"}}},
	}); err != nil {
		return nil, err
	}
	ids = append(ids, group.ID())

	// 4. A topic of a Telegram forum group: the topic folds into the chat
	// value (group:-1009876543/42), so each topic is its own session.
	topic, err := open(12*day+second, keying.Inbound{Channel: "telegram", ChatType: "group", ChatID: "-1009876543", TopicID: "42", SenderID: "dave"})
	if err != nil {
		return nil, err
	}
	if err := play(topic, []demoStep{
		{12 * day, []workspace.Record{msg("user", "dave", "Summarise the release checklist for v2.3, please.")}},
		{12*day - min, []workspace.Record{msg("assistant", "", "1. Freeze main. 2. Run the migration tests. 3. Tag v2.3.0. 4. Announce in #releases.")}},
	}); err != nil {
		return nil, err
	}
	ids = append(ids, topic.ID())

	// 5. A named session (not tied to a chat) with a checkpoint.
	clock = now.Add(-26*time.Hour - second)
	named, err := w.Session(ctx, workspace.Target{Name: "trip-plan"})
	if err != nil {
		return nil, err
	}
	if err := play(named, []demoStep{
		{26 * time.Hour, []workspace.Record{msg("user", "", "Plan three days in Lisbon in May, trains only, mid-range hotels.")}},
		{26*time.Hour - min, []workspace.Record{msg("assistant", "", "Day 1: Alfama and the castle. Day 2: Belém by tram 15. Day 3: a train to Sintra.")}},
	}); err != nil {
		return nil, err
	}
	clock = now.Add(-26*time.Hour + 2*min)
	if _, err := named.SaveCheckpoint(ctx, "itinerary-v1", "the first plan, before changing day 3"); err != nil {
		return nil, err
	}
	if err := play(named, []demoStep{
		{26*time.Hour - 3*min, []workspace.Record{msg("user", "", "Swap Sintra for Cascais, I'd rather be at the sea.")}},
		{26*time.Hour - 4*min, []workspace.Record{msg("assistant", "", "Day 3 is now Cascais: 40 minutes by train from Cais do Sodré, beach and the Boca do Inferno cliffs.")}},
	}); err != nil {
		return nil, err
	}
	return append(ids, named.ID()), nil
}

// walkDemo runs ls, show and export on the demo workspace, each output
// introduced by what to look at.
func (a *app) walkDemo(ctx context.Context, dir string, ids []string) error {
	out := &errWriter{w: a.stdout}
	say := func(text string) { fmt.Fprintf(out, "\n%s\n", text) }
	runStep := func(args ...string) error {
		fmt.Fprintf(out, "\n$ picosess %s\n", strings.Join(args, " "))
		var errb bytes.Buffer
		code := run(ctx, append([]string{"--workspace", dir}, args...), strings.NewReader(""), out, &errb)
		if code != 0 {
			return fmt.Errorf("demo: picosess %s: exit %d: %s", strings.Join(args, " "), code, strings.TrimSpace(errb.String()))
		}
		return out.err
	}
	fmt.Fprintf(out, "Built a demo workspace in %s:\n5 sessions from Telegram, Slack and a named session, with a reset, a tool call and a checkpoint.\n", dir)
	steps := []struct {
		text string
		args []string
	}{
		{"ls lists the sessions, most recent first. Each is one file, sessions/<ID>.jsonl; the ID column is\n" +
			"a prefix you can give any command. The title is the first user message unless renamed.", []string{"ls"}},
		{"show prints a session's active history: the messages since the last reset. A SESSION can be an id\n" +
			"(prefix), or the legacy key an assistant like PicoClaw used for the chat:", []string{"show", "agent:main:telegram:direct:123456789"}},
		{"That chat was reset this morning (a daily reset). Nothing was deleted: --all shows every\n" +
			"conversation of the file, with the reset between them.", []string{"show", "agent:main:telegram:direct:123456789", "--all"}},
		{"In the Slack channel one turn called a tool: the question, the tool call, its result and the\n" +
			"answer were written together, with consecutive seqs (#2 to #5).", []string{"show", shortID(ids[1])}},
		{"In a group chat, one session holds everyone's messages; the sender is kept on each:", []string{"show", shortID(ids[2])}},
		{"A named session, with a checkpoint saved before the plan changed:", []string{"checkpoint", "ls", "trip-plan"}},
		{"export writes a session as Markdown (or --format json / jsonl) for people and other tools:", []string{"export", "trip-plan"}},
		{"search looks through every session and every conversation, resets included. The index under\n" +
			"index/ is derived from the files: built on first use, caught up before each search.", []string{"search", "dentist"}},
		{"context picks what to send to a model within a token budget: the newest messages that fit,\n" +
			"never a tool call without its result, a summary (when there is one) as a system message:", []string{"context", "trip-plan", "--max-tokens", "50"}},
	}
	for _, st := range steps {
		say(st.text)
		if err := runStep(st.args...); err != nil {
			return err
		}
	}
	if _, err := exec.LookPath("picosess"); err != nil {
		say("picosess is not on your PATH yet. From the repository: go install ./cmd/picosess\n" +
			"(it lands in $(go env GOPATH)/bin; add that directory to PATH).")
	}
	say(fmt.Sprintf(`Next, try:
  export PICOSESS_WORKSPACE=%s
  picosess ls --json
  picosess checkpoint restore trip-plan itinerary-v1 && picosess show trip-plan
  picosess append --session trip-plan --role user --content "Add a day in Porto"
  picosess policy trip-plan
  picosess export %s --format jsonl --all
  picosess check
  picosess rm trip-plan --yes && picosess rm --trash
The workspace stays in %s; delete it with: rm -r %s`, dir, shortID(ids[1]), dir, dir))
	return out.err
}
