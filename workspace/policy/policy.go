package policy

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/picosess/picosess/workspace/config"
)

// Reset reasons, as the reset record's "reason" spells them.
const (
	ReasonManual = "manual"
	ReasonDaily  = "daily"
	ReasonIdle   = "idle"
)

// Setting is one effective value and where it came from: "default", or
// the config path that set it ("reset.idle_minutes",
// "agents.list[0].reset.by_channel.telegram.daily_at").
type Setting[T any] struct {
	Value T      `json:"value"`
	From  string `json:"from"`
}

// Effective are the reset settings that apply to one session.
type Effective struct {
	DailyAt      Setting[string]   `json:"daily_at"` // "HH:MM", or "" when off
	IdleMinutes  Setting[int]      `json:"idle_minutes"`
	Timezone     Setting[string]   `json:"timezone"` // "" = the machine's local zone
	Triggers     Setting[[]string] `json:"triggers"`
	CarrySummary Setting[bool]     `json:"carry_summary"`

	daily   int // minutes after midnight
	dailyOn bool
	loc     *time.Location
}

// Target is what the cascade looks at: the session's agent, channel and
// chat type (direct, group, channel, thread...).
type Target struct {
	Agent    string
	Channel  string
	ChatType string
}

// Resolve computes the effective reset settings of a session: the
// defaults, then the workspace's reset block, agents.defaults.reset, the
// agent's agents.list[] entry, then by_type[chat type] and
// by_channel[channel] (each of those levels in the same order), each
// laid over the one before field by field. cfg may be nil. local is the
// zone used when no timezone is set (time.Local in production).
func Resolve(cfg *config.File, t Target, local *time.Location) Effective {
	e := Effective{
		DailyAt:      Setting[string]{From: "default"},
		IdleMinutes:  Setting[int]{From: "default"},
		Timezone:     Setting[string]{From: "default"},
		Triggers:     Setting[[]string]{Value: config.DefaultTriggers(), From: "default"},
		CarrySummary: Setting[bool]{From: "default"},
	}
	if cfg != nil {
		levels := agentLevels(cfg, t.Agent)
		for _, l := range levels {
			e.lay(l.at("reset"), l.a.Reset.ResetRule)
		}
		typ, ch := kind(t.ChatType), strings.ToLower(t.Channel)
		for _, l := range levels {
			if r, ok := l.a.Reset.ByType[typ]; ok && typ != "" {
				e.lay(l.at("reset.by_type."+typ), r)
			}
		}
		for _, l := range levels {
			if r, ok := l.a.Reset.ByChannel[ch]; ok && ch != "" {
				e.lay(l.at("reset.by_channel."+ch), r)
			}
		}
	}
	e.daily, e.dailyOn, _ = config.ParseDailyAt(e.DailyAt.Value)
	if !e.dailyOn {
		e.DailyAt.Value = ""
	}
	e.loc = local
	if e.Timezone.Value != "" {
		if loc, err := time.LoadLocation(e.Timezone.Value); err == nil {
			e.loc = loc
		}
	}
	if e.loc == nil {
		e.loc = time.Local
	}
	return e
}

// level is one level of the per-agent cascade: the config path of the
// block that holds it ("" for the workspace's own blocks) and its settings.
type level struct {
	path string
	a    config.Agent
}

// agentLevels are the levels that apply to agent, lowest first: the
// workspace's blocks, agents.defaults, the agent's agents.list[] entry.
func agentLevels(cfg *config.File, agent string) []level {
	levels := []level{
		{"", config.Agent{Reset: cfg.Reset, Limits: cfg.Limits}},
		{"agents.defaults", cfg.Agents.Defaults.Agent},
	}
	if src := cfg.AgentSource(agent); src != "" {
		for i := range cfg.Agents.List {
			if fmt.Sprintf("agents.list[%d]", i) == src {
				levels = append(levels, level{src, cfg.Agents.List[i].Agent})
			}
		}
	}
	return levels
}

// at joins a level's path and a field path.
func (l level) at(field string) string {
	if l.path == "" {
		return field
	}
	return l.path + "." + field
}

// kind spells a chat type as the cascade's by_type keys do: OpenClaw's
// "dm" is "direct".
func kind(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	if t == "dm" {
		return "direct"
	}
	return t
}

