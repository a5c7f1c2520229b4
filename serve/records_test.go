package serve

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace"
)

// Records posted over HTTP are checked as the library checks them: one
// that means nothing in the session is a 400 invalid_record naming the
// record and the field, one over the workspace's record limit a 413
// too_large; nothing of the post is written.
func TestPostedRecordsValidated(t *testing.T) {
	ts := newTestServer(t, nil, &workspace.Options{MaxRecordBytes: 4096})
	s := ts.session("checked", msg("user", "one"), msg("assistant", "two"))
	before, _ := os.ReadFile(s.Path())
	for _, tc := range []struct {
		body   string
		status int
		code   string
		want   string
	}{
		{`[{"role":"user","content":"x"},{"type":"restore","checkpoint":2}]`, http.StatusBadRequest, "invalid_record", "record 2: restore record: checkpoint: seq 2 is a message record, not a checkpoint"},
		{`{"type":"summary","through":99,"text":"s"}`, http.StatusBadRequest, "invalid_record", "through: 99 is not a message of the active history"},
		{`{"type":"checkpoint_delete","checkpoint":7}`, http.StatusBadRequest, "invalid_record", "no record with seq 7"},
		{`{"type":"reset","reason":"because"}`, http.StatusBadRequest, "invalid_record", "reason"},
		{`{"role":"user","content":"` + strings.Repeat("x", 5000) + `"}`, http.StatusRequestEntityTooLarge, "too_large", "over the limit of 4096 bytes"},
	} {
		for _, raw := range []string{"", "?raw=true"} {
			resp, b := ts.do("POST", "/api/sessions/checked/records"+raw, tc.body)
			e := checkErrorBody(t, resp, b)
			if resp.StatusCode != tc.status || e.Code != tc.code || !strings.Contains(e.Error, tc.want) {
				t.Errorf("%s%s: %d %+v, want %d %s with %q", tc.body[:min(len(tc.body), 60)], raw, resp.StatusCode, e, tc.status, tc.code, tc.want)
			}
		}
	}
	if after, _ := os.ReadFile(s.Path()); string(after) != string(before) {
		t.Fatalf("the file changed:\n%s", after)
	}
}
