package keying

import (
	"fmt"
	"sort"
	"strings"
)

// IdentityLinks maps a canonical sender name to the raw ids that are the
// same person: {"john": ["slack:u123", "telegram:987654321"]}.
type IdentityLinks map[string][]string

// linkIndex is IdentityLinks compiled for lookup: alias -> canonical name,
// built in sorted name order so that a tie always resolves the same way.
type linkIndex map[string]string

// ConfigError is a configuration value that cannot be used. Path names the
// field as it appears in config.json, e.g. session.dimensions[1].
type ConfigError struct {
	Path string
	Msg  string
	Err  error // the underlying error, if any
}

func (e *ConfigError) Error() string {
	if e.Msg == "" && e.Err != nil {
		return e.Path + ": " + e.Err.Error()
	}
	return e.Path + ": " + e.Msg
}

func (e *ConfigError) Unwrap() error { return e.Err }

// Validate reports an alias listed under two canonical names, or an empty
// name or alias. path is where the links sit in the config file.
func (l IdentityLinks) Validate(path string) error {
	owner := map[string]string{}
	for _, name := range l.names() {
		if lower(name) == "" {
			return &ConfigError{Path: path, Msg: "empty canonical name"}
		}
		for i, a := range l[name] {
			a = lower(a)
			if a == "" {
				return &ConfigError{Path: fmt.Sprintf("%s.%s[%d]", path, name, i), Msg: "empty alias"}
			}
			if prev, ok := owner[a]; ok && prev != lower(name) {
				return &ConfigError{Path: fmt.Sprintf("%s.%s[%d]", path, name, i),
					Msg: fmt.Sprintf("alias %q is also listed under %q: one id can link to one name only", a, prev)}
			}
			owner[a] = lower(name)
		}
	}
	return nil
}

// validateShared reports a shared-session name that is not a canonical
// name of l.
func (l IdentityLinks) validateShared(path string, shared []string) error {
	known := map[string]bool{}
	for name := range l {
		known[lower(name)] = true
	}
	for _, s := range shared {
		if !known[lower(s)] {
			return &ConfigError{Path: path,
				Msg: fmt.Sprintf("sharedSession for %q, which is not a canonical name of the identity links", s)}
		}
	}
	return nil
}

func (l IdentityLinks) names() []string {
	names := make([]string, 0, len(l))
	for n := range l {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (l IdentityLinks) compile() linkIndex {
	if len(l) == 0 {
		return nil
	}
	idx := linkIndex{}
	for _, name := range l.names() {
		for _, a := range l[name] {
			a = lower(a)
			if _, taken := idx[a]; !taken {
				idx[a] = lower(name)
			}
		}
	}
	return idx
}

// Link returns the canonical name of raw sender id on channel, or the
// lowercased raw id when no link matches. A sender matches as its raw id,
// as <channel>:<id>, or, when the id holds a ':' that is neither first nor
// last, as the part after the first ':'. Names are tried in sorted order.
func (l IdentityLinks) Link(channel, sender string) string {
	s, _ := l.compile().link(channel, sender)
	return s
}

// link returns the canonical name and true when a link matches, else the
// lowercased raw id and false.
func (idx linkIndex) link(channel, sender string) (string, bool) {
	r := lower(sender)
	if r == "" || len(idx) == 0 {
		return r, false
	}
	var best string
	for _, c := range linkCandidates(lower(channel), r) {
		if name, ok := idx[c]; ok && (best == "" || name < best) {
			best = name
		}
	}
	if best != "" {
		return best, true
	}
	return r, false
}

func linkCandidates(channel, r string) []string {
	c := []string{r}
	if channel != "" {
		c = append(c, channel+":"+r)
	}
	if i := strings.IndexByte(r, ':'); i > 0 && i < len(r)-1 {
		c = append(c, r[i+1:])
	}
	return c
}
