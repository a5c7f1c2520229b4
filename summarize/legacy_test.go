package summarize

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/picosess/picosess/workspace"
)

// picoclawRecords reads PicoClaw messages (JSON lines, or a JSON-era file's
// "messages") as records: the field names are the same.
func picoclawRecords(t testing.TB, data []byte) []workspace.Record {
	t.Helper()
	var recs []workspace.Record
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{\n")) || bytes.Contains(data, []byte(`"messages"`)) {
		var f struct {
			Messages []workspace.Record `json:"messages"`
		}
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		recs = f.Messages
	} else {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			var r workspace.Record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
		}
	}
	for i := range recs {
		recs[i].Type = workspace.TypeMessage
		recs[i].Seq = int64(i + 2)
	}
	return recs
}

func TestLegacyPicoClawToolTurns(t *testing.T) {
	for _, tc := range []struct {
		file  string
		seqs  []int64
		calls string // arguments of the one tool call, as sent
	}{
		{"../testdata/legacy/picoclaw/2-legacy-jsonl-after-migrate/agent_main_telegram_direct_123456789.jsonl",
			[]int64{2, 3, 4, 5, 6, 7}, `{"path":"notes.txt"}`},
		// Pre-2026-02-21 shape: top-level name and object arguments, and a
		// thought-only message that must stay out of the context.
		{"../testdata/legacy-damaged/picoclaw/old-toolcall-shape/cron-job7.json",
			[]int64{2, 4, 5}, `{"day":"mon"}`},
	} {
		data, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		recs := picoclawRecords(t, data)
		got, err := BuildContext(recs, Budget{MaxTokens: 4000}, tk(t))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Seqs, tc.seqs) || len(got.Repairs) != 0 || CheckToolPairs(got.Messages) != nil {
			t.Fatalf("%s: seqs %v repairs %v", tc.file, got.Seqs, got.Repairs)
		}
		var args string
		for _, m := range got.Messages {
			for _, c := range m.ToolCalls {
				args = c.Function.Arguments
			}
		}
		if args != tc.calls {
			t.Fatalf("%s: arguments %q, want %q", tc.file, args, tc.calls)
		}
		req := BuildRequest(Plan{Fold: recs, From: 2, Through: recs[len(recs)-1].Seq}, Settings{})
		found := false
		for _, in := range req.Messages {
			if in.Role == "tool" && in.Tool != "" && in.Tool != "tool" {
				found = true
			}
		}
		if !found {
			t.Fatalf("%s: tool result not named after its tool: %+v", tc.file, req.Messages)
		}
	}
}

// FuzzBuildContext: whatever the records, the context builder never
// panics, never exceeds the budget and never returns a broken tool pair;
// Select never cuts inside a pair nor keeps fewer than keep_recent.
func FuzzBuildContext(f *testing.F) {
	for _, file := range []string{
		"../testdata/legacy/picoclaw/2-legacy-jsonl-after-migrate/agent_main_telegram_direct_123456789.jsonl",
	} {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data, uint16(200), uint8(2))
		}
	}
	f.Add([]byte(`{"role":"tool","tool_call_id":"x","content":"orphan"}
{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"f","arguments":"{}"}},{"id":"b","name":"g"}]}
{"role":"user","content":"between"}
{"role":"tool","tool_call_id":"b","content":"B"}
{"type":"summary","through":1,"text":"before"}
{"role":"assistant","tool_calls":"not an array"}`), uint16(60), uint8(1))
	f.Add([]byte(`{"role":"user","content":"a"}
{"role":"assistant","tool_calls":[{"id":"1","function":{"name":"f"}}]}
{"role":"tool","tool_call_id":"1","content":"A"}
{"role":"user","content":"b"}
{"role":"assistant","tool_calls":[{"id":"1","function":{"name":"f"}},{"id":"1","function":{"name":"f"}}]}
{"role":"tool","tool_call_id":"1","content":"B"}`), uint16(40), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, budget uint16, keep uint8) {
		var recs []workspace.Record
		for _, line := range bytes.Split(data, []byte("\n")) {
			var r workspace.Record
			if json.Unmarshal(line, &r) != nil {
				continue
			}
			r.Seq = int64(len(recs) + 2)
			recs = append(recs, r)
		}
		for _, s := range []Strategy{StrategyRecent, StrategySmart, StrategySummarize} {
			got, err := BuildContext(recs, Budget{MaxTokens: int(budget) + 1, Strategy: s, Pinned: []int64{3}}, Estimate{})
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckToolPairs(got.Messages); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			if got.Tokens > int(budget)+1 {
				t.Fatalf("%s: %d tokens over %d", s, got.Tokens, budget)
			}
		}
		p := Select(recs, Settings{KeepRecent: int(keep%8) + 1})
		if !p.Empty() {
			if len(p.Keep) < int(keep%8)+1 {
				t.Fatalf("kept %d", len(p.Keep))
			}
			if p.Keep[0].Role == workspace.RoleTool {
				t.Fatal("kept part starts with a tool result")
			}
			cross := pairCrossings(append(append([]workspace.Record{}, p.Fold...), p.Keep...))
			if cross[len(p.Fold)] {
				t.Fatal("cut splits a tool pair")
			}
		}
		_ = BuildRequest(p, Settings{})
	})
}
