package keying

import "strings"

const maxIDLen = 64

// NormalizeAgentID trims and lowercases an agent id; if the result is not
// of the form [a-z0-9][a-z0-9_-]{0,63}, runs of other characters become
// '-', leading and trailing '-' are stripped and it is cut to 64 bytes
// (with any '-' the cut leaves at the end stripped, so normalizing twice
// changes nothing).
// Empty gives DefaultAgent.
func NormalizeAgentID(s string) string { return normalizeID(s, DefaultAgent) }

// NormalizeAccountID is NormalizeAgentID with DefaultAccount for empty.
func NormalizeAccountID(s string) string { return normalizeID(s, DefaultAccount) }

// NormalizeChannel trims and lowercases a channel name; empty gives
// UnknownChannel.
func NormalizeChannel(s string) string {
	s = lower(s)
	if s == "" {
		return UnknownChannel
	}
	return s
}

func normalizeID(s, empty string) string {
	s = lower(s)
	if s == "" {
		return empty
	}
	if validID(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	dash := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isIDChar(c) {
			b.WriteByte(c)
			dash = false
			continue
		}
		if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > maxIDLen {
		// Trim again after the cut: a cut that ends on a '-' would
		// otherwise give an id that the next normalization shortens.
		out = strings.TrimRight(out[:maxIDLen], "-")
	}
	if out == "" {
		return empty
	}
	return out
}

func isIDChar(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

func validID(s string) bool {
	if len(s) == 0 || len(s) > maxIDLen {
		return false
	}
	if c := s[0]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIDChar(s[i]) {
			return false
		}
	}
	return true
}