func (e *Effective) lay(path string, r config.ResetRule) {
	if r.DailyAt != nil {
		e.DailyAt = Setting[string]{*r.DailyAt, path + ".daily_at"}
	}
	if r.IdleMinutes != nil {
		e.IdleMinutes = Setting[int]{*r.IdleMinutes, path + ".idle_minutes"}
	}
	if r.Timezone != nil {
		e.Timezone = Setting[string]{*r.Timezone, path + ".timezone"}
	}
	if r.Triggers != nil {
		e.Triggers = Setting[[]string]{r.Triggers, path + ".triggers"}
	}
	if r.CarrySummary != nil {
		e.CarrySummary = Setting[bool]{*r.CarrySummary, path + ".carry_summary"}
	}
}

// ZoneName names the zone of daily resets for people: the configured IANA
// name, or "local <abbreviation>" (as of t) for the machine's zone, whose
// Go name is only "Local".
func (e Effective) ZoneName(t time.Time) string {
	if e.loc != time.Local || e.Timezone.Value != "" {
		return e.loc.String()
	}
	return "local " + t.In(e.loc).Format("MST")
}

// Location is the zone daily resets are computed in.
func (e Effective) Location() *time.Location { return e.loc }

// Automatic reports whether a reset may start by itself: an idle time or
// a daily time is set. Without one only a trigger starts a new
// conversation, whatever the session holds.
func (e Effective) Automatic() bool { return e.IdleMinutes.Value > 0 || e.dailyOn }

// State is what the evaluation needs of the session: the time of the last
// message of its current conversation (zero when the conversation is
// empty: a new session, or just reset).
type State struct {
	LastMessage time.Time
}

// Arrival is the message that arrives.
type Arrival struct {
	Role string
	Text string
	At   time.Time
}

// Decision says whether the arriving message starts a new conversation.
type Decision struct {
	Reset bool `json:"reset"`
	// Reason is manual (a trigger), daily or idle.
	Reason string `json:"reason,omitempty"`
	// Rule names the setting that fired and its value, with where it came
	// from: "idle_minutes=30 (reset.by_type.group.idle_minutes)".
	Rule string `json:"rule,omitempty"`
	// Trigger is the trigger word of a manual reset; Rest is the text after
	// it (the first message of the new conversation), "" when none.
	Trigger string `json:"trigger,omitempty"`
	Rest    string `json:"rest,omitempty"`
	// Why explains the decision in a sentence, also when nothing fires.
	Why string `json:"why"`
}

// Evaluate decides, for a message arriving in a session, whether it starts
// a new conversation. Only user messages do:
//   - a message whose text is a trigger, or starts with one followed by
//     white space, is a manual reset (the rest of the text is the new
//     conversation's first message);
//   - otherwise, when the current conversation has a message, it is stale
//     if the arrival is idle_minutes or more after its last message, or if
//     a daily_at boundary lies after the last message and at or before the
//     arrival. When both apply, the one that fired first (the earlier
//     moment) wins and is named.
//
// An empty conversation never resets automatically, and neither does an
// arrival earlier than the last message (a clock that went backwards).
func Evaluate(e Effective, st State, a Arrival) Decision {
	if a.Role != "user" {
		return Decision{Why: "only user messages start a new conversation"}
	}
	if trig, rest, ok := Trigger(e.Triggers.Value, a.Text); ok {
		return Decision{Reset: true, Reason: ReasonManual, Trigger: trig, Rest: rest,
			Rule: fmt.Sprintf("trigger %s (%s)", trig, e.Triggers.From), Why: "the message is the reset trigger " + trig}
	}
	if st.LastMessage.IsZero() {
		return Decision{Why: "the current conversation is empty"}
	}
	if a.At.Before(st.LastMessage) {
		return Decision{Why: "the message is dated before the last one (clock went backwards); no automatic reset"}
	}
	var fired []Decision
	var at []time.Time
	if m := e.IdleMinutes.Value; m > 0 {
		due := st.LastMessage.Add(time.Duration(m) * time.Minute)
		if !a.At.Before(due) {
			fired = append(fired, Decision{Reset: true, Reason: ReasonIdle,
				Rule: fmt.Sprintf("idle_minutes=%d (%s)", m, e.IdleMinutes.From),
				Why:  fmt.Sprintf("idle %s, at least idle_minutes %d", roundDur(a.At.Sub(st.LastMessage)), m)})
			at = append(at, due)
		}
	}
	if e.dailyOn {
		b := e.Boundary(a.At)
		if st.LastMessage.Before(b) {
			fired = append(fired, Decision{Reset: true, Reason: ReasonDaily,
				Rule: fmt.Sprintf("daily_at=%s %s (%s)", e.DailyAt.Value, e.ZoneName(b), e.DailyAt.From),
				Why:  fmt.Sprintf("the daily reset at %s passed since the last message", b.In(e.loc).Format("2006-01-02 15:04 MST"))})
			at = append(at, b)
		}
	}
	switch len(fired) {
	case 0:
		return Decision{Why: e.quiet(st.LastMessage, a.At)}
	case 2:
		if at[1].Before(at[0]) {
			return fired[1]
		}
	}
	return fired[0]
}

