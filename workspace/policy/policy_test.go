package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace/config"
)

func parse(t *testing.T, doc string) *config.File {
	t.Helper()
	f, _, err := config.Parse("config.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func ts(t *testing.T, loc *time.Location, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestEvaluate(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	cfg := parse(t, `{"reset": {"daily_at": "04:00", "idle_minutes": 120, "timezone": "Europe/Berlin"}}`)
	e := Resolve(cfg, Target{Agent: "main", Channel: "telegram", ChatType: "direct"}, time.UTC)
	tests := []struct {
		name, last, now string
		text            string
		want            string // "" no reset, else reason
	}{
		{"fresh", "2026-06-01 10:00", "2026-06-01 11:00", "hi", ""},
		{"idle exactly", "2026-06-01 10:00", "2026-06-01 12:00", "hi", ReasonIdle},
		{"idle just under", "2026-06-01 10:00", "2026-06-01 11:59", "hi", ""},
		{"daily crossed", "2026-06-01 03:30", "2026-06-01 04:10", "hi", ReasonDaily},
		{"daily boundary exact", "2026-06-01 03:59", "2026-06-01 04:00", "hi", ReasonDaily},
		{"after boundary same day", "2026-06-01 04:00", "2026-06-01 05:00", "hi", ""},
		// Both fire: idle fired at 01:00 + 2h = 03:00, before the 04:00 boundary.
		{"both, idle first", "2026-06-01 01:00", "2026-06-01 09:00", "hi", ReasonIdle},
		// Both fire: the boundary (04:00) came before idle's 05:30.
		{"both, daily first", "2026-06-01 03:30", "2026-06-01 06:00", "hi", ReasonDaily},
		{"clock backwards", "2026-06-01 10:00", "2026-06-01 02:00", "hi", ""},
		{"trigger", "2026-06-01 10:00", "2026-06-01 10:01", "/new", ReasonManual},
		{"trigger with text", "2026-06-01 10:00", "2026-06-01 10:01", "/RESET  plan my trip", ReasonManual},
		{"not a trigger", "2026-06-01 10:00", "2026-06-01 10:01", "/newer things", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Evaluate(e, State{LastMessage: ts(t, berlin, tt.last)}, Arrival{Role: "user", Text: tt.text, At: ts(t, berlin, tt.now)})
			if got := d.Reason; got != tt.want || d.Reset != (tt.want != "") {
				t.Fatalf("got %+v, want reason %q", d, tt.want)
			}
			if d.Reset && d.Rule == "" || d.Why == "" {
				t.Fatalf("decision must name its rule and reason: %+v", d)
			}
		})
	}
	d := Evaluate(e, State{LastMessage: ts(t, berlin, "2026-06-01 10:00")}, Arrival{Role: "user", Text: "/reset  plan my trip", At: ts(t, berlin, "2026-06-01 10:01")})
	if d.Trigger != "/reset" || d.Rest != "plan my trip" {
		t.Errorf("trigger split: %+v", d)
	}
	if d := Evaluate(e, State{}, Arrival{Role: "user", Text: "hi", At: ts(t, berlin, "2026-06-09 10:00")}); d.Reset {
		t.Errorf("empty conversation must not reset: %+v", d)
	}
	if d := Evaluate(e, State{LastMessage: ts(t, berlin, "2026-06-01 01:00")}, Arrival{Role: "assistant", Text: "hi", At: ts(t, berlin, "2026-06-09 10:00")}); d.Reset {
		t.Errorf("assistant messages never reset: %+v", d)
	}
	if d := Evaluate(e, State{LastMessage: ts(t, berlin, "2026-06-01 10:00")}, Arrival{Role: "user", Text: "x", At: ts(t, berlin, "2026-06-01 11:00")}); !strings.Contains(d.Why, "next daily reset 2026-06-02 04:00") {
		t.Errorf("quiet explanation: %q", d.Why)
	}
}

