package config

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/picosess/picosess/keying"
)

// Both forms side by side, in both blocks: the object form's
// sharedSession (shared_session in PicoClaw's block) lists the name in
// Policy.SharedSessions; the array form means what it always meant.
func TestIdentityLinksObjectForm(t *testing.T) {
	tests := []struct {
		name, doc  string
		wantLinks  keying.IdentityLinks
		wantShared []string
	}{
		{"openclaw object and array",
			`{"session": {"dmScope": "per-channel-peer", "identityLinks": {
				"john": {"ids": ["telegram:123", "discord:456"], "sharedSession": true},
				"mary": ["telegram:789", "discord:999"]}}}`,
			keying.IdentityLinks{"john": {"telegram:123", "discord:456"}, "mary": {"telegram:789", "discord:999"}}, []string{"john"}},
		{"picoclaw shared_session",
			`{"session": {"identity_links": {"john": {"ids": ["telegram:123", "discord:456"], "shared_session": true}}}}`,
			keying.IdentityLinks{"john": {"telegram:123", "discord:456"}}, []string{"john"}},
		{"picoclaw sharedSession",
			`{"session": {"identity_links": {"john": {"ids": ["telegram:123", "discord:456"], "sharedSession": true}}}}`,
			keying.IdentityLinks{"john": {"telegram:123", "discord:456"}}, []string{"john"}},
		{"object form without sharing",
			`{"session": {"identityLinks": {"john": {"ids": ["telegram:123", "discord:456"], "sharedSession": false}}}}`,
			keying.IdentityLinks{"john": {"telegram:123", "discord:456"}}, nil},
		{"array form unchanged",
			`{"session": {"identity_links": {"john": ["telegram:123", "discord:456"]}}}`,
			keying.IdentityLinks{"john": {"telegram:123", "discord:456"}}, nil},
		{"identity_links wins over identityLinks",
			`{"session": {"identity_links": {"john": ["telegram:123", "discord:456"]},
			              "identityLinks": {"john": {"ids": ["telegram:123"], "sharedSession": true}}}}`,
			keying.IdentityLinks{"john": {"telegram:123", "discord:456"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warnings, err := Parse("config.json", []byte(tt.doc))
			if err != nil || len(warnings) != 0 {
				t.Fatal(err, warnings)
			}
			p := cfg.Policy()
			if !reflect.DeepEqual(p.IdentityLinks, tt.wantLinks) || !reflect.DeepEqual(p.SharedSessions, tt.wantShared) {
				t.Fatalf("links %v shared %v, want %v %v", p.IdentityLinks, p.SharedSessions, tt.wantLinks, tt.wantShared)
			}
			tg, err := keying.Resolve("main", keying.Inbound{Channel: "telegram", ChatType: "direct", ChatID: "123", SenderID: "123"}, p)
			if err != nil {
				t.Fatal(err)
			}
			dc, _ := keying.Resolve("main", keying.Inbound{Channel: "discord", ChatType: "direct", ChatID: "456", SenderID: "456"}, p)
			if tt.wantShared == nil {
				if tg.ID == dc.ID || strings.HasSuffix(tg.MatchedBy, ":shared") {
					t.Fatalf("not shared: %s %s", tg.Signature, dc.Signature)
				}
				return
			}
			if tg.ID != dc.ID || tg.Signature != "v=1|agent=main|channel=shared|account=*|sender=john" || tg.MatchedBy != "identity_links:john:shared" {
				t.Fatalf("shared: %s (%s) vs %s", tg.Signature, tg.MatchedBy, dc.Signature)
			}
		})
	}
}

func TestIdentityLinksErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"unknown field, with line and column", "{\"session\": {\"identityLinks\": {\n  \"john\": {\"ids\": [\"telegram:1\"], \"sharedSessions\": true}}}}",
			`config.json:2:53: session.identityLinks.john.sharedSessions: unknown field "sharedSessions" of an identity link (known: ids, sharedSession)`},
		{"snake case in openclaw's block", `{"session": {"identityLinks": {"john": {"ids": ["x"], "shared_session": true}}}}`,
			`session.identityLinks.john.shared_session: unknown field "shared_session"`},
		{"unknown field in picoclaw's block", `{"session": {"identity_links": {"john": {"ids": ["x"], "share": true}}}}`,
			`session.identity_links.john.share: unknown field "share" of an identity link (known: ids, sharedSession, shared_session)`},
		{"both spellings", `{"session": {"identity_links": {"john": {"ids": ["x"], "sharedSession": true, "shared_session": true}}}}`,
			`session.identity_links.john.shared_session: sharedSession is set too`},
		{"missing ids", `{"session": {"identityLinks": {"john": {"sharedSession": true}}}}`,
			`config.json:1:40: session.identityLinks.john.ids: missing`},
		{"ids not strings", `{"session": {"identityLinks": {"john": {"ids": ["x", 7]}}}}`,
			`session.identityLinks.john.ids[1]: want a string, got a number`},
		{"sharedSession not a boolean", `{"session": {"identityLinks": {"john": {"ids": ["x"], "sharedSession": "yes"}}}}`,
			`session.identityLinks.john.sharedSession: want true or false, got a string`},
		{"entry a string", `{"session": {"identityLinks": {"john": "telegram:1"}}}`,
			`session.identityLinks.john: want an array of ids or an object`},
		{"alias twice, object form", `{"session": {"identityLinks": {"a": ["x"], "b": {"ids": ["y", "X"], "sharedSession": true}}}}`,
			`session.identityLinks.b.ids[1]: alias "x" is also listed under "a"`},
		{"alias twice, openclaw array form", `{"session": {"identityLinks": {"a": ["x"], "b": ["X"]}}}`,
			`session.identityLinks.b[0]: alias "x" is also listed under "a"`},
		{"empty alias", `{"session": {"identity_links": {"a": {"ids": [" "]}}}}`,
			`session.identity_links.a.ids[0]: empty alias`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse("config.json", []byte(tt.doc))
			if err == nil {
				t.Fatalf("want error containing %q", tt.want)
			}
			var ce *Error
			if !errors.Is(err, ErrConfig) || !errors.As(err, &ce) || ce.Field == "" {
				t.Errorf("error must be a located config error with a field: %#v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// Marshalling keeps each entry's form.
func TestIdentityLinksMarshal(t *testing.T) {
	doc := `{"john":{"ids":["telegram:123"],"sharedSession":true},"mary":["x"]}`
	var l IdentityLinksOC
	if err := json.Unmarshal([]byte(doc), &l); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(l)
	if err != nil || string(b) != doc {
		t.Fatalf("got %s %v, want %s", b, err, doc)
	}
}
