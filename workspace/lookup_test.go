package workspace

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/picosess/picosess/keying"
)

func TestLookup(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	scope := keying.Scope{Version: 1, AgentID: "main", Channel: "telegram", Account: "default",
		Dimensions: []string{"chat"}, Values: map[string]string{"chat": "direct:42"}}
	byScope, err := w.Session(ctx, Target{Scope: &scope, Aliases: []string{"agent:main:telegram:direct:42", "shared-alias"}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := w.Session(ctx, Target{ID: keying.Opaque("agent:main:direct:bob"), Aliases: []string{"agent:main:direct:bob", "shared-alias"}})
	if err != nil {
		t.Fatal(err)
	}
	main, err := w.Session(ctx, Target{ID: keying.MainID("main"), Aliases: []string{"agent:main:main"}})
	if err != nil {
		t.Fatal(err)
	}
	named := namedSession(t, w, "Project-X")

	cases := []struct{ ref, want string }{
		{byScope.ID(), byScope.ID()},
		{byScope.ID()[:14], byScope.ID()},               // 8 hex digits
		{keying.Signature(scope), byScope.ID()},         // canonical signature
		{"agent:main:telegram:direct:42", byScope.ID()}, // alias in the header
		{"AGENT:MAIN:TELEGRAM:DIRECT:42", byScope.ID()}, // aliases compare case-insensitively
		{"agent:main:direct:bob", other.ID()},           // alias and Rule B id
		{"agent:main:main", main.ID()},                  // main key: the main session only
		{"project-x", named.ID()},                       // a session name
		{" Project-X ", named.ID()},
	}
	for _, tc := range cases {
		s, err := w.Lookup(ctx, tc.ref)
		if err != nil || s.ID() != tc.want {
			t.Errorf("Lookup(%q) = %v, %v; want %s", tc.ref, s, err, tc.want)
		}
	}

	_, err = w.Lookup(ctx, "shared-alias")
	var ae *AmbiguousError
	if !errors.As(err, &ae) || !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("shared alias: got %v, want ambiguous", err)
	}
	want := []string{byScope.ID(), other.ID()}
	if want[0] > want[1] {
		want[0], want[1] = want[1], want[0]
	}
	if len(ae.Candidates) != 2 || ae.Candidates[0] != want[0] || ae.Candidates[1] != want[1] ||
		!strings.Contains(err.Error(), want[0]) || !strings.Contains(err.Error(), want[1]) {
		t.Fatalf("candidates %v, want %v sorted and named in %q", ae.Candidates, want, err)
	}

	// Aliases that differ only in case: the exact spelling decides.
	up, _ := w.Session(ctx, Target{ID: keying.Opaque("x1"), Aliases: []string{"telegram:ABC"}})
	low, _ := w.Session(ctx, Target{ID: keying.Opaque("x2"), Aliases: []string{"telegram:abc"}})
	if s, err := w.Lookup(ctx, "telegram:ABC"); err != nil || s.ID() != up.ID() {
		t.Errorf("exact upper-case alias: %v %v", s, err)
	}
	if s, err := w.Lookup(ctx, "telegram:abc"); err != nil || s.ID() != low.ID() {
		t.Errorf("exact lower-case alias: %v %v", s, err)
	}
	if _, err := w.Lookup(ctx, "TELEGRAM:Abc"); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("case-folded alias matching two sessions: %v", err)
	}

	for _, ref := range []string{"nobody", "sk_v1_0000000000", keying.Opaque("x"), "v=1|agent=zzz|channel=x|account=default", "agent:nobody:main"} {
		if _, err := w.Lookup(ctx, ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("Lookup(%q) = %v, want ErrNotFound", ref, err)
		}
	}
	if _, err := w.Lookup(ctx, "sk_v1_abc"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "too short") {
		t.Errorf("short prefix: %v", err)
	}
}

// Two sessions sharing an id prefix: the prefix is ambiguous, a longer one
// is not.
func TestLookupAmbiguousPrefix(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	a := "sk_v1_" + "deadbeef01" + strings.Repeat("0", 54)
	b := "sk_v1_" + "deadbeef02" + strings.Repeat("0", 54)
	for _, id := range []string{b, a} {
		if _, err := w.Session(ctx, Target{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := w.Lookup(ctx, "sk_v1_deadbeef")
	var ae *AmbiguousError
	if !errors.As(err, &ae) || ae.Candidates[0] != a || ae.Candidates[1] != b {
		t.Fatalf("got %v", err)
	}
	if s, err := w.Lookup(ctx, "sk_v1_deadbeef02"); err != nil || s.ID() != b {
		t.Fatalf("longer prefix: %v %v", s, err)
	}
}
