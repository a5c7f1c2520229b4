package index

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/search"
)

// Snippet sizes, in runes.
const (
	snippetRunes  = 160 // the whole snippet
	snippetBefore = 40  // context kept before the first match
)

// snippet cuts the part of content around the matches the index located
// (byte ranges of the text field, which is the content as indexed) and
// surrounds each match with mark. The snippet is on one line.
func snippet(content string, locs search.TermLocationMap, mark [2]string) string {
	type span struct{ start, end int }
	var spans []span
	for _, ls := range locs {
		for _, l := range ls {
			s, e := int(l.Start), int(l.End)
			if s < e && e <= len(content) {
				spans = append(spans, span{s, e})
			}
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	// Merge overlapping matches (CJK bigrams overlap by a character).
	merged := spans[:0]
	for _, sp := range spans {
		if n := len(merged); n > 0 && sp.start <= merged[n-1].end {
			merged[n-1].end = max(merged[n-1].end, sp.end)
			continue
		}
		merged = append(merged, sp)
	}
	from := 0
	if len(merged) > 0 {
		from = merged[0].start
		for i := 0; i < snippetBefore && from > 0; i++ {
			_, size := utf8.DecodeLastRuneInString(content[:from])
			from -= size
		}
	}
	to := from
	for i := 0; i < snippetRunes && to < len(content); i++ {
		_, size := utf8.DecodeRuneInString(content[to:])
		to += size
	}
	var b strings.Builder
	if from > 0 {
		b.WriteString("…")
	}
	pos := from
	for _, sp := range merged {
		if sp.end <= from || sp.start >= to {
			continue
		}
		s, e := max(sp.start, from), min(sp.end, to)
		oneLine(&b, content[pos:s])
		b.WriteString(mark[0])
		oneLine(&b, content[s:e])
		b.WriteString(mark[1])
		pos = e
	}
	oneLine(&b, content[pos:to])
	if to < len(content) {
		b.WriteString("…")
	}
	return b.String()
}

// oneLine writes s with line breaks and tabs as spaces.
func oneLine(b *strings.Builder, s string) {
	for _, r := range s {
		switch r {
		case '\n', '\r', '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
}
