package keying

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// IDPrefix starts every opaque session id.
const IDPrefix = "sk_v1_"

// IDLen is the length of an opaque id: the prefix and 64 hex digits.
const IDLen = len(IDPrefix) + 64

// Opaque returns the opaque id of a signature or raw key s:
// "sk_v1_" + lowercase hex SHA-256 of lower(trim(s)). An empty s (after
// trimming) has no id and gives "".
func Opaque(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s))
	var b [IDLen]byte
	copy(b[:], IDPrefix)
	hex.Encode(b[len(IDPrefix):], sum[:])
	return string(b[:])
}

// IsID reports whether s has the shape of an opaque id.
func IsID(s string) bool {
	if len(s) != IDLen || !strings.HasPrefix(s, IDPrefix) {
		return false
	}
	for i := len(IDPrefix); i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// MainKey is the legacy key of an agent's main session.
func MainKey(agent string) string { return "agent:" + NormalizeAgentID(agent) + ":main" }

// MainID is the id of an agent's main session: Opaque("agent:<agent>:main").
func MainID(agent string) string { return Opaque(MainKey(agent)) }

// Signature returns the canonical signature of a scope:
//
//	v=<version>|agent=<a>|channel=<c>|account=<acct>|<dim>=<value>...
//
// with the dimensions in the scope's order. It equals PicoClaw v1's byte for
// byte whenever no value contains '|', '=' or '%'; a value that does has
// those three characters percent-escaped (see EscapeValue), so two distinct
// scopes never share a signature.
func Signature(s Scope) string {
	var b strings.Builder
	b.Grow(64 + 32*len(s.Dimensions))
	b.WriteString("v=")
	b.WriteString(strconv.Itoa(s.Version))
	b.WriteString("|agent=")
	b.WriteString(EscapeValue(lower(s.AgentID)))
	b.WriteString("|channel=")
	b.WriteString(EscapeValue(lower(s.Channel)))
	b.WriteString("|account=")
	b.WriteString(EscapeValue(lower(s.Account)))
	for _, d := range s.Dimensions {
		d = lower(d)
		if d == "" {
			continue
		}
		b.WriteByte('|')
		b.WriteString(EscapeValue(d))
		b.WriteByte('=')
		b.WriteString(EscapeValue(lower(s.Values[d])))
	}
	return b.String()
}

// ID returns the opaque id of a scope: Opaque(Signature(s)).
func (s Scope) ID() string { return Opaque(Signature(s)) }

// EscapeValue makes a value safe inside a signature. A value with none of
// '|', '=' and '%' is returned unchanged, which keeps every PicoClaw v1 id;
// otherwise each of those three bytes becomes %7c, %3d and %25. Escaping
// '%' too (only in values that need escaping) keeps the map injective: an
// unescaped value never contains '%xx' produced by escaping, because any
// value holding '%' is itself escaped.
func EscapeValue(v string) string {
	if !strings.ContainsAny(v, "|=%") {
		return v
	}
	var b strings.Builder
	b.Grow(len(v) + 8)
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '|':
			b.WriteString("%7c")
		case '=':
			b.WriteString("%3d")
		case '%':
			b.WriteString("%25")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// namedPrefix separates named-session ids from every other id. All other
// ids hash a string that lower(trim()) leaves unchanged; this one starts
// with upper-case letters, so no signature or raw key can hash to it.
const namedPrefix = "Named-Session\n"

// NormalizeName trims and lowercases a session name, so that "My-Project"
// and "my-project " name one session.
func NormalizeName(name string) string { return lower(name) }

// NamedID returns the id of the named session name (see NormalizeName), or
// "" for an empty name. It can never equal the id of a scope, a main session
// or a legacy key; docs/keys.md gives the argument.
func NamedID(name string) string {
	n := NormalizeName(name)
	if n == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(namedPrefix + n))
	return IDPrefix + hex.EncodeToString(sum[:])
}
