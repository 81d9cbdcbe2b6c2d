package opal

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// redactedSecret is what the secret is replaced with.
const redactedSecret = "[REDACTED]"

// minFreeSecret is the length from which the secret is redacted wherever it
// appears. A shorter secret is redacted only where it stands alone, not next
// to a letter or a digit: replacing a one-letter token everywhere would turn
// "resource not found" into "res[REDACTED]urce n[REDACTED]t f[REDACTED]und",
// while a secret that short is no secret from anyone who guesses.
const minFreeSecret = 8

// maxEscapes is how many layers of escaping the secret is looked for under:
// as it is, escaped once (in a JSON string, a URL, HTML), and escaped twice
// (Go-quoted, then put in a JSON string).
const maxEscapes = 2

// minCutStart is the shortest start of the secret that is redacted where a
// text was cut. A cut through the secret leaves its start at the end of the
// kept text; four bytes or more of it would tell a reader much of a token.
// Fewer say little, and redacting them would garble every cut text that
// happens to end with a letter or two of the token.
const minCutStart = 4

// maxEscapeLen is the length of the longest escape that escapeAt decodes:
// the longest HTML named reference of an ASCII character, longer than a
// UTF-16 surrogate pair (`\ud83d\ude00`).
const maxEscapeLen = len("&DiacriticalGrave;")

// escapeStarts are the bytes that begin an escape escapeAt decodes.
const escapeStarts = `\%&`

// redactString replaces the secret in s with "[REDACTED]", wherever s holds
// it, as it is or escaped: anywhere when the secret has minFreeSecret bytes
// or more, else only where it stands alone. Every redaction of opal-go goes
// through here, redactCut or redactPieces, so that all of them know the
// same forms and the same rule.
//
// A server, a proxy or an error message may write the secret in many ways:
// in a JSON string (\", \\, \/, \u002b for any character, as some encoders
// write "+"), Go-quoted, %-escaped for a URL (in either letter case, and any
// subset of its characters), as HTML character references (&quot;, &#43;,
// &#43 without its semicolon, &plus;), or in a mix of these. So rather
// than listing forms, the text is decoded, escape by escape, keeping for
// each decoded byte the span of s it was written as, and the secret is
// looked for in each layer of decoding.
//
// Its cost is linear in the length of s: each layer is decoded once, and
// searched once from start to end.
func redactString(s, secret string) string {
	return redactText(s, secret, whole)
}

// redactCut is redactString for a text cut from a longer one, such as the
// first 64 KiB of a body: a start of the secret of minCutStart bytes or more
// at its end, in any form, where the cut went through the secret, is
// redacted too, up to the end of the text.
func redactCut(s, secret string) string {
	return redactText(s, secret, cutText)
}

// redactPieces is redactString for the text of an error that held the
// secret: where a parser split the secret, pieces of it may stand beside
// the whole (net/url quotes a URL's port up to the first '/', which may be
// in the middle of a token). Any minFreeSecret bytes of the secret in a row
// are redacted too, wherever they stand, in any form.
//
// A shorter piece is left: few bytes tell little of a token, and they are
// common words. A token's start such as "opal" would take "opal.example"
// from a host name, and "opal:" from the library's own words, which then
// say nothing. For the same reason a secret shorter than minFreeSecret has
// no pieces.
func redactPieces(s, secret string) string {
	return redactText(s, secret, pieces)
}

// What redactText looks for, besides the secret itself.
type lookFor int

const (
	whole   lookFor = iota // the secret only
	cutText                // its start at the end of the text, cut through it
	pieces                 // pieces of it anywhere
)

// holdsSecret reports whether s holds the secret in any of its forms.
func holdsSecret(s, secret string) bool {
	return redactString(s, secret) != s
}

// holdsPiece reports whether s holds the secret, or any minFreeSecret bytes
// of it in a row, in any of its forms: whether redactPieces redacts any of s.
func holdsPiece(s, secret string) bool {
	return redactPieces(s, secret) != s
}

