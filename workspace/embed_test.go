package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/picosess/picosess/keying"
)

func TestMessageConstructors(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	s, err := w.Session(ctx, Target{Name: "c"})
	if err != nil {
		t.Fatal(err)
	}
	recs := []Record{
		SystemMessage("be brief"),
		UserMessage("42", "weather?"),
		ToolCallMessage("gpt-x", "", ToolCall{ID: "c1", Name: "weather", Arguments: `{"city":"Oslo"}`}, ToolCall{ID: "c2", Name: "time"}),
		ToolResult("c1", "rain"),
		ToolResult("c2", "09:00"),
		AssistantMessage("gpt-x", "Rain in Oslo."),
		{Type: TypeMessage, Role: RoleDeveloper, Content: "dev note"},
		{Type: TypeMessage, Role: RoleFunction, Content: "legacy result"},
	}
	if _, err := s.Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got = got[1:]
	if got[1].Role != RoleUser || got[1].Sender != "42" || got[2].Role != RoleAssistant || got[2].ModelName != "gpt-x" ||
		got[3].ToolCallID != "c1" || got[5].Content != "Rain in Oslo." || got[6].Role != RoleDeveloper || got[7].Role != RoleFunction {
		t.Fatalf("records: %+v", got)
	}
	var calls []struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct{ Name, Arguments string }
	}
	if err := json.Unmarshal(got[2].ToolCalls, &calls); err != nil || len(calls) != 2 || calls[0].ID != "c1" || calls[0].Type != "function" ||
		calls[0].Function.Name != "weather" || calls[0].Function.Arguments != `{"city":"Oslo"}` || calls[1].Function.Arguments != "{}" {
		t.Fatalf("tool calls %s: %+v %v", got[2].ToolCalls, calls, err)
	}
	if _, err := s.Append(ctx, Record{Type: TypeMessage, Role: "wizard", Content: "x"}); err == nil || !strings.Contains(err.Error(), "developer or function") {
		t.Fatalf("unknown role: %v", err)
	}
}

func TestRouteMatchesKeying(t *testing.T) {
	ctx := context.Background()
	w, _ := policyWorkspace(t, `{"session": {"dimensions": ["chat", "sender"]}}`)
	in := keying.Inbound{Channel: "telegram", ChatType: "group", ChatID: "-100123", SenderID: "42"}
	want, err := keying.Resolve("", in, w.Config().Policy())
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.Route("", in)
	if err != nil || got.ID != want.ID || !strings.Contains(got.Signature, "sender=42") {
		t.Fatalf("Route = %+v, %v; keying says %s", got, err, want.ID)
	}
	s, err := w.SessionFor(ctx, "", in)
	if err != nil || s.ID() != want.ID {
		t.Fatalf("SessionFor = %v, %v", s, err)
	}
	h, err := s.Header(ctx)
	if err != nil || h.Scope == nil || h.Scope.Channel != "telegram" || len(h.Aliases) == 0 {
		t.Fatalf("header %+v %v", h, err)
	}
}

