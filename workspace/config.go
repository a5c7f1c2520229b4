package workspace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/picosess/picosess/keying"
)

// ConfigFile is the name of the workspace configuration file.
const ConfigFile = "config.json"

// ErrConfig is matched by every configuration error.
var ErrConfig = errors.New("workspace: bad config")

// ConfigError locates a configuration problem: a syntax error by line and
// column, a wrong type or value by its field path (session.dimensions[1]).
type ConfigError struct {
	File   string
	Line   int // 1-based; 0 when the problem is a field
	Column int
	Field  string
	Msg    string
	Err    error
}

func (e *ConfigError) Error() string {
	where := e.File
	if e.Line > 0 {
		where = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Column)
	}
	if e.Field != "" {
		where += ": " + e.Field
	}
	return where + ": " + e.Msg
}

func (e *ConfigError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrConfig, e.Err}
	}
	return []error{ErrConfig}
}

// Config is <root>/config.json. Every field is optional. The session block
// and agents.dispatch read PicoClaw's config.json verbatim, so a PicoClaw
// config can be used as it is.
type Config struct {
	Session  SessionConfig
	Dispatch []keying.Rule
	// Defaults apply to every agent; Agents["x"] overrides them for agent x
	// (from agents.list[] entries with "id": "x").
	Defaults AgentConfig
	Agents   map[string]AgentConfig
}

// SessionConfig is the session block.
type SessionConfig struct {
	// Dimensions is nil when unset (then dm_scope, then the default apply).
	Dimensions    []string
	IdentityLinks keying.IdentityLinks
	DMScope       string
}

// AgentConfig holds the settings that can be set per agent. Pointer and
// nil fields are unset and inherit.
type AgentConfig struct {
	Summarize SummarizeConfig
	Reset     ResetConfig
	Limits    LimitsConfig
}

// SummarizeConfig is the summarize block; see docs/config.md.
type SummarizeConfig struct {
	MessageThreshold *int
	TokenPercent     *int
	ContextWindow    *int
	KeepRecent       *int
	// Summarizer is the summarizer block as written ({"kind": "extractive", ...}).
	Summarizer json.RawMessage
	// Encoding is the tiktoken encoding for token counts ("o200k_base"), or
	// "estimate".
	Encoding string
}

// ResetConfig is the reset block.
type ResetConfig struct {
	DailyAt     string
	IdleMinutes *int
	ByType      map[string]json.RawMessage
	ByChannel   map[string]json.RawMessage
}

// LimitsConfig is the limits block.
type LimitsConfig struct {
	MaxMessages *int
	MaxTokens   *int
}

// Policy returns the keying policy of the config: session.dimensions if
// set, else PicoClaw's mapping of session.dm_scope, else the default; plus
// the identity links and dispatch rules.
func (c *Config) Policy() keying.Policy {
	p := keying.Policy{IdentityLinks: c.Session.IdentityLinks, Rules: c.Dispatch}
	switch {
	case c.Session.Dimensions != nil:
		p.Dimensions = c.Session.Dimensions
	case c.Session.DMScope != "":
		if d, ok := keying.DMScopeDimensions(c.Session.DMScope); ok {
			p.Dimensions = d
		}
	}
	return p
}

// Agent returns the settings of one agent: its overrides on the defaults.
func (c *Config) Agent(agent string) AgentConfig {
	out := c.Defaults
	o, ok := c.Agents[keying.NormalizeAgentID(agent)]
	if !ok {
		return out
	}
	s := &out.Summarize
	setInt(&s.MessageThreshold, o.Summarize.MessageThreshold)
	setInt(&s.TokenPercent, o.Summarize.TokenPercent)
	setInt(&s.ContextWindow, o.Summarize.ContextWindow)
	setInt(&s.KeepRecent, o.Summarize.KeepRecent)
	if o.Summarize.Summarizer != nil {
		s.Summarizer = o.Summarize.Summarizer
	}
	if o.Summarize.Encoding != "" {
		s.Encoding = o.Summarize.Encoding
	}
	if o.Reset.DailyAt != "" {
		out.Reset.DailyAt = o.Reset.DailyAt
	}
	setInt(&out.Reset.IdleMinutes, o.Reset.IdleMinutes)
	if o.Reset.ByType != nil {
		out.Reset.ByType = o.Reset.ByType
	}
	if o.Reset.ByChannel != nil {
		out.Reset.ByChannel = o.Reset.ByChannel
	}
	setInt(&out.Limits.MaxMessages, o.Limits.MaxMessages)
	setInt(&out.Limits.MaxTokens, o.Limits.MaxTokens)
	return out
}

