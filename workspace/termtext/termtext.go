// Package termtext makes text from chat users and models safe to print:
// Escape shows as text every character a terminal would act on rather
// than print, so an ESC inside a message cannot retitle the window, clear
// the screen or rewrite what was printed before.
//
//	fmt.Println(termtext.Escape("\x1b]0;pwned\x07")) // \x1b]0;pwned\x07
//
// The CLI escapes what it prints for a person (show, ls, watch, search)
// and package export escapes its Markdown and text documents.
package termtext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Escape returns s with the characters a terminal would act on shown as
// text: C0 controls except newline and tab (ESC as \x1b, CR as \r), DEL
// (\x7f), the C1 controls U+0080..U+009F (\u009b) and bytes that are not
// UTF-8 (\xff), which terminals in an 8-bit mode read as C1. Newlines and
// tabs stay; a caller that prints one line folds them. Text with nothing
// to escape is returned as it is, without copying.
func Escape(s string) string {
	if Safe(s) {
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

// Safe reports whether s has nothing Escape would change: printable
// ASCII, newlines, tabs, and valid UTF-8 above U+009F.
func Safe(s string) bool {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || r <= 0x9f {
			return false
		}
		i += n
	}
	return true
}
