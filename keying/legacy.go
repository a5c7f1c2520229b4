package keying

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrBadKey is returned for a string that cannot be a session key at all
// (empty, or holding a line break or NUL).
var ErrBadKey = errors.New("keying: not a session key")

// Shape names the form of a legacy session key.
type Shape string

// The legacy key shapes of PicoClaw, OpenClaw (and its earlier names) and
// PocketPaw. docs/keys.md shows an example of each.
const (
	ShapeOpaque             Shape = "opaque"               // sk_v1_<64 hex>
	ShapeMain               Shape = "main"                 // agent:<a>:main (or the configured main key)
	ShapePeer               Shape = "peer"                 // agent:<a>:direct|dm:<p>
	ShapeChannelPeer        Shape = "channel-peer"         // agent:<a>:<ch>:direct|dm:<p>
	ShapeAccountChannelPeer Shape = "account-channel-peer" // agent:<a>:<ch>:<acct>:direct|dm:<p>
	ShapeChat               Shape = "chat"                 // agent:<a>:<ch>:<kind>:<id>[/<t>][:topic:<t>][:thread:<th>]
	ShapePicoWeb            Shape = "pico-web"             // agent:<a>:pico:direct:pico:<uuid>
	ShapeCronRun            Shape = "cron-run"             // agent:cron-<job>-<uuid>, cron-<job>
	ShapeAgentKind          Shape = "agent-kind"           // agent:<a>:subagent|cron|hook|acp|dashboard|explicit:...
	ShapeSlash              Shape = "slash"                // agent:<a>:<ch>:slash:<user>
	ShapeAgentOther         Shape = "agent-other"          // agent:<a>:<anything else>
	ShapeChannelChat        Shape = "channel-chat"         // <ch>:<chat>[:topic:<t>][:<8 hex>] (PicoClaw P0-P2, PocketPaw)
	ShapeOther              Shape = "other"                // anything else (cli -s names, phone numbers)
)

// LegacyKey is what a legacy key says about its conversation.
type LegacyKey struct {
	Raw   string `json:"raw"`
	Shape Shape  `json:"shape"`
	// Agent is the normalized agent id, "" when the key names none.
	Agent    string `json:"agent,omitempty"`
	Channel  string `json:"channel,omitempty"`
	Account  string `json:"account,omitempty"`
	ChatType string `json:"chat_type,omitempty"`
	ChatID   string `json:"chat_id,omitempty"`
	Topic    string `json:"topic,omitempty"`
	Thread   string `json:"thread,omitempty"`
	// Peer is the DM peer: a raw id or, after identity links, a name.
	Peer string `json:"peer,omitempty"`
	// Kind is the sub-kind of ShapeAgentKind (subagent, cron, hook, acp,
	// dashboard, explicit) and Rest its remainder.
	Kind string `json:"kind,omitempty"`
	Rest string `json:"rest,omitempty"`
	// Generation is a PocketPaw /new suffix (8 lowercase hex).
	Generation string `json:"generation,omitempty"`
	// Missing lists the scope facts the key does not carry: any of agent,
	// channel, account, chat, chat_type, sender.
	Missing []string `json:"missing,omitempty"`
	// Notes explain guesses and ambiguities, for reports.
	Notes []string `json:"notes,omitempty"`
}

var agentKinds = map[string]bool{"subagent": true, "cron": true, "hook": true, "acp": true, "dashboard": true, "explicit": true}

// ParseLegacy parses a raw legacy key. Agent keys are lowercased as their
// systems did; other keys keep their case in Raw and ChatID.
func ParseLegacy(raw string) (LegacyKey, error) {
	k := strings.TrimSpace(raw)
	if k == "" || strings.ContainsAny(k, "\n\r\x00") {
		return LegacyKey{}, fmt.Errorf("%w: %q", ErrBadKey, raw)
	}
	lk := LegacyKey{Raw: raw}
	low := strings.ToLower(k)
	switch {
	case IsID(low):
		lk.Shape = ShapeOpaque
		lk.Notes = append(lk.Notes, "an opaque id carries no scope; read it from the session's metadata")
		return lk.missing("agent", "channel", "account", "chat", "sender"), nil
	case strings.HasPrefix(low, "agent:"):
		return parseAgentKey(lk, low), nil
	case strings.HasPrefix(low, "cron-"):
		lk.Shape, lk.Kind, lk.Rest = ShapeCronRun, "cron", k[len("cron-"):]
		return lk.missing("agent", "channel", "account", "chat", "sender"), nil
	}
	return parseChannelChat(lk, k), nil
}

