package migrate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadJSONL: the salvaging reader never panics, every object it keeps
// is valid JSON taken from the input, and every set-aside span holds
// exactly the bytes it names.
func FuzzReadJSONL(f *testing.F) {
	for _, g := range []string{
		"picoclaw/torn-line-glued/agent_main_telegram_direct_42.jsonl",
		"picoclaw/torn-tail-no-newline/agent_main_slack_channel_c9.jsonl",
		"openclaw/glued-lines/agents/main/sessions/22222222-2222-4333-8444-555555555555.jsonl",
		"openclaw/invalid-first-line/agents/main/sessions/33333333-2222-4333-8444-555555555555.jsonl",
	} {
		b, err := os.ReadFile(filepath.Join(damagedRoot, g))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("{\"role\":\"\n{{{{\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, marker := range []string{`{"role":"`, `{"type":"`} {
			objs, bad := readJSONL("x", data, marker)
			for _, o := range objs {
				if !json.Valid(o.data) || !bytes.Contains(data, o.data) {
					t.Fatalf("kept %q", o.data)
				}
			}
			for _, s := range bad {
				end := s.Offset + s.Length
				if s.Offset < 0 || end > int64(len(data)) || !bytes.Equal(data[s.Offset:end], s.Data) {
					t.Fatalf("set-aside %+v does not match the input", s)
				}
			}
		}
		salvageArray(data, 0)
		stripJSON5(data)
	})
}
