package ascii_test

import (
	"testing"

	"github.com/opalclient/opal-go/internal/ascii"
)

// TestASCIILetterCaseOnly: strings that differ in the letter case of ASCII
// letters are the same, and have the same Lower; a letter outside ASCII
// that Unicode's case mapping or folding takes for an ASCII one (the
// Kelvin sign for k, the long s for s, the capital I with a dot for i)
// makes another string, as does any other byte.
func TestASCIILetterCaseOnly(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		same bool
	}{
		{"kate@corp.example", "KATE@Corp.Example", true},
		{"1B978423-DB0A", "1b978423-db0a", true},
		{"", "", true},
		{"\u00C9quipe", "\u00C9QUIPE", true}, // É is kept as it is, on both sides
		{"kate", "\u212Aate", false},
		{"localhost", "localho\u017Ft", false},
		{"admin", "adm\u0130n", false},
		{"\u00E9quipe", "\u00C9quipe", false},
		{"a@b", "a`b", false}, // '@' and '`' are 'A'-1 and 'a'-1
		{"[", "{", false},     // the byte after Z and after z
		{"ab", "abc", false},
	} {
		if got := ascii.EqualFold(tt.a, tt.b); got != tt.same {
			t.Errorf("EqualFold(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.same)
		}
		if got := ascii.Lower(tt.a) == ascii.Lower(tt.b); got != tt.same {
			t.Errorf("Lower(%q) == Lower(%q) is %v, want %v", tt.a, tt.b, got, tt.same)
		}
	}
	if got, want := ascii.Lower("AZaz@[`{\u212A"), "azaz@[`{\u212A"; got != want {
		t.Errorf("Lower = %q, want %q", got, want)
	}
}