func setInt(dst **int, v *int) {
	if v != nil {
		*dst = v
	}
}

// LoadConfig reads <root>/config.json. A missing file (or root) gives the
// defaults and no error. Warnings list unknown fields, which are ignored.
func LoadConfig(root string) (cfg *Config, warnings []string, err error) {
	path := filepath.Join(root, ConfigFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("workspace: read config: %w", err)
	}
	return ParseConfig(path, b)
}

// ParseConfig parses the bytes of a config file; name is used in errors.
func ParseConfig(name string, data []byte) (*Config, []string, error) {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, syntaxError(name, data, err)
	}
	if dec.More() {
		off := dec.InputOffset()
		for off < int64(len(data)) && (data[off] == ' ' || data[off] == '\n' || data[off] == '\t' || data[off] == '\r') {
			off++
		}
		line, col := lineCol(data, off)
		return nil, nil, &ConfigError{File: name, Line: line, Column: col, Msg: "unexpected data after the top-level object"}
	}
	p := &configParser{file: name}
	cfg := p.config(doc)
	if p.err != nil {
		return nil, p.warnings, p.err
	}
	if err := cfg.Policy().Validate(); err != nil {
		var ce *keying.ConfigError
		if errors.As(err, &ce) {
			return nil, p.warnings, &ConfigError{File: name, Field: ce.Path, Msg: strings.TrimPrefix(ce.Error(), ce.Path+": "), Err: err}
		}
		return nil, p.warnings, &ConfigError{File: name, Msg: err.Error(), Err: err}
	}
	return cfg, p.warnings, nil
}

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
	return &ConfigError{File: name, Line: line, Column: col, Msg: "syntax error: " + err.Error(), Err: err}
}

// lineCol turns a byte offset into a 1-based line and column (in bytes).
func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := int(off) - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}

// configParser walks the decoded document. The first error stops the
// walk; unknown fields become warnings.
type configParser struct {
	file     string
	err      error
	warnings []string
}

