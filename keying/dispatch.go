package keying

import "fmt"

// Rule is one entry of agents.dispatch.rules: when a message matches When,
// it goes to Agent (if set) with SessionDimensions (if set).
type Rule struct {
	Name              string   `json:"name,omitempty"`
	When              When     `json:"when"`
	SessionDimensions []string `json:"session_dimensions,omitempty"`
	Agent             string   `json:"agent,omitempty"`
}

// When selects messages. Every field that is set must match; an unset field
// matches anything. In particular a rule without Account matches every
// account (PicoClaw compares it with "default" and so never matches a named
// Slack or Discord account).
type When struct {
	Channel string `json:"channel,omitempty"`
	Account string `json:"account,omitempty"`
	// Space and Chat match either the raw id or the "<type>:<id>" value.
	Space string `json:"space,omitempty"`
	Chat  string `json:"chat,omitempty"`
	Topic string `json:"topic,omitempty"`
	// Sender matches the raw id, "<channel>:<id>", or the identity-linked name.
	Sender    string `json:"sender,omitempty"`
	Mentioned *bool  `json:"mentioned,omitempty"`
}

func (r Rule) label(i int) string {
	if r.Name != "" {
		return "dispatch.rule:" + r.Name
	}
	return fmt.Sprintf("dispatch.rule:#%d", i)
}

func (r Rule) validate(path string) error {
	if r.SessionDimensions != nil {
		if _, err := NormalizeDimensions(r.SessionDimensions); err != nil {
			return &ConfigError{Path: path + ".session_dimensions", Err: err}
		}
	}
	if r.When == (When{}) {
		return &ConfigError{Path: path + ".when", Msg: "a rule must select on at least one field"}
	}
	return nil
}

// matches reports whether in (already normalized pieces in m) satisfies w.
func (w When) matches(m *message) bool {
	if w.Channel != "" && lower(w.Channel) != m.channel {
		return false
	}
	if w.Account != "" && NormalizeAccountID(w.Account) != m.account {
		return false
	}
	if w.Space != "" && !idMatches(lower(w.Space), m.spaceID, m.spaceValue) {
		return false
	}
	if w.Chat != "" && !idMatches(lower(w.Chat), m.chatID, m.chatValue) {
		return false
	}
	if w.Topic != "" && lower(w.Topic) != m.topicID {
		return false
	}
	if w.Sender != "" {
		s := lower(w.Sender)
		if m.senderRaw == "" || (s != m.senderRaw && s != m.channel+":"+m.senderRaw && s != m.senderLinked) {
			return false
		}
	}
	if w.Mentioned != nil && *w.Mentioned != m.mentioned {
		return false
	}
	return true
}

func idMatches(want, id, value string) bool {
	return id != "" && (want == id || want == value)
}
