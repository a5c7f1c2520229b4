package index

import (
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/lang/cjk"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/registry"
	"github.com/blevesearch/segment"
)

// TextAnalyzer is the name of the analyzer of the text field, as the index
// mapping (index/index_meta.json) records it.
const TextAnalyzer = "picosess_text"

// The analyzer is registered with bleve once, at init: bleve resolves the
// analyzers named in a stored mapping through its registry, so an index
// written by one process can be opened by another. The registry entry is
// a constructor and never changes after init.
func init() {
	if err := registry.RegisterAnalyzer(TextAnalyzer, func(map[string]any, *registry.Cache) (analysis.Analyzer, error) {
		return newTextAnalyzer(), nil
	}); err != nil {
		panic(err)
	}
}

// textAnalyzer handles English and CJK text alike: Unicode word
// segmentation (UAX #29) that also keeps emoji, full-width forms folded to
// their ASCII and half-width kana to full-width, lowercase, and overlapping
// bigrams of runs of Han, Hiragana, Katakana and Hangul characters, so a
// Chinese or Japanese query finds the messages that contain it without a
// dictionary. There is no stemming and there are no stop words: chat is
// short, and "not" or "it" matter in it.
type textAnalyzer struct {
	width, lower, bigram analysis.TokenFilter
}

func newTextAnalyzer() *textAnalyzer {
	return &textAnalyzer{
		width:  cjk.NewCJKWidthFilter(),
		lower:  lowercase.NewLowerCaseFilter(),
		bigram: cjk.NewCJKBigramFilter(false),
	}
}

// Analyze turns text into the terms the index stores, with their byte
// offsets (snippets use them to highlight matches).
func (a *textAnalyzer) Analyze(input []byte) analysis.TokenStream {
	ts := tokenize(input)
	ts = a.width.Filter(ts)
	ts = a.lower.Filter(ts)
	return a.bigram.Filter(ts)
}

// tokenize splits input into words by UAX #29. Unlike bleve's unicode
// tokenizer it keeps emoji and other pictographic symbols ("🎉", "👍🏽",
// "❤️"), which UAX #29 gives no word type, as tokens of their own.
func tokenize(input []byte) analysis.TokenStream {
	toks := make([]analysis.Token, 0, len(input)/6+1)
	seg := segment.NewWordSegmenterDirect(input)
	start := 0
	for seg.Segment() {
		b := seg.Bytes()
		end := start + len(b)
		typ, ok := tokenType(seg.Type(), b)
		if ok {
			toks = append(toks, analysis.Token{Term: b, Start: start, End: end, Position: len(toks) + 1, Type: typ})
		}
		start = end
	}
	ts := make(analysis.TokenStream, len(toks))
	for i := range toks {
		ts[i] = &toks[i]
	}
	return ts
}

// tokenType maps a UAX #29 segment to a token type; ok is false for
// segments that are not words (spaces, punctuation).
func tokenType(segType int, b []byte) (analysis.TokenType, bool) {
	switch segType {
	case segment.Ideo, segment.Kana:
		return analysis.Ideographic, true
	case segment.Number:
		return analysis.Numeric, true
	case segment.Letter:
		return analysis.AlphaNumeric, true
	}
	r, _ := utf8.DecodeRune(b)
	if isPictograph(r) {
		return analysis.Single, true
	}
	return 0, false
}

// isPictograph reports whether r is an emoji or a pictographic symbol.
func isPictograph(r rune) bool {
	switch {
	case r >= 0x1F000 && r <= 0x1FAFF: // emoji, mahjong, cards, symbols and pictographs
		return true
	case r >= 0x2600 && r <= 0x27BF: // miscellaneous symbols, dingbats (☀ ❤ ✅)
		return true
	case r >= 0x2B00 && r <= 0x2BFF: // arrows and stars (⭐)
		return true
	}
	return unicode.Is(unicode.So, r)
}
