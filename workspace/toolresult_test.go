package workspace

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// toolResultLines are tool results as this package writes them and as a
// hand or another writer may: the fast decoder takes each and agrees with
// encoding/json.
var toolResultLines = []string{
	`{"type":"message","seq":4,"at":"2026-04-09T08:02:16.23Z","role":"tool","content":"memory/2026-04-07.md#L12 (score 0.82)","tool_call_id":"toolu_01","tool_name":"memory_search"}`,
	`{"type":"message","seq":5,"at":"2026-04-09T08:02:17Z","role":"tool","content":"{\"error\":\"ENOENT\"}","tool_call_id":"toolu_02","tool_name":"read_file","is_error":true}`,
	`{"type":"message","seq":6,"at":"2026-04-09T08:02:18Z","role":"tool","content":"ok","tool_call_id":"toolu_03","tool_name":"exec","is_error":false}`,
	`{ "type" : "message" , "is_error" : true , "tool_name" : "a\"b" }`,
}

func TestToolResultFieldsRoundTrip(t *testing.T) {
	at := time.Date(2026, 4, 9, 8, 2, 16, 0, time.UTC)
	for _, r := range []Record{
		{Type: TypeMessage, Seq: 4, At: at, Role: RoleTool, Content: "x", ToolCallID: "c1", ToolName: "read_file", IsError: true},
		{Type: TypeMessage, Seq: 5, At: at, Role: RoleTool, Content: "y", ToolCallID: "c2", ToolName: "memory_search"},
		{Type: TypeMessage, Seq: 6, At: at, Role: RoleTool, Content: "z", ToolCallID: "c3"},
	} {
		b, err := appendRecord(nil, &r)
		if err != nil {
			t.Fatal(err)
		}
		var fast, slow Record
		if !decodeFast(b, &fast) {
			t.Fatalf("fast decoder gave up on %s", b)
		}
		if err := json.Unmarshal(b, &slow); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, r) || !reflect.DeepEqual(slow, r) {
			t.Fatalf("%s:\n fast %+v\n slow %+v\n want %+v", b, fast, slow, r)
		}
	}
}

func TestToolResultFieldsFastDecoder(t *testing.T) {
	for _, line := range toolResultLines {
		var fast, slow Record
		if !decodeFast([]byte(line), &fast) {
			t.Fatalf("gave up on %s", line)
		}
		if err := json.Unmarshal([]byte(line), &slow); err != nil || !reflect.DeepEqual(fast, slow) {
			t.Fatalf("disagreement on %s:\n%+v\n%+v (%v)", line, fast, slow, err)
		}
	}
	// not a boolean: the fast decoder gives up and encoding/json decides
	for _, line := range []string{`{"is_error":1}`, `{"is_error":"true"}`, `{"is_error":tru}`, `{"is_error":truex}`, `{"is_error":null}`} {
		var fast Record
		if decodeFast([]byte(line), &fast) {
			t.Errorf("fast decoder accepted %s", line)
		}
	}
}
