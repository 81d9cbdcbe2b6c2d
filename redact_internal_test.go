package opal

import (
	"fmt"
	"html"
	"maps"
	"math"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRedactString(t *testing.T) {
	tests := []struct {
		name, secret, in, want string
	}{
		{"long secret anywhere", testToken, "x" + testToken + "y", "x[REDACTED]y"},
		{"every occurrence", testToken, testToken + " and " + testToken, "[REDACTED] and [REDACTED]"},
		{"JSON-escaped with HTML escaping", hostileToken, `{"a":"Tk9/\u003ca\u0026b\u003e\"c\\d+e%f?g=h#-x"}`, `{"a":"[REDACTED]"}`},
		{"JSON-escaped without HTML escaping", hostileToken, `{"a":"Tk9/<a&b>\"c\\d+e%f?g=h#-x"}`, `{"a":"[REDACTED]"}`},
		{"JSON-escaped with escaped slashes", hostileToken, `{"a":"Tk9\/<a&b>\"c\\d+e%f?g=h#-x"}`, `{"a":"[REDACTED]"}`},
		{"Go-quoted", hostileToken, `"Tk9/<a&b>\"c\\d+e%f?g=h#-x"`, `"[REDACTED]"`},
		{"query-escaped", hostileToken, "?t=Tk9%2F%3Ca%26b%3E%22c%5Cd%2Be%25f%3Fg%3Dh%23-x&u=1", "?t=[REDACTED]&u=1"},
		{"path-escaped", hostileToken, "/v1/Tk9%2F%3Ca&b%3E%22c%5Cd+e%25f%3Fg=h%23-x/", "/v1/[REDACTED]/"},
		{"JSON with any character as \\u", hostileToken, `{"a":"Tk9/\u003ca\u0026b\u003e\"c\\d\u002Be%f?g=h#-x"}`, `{"a":"[REDACTED]"}`},
		{"JSON with every character as \\u", testToken, `{"a":"` + everyRuneEscaped(testToken) + `"}`, `{"a":"[REDACTED]"}`},
		{"query-escaped in lower case", hostileToken, "?t=Tk9%2f%3ca%26b%3e%22c%5cd%2be%25f%3fg%3dh%23-x&u=1", "?t=[REDACTED]&u=1"},
		{"URL path as net/url writes it", hostileToken, "http://h/" + (&url.URL{Path: "/" + hostileToken}).EscapedPath()[1:] + " not followed", "http://h/[REDACTED] not followed"},
		{"HTML character references", hostileToken, "<p>Tk9/&lt;a&amp;b&gt;&#34;c\\d&#x2B;e%f?g=h#-x</p>", "<p>[REDACTED]</p>"},
		{"HTML named references of every character that has one", hostileToken, "<p>" + htmlNamed(hostileToken) + "</p>", "<p>[REDACTED]</p>"},
		{"HTML numeric references without their semicolons", hostileToken, "<p>Tk9&#47&#60a&#38b&#x3E&#34c&#92d&#43e&#37f&#63g&#61h&#35-x</p>", "<p>[REDACTED]</p>"},
		{"HTML named references without their semicolons", hostileToken, "<p>Tk9/&LTa&ampb&GT&quotc\\d+e%f?g=h#-x</p>", "<p>[REDACTED]</p>"},
		// An HTML parser reads every digit: "&#431" is U+01AF, not "+1".
		{"HTML numeric references whose digits run on", "abcdefg+1234", "abcdefg&#431234 abcdefg&#x2B1234", "abcdefg&#431234 abcdefg&#x2B1234"},
		{"Go-quoted, then in a JSON string", hostileToken, `{"a":"` + unquoted(strconv.Quote(strconv.Quote(hostileToken))) + `"}`, `{"a":"\"[REDACTED]\""}`},
		{"a secret outside ASCII, escaped", "schlüssel-7Yq2", `{"a":"schl\u00fcssel-7Yq2"} ?k=schl%C3%BCssel-7Yq2`, `{"a":"[REDACTED]"} ?k=[REDACTED]`},
		{"a mix of escapes", testToken, "opal%2Dtest\u002dtoken&#45;7Yq2Lw9Zx4", "[REDACTED]"},
		{"escapes that are not the secret are kept", testToken, `100%25 \u0041 &amp; &bogus; %zz \q`, `100%25 \u0041 &amp; &bogus; %zz \q`},
		{"short secret inside words is left", "o", "resource not found", "resource not found"},
		{"short secret standing alone", "o", "token o is revoked", "token [REDACTED] is revoked"},
		{"short secret quoted, at the ends", "o", `o "o" o`, `[REDACTED] "[REDACTED]" [REDACTED]`},
		{"short secret next to a digit or a non-ASCII letter", "ab", "ab1 éab ab", "ab1 éab [REDACTED]"},
		{"seven bytes is short", "abc1234", "xabc1234 abc1234", "xabc1234 [REDACTED]"},
		{"eight bytes is long", "abc12345", "xabc12345", "x[REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redactString(tt.in, tt.secret)
			if diff := cmp.Diff(maskToken(tt.want, tt.secret), maskToken(got, tt.secret)); diff != "" {
				t.Errorf("redactString (-want +got):\n%s", diff)
			}
		})
	}
}

