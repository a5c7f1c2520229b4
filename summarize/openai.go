package summarize

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultPrompt is the instruction the openai summarizer gives the model.
const DefaultPrompt = "You maintain the running summary of a conversation between a user and an assistant. " +
	"Merge the previous summary (if any) with the new messages into one updated summary. " +
	"Keep facts, names, numbers, decisions, open questions and what tools were used for and found. " +
	"Write plain sentences, no preamble, in the language of the conversation."

// maxRetryAfter caps how long a server's Retry-After can make us wait.
const maxRetryAfter = 30 * time.Second

// ErrBadResponse: the endpoint answered 2xx with something that is not a
// chat-completions response carrying a summary.
var ErrBadResponse = errors.New("summarize: bad response from summarizer endpoint")

// HTTPError is a non-2xx answer from the endpoint.
type HTTPError struct {
	URL    string
	Status int
	Body   string // excerpt
	// RetryAfter is the server's Retry-After (seconds form), 0 if none.
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("summarize: %s answered %d %s: %s", e.URL, e.Status, http.StatusText(e.Status), e.Body)
}

// retryable: the server may do better next time.
func (e *HTTPError) retryable() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout
}

// OpenAI summarizes with any OpenAI-compatible chat-completions endpoint
// (OpenAI, Ollama, llama.cpp's server, vLLM...). Each attempt is bounded by
// Timeout; 5xx, 429, timeouts and connection errors are retried Retries
// times, waiting Backoff, then twice that, and so on.
type OpenAI struct {
	BaseURL string // e.g. http://localhost:11434/v1
	Model   string
	APIKey  string // "" sends no Authorization header
	Prompt  string // "" means DefaultPrompt
	Timeout time.Duration
	Retries int
	Backoff time.Duration
	// Client is the HTTP client; nil means a fresh client with default
	// transport settings.
	Client *http.Client
}

// NewOpenAI configures the openai summarizer from settings, reading the API
// key from the environment variable the settings name (through getenv,
// normally os.Getenv).
func NewOpenAI(s SummarizerSettings, getenv func(string) string) (*OpenAI, error) {
	if s.BaseURL == "" || s.Model == "" {
		return nil, fmt.Errorf("%w: the openai summarizer needs summarizer.base_url and summarizer.model", ErrSettings)
	}
	o := &OpenAI{
		BaseURL: s.BaseURL, Model: s.Model, Prompt: s.Prompt,
		Timeout: time.Duration(s.Timeout), Retries: s.Retries, Backoff: time.Duration(s.Backoff),
	}
	if s.APIKeyEnv != "" {
		o.APIKey = getenv(s.APIKeyEnv)
		if o.APIKey == "" {
			return nil, fmt.Errorf("%w: summarizer.api_key_env names $%s, which is empty or unset", ErrSettings, s.APIKeyEnv)
		}
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	return o, nil
}

// Endpoint is the URL requests go to.
func (o *OpenAI) Endpoint() string {
	return strings.TrimRight(o.BaseURL, "/") + "/chat/completions"
}

type chatRequest struct {
	Model       string        `json:"model"`
	Messages    []ChatMessage `json:"messages"`
	Temperature float64       `json:"temperature"`
	MaxTokens   int           `json:"max_tokens,omitempty"`
	Stream      bool          `json:"stream"`
}

type chatResponse struct {
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
}

// Summarize asks the model for the new summary.
func (o *OpenAI) Summarize(ctx context.Context, req Request) (Result, error) {
	prompt := o.Prompt
	if prompt == "" {
		prompt = DefaultPrompt
	}
	body, err := json.Marshal(chatRequest{
		Model: o.Model,
		Messages: []ChatMessage{
			{Role: "system", Content: prompt},
			{Role: "user", Content: Transcript(req)},
		},
		MaxTokens: req.TargetTokens,
	})
	if err != nil {
		return Result{}, fmt.Errorf("summarize: encode request: %w", err)
	}
	attempts := o.Retries + 1
	wait := o.Backoff
	var last error
	for i := 1; i <= attempts; i++ {
		text, err := o.attempt(ctx, body)
		if err == nil {
			return Result{Text: text, By: KindOpenAI + ":" + o.Model}, nil
		}
		last = err
		if ctx.Err() != nil || !retryable(err) || i == attempts {
			break
		}
		pause := wait
		var he *HTTPError
		if errors.As(err, &he) && he.RetryAfter > pause {
			pause = he.RetryAfter // the server said when
		}
		select {
		case <-ctx.Done():
			return Result{}, fmt.Errorf("summarize: openai %s: attempt %d of %d: %w (then %w)", o.Endpoint(), i, attempts, last, ctx.Err())
		case <-time.After(pause):
		}
		wait *= 2
	}
	return Result{}, fmt.Errorf("summarize: openai %s (model %s), %d attempt(s): %w", o.Endpoint(), o.Model, attempts, last)
}

// attempt makes one bounded request and reads the summary from its answer.
func (o *OpenAI) attempt(ctx context.Context, body []byte) (string, error) {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, o.Endpoint(), bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("summarize: openai: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	if o.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+o.APIKey)
	}
	client := o.Client
	if client == nil {
		client = &http.Client{}
	}
	resp, err := client.Do(hreq)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return "", fmt.Errorf("summarize: read answer of %s: %w", o.Endpoint(), err)
	}
	if resp.StatusCode/100 != 2 {
		he := &HTTPError{URL: o.Endpoint(), Status: resp.StatusCode, Body: excerpt(raw)}
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			he.RetryAfter = min(time.Duration(secs)*time.Second, maxRetryAfter)
		}
		return "", he
	}
	var cr chatResponse
	if err := json.Unmarshal(raw, &cr); err != nil {
		return "", fmt.Errorf("%w: not JSON (%v): %s", ErrBadResponse, err, excerpt(raw))
	}
	if len(cr.Choices) == 0 || cr.Choices[0].Message.Content == nil {
		return "", fmt.Errorf("%w: no choices[0].message.content: %s", ErrBadResponse, excerpt(raw))
	}
	text := strings.TrimSpace(*cr.Choices[0].Message.Content)
	if text == "" {
		return "", fmt.Errorf("%w (finish_reason %q)", ErrEmptySummary, cr.Choices[0].FinishReason)
	}
	return text, nil
}

// retryable: a server error, rate limit, timeout or broken connection.
// A garbage or empty answer is not retried: the server would repeat it.
func retryable(err error) bool {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.retryable()
	}
	if errors.Is(err, ErrBadResponse) || errors.Is(err, ErrEmptySummary) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}

// excerpt is the start of a body, on one line, for an error message.
func excerpt(b []byte) string {
	s := oneLine(string(b))
	if s == "" {
		return "(empty body)"
	}
	return shorten(s, 200)
}

// Transcript renders a request as text for a model: the previous summary,
// then one line per message, then the size asked for.
func Transcript(req Request) string {
	var b strings.Builder
	if req.Previous != "" {
		b.WriteString("Previous summary:\n")
		b.WriteString(req.Previous)
		b.WriteString("\n\n")
	}
	fmt.Fprintf(&b, "New messages (seq %d to %d):\n", req.From, req.Through)
	for _, m := range req.Messages {
		fmt.Fprintf(&b, "[%d] %s: %s\n", m.Seq, m.Role, m.Text)
	}
	if req.TargetTokens > 0 {
		fmt.Fprintf(&b, "\nWrite the updated summary in at most %d tokens.", req.TargetTokens)
	}
	return b.String()
}
