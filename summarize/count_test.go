package summarize

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pkoukk/tiktoken-go"
)

func TestTiktokenKnownCounts(t *testing.T) {
	o200k := tk(t)
	if o200k.Name() != "tiktoken:o200k_base" {
		t.Fatalf("name %q", o200k.Name())
	}
	cl100k, err := NewTiktoken("cl100k_base")
	if err != nil {
		t.Fatal(err)
	}
	// Reference counts from OpenAI's tiktoken.
	for _, tc := range []struct {
		c    Counter
		text string
		want int
	}{
		{o200k, "hello world", 2},
		{cl100k, "hello world", 2},
		{cl100k, "tiktoken is great!", 6},
		{o200k, "", 0},
		// Special tokens in user text are ordinary text, never one token.
		{o200k, "<|endoftext|>", 7},
	} {
		if got := tc.c.Count(tc.text); got != tc.want {
			t.Errorf("%s.Count(%q) = %d, want %d", tc.c.Name(), tc.text, got, tc.want)
		}
	}
	if _, err := NewTiktoken("gpt9_base"); !errors.Is(err, ErrSettings) {
		t.Fatalf("unknown encoding: %v", err)
	}
}

func TestNewCounterFollowsSettings(t *testing.T) {
	c, err := NewCounter(Settings{Counter: CounterEstimate})
	if err != nil || c.Name() != "estimate" {
		t.Fatalf("estimate: %v %v", c, err)
	}
	c, err = NewCounter(Settings{Encoding: "cl100k_base"})
	if err != nil || c.Name() != "tiktoken:cl100k_base" {
		t.Fatalf("cl100k: %v %v", c, err)
	}
}

func TestMessageTokensCountsFrameRoleAndToolCalls(t *testing.T) {
	c := tk(t)
	plain := ChatMessage{Role: "user", Content: "hello world"}
	if got, want := MessageTokens(c, plain), TokensPerMessage+c.Count("user")+2; got != want {
		t.Fatalf("plain: %d, want %d", got, want)
	}
	call := ChatMessage{Role: "assistant", ToolCalls: []ToolCall{{ID: "call_1", Type: "function",
		Function: FunctionCall{Name: "read_file", Arguments: `{"path":"notes.txt"}`}}}}
	want := TokensPerMessage + c.Count("assistant") + TokensPerToolCall + c.Count("call_1") + c.Count("read_file") + c.Count(`{"path":"notes.txt"}`)
	if got := MessageTokens(c, call); got != want {
		t.Fatalf("tool call: %d, want %d", got, want)
	}
	res := ChatMessage{Role: "tool", Content: "buy milk", ToolCallID: "call_1"}
	if got, want := MessageTokens(c, res), TokensPerMessage+c.Count("tool")+c.Count("buy milk")+c.Count("call_1"); got != want {
		t.Fatalf("tool result: %d, want %d", got, want)
	}
	// The same frame with the estimate counter.
	e := Estimate{}
	if got, want := MessageTokens(e, plain), TokensPerMessage+e.Count("user")+e.Count("hello world"); got != want {
		t.Fatalf("estimate frame: %d, want %d", got, want)
	}
}

func TestEstimateIsCloseToTiktoken(t *testing.T) {
	c := tk(t)
	texts := []string{
		"The quick brown fox jumps over the lazy dog. It was not amused, and neither was the farmer.",
		"Please remind me to call Bob at 5pm tomorrow about the Lisbon trip on 2026-04-09.",
		`func main() { fmt.Println("hello, world"); os.Exit(0) }`,
		strings.Repeat("Summaries must keep tool turns and never split a call from its result. ", 20),
	}
	for _, s := range texts {
		exact, est := c.Count(s), Estimate{}.Count(s)
		if d := float64(est-exact) / float64(exact); d > 0.35 || d < -0.35 {
			t.Errorf("estimate %d vs tiktoken %d (%.0f%%) for %q", est, exact, d*100, s[:min(40, len(s))])
		}
	}
	if n := (Estimate{}).Count("你好世界"); n != 4 {
		t.Errorf("CJK: %d, want 4", n)
	}
}

const offlineHelperEnv = "PICOSESS_SUMMARIZE_OFFLINE_HELPER"

// TestTiktokenTouchesNoNetwork runs the counter in a child process whose
// HTTP(S) proxy is a listener of this test: any attempt to fetch a BPE file
// would reach it. A control child using tiktoken's own default loader
// proves the trap catches a fetch.
func TestTiktokenTouchesNoNetwork(t *testing.T) {
	if os.Getenv(offlineHelperEnv) != "" {
		t.Skip("helper process")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int64
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			conn.Close() // refuse to proxy anything
		}
	}()
	run := func(mode string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestOfflineHelper$", "-test.count=1", "-test.v")
		proxy := "http://" + ln.Addr().String()
		cmd.Env = append(os.Environ(), offlineHelperEnv+"="+mode,
			"HTTP_PROXY="+proxy, "HTTPS_PROXY="+proxy, "http_proxy="+proxy, "https_proxy="+proxy,
			"NO_PROXY=", "no_proxy=", "TIKTOKEN_CACHE_DIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("offline")
	if err != nil {
		t.Fatalf("offline counter failed: %v\n%s", err, out)
	}
	if !strings.Contains(out, "counted 2 tokens") {
		t.Fatalf("helper did not count:\n%s", out)
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("the offline counter opened %d connection(s) through the proxy", n)
	}
	out, _ = run("control")
	if conns.Load() == 0 {
		t.Fatalf("control: tiktoken's downloading loader did not reach the trap proxy, so the test proves nothing:\n%s", out)
	}
}

// TestOfflineHelper is the child of TestTiktokenTouchesNoNetwork.
func TestOfflineHelper(t *testing.T) {
	mode := os.Getenv(offlineHelperEnv)
	switch mode {
	case "":
		t.Skip("only run as a helper process")
	case "offline":
		c, err := NewTiktoken("o200k_base")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("counted %d tokens\n", c.Count("hello world"))
	case "control":
		// Belt and braces: should the proxy setting be ignored, refuse any
		// dial that is not to this machine rather than reach the internet.
		tr := http.DefaultTransport.(*http.Transport)
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return nil, fmt.Errorf("test: refusing to dial %s", addr)
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
		_, err := tiktoken.GetEncoding("cl100k_base")
		fmt.Printf("default loader: %v\n", err)
	}
}

// benchText is mixed prose, code and JSON, like a chat history.
func benchText() string {
	var b strings.Builder
	for i := 0; b.Len() < 64<<10; i++ {
		fmt.Fprintf(&b, "User %d asked whether the Lisbon trip on 2026-04-%02d is still on; the assistant checked the calendar. ", i, i%28+1)
		b.WriteString(`{"tool":"read_file","arguments":{"path":"notes/garden.md"}} -> func main() { fmt.Println("ok") }` + "\n")
	}
	return b.String()
}

func BenchmarkCount(b *testing.B) {
	text := benchText()
	for _, c := range []Counter{tk(b), Estimate{}} {
		b.Run(c.Name(), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			tokens := 0
			for b.Loop() {
				tokens += c.Count(text)
			}
			b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

func BenchmarkNewTiktoken(b *testing.B) {
	for b.Loop() {
		if _, err := NewTiktoken("o200k_base"); err != nil {
			b.Fatal(err)
		}
	}
}
