package tokens

import (
	_ "embed"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
	tiktokenloader "github.com/pkoukk/tiktoken-go-loader"
)

// DefaultEncoding is the encoding of the default counter (GPT-4o and later).
const DefaultEncoding = "o200k_base"

// o200kTable is o200k_base's ranks in the compact form of table.go,
// generated from github.com/pkoukk/tiktoken-go-loader's offline copy of
// OpenAI's published file by `go test ./workspace/tokens -run
// TestEmbeddedTable -update` (the test fails when it is stale).
//
//go:embed o200k_base.bin
var o200kTable []byte

// Tiktoken counts tokens as OpenAI's BPE encodings do, with exactly the
// counts of github.com/pkoukk/tiktoken-go's EncodeOrdinary (a test
// compares them): the text is split by the encoding's pattern, each piece
// that is a token counts one, and other pieces are merged pair by pair,
// lowest rank first. For o200k_base the ranks are the embedded compact
// table and the split is written out by hand (split.go), so a Tiktoken
// costs next to nothing to build and counts tens of MB/s; other encodings
// build their table from the offline tables on first use (a quarter of a
// second) and split with the pattern through regexp2. Safe for concurrent
// use.
type Tiktoken struct {
	name  string
	re    *regexp2.Regexp // encodings other than o200k_base
	split *asciiClass     // o200k_base
	ranks table
}

// Encodings are the encodings NewTiktoken knows.
func Encodings() []string { return []string{"cl100k_base", "o200k_base", "p50k_base", "r50k_base"} }

// encodingPattern is the split pattern of an encoding, as published with
// OpenAI's tiktoken. A function, not a map variable: the package holds no
// mutable state.
func encodingPattern(name string) (string, bool) {
	switch name {
	case "o200k_base":
		return strings.Join([]string{
			`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`,
			`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`,
			`\p{N}{1,3}`,
			` ?[^\s\p{L}\p{N}]+[\r\n/]*`,
			`\s*[\r\n]+`,
			`\s+(?!\S)`,
			`\s+`,
		}, "|"), true
	case "cl100k_base":
		return `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`, true
	case "p50k_base", "r50k_base":
		return `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`, true
	}
	return "", false
}

// NewTiktoken builds a counter for the named encoding ("" means
// o200k_base). It never touches the network.
func NewTiktoken(encoding string) (*Tiktoken, error) {
	if encoding == "" {
		encoding = DefaultEncoding
	}
	pattern, ok := encodingPattern(encoding)
	if !ok {
		return nil, fmt.Errorf("%w: unknown encoding %q (want one of %s)", ErrEncoding, encoding, strings.Join(Encodings(), ", "))
	}
	data := o200kTable
	var re *regexp2.Regexp
	if encoding != DefaultEncoding {
		var err error
		if re, err = regexp2.Compile(pattern, regexp2.None); err != nil {
			return nil, fmt.Errorf("tokens: %s pattern: %w", encoding, err)
		}
		ranks, err := loadRanks(encoding)
		if err != nil {
			return nil, err
		}
		data = encodeTable(ranks)
	}
	t, err := parseTable(data)
	if err != nil {
		return nil, fmt.Errorf("tokens: %s: %w", encoding, err)
	}
	tk := &Tiktoken{name: encoding, re: re, ranks: t}
	if re == nil {
		tk.split = newASCIIClass()
	}
	return tk, nil
}

// loadRanks reads an encoding's ranks from the offline tables.
func loadRanks(encoding string) (map[string]int, error) {
	ranks, err := tiktokenloader.NewOfflineLoader().LoadTiktokenBpe(encoding + ".tiktoken")
	if err != nil {
		return nil, fmt.Errorf("tokens: load %s ranks: %w", encoding, err)
	}
	return ranks, nil
}

// Count returns the number of tokens of text. Special-token strings in the
// text are counted as ordinary text, as a chat API does with user content.
func (t *Tiktoken) Count(text string) int {
	if text == "" {
		return 0
	}
	n := 0
	if t.split != nil {
		if !utf8.ValidString(text) {
			// Each invalid byte is one U+FFFD, as in a conversion to runes
			// (what the pattern engines match on).
			text = string([]rune(text))
		}
		var buf []byte
		for i := 0; i < len(text); {
			e := t.split.piece(text, i)
			buf = append(buf[:0], text[i:e]...)
			n += t.pieceTokens(buf)
			i = e
		}
		return n
	}
	m, _ := t.re.FindStringMatch(text)
	for m != nil {
		n += t.pieceTokens([]byte(m.String()))
		m, _ = t.re.FindNextMatch(m)
	}
	return n
}

// Name is "tiktoken:<encoding>".
func (t *Tiktoken) Name() string { return "tiktoken:" + t.name }

