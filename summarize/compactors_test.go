package summarize

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// openWithConfig opens a workspace in a temp dir under the config doc.
func openWithConfig(t *testing.T, doc string) *workspace.Workspace {
	t.Helper()
	cfg, _, err := workspace.ParseConfig("config.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	w, err := workspace.Open(t.TempDir(), &workspace.Options{Durability: workspace.DurabilityNever, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

const agentsConfig = `{
  "summarize": {"encoding": "estimate", "keep_recent": 2},
  "limits": {"max_messages": 300},
  "agents": {"list": [
    {"id": "support", "summarize": {"message_threshold": 50, "summarizer": {"kind": "command", "command": ["sum", "-q"]}}},
    {"id": "ops", "summarize": {"counter": "tiktoken", "encoding": "cl100k_base"}}
  ]}
}`

func TestCompactorsForUsesTheSessionsAgent(t *testing.T) {
	ctx := context.Background()
	w := openWithConfig(t, agentsConfig)
	dm := keying.Inbound{Channel: "telegram", ChatType: "direct", ChatID: "42", SenderID: "42"}
	mainS, err := w.SessionFor(ctx, "", dm)
	if err != nil {
		t.Fatal(err)
	}
	supS, err := w.SessionFor(ctx, "support", dm)
	if err != nil {
		t.Fatal(err)
	}
	cs := ForWorkspace(w)

	km, err := cs.For(ctx, mainS)
	if err != nil {
		t.Fatal(err)
	}
	if got := km.Settings.WithDefaults(); got.KeepRecent != 2 || got.MessageThreshold != DefaultMessageThreshold || got.Limits.MaxMessages != 300 {
		t.Errorf("main's settings: %+v", got)
	}
	if _, ok := km.Summarizer.(Extractive); !ok {
		t.Errorf("main's summarizer is %T, want Extractive", km.Summarizer)
	}
	if _, ok := km.Counter.(Estimate); !ok {
		t.Errorf("main's counter is %T, want Estimate", km.Counter)
	}

	ks, err := cs.For(ctx, supS)
	if err != nil {
		t.Fatal(err)
	}
	if got := ks.Settings.WithDefaults(); got.KeepRecent != 2 || got.MessageThreshold != 50 || got.Limits.MaxMessages != 300 {
		t.Errorf("support's settings (the workspace's block under agents.list's): %+v", got)
	}
	if c, ok := ks.Summarizer.(Command); !ok || strings.Join(c.Argv, " ") != "sum -q" {
		t.Errorf("support's summarizer: %#v", ks.Summarizer)
	}

	// Built once per agent; "" and "main" are one agent; a counter is
	// shared by agents that name the same one.
	again, err := cs.ForAgent("main")
	if err != nil || again != km {
		t.Errorf("ForAgent(main) = %p, %v; want For's %p", again, err, km)
	}
	if ks.Counter != km.Counter {
		t.Error("support and main name the same counter but got two")
	}
	ko, err := cs.ForAgent("OPS")
	if err != nil {
		t.Fatal(err)
	}
	if tk, ok := ko.Counter.(*Tiktoken); !ok || ko.Settings.WithDefaults().Encoding != "cl100k_base" {
		t.Errorf("ops's counter: %T %v", ko.Counter, tk)
	}
}

func TestCompactorsSummarizeWithTheAgentsSettings(t *testing.T) {
	ctx := context.Background()
	w := openWithConfig(t, `{"summarize": {"encoding": "estimate"},
	  "agents": {"list": [{"id": "support", "summarize": {"message_threshold": 6, "keep_recent": 2}}]}}`)
	dm := keying.Inbound{Channel: "telegram", ChatType: "direct", ChatID: "7", SenderID: "7"}
	cs := ForWorkspace(w)
	for _, agent := range []string{"main", "support"} {
		s, err := w.SessionFor(ctx, agent, dm)
		if err != nil {
			t.Fatal(err)
		}
		appendTurns(t, s, 1, 4) // 9 messages: due for support only
		k, err := cs.For(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		out, err := k.Maybe(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if want := agent == "support"; out.Summarized != want {
			t.Errorf("%s: summarized %v, want %v (%s)", agent, out.Summarized, want, out.Decision.Reason)
		}
	}
}

func TestCompactorsOpenAIReadsItsKeyThroughGetenv(t *testing.T) {
	w := openWithConfig(t, `{"summarize": {"encoding": "estimate",
	  "summarizer": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "tiny", "api_key_env": "TEST_KEY"}}}`)
	cs := ForWorkspace(w)
	cs.Getenv = func(k string) string {
		if k == "TEST_KEY" {
			return "sekrit"
		}
		return ""
	}
	k, err := cs.ForAgent("")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := k.Summarizer.(*OpenAI); !ok || o.APIKey != "sekrit" || o.Model != "tiny" || o.Retries != DefaultRetries {
		t.Fatalf("summarizer: %#v", k.Summarizer)
	}

	cs = ForWorkspace(w)
	cs.Getenv = func(string) string { return "" }
	_, err = cs.ForAgent("")
	if !errors.Is(err, ErrSettings) || !strings.Contains(err.Error(), `config for agent "main"`) || !strings.Contains(err.Error(), "$TEST_KEY") {
		t.Fatalf("unset key: %v", err)
	}
}

// A config built in Go skips the loader's checks: building the Compactor
// still refuses what cannot be used, naming the agent.
func TestCompactorsBadSettingsNameTheAgent(t *testing.T) {
	cfg := &workspace.Config{Summarize: Settings{Summarizer: SummarizerSettings{Kind: "magic"}}}
	_, err := ForConfig(cfg).ForAgent("Ops")
	if !errors.Is(err, ErrSettings) || !strings.Contains(err.Error(), `config for agent "ops"`) || !strings.Contains(err.Error(), "magic") {
		t.Fatalf("bad kind: %v", err)
	}
	cfg = &workspace.Config{Summarize: Settings{Counter: CounterTiktoken, Encoding: "nosuch_base"}}
	if _, err := ForConfig(cfg).ForAgent(""); !errors.Is(err, ErrSettings) || !strings.Contains(err.Error(), `config for agent "main"`) {
		t.Fatalf("bad encoding: %v", err)
	}
}

func TestCompactorsForConfigNilGivesDefaults(t *testing.T) {
	k, err := ForConfig(nil).ForAgent("anyone")
	if err != nil {
		t.Fatal(err)
	}
	if got := k.Settings.WithDefaults(); got.MessageThreshold != DefaultMessageThreshold || got.Counter != CounterTiktoken {
		t.Fatalf("defaults: %+v", got)
	}
}

func TestCompactorsConcurrentUseBuildsOnce(t *testing.T) {
	cs := ForConfig(nil)
	var wg sync.WaitGroup
	got := make([]*Compactor, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := cs.ForAgent([]string{"main", "ops"}[i%2])
			if err != nil {
				t.Error(err)
			}
			got[i] = k
		}()
	}
	wg.Wait()
	for i := range got {
		if got[i] != got[i%2] {
			t.Fatalf("agent %d got two compactors", i%2)
		}
	}
	if got[0] == got[1] || got[0].Counter != got[1].Counter {
		t.Fatal("want one compactor per agent and one shared counter")
	}
}
