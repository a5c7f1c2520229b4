package summarize

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func chatAnswer(content string) string {
	b, _ := json.Marshal(map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": content}}},
	})
	return string(b)
}

func TestOpenAISendsAProperRequest(t *testing.T) {
	type seen struct {
		method, path, auth, ctype string
		body                      chatRequest
		err                       error
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{method: r.Method, path: r.URL.Path, auth: r.Header.Get("Authorization"), ctype: r.Header.Get("Content-Type")}
		raw, _ := io.ReadAll(r.Body)
		s.err = json.Unmarshal(raw, &s.body)
		got <- s
		io.WriteString(w, chatAnswer("  The user waters tomatoes daily.  "))
	}))
	defer srv.Close()

	t.Setenv("PICOSESS_TEST_KEY", "sk-test-123")
	sz, err := New(SummarizerSettings{Kind: KindOpenAI, BaseURL: srv.URL + "/v1/", Model: "llama3.2", APIKeyEnv: "PICOSESS_TEST_KEY"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := gardenRequest()
	res, err := sz.Summarize(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "The user waters tomatoes daily." || res.By != "openai:llama3.2" {
		t.Fatalf("result %+v", res)
	}
	s := <-got
	if s.err != nil {
		t.Fatalf("request body is not JSON: %v", s.err)
	}
	if s.method != http.MethodPost || s.path != "/v1/chat/completions" {
		t.Fatalf("request %s %s", s.method, s.path)
	}
	if s.auth != "Bearer sk-test-123" || s.ctype != "application/json" {
		t.Fatalf("headers: auth %q, content-type %q", s.auth, s.ctype)
	}
	b := s.body
	if b.Model != "llama3.2" || b.Stream || b.MaxTokens != req.TargetTokens || len(b.Messages) != 2 {
		t.Fatalf("body %+v", b)
	}
	if b.Messages[0].Role != "system" || b.Messages[0].Content != DefaultPrompt {
		t.Fatalf("system message %+v", b.Messages[0])
	}
	user := b.Messages[1]
	if user.Role != "user" || !strings.Contains(user.Content, "Previous summary:\n"+req.Previous) ||
		!strings.Contains(user.Content, "[7] tool: weather returned: Lisbon 34C") ||
		!strings.Contains(user.Content, "at most 80 tokens") {
		t.Fatalf("user message:\n%s", user.Content)
	}
}

func TestOpenAINoKeyMeansNoAuthHeader(t *testing.T) {
	var auth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		io.WriteString(w, chatAnswer("ok summary"))
	}))
	defer srv.Close()
	o := &OpenAI{BaseURL: srv.URL, Model: "m"}
	if _, err := o.Summarize(context.Background(), gardenRequest()); err != nil {
		t.Fatal(err)
	}
	if a := auth.Load().(string); a != "" {
		t.Fatalf("sent Authorization %q without a key", a)
	}
	// A key variable that is named but empty is a configuration error.
	t.Setenv("PICOSESS_EMPTY_KEY", "")
	_, err := NewOpenAI(SummarizerSettings{BaseURL: srv.URL, Model: "m", APIKeyEnv: "PICOSESS_EMPTY_KEY"}, func(string) string { return "" })
	if !errors.Is(err, ErrSettings) || !strings.Contains(err.Error(), "$PICOSESS_EMPTY_KEY") {
		t.Fatalf("got %v", err)
	}
}

func TestOpenAIRetriesServerErrors(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, `{"error":{"message":"overloaded"}}`, http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, chatAnswer("third time lucky"))
	}))
	defer srv.Close()
	o := &OpenAI{BaseURL: srv.URL, Model: "m", Retries: 2, Backoff: time.Millisecond}
	res, err := o.Summarize(context.Background(), gardenRequest())
	if err != nil || res.Text != "third time lucky" || calls.Load() != 3 {
		t.Fatalf("res %+v err %v after %d calls", res, err, calls.Load())
	}
	// Out of retries: the last status is in the error.
	calls.Store(-10)
	o.Retries = 1
	_, err = o.Summarize(context.Background(), gardenRequest())
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != 503 || !strings.Contains(err.Error(), "overloaded") || !strings.Contains(err.Error(), "2 attempt(s)") {
		t.Fatalf("got %v", err)
	}
}

func TestOpenAIDoesNotRetryClientErrors(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, `{"error":{"message":"invalid api key"}}`, http.StatusUnauthorized)
	}))
	defer srv.Close()
	o := &OpenAI{BaseURL: srv.URL, Model: "m", Retries: 3, Backoff: time.Millisecond}
	_, err := o.Summarize(context.Background(), gardenRequest())
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != 401 || calls.Load() != 1 {
		t.Fatalf("got %v after %d calls", err, calls.Load())
	}
}

func TestOpenAITimesOut(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select { // never answers while the client waits
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	o := &OpenAI{BaseURL: srv.URL, Model: "m", Timeout: 50 * time.Millisecond, Retries: 1, Backoff: time.Millisecond}
	_, err := o.Summarize(context.Background(), gardenRequest())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a deadline error, got %v", err)
	}
	if calls.Load() != 2 {
		t.Fatalf("a timeout should be retried: %d calls", calls.Load())
	}
	// The caller's cancellation stops retrying at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := o.Summarize(ctx, gardenRequest()); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestOpenAIGarbageAndEmptyAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       error
		mention    string
	}{
		{"html", "<html>502 Bad Gateway</html>", ErrBadResponse, "<html>502"},
		{"no choices", `{"choices":[]}`, ErrBadResponse, "choices"},
		{"wrong shape", `{"result":"a summary"}`, ErrBadResponse, "result"},
		{"null content", `{"choices":[{"message":{"content":null}}]}`, ErrBadResponse, "content"},
		{"empty content", chatAnswer("   "), ErrEmptySummary, "finish_reason"},
		{"empty body", "", ErrBadResponse, "empty body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			o := &OpenAI{BaseURL: srv.URL, Model: "m", Retries: 2, Backoff: time.Millisecond}
			_, err := o.Summarize(context.Background(), gardenRequest())
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("got %v, want %v mentioning %q", err, tc.want, tc.mention)
			}
			if calls.Load() != 1 {
				t.Fatalf("garbage was retried: %d calls", calls.Load())
			}
		})
	}
}

func TestOpenAIConnectionRefusedIsRetriedThenReported(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	o := &OpenAI{BaseURL: url, Model: "m", Retries: 1, Backoff: time.Millisecond}
	_, err := o.Summarize(context.Background(), gardenRequest())
	if err == nil || !strings.Contains(err.Error(), "2 attempt(s)") || !strings.Contains(err.Error(), url) {
		t.Fatalf("got %v", err)
	}
}

func TestOpenAIRetriesRateLimitAndReadsRetryAfter(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "7")
			http.Error(w, `{"error":{"message":"slow down"}}`, http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, chatAnswer("after the pause"))
	}))
	defer srv.Close()
	// With no retries the 429 and its Retry-After come back in the error.
	o := &OpenAI{BaseURL: srv.URL, Model: "m"}
	_, err := o.Summarize(context.Background(), gardenRequest())
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != 429 || he.RetryAfter != 7*time.Second {
		t.Fatalf("got %v (%+v)", err, he)
	}
	// A cancelled caller is not kept waiting for the Retry-After pause.
	calls.Store(0)
	o.Retries = 1
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for calls.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err = o.Summarize(ctx, gardenRequest())
	if !errors.Is(err, context.Canceled) || calls.Load() != 1 {
		t.Fatalf("cancelled during the first attempt or the Retry-After pause: %v after %d calls", err, calls.Load())
	}
}
