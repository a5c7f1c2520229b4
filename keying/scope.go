package keying

import (
	"strings"
)

// ScopeVersion is the version of the canonical signature written by this package.
const ScopeVersion = 1

// Dimension names, in the spelling used by config files and signatures.
const (
	DimSpace  = "space"
	DimChat   = "chat"
	DimTopic  = "topic"
	DimSender = "sender"
)

// Default values filled in for empty scope fields.
const (
	DefaultAgent   = "main"
	DefaultAccount = "default"
	UnknownChannel = "unknown"
)

// Scope says which conversation a message belongs to. Its JSON form is the
// one PicoClaw writes in its .meta.json files and picosess writes in session
// headers: dimensions and values are null when the scope has none.
type Scope struct {
	Version    int               `json:"version"`
	AgentID    string            `json:"agent_id"`
	Channel    string            `json:"channel"`
	Account    string            `json:"account"`
	Dimensions []string          `json:"dimensions"`
	Values     map[string]string `json:"values"`
}

// Inbound is what a gateway knows about one incoming message.
type Inbound struct {
	Channel   string `json:"channel"`
	Account   string `json:"account,omitempty"`
	ChatType  string `json:"chat_type,omitempty"`
	ChatID    string `json:"chat_id,omitempty"`
	TopicID   string `json:"topic_id,omitempty"`
	SpaceType string `json:"space_type,omitempty"`
	SpaceID   string `json:"space_id,omitempty"`
	SenderID  string `json:"sender_id,omitempty"`
	// Mentioned is true when the message mentions the assistant; dispatch
	// rules may select on it.
	Mentioned bool `json:"mentioned,omitempty"`
	// Key is an explicit legacy session key the message carried (PicoClaw
	// keeps such keys as storage keys, e.g. agent:cron-<job>-<uuid>). It
	// overrides the routed id; see Route.
	Key string `json:"key,omitempty"`
}

// IsDirect reports whether the inbound is a direct (one-to-one) chat: an
// explicit "direct" type, or no type at all (PicoClaw's default).
func (in Inbound) IsDirect() bool {
	t := lower(in.ChatType)
	return t == "" || t == "direct" || t == "dm"
}

func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Clone returns a deep copy of s.
func (s Scope) Clone() Scope {
	c := s
	if s.Dimensions != nil {
		c.Dimensions = append([]string(nil), s.Dimensions...)
	}
	if s.Values != nil {
		c.Values = make(map[string]string, len(s.Values))
		for k, v := range s.Values {
			c.Values[k] = v
		}
	}
	return c
}
