package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/picosess/picosess/keying"
)

// Golden files show the format: each is a session file written by this
// package with a fixed clock. Run `go test ./workspace -run Golden -update`
// after a deliberate format change, and review the diff.
func TestGoldenFormat(t *testing.T) {
	ctx := context.Background()
	scope := keying.Scope{Version: 1, AgentID: "main", Channel: "telegram", Account: "default",
		Dimensions: []string{"chat", "sender"}, Values: map[string]string{"chat": "group:-1001234", "sender": "alice"}}
	cases := []struct {
		name  string
		build func(t *testing.T, w *Workspace) *Session
	}{
		{"named-session-header", func(t *testing.T, w *Workspace) *Session {
			return namedSession(t, w, "Berlin-Flat")
		}},
		{"turn-with-tool-calls", func(t *testing.T, w *Workspace) *Session {
			s, err := w.Session(ctx, Target{Scope: &scope, Aliases: []string{"agent:main:telegram:group:-1001234"}})
			if err != nil {
				t.Fatal(err)
			}
			mustAppend(t, s,
				Record{Type: TypeMessage, Role: RoleUser, Sender: "alice", Content: "What does notes.txt say?", Media: []string{"media://img-1"}},
				Record{Type: TypeMessage, Role: RoleAssistant, ModelName: "gpt-5.4", ReasoningContent: "I should read the file.",
					ToolCalls: json.RawMessage(`[{"id":"call_1","type":"function","function":{"name":"read_file","arguments":"{\"path\":\"notes.txt\"}"}}]`)},
				Record{Type: TypeMessage, Role: RoleTool, ToolCallID: "call_1", Content: "buy milk\ncall bob"},
				Record{Type: TypeMessage, Role: RoleAssistant, ModelName: "gpt-5.4", Content: "It says: buy milk, call bob."},
			)
			return s
		}},
		{"assistant-usage", func(t *testing.T, w *Workspace) *Session {
			s := namedSession(t, w, "usage")
			cached := AssistantMessage("claude-sonnet-4.5", "From the cache.")
			cached.Usage = &Usage{InputTokens: 40, OutputTokens: 6, CacheReadTokens: 1800, CacheWriteTokens: 200}
			mustAppend(t, s, UserMessage("alice", "Hello?"), AssistantMessage("gpt-5.4", "Hello, Alice.").WithUsage(1200, 85), cached)
			return s
		}},
		{"reset-and-clear", func(t *testing.T, w *Workspace) *Session {
			s := namedSession(t, w, "resets")
			mustAppend(t, s, msg(RoleUser, "yesterday"))
			s.Reset(ctx, ReasonDaily)
			mustAppend(t, s, msg(RoleUser, "today"))
			s.Clear(ctx)
			return s
		}},
		{"summary-covering-older-messages", func(t *testing.T, w *Workspace) *Session {
			s := namedSession(t, w, "summarized")
			seqs := mustAppend(t, s, msg(RoleUser, "first"), msg(RoleAssistant, "second"), msg(RoleUser, "third"))
			mustAppend(t, s, Record{Type: TypeSummary, Through: seqs[1], Text: "The user said first; the assistant said second.", By: "extractive"})
			return s
		}},
		{"title-rename", func(t *testing.T, w *Workspace) *Session {
			s := namedSession(t, w, "titled")
			mustAppend(t, s, msg(RoleUser, "plan my trip"))
			s.SetTitle(ctx, "Trip to Berlin")
			return s
		}},
		{"checkpoint-restore-delete", func(t *testing.T, w *Workspace) *Session {
			s := namedSession(t, w, "checkpoints")
			mustAppend(t, s, msg(RoleUser, "keep this"))
			s.SaveCheckpoint(ctx, "before-experiment", "state before trying things")
			mustAppend(t, s, msg(RoleUser, "experiment"))
			s.RestoreCheckpoint(ctx, "before-experiment")
			s.DeleteCheckpoint(ctx, "before-experiment")
			return s
		}},
		{"migrated-rule-b-header", func(t *testing.T, w *Workspace) *Session {
			s, err := w.Session(ctx, Target{
				ID:      keying.Opaque("agent:main:direct:alice"),
				Scope:   &keying.Scope{Version: 1, AgentID: "main", Channel: "unknown", Account: "default"},
				Aliases: []string{"agent:main:direct:alice", "agent:main:dm:alice"},
				Origin:  json.RawMessage(`{"system": "picoclaw",  "path": "sessions/agent_main_direct_alice.jsonl"}`),
			})
			if err != nil {
				t.Fatal(err)
			}
			mustAppend(t, s, Record{Type: TypeReset, Reason: ReasonImported})
			return s
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := openTest(t, &Options{Now: fixedClock()})
			s := tc.build(t, w)
			got, err := readSessionBytes(s)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", tc.name+".jsonl")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s differs from the golden file:\n got: %s\nwant: %s", tc.name, got, want)
			}
			// Every line decodes and encodes back to the same bytes.
			for i, line := range strings.Split(strings.TrimSuffix(string(got), "\n"), "\n") {
				r, hint := decodeRecord([]byte(line))
				if hint != "" {
					t.Fatalf("line %d: %s", i+1, hint)
				}
				again, err := appendRecord(nil, &r)
				if err != nil || string(again) != line {
					t.Fatalf("line %d does not round-trip:\n%s\n%s", i+1, line, again)
				}
				if !strings.HasPrefix(line, `{"type":"`+r.Type+`","seq":`) {
					t.Fatalf("line %d does not start with type and seq: %s", i+1, line)
				}
			}
			if rep, _ := s.Check(context.Background()); len(rep.Problems) != 0 {
				t.Fatalf("golden file has problems: %v", rep.Problems)
			}
		})
	}
}

