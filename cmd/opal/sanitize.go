package main

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Everything a server sends is hostile text: a name, an email, an error
// message may hold an escape sequence that clears the screen or sets the
// window title, a right-to-left override that makes
// "rlo\u202Emoc.elpmaxe@evil" display as another address, a zero-width
// space that hides a difference, or a formula for the spreadsheet a csv
// is opened in. The command shows such text only through this file: clean
// for the table and stderr, csvCell for csv, escapeJSON for json. Each
// shows a hidden character as a visible escape, so that the display
// cannot lie and a reader can still tell which character it was; clean
// escapes a backslash too, so that no text the server sends can pass for
// such an escape.

// hidden reports whether r must not reach a terminal or a cell as itself:
// a control character (C0, DEL, C1), a format character (Unicode's Cf:
// bidi overrides and isolates, zero-width characters, the byte-order mark,
// tags), a line or paragraph separator (U+2028, U+2029), or another
// character that Unicode says to draw as nothing (its default-ignorable
// code points: variation selectors, the combining grapheme joiner U+034F,
// Hangul fillers), which would make "alice\u034f@corp.dev" look like
// alice@corp.dev.
func hidden(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp,
		unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point)
}

// clean returns s with every hidden character written as an escape,
// `\u202e` (or `\U000e0001` beyond the Basic Multilingual Plane), every
// byte that is not UTF-8 as `\xff`, and every backslash as `\\`, so that
// text that holds a literal `\u202e` does not read as the escape of a
// U+202E: what is shown decodes back to what was sent, one way only.
func clean(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, hidden) && !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case hidden(r):
			writeEscape(&b, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// quote puts a value in double quotes for a message, which is cleaned
// as a whole when it is written: %q would escape it once, and clean
// again.
func quote(s string) string { return `"` + s + `"` }

func writeEscape(b *strings.Builder, r rune) {
	if r > 0xffff {
		fmt.Fprintf(b, `\U%08x`, r)
		return
	}
	fmt.Fprintf(b, `\u%04x`, r)
}

// csvCell is a csv cell of s: clean, and with a leading ' when s starts
// with a character that makes a spreadsheet read the cell as a formula
// (=, +, -, @, tab or carriage return, as OWASP lists them), so that
// "=HYPERLINK(...)" shows as text. The ' is the only change: strip it to
// get the cleaned text back.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + clean(s)
	}
	return clean(s)
}

// escapeJSON rewrites a JSON text so that no hidden character is left in
// its strings: encoding/json already escapes C0 controls, U+2028 and
// U+2029, but leaves DEL, C1 controls and format characters as they are.
// They become \u escapes, which any JSON reader turns back into the very
// same characters. Outside strings JSON has only ASCII, so every such
// character is in a string; C0 controls outside strings are JSON's white
// space, such as the newline after each line, and stay.
func escapeJSON(b []byte) []byte {
	if !bytes.ContainsFunc(b, hiddenInJSON) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if !hiddenInJSON(r) {
			out = append(out, b[i:i+size]...)
			i += size
			continue
		}
		if r > 0xffff {
			hi, lo := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, hi, lo)
		} else {
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += size
	}
	return out
}

// hiddenInJSON reports whether r is hidden and encoding/json leaves it as
// it is.
func hiddenInJSON(r rune) bool {
	return r >= 0x7f && hidden(r)
}
