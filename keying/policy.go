package keying

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownDimension is returned for a dimension name other than space,
// chat, topic and sender.
var ErrUnknownDimension = errors.New("keying: unknown dimension")

// ErrUnknownScope is returned for a scope name that is not one of ScopeNames.
var ErrUnknownScope = errors.New("keying: unknown scope name")

// DefaultDimensions are the dimensions used when the config sets none:
// one session per chat, as PicoClaw does.
func DefaultDimensions() []string { return []string{DimChat} }

// Policy decides how an inbound message maps to a scope.
type Policy struct {
	// Dimensions in order; nil means DefaultDimensions, empty means none
	// (one session per agent, channel and account).
	Dimensions []string
	// Main routes every message to the agent's main session.
	Main bool
	// IdentityLinks fold several raw sender ids into one canonical name.
	IdentityLinks IdentityLinks
	// SharedSessions lists canonical names of IdentityLinks (compared
	// lowercased) whose direct messages share one session per agent across
	// every channel and account: SharedScope (identity links'
	// sharedSession). A direct message whose sender links to such a name
	// goes there whatever Dimensions, Main and Direct say; a dispatch rule
	// with session_dimensions still wins, and groups are never shared.
	SharedSessions []string
	// Rules are dispatch rules; the first that matches picks the agent and
	// the dimensions.
	Rules []Rule
	// Direct, when set, replaces Dimensions and Main for direct messages
	// only (OpenClaw's dmScope: "main" sends every DM of an agent to its
	// main session while groups keep their own). A dispatch rule with
	// session_dimensions still wins.
	Direct *DirectPolicy
}

// DirectPolicy is how direct messages are keyed under Policy.Direct.
type DirectPolicy struct {
	Dimensions []string
	Main       bool
}

// Scope names accepted by --scope and ScopeDimensions.
const (
	ScopeMain                  = "main"
	ScopePerPeer               = "per-peer"
	ScopePerChannelPeer        = "per-channel-peer"
	ScopePerAccountChannelPeer = "per-account-channel-peer"
	ScopePerChannel            = "per-channel"
	ScopeGlobal                = "global"
)

// ScopeNames lists the names ScopeDimensions knows, for help texts.
func ScopeNames() []string {
	return []string{ScopeMain, ScopePerPeer, ScopePerChannelPeer, ScopePerAccountChannelPeer, ScopePerChannel, ScopeGlobal}
}

// ScopeDimensions returns the dimensions of a named scope. main reports
// main=true: the agent's main session, whatever the message. The account is
// part of every signature, so per-account-channel-peer and per-channel-peer
// name the same dimensions.
func ScopeDimensions(name string) (dims []string, main bool, err error) {
	switch lower(name) {
	case ScopeMain:
		return []string{}, true, nil
	case ScopePerPeer:
		return []string{DimSender}, false, nil
	case ScopePerChannelPeer, ScopePerAccountChannelPeer:
		return []string{DimChat, DimSender}, false, nil
	case ScopePerChannel:
		return []string{DimChat}, false, nil
	case ScopeGlobal:
		return []string{}, false, nil
	}
	return nil, false, fmt.Errorf("%w %q (known: %s)", ErrUnknownScope, name, strings.Join(ScopeNames(), ", "))
}

// DMScopeDimensions maps PicoClaw's session.dm_scope exactly as PicoClaw
// does: per-channel-peer -> [chat sender], per-channel -> [chat],
// per-peer -> [sender], global -> []; "main", "per-account-channel-peer"
// and anything else are not mapped (ok is false) and the default applies.
func DMScopeDimensions(dmScope string) (dims []string, ok bool) {
	switch lower(dmScope) {
	case ScopePerChannelPeer:
		return []string{DimChat, DimSender}, true
	case ScopePerChannel:
		return []string{DimChat}, true
	case ScopePerPeer:
		return []string{DimSender}, true
	case ScopeGlobal:
		return []string{}, true
	}
	return nil, false
}

// NormalizeDimensions lowercases and trims dimension names, drops empty
// ones and repeats, and rejects unknown names with an error that names the
// bad value and its index. nil stays nil; empty stays empty.
func NormalizeDimensions(dims []string) ([]string, error) {
	if dims == nil {
		return nil, nil
	}
	out := make([]string, 0, len(dims))
	for i, d := range dims {
		n := lower(d)
		switch n {
		case "":
			continue
		case DimSpace, DimChat, DimTopic, DimSender:
		default:
			return nil, fmt.Errorf("%w %q at [%d] (known: space, chat, topic, sender)", ErrUnknownDimension, d, i)
		}
		dup := false
		for _, o := range out {
			dup = dup || o == n
		}
		if !dup {
			out = append(out, n)
		}
	}
	return out, nil
}

// ParseDimensions splits a comma-separated list ("chat,sender"); "" means
// no dimensions (an empty, non-nil list).
func ParseDimensions(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return []string{}, nil
	}
	return NormalizeDimensions(strings.Split(s, ","))
}

// Validate checks the whole policy; errors name the config field.
func (p Policy) Validate() error {
	if _, err := NormalizeDimensions(p.Dimensions); err != nil {
		return &ConfigError{Path: "session.dimensions", Err: err}
	}
	if p.Direct != nil {
		if _, err := NormalizeDimensions(p.Direct.Dimensions); err != nil {
			return &ConfigError{Path: "session.dmScope", Err: err}
		}
	}
	if err := p.IdentityLinks.Validate("session.identity_links"); err != nil {
		return err
	}
	if err := p.IdentityLinks.validateShared("session.identity_links", p.SharedSessions); err != nil {
		return err
	}
	for i, r := range p.Rules {
		if err := r.validate(fmt.Sprintf("agents.dispatch.rules[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}
