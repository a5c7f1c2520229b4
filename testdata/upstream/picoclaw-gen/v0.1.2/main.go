// Command gen upgrades the PicoClaw v0.1.1 install written by ../v0.1.1 to
// v0.1.2 (era P2) as a user's upgrade does, and goes on chatting with
// PicoClaw's own session and cron code, the calls made in the order
// v0.1.2's agent loop makes them. expected.json is the previous one
// extended. Nothing it writes is edited afterwards.
//
// v0.1.2's SessionManager loads every .json of <workspace>/sessions by the
// key inside it and saves a session as <key with ':' -> '_'>.json,
// atomically (session-*.tmp, then rename): a chat that goes on gets a new
// file beside its v0.1.1 one (telegram:123.json stays, telegram_123.json
// holds it all), one that does not keeps only the old name, and a key
// without ':' (cron-<job>) is written over its old file. New in this
// version and driven here: the heartbeat (AgentLoop.ProcessHeartbeat
// stores every heartbeat turn under the key "heartbeat", though it never
// reads that history), and forceCompression after a context-window error
// (the oldest half of the history but its first message is replaced by a
// role "system" note, and saved).
//
//	go run . -from ../../picoclaw/v0.1.1 -out ../../picoclaw/v0.1.2
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/sipeed/picoclaw/pkg/config"
	"github.com/sipeed/picoclaw/pkg/cron"
	"github.com/sipeed/picoclaw/pkg/providers"
	"github.com/sipeed/picoclaw/pkg/session"
)

const version = "v0.1.2"

type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Conversation is one chat as the assistant saw it.
type Conversation struct {
	Name      string    `json:"name"`
	Channel   string    `json:"channel"`
	Account   string    `json:"account,omitempty"`
	ChatType  string    `json:"chat_type"`
	ChatID    string    `json:"chat_id"`
	Sender    string    `json:"sender,omitempty"`
	Topic     string    `json:"topic,omitempty"`
	LegacyKey string    `json:"legacy_key"`
	Chats     []string  `json:"chats,omitempty"`
	Summary   string    `json:"summary,omitempty"`
	Messages  []Message `json:"messages"`
}

// Manifest is expected.json.
type Manifest struct {
	Versions      []string        `json:"versions"`
	DMScope       string          `json:"dm_scope"`
	Conversations []*Conversation `json:"conversations"`
}

type gen struct {
	sm     *session.SessionManager
	man    *Manifest
	byName map[string]*Conversation
	calls  int
}

type tool struct{ name, args, result string }

func main() {
	from := flag.String("from", "", "the v0.1.1 fixture dir to upgrade")
	out := flag.String("out", "", "output dir (replaced)")
	flag.Parse()
	if *out == "" || *from == "" {
		log.Fatal("-from and -out are required")
	}
	if err := os.RemoveAll(*out); err != nil {
		log.Fatal(err)
	}
	if err := os.CopyFS(*out, os.DirFS(*from)); err != nil {
		log.Fatal(err)
	}
	home := filepath.Join(*out, "home")
	cfg, err := config.LoadConfig(filepath.Join(home, "config.json"))
	if err != nil {
		log.Fatal(err)
	}
	man := &Manifest{}
	b, err := os.ReadFile(filepath.Join(*out, "expected.json"))
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(b, man); err != nil {
		log.Fatal(err)
	}
	man.Versions = append(man.Versions, version)
	workspace := filepath.Join(home, cfg.WorkspacePath())
	g := &gen{
		sm:     session.NewSessionManager(filepath.Join(workspace, "sessions")),
		man:    man,
		byName: map[string]*Conversation{},
		calls:  300,
	}
	for _, c := range man.Conversations {
		g.byName[c.Name] = c
	}
	tg := g.byName["telegram-dm"]
	grp := g.byName["telegram-group"]

	g.turn(tg, "back after another upgrade", nil, "Welcome back!")
	// The group's next turn hits the model's context window: the loop
	// compresses the stored history and retries.
	g.compressedTurn(grp, "@bot summarize the week", "A quiet week: weather talk only.")
	g.direct("cli:default", "cli", "direct", "anything new?", "No, only the taxes.")
	jobs := cron.NewCronService(filepath.Join(workspace, "cron", "jobs.json"), nil).ListJobs(false)
	if len(jobs) != 1 {
		log.Fatalf("%d cron jobs, want the one v0.1.1 added", len(jobs))
	}
	g.direct("cron-"+jobs[0].ID, jobs[0].Payload.Channel, jobs[0].Payload.To, jobs[0].Payload.Message, "Time to water the plants!")
	// Two heartbeats (HeartbeatService.buildPrompt with HEARTBEAT.md),
	// routed to the last channel, stored under "heartbeat".
	g.heartbeat("- remind me of the plants if I forget", "HEARTBEAT_OK")
	g.turn(grp, "ok", nil, "ok")
	g.heartbeat("- remind me of the plants if I forget", "HEARTBEAT_OK")

	if err := writeManifest(filepath.Join(*out, "expected.json"), g.man); err != nil {
		log.Fatal(err)
	}
}

