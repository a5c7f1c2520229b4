package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults of Settings. A zero field in Settings means "use the default"
// (or, after Merge, "inherit"); see Settings.WithDefaults.
const (
	DefaultMessageThreshold = 20
	DefaultTokenPercent     = 75
	DefaultContextWindow    = 128000
	DefaultKeepRecent       = 4
	// DefaultSummaryTokens is the target size of a summary.
	DefaultSummaryTokens = 512
	// DefaultMaxMessageChars: longer messages are trimmed, with a note,
	// before they are given to a summarizer.
	DefaultMaxMessageChars = 4000
	// DefaultMaxToolResultChars: tool results are condensed to this many
	// characters before they are given to a summarizer.
	DefaultMaxToolResultChars = 400
	// DefaultMaxToolArgsChars: tool-call arguments are condensed to this.
	DefaultMaxToolArgsChars = 120
	// DefaultInputPercent: one summarizer call is given at most this
	// percentage of context_window; a longer run of messages is folded in
	// several calls, each building on the previous one's summary.
	DefaultInputPercent = 50
	// DefaultEncoding is the tiktoken encoding of the default counter.
	DefaultEncoding = "o200k_base"
	// DefaultTimeout bounds one call of the openai and command summarizers.
	DefaultTimeout = 60 * time.Second
	// DefaultRetries is how many times the openai summarizer retries a
	// failed call (5xx, 429, timeout, connection error).
	DefaultRetries = 2
	// DefaultBackoff is the first retry delay; it doubles on each retry.
	DefaultBackoff = 500 * time.Millisecond
)

// Disabled, given to an int threshold or limit, switches it off. Zero
// cannot mean "off" because zero means "inherit the default".
const Disabled = -1

// Summarizer kinds.
const (
	KindExtractive = "extractive"
	KindOpenAI     = "openai"
	KindCommand    = "command"
)

// Counter kinds.
const (
	CounterTiktoken = "tiktoken"
	CounterEstimate = "estimate"
)

// Summarize says when a session is summarized, how much of it, by whom, and
// how tokens are counted. It is the "summarize" block of config.json (and of
// each agent's override); every field is optional. A zero value means "the
// default" (or, for an override given to Merge, "inherit"); Disabled (-1)
// switches a threshold or limit off.
type Summarize struct {
	// MessageThreshold: summarize when the active history holds this many
	// messages since the last summary.
	MessageThreshold int `json:"message_threshold,omitempty"`
	// TokenPercent: summarize when the active history (summary included)
	// takes this percentage of ContextWindow.
	TokenPercent int `json:"token_percent,omitempty"`
	// ContextWindow is the model's context window in tokens.
	ContextWindow int `json:"context_window,omitempty"`
	// KeepRecent: the newest messages that are never summarized.
	KeepRecent int `json:"keep_recent,omitempty"`
	// SummaryTokens is the target size of a summary in tokens.
	SummaryTokens int `json:"summary_tokens,omitempty"`
	// MaxMessageChars, MaxToolResultChars and MaxToolArgsChars condense
	// what a summarizer is given (see BuildRequest).
	MaxMessageChars    int `json:"max_message_chars,omitempty"`
	MaxToolResultChars int `json:"max_tool_result_chars,omitempty"`
	MaxToolArgsChars   int `json:"max_tool_args_chars,omitempty"`
	// MaxInputTokens bounds what one summarizer call is given (default
	// DefaultInputPercent of ContextWindow); more is folded in chunks.
	MaxInputTokens int `json:"max_input_tokens,omitempty"`
	// Counter is "tiktoken" (default) or "estimate"; Encoding names the
	// tiktoken encoding (o200k_base default, cl100k_base, p50k_base,
	// r50k_base).
	Counter  string `json:"counter,omitempty"`
	Encoding string `json:"encoding,omitempty"`
	// Summarizer chooses and configures the summarizer.
	Summarizer Summarizer `json:"summarizer,omitzero"`
	// Limits are the agent's limits block (not part of the summarize
	// block in config.json; Agent copies them in): beyond either one the
	// session is due for summarizing.
	Limits Limits `json:"-"`
}

// Summarizer choose the summarizer (Kind) and configure it. Only
// the fields of the chosen kind are read.
type Summarizer struct {
	// Kind is "extractive" (default), "openai" or "command".
	Kind string `json:"kind,omitempty"`

	// openai: BaseURL of an OpenAI-compatible API, including its version
	// path (https://api.openai.com/v1, http://localhost:11434/v1); the
	// request goes to BaseURL + "/chat/completions". APIKeyEnv names the
	// environment variable holding the key (empty: no Authorization header,
	// as local servers need none).
	BaseURL   string `json:"base_url,omitempty"`
	Model     string `json:"model,omitempty"`
	APIKeyEnv string `json:"api_key_env,omitempty"`
	// Prompt replaces the built-in instructions given to the model.
	Prompt string `json:"prompt,omitempty"`

	// command: the program and its arguments (no shell).
	Command []string `json:"command,omitempty"`

	// Timeout bounds one attempt (openai) or one run (command).
	Timeout Duration `json:"timeout,omitempty"`
	// Retries: further attempts after a retryable failure (openai).
	Retries int `json:"retries,omitempty"`
	// Backoff is the first delay between attempts; it doubles each time.
	Backoff Duration `json:"backoff,omitempty"`
}

