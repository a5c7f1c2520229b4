package index

import (
	"context"
	"reflect"
	"strconv"
	"testing"

	"github.com/picosess/picosess/workspace"
)

// A tool result is found by its tool's name (tool:) and by its error flag
// (failed:true), and its hits carry both.
func TestSearchToolResults(t *testing.T) {
	ws := openWS(t, "")
	s := chatSession(t, ws, "main", "42")
	ctx := context.Background()
	seqs, err := s.Append(ctx,
		workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleUser, Content: "read my notes"},
		workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleTool, ToolCallID: "c1", ToolName: "Read_File", IsError: true, Content: "ENOENT notes"},
		workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleTool, ToolCallID: "c2", ToolName: "web_search", Content: "notes app reviews"},
	)
	if err != nil {
		t.Fatal(err)
	}
	x := openIndex(t, ws, nil)
	hit := func(seq int64) string { return s.ID() + ":" + strconv.FormatInt(seq, 10) }
	for _, tt := range []struct {
		q    string
		want []string
	}{
		{"tool:read_file", []string{hit(seqs[1])}},
		{"tool:web_search notes", []string{hit(seqs[2])}},
		{"failed:true", []string{hit(seqs[1])}},
		{"notes -failed:true", []string{hit(seqs[2]), hit(seqs[0])}}, // newest first
		{"tool:web*", []string{hit(seqs[2])}},
	} {
		res := mustSearch(t, x, Query{Text: tt.q, Sort: SortTime})
		if got := ids(res); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.q, got, tt.want)
		}
	}
	res := mustSearch(t, x, Query{Text: "tool:read_file"})
	if h := res.Hits[0]; h.Tool != "Read_File" || !h.Failed || h.Role != workspace.RoleTool {
		t.Fatalf("hit %+v: tool name and error flag as stored", h)
	}
}