// html5Names are the HTML5 named character references of the printable
// ASCII characters that have one (from the standard's entities.json), those
// that an HTML parser also reads without their semicolon written without
// it. They are written apart from the library's own list on purpose.
var html5Names = map[byte][]string{
	'!': {"excl;"}, '"': {"quot;", "QUOT;", "quot", "QUOT"}, '#': {"num;"}, '$': {"dollar;"},
	'%': {"percnt;"}, '&': {"amp;", "AMP;", "amp", "AMP"}, '\'': {"apos;"}, '(': {"lpar;"},
	')': {"rpar;"}, '*': {"ast;", "midast;"}, '+': {"plus;"}, ',': {"comma;"}, '.': {"period;"},
	'/': {"sol;"}, ':': {"colon;"}, ';': {"semi;"}, '<': {"lt;", "LT;", "lt", "LT"},
	'=': {"equals;"}, '>': {"gt;", "GT;", "gt", "GT"}, '?': {"quest;"}, '@': {"commat;"},
	'[': {"lsqb;", "lbrack;"}, '\\': {"bsol;"}, ']': {"rsqb;", "rbrack;"}, '^': {"Hat;"},
	'_': {"lowbar;", "UnderBar;"}, '`': {"grave;", "DiacriticalGrave;"},
	'{': {"lcub;", "lbrace;"}, '|': {"verbar;", "vert;", "VerticalLine;"}, '}': {"rcub;", "rbrace;"},
}

// htmlNamed writes s with every character that has an HTML5 named reference
// as its first.
func htmlNamed(s string) string {
	var b strings.Builder
	for i := range len(s) {
		if names := html5Names[s[i]]; names != nil {
			b.WriteString("&" + names[0])
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// TestHTMLNamedReferences: every HTML5 named reference of a printable ASCII
// character is decoded, each as an HTML parser reads it (html.UnescapeString
// agrees), so that a token written with any of them is redacted.
func TestHTMLNamedReferences(t *testing.T) {
	for c, names := range html5Names {
		for _, name := range names {
			ref := "&" + name
			if got := html.UnescapeString(ref + "x"); got != string(c)+"x" {
				t.Fatalf("the test's list is wrong: html.UnescapeString(%q) = %q, want %q", ref+"x", got, string(c)+"x")
			}
			if r, raw, n := escapeAt([]byte(ref + "x")); r != rune(c) || raw || n != len(ref) {
				t.Errorf("escapeAt(%q) = %q, %v, %d; want %q, false, %d", ref+"x", r, raw, n, c, len(ref))
			}
			secret := "Tk9" + string(c) + "Zq7vXw3m"
			if got := redactString("<p>Tk9"+ref+"Zq7vXw3m</p>", secret); got != "<p>[REDACTED]</p>" {
				t.Errorf("the secret written with %s: redacted to %q", ref, got)
			}
		}
	}
}

// unquoted drops the quotes around a Go-quoted string, and only them.
func unquoted(quoted string) string { return quoted[1 : len(quoted)-1] }

// everyRuneEscaped writes every rune of s as a JSON \\u escape.
func everyRuneEscaped(s string) string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, `\u%04x`, r)
	}
	return b.String()
}