// Duration is a time.Duration that reads from JSON as a Go duration string
// ("30s", "1m30s") or a number of seconds, and writes as a string.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "30s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads "30s", "1h30m", "7d", "2w" or 30 (seconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("want a duration such as \"30s\", \"12h\" or \"7d\", or a number of seconds; got %s", b)
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

// ParseDuration reads a Go duration ("90m", "1h30m") that may also use
// days (d, 24h) and weeks (w, 7d): "30d", "1w2d", "1d12h".
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	s = strings.TrimSpace(s)
	var total time.Duration
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}} {
		i := strings.Index(s, u.suffix)
		if i < 0 {
			continue
		}
		n, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: want a duration such as \"30s\", \"12h\" or \"7d\"", orig)
		}
		total += time.Duration(n * float64(u.unit))
		s = s[i+1:]
	}
	if s != "" {
		v, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("duration %q: want a duration such as \"30s\", \"12h\" or \"7d\"", orig)
		}
		total += v
	}
	if strings.TrimSpace(orig) == "" {
		return 0, fmt.Errorf("empty duration: want a duration such as \"30s\", \"12h\" or \"7d\"")
	}
	return total, nil
}

// Merge returns s with every non-zero field of override laid over it: the
// per-agent block overrides the default block field by field. Command is
// replaced whole when the override gives one.
func (s Summarize) Merge(o Summarize) Summarize {
	pick := func(dst *int, v int) {
		if v != 0 {
			*dst = v
		}
	}
	pickS := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	pick(&s.MessageThreshold, o.MessageThreshold)
	pick(&s.TokenPercent, o.TokenPercent)
	pick(&s.ContextWindow, o.ContextWindow)
	pick(&s.KeepRecent, o.KeepRecent)
	pick(&s.SummaryTokens, o.SummaryTokens)
	pick(&s.MaxMessageChars, o.MaxMessageChars)
	pick(&s.MaxToolResultChars, o.MaxToolResultChars)
	pick(&s.MaxToolArgsChars, o.MaxToolArgsChars)
	pick(&s.MaxInputTokens, o.MaxInputTokens)
	pickS(&s.Counter, o.Counter)
	pickS(&s.Encoding, o.Encoding)
	pick(&s.Limits.MaxMessages, o.Limits.MaxMessages)
	pick(&s.Limits.MaxTokens, o.Limits.MaxTokens)

	ss, os := &s.Summarizer, o.Summarizer
	if os.Kind != "" && os.Kind != ss.Kind {
		// A different kind brings its own options; keep only the
		// kind-neutral ones of the base.
		*ss = Summarizer{Kind: os.Kind, Timeout: ss.Timeout, Retries: ss.Retries, Backoff: ss.Backoff}
	}
	pickS(&ss.Kind, os.Kind)
	pickS(&ss.BaseURL, os.BaseURL)
	pickS(&ss.Model, os.Model)
	pickS(&ss.APIKeyEnv, os.APIKeyEnv)
	pickS(&ss.Prompt, os.Prompt)
	if len(os.Command) > 0 {
		ss.Command = append([]string(nil), os.Command...)
	}
	if os.Timeout != 0 {
		ss.Timeout = os.Timeout
	}
	pick(&ss.Retries, os.Retries)
	if os.Backoff != 0 {
		ss.Backoff = os.Backoff
	}
	return s
}

// WithDefaults returns s with every zero field set to its default. Fields
// set to Disabled stay Disabled.
func (s Summarize) WithDefaults() Summarize {
	def := func(dst *int, v int) {
		if *dst == 0 {
			*dst = v
		}
	}
	def(&s.MessageThreshold, DefaultMessageThreshold)
	def(&s.TokenPercent, DefaultTokenPercent)
	def(&s.ContextWindow, DefaultContextWindow)
	def(&s.KeepRecent, DefaultKeepRecent)
	def(&s.SummaryTokens, DefaultSummaryTokens)
	def(&s.MaxMessageChars, DefaultMaxMessageChars)
	def(&s.MaxToolResultChars, DefaultMaxToolResultChars)
	def(&s.MaxToolArgsChars, DefaultMaxToolArgsChars)
	if s.MaxInputTokens == 0 && s.ContextWindow > 0 {
		s.MaxInputTokens = s.ContextWindow * DefaultInputPercent / 100
	}
	if s.Counter == "" {
		s.Counter = CounterTiktoken
	}
	if s.Encoding == "" {
		s.Encoding = DefaultEncoding
	}
	if s.Summarizer.Kind == "" {
		s.Summarizer.Kind = KindExtractive
	}
	if s.Summarizer.Timeout == 0 {
		s.Summarizer.Timeout = Duration(DefaultTimeout)
	}
	def(&s.Summarizer.Retries, DefaultRetries)
	if s.Summarizer.Backoff == 0 {
		s.Summarizer.Backoff = Duration(DefaultBackoff)
	}
	return s
}

