package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ResetRule is one level of the reset cascade (the workspace's reset
// block, an agent's, one entry of by_type or by_channel). Unset fields
// inherit from the level below.
type ResetRule struct {
	// DailyAt "HH:MM" starts a new conversation at the first message after
	// that time of day (in Timezone); "" or "off" switches it off.
	DailyAt *string `json:"daily_at,omitempty"`
	// IdleMinutes starts a new conversation at the first message after this
	// many minutes without one; 0 switches it off.
	IdleMinutes *int `json:"idle_minutes,omitempty"`
	// CarrySummary starts the new conversation of an automatic or manual
	// reset with the previous conversation's latest summary.
	CarrySummary *bool `json:"carry_summary,omitempty"`
	// Triggers are the texts that, as the whole of a user message or its
	// first word, reset the session (default /new and /reset); [] none.
	Triggers []string `json:"triggers,omitempty"`
	// Timezone is the IANA zone of DailyAt ("" = the machine's local zone).
	Timezone *string `json:"timezone,omitempty"`

	// OpenClaw's spelling of the same settings: mode "daily" (at atHour,
	// default 4, and also idleMinutes if given) or "idle" (idleMinutes only).
	Mode          string `json:"mode,omitempty"`
	AtHour        *int   `json:"atHour,omitempty"`
	IdleMinutesOC *int   `json:"idleMinutes,omitempty"`
}

// Reset is the reset block: a rule plus overrides per chat type and per
// channel.
type Reset struct {
	ResetRule
	// ByType overrides per chat type (direct, group, channel, thread...).
	ByType map[string]ResetRule `json:"by_type,omitempty"`
	// ByChannel overrides per channel (telegram, discord...).
	ByChannel map[string]ResetRule `json:"by_channel,omitempty"`
}

// Limits bound the active history that context and history reads return.
type Limits struct {
	// MaxMessages and MaxTokens: 0 unset (inherit), -1 off.
	MaxMessages int `json:"max_messages,omitempty"`
	MaxTokens   int `json:"max_tokens,omitempty"`
	// Compaction is what crossing a limit does: "trim" (the default: the
	// oldest messages are left out of what is read) or "summarize" (the
	// session is due for a summary).
	Compaction string `json:"compaction,omitempty"`
}

// Compaction values.
const (
	CompactionTrim      = "trim"
	CompactionSummarize = "summarize"
)

// SendPolicy decides whether an assistant may send into a session.
type SendPolicy struct {
	// Default is "allow" (when empty) or "deny".
	Default string `json:"default,omitempty"`
	// Rules are tried in order; the first that matches decides.
	Rules []SendRule `json:"rules,omitempty"`
	// Blocked is OpenClaw's short form: chat types or channels to deny
	// (["group"]). It is tried after Rules.
	Blocked []string `json:"blocked,omitempty"`
}

// SendRule is one send-policy rule.
type SendRule struct {
	Name   string    `json:"name,omitempty"`
	Action string    `json:"action"` // allow or deny
	Match  SendMatch `json:"match"`
}

// SendMatch selects sessions; every field that is set must match.
type SendMatch struct {
	Channel  string `json:"channel,omitempty"`
	ChatType string `json:"chat_type,omitempty"`
	Agent    string `json:"agent,omitempty"`
	// KeyPrefix matches the start of the session id, its signature or one
	// of its legacy keys (agent:main:discord:).
	KeyPrefix string `json:"key_prefix,omitempty"`
	// Session is the name of a named session.
	Session string `json:"session,omitempty"`

	// OpenClaw's spelling.
	ChatTypeOC  string `json:"chatType,omitempty"`
	KeyPrefixOC string `json:"keyPrefix,omitempty"`
}

// Cleanup is the cleanup block.
type Cleanup struct {
	// OlderThan moves sessions without activity for this long to the
	// trash; TTL is the same setting under the Redis chat CLI's name.
	OlderThan Duration `json:"older_than,omitempty"`
	TTL       Duration `json:"ttl,omitempty"`
	// PurgeAfter removes trashed sessions for good after this long.
	PurgeAfter Duration `json:"purge_after,omitempty"`
	// KeepCheckpoints keeps every session that has a checkpoint.
	KeepCheckpoints bool `json:"keep_checkpoints,omitempty"`
	// Interval is how often serve and watch run cleanup when OlderThan,
	// TTL or PurgeAfter is set (default DefaultCleanupInterval).
	Interval Duration `json:"interval,omitempty"`
}

// DefaultCleanupInterval is how often serve and watch apply the cleanup block.
const DefaultCleanupInterval = time.Hour

// DefaultTriggers reset a session when a user message is one of them.
func DefaultTriggers() []string { return []string{"/new", "/reset"} }

// Expiry is the inactivity after which cleanup moves a session to the
// trash: OlderThan, else TTL; 0 none.
func (c Cleanup) Expiry() time.Duration {
	if c.OlderThan > 0 {
		return time.Duration(c.OlderThan)
	}
	return time.Duration(c.TTL)
}

// Active reports whether the block asks for any periodic work.
func (c Cleanup) Active() bool { return c.Expiry() > 0 || c.PurgeAfter > 0 }

// ParseDailyAt parses "HH:MM" into minutes after midnight; "" and "off"
// give ok false.
func ParseDailyAt(s string) (minutes int, ok bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "off") {
		return 0, false, nil
	}
	h, m, found := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !found || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, false, fmt.Errorf("want a time of day HH:MM (00:00 to 23:59) or \"off\", got %q", s)
	}
	return hh*60 + mm, true, nil
}

