// Command gen upgrades the PicoClaw v0.2.0 install written by ../v0.2.0 to
// v0.2.6 (era P4) as a user's upgrade does: the store is opened the way
// PicoClaw's agent opens it (JSONL store, then MigrateFromJSON, which turns
// each .json into .jsonl + .meta.json and leaves .json.migrated), and the
// same chats go on, plus a Telegram forum topic, with PicoClaw's own
// routing and session code. expected.json is the previous one extended.
// Nothing it writes is edited afterwards.
//
//	go run . -from ../../picoclaw/v0.2.0 -out ../../picoclaw/v0.2.6
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/sipeed/picoclaw/pkg/config"
	"github.com/sipeed/picoclaw/pkg/memory"
	"github.com/sipeed/picoclaw/pkg/providers"
	"github.com/sipeed/picoclaw/pkg/routing"
	"github.com/sipeed/picoclaw/pkg/session"
)

const version = "v0.2.6"

// Message is one message as the manifest records it.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Conversation is one chat as the assistant saw it.
type Conversation struct {
	Name      string `json:"name"`
	Channel   string `json:"channel"`
	Account   string `json:"account,omitempty"`
	ChatType  string `json:"chat_type"`
	ChatID    string `json:"chat_id"`
	Sender    string `json:"sender,omitempty"`
	Topic     string `json:"topic,omitempty"`
	LegacyKey string `json:"legacy_key"`
	// Main: the conversation is the agent's main session (a message
	// without a peer); the assistant reaches it by that key, not a route.
	Main     bool      `json:"main,omitempty"`
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
	sm       session.SessionStore
	resolver *routing.RouteResolver
	man      *Manifest
	byName   map[string]*Conversation
	calls    int
	// converted: how many messages of each conversation MigrateFromJSON
	// found in its .json (they stay in the .json.migrated copy).
	converted map[string]int
}

func main() {
	from := flag.String("from", "", "the v0.2.0 fixture dir to upgrade")
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
	g := &gen{
		sm:        openStore(filepath.Join(home, "workspace", "sessions")),
		resolver:  routing.NewRouteResolver(cfg),
		man:       man,
		byName:    map[string]*Conversation{},
		calls:     100,
		converted: map[string]int{},
	}
	for _, c := range man.Conversations {
		g.byName[c.Name] = c
		g.converted[c.Name] = len(c.Messages)
	}
	tg := g.byName["telegram-dm"]
	wa := g.byName["whatsapp-dm"]
	dc := g.byName["discord-dm"]
	grp := g.byName["telegram-group"]
	topic := &Conversation{Name: "telegram-forum-topic", Channel: "telegram", ChatType: "group", ChatID: "-1001234567890", Topic: "42", Sender: "888"}

	g.turn(tg, "back again after the upgrade", nil, "Welcome back!")
	g.turn(grp, "ok", nil, "ok")
	g.turn(topic, "in the release topic: is v2 out?", &tool{"web_search", `{"query":"v2 release"}`, "v2 was released on 2026-03-20"}, "Yes, v2 came out on 2026-03-20.")
	g.turn(wa, "did you remind me?", nil, "Yes: water the plants.")
	g.turn(dc, "thanks", nil, "You're welcome.")
	g.turn(grp, "what's the weather?", &tool{"web_fetch", `{"url":"https://wttr.in/Tokyo"}`, "Tokyo: 12°C, clear"}, "12°C and clear in Tokyo.")
	g.turn(topic, "ok", nil, "ok")
	g.turn(grp, "thanks", nil, "You're welcome.")
	// context_legacy.go summarizeSession: summary, TruncateHistory(keep),
	// Save. In this era TruncateHistory only raises the meta's skip: the
	// lines stay in the .jsonl.
	g.summarize(grp, "The group asked for Tokyo's time and weather.", 4)
	g.turn(grp, "and tomorrow?", nil, "Rain is expected tomorrow.")
	g.direct("cli:default", "cli", "what's left today?", "Only the taxes.")
	// A message without a peer (as system and heartbeat messages are
	// routed) goes to agent:main:main, so the main session has content
	// when v0.2.9 starts.
	g.turn(&Conversation{Name: "main", Channel: "telegram", ChatType: "direct", Main: true}, "status check: are you alive?", nil, "Yes, all systems go.")

	if c, ok := g.sm.(interface{ Close() error }); ok {
		if err := c.Close(); err != nil {
			log.Fatal(err)
		}
	}
	if err := writeManifest(filepath.Join(*out, "expected.json"), g.man); err != nil {
		log.Fatal(err)
	}
}

// openStore is agent.initSessionStore of this version.
func openStore(dir string) session.SessionStore {
	store, err := memory.NewJSONLStore(dir)
	if err != nil {
		log.Fatal(err)
	}
	n, err := memory.MigrateFromJSON(context.Background(), dir, store)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("MigrateFromJSON converted %d sessions", n)
	return session.NewJSONLBackend(store)
}

type tool struct{ name, args, result string }

func (g *gen) conv(c *Conversation) *Conversation {
	if have, ok := g.byName[c.Name]; ok {
		return have
	}
	g.byName[c.Name] = c
	g.man.Conversations = append(g.man.Conversations, c)
	return c
}

// turn is one inbound message handled as AgentLoop.processMessage and
// runAgentLoop/runLLMIteration do: route, user message, an optional tool
// round (assistant with tool_calls, tool result), final answer, save.
func (g *gen) turn(c *Conversation, user string, t *tool, answer string) {
	c = g.conv(c)
	route := g.resolver.ResolveRoute(routing.RouteInput{
		Channel:   c.Channel,
		AccountID: c.Account,
		Peer:      &routing.RoutePeer{Kind: c.ChatType, ID: peerID(c)},
	})
	key := route.SessionKey
	if c.LegacyKey != "" && c.LegacyKey != key {
		log.Fatalf("%s: routed to %s, earlier to %s", c.Name, key, c.LegacyKey)
	}
	c.LegacyKey = key
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
	if err := g.sm.Save(key); err != nil {
		log.Fatal(err)
	}
}

// direct is AgentLoop.ProcessDirect: an explicit session key.
func (g *gen) direct(key, channel, user, answer string) {
	c := g.conv(&Conversation{Name: key, Channel: channel, ChatType: "explicit", LegacyKey: key})
	g.sm.AddMessage(key, "user", user)
	g.sm.AddMessage(key, "assistant", answer)
	c.Messages = append(c.Messages, Message{"user", user}, Message{"assistant", answer})
	if err := g.sm.Save(key); err != nil {
		log.Fatal(err)
	}
}

// summarize is the context manager's summarizeSession after the model
// answered: TruncateHistory raises the meta's skip, and Save (Compact)
// rewrites the .jsonl without the skipped lines, so they are gone from
// disk except those still in the .json.migrated copy MigrateFromJSON left
// (the first `converted` messages).
func (g *gen) summarize(c *Conversation, summary string, keep int) {
	c = g.conv(c)
	g.sm.SetSummary(c.LegacyKey, summary)
	g.sm.TruncateHistory(c.LegacyKey, keep)
	if err := g.sm.Save(c.LegacyKey); err != nil {
		log.Fatal(err)
	}
	c.Summary = summary
	from := max(g.converted[c.Name], len(c.Messages)-keep)
	c.Messages = append(c.Messages[:g.converted[c.Name]:g.converted[c.Name]], c.Messages[from:]...)
}

// peerID is what the channel adapters of this version put in msg.Peer.ID:
// the sender for a DM (Telegram, WhatsApp bridge, Discord author), the chat
// for a group, "<chat>/<topic>" for a Telegram forum topic.
func peerID(c *Conversation) string {
	if c.ChatType == "direct" {
		return c.Sender
	}
	if c.Topic != "" {
		// telegram.go: a forum message's chat id is "<chat>/<thread>".
		return c.ChatID + "/" + c.Topic
	}
	return c.ChatID
}

func writeManifest(path string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
