package summarize

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSettingsZeroValueGivesDefaults(t *testing.T) {
	s := Settings{}.WithDefaults()
	if s.MessageThreshold != 20 || s.TokenPercent != 75 || s.KeepRecent != 4 || s.ContextWindow != DefaultContextWindow {
		t.Fatalf("defaults: got %+v", s)
	}
	if s.Summarizer.Kind != KindExtractive || s.Counter != CounterTiktoken || s.Encoding != "o200k_base" {
		t.Fatalf("default summarizer/counter: got %q %q %q", s.Summarizer.Kind, s.Counter, s.Encoding)
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestSettingsMergeOverridesFieldByField(t *testing.T) {
	base := Settings{MessageThreshold: 30, KeepRecent: 6, ContextWindow: 32000,
		Summarizer: SummarizerSettings{Kind: KindOpenAI, BaseURL: "http://a/v1", Model: "m1", Timeout: Duration(time.Minute)}}
	agent := Settings{KeepRecent: 2, Summarizer: SummarizerSettings{Model: "m2"}, Limits: Limits{MaxMessages: 500}}
	got := base.Merge(agent)
	want := Settings{MessageThreshold: 30, KeepRecent: 2, ContextWindow: 32000, Limits: Limits{MaxMessages: 500},
		Summarizer: SummarizerSettings{Kind: KindOpenAI, BaseURL: "http://a/v1", Model: "m2", Timeout: Duration(time.Minute)}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("merge:\n got %+v\nwant %+v", got, want)
	}
	// A different summarizer kind does not inherit the other kind's options.
	got = base.Merge(Settings{Summarizer: SummarizerSettings{Kind: KindCommand, Command: []string{"sum"}}})
	if got.Summarizer.BaseURL != "" || got.Summarizer.Model != "" || got.Summarizer.Timeout != Duration(time.Minute) {
		t.Fatalf("kind change kept foreign options or lost timeout: %+v", got.Summarizer)
	}
	// Disabled survives WithDefaults.
	got = base.Merge(Settings{MessageThreshold: Disabled}).WithDefaults()
	if got.MessageThreshold != Disabled {
		t.Fatalf("disabled threshold became %d", got.MessageThreshold)
	}
}

func TestSettingsJSONIsSnakeCase(t *testing.T) {
	in := `{"message_threshold": 10, "token_percent": 60, "context_window": 8192, "keep_recent": 3,
	  "summary_tokens": 200, "counter": "estimate", "encoding": "cl100k_base",
	  "summarizer": {"kind": "openai", "base_url": "http://localhost:11434/v1", "model": "llama3",
	                 "api_key_env": "KEY", "timeout": "30s", "retries": 4, "backoff": 0.25}}`
	var s Settings
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	want := Settings{MessageThreshold: 10, TokenPercent: 60, ContextWindow: 8192, KeepRecent: 3, SummaryTokens: 200,
		Counter: "estimate", Encoding: "cl100k_base",
		Summarizer: SummarizerSettings{Kind: "openai", BaseURL: "http://localhost:11434/v1", Model: "llama3", APIKeyEnv: "KEY",
			Timeout: Duration(30 * time.Second), Retries: 4, Backoff: Duration(250 * time.Millisecond)}}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("decode:\n got %+v\nwant %+v", s, want)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(Settings{KeepRecent: 2})
	if string(out) != `{"keep_recent":2}` {
		t.Fatalf("zero fields should be omitted: %s", out)
	}
	var d Duration
	if err := json.Unmarshal([]byte(`"soon"`), &d); err == nil || !strings.Contains(err.Error(), "soon") {
		t.Fatalf("bad duration: err %v", err)
	}
}

func TestSettingsValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		s     Settings
		field string
	}{
		{Settings{TokenPercent: 150}, "token_percent"},
		{Settings{KeepRecent: -5}, "keep_recent"},
		{Settings{Counter: "words"}, "counter"},
		{Settings{Encoding: "gpt9_base"}, "encoding"},
		{Settings{Summarizer: SummarizerSettings{Kind: "magic"}}, "summarizer.kind"},
		{Settings{Summarizer: SummarizerSettings{Kind: KindOpenAI, Model: "m"}}, "summarizer.base_url"},
		{Settings{Summarizer: SummarizerSettings{Kind: KindCommand}}, "summarizer.command"},
	} {
		err := tc.s.Validate()
		if !errors.Is(err, ErrSettings) || !strings.Contains(err.Error(), "summarize."+tc.field) {
			t.Errorf("%+v: got %v, want an ErrSettings naming %s", tc.s, err, tc.field)
		}
	}
}
