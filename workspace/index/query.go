package index

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/picosess/picosess/keying"
)

// The query language of Query.Text (docs/search.md), as a person types it
// into a search box:
//
//	berlin flat           both words (AND), in any order
//	berlin OR paris       either word; OR binds tighter than AND:
//	                      "flat berlin OR paris" is flat AND (berlin OR paris)
//	-sold                 not this word (also -"a phrase", -role:tool)
//	"berlin flat"         the words in this order
//	berl*                 a word starting with berl; a lone * is every message
//	role:user             a field, whole value: FieldNames lists them;
//	sender:"ann lee"      quote a value with spaces; chat:direct:42 needs no escape
//	+word                 the same as word (required; kept from the old syntax)
//	\-1, \"               a backslash makes the next character an ordinary one
//
// A word is analyzed as the text was: "e-mail" is the phrase "e mail",
// 柏林看公寓 the run of its bigrams. name:value is a field only when name
// is one of letters; "12:30", ":-)" and "http://..." are words.

// FieldNames are the fields a query may name as field:value, sorted.
var FieldNames = []string{FieldAccount, FieldAgent, FieldChannel, FieldChat, FieldFailed, FieldRole, FieldSender, FieldSession, FieldTool, FieldTopic}

// QueryError is a query that cannot be parsed: what is wrong, and where.
// It matches ErrBadQuery.
type QueryError struct {
	Query  string
	Column int // 1-based, in characters of Query
	Msg    string
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("index: bad query: %s (column %d of %q)", e.Msg, e.Column, e.Query)
}

// Is makes errors.Is(err, ErrBadQuery) true.
func (e *QueryError) Is(target error) bool { return target == ErrBadQuery }

// TermKind is what a Term matches.
type TermKind uint8

// Term kinds.
const (
	TermWord   TermKind = iota // a word of the text
	TermPhrase                 // "words in this order"
	TermPrefix                 // a word of the text starting with Value (berl*)
	TermField                  // Field is Value, whole (or starts with it: Prefix)
)

// Term is one term of a parsed query.
type Term struct {
	Kind   TermKind
	Field  string // TermField only
	Value  string // unquoted, unescaped; without the * of a prefix
	Prefix bool   // TermField: value* (a session id prefix is one too)
	Column int    // where the term starts in the query, 1-based
}

// Expr is a parsed query: a message matches when it matches at least one
// term of every group of All, and no term of None.
type Expr struct {
	All  [][]Term // AND of groups; a group of several terms is an OR
	None []Term

	text string // as parsed, for errors found while building the query
}

// String writes e in a canonical form: +t for a required term,
// +(a | b) for an OR group, -t for an excluded one.
func (e *Expr) String() string {
	var b strings.Builder
	for _, g := range e.All {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('+')
		if len(g) > 1 {
			b.WriteByte('(')
		}
		for i, t := range g {
			if i > 0 {
				b.WriteString(" | ")
			}
			b.WriteString(t.String())
		}
		if len(g) > 1 {
			b.WriteByte(')')
		}
	}
	for _, t := range e.None {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("-" + t.String())
	}
	return b.String()
}

func (t Term) String() string {
	v := t.Value
	if strings.ContainsAny(v, " \t\"") {
		v = strconv.Quote(v)
	}
	switch t.Kind {
	case TermPhrase:
		return strconv.Quote(t.Value)
	case TermPrefix:
		return v + "*"
	case TermField:
		if t.Prefix {
			v += "*"
		}
		return t.Field + ":" + v
	}
	return v
}

// ParseQuery parses the query language of Query.Text. An empty or blank
// text is an empty Expr (every message matches). Errors are *QueryError.
func ParseQuery(text string) (*Expr, error) {
	p := &parser{text: text, r: []rune(text)}
	return p.parse()
}

type parser struct {
	text string
	r    []rune
	i    int
}

// item is a lexed term with its sign, or the operator OR.
type item struct {
	term Term
	not  bool
	or   bool
}

