package summarize

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

// hist builds an active history with consecutive seqs from 2 (seq 1 is the
// header in a real file).
type hist struct {
	recs []workspace.Record
	seq  int64
}

func newHist() *hist { return &hist{seq: 1} }

func (h *hist) add(r workspace.Record) *hist {
	h.seq++
	r.Seq = h.seq
	if r.Type == "" {
		r.Type = workspace.TypeMessage
	}
	r.At = time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC).Add(time.Duration(h.seq) * time.Second)
	h.recs = append(h.recs, r)
	return h
}

func (h *hist) user(text string) *hist {
	return h.add(workspace.Record{Role: workspace.RoleUser, Content: text})
}

func (h *hist) assistant(text string) *hist {
	return h.add(workspace.Record{Role: workspace.RoleAssistant, Content: text})
}

func (h *hist) system(text string) *hist {
	return h.add(workspace.Record{Role: workspace.RoleSystem, Content: text})
}

// call adds an assistant message calling tool name once per id.
func (h *hist) call(name, args string, ids ...string) *hist {
	var calls []map[string]any
	for _, id := range ids {
		calls = append(calls, map[string]any{"id": id, "type": "function",
			"function": map[string]any{"name": name, "arguments": args}})
	}
	raw, _ := json.Marshal(calls)
	return h.add(workspace.Record{Role: workspace.RoleAssistant, ToolCalls: raw})
}

func (h *hist) result(id, text string) *hist {
	return h.add(workspace.Record{Role: workspace.RoleTool, ToolCallID: id, Content: text})
}

func (h *hist) summary(through int64, text string) *hist {
	return h.add(workspace.Record{Type: workspace.TypeSummary, Through: through, Text: text, By: "test"})
}

// turn adds a plain user/assistant exchange.
func (h *hist) turn(i int) *hist {
	return h.user(fmt.Sprintf("question %d about the garden", i)).assistant(fmt.Sprintf("answer %d: water the tomatoes", i))
}

func seqsOf(recs []workspace.Record) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.Seq
	}
	return out
}

func lastSeq(recs []workspace.Record) int64 { return recs[len(recs)-1].Seq }

// sharedTiktoken builds the o200k counter once per test binary: parsing the
// ranks is the slow part.
var sharedTiktoken = sync.OnceValues(func() (*Tiktoken, error) { return NewTiktoken("") })

func tk(t testing.TB) *Tiktoken {
	t.Helper()
	c, err := sharedTiktoken()
	if err != nil {
		t.Fatalf("NewTiktoken: %v", err)
	}
	return c
}

func words(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "w%d ", i)
	}
	return b.String()
}
