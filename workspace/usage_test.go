package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Usage is written after tokens, input and output always, the cache counts
// when reported; it reads back the same, and listings sum it.
func TestUsageRoundTrip(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, &Options{Now: fixedClock()})
	s := namedSession(t, w, "usage")
	cached := AssistantMessage("gpt-5.4", "from the cache")
	cached.Usage = &Usage{InputTokens: 2000, OutputTokens: 10, CacheReadTokens: 1800, CacheWriteTokens: 200}
	mustAppend(t, s, UserMessage("alice", "hi"), AssistantMessage("gpt-5.4", "hello").WithUsage(1200, 85), cached,
		AssistantMessage("", "reported as nothing").WithUsage(0, 0))
	b, err := readSessionBytes(s)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i, want := range []string{
		`"content":"hi","sender":"alice","tokens":\d+}$`,
		`"model_name":"gpt-5.4","tokens":\d+,"usage":\{"input_tokens":1200,"output_tokens":85\}\}$`,
		`"tokens":\d+,"usage":\{"input_tokens":2000,"output_tokens":10,"cache_read_tokens":1800,"cache_write_tokens":200\}\}$`,
		`"tokens":\d+,"usage":\{"input_tokens":0,"output_tokens":0\}\}$`,
	} {
		if !regexp.MustCompile(want).MatchString(lines[i+1]) {
			t.Errorf("line %d: %s\nwant it to end %s", i+2, lines[i+1], want)
		}
	}
	h, err := s.History(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := []*Usage{h.Messages[0].Usage, h.Messages[1].Usage, h.Messages[2].Usage, h.Messages[3].Usage}
	want := []*Usage{nil, {InputTokens: 1200, OutputTokens: 85}, cached.Usage, {}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("usage read back: %+v, want %+v", got, want)
	}
	for _, w := range []*Workspace{w, reopen(t, w)} {
		s, err := w.OpenID(s.ID())
		if err != nil {
			t.Fatal(err)
		}
		m, err := s.Meta(ctx)
		if err != nil || m.UsageIn != 3200 || m.UsageOut != 95 {
			t.Fatalf("meta usage in %d out %d (%v), want 3200 and 95", m.UsageIn, m.UsageOut, err)
		}
		list, err := w.List(ctx, ListOptions{})
		if err != nil || len(list) != 1 || list[0].UsageIn != 3200 || list[0].UsageOut != 95 {
			t.Fatalf("listing: %+v %v", list, err)
		}
	}
}

func reopen(t *testing.T, w *Workspace) *Workspace {
	t.Helper()
	w2, err := Open(w.Root(), sameStore(w, nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w2.Close() })
	return w2
}

// A writer may put usage on assistant messages only, with no negative
// count; the append is refused whole and the file left as it was.
func TestUsageRefused(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	s := namedSession(t, w, "refused")
	mustAppend(t, s, UserMessage("", "question"))
	before, _ := readSessionBytes(s)
	for _, tc := range []struct {
		name string
		rec  Record
		want string
	}{
		{"user message", UserMessage("", "q").WithUsage(1, 1), "usage: only an assistant message carries the usage a model reported, not a user message"},
		{"tool result", ToolResult("call_1", "42").WithUsage(1, 1), "not a tool message"},
		{"title", Record{Type: TypeTitle, Text: "t", Usage: &Usage{}}, "title record: usage: only an assistant message"},
		{"negative input", AssistantMessage("", "a").WithUsage(-1, 5), "input_tokens -1"},
		{"negative output", AssistantMessage("", "a").WithUsage(5, -2), "output_tokens -2"},
		{"negative cache read", Record{Type: TypeMessage, Role: RoleAssistant, Content: "a", Usage: &Usage{CacheReadTokens: -3}}, "cache_read_tokens -3"},
		{"negative cache write", Record{Type: TypeMessage, Role: RoleAssistant, Content: "a", Usage: &Usage{CacheWriteTokens: -4}}, "cache_write_tokens -4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The good record first: nothing of a refused call is written.
			_, err := s.Append(ctx, AssistantMessage("", "fine").WithUsage(1, 1), tc.rec)
			var re *RecordError
			if !errors.Is(err, ErrInvalidRecord) || !errors.As(err, &re) || re.Field != "usage" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want an invalid record (field usage) naming %q", err, tc.want)
			}
			if after, _ := readSessionBytes(s); !bytes.Equal(after, before) {
				t.Fatalf("the file changed:\n%s", after)
			}
		})
	}
}

