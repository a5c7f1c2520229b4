package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/picosess/picosess/keying"
)

// IdentityLinks is PicoClaw's session.identity_links: per canonical name,
// either the array form ["telegram:123", "discord:456"] (PicoClaw's own,
// meaning exactly what it means there) or the object form
// {"ids": [...], "shared_session": true} (sharedSession is accepted too).
// shared_session sends the person's direct messages from every channel and
// account to one session per agent (keying.SharedScope).
type IdentityLinks map[string]IdentityLink

// IdentityLinksOC is OpenClaw's session.identityLinks: the same two forms,
// with OpenClaw's spelling sharedSession in the object form.
type IdentityLinksOC map[string]IdentityLinkOC

// IdentityLink is one canonical name's entry.
type IdentityLink struct {
	// IDs are the raw sender ids linked to the name.
	IDs []string
	// SharedSession: this person's direct messages share one session
	// across every channel and account of an agent.
	SharedSession bool
	// object records that the entry was written in the object form, so
	// that errors name ids[i].
	object bool
}

// IdentityLinkOC is one entry of OpenClaw's identityLinks.
type IdentityLinkOC IdentityLink

// The fields of the object form, by block.
var (
	linkFields   = []string{"ids", "sharedSession", "shared_session"}
	linkFieldsOC = []string{"ids", "sharedSession"}
)

// UnmarshalJSON reads either form. Parse has checked the shape (and
// reported unknown fields by path) before it gets here.
func (l *IdentityLink) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil
	case len(b) > 0 && b[0] == '[':
		*l = IdentityLink{}
		return json.Unmarshal(b, &l.IDs)
	}
	var o struct {
		IDs      []string `json:"ids"`
		Shared   *bool    `json:"sharedSession"`
		SharedPC *bool    `json:"shared_session"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	*l = IdentityLink{IDs: o.IDs, object: true}
	for _, s := range []*bool{o.Shared, o.SharedPC} {
		if s != nil {
			l.SharedSession = l.SharedSession || *s
		}
	}
	return nil
}

// MarshalJSON writes the array form unless the entry needs the object form.
func (l IdentityLink) MarshalJSON() ([]byte, error) {
	ids := l.IDs
	if ids == nil {
		ids = []string{}
	}
	if !l.SharedSession && !l.object {
		return json.Marshal(ids)
	}
	return json.Marshal(struct {
		IDs    []string `json:"ids"`
		Shared bool     `json:"sharedSession"`
	}{ids, l.SharedSession})
}

// UnmarshalJSON reads either form.
func (l *IdentityLinkOC) UnmarshalJSON(b []byte) error { return (*IdentityLink)(l).UnmarshalJSON(b) }

// MarshalJSON writes the array form unless the entry needs the object form.
func (l IdentityLinkOC) MarshalJSON() ([]byte, error) { return IdentityLink(l).MarshalJSON() }

func (IdentityLink) checkJSON(c *checker, path string, v any) {
	checkLink(c, path, v, linkFields)
}

func (IdentityLinkOC) checkJSON(c *checker, path string, v any) {
	checkLink(c, path, v, linkFieldsOC)
}

var (
	stringsType = reflect.TypeFor[[]string]()
	boolType    = reflect.TypeFor[bool]()
)

// checkLink checks one entry: an array of strings, or an object with ids
// and the block's spelling of sharedSession. An unknown field of the
// object form is an error, not a warning: a misspelt sharedSession would
// otherwise silently keep the person's sessions apart.
func checkLink(c *checker, path string, v any, known []string) {
	switch x := v.(type) {
	case []any:
		c.walk(path, x, stringsType)
	case map[string]any:
		for _, k := range sortedKeys(x) {
			ok := false
			for _, f := range known {
				ok = ok || f == k
			}
			if !ok {
				c.fail(join(path, k), "unknown field %q of an identity link (known: %s)", k, strings.Join(known, ", "))
				return
			}
		}
		if ids, ok := x["ids"]; !ok || ids == nil {
			c.fail(join(path, "ids"), `missing: the object form lists the linked ids, {"ids": ["telegram:123"], "sharedSession": true}`)
			return
		}
		c.walk(join(path, "ids"), x["ids"], stringsType)
		_, camel := x["sharedSession"]
		_, snake := x["shared_session"]
		if camel && snake {
			c.fail(join(path, "shared_session"), "sharedSession is set too: give one of the two")
			return
		}
		for _, k := range []string{"sharedSession", "shared_session"} {
			if s, ok := x[k]; ok {
				c.walk(join(path, k), s, boolType)
			}
		}
	default:
		c.fail(path, `want an array of ids or an object {"ids": [...], "sharedSession": true}, got %s`, kind(v))
	}
}

// keying returns the links as keying takes them: the ids per name, and
// the names with sharedSession, sorted.
func (l IdentityLinks) keying() (keying.IdentityLinks, []string) {
	if len(l) == 0 {
		return nil, nil
	}
	links := make(keying.IdentityLinks, len(l))
	var shared []string
	for name, e := range l {
		links[name] = e.IDs
		if e.SharedSession {
			shared = append(shared, name)
		}
	}
	sort.Strings(shared)
	return links, shared
}

// links converts OpenClaw's block to the common type.
func (l IdentityLinksOC) links() IdentityLinks {
	if l == nil {
		return nil
	}
	out := make(IdentityLinks, len(l))
	for k, v := range l {
		out[k] = IdentityLink(v)
	}
	return out
}

// validate reports an empty name or alias, or an alias under two names,
// by its path in the block at path: name[i] for the array form,
// name.ids[i] for the object form.
func (l IdentityLinks) validate(path string) error {
	links, _ := l.keying()
	err := links.Validate(path)
	var ce *keying.ConfigError
	if err == nil || !errors.As(err, &ce) {
		return err
	}
	fe := &FieldError{Path: ce.Path, Msg: strings.TrimPrefix(ce.Error(), ce.Path+": ")}
	for name, e := range l {
		if !e.object {
			continue
		}
		for i := range e.IDs {
			if ce.Path == fmt.Sprintf("%s.%s[%d]", path, name, i) {
				fe.Path = fmt.Sprintf("%s.%s.ids[%d]", path, name, i)
			}
		}
	}
	return fe
}
