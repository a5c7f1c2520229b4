package tokens

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// patternPieces splits s with o200k_base's pattern through regexp2: what
// the hand-written split must give, piece for piece.
func patternPieces(t testing.TB, re *regexp2.Regexp, s string) []string {
	t.Helper()
	var out []string
	m, err := re.FindStringMatch(s)
	for ; m != nil && err == nil; m, err = re.FindNextMatch(m) {
		out = append(out, m.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func o200kPattern() *regexp2.Regexp {
	pattern, _ := encodingPattern(DefaultEncoding)
	return regexp2.MustCompile(pattern, regexp2.None)
}

func handPieces(s string) []string {
	if !utf8.ValidString(s) {
		s = string([]rune(s))
	}
	a := newASCIIClass()
	var out []string
	for i := 0; i < len(s); {
		e := a.piece(s, i)
		out = append(out, s[i:e])
		i = e
	}
	return out
}

// splitAlphabet has a character of every class the pattern tells apart,
// and the ones that make it backtrack: upper, lower, title case, modifier
// and other letters, marks, digits and other numbers, apostrophes and
// contraction letters, \r, \n, '/', spaces of several kinds, punctuation,
// emoji, an invalid byte.
var splitAlphabet = []string{
	"A", "Z", "a", "z", "É", "é", "ǅ", "ʰ", "中", "ا", "\u0301", "\u0308", "\u093f", "0", "9", "²", "Ⅻ", "٣",
	"'", "s", "S", "t", "re", "RE", "ve", "m", "ll", "D", "\r", "\n", "/", " ", "\t", "\u00a0", "\u3000", "\u2028",
	"\u0085", ".", ",", "!", "-", "_", "$", "🎉", "👩\u200d👧", "\xff", "'s", "'T", "'Re", "ſ", "İ", "K",
}

func TestSplitMatchesPattern(t *testing.T) {
	cases := corpus()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		var b strings.Builder
		for range rng.IntN(24) + 1 {
			b.WriteString(splitAlphabet[rng.IntN(len(splitAlphabet))])
		}
		cases = append(cases, b.String())
	}
	re := o200kPattern()
	for _, s := range cases {
		want, got := patternPieces(t, re, s), handPieces(s)
		if !slices.Equal(got, want) {
			t.Fatalf("split of %q:\n got %q\nwant %q", s, got, want)
		}
	}
}

// BenchmarkSplit is the split alone, hand-written and through the pattern.
func BenchmarkSplit(b *testing.B) {
	text := strings.Repeat("The dentist appointment is on Friday at 09:30, bring the card. ", 32)
	b.Run("hand", func(b *testing.B) {
		a := newASCIIClass()
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			for i := 0; i < len(text); {
				i = a.piece(text, i)
			}
		}
	})
	b.Run("regexp2", func(b *testing.B) {
		re := o200kPattern()
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			m, _ := re.FindStringMatch(text)
			for m != nil {
				m, _ = re.FindNextMatch(m)
			}
		}
	})
}

// BenchmarkCountToolResult counts a 1 MB tool result (JSON rows), what an
// append of a large tool output pays under the session lock.
func BenchmarkCountToolResult(b *testing.B) {
	var sb strings.Builder
	for i := 0; sb.Len() < 1<<20; i++ {
		sb.WriteString(`{"id":` + strings.Repeat("7", i%9+1) + `,"name":"Ünïcode row","path":"/var/lib/app/data/file_` + string(rune('a'+i%26)) + `.json","ok":true}` + "\n")
	}
	text := sb.String()
	b.Run("compact", func(b *testing.B) {
		c, err := NewTiktoken("")
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			c.Count(text)
		}
	})
	b.Run("tiktoken-go", func(b *testing.B) {
		ref := reference(b, DefaultEncoding)
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			ref.EncodeOrdinary(text)
		}
	})
}
