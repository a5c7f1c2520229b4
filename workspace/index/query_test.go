package index

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// The structure of each query, in Expr.String's canonical form: +t
// required, +(a | b) an OR group, -t excluded.
func TestParseQuery(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"dentist", "+dentist"},
		{"role:user dentist", "+role:user +dentist"},
		{"berlin flat", "+berlin +flat"},
		{"berlin OR paris", "+(berlin | paris)"},
		{"flat berlin OR paris", "+flat +(berlin | paris)"},
		{"a OR b OR c d", "+(a | b | c) +d"},
		{"berlin or paris", "+berlin +or +paris"}, // only OR in capitals is the operator
		{"ORDER", "+ORDER"},
		{"flat -sold", "+flat -sold"},
		{`-"sold out" flat`, `+flat -"sold out"`},
		{"-role:tool", "-role:tool"},
		{"+berlin +sender:bob", "+berlin +sender:bob"},
		{`"berlin flat"`, `+"berlin flat"`},
		{`"berlin flat" OR "paris flat"`, `+("berlin flat" | "paris flat")`},
		{`say "hi there"now`, `+say +"hi there" +now`},
		{`"a \"quoted\" word"`, `+"a \"quoted\" word"`},
		{"berl*", "+berl*"},
		{"* -sold", "+* -sold"},
		{`berl\*`, "+berl*"}, // an escaped * is a character: a word (String cannot tell)
		{"Role:User", "+role:User"},
		{"chat:direct:42", "+chat:direct:42"},
		{`chat:direct\:42`, "+chat:direct:42"},
		{`sender:"ann lee"`, `+sender:"ann lee"`},
		{"sender:ann*", "+sender:ann*"},
		{"session:sk_v1_67fe19a8", "+session:sk_v1_67fe19a8*"},
		{"session:67fe19a8", "+session:sk_v1_67fe19a8*"},
		{"session:sk_v1_67fe19a8ec8fd03673f4b28c2fcddc0a2712152896ff962b8eec1b0debfdb4c5",
			"+session:sk_v1_67fe19a8ec8fd03673f4b28c2fcddc0a2712152896ff962b8eec1b0debfdb4c5"},
		{"12:30", "+12:30"}, // not a field name: a word
		{"http://example.org/a", "+http://example.org/a"}, // a URL is a word
		{"todo: milk", "+todo: +milk"},                    // a word ending in a colon
		{`re\:meeting`, "+re:meeting"},                    // escaped colon: a word
		{"--verbose", "+--verbose"},
		{"公寓 OR アパート", "+(公寓 | アパート)"},
		{"🎉", "+🎉"},
		{"a\tb\nc", "+a +b +c"},
	} {
		e, err := ParseQuery(tt.in)
		if err != nil {
			t.Errorf("ParseQuery(%q): %v", tt.in, err)
			continue
		}
		if got := e.String(); got != tt.want {
			t.Errorf("ParseQuery(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseQueryKinds(t *testing.T) {
	e, err := ParseQuery(`berl\* berl* "x y" role:user`)
	if err != nil {
		t.Fatal(err)
	}
	want := []TermKind{TermWord, TermPrefix, TermPhrase, TermField}
	for i, g := range e.All {
		if len(g) != 1 || g[0].Kind != want[i] {
			t.Errorf("group %d: %+v, want kind %d", i, g, want[i])
		}
	}
	if c := e.All[3][0].Column; c != 20 {
		t.Errorf("column of role:user: %d", c)
	}
}

// Malformed queries: a *QueryError that matches ErrBadQuery and names the
// column (in characters) of the culprit.
func TestParseQueryErrors(t *testing.T) {
	for _, tt := range []struct {
		in   string
		col  int
		want string
	}{
		{`role:user "dentist`, 11, "unclosed quote"},
		{`"`, 1, "unclosed quote"},
		{`公寓 "x`, 4, "unclosed quote"}, // columns count characters, not bytes
		{"flat -", 6, `lone '-'`},
		{"- flat", 1, `lone '-'`},
		{"+", 1, `lone '+'`},
		{"colour:red", 1, `unknown field "colour"`},
		{"flat Colour:red", 6, "fields: account, agent, channel, chat, failed, role, sender, session, tool, topic"},
		{"role:", 1, "role: has no value"},
		{`sender:""`, 1, "sender: has no value"},
		{`""`, 1, "an empty phrase"},
		{`"  "`, 1, "an empty phrase"},
		{"OR flat", 1, "OR needs a term before it"},
		{"flat OR", 6, "OR needs a term after it"},
		{"flat OR OR paris", 6, "OR needs a term after it"},
		{"flat OR -paris", 9, "cannot be a side of OR"},
		{"-flat OR paris", 1, "cannot be a side of OR"},
		{"berl**", 1, "a prefix search"},
		{"flat session:office", 6, "want a session id or id prefix"},
	} {
		_, err := ParseQuery(tt.in)
		var qe *QueryError
		if !errors.As(err, &qe) || !errors.Is(err, ErrBadQuery) {
			t.Errorf("ParseQuery(%q): %v, want a *QueryError", tt.in, err)
			continue
		}
		if qe.Column != tt.col || !strings.Contains(qe.Msg, tt.want) || qe.Query != tt.in ||
			!strings.Contains(err.Error(), "column") {
			t.Errorf("ParseQuery(%q): column %d, %q; want column %d, %q", tt.in, qe.Column, err, tt.col, tt.want)
		}
	}
}

// Building the bleve query: a prefix must be one word; punctuation-only
// terms fall away, and nothing matches when every required one did.
func TestExprQuery(t *testing.T) {
	e, err := ParseQuery("e-mail-* x")
	if err != nil {
		t.Fatal(err)
	}
	var qe *QueryError
	if _, err := e.Query(false); !errors.As(err, &qe) || qe.Column != 1 || !strings.Contains(qe.Msg, "one word") {
		t.Fatalf("multi-token prefix: %v", err)
	}
	for _, tt := range []struct{ in, want string }{
		{"&", "*query.MatchNoneQuery"},
		{"*", "*query.MatchAllQuery"},
		{"", "*query.MatchAllQuery"},
		{"-sold", "*query.BooleanQuery"},
		{"flat & —", "*query.TermQuery"},
		{"flat berlin", "*query.ConjunctionQuery"},
		{"e-mail", "*query.MatchPhraseQuery"},
	} {
		e, err := ParseQuery(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		q, err := e.Query(false)
		if err != nil {
			t.Fatal(err)
		}
		if got := typeName(q); got != tt.want {
			t.Errorf("%q: %s, want %s", tt.in, got, tt.want)
		}
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }
