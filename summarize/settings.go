package summarize

import (
	"github.com/picosess/picosess/workspace/config"
)

// Defaults of Settings. A zero field in Settings means "use the default"
// (or, after Merge, "inherit"); see Settings.WithDefaults. They are
// defined with the schema in package config.
const (
	DefaultMessageThreshold   = config.DefaultMessageThreshold
	DefaultTokenPercent       = config.DefaultTokenPercent
	DefaultContextWindow      = config.DefaultContextWindow
	DefaultKeepRecent         = config.DefaultKeepRecent
	DefaultSummaryTokens      = config.DefaultSummaryTokens
	DefaultMaxMessageChars    = config.DefaultMaxMessageChars
	DefaultMaxToolResultChars = config.DefaultMaxToolResultChars
	DefaultMaxToolArgsChars   = config.DefaultMaxToolArgsChars
	DefaultInputPercent       = config.DefaultInputPercent
	DefaultEncoding           = config.DefaultEncoding
	DefaultTimeout            = config.DefaultTimeout
	DefaultRetries            = config.DefaultRetries
	DefaultBackoff            = config.DefaultBackoff
)

// Disabled, given to an int threshold or limit, switches it off. Zero
// cannot mean "off" because zero means "inherit the default".
const Disabled = config.Disabled

// Summarizer kinds.
const (
	KindExtractive = config.KindExtractive
	KindOpenAI     = config.KindOpenAI
	KindCommand    = config.KindCommand
)

// Counter kinds.
const (
	CounterTiktoken = config.CounterTiktoken
	CounterEstimate = config.CounterEstimate
)

// Settings say when a session is summarized, how much of it, by whom, and
// how tokens are counted: the summarize block of config.json, whose one
// schema is config.Summarize.
type Settings = config.Summarize

// SummarizerSettings choose the summarizer (Kind) and configure it.
type SummarizerSettings = config.Summarizer

// Limits are hard ceilings on the active history.
type Limits = config.Limits

// Duration reads from JSON as "30s", "7d" or a number of seconds.
type Duration = config.Duration

// ErrSettings: a setting has a value that cannot be used.
var ErrSettings = config.ErrSettings

// on reports whether an int threshold is switched on.
func on(v int) bool { return v > 0 }
