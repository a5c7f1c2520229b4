package migrate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
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

// FuzzAlign: for any two copies (a small alphabet, so repeats abound;
// some timed, some not), the timeline holds every record of each copy
// exactly once (itself or the equal record it was matched with), in its
// copy's order.
func FuzzAlign(f *testing.F) {
	f.Add([]byte{3, 1, 2, 1, 2, 1, 2, 3})
	f.Add([]byte{4, 0x11, 0x12, 0x13, 0x14, 0x12, 0x13, 0x14, 0x15})
	f.Add([]byte{0, 1, 1, 1})
	f.Add([]byte{9, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		cut := int(data[0])
		body := data[1:]
		if cut > len(body) {
			cut = len(body)
		}
		mk := func(name string, bs []byte) []*item {
			var out []*item
			for i, c := range bs {
				it := &item{prov: Provenance{Path: name, Line: i + 1}}
				it.rec.Type = "message"
				it.rec.Role = []string{"user", "assistant"}[c>>3&1]
				it.rec.Content = string(rune('a' + c&7))
				if c&0x10 != 0 {
					it.rec.At, it.timed = t0.Add(time.Duration(c>>5)*time.Minute), true
				}
				out = append(out, it)
			}
			return out
		}
		a, b := mk("a", body[:cut]), mk("b", body[cut:])
		out, st := align(a, b, true)
		if len(out) != len(a)+len(b)-st.matched {
			t.Fatalf("%d records out of %d+%d with %d matched", len(out), len(a), len(b), st.matched)
		}
		pos := map[string]int{}
		for i, it := range out {
			for _, p := range append([]Provenance{it.prov}, it.also...) {
				k := provString(p)
				if _, dup := pos[k]; dup {
					t.Fatalf("%s is in the timeline twice", k)
				}
				pos[k] = i
			}
		}
		for _, cp := range [][]*item{a, b} {
			last := -1
			for _, it := range cp {
				p, ok := pos[provString(it.prov)]
				if !ok {
					t.Fatalf("%s is not in the timeline", provString(it.prov))
				}
				if p <= last {
					t.Fatalf("%s moved before an earlier record of its copy", provString(it.prov))
				}
				last = p
			}
		}
	})
}
