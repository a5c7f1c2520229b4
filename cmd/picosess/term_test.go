package main

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscapeControls(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain text, ünïcödé, 公寓, 🙂", "plain text, ünïcödé, 公寓, 🙂"},
		{"two\nlines\tand a tab", "two\nlines\tand a tab"},
		{"\x1b]0;pwned\x07\x1b[2J", `\x1b]0;pwned\x07\x1b[2J`},
		{"over\rwrite", `over\rwrite`},
		{"nul\x00 del\x7f bs\x08", `nul\x00 del\x7f bs\x08`},
		{"c1 csi \u009b31m nel \u0085", `c1 csi \u009b31m nel \u0085`},
		{"bad \xff\x9b utf-8", `bad \xff\x9b utf-8`},
		{"", ""},
	} {
		if got := escapeControls(tt.in); got != tt.want {
			t.Errorf("escapeControls(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// checkSafe fails when s holds anything a terminal acts on.
func checkSafe(t *testing.T, in, s string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			t.Fatalf("escapeControls(%q) = %q: byte %#x at %d", in, s, c, i)
		}
	}
	if !utf8.ValidString(s) {
		t.Fatalf("escapeControls(%q) = %q: not UTF-8", in, s)
	}
	for _, r := range s {
		if r >= 0x80 && r <= 0x9f {
			t.Fatalf("escapeControls(%q) = %q: C1 control %U", in, s, r)
		}
	}
}

func FuzzEscapeControls(f *testing.F) {
	for _, s := range []string{"", "hello", "\x1b]0;pwned\x07\x1b[2J", "a\r\nb", "\u009b\u0085", "\xff\xfe", "tab\tnl\n", "公寓 🙂"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := escapeControls(in)
		checkSafe(t, in, got)
		if escapeControls(got) != got {
			t.Fatalf("escaping %q twice changes it: %q", in, got)
		}
		// Text with nothing to escape is left alone; newlines and tabs
		// are kept in number.
		if utf8.ValidString(in) && !strings.ContainsFunc(in, func(r rune) bool {
			return r < 0x20 && r != '\n' && r != '\t' || r >= 0x7f && r <= 0x9f
		}) && got != in {
			t.Fatalf("escapeControls(%q) = %q: changed safe text", in, got)
		}
		if strings.Count(got, "\n") != strings.Count(in, "\n") || strings.Count(got, "\t") != strings.Count(in, "\t") {
			t.Fatalf("escapeControls(%q) = %q: newlines or tabs changed", in, got)
		}
	})
}

func TestFitWidth(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"a longer title", 8, "a longe…"},
		{"公寓公寓公寓", 7, "公寓公…"}, // 2 columns each
		{"👩‍👩‍👧 family", 3, "👩‍👩‍👧…"},
		{"x", 0, ""},
	} {
		got := fitWidth(tt.in, tt.n)
		if got != tt.want || displayWidth(got) > tt.n {
			t.Errorf("fitWidth(%q, %d) = %q (%d columns), want %q", tt.in, tt.n, got, displayWidth(got), tt.want)
		}
	}
}

func TestStylingOn(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, tt := range []struct {
		tty  bool
		env  func(string) string
		want bool
	}{
		{true, env("TERM", "xterm-256color"), true},
		{true, env(), true},
		{false, env("TERM", "xterm-256color"), false},
		{true, env("TERM", "xterm", "NO_COLOR", "1"), false},
		{true, env("TERM", "xterm", "NO_COLOR", ""), true}, // empty is unset (no-color.org)
		{true, env("TERM", "dumb"), false},
	} {
		if got := stylingOn(tt.tty, tt.env); got != tt.want {
			t.Errorf("stylingOn(%v, TERM=%q NO_COLOR=%q) = %v", tt.tty, tt.env("TERM"), tt.env("NO_COLOR"), got)
		}
	}
	if p := plainTerm(); p.styled || p.width != DefaultWidth || p.bold("x") != "x" {
		t.Errorf("a pipe: %+v %q", p, p.bold("x"))
	}
}
