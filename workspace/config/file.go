package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"

	"github.com/picosess/picosess/keying"
)

// FileName is the name of the configuration file in a workspace root.
const FileName = "config.json"

// File is <root>/config.json: the one schema of every setting. Every
// field is optional. A PicoClaw config.json is read verbatim (its session
// block and agents.dispatch, agents.defaults' summarize settings; its other
// blocks are accepted silently), and OpenClaw's session block names are
// read too (see docs/config.md).
type File struct {
	Session    Session     `json:"session"`
	Agents     Agents      `json:"agents"`
	Summarize  Summarize   `json:"summarize"`
	Reset      Reset       `json:"reset"`
	Limits     Limits      `json:"limits"`
	SendPolicy *SendPolicy `json:"send_policy,omitempty"`
	Cleanup    Cleanup     `json:"cleanup"`
	Encryption Encryption  `json:"encryption"`
	Store      Store       `json:"store"`

	// PicoClaw's blocks that picosess does not use, accepted silently.
	Bindings    json.RawMessage `json:"bindings,omitempty"`
	Channels    json.RawMessage `json:"channels,omitempty"`
	ChannelList json.RawMessage `json:"channel_list,omitempty"`
	Providers   json.RawMessage `json:"providers,omitempty"`
	Gateway     json.RawMessage `json:"gateway,omitempty"`
	Tools       json.RawMessage `json:"tools,omitempty"`
	Heartbeat   json.RawMessage `json:"heartbeat,omitempty"`
	Devices     json.RawMessage `json:"devices,omitempty"`
	ModelList   json.RawMessage `json:"model_list,omitempty"`
	Hooks       json.RawMessage `json:"hooks,omitempty"`
	MCP         json.RawMessage `json:"mcp,omitempty"`
	Events      json.RawMessage `json:"events,omitempty"`
	Evolution   json.RawMessage `json:"evolution,omitempty"`
	Isolation   json.RawMessage `json:"isolation,omitempty"`
	Version     json.RawMessage `json:"version,omitempty"`
	Voice       json.RawMessage `json:"voice,omitempty"`

	// agents is Agents.List by normalized id, filled by Parse.
	agents map[string]*AgentEntry
}

// Session is the session block: PicoClaw's names, and OpenClaw's.
type Session struct {
	// Dimensions is nil when unset (then dm_scope, then the default apply).
	Dimensions []string `json:"dimensions"`
	// IdentityLinks entries take PicoClaw's array form or the object form
	// with shared_session (see IdentityLinks).
	IdentityLinks IdentityLinks `json:"identity_links,omitempty"`
	DMScope       string        `json:"dm_scope,omitempty"`
	// Name is the named session picosess append writes to when it is
	// given no SESSION, --session or route, and $PICOSESS_SESSION is
	// unset (picosess's own; neither PicoClaw nor OpenClaw has it).
	Name string `json:"name,omitempty"`

	// OpenClaw's session block. dmScope and identityLinks have OpenClaw's
	// meaning: dmScope applies to direct messages only. identityLinks
	// entries also take the object form with sharedSession; identityLinks
	// is used only when identity_links is empty.
	DMScopeOC       string               `json:"dmScope,omitempty"`
	IdentityLinksOC IdentityLinksOC      `json:"identityLinks,omitempty"`
	ResetTriggers   []string             `json:"resetTriggers,omitempty"`
	IdleMinutes     *int                 `json:"idleMinutes,omitempty"`
	ResetOC         *ResetRule           `json:"reset,omitempty"`
	ResetByType     map[string]ResetRule `json:"resetByType,omitempty"`
	ResetByChannel  map[string]ResetRule `json:"resetByChannel,omitempty"`
	// ResetTime is "HH:MM"; IdleTimeout is in seconds.
	ResetTime   string      `json:"resetTime,omitempty"`
	IdleTimeout *int        `json:"idleTimeout,omitempty"`
	MaxMessages int         `json:"maxMessages,omitempty"`
	MaxTokens   int         `json:"maxTokens,omitempty"`
	SendPolicy  *SendPolicy `json:"sendPolicy,omitempty"`
	// OpenClaw settings picosess does not use, accepted silently.
	MainKey               json.RawMessage `json:"mainKey,omitempty"`
	Scope                 json.RawMessage `json:"scope,omitempty"`
	Store                 json.RawMessage `json:"store,omitempty"`
	TypingMode            json.RawMessage `json:"typingMode,omitempty"`
	TypingIntervalSeconds json.RawMessage `json:"typingIntervalSeconds,omitempty"`
	AgentToAgent          json.RawMessage `json:"agentToAgent,omitempty"`
}

