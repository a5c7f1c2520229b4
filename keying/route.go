package keying

import (
	"fmt"
	"strings"
)

// Route is where one inbound message goes.
type Route struct {
	Agent     string `json:"agent"`
	Scope     Scope  `json:"scope"`
	Signature string `json:"signature"`
	// ID names the session file: sessions/<ID>.jsonl.
	ID string `json:"id"`
	// Aliases are the legacy keys that resolve to this session, in
	// PicoClaw's order; when Key is a storage key it comes first.
	Aliases []string `json:"aliases"`
	MainID  string   `json:"main_id"`
	// MatchedBy says which rule chose the dimensions: "default",
	// "dispatch.rule:<name>", "policy:main", or
	// "identity_links:<name>:shared" for a direct message of a person whose
	// identity link has sharedSession (the scope is then SharedScope). An
	// explicit Key overrides the id whatever matched.
	MatchedBy string `json:"matched_by"`
	// Key is the explicit legacy key the message carried, if any.
	Key string `json:"key,omitempty"`
	// Main is true when the route is the agent's main session.
	Main bool `json:"main,omitempty"`
}

// Resolver resolves inbound messages under one validated Policy. It is
// safe for concurrent use.
type Resolver struct {
	dims []string
	main bool
	// direct replaces dims and main for direct messages when set.
	direct *DirectPolicy
	links  linkIndex
	// shared holds the lowercased canonical names with sharedSession.
	shared map[string]bool
	rules  []compiledRule
}

type compiledRule struct {
	Rule
	dims  []string
	label string
}

// NewResolver validates p and prepares it for Resolve.
func NewResolver(p Policy) (*Resolver, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	dims, _ := NormalizeDimensions(p.Dimensions)
	if dims == nil {
		dims = DefaultDimensions()
	}
	r := &Resolver{dims: dims, main: p.Main, links: p.IdentityLinks.compile()}
	for _, n := range p.SharedSessions {
		if r.shared == nil {
			r.shared = map[string]bool{}
		}
		r.shared[lower(n)] = true
	}
	if p.Direct != nil {
		d, _ := NormalizeDimensions(p.Direct.Dimensions)
		r.direct = &DirectPolicy{Dimensions: d, Main: p.Direct.Main}
	}
	for i, rule := range p.Rules {
		d, _ := NormalizeDimensions(rule.SessionDimensions)
		r.rules = append(r.rules, compiledRule{Rule: rule, dims: d, label: rule.label(i)})
	}
	return r, nil
}

// Resolve is NewResolver(p) followed by Resolve(agent, in).
func Resolve(agent string, in Inbound, p Policy) (Route, error) {
	r, err := NewResolver(p)
	if err != nil {
		return Route{}, err
	}
	return r.Resolve(agent, in)
}

// message holds the normalized pieces of an Inbound.
type message struct {
	channel, account             string
	chatType, chatID, chatValue  string
	spaceID, spaceValue, topicID string
	senderRaw, senderLinked      string
	// linked is true when senderLinked is a canonical name (a link matched).
	linked            bool
	mentioned, direct bool
	// untyped is true when the message carried no chat type: the scope
	// types its chat as direct, but the legacy aliases use the raw kind.
	untyped bool
}

func (r *Resolver) normalize(in Inbound) *message {
	m := &message{
		channel:   NormalizeChannel(in.Channel),
		account:   NormalizeAccountID(in.Account),
		chatID:    lower(in.ChatID),
		spaceID:   lower(in.SpaceID),
		topicID:   lower(in.TopicID),
		senderRaw: lower(in.SenderID),
		mentioned: in.Mentioned,
		direct:    in.IsDirect(),
	}
	m.chatType = lower(in.ChatType)
	if m.chatType == "" {
		m.chatType, m.untyped = "direct", true
	}
	if m.chatID != "" {
		m.chatValue = m.chatType + ":" + m.chatID
	}
	if m.spaceID != "" {
		t := lower(in.SpaceType)
		if t == "" {
			t = "space"
		}
		m.spaceValue = t + ":" + m.spaceID
	}
	m.senderLinked, m.linked = r.links.link(m.channel, m.senderRaw)
	return m
}