// redactText is redactString, redactCut or redactPieces, as also says.
func redactText(s, secret string, also lookFor) string {
	if secret == "" || s == "" {
		return s
	}
	escaped := strings.ContainsAny(s, escapeStarts)
	if !escaped && also == whole && !strings.Contains(s, secret) {
		return s // most texts: nothing to decode, nothing to find
	}
	// covered[i] > 0, summed from the start, where s[i] is part of a
	// span to redact: spans are marked where they begin and end, so that
	// marking one costs the same however long it is.
	covered := make([]int32, len(s)+1)
	marked := false
	mark := func(start, end int) {
		covered[start]++
		covered[end]--
		marked = true
	}
	var grams map[string]bool
	if also == pieces {
		grams = piecesOf(secret)
	}
	l := layer{text: []byte(s)}
	for depth := 0; ; depth++ {
		l.find(secret, mark)
		switch also {
		case cutText:
			l.findCutStart(secret, len(s), mark)
		case pieces:
			l.findPieces(grams, mark)
		}
		if depth == maxEscapes || !escaped {
			break
		}
		var changed bool
		if l, changed = l.unescape(); !changed {
			break
		}
	}
	if !marked {
		return s
	}
	var b strings.Builder
	depth, done := int32(0), 0 // s[:done] is in b
	for i := range len(s) {
		was := depth
		depth += covered[i]
		switch {
		case was == 0 && depth > 0:
			b.WriteString(s[done:i])
		case was > 0 && depth == 0:
			b.WriteString(redactedSecret)
			done = i
		}
	}
	if depth > 0 {
		b.WriteString(redactedSecret)
	} else {
		b.WriteString(s[done:])
	}
	return b.String()
}

// A layer is the text decoded some number of times, and for each of its
// bytes the span of the original text it was written as.
type layer struct {
	text  []byte
	spans []span // nil for the original text itself, where text[i] is at i
}

type span struct{ start, end int }

// spanOf is the span of the original text that text[i:j] was written as.
func (l layer) spanOf(i, j int) span {
	if l.spans == nil {
		return span{i, j}
	}
	return span{l.spans[i].start, l.spans[j-1].end}
}

// find marks the spans of the original text that hold the secret, as this
// layer holds it; a short secret counts only where it stands alone.
func (l layer) find(secret string, mark func(start, end int)) {
	text, want := l.text, []byte(secret)
	for i := 0; i < len(text); {
		j := bytes.Index(text[i:], want)
		if j < 0 {
			return
		}
		start, end := i+j, i+j+len(want)
		i = start + 1 // the secret may overlap itself
		if len(secret) < minFreeSecret && !standsAlone(text, start, end) {
			continue
		}
		s := l.spanOf(start, end)
		mark(s.start, s.end)
	}
}

// findCutStart marks the longest start of the secret (of minCutStart bytes
// or more) that this layer ends with, or ends with but for an escape that
// the cut left incomplete, such as `\u00`; it marks it up to textEnd, the
// end of the original text, so that the incomplete escape goes too.
func (l layer) findCutStart(secret string, textEnd int, mark func(start, end int)) {
	text, want := l.text, []byte(secret)
	ends := []int{len(text)}
	for i := max(0, len(text)-maxEscapeLen); i < len(text); i++ {
		if strings.IndexByte(escapeStarts, text[i]) >= 0 {
			ends = append(ends, i)
		}
	}
	for _, end := range ends {
		// The earliest start is the longest start of the secret.
		for start := max(0, end-len(want)+1); start <= end-minCutStart; start++ {
			if !bytes.HasPrefix(want, text[start:end]) {
				continue
			}
			if len(secret) < minFreeSecret && !standsAlone(text, start, len(text)) {
				break
			}
			mark(l.spanOf(start, end).start, textEnd)
			break
		}
	}
}

// piecesOf is the set of the secret's runs of minFreeSecret bytes, which
// findPieces looks for; empty for a shorter secret.
func piecesOf(secret string) map[string]bool {
	grams := map[string]bool{}
	for i := 0; i+minFreeSecret <= len(secret); i++ {
		grams[secret[i:i+minFreeSecret]] = true
	}
	return grams
}

// findPieces marks the pieces of the secret that this layer holds: runs of
// minFreeSecret bytes of it (grams, which overlap to mark a longer run
// whole). It costs a look-up of minFreeSecret bytes for each byte of the
// layer.
func (l layer) findPieces(grams map[string]bool, mark func(start, end int)) {
	if len(grams) == 0 {
		return
	}
	text := l.text
	for i := 0; i+minFreeSecret <= len(text); i++ {
		if grams[string(text[i:i+minFreeSecret])] {
			s := l.spanOf(i, i+minFreeSecret)
			mark(s.start, s.end)
		}
	}
}

