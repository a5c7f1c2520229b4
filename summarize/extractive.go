package summarize

import (
	"context"
	"math"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Extractive is the built-in summarizer: no network, no model, and the same
// output for the same request. It splits the previous summary and the
// messages into sentences, scores each by how many of the conversation's
// recurring content words it carries (with a lift for the previous summary,
// user messages, names and numbers, and a damper for tool output), then
// takes the best sentences that fit the target budget, skipping near
// duplicates, and writes them back in their original order, each new line
// labelled with its speaker. The zero value counts with Estimate.
type Extractive struct {
	Counter Counter
}

// maxSentenceChars splits run-on "sentences" (logs, code) so one of them
// cannot take the whole budget.
const maxSentenceChars = 300

type unit struct {
	order int    // position in the request: previous summary first
	msg   int    // index of the message, -1 for the previous summary
	line  string // rendered line
	words []string
	score float64
	cost  int // tokens with the newline; 0 until counted
}

// counterBudget is the counter and the target size of a summary of req.
func (e Extractive) counterBudget(req Request) (Counter, int) {
	c := e.Counter
	if c == nil {
		c = Estimate{}
	}
	budget := req.TargetTokens
	if budget <= 0 {
		budget = DefaultSummaryTokens
	}
	return c, budget
}

// Summarize picks sentences within req.TargetTokens.
func (e Extractive) Summarize(ctx context.Context, req Request) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	c, budget := e.counterBudget(req)
	units := extractUnits(req)
	if len(units) == 0 {
		return Result{}, ErrEmptySummary
	}
	scoreUnits(units)

	rank := make([]int, len(units))
	for i := range rank {
		rank[i] = i
	}
	sort.SliceStable(rank, func(a, b int) bool { return units[rank[a]].score > units[rank[b]].score })

	// A unit is counted only when it is reached and its floor says it may
	// fit: once the budget is nearly spent, the many units that cannot fit
	// are passed over without counting them (counting dominates the cost
	// with a real tokenizer: a long session has hundreds of thousands of
	// sentences).
	floor := countFloor(c)
	var chosen []int
	left := budget
	for _, i := range rank {
		u := &units[i]
		if floor(u.line)+1 > left || redundant(u.words, units, chosen) {
			continue
		}
		if u.cost == 0 {
			u.cost = c.Count(u.line) + 1 // + the newline
		}
		if u.cost > left {
			continue
		}
		chosen = append(chosen, i)
		left -= u.cost
		if left <= 1 {
			break
		}
	}
	if len(chosen) == 0 {
		return cutToBudget(units[rank[0]].line, budget, c)
	}
	sort.Ints(chosen)
	lines := make([]string, len(chosen))
	for k, i := range chosen {
		lines[k] = units[i].line
	}
	return Result{Text: strings.Join(lines, "\n"), By: KindExtractive}, nil
}

// cutToBudget is the summary when not even the best sentence fits: that
// sentence, cut down until it does.
func cutToBudget(line string, budget int, c Counter) (Result, error) {
	for len(line) > 0 && c.Count(line) > budget {
		line = cutBytes(line, len(line)*3/4)
	}
	if line == "" {
		return Result{}, ErrEmptySummary
	}
	return Result{Text: line, By: KindExtractive}, nil
}

// countFloor returns a cheap function that never exceeds c.Count. For
// tiktoken it is the number of space-separated words: the encodings' split
// patterns never put characters of two words in one piece, and each piece
// is at least one token. For other counters it is 0 (every reached unit
// is counted; the estimate is cheap).
func countFloor(c Counter) func(string) int {
	switch c.(type) {
	case *Tiktoken:
		return wordCount
	case Estimate, *Estimate:
		return c.Count // cheap, and exact
	}
	return func(string) int { return 0 }
}

// wordCount is len(strings.Fields(s)) without the slice.
func wordCount(s string) int {
	n, in := 0, false
	for _, r := range s {
		space := unicode.IsSpace(r)
		if !space && !in {
			n++
		}
		in = !space
	}
	return n
}

// extractUnits splits the previous summary (line by line, kept as written)
// and the messages (sentence by sentence, labelled "role: ") into units.
func extractUnits(req Request) []unit {
	units := make([]unit, 0, 2*len(req.Messages)+4)
	add := func(msg int, line string) {
		if w := contentWords(line); len(w) > 0 {
			units = append(units, unit{order: len(units), msg: msg, line: line, words: w})
		}
	}
	previousLines(req.Previous, add)
	for i, m := range req.Messages {
		messageLines(i, m, add)
	}
	return units
}

// previousLines gives add the sentences of the previous summary (msg -1).
func previousLines(previous string, add func(msg int, line string)) {
	for _, l := range strings.Split(previous, "\n") {
		for _, s := range sentences(l) {
			add(-1, s)
		}
	}
}

// messageLines gives add the sentences of message i, labelled "role: ".
func messageLines(i int, m Input, add func(msg int, line string)) {
	label := m.Role
	if m.Tool != "" && m.Role == "tool" {
		label = "tool " + m.Tool
	}
	for _, s := range sentences(m.Text) {
		add(i, label+": "+s)
	}
}