func (lk LegacyKey) missing(what ...string) LegacyKey {
	lk.Missing = append(lk.Missing, what...)
	return lk
}

func parseAgentKey(lk LegacyKey, low string) LegacyKey {
	parts := splitNonEmpty(low[len("agent:"):])
	if len(parts) < 2 {
		// Upstream needs three parts: agent:cron-<job>-<uuid> has neither
		// agent nor rest and is opaque.
		lk.Shape = ShapeCronRun
		if len(parts) == 1 && strings.HasPrefix(parts[0], "cron-") {
			lk.Kind, lk.Rest = "cron", parts[0][len("cron-"):]
		} else {
			lk.Shape = ShapeAgentOther
			lk.Rest = strings.Join(parts, ":")
		}
		return lk.missing("agent", "channel", "account", "chat", "sender")
	}
	lk.Agent = NormalizeAgentID(parts[0])
	r := parts[1:]
	switch {
	case len(r) == 1 && r[0] == "main":
		lk.Shape = ShapeMain
		return lk.missing("channel", "account", "chat", "sender")
	case agentKinds[r[0]]:
		lk.Shape, lk.Kind, lk.Rest = ShapeAgentKind, r[0], strings.Join(r[1:], ":")
		return lk.missing("channel", "account", "chat", "sender")
	case isDM(r[0]) && len(r) >= 2:
		lk.Shape, lk.Peer = ShapePeer, strings.Join(r[1:], ":")
		return lk.missing("channel", "account", "chat")
	case len(r) >= 3 && isDM(r[1]):
		lk.Shape, lk.Channel, lk.Peer = ShapeChannelPeer, r[0], strings.Join(r[2:], ":")
		if lk.Channel == "pico" && strings.HasPrefix(lk.Peer, "pico:") {
			// The web UI keys its chats as pico:<uuid>: the peer is the chat.
			lk.Shape, lk.ChatType, lk.ChatID, lk.Peer = ShapePicoWeb, "direct", lk.Peer, ""
			return lk.missing("account", "sender")
		}
		return lk.missing("account", "chat")
	case len(r) >= 4 && isDM(r[2]):
		lk.Shape, lk.Channel, lk.Account, lk.Peer = ShapeAccountChannelPeer, r[0], NormalizeAccountID(r[1]), strings.Join(r[3:], ":")
		return lk.missing("chat")
	case len(r) >= 3 && r[1] == "slash":
		lk.Shape, lk.Channel, lk.Kind, lk.Peer = ShapeSlash, r[0], "slash", strings.Join(r[2:], ":")
		return lk.missing("account", "chat")
	case len(r) >= 3:
		return parseChatRest(lk, r)
	}
	lk.Shape, lk.Rest = ShapeAgentOther, strings.Join(r, ":")
	return lk.missing("channel", "account", "chat", "sender")
}

// parseChatRest reads <ch>:<kind>:<id>: the last :thread:<th> is cut off,
// then :topic:<t>; the remainder is the chat id, which may hold ':'. On
// Telegram, PicoClaw writes a forum topic after a '/'.
func parseChatRest(lk LegacyKey, r []string) LegacyKey {
	lk.Shape, lk.Channel, lk.ChatType = ShapeChat, r[0], r[1]
	id := strings.Join(r[2:], ":")
	if i := strings.LastIndex(id, ":thread:"); i > 0 {
		id, lk.Thread = id[:i], id[i+len(":thread:"):]
	}
	if i := strings.LastIndex(id, ":topic:"); i > 0 {
		id, lk.Topic = id[:i], id[i+len(":topic:"):]
	}
	if lk.Channel == "telegram" && lk.Topic == "" {
		if i := strings.LastIndexByte(id, '/'); i > 0 && i < len(id)-1 {
			id, lk.Topic = id[:i], id[i+1:]
		}
	} else if strings.Contains(id, "/") {
		lk.Notes = append(lk.Notes, "a '/' in a chat id is kept: only Telegram writes topics that way")
	}
	lk.ChatID = id
	return lk.missing("account", "sender")
}