// Readers take usage wherever a file has it (another writer's file):
// decoded, summed, and written back by MarshalJSON as it was read.
func TestUsageReadAnywhere(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	s := namedSession(t, w, "foreign")
	mustAppend(t, s, UserMessage("", "first"))
	line := `{"type":"message","seq":3,"at":"2026-01-01T00:00:00Z","role":"user","content":"odd","usage":{"input_tokens":-5,"output_tokens":7}}`
	f, err := os.OpenFile(s.Path(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(line + "\n")
	f.Close()
	h, err := s.History(ctx, 0)
	if err != nil || len(h.Messages) != 2 || h.Messages[1].Usage == nil || h.Messages[1].Usage.OutputTokens != 7 {
		t.Fatalf("history %+v %v", h.Messages, err)
	}
	if b, err := json.Marshal(h.Messages[1]); err != nil || string(b) != line {
		t.Fatalf("MarshalJSON: %s %v, want %s", b, err, line)
	}
	if m, err := s.Meta(ctx); err != nil || m.UsageIn != -5 || m.UsageOut != 7 {
		t.Fatalf("meta %+v %v", m, err)
	}
}

// The fast decoder reads usage objects as encoding/json does, and gives
// up (to encoding/json) on what it does not handle.
func TestFastDecoderUsage(t *testing.T) {
	const head = `{"type":"message","seq":2,"at":"2026-01-01T00:00:00Z","role":"assistant","content":"x"`
	for _, tc := range []struct {
		usage string
		fast  bool // the fast decoder takes it
	}{
		{`{"input_tokens":1200,"output_tokens":85}`, true},
		{`{"input_tokens":1,"output_tokens":2,"cache_read_tokens":3,"cache_write_tokens":4}`, true},
		{`{ "output_tokens" : 2 , "input_tokens" : 1 }`, true},
		{`{}`, true},
		{`{"input_tokens":1},"usage":{"output_tokens":2}`, true}, // a second key fills the same object
		{`{"input_tokens":-0,"output_tokens":0}`, true},
		{`null`, false},
		{`{"input_tokens":1,"reasoning_tokens":9}`, false}, // a key it does not know
		{`{"Input_Tokens":1}`, false},                      // encoding/json folds case
		{`{"input_tokens":1.5}`, false},                    // encoding/json refuses it
		{`{"input_tokens":"1"}`, false},
		{`{"input_tokens":99999999999999999999}`, false},
		{`{"input_tokens":1,}`, false},
		{`[1,2]`, false},
	} {
		line := []byte(head + `,"usage":` + tc.usage + "}")
		var fast, slow Record
		ok := decodeFast(line, &fast)
		if ok != tc.fast {
			t.Errorf("%s: fast decoder took it: %v, want %v", tc.usage, ok, tc.fast)
		}
		err := json.Unmarshal(line, &slow)
		if ok && (err != nil || !reflect.DeepEqual(fast, slow)) {
			t.Errorf("%s: disagreement (%v):\n%+v\n%+v", tc.usage, err, fast.Usage, slow.Usage)
		}
		// decodeRecord gives what encoding/json gives, either way.
		r, hint := decodeRecord(line)
		if (hint == "") != (err == nil) || err == nil && !reflect.DeepEqual(r, slow) {
			t.Errorf("%s: decodeRecord %+v %q, encoding/json %+v %v", tc.usage, r.Usage, hint, slow.Usage, err)
		}
	}
}

// A usage line is one of the seeds the decoder fuzzers start from (the
// golden file assistant-usage.jsonl); this checks a written record
// survives the fuzzers' round trip: decode, encode, same bytes.
func TestUsageEncodesBackToTheSameLine(t *testing.T) {
	r := AssistantMessage("gpt-5.4", "ok").WithUsage(1200, 85)
	r.Seq, r.At, r.Tokens = 7, time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC), 3
	r.Usage.CacheReadTokens = 1000
	line, err := appendRecord(nil, &r)
	if err != nil {
		t.Fatal(err)
	}
	back, hint := decodeRecord(line)
	if hint != "" || !reflect.DeepEqual(back, r) {
		t.Fatalf("%s decodes to %+v (%s)", line, back, hint)
	}
}