func (p *configParser) fail(field, format string, args ...any) {
	if p.err == nil {
		p.err = &ConfigError{File: p.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
}

func (p *configParser) warn(field string) {
	p.warnings = append(p.warnings, fmt.Sprintf("%s: %s: unknown field, ignored", p.file, field))
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// object returns v as an object and its keys sorted, or fails.
func (p *configParser) object(path string, v any) (map[string]any, []string) {
	m, ok := v.(map[string]any)
	if !ok {
		p.fail(path, "want an object, got %s", kind(v))
		return nil, nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return m, keys
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func (p *configParser) str(path string, v any) string {
	s, ok := v.(string)
	if !ok {
		p.fail(path, "want a string, got %s", kind(v))
	}
	return s
}

func (p *configParser) strings(path string, v any) []string {
	a, ok := v.([]any)
	if !ok {
		p.fail(path, "want an array of strings, got %s", kind(v))
		return nil
	}
	out := make([]string, 0, len(a))
	for i, e := range a {
		out = append(out, p.str(fmt.Sprintf("%s[%d]", path, i), e))
	}
	return out
}

// dimensions reads an array of dimension names; an unknown name fails
// with its index in the path.
func (p *configParser) dimensions(path string, v any) []string {
	dims := p.strings(path, v)
	for i, d := range dims {
		if _, err := keying.NormalizeDimensions([]string{d}); err != nil {
			p.fail(fmt.Sprintf("%s[%d]", path, i), "unknown dimension %q (known: space, chat, topic, sender)", d)
		}
	}
	return dims
}

func (p *configParser) count(path string, v any, min, max int64) *int {
	n, ok := v.(json.Number)
	if !ok {
		p.fail(path, "want a whole number, got %s", kind(v))
		return nil
	}
	i, err := n.Int64()
	if err != nil || i < min || i > max {
		p.fail(path, "want a whole number from %d to %d, got %s", min, max, n)
		return nil
	}
	x := int(i)
	return &x
}

// picoclawBlocks are top-level blocks of a PicoClaw config that picosess
// does not use; they are accepted silently.
var picoclawBlocks = map[string]bool{"bindings": true, "channels": true, "providers": true, "gateway": true,
	"tools": true, "heartbeat": true, "devices": true, "model_list": true, "hooks": true, "mcp": true}

func (p *configParser) config(doc any) *Config {
	cfg := &Config{}
	m, keys := p.object("", doc)
	for _, k := range keys {
		v := m[k]
		switch k {
		case "session":
			p.session(k, v, &cfg.Session)
		case "agents":
			p.agents(k, v, cfg)
		case "summarize", "reset", "limits":
			p.agentBlock(k, k, v, &cfg.Defaults)
		default:
			if !picoclawBlocks[k] {
				p.warn(k)
			}
		}
	}
	return cfg
}

func (p *configParser) session(path string, v any, s *SessionConfig) {
	m, keys := p.object(path, v)
	for _, k := range keys {
		f := join(path, k)
		switch k {
		case "dimensions":
			s.Dimensions = p.dimensions(f, m[k])
		case "identity_links":
			lm, lkeys := p.object(f, m[k])
			s.IdentityLinks = keying.IdentityLinks{}
			for _, name := range lkeys {
				s.IdentityLinks[name] = p.strings(join(f, name), lm[name])
			}
		case "dm_scope":
			s.DMScope = p.str(f, m[k])
			if _, ok := keying.DMScopeDimensions(s.DMScope); !ok && !knownUnmappedDMScope(s.DMScope) {
				p.fail(f, "unknown dm_scope %q (known: main, per-peer, per-channel-peer, per-account-channel-peer, per-channel, global)", s.DMScope)
			}
		default:
			p.warn(f)
		}
	}
}

func knownUnmappedDMScope(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	return s == keying.ScopeMain || s == keying.ScopePerAccountChannelPeer
}

func (p *configParser) agents(path string, v any, cfg *Config) {
	m, keys := p.object(path, v)
	for _, k := range keys {
		f := join(path, k)
		switch k {
		case "dispatch":
			dm, dkeys := p.object(f, m[k])
			for _, dk := range dkeys {
				if dk != "rules" {
					p.warn(join(f, dk))
					continue
				}
				rules, ok := dm[dk].([]any)
				if !ok {
					p.fail(join(f, dk), "want an array of rules, got %s", kind(dm[dk]))
					continue
				}
				for i, r := range rules {
					cfg.Dispatch = append(cfg.Dispatch, p.rule(fmt.Sprintf("%s.rules[%d]", f, i), r))
				}
			}
		case "list":
			list, ok := m[k].([]any)
			if !ok {
				p.fail(f, "want an array of agents, got %s", kind(m[k]))
				continue
			}
			for i, e := range list {
				p.agentEntry(fmt.Sprintf("%s[%d]", f, i), e, cfg)
			}
		case "defaults":
			// PicoClaw's agent defaults (model, workspace...); ours may sit
			// there too.
			dm, dkeys := p.object(f, m[k])
			for _, dk := range dkeys {
				if dk == "summarize" || dk == "reset" || dk == "limits" {
					p.agentBlock(join(f, dk), dk, dm[dk], &cfg.Defaults)
				}
			}
		default:
			p.warn(f)
		}
	}
}

func (p *configParser) agentEntry(path string, v any, cfg *Config) {
	m, keys := p.object(path, v)
	id, ok := m["id"].(string)
	if !ok {
		p.fail(join(path, "id"), "want the agent id as a string, got %s", kind(m["id"]))
		return
	}
	ac := cfg.Agents[keying.NormalizeAgentID(id)]
	for _, k := range keys {
		if k == "summarize" || k == "reset" || k == "limits" {
			p.agentBlock(join(path, k), k, m[k], &ac)
		}
	}
	if cfg.Agents == nil {
		cfg.Agents = map[string]AgentConfig{}
	}
	cfg.Agents[keying.NormalizeAgentID(id)] = ac
}

func (p *configParser) agentBlock(path, block string, v any, ac *AgentConfig) {
	m, keys := p.object(path, v)
	for _, k := range keys {
		f, val := join(path, k), m[k]
		switch block + "." + k {
		case "summarize.message_threshold":
			ac.Summarize.MessageThreshold = p.count(f, val, 1, 1<<31-1)
		case "summarize.token_percent":
			ac.Summarize.TokenPercent = p.count(f, val, 1, 100)
		case "summarize.context_window":
			ac.Summarize.ContextWindow = p.count(f, val, 1, 1<<31-1)
		case "summarize.keep_recent":
			ac.Summarize.KeepRecent = p.count(f, val, 0, 1<<31-1)
		case "summarize.summarizer":
			p.object(f, val)
			ac.Summarize.Summarizer, _ = json.Marshal(val)
		case "summarize.encoding":
			ac.Summarize.Encoding = p.str(f, val)
		case "reset.daily_at":
			ac.Reset.DailyAt = p.str(f, val)
			var h, mi int
			if _, err := fmt.Sscanf(ac.Reset.DailyAt, "%d:%d", &h, &mi); err != nil || h < 0 || h > 23 || mi < 0 || mi > 59 {
				p.fail(f, "want a time of day HH:MM, got %q", ac.Reset.DailyAt)
			}
		case "reset.idle_minutes":
			ac.Reset.IdleMinutes = p.count(f, val, 1, 1<<31-1)
		case "reset.by_type", "reset.by_channel":
			om, okeys := p.object(f, val)
			raw := map[string]json.RawMessage{}
			for _, ok := range okeys {
				raw[ok], _ = json.Marshal(om[ok])
			}
			if k == "by_type" {
				ac.Reset.ByType = raw
			} else {
				ac.Reset.ByChannel = raw
			}
		case "limits.max_messages":
			ac.Limits.MaxMessages = p.count(f, val, 1, 1<<31-1)
		case "limits.max_tokens":
			ac.Limits.MaxTokens = p.count(f, val, 1, 1<<31-1)
		default:
			p.warn(f)
		}
	}
}

func (p *configParser) rule(path string, v any) keying.Rule {
	var r keying.Rule
	m, keys := p.object(path, v)
	for _, k := range keys {
		f := join(path, k)
		switch k {
		case "name":
			r.Name = p.str(f, m[k])
		case "agent":
			r.Agent = p.str(f, m[k])
		case "session_dimensions":
			r.SessionDimensions = p.dimensions(f, m[k])
		case "when":
			wm, wkeys := p.object(f, m[k])
			for _, wk := range wkeys {
				wf := join(f, wk)
				switch wk {
				case "channel":
					r.When.Channel = p.str(wf, wm[wk])
				case "account":
					r.When.Account = p.str(wf, wm[wk])
				case "space":
					r.When.Space = p.str(wf, wm[wk])
				case "chat":
					r.When.Chat = p.str(wf, wm[wk])
				case "topic":
					r.When.Topic = p.str(wf, wm[wk])
				case "sender":
					r.When.Sender = p.str(wf, wm[wk])
				case "mentioned":
					b, ok := wm[wk].(bool)
					if !ok {
						p.fail(wf, "want true or false, got %s", kind(wm[wk]))
					}
					r.When.Mentioned = &b
				default:
					p.warn(wf)
				}
			}
		default:
			p.warn(f)
		}
	}
	return r
}