// Check reports what repair cannot fix (a header naming another id), and
// accepts the ids of named and migrated (Rule B) sessions; a seq used
// twice is repaired by renumbering (repair_renumber_test.go).
func TestCheckUnrepairable(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, &Options{Now: fixedClock()})
	s := namedSession(t, w, "dupes")
	l := baseLines(t, s)
	os.WriteFile(s.Path(), []byte(l[0]+l[1]+l[1]+l[2]), 0o644)
	other, _ := w.Session(ctx, Target{ID: keying.Opaque("elsewhere")})
	os.WriteFile(other.Path(), []byte(l[0]+l[2]), 0o644) // a header naming another id
	rep, err := w.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, f := range rep.Files {
		for _, p := range f.Problems {
			kinds[f.ID] += p.Kind + ","
			if p.Repairable != (p.Kind == ProblemSeqDuplicate) {
				t.Errorf("%s reported repairable %v", p.Kind, p.Repairable)
			}
		}
	}
	if !strings.Contains(kinds[s.ID()], ProblemSeqDuplicate) || !strings.Contains(kinds[other.ID()], ProblemIDMismatch) {
		t.Fatalf("problems %v", kinds)
	}
	if a, b := rep.Errors(); a != 1 || b < 1 {
		t.Fatalf("errors %d repairable, %d not", a, b)
	}
	rr, err := w.Repair(ctx, RepairOptions{})
	if err != nil || len(rr.SetAside) != 0 || len(rr.Remaining) != 1 || len(rr.Renumbered) != 1 {
		t.Fatalf("repair %+v %v", rr, err)
	}
}

// The fast decoder takes every line this package writes except headers
// with a scope (which fall back to encoding/json), and agrees with it.
func TestFastDecoderOnGoldenLines(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.jsonl"))
	n := 0
	for _, name := range files {
		b, _ := os.ReadFile(name)
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			var fast, slow Record
			ok := decodeFast([]byte(line), &fast)
			if !ok && !strings.Contains(line, `"scope"`) {
				t.Errorf("%s: fast decoder gave up on %s", name, line)
			}
			if !ok {
				continue
			}
			n++
			if err := json.Unmarshal([]byte(line), &slow); err != nil || !reflect.DeepEqual(fast, slow) {
				t.Errorf("%s: disagreement on %s:\n%+v\n%+v", name, line, fast, slow)
			}
		}
	}
	if n < 15 {
		t.Fatalf("only %d lines decoded fast", n)
	}
	// Escapes, surrogate pairs and lone halves decode as encoding/json does.
	for _, line := range []string{
		`{"type":"message","seq":2,"at":"2026-01-01T00:00:00Z","role":"user","content":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00\ud800x"}`,
		`{ "type" : "title" , "seq" : 3 , "at" : "2026-01-01T00:00:00.5+02:00" , "text" : "" }`,
	} {
		var fast, slow Record
		if !decodeFast([]byte(line), &fast) {
			t.Fatalf("gave up on %s", line)
		}
		json.Unmarshal([]byte(line), &slow)
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("disagreement on %s:\n%+v\n%+v", line, fast, slow)
		}
	}
}
