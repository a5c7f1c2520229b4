package workspace

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace/config"
	"github.com/picosess/picosess/workspace/policy"
)

// hist builds an active history from a compact spec: u (user), a
// (assistant), A (assistant with a tool call), t (tool result); every
// message costs 10 tokens.
func hist(spec string) History {
	var h History
	for i, c := range spec {
		m := Record{Type: TypeMessage, Seq: int64(i + 2), Tokens: 10, Content: fmt.Sprintf("%c%d", c, i)}
		switch c {
		case 'u':
			m.Role = RoleUser
		case 'a':
			m.Role = RoleAssistant
		case 'A':
			m.Role, m.ToolCalls = RoleAssistant, []byte(`[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]`)
		case 't':
			m.Role, m.ToolCallID = RoleTool, "c"
		}
		h.Messages = append(h.Messages, m)
	}
	return h
}

func spec(h History) string {
	var b strings.Builder
	for _, m := range h.Messages {
		b.WriteByte(m.Content[0])
	}
	return b.String()
}

func TestHistoryWithin(t *testing.T) {
	for _, tt := range []struct {
		name      string
		in        string
		maxMsgs   int
		maxToks   int
		summary   int // summary tokens, 0: no summary
		want      string
		trimmed   int
		trimToken int
	}{
		{"no limits", "uauaua", 0, 0, 0, "uauaua", 0, 0},
		{"under the limit", "uaua", 5, 0, 0, "uaua", 0, 0},
		{"at the limit", "uauau", 5, 0, 0, "uauau", 0, 0},
		{"oldest out first", "uauaua", 4, 0, 0, "uaua", 2, 20},
		{"tool call kept with its results", "uAttau", 4, 0, 0, "au", 4, 40},
		{"tool group fits whole", "uuAttu", 4, 0, 0, "Attu", 2, 20},
		{"results without their call go", "ttua", 3, 0, 0, "ua", 2, 20},
		{"tokens", "uauaua", 0, 35, 0, "aua", 3, 30},
		{"summary counts toward tokens", "uauaua", 0, 35, 20, "a", 5, 50},
		{"both limits: the tighter wins", "uauaua", 5, 25, 0, "ua", 4, 40},
		{"newest group kept even over the limit", "uAttt", 2, 0, 0, "Attt", 1, 10},
		{"newest message kept even over tokens", "ua", 0, 5, 0, "a", 1, 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := hist(tt.in)
			if tt.summary > 0 {
				h.Summary = &Record{Type: TypeSummary, Tokens: tt.summary}
			}
			got := h.Within(tt.maxMsgs, tt.maxToks)
			if spec(got) != tt.want || got.Trimmed != tt.trimmed || got.TrimmedTokens != tt.trimToken {
				t.Fatalf("Within(%d, %d) of %s = %s (trimmed %d, %d tokens), want %s (trimmed %d, %d tokens)",
					tt.maxMsgs, tt.maxToks, tt.in, spec(got), got.Trimmed, got.TrimmedTokens, tt.want, tt.trimmed, tt.trimToken)
			}
			if tt.summary > 0 && got.Summary == nil {
				t.Fatal("the summary was dropped")
			}
		})
	}
}

func TestWithinCutReadDropsOrphanResults(t *testing.T) {
	// A tail read that starts inside a tool group (More): the results whose
	// call was not read are not kept.
	h := hist("ttua")
	h.More = true
	if got := h.Within(10, 0); spec(got) != "ua" || got.Trimmed != 2 {
		t.Fatalf("got %s trimmed %d", spec(got), got.Trimmed)
	}
}