// pieceTokens counts the tokens of one piece of the split: one if it is a
// token, else what byte-pair merging leaves: tiktoken's byte_pair_merge,
// which merges the adjacent pair of lowest rank (the leftmost of equals)
// until no pair is a token. Short pieces scan for the lowest pair, as
// tiktoken does; long ones (a run of one character, a base64 blob: one
// piece of many KB) use a heap, so a 200 KB piece costs milliseconds, not
// minutes. Both give the same merges.
func (t *Tiktoken) pieceTokens(piece []byte) int {
	if len(piece) <= 1 || t.ranks.rank(piece) >= 0 {
		return min(len(piece), 1)
	}
	if len(piece) > longPiece {
		return t.heapMerge(piece)
	}
	return t.scanMerge(piece)
}

// scanMerge is byte_pair_merge as tiktoken writes it: scan for the lowest
// pair, merge, repeat.
func (t *Tiktoken) scanMerge(piece []byte) int {
	type part struct{ start, rank int }
	parts := make([]part, len(piece)+1)
	for i := range parts {
		parts[i] = part{i, math.MaxInt}
	}
	rankOf := func(i, skip int) int {
		if i+skip+2 < len(parts) {
			if r := t.ranks.rank(piece[parts[i].start:parts[i+skip+2].start]); r >= 0 {
				return r
			}
		}
		return math.MaxInt
	}
	for i := 0; i < len(parts)-2; i++ {
		parts[i].rank = rankOf(i, 0)
	}
	for len(parts) > 1 {
		minRank, minIdx := math.MaxInt, -1
		for i := 0; i < len(parts)-1; i++ {
			if parts[i].rank < minRank {
				minRank, minIdx = parts[i].rank, i
			}
		}
		if minIdx < 0 {
			break
		}
		i := minIdx
		parts[i].rank = rankOf(i, 1)
		if i > 0 {
			parts[i-1].rank = rankOf(i-1, 1)
		}
		parts = append(parts[:i+1], parts[i+2:]...)
	}
	return len(parts) - 1
}

// longPiece is the piece length from which heapMerge is used.
const longPiece = 256

// heapMerge is byte_pair_merge over a linked list of boundaries with a
// min-heap of (rank, start) pairs. Boundaries keep their byte offsets, so
// ordering equal ranks by offset picks the leftmost pair, as the scan
// does. Heap entries are not removed when a merge changes a rank; an
// entry whose rank is no longer its boundary's is skipped when popped.
func (t *Tiktoken) heapMerge(piece []byte) int {
	n := len(piece) + 1 // boundaries 0..len(piece)
	next := make([]int32, n)
	prev := make([]int32, n)
	rank := make([]int, n)
	for i := range n {
		next[i], prev[i], rank[i] = int32(i+1), int32(i-1), math.MaxInt
	}
	next[n-1] = -1
	rankAt := func(i int) int {
		j := next[i]
		if j < 0 {
			return math.MaxInt
		}
		k := next[j]
		if k < 0 {
			return math.MaxInt
		}
		if r := t.ranks.rank(piece[i:k]); r >= 0 {
			return r
		}
		return math.MaxInt
	}
	h := pairHeap{}
	for i := 0; i < n-2; i++ {
		if rank[i] = rankAt(i); rank[i] != math.MaxInt {
			h.push(pair{rank[i], i})
		}
	}
	alive := n
	for len(h) > 0 {
		p := h.pop()
		i := p.start
		if next[i] < 0 || rank[i] != p.rank { // merged away, or re-ranked
			continue
		}
		// Merge boundary next[i] away: the parts at i and next[i] join.
		j := next[i]
		next[i] = next[j]
		if next[j] >= 0 {
			prev[next[j]] = int32(i)
		}
		next[j], rank[j] = -1, math.MaxInt
		alive--
		if rank[i] = rankAt(i); rank[i] != math.MaxInt {
			h.push(pair{rank[i], i})
		}
		if pi := prev[i]; pi >= 0 {
			if rank[pi] = rankAt(int(pi)); rank[pi] != math.MaxInt {
				h.push(pair{rank[pi], int(pi)})
			}
		}
	}
	return alive - 1
}

// pair is a mergeable pair: its rank and the offset where it starts.
type pair struct{ rank, start int }

// pairHeap is a binary min-heap of pairs by (rank, start).
type pairHeap []pair

func (p pair) less(q pair) bool { return p.rank < q.rank || p.rank == q.rank && p.start < q.start }

func (h *pairHeap) push(p pair) {
	*h = append(*h, p)
	a := *h
	for i := len(a) - 1; i > 0; {
		up := (i - 1) / 2
		if !a[i].less(a[up]) {
			break
		}
		a[i], a[up] = a[up], a[i]
		i = up
	}
}

func (h *pairHeap) pop() pair {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(a) && a[l].less(a[m]) {
			m = l
		}
		if r < len(a) && a[r].less(a[m]) {
			m = r
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}
