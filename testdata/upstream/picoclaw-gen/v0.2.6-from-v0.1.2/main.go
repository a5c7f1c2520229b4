// Command gen upgrades the PicoClaw v0.1.2 install written by ../v0.1.2
// straight to v0.2.6 (era P2 to P4, as a user who skipped the v0.2.0 line
// does): LoadConfig migrates and saves the config, the store is opened as
// agent.initSessionStore does (JSONL store, then MigrateFromJSON, which
// converts every .json of <workspace>/sessions, the pre-routing ones
// included: the v0.1.1 colon file and the v0.1.2 '_' file of one key are
// both written to the key's .jsonl by full replace, in directory order,
// and both kept as .json.migrated), and the chats go on under the keys
// v0.2.6's router gives (agent:main:…), which v0.2.6 never relates to the
// pre-routing ones: each chat starts afresh upstream. v0.0.1's
// $PICOCLAW_HOME/sessions is left as it was. expected.json is the previous
// one extended. Nothing it writes is edited afterwards.
//
//	go run . -from ../../picoclaw/v0.1.2 -out ../../picoclaw/v0.2.6-from-v0.1.2
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
	Name      string   `json:"name"`
	Channel   string   `json:"channel"`
	Account   string   `json:"account,omitempty"`
	ChatType  string   `json:"chat_type"`
	ChatID    string   `json:"chat_id"`
	Sender    string   `json:"sender,omitempty"`
	Topic     string   `json:"topic,omitempty"`
	LegacyKey string   `json:"legacy_key"`
	Chats     []string `json:"chats,omitempty"`
	// EarlierKeys: keys the chat was stored under before, by an older
	// version (the pre-routing <channel>:<chat>); the chat started afresh
	// under LegacyKey, so it has Resets conversations.
	EarlierKeys []string `json:"earlier_keys,omitempty"`
	Resets      int      `json:"resets,omitempty"`
	// ContinuedAs: the chat went on in another conversation (named
	// here), one that is not its own: with the migrated config's dm_scope
	// "main", every DM goes to the agent's main session.
	ContinuedAs string `json:"continued_as,omitempty"`
	// Main: the conversation is the agent's main session; the assistant
	// reaches it by that key, not a route.
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
}

type tool struct{ name, args, result string }

func main() {
	from := flag.String("from", "", "the v0.1.2 fixture dir to upgrade")
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
	man.DMScope = cfg.Session.DMScope
	g := &gen{
		sm:       openStore(filepath.Join(home, "workspace", "sessions")),
		resolver: routing.NewRouteResolver(cfg),
		man:      man,
		byName:   map[string]*Conversation{},
		calls:    400,
	}
	for _, c := range man.Conversations {
		g.byName[c.Name] = c
	}
	tg := g.byName["telegram-dm"]
	grp := g.byName["telegram-group"]
	dc := g.byName["discord-dm"]

	// v0.1.2's config has no session.dm_scope, and the migrated config
	// keeps it empty: every DM is routed to agent:main:main.
	g.turn(tg, "hello after the big upgrade", nil, "Hello! (I don't remember our earlier chats.)")
	g.turn(grp, "@bot is the weather still nice?", &tool{"web_fetch", `{"url":"https://wttr.in/Tokyo"}`, "Tokyo: 14°C, sunny"}, "14°C and sunny in Tokyo.")
	g.turn(dc, "still there, discord?", nil, "Yes!")
	g.direct("cli:default", "cli", "and now?", "Still the taxes.")
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
// round, final answer, save. A chat last stored under a pre-routing key
// starts afresh under its routing-era key.
func (g *gen) turn(c *Conversation, user string, t *tool, answer string) {
	c = g.conv(c)
	route := g.resolver.ResolveRoute(routing.RouteInput{
		Channel:   c.Channel,
		AccountID: c.Account,
		Peer:      &routing.RoutePeer{Kind: c.ChatType, ID: peerID(c)},
	})
	key := route.SessionKey
	if key == routing.BuildAgentMainSessionKey(route.AgentID) {
		// not the chat's own session: the main one, shared by every DM
		if c.LegacyKey != "" && c.LegacyKey != key {
			c.ContinuedAs = "main"
		}
		c = g.conv(&Conversation{Name: "main", Channel: c.Channel, ChatType: c.ChatType, Main: true, LegacyKey: key})
	}
	switch {
	case c.LegacyKey == "":
	case c.LegacyKey == key:
	case !strings.HasPrefix(c.LegacyKey, "agent:"):
		c.EarlierKeys = append(c.EarlierKeys, c.LegacyKey)
		c.Resets++
	default:
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

// peerID is what the channel adapters of this version put in msg.Peer.ID:
// the sender for a DM (Telegram, Discord author), the chat for a group.
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
