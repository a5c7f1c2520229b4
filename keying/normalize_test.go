package keying

import (
	"strings"
	"testing"
)

// A cut at 64 bytes that lands just after a '-' must not leave the '-':
// the id would change again when normalized a second time (found by
// FuzzNormalizationIdempotent).
func TestNormalizeIDCutNeverEndsInDash(t *testing.T) {
	in := "_" + strings.Repeat("ab!", 21) + "cd" // 63 bytes before "!" turns into '-' at byte 64
	for _, s := range []string{in, strings.Repeat("x", 63) + "!y", "_" + strings.Repeat("a-", 40)} {
		once := NormalizeAccountID(s)
		if len(once) > maxIDLen {
			t.Fatalf("%q: %d bytes", once, len(once))
		}
		if strings.HasSuffix(once, "-") {
			t.Errorf("%q normalizes to %q, ending in '-'", s, once)
		}
		if twice := NormalizeAccountID(once); twice != once {
			t.Errorf("not idempotent: %q -> %q -> %q", s, once, twice)
		}
	}
}