// Agents is the agents block.
type Agents struct {
	Dispatch Dispatch      `json:"dispatch"`
	Defaults AgentDefaults `json:"defaults"`
	List     []AgentEntry  `json:"list,omitempty"`
}

// Dispatch is agents.dispatch.
type Dispatch struct {
	Rules []keying.Rule `json:"rules,omitempty"`
}

// Agent holds the settings that can be set per agent.
type Agent struct {
	Summarize Summarize `json:"summarize"`
	Reset     Reset     `json:"reset"`
	Limits    Limits    `json:"limits"`
}

// AgentDefaults is agents.defaults: our blocks, PicoClaw's summarize
// settings, and PicoClaw's other settings (model, workspace...), accepted
// silently.
type AgentDefaults struct {
	Agent
	SummarizeMessageThreshold int `json:"summarize_message_threshold,omitempty"`
	SummarizeTokenPercent     int `json:"summarize_token_percent,omitempty"`
	ContextWindow             int `json:"context_window,omitempty"`
}

func (AgentDefaults) openFields() {}

// AgentEntry is one agents.list[] entry: an id, our blocks, and whatever
// else PicoClaw keeps there (accepted silently).
type AgentEntry struct {
	ID *string `json:"id"`
	Agent
}

func (AgentEntry) openFields() {}

// Load reads <root>/config.json. A missing file (or root) gives the
// defaults and no error. Warnings list unknown fields, which are ignored.
func Load(root string) (*File, []string, error) {
	path := filepath.Join(root, FileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		// No file, or root is not a directory: the defaults (opening the
		// workspace says what is wrong with root).
		return &File{}, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	return Parse(path, b)
}

// Parse decodes and validates the bytes of a config file; name is used in
// errors and warnings.
func Parse(name string, data []byte) (*File, []string, error) {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, syntaxError(name, data, err)
	}
	if dec.More() {
		off := dec.InputOffset()
		for off < int64(len(data)) && strings.IndexByte(" \t\r\n", data[off]) >= 0 {
			off++
		}
		line, col := lineCol(data, off)
		return nil, nil, &Error{File: name, Line: line, Column: col, Msg: "unexpected data after the top-level object"}
	}
	c := &checker{}
	c.walk("", doc, fileType)
	var warnings []string
	for _, w := range c.warnings {
		warnings = append(warnings, fmt.Sprintf("%s: %s: unknown field, ignored", name, w))
	}
	located := func(err error) error {
		var fe *FieldError
		if !errors.As(err, &fe) {
			return &Error{File: name, Msg: err.Error(), Err: err}
		}
		line, col := at(offsets(data), data, fe.Path)
		return &Error{File: name, Line: line, Column: col, Field: fe.Path, Msg: fe.Msg, Err: err}
	}
	if c.err != nil {
		return nil, warnings, located(c.err)
	}
	f := &File{}
	if err := json.Unmarshal(data, f); err != nil {
		return nil, warnings, syntaxError(name, data, err)
	}
	if err := f.validate(); err != nil {
		return nil, warnings, located(err)
	}
	f.normalize()
	return f, warnings, nil
}

var fileType = reflect.TypeFor[File]()

func syntaxError(name string, data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(len(data))
	switch {
	case errors.As(err, &se) && se.Offset > 0:
		off = se.Offset - 1 // Offset counts the offending byte
	case errors.As(err, &te):
		off = te.Offset
	}
	line, col := lineCol(data, off)
	return &Error{File: name, Line: line, Column: col, Msg: "syntax error: " + err.Error(), Err: err}
}