func (p *parser) errorf(col int, format string, args ...any) error {
	return &QueryError{Query: p.text, Column: col, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) parse() (*Expr, error) {
	var items []item
	for {
		it, ok, err := p.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		items = append(items, it)
	}
	e := &Expr{text: p.text}
	for k := 0; k < len(items); k++ {
		it := items[k]
		if it.or {
			return nil, p.errorf(it.term.Column, "OR needs a term before it")
		}
		if it.not {
			if k+1 < len(items) && items[k+1].or {
				return nil, p.errorf(it.term.Column-1, "an excluded term (-%s) cannot be a side of OR", it.term)
			}
			e.None = append(e.None, it.term)
			continue
		}
		group := []Term{it.term}
		for k+1 < len(items) && items[k+1].or {
			or := items[k+1]
			if k+2 >= len(items) || items[k+2].or {
				return nil, p.errorf(or.term.Column, "OR needs a term after it")
			}
			next := items[k+2]
			if next.not {
				return nil, p.errorf(next.term.Column-1, "an excluded term (-%s) cannot be a side of OR", next.term)
			}
			group = append(group, next.term)
			k += 2
		}
		e.All = append(e.All, group)
	}
	return e, nil
}

// next lexes the next item; ok is false at the end of the text.
func (p *parser) next() (it item, ok bool, err error) {
	for p.i < len(p.r) && unicode.IsSpace(p.r[p.i]) {
		p.i++
	}
	if p.i >= len(p.r) {
		return item{}, false, nil
	}
	start := p.i
	col := start + 1
	if c := p.r[p.i]; c == '-' || c == '+' {
		if p.i+1 >= len(p.r) || unicode.IsSpace(p.r[p.i+1]) {
			return item{}, false, p.errorf(col, "a lone %q: write %cword, or quote it (\"%c\") to search for it", c, c, c)
		}
		if n := p.r[p.i+1]; n != '-' && n != '+' {
			p.i++
			t, err := p.term()
			if err != nil {
				return item{}, false, err
			}
			return item{term: t, not: c == '-'}, true, nil
		}
		// "--verbose", "+-": an ordinary word.
	}
	if p.r[p.i] == 'O' && p.i+1 < len(p.r) && p.r[p.i+1] == 'R' && (p.i+2 == len(p.r) || unicode.IsSpace(p.r[p.i+2])) {
		p.i += 2
		return item{or: true, term: Term{Column: col}}, true, nil
	}
	t, err := p.term()
	return item{term: t}, true, err
}

// term lexes a phrase, a field:value, a prefix or a word at p.i.
func (p *parser) term() (Term, error) {
	col := p.i + 1
	if p.r[p.i] == '"' {
		v, err := p.quoted()
		if err != nil {
			return Term{}, err
		}
		if strings.TrimSpace(v) == "" {
			return Term{}, p.errorf(col, "an empty phrase")
		}
		return Term{Kind: TermPhrase, Value: v, Column: col}, nil
	}
	var b strings.Builder
	escaped := false // the word has an escaped character: not a field, not a prefix
	lastEscaped := false
	for p.i < len(p.r) && !unicode.IsSpace(p.r[p.i]) && p.r[p.i] != '"' {
		c := p.r[p.i]
		lastEscaped = false
		if c == '\\' && p.i+1 < len(p.r) {
			p.i++
			b.WriteRune(p.r[p.i])
			p.i++
			escaped, lastEscaped = true, true
			continue
		}
		if c == ':' && !escaped && isFieldName(b.String()) {
			return p.field(b.String(), col)
		}
		b.WriteRune(c)
		p.i++
	}
	w := b.String()
	if strings.HasSuffix(w, "*") && !lastEscaped {
		stem := strings.TrimSuffix(w, "*")
		if strings.HasSuffix(stem, "*") {
			return Term{}, p.errorf(col, "%q: a prefix search is a word followed by one *, as in berl*", w)
		}
		return Term{Kind: TermPrefix, Value: stem, Column: col}, nil
	}
	return Term{Kind: TermWord, Value: w, Column: col}, nil
}

// field lexes the value of name: at p.i (the colon).
func (p *parser) field(name string, col int) (Term, error) {
	p.i++ // the colon
	lname := strings.ToLower(name)
	if p.i >= len(p.r) || unicode.IsSpace(p.r[p.i]) {
		if !slices.Contains(FieldNames, lname) {
			// "todo: milk": a word with a colon after it.
			return Term{Kind: TermWord, Value: name + ":", Column: col}, nil
		}
		return Term{}, p.errorf(col, "%s: has no value (as in %s:%s)", lname, lname, fieldExample(lname))
	}
	if p.i+1 < len(p.r) && p.r[p.i] == '/' && p.r[p.i+1] == '/' {
		// http://example.org: a word (the analyzer splits it).
		p.i = col - 1
		var b strings.Builder
		for p.i < len(p.r) && !unicode.IsSpace(p.r[p.i]) && p.r[p.i] != '"' {
			b.WriteRune(p.r[p.i])
			p.i++
		}
		return Term{Kind: TermWord, Value: b.String(), Column: col}, nil
	}
	if !slices.Contains(FieldNames, lname) {
		return Term{}, p.errorf(col, "unknown field %q (fields: %s; to search for the word, quote it: \"%s:...\")",
			name, strings.Join(FieldNames, ", "), name)
	}
	t := Term{Kind: TermField, Field: lname, Column: col}
	if p.i < len(p.r) && p.r[p.i] == '"' {
		v, err := p.quoted()
		if err != nil {
			return Term{}, err
		}
		t.Value = v
	} else {
		var b strings.Builder
		lastEscaped := false
		for p.i < len(p.r) && !unicode.IsSpace(p.r[p.i]) && p.r[p.i] != '"' {
			lastEscaped = false
			if p.r[p.i] == '\\' && p.i+1 < len(p.r) {
				p.i++
				lastEscaped = true
			}
			b.WriteRune(p.r[p.i])
			p.i++
		}
		t.Value = b.String()
		if strings.HasSuffix(t.Value, "*") && !lastEscaped {
			t.Value, t.Prefix = strings.TrimSuffix(t.Value, "*"), true
		}
	}
	if strings.TrimSpace(t.Value) == "" {
		return Term{}, p.errorf(col, "%s: has no value (as in %s:%s)", lname, lname, fieldExample(lname))
	}
	if lname == FieldSession && !keying.IsID(t.Value) {
		// An id prefix, with or without sk_v1_, as ls and search print them.
		hex := strings.TrimPrefix(strings.ToLower(t.Value), keying.IDPrefix)
		if hex == "" || strings.Trim(hex, "0123456789abcdef") != "" {
			return Term{}, p.errorf(col, "session:%s: want a session id or id prefix (sk_v1_67fe19a8...); a name or title goes in the --session filter", t.Value)
		}
		t.Value, t.Prefix = keying.IDPrefix+hex, true
	}
	return t, nil
}

// quoted lexes "..." at p.i; \" and \\ are escapes inside.
func (p *parser) quoted() (string, error) {
	col := p.i + 1
	p.i++
	var b strings.Builder
	for p.i < len(p.r) {
		c := p.r[p.i]
		switch {
		case c == '\\' && p.i+1 < len(p.r):
			b.WriteRune(p.r[p.i+1])
			p.i += 2
			continue
		case c == '"':
			p.i++
			return b.String(), nil
		}
		b.WriteRune(c)
		p.i++
	}
	return "", p.errorf(col, "unclosed quote")
}

// isFieldName reports whether s could name a field: ASCII letters and _.
func isFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !('a' <= c && c <= 'z' || s[i] == '_') {
			return false
		}
	}
	return true
}