// quiet explains why nothing fires.
func (e Effective) quiet(last, now time.Time) string {
	var parts []string
	if m := e.IdleMinutes.Value; m > 0 {
		parts = append(parts, fmt.Sprintf("idle for %s of %dm", roundDur(now.Sub(last)), m))
	}
	if e.dailyOn {
		parts = append(parts, "next daily reset "+e.next(e.Boundary(now)).In(e.loc).Format("2006-01-02 15:04 MST"))
	}
	if len(parts) == 0 {
		return "no automatic reset is configured"
	}
	return "the conversation is current: " + strings.Join(parts, "; ")
}

// Boundary is the latest daily_at moment at or before t, in the zone of
// e. On a day when daily_at falls in a DST gap (the clock skips it), the
// boundary is the first instant after the gap (02:30 on a day that jumps
// from 02:00 to 03:00 is 03:00); in a repeated hour it is the first
// occurrence.
func (e Effective) Boundary(t time.Time) time.Time {
	lt := t.In(e.loc)
	b := e.onDay(lt.Year(), lt.Month(), lt.Day())
	if b.After(t) {
		y, mo, d := lt.AddDate(0, 0, -1).Date()
		b = e.onDay(y, mo, d)
	}
	return b
}

// onDay is daily_at on one calendar day, in the zone of e: on a day when
// the clock skips it, the first instant after the gap; when the clock
// passes it twice, the first time. time.Date alone does not say which
// side of a gap it picks (it differs by zone), so the zone's period
// bounds decide.
func (e Effective) onDay(y int, mo time.Month, d int) time.Time {
	h, m := e.daily/60, e.daily%60
	b := time.Date(y, mo, d, h, m, 0, 0, e.loc)
	lb := b.In(e.loc)
	wall := time.Date(lb.Year(), lb.Month(), lb.Day(), lb.Hour(), lb.Minute(), 0, 0, time.UTC)
	want := time.Date(y, mo, d, h, m, 0, 0, time.UTC)
	start, end := b.ZoneBounds()
	switch {
	case wall.Equal(want):
		// The same wall clock in the period before (a repeated hour)?
		if start.IsZero() {
			return b
		}
		_, off := b.Zone()
		_, offPrev := start.Add(-time.Nanosecond).Zone()
		if earlier := b.Add(time.Duration(off-offPrev) * time.Second); earlier.Before(start) {
			if el := earlier.In(e.loc); el.Hour() == h && el.Minute() == m && el.Day() == d {
				return earlier
			}
		}
		return b
	case wall.After(want):
		// Placed after the gap: the gap ends where b's period starts.
		return start
	default:
		// Placed before the gap: it ends where b's period ends.
		return end
	}
}

// next is the first daily_at moment after the boundary b.
func (e Effective) next(b time.Time) time.Time {
	lb := b.In(e.loc)
	y, mo, d := time.Date(lb.Year(), lb.Month(), lb.Day()+1, 12, 0, 0, 0, e.loc).Date()
	return e.onDay(y, mo, d)
}

// Trigger reports whether text is one of triggers (case-insensitive), or
// starts with one followed by white space; rest is what follows, trimmed.
func Trigger(triggers []string, text string) (trigger, rest string, ok bool) {
	t := strings.TrimSpace(text)
	for _, tr := range triggers {
		// Compare rune by rune: a case-folded trigger may differ in length
		// in bytes ("/NEU" vs "/neu" do not, "/ſtart" vs "/start" do).
		i, j := 0, 0
		for j < len(tr) && i < len(t) {
			a, na := utf8.DecodeRuneInString(t[i:])
			b, nb := utf8.DecodeRuneInString(tr[j:])
			if !strings.EqualFold(string(a), string(b)) {
				break
			}
			i, j = i+na, j+nb
		}
		if j < len(tr) {
			continue
		}
		after := t[i:]
		if after == "" {
			return tr, "", true
		}
		if after[0] == ' ' || after[0] == '\t' || after[0] == '\n' || after[0] == '\r' {
			return tr, strings.TrimSpace(after), true
		}
	}
	return "", "", false
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute)
	case d >= time.Minute:
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}