// validate checks every value, naming the first bad one by its path.
func (f *File) validate() error {
	if err := f.Encryption.validate("encryption"); err != nil {
		return err
	}
	if err := f.Store.validate("store"); err != nil {
		return err
	}
	dims := func(path string, list []string) error {
		for i, d := range list {
			if _, err := keying.NormalizeDimensions([]string{d}); err != nil {
				return fieldErr(fmt.Sprintf("%s[%d]", path, i), "unknown dimension %q (known: space, chat, topic, sender)", d)
			}
		}
		return nil
	}
	if err := dims("session.dimensions", f.Session.Dimensions); err != nil {
		return err
	}
	for i, r := range f.Agents.Dispatch.Rules {
		if err := dims(fmt.Sprintf("agents.dispatch.rules[%d].session_dimensions", i), r.SessionDimensions); err != nil {
			return err
		}
	}
	for _, b := range []struct {
		path  string
		links IdentityLinks
	}{{"session.identity_links", f.Session.IdentityLinks}, {"session.identityLinks", f.Session.IdentityLinksOC.links()}} {
		if err := b.links.validate(b.path); err != nil {
			return err
		}
	}
	if err := f.policy().Validate(); err != nil {
		var ce *keying.ConfigError
		if errors.As(err, &ce) {
			return &FieldError{Path: ce.Path, Msg: strings.TrimPrefix(ce.Error(), ce.Path+": ")}
		}
		return err
	}
	for _, s := range []struct{ path, v string }{{"session.dm_scope", f.Session.DMScope}, {"session.dmScope", f.Session.DMScopeOC}} {
		if s.v == "" {
			continue
		}
		if _, _, err := keying.ScopeDimensions(s.v); err != nil {
			return fieldErr(s.path, "unknown dm_scope %q (known: %s)", s.v, strings.Join(keying.ScopeNames(), ", "))
		}
	}
	if n := f.Session.Name; n != "" && keying.NormalizeName(n) == "" {
		return fieldErr("session.name", "want a session name, got %q", n)
	}
	if f.Session.ResetTime != "" {
		if _, _, err := ParseDailyAt(f.Session.ResetTime); err != nil {
			return fieldErr("session.resetTime", "%v", err)
		}
	}
	if t := f.Session.IdleTimeout; t != nil && *t < 0 {
		return fieldErr("session.idleTimeout", "want 0 (off) or a positive number of seconds, got %d", *t)
	}
	if t := f.Session.IdleMinutes; t != nil && *t < 0 {
		return fieldErr("session.idleMinutes", "want 0 (off) or a positive number of minutes, got %d", *t)
	}
	if r := f.Session.ResetOC; r != nil {
		if err := r.validate("session.reset"); err != nil {
			return err
		}
	}
	if err := (Reset{ByType: f.Session.ResetByType}).validate("session.resetByType"); err != nil {
		return err
	}
	if err := (Reset{ByChannel: f.Session.ResetByChannel}).validate("session.resetByChannel"); err != nil {
		return err
	}
	if err := (Reset{ResetRule: ResetRule{Triggers: f.Session.ResetTriggers}}).validate("session.resetTriggers"); err != nil {
		return err
	}
	if err := (Limits{MaxMessages: f.Session.MaxMessages, MaxTokens: f.Session.MaxTokens}).validate("session"); err != nil {
		return err
	}
	if p := f.Session.SendPolicy; p != nil {
		if err := p.validate("session.sendPolicy"); err != nil {
			return err
		}
	}
	if p := f.SendPolicy; p != nil {
		if err := p.validate("send_policy"); err != nil {
			return err
		}
	}
	if err := f.Cleanup.validate("cleanup"); err != nil {
		return err
	}
	d := f.Agents.Defaults
	if err := (Summarize{MessageThreshold: d.SummarizeMessageThreshold, TokenPercent: d.SummarizeTokenPercent, ContextWindow: d.ContextWindow}).validate("agents.defaults"); err != nil {
		var fe *settingsError
		if errors.As(err, &fe) {
			fe.Path = strings.Replace(fe.Path, "agents.defaults.", "agents.defaults.summarize_", 1)
			fe.Path = strings.Replace(fe.Path, "summarize_context_window", "context_window", 1)
		}
		return err
	}
	blocks := []struct {
		path string
		a    Agent
	}{{"", Agent{Summarize: f.Summarize, Reset: f.Reset, Limits: f.Limits}}, {"agents.defaults.", d.Agent}}
	for i, e := range f.Agents.List {
		p := fmt.Sprintf("agents.list[%d]", i)
		if e.ID == nil {
			return fieldErr(p+".id", "want the agent id as a string, got null")
		}
		blocks = append(blocks, struct {
			path string
			a    Agent
		}{p + ".", e.Agent})
	}
	for _, b := range blocks {
		if err := b.a.Summarize.validate(b.path + "summarize"); err != nil {
			return err
		}
		if err := b.a.Reset.validate(b.path + "reset"); err != nil {
			return err
		}
		if err := b.a.Limits.validate(b.path + "limits"); err != nil {
			return err
		}
	}
	return nil
}