// In America/New_York the clock skips 02:00-03:00 on 2026-03-08 and
// repeats 01:00-02:00 on 2026-11-01.
func TestDailyAcrossDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	cfg := parse(t, `{"reset": {"daily_at": "02:30", "timezone": "America/New_York"}}`)
	e := Resolve(cfg, Target{}, time.UTC)
	// 02:30 does not exist on 2026-03-08: the boundary is the end of the
	// gap, 03:00 EDT = 07:00 UTC.
	b := e.Boundary(time.Date(2026, 3, 8, 12, 0, 0, 0, ny))
	if want := time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC); !b.Equal(want) {
		t.Fatalf("boundary in the gap = %s, want %s", b.UTC(), want)
	}
	last := time.Date(2026, 3, 8, 1, 59, 0, 0, ny) // EST
	if d := Evaluate(e, State{LastMessage: last}, Arrival{Role: "user", At: time.Date(2026, 3, 8, 3, 1, 0, 0, ny)}); d.Reason != ReasonDaily {
		t.Errorf("01:59 EST then 03:01 EDT crosses the boundary: %+v", d)
	}
	if d := Evaluate(e, State{LastMessage: time.Date(2026, 3, 8, 3, 0, 30, 0, ny)}, Arrival{Role: "user", At: time.Date(2026, 3, 8, 3, 31, 0, 0, ny)}); d.Reset {
		t.Errorf("both after the boundary: %+v", d)
	}
	// 24 wall-clock hours are 23 real hours that day: one boundary, not two.
	e2 := Resolve(parse(t, `{"reset": {"daily_at": "04:00", "timezone": "America/New_York"}}`), Target{}, time.UTC)
	if b := e2.Boundary(time.Date(2026, 11, 1, 12, 0, 0, 0, ny)); b.Sub(e2.Boundary(time.Date(2026, 10, 31, 12, 0, 0, 0, ny))) != 25*time.Hour {
		t.Errorf("fall-back day boundary spacing: %s", b)
	}
}

// In Europe/Berlin (east of Greenwich, where time.Date puts a time in a
// gap after it) the clock skips 02:00-03:00 on 2026-03-29 and repeats
// 02:00-03:00 on 2026-10-25.
func TestDailyAcrossDSTEastOfGreenwich(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	e := Resolve(parse(t, `{"reset": {"daily_at": "02:30", "timezone": "Europe/Berlin"}}`), Target{}, time.UTC)
	for _, tt := range []struct {
		at, want time.Time
		why      string
	}{
		{time.Date(2026, 3, 29, 12, 0, 0, 0, berlin), time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), "in the gap: 03:00 CEST, the end of the gap"},
		{time.Date(2026, 10, 25, 12, 0, 0, 0, berlin), time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), "repeated: the first 02:30 (CEST)"},
		{time.Date(2026, 3, 28, 12, 0, 0, 0, berlin), time.Date(2026, 3, 28, 1, 30, 0, 0, time.UTC), "the day before: 02:30 CET"},
		{time.Date(2026, 3, 30, 12, 0, 0, 0, berlin), time.Date(2026, 3, 30, 0, 30, 0, 0, time.UTC), "the day after: 02:30 CEST"},
	} {
		if b := e.Boundary(tt.at); !b.Equal(tt.want) {
			t.Errorf("%s: boundary %s, want %s", tt.why, b.UTC(), tt.want)
		}
	}
	// The next reset named when nothing fires is the real next boundary.
	last := time.Date(2026, 3, 28, 20, 0, 0, 0, berlin)
	d := Evaluate(e, State{LastMessage: last}, Arrival{Role: "user", At: time.Date(2026, 3, 28, 21, 0, 0, 0, berlin)})
	if d.Reset || !strings.Contains(d.Why, "next daily reset 2026-03-29 03:00 CEST") {
		t.Errorf("quiet before the gap: %+v", d)
	}
	// New York, the gap day: the next reset after the 7th is 03:00 EDT.
	ny, _ := time.LoadLocation("America/New_York")
	e = Resolve(parse(t, `{"reset": {"daily_at": "02:30", "timezone": "America/New_York"}}`), Target{}, time.UTC)
	d = Evaluate(e, State{LastMessage: time.Date(2026, 3, 7, 20, 0, 0, 0, ny)}, Arrival{Role: "user", At: time.Date(2026, 3, 7, 21, 0, 0, 0, ny)})
	if !strings.Contains(d.Why, "next daily reset 2026-03-08 03:00 EDT") {
		t.Errorf("quiet before the New York gap: %+v", d)
	}
}

