package main

import (
	"testing"
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
