// Command gen writes a PicoClaw v0.0.1 install (era P0: one JSON file per
// session named by the raw key, in $PICOCLAW_HOME/sessions beside the
// workspace) with PicoClaw's own session code, the calls made in the
// order v0.0.1's agent loop makes them, and an expected.json saying which
// conversation each message belongs to. Nothing it writes is edited
// afterwards.
//
// v0.0.1's channel adapters (channels.BaseChannel.HandleMessage) put no
// session key in the inbound message, so AgentLoop.processMessage stores
// every chat of every channel under the empty key, in sessions/.json; only
// `picoclaw agent` passes a key (cli:default). The loop saves the user
// message and the final answer only: tool calls and results never reach
// the session. There is no summary and no cron in this version.
//
//	go run . -out ../../picoclaw/v0.0.1
package main

import (
	"encoding/json"
	"flag"
	"log"
	"os"
	"path/filepath"

	"github.com/sipeed/picoclaw/pkg/config"
	"github.com/sipeed/picoclaw/pkg/session"
)

const version = "v0.0.1"

// Message is one message as the manifest records it.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Conversation is one session as the assistant stored it.
type Conversation struct {
	Name      string `json:"name"`
	Channel   string `json:"channel"`
	Account   string `json:"account,omitempty"`
	ChatType  string `json:"chat_type"`
	ChatID    string `json:"chat_id"`
	Sender    string `json:"sender,omitempty"`
	Topic     string `json:"topic,omitempty"`
	LegacyKey string `json:"legacy_key"`
	// Chats: for the empty-key session, the chats whose messages it holds
	// (channel:chat), in the order they first wrote.
	Chats    []string  `json:"chats,omitempty"`
	Summary  string    `json:"summary,omitempty"`
	Messages []Message `json:"messages"`
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
}

// chat is an inbound chat as a v0.0.1 adapter delivers it.
type chat struct{ channel, chatID, sender string }

func main() {
	out := flag.String("out", "", "output dir (replaced)")
	flag.Parse()
	if *out == "" {
		log.Fatal("-out is required")
	}
	if err := os.RemoveAll(*out); err != nil {
		log.Fatal(err)
	}
	home := filepath.Join(*out, "home")
	cfg := config.DefaultConfig()
	// Relative, so the fixture does not point at the machine's ~/.picoclaw.
	cfg.Agents.Defaults.Workspace = "workspace"
	if err := os.MkdirAll(home, 0o755); err != nil {
		log.Fatal(err)
	}
	if err := config.SaveConfig(filepath.Join(home, "config.json"), cfg); err != nil {
		log.Fatal(err)
	}
	g := &gen{
		// As agent.NewAgentLoop does: <dir of the workspace>/sessions,
		// i.e. $PICOCLAW_HOME/sessions.
		sm:     session.NewSessionManager(filepath.Join(home, filepath.Dir(cfg.Agents.Defaults.Workspace), "sessions")),
		man:    &Manifest{Versions: []string{version}},
		byName: map[string]*Conversation{},
	}

	tg := chat{"telegram", "123456789", "123456789"}
	grp := chat{"telegram", "-1001234567890", "777"}
	dc := chat{"discord", "1187766554433221100", "555000111222333444"}

	g.channel(tg, "hi, what is in notes.txt?", "notes.txt says: buy milk, call bob.")
	g.channel(grp, "@bot what time is it in Tokyo?", "It is 21:03 in Tokyo.")
	g.channel(dc, "hey from discord", "Hello! How can I help?")
	g.channel(tg, "ok", "ok")
	g.channel(grp, "thanks", "You're welcome.")
	// picoclaw agent -m ... (CLI): the session key given on the command line.
	g.direct("cli:default", "summarize my day", "You have taxes left to do.")
	g.channel(tg, "thanks", "You're welcome.")

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

// channel is one inbound channel message as AgentLoop.processMessage
// handles it: the adapter's message carries no SessionKey, so the key is
// "" whatever the chat; user message and answer added, then saved.
func (g *gen) channel(ch chat, user, answer string) {
	c := g.conv(&Conversation{Name: "channels", ChatType: "explicit", LegacyKey: ""})
	id := ch.channel + ":" + ch.chatID
	seen := false
	for _, have := range c.Chats {
		seen = seen || have == id
	}
	if !seen {
		c.Chats = append(c.Chats, id)
	}
	g.process("", user, answer)
	c.Messages = append(c.Messages, Message{"user", user}, Message{"assistant", answer})
}

// direct is AgentLoop.ProcessDirect: an explicit session key.
func (g *gen) direct(key, user, answer string) {
	c := g.conv(&Conversation{Name: key, Channel: "cli", ChatType: "explicit", LegacyKey: key})
	g.process(key, user, answer)
	c.Messages = append(c.Messages, Message{"user", user}, Message{"assistant", answer})
}

// process is the tail of AgentLoop.processMessage.
func (g *gen) process(key, user, answer string) {
	g.sm.AddMessage(key, "user", user)
	g.sm.AddMessage(key, "assistant", answer)
	if err := g.sm.Save(g.sm.GetOrCreate(key)); err != nil {
		log.Fatal(err)
	}
}

func writeManifest(path string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