func TestAddAliasesAndLookup(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	s, err := w.Session(ctx, Target{Name: "shared", Aliases: []string{"agent:main:telegram:direct:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddAliases(ctx, "agent:main:telegram:direct:1"); err != nil {
		t.Fatal(err)
	}
	if n := len(readAll(t, s)); n != 1 {
		t.Fatalf("an alias the header has was written again: %d records", n)
	}
	if err := s.AddAliases(ctx, "agent:main:discord:direct:9", "agent:main:discord:direct:9"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAliases(ctx, "agent:main:discord:direct:9"); err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, s)
	if len(recs) != 2 || recs[1].Type != TypeAliases || len(recs[1].Aliases) != 1 {
		t.Fatalf("records: %+v", recs)
	}
	got, err := w.Lookup(ctx, "agent:main:discord:direct:9")
	if err != nil || got.ID() != s.ID() {
		t.Fatalf("lookup by the added alias: %v %v", got, err)
	}
	m, err := s.Meta(ctx)
	if err != nil || len(m.Aliases) != 2 {
		t.Fatalf("meta aliases: %v %v", m.Aliases, err)
	}
	rep, err := s.Check(ctx)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("check of a file with an aliases record: %+v %v", rep.Problems, err)
	}
}

func readAll(t *testing.T, s *Session) []Record {
	t.Helper()
	recs, err := s.ReadAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestUpdateDecidesUnderTheLock(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	s, err := w.Session(ctx, Target{Name: "counter"})
	if err != nil {
		t.Fatal(err)
	}
	// Each update appends "n" where n is one more than the number of
	// messages it saw: under the lock no two see the same state.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if _, err := s.Update(ctx, func(h History) ([]Record, error) {
					return []Record{UserMessage("", fmt.Sprint(len(h.Messages)+1))}, nil
				}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	h, err := s.History(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range h.Messages {
		if m.Content != fmt.Sprint(i+1) {
			t.Fatalf("message %d is %q: two updates saw the same state", i, m.Content)
		}
	}
	// An error from f writes nothing; so do no records.
	before := len(readAll(t, s))
	boom := errors.New("boom")
	if _, err := s.Update(ctx, func(History) ([]Record, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if _, err := s.Update(ctx, func(History) ([]Record, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, func(History) ([]Record, error) { return []Record{{Type: "bogus"}}, nil }); err == nil {
		t.Fatal("a bogus record was accepted")
	}
	if after := len(readAll(t, s)); after != before {
		t.Fatalf("%d records written", after-before)
	}
}

func TestSummaryKeepLast(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	s, err := w.Session(ctx, Target{Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Summary(ctx); ok || err != nil {
		t.Fatalf("summary of an empty session: %v %v", ok, err)
	}
	if _, err := s.Append(ctx, UserMessage("", "one"), AssistantMessage("", "two"), UserMessage("", "three"),
		ToolCallMessage("", "", ToolCall{ID: "a", Name: "f"}), ToolResult("a", "r"), AssistantMessage("", "done")); err != nil {
		t.Fatal(err)
	}
	sum, err := s.SetSummary(ctx, "counted to three", "me")
	if err != nil || sum.Through != 7 {
		t.Fatalf("SetSummary: %+v %v", sum, err)
	}
	if got, ok, err := s.Summary(ctx); !ok || err != nil || got.Text != "counted to three" || got.Seq != sum.Seq {
		t.Fatalf("Summary: %+v %v %v", got, ok, err)
	}
	if _, err := s.Append(ctx, UserMessage("", "four"), ToolCallMessage("", "", ToolCall{ID: "b", Name: "f"}), ToolResult("b", "r2"), AssistantMessage("", "five")); err != nil {
		t.Fatal(err)
	}
	// Keep 3: the tool group (call + result) and "five"; "four" goes.
	if _, err := s.KeepLast(ctx, 3); err != nil {
		t.Fatal(err)
	}
	h, err := s.History(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != 3 || h.Messages[0].ToolCalls == nil || h.Summary == nil || h.Summary.Text != "counted to three" {
		t.Fatalf("after KeepLast(3): %d messages, summary %+v", len(h.Messages), h.Summary)
	}
	// Nothing more to drop: nothing written.
	n := len(readAll(t, s))
	if seq, err := s.KeepLast(ctx, 3); err != nil || seq != 0 || len(readAll(t, s)) != n {
		t.Fatalf("second KeepLast(3): seq %d err %v", seq, err)
	}
	if _, err := s.KeepLast(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.History(ctx, 0); len(h.Messages) != 0 {
		t.Fatalf("KeepLast(0) left %d messages", len(h.Messages))
	}
	all := readAll(t, s)
	msgs := 0
	for _, r := range all {
		if r.Type == TypeMessage {
			msgs++
		}
	}
	if msgs != 10 {
		t.Fatalf("%d messages in the file, want all 10 kept", msgs)
	}
}

// An imported DM kept under its legacy key (its new id needs the DM's
// chat id, which the legacy key lacks) is continued by the session the
// assistant's first routed message opens: old keys reach the new
// conversation, the summary carries over, no message is copied.
func TestContinueALegacySession(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	legacyKey := "agent:main:discord:direct:555"
	old, err := w.Session(ctx, Target{ID: keying.Opaque(legacyKey), Aliases: []string{legacyKey}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Append(ctx, UserMessage("555", "my cat is called Miso"), AssistantMessage("", "noted")); err != nil {
		t.Fatal(err)
	}
	if _, err := old.SetSummary(ctx, "The user's cat is called Miso.", "test"); err != nil {
		t.Fatal(err)
	}
	r, err := w.Route("", keying.Inbound{Channel: "discord", ChatType: "direct", ChatID: "dm-77", SenderID: "555"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(r.Aliases, legacyKey) {
		t.Fatalf("the route does not answer to the legacy key: %v", r.Aliases)
	}
	// Without Continue the key is the old session's own: it wins over
	// the new session's alias.
	if _, err := w.SessionForRoute(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, err := w.Lookup(ctx, legacyKey); err != nil || got.ID() != old.ID() {
		t.Fatalf("lookup before Continue: %v %v", got, err)
	}
	to, err := w.Continue(ctx, old, r)
	if err != nil {
		t.Fatal(err)
	}
	if to.ID() != r.ID {
		t.Fatalf("continued in %s, want the route's %s", to.ID(), r.ID)
	}
	got, err := w.Lookup(ctx, legacyKey)
	if err != nil || got.ID() != r.ID {
		t.Fatalf("lookup after Continue: %v %v", got, err)
	}
	h, err := to.History(ctx, 0)
	if err != nil || h.Summary == nil || h.Summary.Text != "The user's cat is called Miso." || len(h.Messages) != 0 {
		t.Fatalf("continuation's history: %+v %v", h, err)
	}
	n := len(readAll(t, to))
	if _, err := w.Continue(ctx, old, r); err != nil || len(readAll(t, to)) != n {
		t.Fatalf("Continue again wrote %d records (%v)", len(readAll(t, to))-n, err)
	}
	// The old conversation stays where it is, whole.
	if recs := readAll(t, old); len(recs) != 4 {
		t.Fatalf("the legacy session changed: %d records", len(recs))
	}
	if _, err := w.Continue(ctx, to, r); err == nil {
		t.Fatal("a session continued itself")
	}
	if rep, err := to.Check(ctx); err != nil || len(rep.Problems) != 0 {
		t.Fatalf("check: %+v %v", rep.Problems, err)
	}
}