// parseChannelChat reads the pre-routing <channel>:<chat> keys of PicoClaw
// (P0-P2) and PocketPaw's <channel>:<chat>[:topic:<t>][:<8 hex>].
func parseChannelChat(lk LegacyKey, k string) LegacyKey {
	i := strings.IndexByte(k, ':')
	if i <= 0 || i == len(k)-1 {
		lk.Shape = ShapeOther
		lk.Notes = append(lk.Notes, "no channel: a name given to the CLI or a phone number")
		return lk.missing("agent", "channel", "account", "chat", "sender")
	}
	lk.Shape, lk.Channel = ShapeChannelChat, strings.ToLower(k[:i])
	rest := k[i+1:]
	if j := strings.LastIndexByte(rest, ':'); j > 0 && isGeneration(rest[j+1:]) {
		rest, lk.Generation = rest[:j], rest[j+1:]
	}
	if j := strings.LastIndex(rest, ":topic:"); j > 0 {
		rest, lk.Topic = rest[:j], rest[j+len(":topic:"):]
	}
	lk.ChatID = rest
	switch {
	case lk.Channel == "websocket" || lk.Channel == "cli":
		lk.ChatType = "direct"
	case lk.Channel == "telegram" && strings.HasPrefix(rest, "-"):
		lk.ChatType = "group"
	case lk.Channel == "telegram" && rest != "":
		lk.ChatType = "direct"
		lk.Peer = rest
	}
	lk = lk.missing("agent", "account")
	if lk.ChatType == "" {
		lk = lk.missing("chat_type")
	}
	if lk.Peer == "" {
		lk = lk.missing("sender")
	}
	return lk
}

func isDM(s string) bool { return s == "direct" || s == "dm" }