func (g *gen) conv(c *Conversation) *Conversation {
	if have, ok := g.byName[c.Name]; ok {
		return have
	}
	g.byName[c.Name] = c
	g.man.Conversations = append(g.man.Conversations, c)
	return c
}

// turn is one inbound channel message keyed <channel>:<chat id> by the
// adapter (BaseChannel.HandleMessage), run as runAgentLoop does.
func (g *gen) turn(c *Conversation, user string, t *tool, answer string) {
	c = g.conv(c)
	c.LegacyKey = c.Channel + ":" + c.ChatID
	g.run(c, c.LegacyKey, user, t, answer, nil)
}

// direct is AgentLoop.ProcessDirectWithChannel: an explicit session key.
func (g *gen) direct(key, channel, chatID, user, answer string) {
	name := key
	if len(key) > 5 && key[:5] == "cron-" {
		name = "cron-job"
	}
	c := g.conv(&Conversation{Name: name, Channel: channel, ChatType: "explicit", ChatID: chatID, LegacyKey: key})
	g.run(c, key, user, nil, answer, nil)
}

// heartbeat is AgentLoop.ProcessHeartbeat: session key "heartbeat",
// history not read (NoHistory) but the turn added and saved all the same;
// no summary.
func (g *gen) heartbeat(tasks, answer string) {
	c := g.conv(&Conversation{Name: "heartbeat", Channel: "telegram", ChatType: "explicit", ChatID: "123456789", LegacyKey: "heartbeat"})
	prompt := fmt.Sprintf(`# Heartbeat Check

Current time: %s

You are a proactive AI assistant. This is a scheduled heartbeat check.
Review the following tasks and execute any necessary actions using available skills.
If there is nothing that requires attention, respond ONLY with: HEARTBEAT_OK

%s
`, time.Now().Format("2006-01-02 15:04:05"), tasks)
	g.sm.AddMessage("heartbeat", "user", prompt)
	g.sm.AddMessage("heartbeat", "assistant", answer)
	if err := g.sm.Save("heartbeat"); err != nil {
		log.Fatal(err)
	}
	c.Messages = append(c.Messages, Message{"user", prompt}, Message{"assistant", answer})
}

// compressedTurn is a turn whose first model call fails with a context
// error: runLLMIteration calls forceCompression after the user message
// was added, then retries.
func (g *gen) compressedTurn(c *Conversation, user, answer string) {
	g.run(c, c.LegacyKey, user, nil, answer, func() { g.forceCompression(c, c.LegacyKey) })
}

// forceCompression is AgentLoop.forceCompression: keep history[0] (taken
// for a system prompt, which the stored history never holds), a system
// note, the second half of the rest, and the last message; SetHistory,
// Save. The dropped messages stay in the v0.1.1 file of the chat (colon
// name), so expected.json keeps them: they are still on disk.
func (g *gen) forceCompression(c *Conversation, key string) {
	history := g.sm.GetHistory(key)
	if len(history) <= 4 {
		log.Fatalf("%s: %d messages, forceCompression would do nothing", key, len(history))
	}
	conversation := history[1 : len(history)-1]
	mid := len(conversation) / 2
	note := fmt.Sprintf("[System: Emergency compression dropped %d oldest messages due to context limit]", mid)
	nh := []providers.Message{history[0], {Role: "system", Content: note}}
	nh = append(nh, conversation[mid:]...)
	nh = append(nh, history[len(history)-1])
	g.sm.SetHistory(key, nh)
	if err := g.sm.Save(key); err != nil {
		log.Fatal(err)
	}
	// On disk: the old file has every message before this turn; the new
	// one has history[0], the note, the kept half and the user message.
	// One timeline: the note stands where the dropped messages were.
	n := len(c.Messages) // the user message of this turn is the last
	kept := len(conversation) - mid
	msgs := append([]Message{}, c.Messages[:n-1-kept]...)
	msgs = append(msgs, Message{"system", note})
	msgs = append(msgs, c.Messages[n-1-kept:]...)
	c.Messages = msgs
}

func (g *gen) run(c *Conversation, key, user string, t *tool, answer string, retry func()) {
	g.sm.AddMessage(key, "user", user)
	c.Messages = append(c.Messages, Message{"user", user})
	if retry != nil {
		retry()
	}
	if t != nil {
		g.calls++
		id := fmt.Sprintf("call_%s_%d", t.name, g.calls)
		g.sm.AddFullMessage(key, providers.Message{Role: "assistant", ToolCalls: []providers.ToolCall{{
			ID: id, Type: "function", Function: &providers.FunctionCall{Name: t.name, Arguments: t.args},
		}}})
		c.Messages = append(c.Messages, Message{"assistant", ""})
		g.sm.AddFullMessage(key, providers.Message{Role: "tool", Content: t.result, ToolCallID: id})
		c.Messages = append(c.Messages, Message{"tool", t.result})
	}
	g.sm.AddMessage(key, "assistant", answer)
	c.Messages = append(c.Messages, Message{"assistant", answer})
	if err := g.sm.Save(key); err != nil {
		log.Fatal(err)
	}
	if len(g.sm.GetHistory(key)) > 20 {
		log.Fatalf("%s: over 20 messages; summarize as v0.1.1's generator does", key)
	}
}

func writeManifest(path string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
