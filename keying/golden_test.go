package keying

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// goldenCase is one row of testdata/key-derivations.json, made by
// PicoClaw's own code.
type goldenCase struct {
	Case    string  `json:"case"`
	Inbound Inbound `json:"inbound"`
	Policy  struct {
		Dimensions    []string      `json:"Dimensions"`
		IdentityLinks IdentityLinks `json:"IdentityLinks"`
	} `json:"policy"`
	MatchedBy          string   `json:"matched_by"`
	Scope              Scope    `json:"scope"`
	CanonicalSignature string   `json:"canonical_signature"`
	SHA256             string   `json:"sha256_hex_of_signature"`
	SessionKey         string   `json:"session_key"`
	LegacyAliases      []string `json:"legacy_aliases"`
	MainSessionKey     string   `json:"main_session_key"`
	MainAliases        []string `json:"main_aliases"`
}

func loadGolden(t testing.TB) []goldenCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "key-derivations.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no golden cases")
	}
	return cases
}

// explicitKey returns the explicit storage key a case records: PicoClaw
// keeps such keys (agent:cron-...) as the session key.
func (c goldenCase) explicitKey() string {
	if IsID(c.SessionKey) {
		return ""
	}
	return c.SessionKey
}

// TestGoldenDerivations: given the inbound and the policy each case
// records (after dispatch), the scope, signature, id, aliases and main id
// must be PicoClaw's, byte for byte.
func TestGoldenDerivations(t *testing.T) {
	for _, c := range loadGolden(t) {
		t.Run(c.Case, func(t *testing.T) {
			in := c.Inbound
			in.Key = c.explicitKey()
			p := Policy{Dimensions: c.Policy.Dimensions, IdentityLinks: c.Policy.IdentityLinks}
			if p.Dimensions == nil {
				p.Dimensions = []string{} // PicoClaw's null policy means no dimensions
			}
			r, err := Resolve(c.Scope.AgentID, in, p)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.Scope, c.Scope) {
				t.Errorf("scope:\n got %+v\nwant %+v", r.Scope, c.Scope)
			}
			if r.Signature != c.CanonicalSignature {
				t.Errorf("signature:\n got %s\nwant %s", r.Signature, c.CanonicalSignature)
			}
			if got := Opaque(r.Signature); got != IDPrefix+c.SHA256 {
				t.Errorf("hash of signature: got %s, want %s", got, c.SHA256)
			}
			aliases := r.Aliases
			if k := c.explicitKey(); k != "" {
				if r.ID != Opaque(k) || r.Key != k {
					t.Errorf("explicit key %s: got id %s key %s, want id %s", k, r.ID, r.Key, Opaque(k))
				}
				if len(aliases) == 0 || aliases[0] != k {
					t.Fatalf("explicit key must be aliases[0], got %v", aliases)
				}
				aliases = aliases[1:]
			} else if r.ID != c.SessionKey {
				t.Errorf("id: got %s, want %s", r.ID, c.SessionKey)
			}
			if !reflect.DeepEqual(aliases, c.LegacyAliases) {
				t.Errorf("aliases:\n got %q\nwant %q", aliases, c.LegacyAliases)
			}
			if r.MainID != c.MainSessionKey {
				t.Errorf("main id: got %s, want %s", r.MainID, c.MainSessionKey)
			}
			if MainKey(c.Scope.AgentID) != c.MainAliases[0] {
				t.Errorf("main key: got %s, want %v", MainKey(c.Scope.AgentID), c.MainAliases)
			}
		})
	}
}

// fixtureRules are the dispatch rules of the config the golden vectors
// were made with, as their cases describe them.
func fixtureRules() []Rule {
	yes := true
	return []Rule{
		{Name: "support group", When: When{Channel: "telegram", Chat: "group:-1009999"},
			Agent: "support", SessionDimensions: []string{"chat", "sender"}},
		{Name: "slack mentions", When: When{Channel: "slack", Mentioned: &yes},
			SessionDimensions: []string{"space", "sender"}},
	}
}

// TestGoldenDispatch runs every case through the dispatch rules, starting
// from agent main: the rule that matches and the route must be PicoClaw's,
// except in the one case that records PicoClaw's account quirk.
func TestGoldenDispatch(t *testing.T) {
	for _, c := range loadGolden(t) {
		t.Run(c.Case, func(t *testing.T) {
			dims := c.Policy.Dimensions
			if c.MatchedBy != "default" {
				dims = DefaultDimensions()
			} else if dims == nil {
				dims = []string{}
			}
			in := c.Inbound
			in.Key = c.explicitKey()
			r, err := Resolve("main", in, Policy{Dimensions: dims, IdentityLinks: c.Policy.IdentityLinks, Rules: fixtureRules()})
			if err != nil {
				t.Fatal(err)
			}
			if c.Case[:6] == "quirk:" {
				// PicoClaw compares a rule without account with "default"; we
				// match every account, so the mention rule applies.
				if r.MatchedBy != "dispatch.rule:slack mentions" {
					t.Fatalf("matched by %s, want the slack mentions rule", r.MatchedBy)
				}
				want := "v=1|agent=main|channel=slack|account=workspace-a|space=workspace:t001|sender=u123"
				if r.Signature != want {
					t.Fatalf("signature %s, want %s", r.Signature, want)
				}
				return
			}
			if r.MatchedBy != c.MatchedBy {
				t.Errorf("matched by %s, want %s", r.MatchedBy, c.MatchedBy)
			}
			if r.Signature != c.CanonicalSignature {
				t.Errorf("signature:\n got %s\nwant %s", r.Signature, c.CanonicalSignature)
			}
		})
	}
}