// ErrSettings: a setting has a value that cannot be used.
var ErrSettings = errors.New("summarize: invalid settings")

// Validate reports the first unusable value, naming its JSON field.
func (s Summarize) Validate() error { return s.validate("summarize") }

func (s Summarize) validate(path string) error {
	bad := func(field string, v any, want string) error {
		return &settingsError{FieldError{Path: path + "." + field, Msg: fmt.Sprintf("%v: %s", v, want)}}
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"message_threshold", s.MessageThreshold},
		{"token_percent", s.TokenPercent},
		{"context_window", s.ContextWindow},
		{"keep_recent", s.KeepRecent},
		{"summary_tokens", s.SummaryTokens},
		{"max_message_chars", s.MaxMessageChars},
		{"max_tool_result_chars", s.MaxToolResultChars},
		{"max_tool_args_chars", s.MaxToolArgsChars},
		{"max_input_tokens", s.MaxInputTokens},
		{"limits.max_messages", s.Limits.MaxMessages},
		{"limits.max_tokens", s.Limits.MaxTokens},
		{"summarizer.retries", s.Summarizer.Retries},
	} {
		if f.v < Disabled {
			return bad(f.name, f.v, "want 0 (default), -1 (off) or a positive number")
		}
	}
	if s.TokenPercent > 100 {
		return bad("token_percent", s.TokenPercent, "want at most 100")
	}
	switch s.Counter {
	case "", CounterTiktoken, CounterEstimate:
	default:
		return bad("counter", s.Counter, `want "tiktoken" or "estimate"`)
	}
	if s.Encoding != "" && !slices.Contains(Encodings(), s.Encoding) {
		return bad("encoding", s.Encoding, "want one of "+strings.Join(Encodings(), ", "))
	}
	switch s.Summarizer.Kind {
	case "", KindExtractive:
	case KindOpenAI:
		if s.Summarizer.BaseURL == "" {
			return bad("summarizer.base_url", `""`, "the openai summarizer needs a base URL")
		}
		if s.Summarizer.Model == "" {
			return bad("summarizer.model", `""`, "the openai summarizer needs a model")
		}
	case KindCommand:
		if len(s.Summarizer.Command) == 0 || s.Summarizer.Command[0] == "" {
			return bad("summarizer.command", s.Summarizer.Command, "the command summarizer needs a program")
		}
	default:
		return bad("summarizer.kind", s.Summarizer.Kind, `want "extractive", "openai" or "command"`)
	}
	if s.Summarizer.Timeout < 0 {
		return bad("summarizer.timeout", time.Duration(s.Summarizer.Timeout), "want a positive duration")
	}
	return nil
}

// Encodings are the tiktoken encodings the token counter knows.
func Encodings() []string { return []string{"cl100k_base", "o200k_base", "p50k_base", "r50k_base"} }

// settingsError is a FieldError that also matches ErrSettings, so that
// callers of summarize can keep matching summarize.ErrSettings.
type settingsError struct{ FieldError }

func (e *settingsError) Unwrap() []error { return []error{ErrConfig, ErrSettings} }

// UnmarshalJSON reads the summarize block. keep_recent 0 means "keep
// none", which the zero value cannot say (zero means the default), so it
// becomes Disabled.
func (s *Summarize) UnmarshalJSON(b []byte) error {
	type plain Summarize
	aux := struct {
		*plain
		KeepRecent *int `json:"keep_recent"`
	}{plain: (*plain)(s)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	if s.Encoding == CounterEstimate {
		// "encoding": "estimate" is how config.json chooses the estimate.
		s.Counter, s.Encoding = CounterEstimate, ""
	}
	if aux.KeepRecent != nil {
		s.KeepRecent = *aux.KeepRecent
		if s.KeepRecent == 0 {
			s.KeepRecent = Disabled
		}
	}
	return nil
}

// As lets errors.As find the FieldError inside.
func (e *settingsError) As(target any) bool {
	if p, ok := target.(**FieldError); ok {
		*p = &e.FieldError
		return true
	}
	return false
}
