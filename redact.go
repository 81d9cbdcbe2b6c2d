package opal

import (
	"fmt"
	"slices"
	"strconv"
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

// redact is redactString for a body.
func redact(b []byte, secret string) []byte {
	if r := redactString(string(b), secret); r != string(b) {
		return []byte(r)
	}
	return b
}

// holdsSecret reports whether s holds the secret in any of its forms.
func holdsSecret(s, secret string) bool {
	return redactString(s, secret) != s
}

// redactString replaces the secret in s with "[REDACTED]", wherever s holds
// it, as it is or escaped: anywhere when the secret has minFreeSecret bytes
// or more, else only where it stands alone. Every redaction of opal-go goes
// through here, so that all of them know the same forms and the same rule.
//
// A server, a proxy or an error message may write the secret in many ways:
// in a JSON string (\", \\, \/, \u002b for any character, as some encoders
// write "+"), Go-quoted, %-escaped for a URL (in either letter case, and any
// subset of its characters), as HTML character references (&quot;, &#43;),
// or in a mix of these. So rather than listing forms, the text is decoded,
// escape by escape, keeping for each decoded byte the span of s it was
// written as, and the secret is looked for in each layer of decoding.
func redactString(s, secret string) string {
	if secret == "" || s == "" {
		return s
	}
	text := make([]spanByte, len(s))
	for i := range len(s) {
		text[i] = spanByte{s[i], i, i + 1}
	}
	var spans [][2]int
	for layer := 0; ; layer++ {
		spans = append(spans, find(text, secret)...)
		if layer == maxEscapes || !strings.ContainsAny(s, `\%&`) {
			break
		}
		var changed bool
		if text, changed = unescape(text); !changed {
			break
		}
	}
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	var b strings.Builder
	done := 0 // s[:done] is in b
	for _, span := range spans {
		if span[0] < done { // overlaps the last: extend it
			done = max(done, span[1])
			continue
		}
		b.WriteString(s[done:span[0]])
		b.WriteString(redactedSecret)
		done = span[1]
	}
	b.WriteString(s[done:])
	return b.String()
}

// spanByte is a byte of decoded text, and the span of the original text
// that it was written as.
type spanByte struct {
	b          byte
	start, end int
}

// find returns the spans of the original text that hold the secret, as the
// decoded text holds it; a short secret counts only where it stands alone.
func find(text []spanByte, secret string) [][2]int {
	decoded := make([]byte, len(text))
	for i, c := range text {
		decoded[i] = c.b
	}
	var spans [][2]int
	for i := 0; ; i++ {
		j := strings.Index(string(decoded[i:]), secret)
		if j < 0 {
			return spans
		}
		start, end := i+j, i+j+len(secret)
		i = start
		if len(secret) < minFreeSecret {
			before, _ := utf8.DecodeLastRune(decoded[:start])
			after, _ := utf8.DecodeRune(decoded[end:])
			if isAlnum(before) || isAlnum(after) {
				continue
			}
		}
		spans = append(spans, [2]int{text[start].start, text[end-1].end})
	}
}

func isAlnum(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// unescape decodes one layer of escapes in text and reports whether there
// were any.
func unescape(text []spanByte) ([]spanByte, bool) {
	out := make([]spanByte, 0, len(text))
	changed := false
	for i := 0; i < len(text); {
		decoded, n := escapeAt(text[i:])
		if n == 0 {
			out = append(out, text[i])
			i++
			continue
		}
		start, end := text[i].start, text[i+n-1].end
		for _, b := range []byte(decoded) {
			out = append(out, spanByte{b, start, end})
		}
		i += n
		changed = true
	}
	return out, changed
}

// htmlEntities are the named character references that escape what a token
// may hold; others are left as they are.
var htmlEntities = map[string]string{"quot": `"`, "amp": "&", "lt": "<", "gt": ">", "apos": "'"}

// escapeAt decodes the escape that text starts with, if any: what it stands
// for, and how many bytes of text it takes (0 for none).
func escapeAt(text []spanByte) (string, int) {
	peek := func(n int) string { // up to n bytes of text, as a string
		var b strings.Builder
		for _, c := range text[:min(n, len(text))] {
			b.WriteByte(c.b)
		}
		return b.String()
	}
	switch text[0].b {
	case '%': // URL escaping, in either letter case
		if s := peek(3); len(s) == 3 {
			if v, err := strconv.ParseUint(s[1:], 16, 8); err == nil {
				return string([]byte{byte(v)}), 3 // a byte of UTF-8, not a rune
			}
		}
	case '\\': // JSON's and Go's escapes
		s := peek(12)
		if len(s) < 2 {
			return "", 0
		}
		switch c := s[1]; c {
		case '"', '\\', '/', '\'':
			return string(c), 2
		case 'n':
			return "\n", 2
		case 't':
			return "\t", 2
		case 'r':
			return "\r", 2
		case 'x':
			if v, err := strconv.ParseUint(s[2:min(4, len(s))], 16, 8); err == nil && len(s) >= 4 {
				return string([]byte{byte(v)}), 4
			}
		case 'u', 'U':
			width := 4
			if c == 'U' {
				width = 8
			}
			if len(s) < 2+width {
				return "", 0
			}
			v, err := strconv.ParseUint(s[2:2+width], 16, 32)
			if err != nil {
				return "", 0
			}
			r := rune(v)
			// A UTF-16 surrogate pair, as JSON writes a rune past U+FFFF.
			if utf16.IsSurrogate(r) && len(s) == 12 && s[6:8] == `\u` {
				if low, err := strconv.ParseUint(s[8:12], 16, 32); err == nil {
					if pair := utf16.DecodeRune(r, rune(low)); pair != utf8.RuneError {
						return string(pair), 12
					}
				}
			}
			return string(r), 2 + width
		}
	case '&': // HTML character references
		s := peek(12)
		semi := strings.IndexByte(s, ';')
		if semi < 2 {
			return "", 0
		}
		name := s[1:semi]
		if v, ok := htmlEntities[name]; ok {
			return v, semi + 1
		}
		if num, ok := strings.CutPrefix(name, "#"); ok {
			base := 10
			if hex, ok := strings.CutPrefix(strings.ToLower(num), "x"); ok {
				num, base = hex, 16
			}
			if v, err := strconv.ParseUint(num, base, 32); err == nil && utf8.ValidRune(rune(v)) {
				return string(rune(v)), semi + 1
			}
		}
	}
	return "", 0
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