func TestCascade(t *testing.T) {
	cfg := parse(t, `{
  "reset": {"idle_minutes": 600, "daily_at": "04:00", "by_type": {"group": {"idle_minutes": 60}}},
  "agents": {"list": [{"id": "work", "reset": {"idle_minutes": 30, "carry_summary": true,
      "by_channel": {"discord": {"daily_at": "off"}}}}]}}`)
	e := Resolve(cfg, Target{Agent: "main", Channel: "telegram", ChatType: "direct"}, time.UTC)
	if e.IdleMinutes.Value != 600 || e.IdleMinutes.From != "reset.idle_minutes" || e.DailyAt.Value != "04:00" {
		t.Errorf("workspace level: %+v", e)
	}
	e = Resolve(cfg, Target{Agent: "main", Channel: "telegram", ChatType: "group"}, time.UTC)
	if e.IdleMinutes.Value != 60 || e.IdleMinutes.From != "reset.by_type.group.idle_minutes" {
		t.Errorf("by_type over workspace: %+v", e.IdleMinutes)
	}
	e = Resolve(cfg, Target{Agent: "work", Channel: "telegram", ChatType: "direct"}, time.UTC)
	if e.IdleMinutes.Value != 30 || e.IdleMinutes.From != "agents.list[0].reset.idle_minutes" || !e.CarrySummary.Value {
		t.Errorf("agent over workspace: %+v", e)
	}
	e = Resolve(cfg, Target{Agent: "work", Channel: "telegram", ChatType: "group"}, time.UTC)
	if e.IdleMinutes.Value != 60 {
		t.Errorf("by_type over agent: %+v", e.IdleMinutes)
	}
	e = Resolve(cfg, Target{Agent: "work", Channel: "discord", ChatType: "group"}, time.UTC)
	if e.DailyAt.Value != "" || e.DailyAt.From != "agents.list[0].reset.by_channel.discord.daily_at" {
		t.Errorf("by_channel over all: %+v", e.DailyAt)
	}
	if d := Evaluate(e, State{LastMessage: time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)}, Arrival{Role: "user", At: time.Date(2026, 1, 1, 3, 30, 0, 0, time.UTC)}); d.Reset {
		t.Errorf("daily switched off by channel, 30 min < 60 idle: %+v", d)
	}
	// OpenClaw's session block, pasted.
	oc := parse(t, `{"session": {"reset": {"mode": "daily", "atHour": 5}, "resetByType": {"dm": {"mode": "idle", "idleMinutes": 90}},
	  "resetTriggers": ["/fresh"]}}`)
	e = Resolve(oc, Target{ChatType: "direct"}, time.UTC)
	if e.DailyAt.Value != "" || e.IdleMinutes.Value != 90 || e.Triggers.Value[0] != "/fresh" {
		t.Errorf("openclaw dm: %+v", e)
	}
	e = Resolve(oc, Target{ChatType: "group"}, time.UTC)
	if e.DailyAt.Value != "05:00" {
		t.Errorf("openclaw group daily: %+v", e.DailyAt)
	}
	// idleTimeout is seconds.
	e = Resolve(parse(t, `{"session": {"idleTimeout": 3600, "resetTime": "03:15"}}`), Target{}, time.UTC)
	if e.IdleMinutes.Value != 60 || e.DailyAt.Value != "03:15" {
		t.Errorf("openclaw idleTimeout/resetTime: %+v", e)
	}
}