// allocatedBytes is how many bytes f allocates, the least of three runs, so
// that what other goroutines allocate meanwhile does not count.
func allocatedBytes(f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// TestRedactionIsLinear: redacting four times the text allocates about four
// times the bytes, on every adversarial text, whatever is looked for besides
// the secret. The allocations stand for the work here, deterministically:
// each layer of decoding is a copy of the text, and the search copies
// nothing.
func TestRedactionIsLinear(t *testing.T) {
	const n = 16 << 10
	for name, text := range adversarialTexts {
		for how, redact := range map[string]func(s, secret string) string{"whole": redactString, "cut": redactCut, "pieces": redactPieces} {
			t.Run(name+"/"+how, func(t *testing.T) {
				small, secret := text(n)
				large, _ := text(4 * n)
				smallBytes := allocatedBytes(func() { redact(small, secret) })
				largeBytes := allocatedBytes(func() { redact(large, secret) })
				if ratio := float64(largeBytes) / float64(max(smallBytes, 1)); ratio > 5 {
					t.Errorf("redacting %d bytes allocated %d bytes, %d bytes %d: %.1f times as much for 4 times the text",
						len(small), smallBytes, len(large), largeBytes, ratio)
				}
			})
		}
	}
}

// BenchmarkRedactString redacts each adversarial text at two lengths, 16 KiB
// and the 64 KiB of an error body that is read: a linear redaction takes
// four times as long on the second.
func BenchmarkRedactString(b *testing.B) {
	names := slices.Sorted(maps.Keys(adversarialTexts))
	for _, name := range names {
		for _, n := range []int{16 << 10, 64 << 10} {
			s, secret := adversarialTexts[name](n)
			b.Run(fmt.Sprintf("%s/%dKiB", name, n>>10), func(b *testing.B) {
				b.SetBytes(int64(len(s)))
				b.ReportAllocs()
				for b.Loop() {
					redactString(s, secret)
				}
			})
		}
	}
}

func TestRedactCut(t *testing.T) {
	tests := []struct {
		name, secret, in, want string
	}{
		{"the start of the secret at the end", testToken, "cut here: opal-test-tok", "cut here: [REDACTED]"},
		{"four bytes of it", testToken, "cut here: opal", "cut here: [REDACTED]"},
		{"three bytes are left", testToken, "cut here: opa", "cut here: opa"},
		{"the start elsewhere is left", testToken, "opal-test-tok is not the end", "opal-test-tok is not the end"},
		{"the whole secret too", testToken, testToken + " then opal-te", "[REDACTED] then [REDACTED]"},
		{"JSON-escaped", hostileToken, `{"m":"Tk9/\u003ca\u0026b`, `{"m":"[REDACTED]`},
		{"cut inside an escape", hostileToken, `{"m":"Tk9/\u003ca\u00`, `{"m":"[REDACTED]`},
		{"cut inside a %-escape", hostileToken, `?t=Tk9%2F%3Ca%2`, `?t=[REDACTED]`},
		{"escaped twice", hostileToken, `"Tk9/\\u003ca\\u0026`, `"[REDACTED]`},
		{"a short secret's start inside a word is left", "abcdefg", "xabcd", "xabcd"},
		{"a short secret's start standing alone", "abcdefg", "x abcd", "x [REDACTED]"},
		{"a secret of four bytes has no start to redact", "abcd", "x abc", "x abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redactCut(tt.in, tt.secret)
			if diff := cmp.Diff(maskToken(tt.want, tt.secret), maskToken(got, tt.secret)); diff != "" {
				t.Errorf("redactCut (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRedactPieces: in the text of an error that held the secret, pieces of
// it are redacted too, in any form: any 8 bytes of it in a row. Fewer, its
// start included, are left: they say little of it, and are common words
// (a token that starts "opal" would take "opal.example" from a host name).
func TestRedactPieces(t *testing.T) {
	const base64 = "Qz7+hUNTER2/XyZ=0123456789abcdefVWk"
	tests := []struct {
		name, secret, in, want string
	}{
		{"the port net/url quotes, up to the first slash", base64, `parse "http://h:` + base64 + `/": invalid port ":Qz7+hUNTER2" after host`,
			`parse "http://h:[REDACTED]/": invalid port ":[REDACTED]" after host`},
		{"a run of its middle", base64, `path "/XyZ=0123456789abcdefVWk/x"`, `path "[REDACTED]/x"`},
		{"eight bytes of its middle", base64, "at hUNTER2/X.", "at [REDACTED]."},
		{"seven bytes of its middle are left", base64, "at NTER2/X.", "at NTER2/X."},
		{"its first seven bytes are left", base64, "port :Qz7+hUN", "port :Qz7+hUN"},
		{"its first eight bytes", base64, "port :Qz7+hUNT", "port :[REDACTED]"},
		{"a start like a host name's is left", testToken, `host "opal.example" of opal-go: opal-te`, `host "opal.example" of opal-go: opal-te`},
		{"a piece Go-quoted", `ab"cdefgh/ijklmnop`, `port "ab\"cdefgh" after`, `port "[REDACTED]" after`},
		{"a piece %-escaped", base64, "port %3AQz7%2BhUNTER2", "port %3A[REDACTED]"},
		{"a short secret has no pieces", "abcdefg", "x abcd y", "x abcd y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redactPieces(tt.in, tt.secret)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("redactPieces (-want +got):\n%s", diff)
			}
		})
	}
}

// adversarialTexts are texts on which a redaction that is not linear in
// their length shows it: each holds, everywhere, the secret or what starts
// like it, or escapes to decode. Each returns n bytes, or about, and the
// secret to redact.
var adversarialTexts = map[string]func(n int) (text, secret string){
	"the token, over and over": func(n int) (string, string) {
		return strings.Repeat(testToken, n/len(testToken)), testToken
	},
	"the token but its last byte, over and over": func(n int) (string, string) {
		return strings.Repeat(testToken[:len(testToken)-1]+"_", n/len(testToken)), testToken
	},
	"a short token inside every word": func(n int) (string, string) {
		return strings.Repeat("o", n), "o"
	},
	"the token escaped for JSON, over and over": func(n int) (string, string) {
		return strings.Repeat(`\u0061`, n/6), "aaaaaaaa"
	},
	"pieces of the token, over and over": func(n int) (string, string) {
		return strings.Repeat(testToken[:7]+"_"+testToken[3:10]+"_", n/16), testToken
	},
	"escapes that decode to nothing": func(n int) (string, string) {
		return strings.Repeat(`%&\`, n/3), testToken
	},
	"HTML references that start like the longest name": func(n int) (string, string) {
		return strings.Repeat("&DiacriticalGrav", n/16), testToken
	},
	"HTML numeric references whose digits never end": func(n int) (string, string) {
		return "&#" + strings.Repeat("4", n), testToken
	},
}