// normalize folds OpenClaw's spelling into ours; ours wins where both are
// set.
func (r ResetRule) normalize() ResetRule {
	if r.IdleMinutes == nil && r.IdleMinutesOC != nil {
		r.IdleMinutes = r.IdleMinutesOC
	}
	switch strings.ToLower(r.Mode) {
	case "daily":
		if r.DailyAt == nil {
			h := 4
			if r.AtHour != nil {
				h = *r.AtHour
			}
			s := fmt.Sprintf("%02d:00", h)
			r.DailyAt = &s
		}
	case "idle":
		if r.DailyAt == nil {
			off := "off"
			r.DailyAt = &off
		}
	}
	r.Mode, r.AtHour, r.IdleMinutesOC = "", nil, nil
	return r
}

func (r ResetRule) validate(path string) error {
	switch strings.ToLower(r.Mode) {
	case "", "daily", "idle":
	default:
		return fieldErr(path+".mode", "want \"daily\" or \"idle\", got %q", r.Mode)
	}
	if r.AtHour != nil && (*r.AtHour < 0 || *r.AtHour > 23) {
		return fieldErr(path+".atHour", "want an hour from 0 to 23, got %d", *r.AtHour)
	}
	if r.IdleMinutesOC != nil && *r.IdleMinutesOC < 0 {
		return fieldErr(path+".idleMinutes", "want 0 (off) or a positive number of minutes, got %d", *r.IdleMinutesOC)
	}
	if r.DailyAt != nil {
		if _, _, err := ParseDailyAt(*r.DailyAt); err != nil {
			return fieldErr(path+".daily_at", "%v", err)
		}
	}
	if r.IdleMinutes != nil && *r.IdleMinutes < 0 {
		return fieldErr(path+".idle_minutes", "want 0 (off) or a positive number of minutes, got %d", *r.IdleMinutes)
	}
	for i, t := range r.Triggers {
		if strings.TrimSpace(t) == "" || strings.ContainsAny(t, " \t\r\n") {
			return fieldErr(fmt.Sprintf("%s.triggers[%d]", path, i), "want one word such as \"/new\", got %q", t)
		}
	}
	if r.Timezone != nil && *r.Timezone != "" {
		if _, err := time.LoadLocation(*r.Timezone); err != nil {
			return fieldErr(path+".timezone", "unknown time zone %q (want an IANA name such as Europe/Berlin)", *r.Timezone)
		}
	}
	return nil
}

func (r Reset) validate(path string) error {
	if err := r.ResetRule.validate(path); err != nil {
		return err
	}
	for _, k := range sortedKeys(r.ByType) {
		if err := r.ByType[k].validate(path + ".by_type." + k); err != nil {
			return err
		}
	}
	for _, k := range sortedKeys(r.ByChannel) {
		if err := r.ByChannel[k].validate(path + ".by_channel." + k); err != nil {
			return err
		}
	}
	return nil
}

func (l Limits) validate(path string) error {
	if l.MaxMessages < Disabled {
		return fieldErr(path+".max_messages", "want a positive number (or -1: off), got %d", l.MaxMessages)
	}
	if l.MaxTokens < Disabled {
		return fieldErr(path+".max_tokens", "want a positive number (or -1: off), got %d", l.MaxTokens)
	}
	switch l.Compaction {
	case "", CompactionTrim, CompactionSummarize:
	default:
		return fieldErr(path+".compaction", "want \"trim\" or \"summarize\", got %q", l.Compaction)
	}
	return nil
}

func (p SendPolicy) validate(path string) error {
	switch strings.ToLower(p.Default) {
	case "", "allow", "deny":
	default:
		return fieldErr(path+".default", "want \"allow\" or \"deny\", got %q", p.Default)
	}
	for i, r := range p.Rules {
		rp := fmt.Sprintf("%s.rules[%d]", path, i)
		switch strings.ToLower(r.Action) {
		case "allow", "deny":
		default:
			return fieldErr(rp+".action", "want \"allow\" or \"deny\", got %q", r.Action)
		}
		if r.Match == (SendMatch{}) {
			return fieldErr(rp+".match", "a rule must match on something: channel, chat_type, agent, key_prefix or session")
		}
	}
	for i, b := range p.Blocked {
		if strings.TrimSpace(b) == "" {
			return fieldErr(fmt.Sprintf("%s.blocked[%d]", path, i), "empty")
		}
	}
	return nil
}

func (c Cleanup) validate(path string) error {
	for _, d := range []struct {
		name string
		v    Duration
	}{{"older_than", c.OlderThan}, {"ttl", c.TTL}, {"purge_after", c.PurgeAfter}, {"interval", c.Interval}} {
		if d.v < 0 {
			return fieldErr(path+"."+d.name, "want a positive duration, got %s", time.Duration(d.v))
		}
	}
	if c.OlderThan > 0 && c.TTL > 0 {
		return fieldErr(path+".ttl", "older_than and ttl are the same setting; set one")
	}
	if c.Interval > 0 && c.Interval < Duration(time.Minute) {
		return fieldErr(path+".interval", "want at least 1m, got %s", time.Duration(c.Interval))
	}
	return nil
}
