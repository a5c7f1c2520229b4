package index

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/picosess/picosess/workspace"
)

// What a query means, run against an index: words are all required,
// field:value narrows, OR, -, phrases, prefixes; Any brings back the
// any-word search.
func TestQuerySemantics(t *testing.T) {
	ws := openWS(t, "")
	alice := chatSession(t, ws, "main", "1")
	bob := chatSession(t, ws, "main", "2")
	u1 := say(t, alice, workspace.RoleUser, "alice", "When is the dentist appointment?")
	a1 := say(t, alice, workspace.RoleAssistant, "", "The dentist is on Friday at 9")
	u2 := say(t, alice, workspace.RoleUser, "alice", "Book a table for Friday")
	u3 := say(t, bob, workspace.RoleUser, "bob", "My e-mail to the dentist bounced")
	a3 := say(t, bob, workspace.RoleAssistant, "", "Try the Berlin office instead")
	u4 := say(t, bob, workspace.RoleUser, "bob", "公寓在柏林")
	x := openIndex(t, ws, nil)
	d := func(s *workspace.Session, seq int64) string { return docID(s.ID(), seq) }

	for _, tt := range []struct {
		q    string
		any  bool
		want []string
	}{
		// The bug: role:user dentist returned every user message.
		{q: "role:user dentist", want: []string{d(alice, u1), d(bob, u3)}},
		{q: "dentist friday", want: []string{d(alice, a1)}},
		{q: "dentist friday", any: true, want: []string{d(alice, u1), d(alice, a1), d(alice, u2), d(bob, u3)}},
		{q: "role:user dentist friday", any: true, want: []string{d(alice, u1), d(alice, u2), d(bob, u3)}},
		{q: "dentist -friday", any: true, want: []string{d(alice, u1), d(bob, u3)}},
		{q: "dentist OR berlin", want: []string{d(alice, u1), d(alice, a1), d(bob, u3), d(bob, a3)}},
		{q: "friday OR berlin role:assistant", want: []string{d(alice, a1), d(bob, a3)}},
		{q: "dentist -sender:alice", want: []string{d(alice, a1), d(bob, u3)}},
		{q: `"dentist is"`, want: []string{d(alice, a1)}},
		{q: `"is dentist"`, want: nil},
		{q: "e-mail", want: []string{d(bob, u3)}},
		{q: "dent*", want: []string{d(alice, u1), d(alice, a1), d(bob, u3)}},
		{q: "sender:BOB dent*", want: []string{d(bob, u3)}},
		{q: "session:" + bob.ID()[6:14] + " dentist", want: []string{d(bob, u3)}},
		{q: "session:" + bob.ID() + " dentist", want: []string{d(bob, u3)}},
		{q: "chat:direct:2 role:user", want: []string{d(bob, u3), d(bob, u4)}},
		{q: "柏林 公寓", want: []string{d(bob, u4)}},
		{q: "公寓在柏林", want: []string{d(bob, u4)}},
		{q: "-dentist -friday role:user", want: []string{d(bob, u4)}},
		{q: "!!!", want: nil},
	} {
		res, err := x.Search(context.Background(), Query{Text: tt.q, Any: tt.any, Limit: 100})
		if err != nil {
			t.Errorf("%q: %v", tt.q, err)
			continue
		}
		got := ids(res)
		slices.Sort(got)
		want := slices.Clone(tt.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%q (any %v): %v, want %v", tt.q, tt.any, got, want)
		}
	}
	_, err := x.Search(context.Background(), Query{Text: `role:user "dentist`})
	var qe *QueryError
	if !errors.As(err, &qe) || qe.Column != 11 || !errors.Is(err, ErrBadQuery) {
		t.Fatalf("unclosed quote: %v", err)
	}
}
