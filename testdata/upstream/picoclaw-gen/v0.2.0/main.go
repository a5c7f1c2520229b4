// Command gen writes a PicoClaw v0.2.0 install (era P3: one JSON file per
// session, routing-era agent: keys) with PicoClaw's own routing and session
// code, the calls made in the order PicoClaw's agent loop makes them, and
// an expected.json saying which conversation each message belongs to and
// how the assistant routes it. Nothing it writes is edited afterwards.
//
//	go run . -out ../../picoclaw/v0.2.0
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/sipeed/picoclaw/pkg/config"
	"github.com/sipeed/picoclaw/pkg/providers"
	"github.com/sipeed/picoclaw/pkg/routing"
	"github.com/sipeed/picoclaw/pkg/session"
)

const version = "v0.2.0"

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
	sm       *session.SessionManager
	resolver *routing.RouteResolver
	man      *Manifest
	byName   map[string]*Conversation
	calls    int
}

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
		// As agent.NewAgentInstance does: <workspace>/sessions.
		sm:       session.NewSessionManager(filepath.Join(home, "workspace", "sessions")),
		resolver: routing.NewRouteResolver(cfg),
		man:      &Manifest{Versions: []string{version}, DMScope: cfg.Session.DMScope},
		byName:   map[string]*Conversation{},
	}

	tg := &Conversation{Name: "telegram-dm", Channel: "telegram", ChatType: "direct", ChatID: "123456789", Sender: "123456789"}
	wa := &Conversation{Name: "whatsapp-dm", Channel: "whatsapp", ChatType: "direct", ChatID: "491701234567@s.whatsapp.net", Sender: "491701234567@s.whatsapp.net"}
	dc := &Conversation{Name: "discord-dm", Channel: "discord", ChatType: "direct", ChatID: "1187766554433221100", Sender: "555000111222333444"}
	grp := &Conversation{Name: "telegram-group", Channel: "telegram", ChatType: "group", ChatID: "-1001234567890", Sender: "777"}

	g.turn(tg, "hi, what is in notes.txt?", &tool{"read_file", `{"path":"notes.txt"}`, "buy milk\ncall bob"}, "notes.txt says: buy milk, call bob.")
	g.turn(wa, "olá! remind me to water the plants", nil, "I'll remind you to water the plants.")
	g.turn(grp, "@bot what time is it in Tokyo?", &tool{"exec", `{"command":"TZ=Asia/Tokyo date"}`, "Tue Feb 24 21:03:11 JST 2026"}, "It is 21:03 in Tokyo.")
	g.turn(dc, "hey from discord", nil, "Hello! How can I help?")
	g.turn(tg, "ok", nil, "ok")
	g.turn(tg, "and what about todo.md?", &tool{"read_file", `{"path":"todo.md"}`, "- [ ] taxes\n- [x] dentist"}, "todo.md: taxes open, dentist done.")
	g.turn(grp, "thanks", nil, "You're welcome.")
	g.turn(dc, "what's 2+2?", nil, "4")
	g.turn(wa, "thanks", nil, "You're welcome.")
	g.turn(tg, "ok", nil, "ok")
	// The agent loop's summarizeSession: summary set, history cut to the
	// last 4, saved. The cut messages are gone from disk for good.
	g.summarize(tg, "User 123456789 asked about notes.txt (shopping) and todo.md (taxes open).")
	g.turn(tg, "thanks, one more: is the dentist done?", nil, "Yes, the dentist is done.")
	// picoclaw agent -m ... (CLI): the session key given on the command line.
	g.direct("cli:default", "cli", "summarize my day", "You have taxes left to do.")

	if err := writeManifest(filepath.Join(*out, "expected.json"), g.man); err != nil {
		log.Fatal(err)
	}
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

// summarize is AgentLoop.summarizeSession after the model answered.
func (g *gen) summarize(c *Conversation, summary string) {
	c = g.conv(c)
	g.sm.SetSummary(c.LegacyKey, summary)
	g.sm.TruncateHistory(c.LegacyKey, 4)
	if err := g.sm.Save(c.LegacyKey); err != nil {
		log.Fatal(err)
	}
	c.Summary = summary
	c.Messages = c.Messages[len(c.Messages)-4:]
}

// peerID is what the channel adapters of this version put in msg.Peer.ID:
// the sender for a DM (Telegram, WhatsApp bridge, Discord author), the chat
// for a group.
func peerID(c *Conversation) string {
	if c.ChatType == "direct" {
		return c.Sender
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