// standsAlone reports whether text[start:end] is next to no letter or digit.
func standsAlone(text []byte, start, end int) bool {
	before, _ := utf8.DecodeLastRune(text[:start])
	after, _ := utf8.DecodeRune(text[end:])
	return !isAlnum(before) && !isAlnum(after)
}

func isAlnum(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// unescape decodes one layer of escapes and reports whether there were any.
func (l layer) unescape() (layer, bool) {
	out := layer{text: make([]byte, 0, len(l.text)), spans: make([]span, 0, len(l.text))}
	changed := false
	for i := 0; i < len(l.text); {
		r, raw, n := escapeAt(l.text[i:])
		if n == 0 {
			out.text = append(out.text, l.text[i])
			out.spans = append(out.spans, l.spanOf(i, i+1))
			i++
			continue
		}
		from := len(out.text)
		if raw {
			out.text = append(out.text, byte(r))
		} else {
			out.text = utf8.AppendRune(out.text, r)
		}
		s := l.spanOf(i, i+n)
		for range len(out.text) - from {
			out.spans = append(out.spans, s)
		}
		i += n
		changed = true
	}
	return out, changed
}

// htmlNames are HTML5's named character references of the printable ASCII
// characters, which a token is made of, as an HTML parser reads them with
// their semicolon; htmlLegacyNames are those it reads without one too, as
// the start of a longer name ("&ampx" is "&x"). Others are left as they are.
var (
	htmlNames = map[string]rune{
		"excl": '!', "quot": '"', "QUOT": '"', "num": '#', "dollar": '$', "percnt": '%',
		"amp": '&', "AMP": '&', "apos": '\'', "lpar": '(', "rpar": ')', "ast": '*',
		"midast": '*', "plus": '+', "comma": ',', "period": '.', "sol": '/', "colon": ':',
		"semi": ';', "lt": '<', "LT": '<', "equals": '=', "gt": '>', "GT": '>',
		"quest": '?', "commat": '@', "lbrack": '[', "lsqb": '[', "bsol": '\\',
		"rbrack": ']', "rsqb": ']', "Hat": '^', "lowbar": '_', "UnderBar": '_',
		"grave": '`', "DiacriticalGrave": '`', "lbrace": '{', "lcub": '{', "verbar": '|',
		"vert": '|', "VerticalLine": '|', "rbrace": '}', "rcub": '}',
	}
	htmlLegacyNames = map[string]rune{"quot": '"', "QUOT": '"', "amp": '&', "AMP": '&', "lt": '<', "LT": '<', "gt": '>', "GT": '>'}
)

// escapeAt decodes the escape that text starts with, if any: the rune it
// stands for (a single byte when raw), and how many bytes of text it takes
// (0 for none). It looks at no more than maxEscapeLen bytes.
func escapeAt(text []byte) (r rune, raw bool, n int) {
	switch text[0] {
	case '%': // URL escaping, in either letter case
		if v, ok := hexValue(text, 1, 2); ok {
			return v, true, 3 // a byte of UTF-8, not a rune
		}
	case '\\': // JSON's and Go's escapes
		if len(text) < 2 {
			return 0, false, 0
		}
		switch c := text[1]; c {
		case '"', '\\', '/', '\'':
			return rune(c), false, 2
		case 'n':
			return '\n', false, 2
		case 't':
			return '\t', false, 2
		case 'r':
			return '\r', false, 2
		case 'x':
			if v, ok := hexValue(text, 2, 2); ok {
				return v, true, 4
			}
		case 'u', 'U':
			width := 4
			if c == 'U' {
				width = 8
			}
			v, ok := hexValue(text, 2, width)
			if !ok {
				return 0, false, 0
			}
			// A UTF-16 surrogate pair, as JSON writes a rune past U+FFFF.
			if utf16.IsSurrogate(v) && len(text) >= 12 && text[6] == '\\' && text[7] == 'u' {
				if low, ok := hexValue(text, 8, 4); ok {
					if pair := utf16.DecodeRune(v, low); pair != utf8.RuneError {
						return pair, false, 12
					}
				}
			}
			return v, false, 2 + width
		}
	case '&': // HTML character references
		r, n := htmlReference(text)
		return r, false, n
	}
	return 0, false, 0
}

// htmlReference decodes the character reference that text starts with, as
// an HTML parser reads one in text: &#43; or &#x2B;, with or without the
// semicolon (the digits then run as far as they go: "&#431" is U+01AF), or
// one of htmlNames. It returns the rune and how many bytes of text the
// reference takes, 0 for none, looking at no more than maxEscapeLen bytes.
func htmlReference(text []byte) (rune, int) {
	window := text[:min(len(text), maxEscapeLen)]
	if len(window) > 1 && window[1] == '#' {
		return numericReference(text, window)
	}
	end := 1
	for end < len(window) && isASCIIAlnum(window[end]) {
		end++
	}
	name := window[1:end] // looked up without a copy
	if end < len(window) && window[end] == ';' {
		if v, ok := htmlNames[string(name)]; ok {
			return v, end + 1
		}
	}
	for n := min(len(name), len("QUOT")); n >= len("lt"); n-- {
		if v, ok := htmlLegacyNames[string(name[:n])]; ok {
			return v, 1 + n
		}
	}
	return 0, 0
}

// numericReference is htmlReference of a numeric reference: "&#", maybe
// "x", digits, maybe ";". One whose digits run past the window is not
// decoded, its value unknown.
func numericReference(text, window []byte) (rune, int) {
	i, base := 2, rune(10)
	if len(window) > 2 && window[2]|0x20 == 'x' {
		i, base = 3, 16
	}
	first := i
	var v rune
	for ; i < len(window); i++ {
		d, ok := digitValue(window[i], base)
		if !ok {
			break
		}
		v = min(v*base+d, unicode.MaxRune+1) // past the last rune: no rune
	}
	switch {
	case i == first, i == len(window) && i < len(text):
		return 0, 0
	case i < len(window) && window[i] == ';':
		i++
	}
	if !utf8.ValidRune(v) {
		return 0, 0
	}
	return v, i
}

// digitValue is the value of c as a digit of base 10 or 16.
func digitValue(c byte, base rune) (rune, bool) {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0'), true
	case base == 16 && 'a' <= c|0x20 && c|0x20 <= 'f':
		return rune(c|0x20-'a') + 10, true
	}
	return 0, false
}

func isASCIIAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'z'
}

// hexValue reads the width hexadecimal digits of text at from, in either
// letter case; escapeAt asks for no more than 8, which fit a rune.
func hexValue(text []byte, from, width int) (rune, bool) {
	if len(text) < from+width {
		return 0, false
	}
	var v rune
	for _, c := range text[from : from+width] {
		d, ok := digitValue(c, 16)
		if !ok {
			return 0, false
		}
		v = v<<4 | d
	}
	return v, true
}

// chainHoldsSecret reports whether any error reachable from err, through
// Unwrap() error and Unwrap() []error, holds the secret in any of its forms
// when printed with the verbs an error tracker or a log line uses.
func chainHoldsSecret(err error, secret string) bool {
	if err == nil {
		return false
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		if holdsSecret(fmt.Sprintf(verb, err), secret) {
			return true
		}
	}
	if holdsSecret(err.Error(), secret) {
		return true
	}
	switch e := err.(type) {
	case interface{ Unwrap() error }:
		return chainHoldsSecret(e.Unwrap(), secret)
	case interface{ Unwrap() []error }:
		return slices.ContainsFunc(e.Unwrap(), func(inner error) bool { return chainHoldsSecret(inner, secret) })
	}
	return false
}

// scrubbedError is a failed call's error whose text has had the token
// removed; it unwraps to its cause for errors.Is and errors.As.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// standInError takes the place of a failed call's cause when the cause
// must not be passed on: its text held the token, or it matched a context
// error though the caller's context was live. It keeps the cause's text,
// redacted, and whether it was a timeout, and nothing else.
type standInError struct {
	msg     string
	timeout bool
}

func (e *standInError) Error() string { return e.msg }

// Timeout reports whether the cause was a timeout, as net/http's and net's
// errors do, so that callers checking for an interface{ Timeout() bool }
// still find it.
func (e *standInError) Timeout() bool { return e.timeout }