func TestActiveAppliesTheAgentsLimits(t *testing.T) {
	ctx := context.Background()
	w, _ := policyWorkspace(t, `{"limits": {"max_messages": 3},
		"agents": {"list": [{"id": "ops", "limits": {"max_messages": -1, "max_tokens": 1000}}]}}`)
	s, err := w.Session(ctx, Target{Name: "notes"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := s.Append(ctx, msg(RoleUser, fmt.Sprintf("m%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	l := s.Limits(ctx)
	if l.MaxMessages.Value != 3 || l.MaxMessages.From != "limits.max_messages" || l.MaxTokens.Value != 0 || l.Compaction.Value != CompactionTrim {
		t.Fatalf("limits: %+v", l)
	}
	h, err := s.Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != 3 || h.Messages[0].Content != "m2" || h.Trimmed != 1 || !h.More {
		t.Fatalf("Active: %d messages from %q, trimmed %d, more %v", len(h.Messages), h.Messages[0].Content, h.Trimmed, h.More)
	}
	// Nothing left the file.
	full, err := s.History(ctx, 0)
	if err != nil || len(full.Messages) != 5 {
		t.Fatalf("History after Active: %d messages, %v", len(full.Messages), err)
	}
	// Agent ops switches max_messages off (-1) and sets max_tokens.
	lo := policyLimits(t, w, "ops")
	if lo.MaxMessages.Value != 0 || lo.MaxMessages.From != "agents.list[0].limits.max_messages" || lo.MaxTokens.Value != 1000 {
		t.Fatalf("ops limits: %+v", lo)
	}
}

func policyLimits(t *testing.T, w *Workspace, agent string) policy.Limits {
	t.Helper()
	s, err := w.Session(context.Background(), Target{Scope: scopeOf(agent, "telegram", "direct:1")})
	if err != nil {
		t.Fatal(err)
	}
	return s.Limits(context.Background())
}

// scopeOf is a chat-scoped session of agent on channel.
func scopeOf(agent, channel, chat string) *keying.Scope {
	return &keying.Scope{Version: 1, AgentID: agent, Channel: channel, Account: "default",
		Dimensions: []string{"chat"}, Values: map[string]string{"chat": chat}}
}

func TestPolicyReportAndSend(t *testing.T) {
	ctx := context.Background()
	w, clock := policyWorkspace(t, `{
		"reset": {"idle_minutes": 30, "by_channel": {"discord": {"idle_minutes": 5, "carry_summary": true}}},
		"send_policy": {"rules": [{"action": "deny", "match": {"channel": "discord", "chat_type": "group"}},
		                          {"action": "allow", "match": {"key_prefix": "agent:main:discord:"}}],
		                "default": "deny"},
		"cleanup": {"ttl": "7d"}}`)
	group, err := w.Session(ctx, Target{Scope: scopeOf("main", "discord", "group:42")})
	if err != nil {
		t.Fatal(err)
	}
	dm, err := w.Session(ctx, Target{Scope: scopeOf("main", "discord", "direct:7"), Aliases: []string{"agent:main:discord:direct:7"}})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := w.Session(ctx, Target{Scope: scopeOf("main", "telegram", "direct:7")})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s     *Session
		allow bool
		rule  string
	}{{group, false, "send_policy.rules[0]"}, {dm, true, "send_policy.rules[1]"}, {tg, false, "send_policy.default"}} {
		if d := c.s.MaySend(ctx); d.Allowed != c.allow || d.Rule != c.rule {
			t.Errorf("%s: MaySend = %+v, want allowed %v by %s", c.s.ID(), d, c.allow, c.rule)
		}
	}

	turn(t, dm, msg(RoleUser, "hi"))
	rep, err := dm.Policy(ctx, clock.t.Add(4*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Next.Reset || rep.Reset.IdleMinutes.Value != 5 || rep.Reset.IdleMinutes.From != "reset.by_channel.discord.idle_minutes" ||
		!rep.Reset.CarrySummary.Value || rep.Channel != "discord" || rep.ChatType != "direct" || !rep.LastMessage.Equal(clock.t) ||
		rep.ExpirySeconds != 7*24*3600 || !rep.ExpiresAt.Equal(clock.t.Add(7*24*time.Hour)) || !rep.Send.Allowed {
		t.Fatalf("policy at +4m: %+v", rep)
	}
	rep, err = dm.Policy(ctx, clock.t.Add(6*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Next.Reset || rep.Next.Reason != "idle" || !strings.Contains(rep.Next.Rule, "reset.by_channel.discord.idle_minutes") {
		t.Fatalf("policy at +6m: %+v", rep.Next)
	}
	// Policy asks the same evaluation AppendTurn applies.
	m := msg(RoleUser, "back")
	m.At = clock.t.Add(6 * time.Minute)
	if tr := turn(t, dm, m); tr.Reset == nil || tr.Reset.Rule != rep.Next.Rule {
		t.Fatalf("AppendTurn at +6m: %+v, policy said %+v", tr.Reset, rep.Next)
	}
}

func TestCleanupEveryAppliesTheConfig(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, clock := policyWorkspace(t, `{"cleanup": {"older_than": "1d", "interval": "1m"}}`)
	s, err := w.Session(ctx, Target{Name: "old"})
	if err != nil {
		t.Fatal(err)
	}
	m := msg(RoleUser, "long ago")
	m.At = clock.t.Add(-48 * time.Hour)
	if _, err := s.Append(ctx, m); err != nil {
		t.Fatal(err)
	}
	reports := make(chan CleanupReport, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.CleanupEvery(ctx, func(r CleanupReport, err error) {
			if err != nil {
				t.Error(err)
			}
			select {
			case reports <- r:
			default:
			}
		})
	}()
	r := <-reports
	if r.TrashedTotal.Count != 1 || r.Trashed[0].ID != s.ID() {
		t.Fatalf("first run: %+v", r)
	}
	cancel()
	<-done
	// Without a cleanup block it returns at once.
	w2, _ := policyWorkspace(t, `{}`)
	w2.CleanupEvery(context.Background(), func(CleanupReport, error) { t.Error("ran without a cleanup block") })
}

// BenchmarkAppendTurnPolicy measures what the lifecycle policy adds to an
// append (durability never, so the policy's share is not hidden behind an
// fsync): the same user message by Append (no policy) and by AppendTurn
// with idle and daily resets configured (trigger check, the last message
// read under the lock, the evaluation), alternating so both see the same
// machine. Reports p50 of each and the difference.
func BenchmarkAppendTurnPolicy(b *testing.B) {
	cfg, _, err := config.Parse("c", []byte(`{"reset": {"daily_at": "04:00", "idle_minutes": 120, "timezone": "Europe/Berlin"}}`))
	if err != nil {
		b.Fatal(err)
	}
	w, err := Open(b.TempDir(), &Options{Durability: DurabilityNever, Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	plain, policed := namedSession(b, w, "plain"), namedSession(b, w, "policed")
	rec := benchRecord()
	rec.Role = RoleUser
	for range 50 { // a history to read back from
		if _, err := plain.Append(ctx, rec); err != nil {
			b.Fatal(err)
		}
		if _, err := policed.Append(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
	var lp, lt []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := plain.Append(ctx, rec); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := policed.AppendTurn(ctx, rec); err != nil {
			b.Fatal(err)
		}
		lp, lt = append(lp, t1.Sub(t0)), append(lt, time.Since(t1))
	}
	b.StopTimer()
	b.ReportMetric(float64(p50(lp).Nanoseconds()), "append-p50-ns")
	b.ReportMetric(float64(p50(lt).Nanoseconds()), "turn-p50-ns")
	b.ReportMetric(float64((p50(lt) - p50(lp)).Nanoseconds()), "policy-ns")
}
