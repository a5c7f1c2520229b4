// Command gen upgrades the PicoClaw v0.2.6 install written by ../v0.2.6 to
// v0.2.9 (era P5) as a user's upgrade does: the store is opened the way
// PicoClaw's agent opens it, and each chat's next message is routed and
// allocated by PicoClaw's own code (RouteResolver, AllocateRouteSession),
// its scope and aliases recorded with EnsureSessionMetadata, which also
// "promotes" the legacy session's history into the new sk_v1_ session;
// the legacy files stay. expected.json is the previous one extended, with
// the sk_v1_ key and aliases PicoClaw gave each conversation. Nothing it
// writes is edited afterwards.
//
//	go run . -from ../../picoclaw/v0.2.6 -out ../../picoclaw/v0.2.9
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/sipeed/picoclaw/pkg/bus"
	"github.com/sipeed/picoclaw/pkg/config"
	"github.com/sipeed/picoclaw/pkg/memory"
	"github.com/sipeed/picoclaw/pkg/providers"
	"github.com/sipeed/picoclaw/pkg/routing"
	"github.com/sipeed/picoclaw/pkg/session"
)

const version = "v0.2.9"

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
	Main bool `json:"main,omitempty"`
	// UpstreamKey and Aliases: what PicoClaw v0.2.7+ allocates (sk_v1_).
	UpstreamKey string    `json:"upstream_key,omitempty"`
	Aliases     []string  `json:"aliases,omitempty"`
	Summary     string    `json:"summary,omitempty"`
	Messages    []Message `json:"messages"`
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
	cfg, err := loadConfig(filepath.Join(home, "config.json"))
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
		sm:       openStore(filepath.Join(home, "workspace", "sessions")),
		resolver: routing.NewRouteResolver(cfg),
		man:      man,
		byName:   map[string]*Conversation{},
		calls:    200,
	}
	for _, c := range man.Conversations {
		g.byName[c.Name] = c
	}
	tg := g.byName["telegram-dm"]
	wa := g.byName["whatsapp-dm"]
	dc := g.byName["discord-dm"]
	grp := g.byName["telegram-group"]
	topic := g.byName["telegram-forum-topic"]

	g.turn(tg, "hi again, on the new version", nil, "Hi! I still remember the dentist.")
	g.turn(dc, "still there?", nil, "Yes, still here.")
	g.turn(wa, "ok", nil, "ok")
	g.turn(topic, "any v2.1 plans?", &tool{"web_search", `{"query":"v2.1 roadmap"}`, "v2.1 planned for 2026-07"}, "v2.1 is planned for July 2026.")
	g.turn(grp, "good morning", nil, "Good morning, everyone.")
	g.turn(tg, "ok", nil, "ok")

	if c, ok := g.sm.(interface{ Close() error }); ok {
		if err := c.Close(); err != nil {
			log.Fatal(err)
		}
	}
	if err := writeManifest(filepath.Join(*out, "expected.json"), g.man); err != nil {
		log.Fatal(err)
	}
}

// loadConfig is config.LoadConfig. v0.2.9 refuses the config v0.2.6 saved
// ("config.json contains unknown field(s): build_info, session.dm_scope");
// the user's way out, done here, is to delete the fields the error names
// and start again (config migration v2 -> v3 then runs and saves the file,
// with the default session dimensions ["chat"]).
func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.LoadConfig(path)
	if err == nil {
		return cfg, nil
	}
	log.Printf("LoadConfig: %v; deleting build_info and session.dm_scope as the error says", err)
	b, rerr := os.ReadFile(path)
	if rerr != nil {
		return nil, rerr
	}
	var m map[string]any
	if rerr := json.Unmarshal(b, &m); rerr != nil {
		return nil, rerr
	}
	delete(m, "build_info")
	if s, ok := m["session"].(map[string]any); ok {
		delete(s, "dm_scope")
	}
	b, rerr = json.MarshalIndent(m, "", "  ")
	if rerr != nil {
		return nil, rerr
	}
	if rerr := os.WriteFile(path, b, 0o600); rerr != nil {
		return nil, rerr
	}
	return config.LoadConfig(path)
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
// runAgentLoop/runTurn do: route and allocate, ensureSessionMetadata (scope,
// aliases, promotion of a legacy alias's history), user message, an
// optional tool round (assistant with tool_calls, tool result), final
// answer, save.
func (g *gen) turn(c *Conversation, user string, t *tool, answer string) {
	c = g.conv(c)
	in := bus.NormalizeInboundMessage(bus.InboundMessage{Context: inbound(c)}).Context
	route := g.resolver.ResolveRoute(in)
	alloc := session.AllocateRouteSession(session.AllocationInput{
		AgentID: route.AgentID, Context: in, SessionPolicy: route.SessionPolicy,
	})
	key := alloc.SessionKey
	aliases := buildSessionAliases(key, alloc.SessionAliases...)
	if c.UpstreamKey != "" && c.UpstreamKey != key {
		log.Fatalf("%s: allocated %s, earlier %s", c.Name, key, c.UpstreamKey)
	}
	c.UpstreamKey, c.Aliases = key, aliases
	if m, ok := g.sm.(interface {
		EnsureSessionMetadata(string, *session.SessionScope, []string)
	}); ok {
		scope := alloc.Scope
		m.EnsureSessionMetadata(key, &scope, aliases)
	} else {
		log.Fatal("the store keeps no metadata")
	}
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

// buildSessionAliases is agent.buildSessionAliases (unexported upstream):
// the allocation's aliases without the key itself, blanks or repeats.
func buildSessionAliases(key string, keys ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" || k == strings.TrimSpace(key) || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, k)
	}
	return out
}

// inbound is the InboundContext the channel adapters of this version
// build: Telegram (chat id, chat type, sender = user id, forum thread as
// TopicID), Discord (ChatID = the DM channel id, SenderID = author),
// WhatsApp bridge (a DM when chat = sender).
func inbound(c *Conversation) bus.InboundContext {
	return bus.InboundContext{
		Channel: c.Channel, Account: c.Account, ChatID: c.ChatID, ChatType: c.ChatType,
		SenderID: c.Sender, TopicID: c.Topic,
	}
}

func writeManifest(path string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