// normalize folds the other spellings into ours, once: OpenClaw's session
// names into the workspace's reset, limits and send_policy blocks,
// PicoClaw's agents.defaults summarize settings into Summarize, and the
// agent list into a map. Our own names win where both are set.
func (f *File) normalize() {
	s := f.Session
	r := &f.Reset
	if s.ResetOC != nil {
		// OpenClaw's session.reset under ours: our own fields win.
		base := s.ResetOC.normalize()
		lay(&base, r.ResetRule.normalize())
		r.ResetRule = base
	}
	if s.ResetTime != "" && r.DailyAt == nil {
		t := s.ResetTime
		r.DailyAt = &t
	}
	if r.IdleMinutes == nil {
		switch {
		case s.IdleMinutes != nil:
			r.IdleMinutes = s.IdleMinutes
		case s.IdleTimeout != nil:
			m := (*s.IdleTimeout + 59) / 60 // seconds, rounded up to minutes
			r.IdleMinutes = &m
		}
	}
	if r.Triggers == nil && s.ResetTriggers != nil {
		r.Triggers = s.ResetTriggers
	}
	r.ResetRule = r.ResetRule.normalize()
	r.ByType = mergeRules(r.ByType, s.ResetByType)
	r.ByChannel = mergeRules(r.ByChannel, s.ResetByChannel)
	if f.Limits.MaxMessages == 0 {
		f.Limits.MaxMessages = s.MaxMessages
	}
	if f.Limits.MaxTokens == 0 {
		f.Limits.MaxTokens = s.MaxTokens
	}
	if f.SendPolicy == nil && s.SendPolicy != nil {
		f.SendPolicy = s.SendPolicy
	}
	if p := f.SendPolicy; p != nil {
		for i := range p.Rules {
			m := &p.Rules[i].Match
			if m.ChatType == "" {
				m.ChatType = m.ChatTypeOC
			}
			if m.KeyPrefix == "" {
				m.KeyPrefix = m.KeyPrefixOC
			}
			m.ChatTypeOC, m.KeyPrefixOC = "", ""
		}
	}
	d := &f.Agents.Defaults
	d.Reset.ResetRule = d.Reset.ResetRule.normalize()
	d.Reset.ByType, d.Reset.ByChannel = mergeRules(d.Reset.ByType, nil), mergeRules(d.Reset.ByChannel, nil)
	for _, p := range []struct {
		dst *int
		v   int
	}{
		{&d.Summarize.MessageThreshold, d.SummarizeMessageThreshold},
		{&d.Summarize.TokenPercent, d.SummarizeTokenPercent},
		{&d.Summarize.ContextWindow, d.ContextWindow},
	} {
		if *p.dst == 0 {
			*p.dst = p.v
		}
	}
	f.agents = map[string]*AgentEntry{}
	for i := range f.Agents.List {
		e := &f.Agents.List[i]
		e.Reset.ResetRule = e.Reset.ResetRule.normalize()
		e.Reset.ByType, e.Reset.ByChannel = mergeRules(e.Reset.ByType, nil), mergeRules(e.Reset.ByChannel, nil)
		f.agents[keying.NormalizeAgentID(*e.ID)] = e
	}
}

// mergeRules normalizes ours and adds OpenClaw's where ours has no entry.
// OpenClaw's type "dm" is our "direct".
func mergeRules(ours, theirs map[string]ResetRule) map[string]ResetRule {
	if ours == nil && theirs == nil {
		return nil
	}
	out := map[string]ResetRule{}
	for k, v := range ours {
		out[normKind(k)] = v.normalize()
	}
	for k, v := range theirs {
		if _, ok := out[normKind(k)]; !ok {
			out[normKind(k)] = v.normalize()
		}
	}
	return out
}

