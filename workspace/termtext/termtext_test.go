package termtext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain text, ünïcödé, 公寓, 🙂", "plain text, ünïcödé, 公寓, 🙂"},
		{"two\nlines\tand a tab", "two\nlines\tand a tab"},
		{"\x1b]0;pwned\x07\x1b[2J", `\x1b]0;pwned\x07\x1b[2J`},
		{"over\rwrite", `over\rwrite`},
		{"nul\x00 del\x7f bs\x08", `nul\x00 del\x7f bs\x08`},
		{"c1 csi \u009b31m nel \u0085", `c1 csi \u009b31m nel \u0085`},
		{"bad \xff\x9b utf-8", `bad \xff\x9b utf-8`},
		{"ok é then \x1b", `ok é then \x1b`},
		{"U+FFFD itself � is text", "U+FFFD itself � is text"},
		{"", ""},
	} {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// checkSafe fails when s holds anything a terminal acts on.
func checkSafe(t *testing.T, in, s string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			t.Fatalf("Escape(%q) = %q: byte %#x at %d", in, s, c, i)
		}
	}
	if !utf8.ValidString(s) {
		t.Fatalf("Escape(%q) = %q: not UTF-8", in, s)
	}
	for _, r := range s {
		if r >= 0x80 && r <= 0x9f {
			t.Fatalf("Escape(%q) = %q: C1 control %U", in, s, r)
		}
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "hello", "\x1b]0;pwned\x07\x1b[2J", "a\r\nb", "\u009b\u0085", "\xff\xfe", "tab\tnl\n", "公寓 🙂", "é\x1b", "\ufffd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := Escape(in)
		checkSafe(t, in, got)
		if !Safe(got) || Escape(got) != got {
			t.Fatalf("escaping %q twice changes it: %q", in, got)
		}
		// Text with nothing to escape is left alone; newlines and tabs
		// are kept in number.
		unsafe := !utf8.ValidString(in) || strings.ContainsFunc(in, func(r rune) bool {
			return r < 0x20 && r != '\n' && r != '\t' || r >= 0x7f && r <= 0x9f
		})
		if Safe(in) == unsafe || !unsafe && got != in {
			t.Fatalf("Escape(%q) = %q, Safe %v: changed safe text or missed unsafe", in, got, Safe(in))
		}
		if strings.Count(got, "\n") != strings.Count(in, "\n") || strings.Count(got, "\t") != strings.Count(in, "\t") {
			t.Fatalf("Escape(%q) = %q: newlines or tabs changed", in, got)
		}
	})
}