// Resolve routes one inbound message of agent (empty means main).
func (r *Resolver) Resolve(agent string, in Inbound) (Route, error) {
	if strings.ContainsAny(in.Key, "\n\r") {
		return Route{}, fmt.Errorf("keying: explicit key %q holds a line break", in.Key)
	}
	m := r.normalize(in)
	rt := Route{Agent: NormalizeAgentID(agent), MatchedBy: "default"}
	dims, main := r.dims, r.main
	if r.direct != nil && m.direct {
		dims, main = r.direct.Dimensions, r.direct.Main
	}
	ruleDims := false
	for _, rule := range r.rules {
		if rule.When.matches(m) {
			if rule.Agent != "" {
				rt.Agent = NormalizeAgentID(rule.Agent)
			}
			if rule.dims != nil {
				dims, main, ruleDims = rule.dims, false, true
			}
			rt.MatchedBy = rule.label
			break
		}
	}
	rt.MainID = MainID(rt.Agent)
	switch {
	case m.direct && m.linked && !ruleDims && r.shared[m.senderLinked]:
		// One session per agent and person across every channel and
		// account; the aliases stay those of the raw message, so the keys
		// PicoClaw and OpenClaw computed for it still resolve here.
		rt.MatchedBy = sharedMatchedBy(m.senderLinked)
		rt.Scope = SharedScope(rt.Agent, m.senderLinked)
		rt.Signature = Signature(rt.Scope)
		rt.ID = Opaque(rt.Signature)
		rt.Aliases = legacyAliases(rt.Agent, m, in.TopicID)
	case main:
		rt.Main = true
		rt.MatchedBy = "policy:main"
		rt.Scope = Scope{Version: ScopeVersion, AgentID: rt.Agent}
		rt.Signature = MainKey(rt.Agent)
		rt.ID = rt.MainID
		rt.Aliases = []string{MainKey(rt.Agent)}
	default:
		rt.Scope = buildScope(rt.Agent, m, dims)
		rt.Signature = Signature(rt.Scope)
		rt.ID = Opaque(rt.Signature)
		rt.Aliases = legacyAliases(rt.Agent, m, in.TopicID)
	}
	if k := lower(in.Key); k != "" {
		rt.applyKey(k)
	}
	return rt, nil
}

// applyKey handles an explicit key: an sk_v1_ id or an agent:... key is
// the storage key (PicoClaw keeps it, picosess hashes it: rule B of the
// migration guide); any other key is one more alias.
func (rt *Route) applyKey(k string) {
	switch {
	case IsID(k):
		rt.Key, rt.ID = k, k
	case strings.HasPrefix(k, "agent:"):
		rt.Key, rt.ID = k, Opaque(k)
		rt.Aliases = appendUnique([]string{k}, rt.Aliases...)
	default:
		rt.Aliases = appendUnique(rt.Aliases, k)
	}
}

// buildScope fills the dimensions in order, each only if the message has a
// value for it.
func buildScope(agent string, m *message, dims []string) Scope {
	s := Scope{Version: ScopeVersion, AgentID: agent, Channel: m.channel, Account: m.account}
	hasTopicDim := false
	for _, d := range dims {
		hasTopicDim = hasTopicDim || d == DimTopic
	}
	for _, d := range dims {
		var v string
		switch d {
		case DimSpace:
			v = m.spaceValue
		case DimChat:
			v = m.chatValue
			// Telegram forum topics fold into the chat when topics are not
			// a dimension of their own.
			if v != "" && m.channel == "telegram" && m.topicID != "" && !hasTopicDim {
				v += "/" + m.topicID
			}
		case DimTopic:
			if m.topicID != "" {
				v = "topic:" + m.topicID
			}
		case DimSender:
			v = m.senderLinked
		}
		if v == "" {
			continue
		}
		if s.Values == nil {
			s.Values = map[string]string{}
		}
		s.Dimensions = append(s.Dimensions, d)
		s.Values[d] = v
	}
	return s
}

func appendUnique(list []string, add ...string) []string {
	for _, a := range add {
		dup := false
		for _, x := range list {
			if x == a {
				dup = true
				break
			}
		}
		if !dup {
			list = append(list, a)
		}
	}
	return list
}