func normKind(k string) string {
	k = strings.ToLower(strings.TrimSpace(k))
	if k == "dm" {
		return "direct"
	}
	return k
}

// lay sets every field of dst that o sets.
func lay(dst *ResetRule, o ResetRule) {
	if o.DailyAt != nil {
		dst.DailyAt = o.DailyAt
	}
	if o.IdleMinutes != nil {
		dst.IdleMinutes = o.IdleMinutes
	}
	if o.CarrySummary != nil {
		dst.CarrySummary = o.CarrySummary
	}
	if o.Triggers != nil {
		dst.Triggers = o.Triggers
	}
	if o.Timezone != nil {
		dst.Timezone = o.Timezone
	}
}

// Lay returns r with every field that o sets laid over it (one step of
// the reset cascade).
func (r ResetRule) Lay(o ResetRule) ResetRule {
	lay(&r, o)
	return r
}

// Policy returns the keying policy: session.dimensions if set, else
// PicoClaw's mapping of session.dm_scope, else the default; OpenClaw's
// dmScope (direct messages only); identity links (identity_links, else
// identityLinks) with the names whose entries set sharedSession as
// SharedSessions; dispatch rules.
func (f *File) Policy() keying.Policy { return f.policy() }

func (f *File) policy() keying.Policy {
	links := f.Session.IdentityLinks
	if len(links) == 0 {
		links = f.Session.IdentityLinksOC.links()
	}
	kl, shared := links.keying()
	p := keying.Policy{IdentityLinks: kl, SharedSessions: shared, Rules: f.Agents.Dispatch.Rules}
	switch {
	case f.Session.Dimensions != nil:
		p.Dimensions = f.Session.Dimensions
	case f.Session.DMScope != "":
		if d, ok := keying.DMScopeDimensions(f.Session.DMScope); ok {
			p.Dimensions = d
		}
	}
	if oc := f.Session.DMScopeOC; oc != "" && f.Session.DMScope == "" {
		dims, main, _ := keying.ScopeDimensions(oc)
		p.Direct = &keying.DirectPolicy{Dimensions: dims, Main: main}
	}
	return p
}

// Agent returns the settings of one agent: the workspace's blocks, then
// agents.defaults, then the agent's agents.list[] entry, each laid over
// the one before, field by field. Summarize.Limits carries the limits.
func (f *File) Agent(agent string) Agent {
	out := f.Defaults()
	if e, ok := f.agents[keying.NormalizeAgentID(agent)]; ok {
		layAgent(&out, e.Agent)
	}
	out.Summarize.Limits = out.Limits
	return out
}

// Defaults returns the settings every agent starts from: the workspace's
// blocks with agents.defaults laid over them.
func (f *File) Defaults() Agent {
	out := Agent{Summarize: f.Summarize, Reset: f.Reset, Limits: f.Limits}
	layAgent(&out, f.Agents.Defaults.Agent)
	out.Summarize.Limits = out.Limits
	return out
}

func layAgent(dst *Agent, o Agent) {
	dst.Summarize = dst.Summarize.Merge(o.Summarize)
	lay(&dst.Reset.ResetRule, o.Reset.ResetRule)
	if o.Reset.ByType != nil {
		dst.Reset.ByType = o.Reset.ByType
	}
	if o.Reset.ByChannel != nil {
		dst.Reset.ByChannel = o.Reset.ByChannel
	}
	if o.Limits.MaxMessages != 0 {
		dst.Limits.MaxMessages = o.Limits.MaxMessages
	}
	if o.Limits.MaxTokens != 0 {
		dst.Limits.MaxTokens = o.Limits.MaxTokens
	}
	if o.Limits.Compaction != "" {
		dst.Limits.Compaction = o.Limits.Compaction
	}
}

// AgentSource names where an agent's settings come from, for "policy"
// output: the agents.list entry if there is one.
func (f *File) AgentSource(agent string) string {
	for i, e := range f.Agents.List {
		if e.ID != nil && keying.NormalizeAgentID(*e.ID) == keying.NormalizeAgentID(agent) {
			return fmt.Sprintf("agents.list[%d]", i)
		}
	}
	return ""
}
