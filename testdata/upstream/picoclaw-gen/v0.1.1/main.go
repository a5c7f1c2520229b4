// Command gen upgrades the PicoClaw v0.0.1 install written by ../v0.0.1 to
// v0.1.1 (era P1) as a user's upgrade does, and goes on chatting with
// PicoClaw's own session and cron code, the calls made in the order
// v0.1.1's agent loop makes them. expected.json is the previous one
// extended. Nothing it writes is edited afterwards.
//
// v0.1.1 keeps sessions in <workspace>/sessions (v0.0.1's
// $PICOCLAW_HOME/sessions stays where it was, never read again), names
// each file by its raw key with the colons kept, and keys a chat
// <channel>:<chat id> (channels.BaseChannel.HandleMessage); a cron job's
// turns go to cron-<job id> (tools.CronTool.ExecuteJob). Tool calls and
// results are saved; a session over 20 messages is summarized
// (summarizeSession: SetSummary, TruncateHistory(4), Save).
//
//	go run . -from ../../picoclaw/v0.0.1 -out ../../picoclaw/v0.1.1
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/sipeed/picoclaw/pkg/config"
	"github.com/sipeed/picoclaw/pkg/cron"
	"github.com/sipeed/picoclaw/pkg/providers"
	"github.com/sipeed/picoclaw/pkg/session"
)

const version = "v0.1.1"

// Message is one message as the manifest records it.
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
	from := flag.String("from", "", "the v0.0.1 fixture dir to upgrade")
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
	// The workspace is relative in the fixture's config (the v0.0.1
	// generator made it so): relative to the home here.
	workspace := filepath.Join(home, cfg.WorkspacePath())
	g := &gen{
		// As agent.NewAgentLoop does: <workspace>/sessions.
		sm:     session.NewSessionManager(filepath.Join(workspace, "sessions")),
		man:    man,
		byName: map[string]*Conversation{},
		calls:  200,
	}
	for _, c := range man.Conversations {
		g.byName[c.Name] = c
	}
	tg := &Conversation{Name: "telegram-dm", Channel: "telegram", ChatType: "direct", ChatID: "123456789", Sender: "123456789"}
	grp := &Conversation{Name: "telegram-group", Channel: "telegram", ChatType: "group", ChatID: "-1001234567890", Sender: "777"}
	dc := &Conversation{Name: "discord-dm", Channel: "discord", ChatType: "direct", ChatID: "1187766554433221100", Sender: "555000111222333444"}

	g.turn(tg, "back after the upgrade: what is in notes.txt?", &tool{"read_file", `{"path":"notes.txt"}`, "buy milk\ncall bob"}, "notes.txt says: buy milk, call bob.")
	g.turn(grp, "@bot what's the weather?", &tool{"web_fetch", `{"url":"https://wttr.in/Tokyo"}`, "Tokyo: 12°C, clear"}, "12°C and clear in Tokyo.")
	g.turn(dc, "hey again from discord", nil, "Hello again!")
	g.direct("cli:default", "cli", "cli", "direct", "what's left today?", "Only the taxes.")

	// A cron job as the cron tool adds it (cron.CronService.AddJob, the
	// store in <workspace>/cron/jobs.json), run once as
	// CronTool.ExecuteJob runs a job with deliver=false.
	cs := cron.NewCronService(filepath.Join(workspace, "cron", "jobs.json"), nil)
	every := int64(24 * 60 * 60 * 1000)
	job, err := cs.AddJob("daily plants", cron.CronSchedule{Kind: "every", EveryMS: &every}, "remind me to water the plants", false, "telegram", "123456789")
	if err != nil {
		log.Fatal(err)
	}
	g.direct("cron-"+job.ID, "telegram", "telegram", "123456789", job.Payload.Message, "Time to water the plants!")

	for i := range 5 {
		g.turn(tg, fmt.Sprintf("question %d: and todo.md?", i+1), &tool{"read_file", `{"path":"todo.md"}`, "- [ ] taxes\n- [x] dentist"}, "todo.md: taxes open, dentist done.")
	}
	g.turn(grp, "thanks", nil, "You're welcome.")
	g.turn(dc, "what's 2+2?", nil, "4")
	g.turn(tg, "ok", nil, "ok")
	g.turn(tg, "thanks, one more: is the dentist done?", nil, "Yes, the dentist is done.")

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

// turn is one inbound channel message: the adapter keys it
// <channel>:<chat id>; runAgentLoop adds the user message, runLLMIteration
// an optional tool round (assistant with tool_calls, tool result), then
// the answer, Save, and maybeSummarize.
func (g *gen) turn(c *Conversation, user string, t *tool, answer string) {
	c = g.conv(c)
	c.LegacyKey = c.Channel + ":" + c.ChatID
	g.run(c, c.LegacyKey, user, t, answer)
}

// direct is AgentLoop.ProcessDirectWithChannel (ProcessDirect: cli,
// direct): an explicit session key.
func (g *gen) direct(key, channel, convChannel, chatID, user, answer string) {
	c := g.conv(&Conversation{Name: key, Channel: convChannel, ChatType: "explicit", LegacyKey: key})
	if len(key) > 5 && key[:5] == "cron-" {
		c.Name, c.ChatID = "cron-job", chatID
	}
	g.run(c, key, user, nil, answer)
}

func (g *gen) run(c *Conversation, key, user string, t *tool, answer string) {
	g.sm.AddMessage(key, "user", user)
	c.Messages = append(c.Messages, Message{"user", user})
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
	if err := g.sm.Save(g.sm.GetOrCreate(key)); err != nil {
		log.Fatal(err)
	}
	g.maybeSummarize(c, key)
}

// maybeSummarize is AgentLoop.maybeSummarize and summarizeSession with the
// model's summary: over 20 messages, the summary is set, the history cut
// to its last 4 and saved. The cut messages are gone from disk for good.
func (g *gen) maybeSummarize(c *Conversation, key string) {
	if len(g.sm.GetHistory(key)) <= 20 {
		return
	}
	summary := fmt.Sprintf("User %s asked about notes.txt (shopping) and, repeatedly, todo.md (taxes open).", c.Sender)
	g.sm.SetSummary(key, summary)
	g.sm.TruncateHistory(key, 4)
	if err := g.sm.Save(g.sm.GetOrCreate(key)); err != nil {
		log.Fatal(err)
	}
	c.Summary = summary
	c.Messages = c.Messages[len(c.Messages)-4:]
}

func writeManifest(path string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
