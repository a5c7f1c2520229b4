package main

import (
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/muesli/termenv"
	"github.com/picosess/picosess/workspace/termtext"
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
// would act on rather than print (ESC as \x1b; termtext.Escape, fuzzed
// there), keeping newlines and tabs. Everything the CLI prints for a
// person from a session (content, senders, titles, names) goes through it
// or through flat and clip, which use it.
func escapeControls(s string) string { return termtext.Escape(s) }

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

// Search snippets are marked with two private-use characters while they
// are escaped, then the marks become bold on a styled terminal.
const markOpen, markClose = "\uE000", "\uE001"

// searchMarks are the marks for index.Query.Mark: zero ("**" around
// matches) for --json and when not styling.
func (a *app) searchMarks() [2]string {
	if a.jsonOut || !a.term().styled {
		return [2]string{}
	}
	return [2]string{markOpen, markClose}
}

// snippet is a search hit's snippet for the terminal: escaped, then its
// matches bold when searchMarks marked them.
func (a *app) snippet(s string) string {
	s = escapeControls(s)
	if !a.term().styled {
		return s
	}
	bold := a.term().bold("\x00")
	on, off, _ := strings.Cut(bold, "\x00")
	return strings.NewReplacer(markOpen, on, markClose, off).Replace(s)
}