func fieldExample(field string) string {
	switch field {
	case FieldRole:
		return "user"
	case FieldSender:
		return "alice"
	case FieldChat:
		return "direct:42"
	case FieldSession:
		return "sk_v1_67fe19a8"
	case FieldTool:
		return "read_file"
	case FieldFailed:
		return "true"
	}
	return "main"
}

// queryAnalyzer analyzes words and phrases as the text field was.
var queryAnalyzer = newTextAnalyzer()

// Query builds the bleve query of e. With any, the text terms (words,
// phrases, prefixes) become alternatives: a message needs one of them, and
// more rank higher; fields and exclusions apply as without it. A term with
// nothing searchable in it (punctuation: "&", "—") is left out; when every
// required term is, nothing matches.
func (e *Expr) Query(any bool) (query.Query, error) {
	var must, should, not []query.Query
	required := false
	for _, g := range e.All {
		required = true
		var ors []query.Query
		text := true
		for _, t := range g {
			q, err := t.query(e)
			if err != nil {
				return nil, err
			}
			if q != nil {
				ors = append(ors, q)
			}
			text = text && t.Kind != TermField
		}
		var q query.Query
		switch len(ors) {
		case 0:
			continue
		case 1:
			q = ors[0]
		default:
			q = bleve.NewDisjunctionQuery(ors...)
		}
		if any && text {
			should = append(should, q)
		} else {
			must = append(must, q)
		}
	}
	for _, t := range e.None {
		q, err := t.query(e)
		if err != nil {
			return nil, err
		}
		if q != nil {
			not = append(not, q)
		}
	}
	if len(should) > 0 {
		must = append(must, bleve.NewDisjunctionQuery(should...))
	}
	var q query.Query
	switch {
	case len(must) == 0 && required:
		return bleve.NewMatchNoneQuery(), nil
	case len(must) == 0:
		q = bleve.NewMatchAllQuery()
	case len(must) == 1:
		q = must[0]
	default:
		q = bleve.NewConjunctionQuery(must...)
	}
	if len(not) == 0 {
		return q, nil
	}
	bq := bleve.NewBooleanQuery()
	bq.AddMust(q)
	bq.AddMustNot(not...)
	return bq, nil
}

// query is the bleve query of one term, nil when it has nothing to search.
func (t Term) query(e *Expr) (query.Query, error) {
	switch t.Kind {
	case TermField:
		v := strings.ToLower(t.Value)
		if t.Prefix {
			q := bleve.NewPrefixQuery(v)
			q.SetField(t.Field)
			return q, nil
		}
		q := bleve.NewTermQuery(v)
		q.SetField(t.Field)
		return q, nil
	case TermPrefix:
		if t.Value == "" {
			return bleve.NewMatchAllQuery(), nil // a lone *: every message
		}
		toks := queryAnalyzer.Analyze([]byte(t.Value))
		if len(toks) != 1 {
			return nil, &QueryError{Query: e.text, Column: t.Column,
				Msg: fmt.Sprintf("%q: a prefix search takes one word before the *", t.Value+"*")}
		}
		q := bleve.NewPrefixQuery(string(toks[0].Term))
		q.SetField(FieldText)
		return q, nil
	}
	toks := queryAnalyzer.Analyze([]byte(t.Value))
	switch {
	case len(toks) == 0:
		return nil, nil
	case len(toks) == 1:
		q := bleve.NewTermQuery(string(toks[0].Term))
		q.SetField(FieldText)
		return q, nil
	}
	// Several tokens from one word ("e-mail", a CJK run) or a phrase: the
	// tokens in their order.
	q := bleve.NewMatchPhraseQuery(t.Value)
	q.SetField(FieldText)
	return q, nil
}
