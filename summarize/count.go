package summarize

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pkoukk/tiktoken-go"
	tiktokenloader "github.com/pkoukk/tiktoken-go-loader"
)

// Counter counts the tokens of a text. Implementations are safe for
// concurrent use.
type Counter interface {
	Count(text string) int
	// Name says which counter made a count ("tiktoken:o200k_base",
	// "estimate").
	Name() string
}

// Per-message overhead of the chat format, the same for every counter, so
// that a count is the text's tokens plus a fixed frame (OpenAI's published
// accounting: every message costs 3 tokens besides its role and content,
// and a reply is primed with 3 more).
const (
	TokensPerMessage  = 3
	TokensPerToolCall = 3
	TokensReplyPrime  = 3
)

// MessageTokens counts one chat message as a model sees it: frame, role,
// content, and each tool call's id, name and arguments, or the
// tool_call_id of a tool result.
func MessageTokens(c Counter, m ChatMessage) int {
	n := TokensPerMessage + c.Count(m.Role) + c.Count(m.Content)
	for _, tc := range m.ToolCalls {
		n += TokensPerToolCall + c.Count(tc.ID) + c.Count(tc.Function.Name) + c.Count(tc.Function.Arguments)
	}
	if m.ToolCallID != "" {
		n += c.Count(m.ToolCallID)
	}
	return n
}

// NewCounter returns the counter that settings name: tiktoken with
// s.Encoding (o200k_base by default) or the estimate.
func NewCounter(s Settings) (Counter, error) {
	s = s.WithDefaults()
	switch s.Counter {
	case CounterEstimate:
		return Estimate{}, nil
	case CounterTiktoken:
		return NewTiktoken(s.Encoding)
	default:
		return nil, fmt.Errorf("%w: summarize.counter = %q: want \"tiktoken\" or \"estimate\"", ErrSettings, s.Counter)
	}
}

// Tiktoken counts with an OpenAI BPE encoding. Its ranks come from the
// tables compiled into github.com/pkoukk/tiktoken-go-loader, so nothing
// is fetched or cached on disk at run time. Building one parses a few MB
// of ranks (tens to hundreds of ms): build it once per process and share it.
type Tiktoken struct {
	name string
	bpe  *tiktoken.Tiktoken
}

// encodingSpec is the split pattern and special tokens of one encoding,
// as published with OpenAI's tiktoken.
type encodingSpec struct {
	pattern string
	special map[string]int
}

// encodingSpecFor returns the spec of a supported encoding. A function, not
// a map variable, so that the package holds no mutable state.
func encodingSpecFor(name string) (encodingSpec, bool) {
	r50k := `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	switch name {
	case "o200k_base":
		return encodingSpec{
			pattern: strings.Join([]string{
				`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`,
				`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`,
				`\p{N}{1,3}`,
				` ?[^\s\p{L}\p{N}]+[\r\n/]*`,
				`\s*[\r\n]+`,
				`\s+(?!\S)`,
				`\s+`,
			}, "|"),
			special: map[string]int{"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
		}, true
	case "cl100k_base":
		return encodingSpec{
			pattern: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
			special: map[string]int{"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
				"<|fim_suffix|>": 100260, "<|endofprompt|>": 100276},
		}, true
	case "p50k_base", "r50k_base":
		return encodingSpec{pattern: r50k, special: map[string]int{"<|endoftext|>": 50256}}, true
	}
	return encodingSpec{}, false
}

func encodingNames() string { return "cl100k_base, o200k_base, p50k_base, r50k_base" }

// NewTiktoken builds a counter for the named encoding ("" means
// o200k_base) from the offline tables. It never touches the network: the
// encoding is assembled here rather than through tiktoken.GetEncoding,
// whose default loader downloads and whose loader is process-global.
func NewTiktoken(encoding string) (*Tiktoken, error) {
	if encoding == "" {
		encoding = DefaultEncoding
	}
	spec, ok := encodingSpecFor(encoding)
	if !ok {
		return nil, fmt.Errorf("%w: unknown encoding %q (want one of %s)", ErrSettings, encoding, encodingNames())
	}
	ranks, err := tiktokenloader.NewOfflineLoader().LoadTiktokenBpe(encoding + ".tiktoken")
	if err != nil {
		return nil, fmt.Errorf("summarize: load %s ranks: %w", encoding, err)
	}
	core, err := tiktoken.NewCoreBPE(ranks, spec.special, spec.pattern)
	if err != nil {
		return nil, fmt.Errorf("summarize: build %s: %w", encoding, err)
	}
	set := make(map[string]any, len(spec.special))
	for k := range spec.special {
		set[k] = true
	}
	enc := &tiktoken.Encoding{Name: encoding, PatStr: spec.pattern, MergeableRanks: ranks, SpecialTokens: spec.special}
	return &Tiktoken{name: encoding, bpe: tiktoken.NewTiktoken(core, enc, set)}, nil
}

// Count returns the number of tokens of text. Special-token strings in the
// text are counted as ordinary text, as a chat API does with user content.
func (t *Tiktoken) Count(text string) int {
	if text == "" {
		return 0
	}
	return len(t.bpe.EncodeOrdinary(text))
}

// Name is "tiktoken:<encoding>".
func (t *Tiktoken) Name() string { return CounterTiktoken + ":" + t.name }

// Estimate is a cheap counter for when exactness matters less than speed:
// about one token per 5 bytes of a word, one per two punctuation marks in a
// run, and one per CJK character, never less than one per word. It is usually within
// 25% of o200k_base on English prose and code.
type Estimate struct{}

// Count estimates the number of tokens of text.
func (Estimate) Count(text string) int {
	n := 0
	word := 0  // bytes in the current run of letters and digits
	punct := 0 // marks in the current run of punctuation
	flush := func() {
		n += (word+4)/5 + (punct+1)/2
		word, punct = 0, 0
	}
	for i := 0; i < len(text); {
		r, size := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		i += size
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_'):
			if punct > 0 {
				flush()
			}
			word++
		case r == ' ' || r == '\n' || r == '\t' || r == '\r':
			flush()
		case r >= 0x2E80 && (unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
			unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)):
			flush()
			n++
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			if punct > 0 {
				flush()
			}
			word += size
		default:
			if word > 0 {
				flush()
			}
			punct++
		}
	}
	flush()
	return n
}

// Name is "estimate".
func (Estimate) Name() string { return CounterEstimate }
