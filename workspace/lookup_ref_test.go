package workspace

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/picosess/picosess/keying"
)

// The forms a reference takes beyond ids, signatures, aliases and names:
// a bare hex prefix, id:seq as search prints it, a title or part of one;
// and which wins when a reference could mean several things.
func TestLookupRef(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	say := func(s *Session, text string) {
		t.Helper()
		if _, err := s.Append(ctx, msg(RoleUser, text)); err != nil {
			t.Fatal(err)
		}
	}
	flat := namedSession(t, w, "flat")
	say(flat, "Viewing the Berlin flat on Friday")
	office := namedSession(t, w, "office")
	say(office, "The Berlin office moves in May")
	dentist := namedSession(t, w, "health")
	say(dentist, "Dentist")
	if _, err := dentist.SetTitle(ctx, "Dentist  appointments"); err != nil {
		t.Fatal(err)
	}
	// A session named like another's title: the name wins.
	berlin := namedSession(t, w, "Viewing the Berlin flat on Friday")
	say(berlin, "something else")
	// A session whose name is 8 hex digits that are also an id prefix of
	// another: the name wins over the prefix.
	hexName := flat.ID()[6:14]
	byHexName := namedSession(t, w, hexName)
	say(byHexName, "named like a prefix")
	aliased, err := w.Session(ctx, Target{ID: keying.Opaque("k"), Aliases: []string{"trip"}})
	if err != nil {
		t.Fatal(err)
	}
	say(aliased, "Planning the trip to Lisbon")
	tripTitled := namedSession(t, w, "t2")
	say(tripTitled, "trip")

	for _, tt := range []struct {
		ref  string
		want *Session
		by   string
		seq  int64
	}{
		{flat.ID(), flat, MatchID, 0},
		{flat.ID() + ":2", flat, MatchID, 2},
		{flat.ID()[:18], flat, MatchPrefix, 0},
		{flat.ID()[:18] + ":2", flat, MatchPrefix, 2},
		{office.ID()[6:18], office, MatchPrefix, 0}, // bare hex, 12 digits
		{strings.ToUpper(office.ID()[6:18]), office, MatchPrefix, 0},
		{office.ID()[6:14] + ":2", office, MatchPrefix, 2}, // as search prints hits
		{hexName, byHexName, MatchName, 0},                 // a name beats an id prefix
		{"office", office, MatchName, 0},
		{"viewing the berlin flat on friday", berlin, MatchName, 0}, // a name beats a title
		{"trip", aliased, MatchAlias, 0},                            // an alias beats a title
		{"dentist APPOINTMENTS", dentist, MatchTitle, 0},            // spacing and case aside
		{"dentist", dentist, MatchTitlePart, 0},
		{"moves in may", office, MatchTitlePart, 0},
		{"lisbon", aliased, MatchTitlePart, 0},
	} {
		r, err := w.LookupRef(ctx, tt.ref)
		if err != nil || r.Session.ID() != tt.want.ID() || r.By != tt.by || r.Seq != tt.seq {
			t.Errorf("LookupRef(%q) = %v %q %d, %v; want %s %q %d", tt.ref, r.Session, r.By, r.Seq, err, tt.want.ID(), tt.by, tt.seq)
		}
	}

	// Part of two titles: ambiguous, with each candidate's title and last
	// activity.
	_, err = w.Lookup(ctx, "BERLIN")
	var ae *AmbiguousError
	if !errors.As(err, &ae) || ae.By != MatchTitlePart || len(ae.Matches) != 2 {
		t.Fatalf("berlin: %v", err)
	}
	for i, c := range ae.Matches {
		if c.ID != ae.Candidates[i] || c.Title == "" || c.Updated.IsZero() || !strings.Contains(err.Error(), c.Title) {
			t.Errorf("candidate %+v in %v", c, err)
		}
	}
	for _, ref := range []string{"nothing like it", "0123456789abcdef", flat.ID()[6:14] + "0:7", flat.ID()[6:13]} {
		if _, err := w.Lookup(ctx, ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("Lookup(%q) = %v, want not found", ref, err)
		}
	}
}

func TestSplitSeq(t *testing.T) {
	for _, tt := range []struct {
		in, id string
		seq    int64
		ok     bool
	}{
		{"sk_v1_67fe19a8ec8f:12", "sk_v1_67fe19a8ec8f", 12, true},
		{"67fe19a8:3", "67fe19a8", 3, true},
		{"67FE19A8:3", "67FE19A8", 3, true},
		{"agent:main:telegram:direct:123", "agent:main:telegram:direct:123", 0, false},
		{"telegram:123", "telegram:123", 0, false},
		{"67fe19a8:0", "67fe19a8:0", 0, false},
		{"67fe19a8:+3", "67fe19a8:+3", 0, false},
		{"67fe19a8:", "67fe19a8:", 0, false},
		{":3", ":3", 0, false},
	} {
		id, seq, ok := splitSeq(tt.in)
		if id != tt.id || seq != tt.seq || ok != tt.ok {
			t.Errorf("splitSeq(%q) = %q %d %v", tt.in, id, seq, ok)
		}
	}
}