func isGeneration(s string) bool {
	if len(s) != 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func splitNonEmpty(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ":") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// AlternateSpelling returns the other spelling of a DM key (":dm:" and
// ":direct:" name the same scope), or "" when the key has no DM part.
func AlternateSpelling(raw string) string {
	low := strings.ToLower(strings.TrimSpace(raw))
	if !strings.HasPrefix(low, "agent:") {
		return ""
	}
	parts := strings.Split(low, ":")
	for i := 2; i < len(parts) && i <= 4; i++ {
		switch parts[i] {
		case "dm":
			parts[i] = "direct"
			return strings.Join(parts, ":")
		case "direct":
			parts[i] = "dm"
			return strings.Join(parts, ":")
		}
	}
	return ""
}

// LegacyHash is the id a legacy key gets when it cannot be mapped onto a
// scope (rule B of the migration guide): Opaque(raw).
func LegacyHash(raw string) string { return Opaque(raw) }

// Inbound returns what the key says as an Inbound, and whether that is
// enough to route under dims (every dimension has a value). Keys without a
// channel never are.
func (lk LegacyKey) Inbound(dims []string) (in Inbound, complete bool) {
	in = Inbound{Channel: lk.Channel, Account: lk.Account, ChatType: lk.ChatType, ChatID: lk.ChatID, TopicID: lk.Topic}
	if lk.Thread != "" && in.TopicID == "" {
		in.TopicID = lk.Thread
	}
	in.SenderID = lk.Peer
	if (lk.Shape == ShapePeer || lk.Shape == ShapeChannelPeer || lk.Shape == ShapeAccountChannelPeer) && in.ChatType == "" {
		in.ChatType = "direct"
	}
	if in.ChatType == "unknown" {
		// agent:<a>:<ch>:unknown:<chat> is the alias of a message that
		// carried no chat type: such a message is routed untyped.
		in.ChatType = ""
	}
	if lk.Channel == "" {
		return in, false
	}
	for _, d := range dims {
		switch lower(d) {
		case DimSpace:
			return in, false
		case DimChat:
			if in.ChatID == "" {
				return in, false
			}
		case DimTopic:
			// optional: a message without a topic simply has no value
		case DimSender:
			if in.SenderID == "" {
				return in, false
			}
		}
	}
	return in, true
}

// ParseClodds parses a key of Clodds (alsk1992/CloddsBot), whose keys look
// like OpenClaw's but mean other things. Clodds is recognised by its
// storage (a SQLite file), never by key shape, so callers choose this
// parser explicitly. Its agent is always main and nothing is lowercased.
func ParseClodds(raw string) (LegacyKey, error) {
	k := strings.TrimSpace(raw)
	if k == "" || strings.ContainsAny(k, "\n\r\x00") {
		return LegacyKey{}, fmt.Errorf("%w: %q", ErrBadKey, raw)
	}
	parts := strings.Split(k, ":")
	lk := LegacyKey{Raw: raw, Agent: DefaultAgent}
	if len(parts) < 3 || parts[0] != "agent" {
		lk.Shape = ShapeOther
		return lk.missing("channel", "account", "chat", "sender"), nil
	}
	r := parts[2:]
	switch {
	case len(r) == 2 && r[0] == "dm" && r[1] == "main":
		lk.Shape = ShapeMain
		return lk.missing("channel", "account", "chat", "sender"), nil
	case len(r) >= 3 && r[0] == "dm" && r[1] == "peer":
		lk.Shape, lk.Peer = ShapePeer, strings.Join(r[2:], ":")
		return lk.missing("channel", "account", "chat"), nil
	}
	// <platform>[:<acct>]:dm:<chatId>:<userId> or ...:group:<chatId>
	for i := 1; i <= 2 && i < len(r); i++ {
		switch r[i] {
		case "dm":
			if len(r) < i+3 {
				continue
			}
			lk.Shape, lk.Channel, lk.ChatType = ShapeChannelPeer, r[0], "direct"
			if i == 2 {
				lk.Shape, lk.Account = ShapeAccountChannelPeer, r[1]
			}
			lk.ChatID, lk.Peer = r[i+1], strings.Join(r[i+2:], ":")
			if lk.Account == "" {
				lk = lk.missing("account")
			}
			return lk, nil
		case "group":
			if len(r) < i+2 {
				continue
			}
			lk.Shape, lk.Channel, lk.ChatType, lk.ChatID = ShapeChat, r[0], "group", strings.Join(r[i+1:], ":")
			if i == 2 {
				lk.Account = r[1]
			} else {
				lk = lk.missing("account")
			}
			return lk.missing("sender"), nil
		}
	}
	lk.Shape, lk.Rest = ShapeAgentOther, strings.Join(r, ":")
	return lk.missing("channel", "account", "chat", "sender"), nil
}

// legacyAliases generates the legacy keys PicoClaw lists for a route: the
// main key; then for a message typed direct (or dm) the three DM shapes for
// each distinct peer among raw sender, linked sender and chat id; for any
// other chat the chat key, with the topic after a '/'. A message that
// carries no chat type is not a DM here: PicoClaw builds its alias from the
// raw peer kind, which is empty, so it writes agent:<a>:<ch>:unknown:<chat>
// (its signature still types the chat as direct).
func legacyAliases(agent string, m *message, topic string) []string {
	out := []string{MainKey(agent)}
	if m.direct && !m.untyped {
		for _, p := range []string{m.senderRaw, m.senderLinked, m.chatID} {
			if p == "" {
				continue
			}
			out = appendUnique(out,
				"agent:"+agent+":direct:"+p,
				"agent:"+agent+":"+m.channel+":direct:"+p,
				"agent:"+agent+":"+m.channel+":"+m.account+":direct:"+p)
		}
		return out
	}
	if m.chatID == "" {
		return out
	}
	kind := m.chatType
	if m.untyped {
		kind = "unknown"
	}
	k := "agent:" + agent + ":" + m.channel + ":" + kind + ":" + m.chatID
	if t := lower(topic); t != "" {
		k += "/" + t
	}
	return appendUnique(out, k)
}

// DMChat says how one channel's adapter names a direct chat, compared with
// the peer PicoClaw wrote into a legacy DM key (agent:<a>:<ch>[:<acct>]:
// direct:<peer>). The scope the assistant derives for a DM is
// chat=direct:<chat id>; where the chat id follows from the peer, a
// migrated DM can take the id live traffic will use.
type DMChat struct {
	// Channel is the channel's name now ("" = unchanged): wecom_app and
	// wecom_aibot were renamed wecom.
	Channel string
	// Prefix is put before the peer to make the chat id (OneBot private:).
	Prefix string
	// Shape, when set, is what a raw peer of the channel looks like
	// (lowercased, as legacy keys are); anything else, such as a canonical
	// name from identity links, is not a chat id. When nil, any peer
	// without ':' qualifies (a ':' marks an identity-linked platform:id).
	Shape *regexp.Regexp
	// AccountFromMeta: the account of the new scope is not the legacy
	// key's (QQ now uses the bot's AppID), so it must come from metadata.
	AccountFromMeta bool
	// Not, when set, says why the chat id cannot follow from the peer.
	Not string
}

// dmChats is the per-channel table, from each adapter of PicoClaw (the
// legacy peer, and the chat id the current adapter gives a DM).
var dmChats = map[string]DMChat{
	// private chat id = user id
	"telegram": {Shape: regexp.MustCompile(`^\d+$`)},
	// the bridge's DM has chat = from (a number or a JID)
	"whatsapp": {Shape: regexp.MustCompile(`^\+?\d+(@s\.whatsapp\.net|@c\.us|@lid)?$`)},
	// the legacy peer was the chat JID already
	"whatsapp_native": {Shape: regexp.MustCompile(`^[0-9]+@(s\.whatsapp\.net|lid)$`)},
	// the author's openid, under the bot's AppID as account
	"qq":   {Shape: regexp.MustCompile(`^[0-9a-z_-]{16,}$`), AccountFromMeta: true},
	"line": {Shape: regexp.MustCompile(`^u[0-9a-f]{32}$`)},
	"irc":  {},
	// from id = peer id in a DM
	"weixin": {},
	"vk":     {Shape: regexp.MustCompile(`^\d+$`)},
	// chatid, else userid: a DM has no chatid
	"wecom":       {},
	"wecom_app":   {Channel: "wecom"},
	"wecom_aibot": {Channel: "wecom"},
	"onebot":      {Prefix: "private:", Shape: regexp.MustCompile(`^\d+$`)},
	"discord":     {Not: "a Discord DM is keyed by its DM channel's id, not the author id the legacy key holds"},
	"slack":       {Not: "a Slack DM is keyed by its conversation id (D…) under the team id, not the user id the legacy key holds"},
	"feishu":      {Not: "a Feishu DM is keyed by its chat id (oc_…), not the sender id the legacy key holds"},
	"lark":        {Not: "a Lark DM is keyed by its chat id (oc_…), not the sender id the legacy key holds"},
	"matrix":      {Not: "a Matrix DM is keyed by its room id, not the user id the legacy key holds"},
	"dingtalk":    {Not: "a DingTalk DM is keyed by its conversation id, not the staff id the legacy key holds"},
}

// DMChatRule returns the table entry of a channel, and false for a channel
// the table does not know.
func DMChatRule(channel string) (DMChat, bool) {
	c, ok := dmChats[lower(channel)]
	return c, ok
}

// DMChatID returns, for a legacy DM key with a channel, the channel and
// chat id the channel's adapter uses for that DM now. ok is false, with the
// reason, when the chat id does not follow from the key alone. An account
// from metadata is still needed when the rule says AccountFromMeta.
func (lk LegacyKey) DMChatID() (channel, chatID string, rule DMChat, ok bool, why string) {
	if lk.Shape != ShapeChannelPeer && lk.Shape != ShapeAccountChannelPeer {
		return "", "", DMChat{}, false, "not a DM key with a channel"
	}
	rule, known := DMChatRule(lk.Channel)
	switch {
	case !known:
		return "", "", rule, false, fmt.Sprintf("channel %q: how its adapter names a DM is not known", lk.Channel)
	case rule.Not != "":
		return "", "", rule, false, rule.Not
	}
	peer := lower(lk.Peer)
	if peer == "" || (rule.Shape == nil && strings.Contains(peer, ":")) || (rule.Shape != nil && !rule.Shape.MatchString(peer)) {
		return "", "", rule, false, fmt.Sprintf("peer %q is not a raw %s id (an identity-linked name?)", lk.Peer, lk.Channel)
	}
	channel = lk.Channel
	if rule.Channel != "" {
		channel = rule.Channel
	}
	return channel, rule.Prefix + peer, rule, true, ""
}
