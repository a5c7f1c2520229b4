package tokens

import (
	"slices"
	"strings"
	"testing"

	"github.com/pkoukk/tiktoken-go"
)

// reference builds github.com/pkoukk/tiktoken-go's encoder for an
// encoding, the counts Tiktoken must give.
func reference(t testing.TB, encoding string) *tiktoken.Tiktoken {
	t.Helper()
	ranks, err := loadRanks(encoding)
	if err != nil {
		t.Fatal(err)
	}
	pattern, _ := encodingPattern(encoding)
	core, err := tiktoken.NewCoreBPE(ranks, map[string]int{}, pattern)
	if err != nil {
		t.Fatal(err)
	}
	enc := &tiktoken.Encoding{Name: encoding, PatStr: pattern, MergeableRanks: ranks, SpecialTokens: map[string]int{}}
	return tiktoken.NewTiktoken(core, enc, map[string]any{})
}

func corpus() []string {
	return []string{
		"", "a", " ", "hello", "Hello, world!", "I'd like 12345 tokens, wouldn't you?",
		"Can you remind me what time the dentist is on Friday?",
		"The QUICK brown fox's jumps\r\n\r\nover   the lazy dog\t\t.",
		"func main() {\n\tfmt.Println(\"hi\") // ünïcödé\n}\n",
		`{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}`,
		"東京は晴れです。明日は雨でしょう。", "안녕하세요 세계", "Привет, мир! Как дела?", "مرحبا بالعالم",
		"emoji 🎉🎉🎉 and flags 🇳🇴 and ZWJ 👩‍👩‍👧", "<|endoftext|> is a special token, counted as text",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", strings.Repeat("ab", 300),
		"\xff\xfe invalid utf-8 \xc3\x28 bytes", "x\u0301y\u0308 combining marks", "1234567890 3.14159 1e10 0x1F",
		"https://example.com/path?q=a&b=c#frag", "    leading and trailing spaces    ", "\n\n\n",
		strings.Repeat("The dentist appointment is on Friday at 09:30. ", 40),
		// Long single pieces: the heap merge.
		strings.Repeat("x", 3000), strings.Repeat("ab", 1500), strings.Repeat("é", 700),
		"data:image/png;base64," + strings.Repeat("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg", 40),
		strings.Repeat("aAbBcC1", 400),
	}
}

// A 200 KB piece (one run of one character) is counted in bounded time:
// the quadratic scan would take minutes.
func TestLongPieceIsFast(t *testing.T) {
	c, err := NewTiktoken("")
	if err != nil {
		t.Fatal(err)
	}
	short := c.Count(strings.Repeat("x", 2000))
	long := c.Count(strings.Repeat("x", 200<<10))
	if short <= 0 || long < 100*short {
		t.Fatalf("counts %d (2 000 x) and %d (200 KB of x)", short, long)
	}
}

// The heap merge and the scan agree on every piece length around the
// switch.
func TestHeapMergeMatchesScan(t *testing.T) {
	c, err := NewTiktoken("")
	if err != nil {
		t.Fatal(err)
	}
	for _, unit := range []string{"x", "ab", "q9", "zé", "\x00", "Lorem"} {
		for n := 1; n < 400; n += 7 {
			piece := []byte(strings.Repeat(unit, n))
			if len(piece) < 2 || c.ranks.rank(piece) >= 0 {
				continue
			}
			if got, want := c.heapMerge(piece), c.scanMerge(piece); got != want {
				t.Fatalf("%q×%d: heap %d, scan %d", unit, n, got, want)
			}
		}
	}
}

func TestTiktokenMatchesReference(t *testing.T) {
	for _, enc := range []string{"o200k_base", "cl100k_base"} {
		ref := reference(t, enc)
		c, err := NewTiktoken(enc)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range corpus() {
			if got, want := c.Count(s), len(ref.EncodeOrdinary(s)); got != want {
				t.Errorf("%s: Count(%q) = %d, want %d", enc, s, got, want)
			}
		}
	}
}

func FuzzTiktokenMatchesReference(f *testing.F) {
	for _, s := range corpus() {
		f.Add(s)
	}
	ref := reference(f, DefaultEncoding)
	c, err := NewTiktoken("")
	if err != nil {
		f.Fatal(err)
	}
	re := o200kPattern()
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := handPieces(s), patternPieces(t, re, s); !slices.Equal(got, want) {
			t.Fatalf("split of %q:\n got %q\nwant %q", s, got, want)
		}
		if got, want := c.Count(s), len(ref.EncodeOrdinary(s)); got != want {
			t.Fatalf("Count(%q) = %d, want %d", s, got, want)
		}
	})
}

func TestNew(t *testing.T) {
	for _, tt := range []struct{ kind, enc, name string }{
		{"", "", "tiktoken:o200k_base"}, {"tiktoken", "cl100k_base", "tiktoken:cl100k_base"}, {"estimate", "", "estimate"},
	} {
		c, err := New(tt.kind, tt.enc)
		if err != nil || c.Name() != tt.name {
			t.Errorf("New(%q, %q) = %v, %v", tt.kind, tt.enc, c, err)
		}
	}
	if _, err := New("magic", ""); err == nil {
		t.Error("unknown kind accepted")
	}
	if _, err := New("tiktoken", "o300k"); err == nil {
		t.Error("unknown encoding accepted")
	}
}

// BenchmarkNewAndCountShort is what a one-message CLI append pays for
// token counting: build the counter and count a short message.
func BenchmarkNewAndCountShort(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		c, err := NewTiktoken("")
		if err != nil {
			b.Fatal(err)
		}
		c.Count("Can you remind me what time the dentist is on Friday?")
	}
}

// BenchmarkCount counts a 2 KB message with a built counter, beside the
// reference encoder.
func BenchmarkCount(b *testing.B) {
	text := strings.Repeat("The dentist appointment is on Friday at 09:30, bring the card. ", 32)
	b.Run("compact", func(b *testing.B) {
		c, _ := NewTiktoken("")
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