// sentences splits text at line breaks and sentence ends, and cuts long
// runs at word boundaries.
func sentences(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		start := 0
		for i := 0; i < len(line); i++ {
			ch := line[i]
			if (ch == '.' || ch == '!' || ch == '?') && (i+1 == len(line) || line[i+1] == ' ') {
				out = appendSentence(out, line[start:i+1])
				start = i + 1
			}
		}
		out = appendSentence(out, line[start:])
	}
	return out
}

func appendSentence(out []string, s string) []string {
	s = strings.TrimSpace(s)
	for utf8.RuneCountInString(s) > maxSentenceChars {
		head := cutBytes(s, maxSentenceChars)
		if sp := strings.LastIndexByte(head, ' '); sp > maxSentenceChars/2 {
			head = head[:sp]
		}
		out = append(out, strings.TrimSpace(head))
		s = strings.TrimSpace(s[len(head):])
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

// cutBytes returns at most n bytes of s, never splitting a rune.
func cutBytes(s string, n int) string {
	if n >= len(s) {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// contentWords returns the lowercased words of s that are not stop words
// (nor the "role:" label), in order, without repeats.
func contentWords(s string) []string {
	if i := strings.Index(s, ": "); i >= 0 && i < 40 {
		s = s[i+2:]
	}
	var out []string
	word := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }
	for len(s) > 0 {
		// The next run of word characters (as strings.FieldsFunc would
		// give it, without the slice of them all).
		start := strings.IndexFunc(s, word)
		if start < 0 {
			break
		}
		s = s[start:]
		end := strings.IndexFunc(s, func(r rune) bool { return !word(r) })
		if end < 0 {
			end = len(s)
		}
		w := strings.ToLower(s[:end])
		s = s[end:]
		// A sentence has few words: a scan finds repeats without a map
		// per sentence (a long session has hundreds of thousands).
		if utf8.RuneCountInString(w) < 2 || isStopword(w) || slices.Contains(out, w) {
			continue
		}
		out = append(out, w)
	}
	return out
}

// scoreUnits gives each unit the sum of its words' weights (how many
// messages mention the word, dampened logarithmically) over the square
// root of its length, lifted or dampened by where it comes from.
func scoreUnits(units []unit) {
	df := map[string]int{} // messages (or summary) mentioning the word
	lastMsg := map[string]int{}
	for _, u := range units {
		for _, w := range u.words {
			if m, ok := lastMsg[w]; !ok || m != u.msg {
				df[w]++
				lastMsg[w] = u.msg
			}
		}
	}
	for i := range units {
		units[i].score = unitScore(&units[i], func(w string) int { return df[w] })
	}
}

// unitScore is a unit's score given each word's document frequency.
func unitScore(u *unit, df func(string) int) float64 {
	var s float64
	for _, w := range u.words {
		s += math.Log1p(float64(df(w)))
		if hasDigit(w) {
			s += 0.5
		}
	}
	s /= math.Sqrt(float64(len(u.words)) + 1)
	label := u.line
	if i := strings.IndexByte(label, ':'); i >= 0 {
		label = label[:i]
	}
	switch {
	case u.msg < 0:
		s *= 1.5 // what was worth keeping before still is
	case label == "user":
		s *= 1.25
	case strings.HasPrefix(label, "tool"):
		s *= 0.7
	}
	if capitalised(u.line) {
		s *= 1.1
	}
	return s
}

// redundant: at least 70% of the words of a candidate already appear in
// one chosen unit.
func redundant(words []string, units []unit, chosen []int) bool {
	for _, i := range chosen {
		if overlaps(words, units[i].words) {
			return true
		}
	}
	return false
}

// overlaps: at least 70% of words are in have.
func overlaps(words, have []string) bool {
	common := 0
	for _, w := range words {
		for _, h := range have {
			if w == h {
				common++
				break
			}
		}
	}
	return common*10 >= len(words)*7
}

func hasDigit(w string) bool {
	return strings.IndexFunc(w, unicode.IsDigit) >= 0
}

// capitalised: the sentence names something (a capitalised word that does
// not start it).
func capitalised(line string) bool {
	field, in := 0, false // field: the number of the field the scan is in
	for _, r := range line {
		space := unicode.IsSpace(r)
		if !space && !in {
			field++
			if field >= 3 && unicode.IsUpper(r) {
				return true
			}
		}
		in = !space
	}
	return false
}

func isStopword(w string) bool {
	switch w {
	case "a", "an", "the", "and", "or", "but", "if", "then", "else", "of", "to", "in", "on", "at", "by",
		"for", "with", "about", "as", "into", "from", "up", "down", "out", "over", "is", "are", "was",
		"were", "be", "been", "being", "am", "do", "does", "did", "have", "has", "had", "it", "its",
		"this", "that", "these", "those", "there", "here", "i", "you", "he", "she", "we", "they", "me",
		"him", "her", "us", "them", "my", "your", "our", "their", "what", "which", "who", "whom",
		"when", "where", "why", "how", "not", "no", "so", "can", "could", "will", "would", "should",
		"shall", "may", "might", "must", "just", "also", "very", "too", "ok", "okay", "yes", "sure",
		"please", "thanks", "thank", "let", "me's", "i'm", "it's", "don", "t", "s", "re", "ll", "ve",
		"all", "any", "some", "more", "most", "other", "such", "only", "own", "same", "than", "now",
		"returned", "called":
		return true
	}
	return false
}
