package tokens

import (
	"unicode"
	"unicode/utf8"
)

// o200k_base's pre-tokenization, written out by hand: the pieces its split
// pattern (encodingPattern) gives, found without a regular expression
// engine. The pattern is
//
//	1 [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//	2 [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//	3 \p{N}{1,3}
//	4 ' ?[^\s\p{L}\p{N}]+[\r\n/]*'
//	5 \s*[\r\n]+
//	6 \s+(?!\S)
//	7 \s+
//
// matched as a backtracking engine does (tiktoken's fancy-regex, and
// regexp2, which the reference encoder uses): at each position the first
// alternative that matches wins, each quantifier greedy, giving back
// characters only when what follows it cannot match. Every character is
// matched by some alternative, so the pieces tile the text. \s is
// unicode.IsSpace, the categories are Go's unicode tables (as in regexp2).
// The equivalence is tested piece by piece against the pattern
// (TestSplitMatchesPattern, FuzzTiktokenMatchesReference).
//
// The text must be valid UTF-8: Count replaces each invalid byte by
// U+FFFD first, as the engines' conversion to runes does.

// cls is what the pattern's classes say of one character.
type cls uint8

const (
	cL   cls = 1 << iota // \p{L}
	cN                   // \p{N}
	cUp                  // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
	cLow                 // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
	cSp                  // \s
	cNL                  // [\r\n]
)

// classOf classifies a rune.
func classOf(r rune) cls {
	var c cls
	switch {
	case unicode.IsLetter(r):
		c = cL
		switch {
		case unicode.IsUpper(r), unicode.IsTitle(r):
			c |= cUp
		case unicode.IsLower(r):
			c |= cLow
		default: // Lm, Lo
			c |= cUp | cLow
		}
	case unicode.IsMark(r):
		c = cUp | cLow
	case unicode.IsNumber(r):
		c = cN
	case unicode.IsSpace(r):
		c = cSp
		if r == '\r' || r == '\n' {
			c |= cNL
		}
	}
	return c
}

// asciiClass is classOf for the 128 ASCII characters, computed once per
// splitter (a value, not package state).
type asciiClass [utf8.RuneSelf]cls

func newASCIIClass() *asciiClass {
	var a asciiClass
	for r := range rune(utf8.RuneSelf) {
		a[r] = classOf(r)
	}
	return &a
}

// at returns the class and the size of the character at s[i:].
func (a *asciiClass) at(s string, i int) (cls, int) {
	if b := s[i]; b < utf8.RuneSelf {
		return a[b], 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	return classOf(r), n
}

// prefix: [^\r\n\p{L}\p{N}]
func isPrefix(c cls) bool { return c&(cNL|cL|cN) == 0 }

// punct: [^\s\p{L}\p{N}]
func isPunct(c cls) bool { return c&(cSp|cL|cN) == 0 }

// piece returns the end of the piece that starts at s[i] (i < len(s)).
func (a *asciiClass) piece(s string, i int) int {
	c0, n0 := a.at(s, i)
	if isPrefix(c0) || c0&(cUp|cLow) != 0 {
		if e := a.letters(s, i, c0, n0); e >= 0 {
			return e
		}
	}
	if c0&cN != 0 { // 3
		e := i + n0
		for k := 1; k < 3 && e < len(s); k++ {
			c, n := a.at(s, e)
			if c&cN == 0 {
				break
			}
			e += n
		}
		return e
	}
	// 4: ' ?[^\s\p{L}\p{N}]+[\r\n/]*'
	j := i
	if s[i] == ' ' && i+1 < len(s) {
		if c, _ := a.at(s, i+1); isPunct(c) {
			j = i + 1
		}
	}
	if c, _ := a.at(s, j); isPunct(c) {
		e := a.run(s, j, isPunct)
		for e < len(s) && (s[e] == '\r' || s[e] == '\n' || s[e] == '/') {
			e++
		}
		return e
	}
	// c0 is \s. 5: \s*[\r\n]+ ends after the last \r or \n of the run.
	w, lastNL, last := i, -1, i
	for w < len(s) {
		c, n := a.at(s, w)
		if c&cSp == 0 {
			break
		}
		if c&cNL != 0 {
			lastNL = w
		}
		last = w
		w += n
	}
	if lastNL >= 0 {
		return lastNL + 1
	}
	// 6: \s+(?!\S): the whole run at the end of the text, else all of it
	// but its last character, if that leaves one. 7: \s+.
	if w < len(s) && last > i {
		return last
	}
	return w
}

// run returns the end of the run of characters from s[j] that in accepts.
func (a *asciiClass) run(s string, j int, in func(cls) bool) int {
	for j < len(s) {
		c, n := a.at(s, j)
		if !in(c) {
			break
		}
		j += n
	}
	return j
}

func isUp(c cls) bool  { return c&cUp != 0 }
func isLow(c cls) bool { return c&cLow != 0 }

// letters tries alternatives 1 and 2 at s[i], each with the optional
// prefix character taken first, then without it; -1 when neither matches.
func (a *asciiClass) letters(s string, i int, c0 cls, n0 int) int {
	starts := [2]int{-1, i}
	if isPrefix(c0) {
		starts[0] = i + n0
	}
	for _, j := range starts { // 1: [Up]*[Low]+ with [Up]* giving back
		if j < 0 || j >= len(s) {
			continue
		}
		upEnd := a.run(s, j, isUp)
		for p := upEnd; ; {
			if p < len(s) {
				if c, _ := a.at(s, p); isLow(c) {
					return a.contraction(s, a.run(s, p, isLow))
				}
			}
			if p == j {
				break
			}
			_, n := utf8.DecodeLastRuneInString(s[j:p])
			p -= n
		}
	}
	for _, j := range starts { // 2: [Up]+[Low]*
		if j < 0 || j >= len(s) {
			continue
		}
		if upEnd := a.run(s, j, isUp); upEnd > j {
			return a.contraction(s, a.run(s, upEnd, isLow))
		}
	}
	return -1
}

// contraction extends a piece ending at e by (?i:'s|'t|'re|'ve|'m|'ll|'d).
func (a *asciiClass) contraction(s string, e int) int {
	if e >= len(s) || s[e] != '\'' {
		return e
	}
	for _, suffix := range [...]string{"s", "t", "re", "ve", "m", "ll", "d"} {
		k, ok := e+1, true
		for _, want := range suffix {
			if k >= len(s) {
				ok = false
				break
			}
			r, n := utf8.DecodeRuneInString(s[k:])
			if unicode.ToLower(r) != want {
				ok = false
				break
			}
			k += n
		}
		if ok {
			return k
		}
	}
	return e
}
