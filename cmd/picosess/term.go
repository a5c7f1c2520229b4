package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/muesli/termenv"
	"github.com/rivo/uniseg"
	"golang.org/x/term"
)

// termOut is what the commands know of standard output when they print
// for a person: whether it is a terminal, whether to style, how wide.
type termOut struct {
	tty    bool
	styled bool
	width  int // columns: the terminal's, else $COLUMNS, else 80
	out    *termenv.Output
}

// DefaultWidth is the width assumed when standard output is not a
// terminal, or a terminal of unknown size.
const DefaultWidth = 80

// term describes a.stdout, once.
func (a *app) term() *termOut {
	a.termOnce.Do(func() { a.termOut = newTermOut(a.stdout, a.getenv) })
	return a.termOut
}

// newTermOut looks at w: styling is on only for a terminal, and off when
// NO_COLOR is set to anything (no-color.org) or TERM is dumb. termenv
// renders the styles; which basic ANSI styles we use every terminal that
// is not dumb shows.
func newTermOut(w io.Writer, getenv func(string) string) *termOut {
	t := &termOut{tty: isTerminal(w), width: DefaultWidth}
	t.styled = stylingOn(t.tty, getenv)
	if t.tty {
		if cols, _, err := term.GetSize(int(w.(interface{ Fd() uintptr }).Fd())); err == nil && cols > 0 {
			t.width = cols
		} else if n, err := strconv.Atoi(getenv("COLUMNS")); err == nil && n > 0 {
			t.width = n
		}
	}
	profile := termenv.Ascii
	if t.styled {
		profile = termenv.ANSI
	}
	t.out = termenv.NewOutput(w, termenv.WithProfile(profile))
	return t
}

// stylingOn is the rule for styled output: a terminal, NO_COLOR unset or
// empty, TERM not "dumb".
func stylingOn(tty bool, getenv func(string) string) bool {
	return tty && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
}

// plainTerm is standard output as a pipe: no styling, 80 columns.
func plainTerm() *termOut { return newTermOut(io.Discard, func(string) string { return "" }) }

func (t *termOut) bold(s string) string  { return t.out.String(s).Bold().String() }
func (t *termOut) faint(s string) string { return t.out.String(s).Faint().String() }

// color styles s with a basic ANSI color (0-15).
func (t *termOut) color(s string, c int) string {
	return t.out.String(s).Foreground(t.out.Color(strconv.Itoa(c))).String()
}

// isTerminal reports whether v is a file open on a terminal; buffers and
// pipes are not.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// escapeControls shows as text every character of s that a terminal
// would act on rather than print: C0 controls except newline and tab
// (ESC as \x1b, CR as \r), DEL (\x7f), the C1 controls U+0080..U+009F
// (\u009b) and bytes that are not UTF-8 (\xff), which some terminals read
// as C1. Message content, senders, titles and names come from chat users
// and models: printed raw, an ESC in them could retitle the window, clear
// the screen, or rewrite what was printed before. Newlines and tabs stay;
// callers that print one line fold them (clip).
func escapeControls(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\n' && c != '\t' || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 && r != '\n' && r != '\t', r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r <= 0x9f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// displayWidth is how many terminal columns s takes (East Asian wide
// characters and most emoji take two).
func displayWidth(s string) int { return uniseg.StringWidth(s) }

// fitWidth cuts s to at most n columns, ending it with "…" when cut; it
// never splits a grapheme cluster (an emoji with its modifiers, a letter
// with its accents).
func fitWidth(s string, n int) string {
	if displayWidth(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	var b strings.Builder
	used, state := 0, -1
	for rest := s; rest != ""; {
		var cluster string
		var w int
		cluster, rest, w, state = uniseg.FirstGraphemeClusterInString(rest, state)
		if used+w > n-1 {
			break
		}
		b.WriteString(cluster)
		used += w
	}
	return b.String() + "…"
}

// padRight pads s with spaces to n columns.
func padRight(s string, n int) string {
	if w := displayWidth(s); w < n {
		return s + strings.Repeat(" ", n-w)
	}
	return s
}

// clip squeezes text onto one line of at most n runes, its control
// characters escaped.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(escapeControls(s)), " ")
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// flat is s on one line, its control characters escaped: for a cell of a
// table or a one-line field.
func flat(s string) string { return strings.Join(strings.Fields(escapeControls(s)), " ") }
