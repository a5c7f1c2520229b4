package policy

import (
	"fmt"
	"strings"

	"github.com/picosess/picosess/workspace/config"
)

// SendTarget is what the send policy looks at.
type SendTarget struct {
	Agent    string
	Channel  string
	ChatType string
	// Name of a named session ("" otherwise).
	Name string
	// Keys are the session id, its signature and its legacy keys, which
	// key_prefix is matched against.
	Keys []string
}

// SendDecision says whether an assistant may send into a session, and
// which rule decided.
type SendDecision struct {
	Allowed bool   `json:"allowed"`
	Rule    string `json:"rule"` // "send_policy.rules[1]", "send_policy.blocked[0]", "send_policy.default" or "default"
	Why     string `json:"why"`
}

// Send decides whether an assistant may send into the session t: the
// first rule that matches wins, then the blocked list, then the default
// (allow). It never concerns storage: an inbound message is always kept.
func Send(p *config.SendPolicy, t SendTarget) SendDecision {
	if p == nil {
		return SendDecision{Allowed: true, Rule: "default", Why: "no send_policy is configured"}
	}
	typ, ch := kind(t.ChatType), strings.ToLower(t.Channel)
	for i, r := range p.Rules {
		if !matches(r.Match, t, typ, ch) {
			continue
		}
		allow := strings.EqualFold(r.Action, "allow")
		label := fmt.Sprintf("send_policy.rules[%d]", i)
		if r.Name != "" {
			label += " (" + r.Name + ")"
		}
		return SendDecision{Allowed: allow, Rule: label, Why: fmt.Sprintf("%s matches: %s", label, strings.ToLower(r.Action))}
	}
	for i, b := range p.Blocked {
		b = strings.ToLower(strings.TrimSpace(b))
		if kind(b) == typ || b == ch {
			label := fmt.Sprintf("send_policy.blocked[%d]", i)
			return SendDecision{Allowed: false, Rule: label, Why: fmt.Sprintf("%s blocks %q", label, b)}
		}
	}
	if strings.EqualFold(p.Default, "deny") {
		return SendDecision{Allowed: false, Rule: "send_policy.default", Why: "no rule matches; the default is deny"}
	}
	return SendDecision{Allowed: true, Rule: "send_policy.default", Why: "no rule matches; the default is allow"}
}

func matches(m config.SendMatch, t SendTarget, typ, ch string) bool {
	if m.Channel != "" && !strings.EqualFold(m.Channel, ch) {
		return false
	}
	if m.ChatType != "" && kind(m.ChatType) != typ {
		return false
	}
	if m.Agent != "" && !strings.EqualFold(m.Agent, t.Agent) {
		return false
	}
	if m.Session != "" && !strings.EqualFold(m.Session, t.Name) {
		return false
	}
	if m.KeyPrefix != "" {
		p := strings.ToLower(m.KeyPrefix)
		found := false
		for _, k := range t.Keys {
			found = found || strings.HasPrefix(strings.ToLower(k), p)
		}
		if !found {
			return false
		}
	}
	return true
}

// ChatTypeOf is the chat type of a session from its scope values: the
// type part of chat= ("group" of "group:-100123"), "thread" when the scope
// has a topic, "direct" when it has no chat (an agent's main session is
// where its direct messages go).
func ChatTypeOf(values map[string]string) string {
	if values["topic"] != "" {
		return "thread"
	}
	c := values["chat"]
	if c == "" {
		return "direct"
	}
	t, id, ok := strings.Cut(c, ":")
	if !ok {
		return "direct"
	}
	if strings.Contains(id, "/") {
		return "thread" // a forum topic folded into the chat value
	}
	return kind(t)
}