func TestSend(t *testing.T) {
	cfg := parse(t, `{"send_policy": {"default": "allow", "rules": [
	  {"action": "allow", "match": {"session": "ops"}},
	  {"name": "no groups on telegram", "action": "deny", "match": {"channel": "telegram", "chat_type": "group"}},
	  {"action": "deny", "match": {"key_prefix": "agent:main:discord:"}}],
	  "blocked": ["channel"]}}`)
	cases := []struct {
		t     SendTarget
		allow bool
		rule  string
	}{
		{SendTarget{Channel: "telegram", ChatType: "group"}, false, "send_policy.rules[1] (no groups on telegram)"},
		{SendTarget{Channel: "telegram", ChatType: "direct"}, true, "send_policy.default"},
		{SendTarget{Name: "ops", Channel: "telegram", ChatType: "group"}, true, "send_policy.rules[0]"},
		{SendTarget{Channel: "discord", Keys: []string{"sk_v1_x", "agent:main:discord:direct:42"}}, false, "send_policy.rules[2]"},
		{SendTarget{Channel: "slack", ChatType: "channel"}, false, "send_policy.blocked[0]"},
	}
	for _, c := range cases {
		d := Send(cfg.SendPolicy, c.t)
		if d.Allowed != c.allow || d.Rule != c.rule {
			t.Errorf("%+v: got %+v, want allowed=%v by %s", c.t, d, c.allow, c.rule)
		}
	}
	oc := parse(t, `{"session": {"sendPolicy": {"default": "deny", "rules": [{"action": "allow", "match": {"chatType": "dm"}}]}}}`)
	if d := Send(oc.SendPolicy, SendTarget{ChatType: "direct"}); !d.Allowed {
		t.Errorf("openclaw chatType dm: %+v", d)
	}
	if d := Send(oc.SendPolicy, SendTarget{ChatType: "group"}); d.Allowed {
		t.Errorf("openclaw default deny: %+v", d)
	}
	if d := Send(nil, SendTarget{}); !d.Allowed {
		t.Errorf("no policy allows")
	}
}

func TestChatTypeOf(t *testing.T) {
	for in, want := range map[string]string{"group:-100123": "group", "direct:42": "direct", "group:-100/7": "thread", "": "direct", "channel:c1": "channel"} {
		v := map[string]string{}
		if in != "" {
			v["chat"] = in
		}
		if got := ChatTypeOf(v); got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}

func BenchmarkEvaluate(b *testing.B) {
	f, _, _ := config.Parse("c", []byte(`{"reset": {"daily_at": "04:00", "idle_minutes": 120, "timezone": "Europe/Berlin"}}`))
	e := Resolve(f, Target{Channel: "telegram", ChatType: "direct"}, time.UTC)
	last := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	now := last.Add(30 * time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(e, State{LastMessage: last}, Arrival{Role: "user", Text: "what is on my calendar today?", At: now})
	}
}

func TestTriggerMatching(t *testing.T) {
	for _, tt := range []struct {
		triggers   []string
		text       string
		trig, rest string
		ok         bool
	}{
		{[]string{"/new"}, "/new", "/new", "", true},
		{[]string{"/new"}, "  /NEW  plan a trip ", "/new", "plan a trip", true},
		{[]string{"/new"}, "/newer", "", "", false},
		{[]string{"/new"}, "new", "", "", false},
		{[]string{"/new"}, "/ne", "", "", false},
		{[]string{"/neu", "/reset"}, "/Reset\nnext line", "/reset", "next line", true},
		{[]string{"/straße"}, "/STRASSE", "", "", false},        // no multi-rune folding
		{[]string{"/ſtart"}, "/start hi", "/ſtart", "hi", true}, // ſ folds to s: different byte lengths
		{[]string{"/старт"}, "/СТАРТ сейчас", "/старт", "сейчас", true},
		{nil, "/new", "", "", false},
	} {
		trig, rest, ok := Trigger(tt.triggers, tt.text)
		if trig != tt.trig || rest != tt.rest || ok != tt.ok {
			t.Errorf("Trigger(%q, %q) = %q %q %v, want %q %q %v", tt.triggers, tt.text, trig, rest, ok, tt.trig, tt.rest, tt.ok)
		}
	}
}

// OpenClaw's session.reset lies under our reset block: ours wins.
func TestOpenClawResetUnderOurs(t *testing.T) {
	cfg := parse(t, `{"reset": {"daily_at": "06:00"}, "session": {"reset": {"mode": "daily", "atHour": 3, "idleMinutes": 30}}}`)
	e := Resolve(cfg, Target{}, time.UTC)
	if e.DailyAt.Value != "06:00" || e.IdleMinutes.Value != 30 {
		t.Fatalf("daily_at %q idle %d", e.DailyAt.Value, e.IdleMinutes.Value)
	}
}
