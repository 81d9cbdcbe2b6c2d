package opal

// Opal may change the letter case of what it is asked about, an ID or an
// email (a UUID in capitals, an address as its owner typed it), and a host
// name is the same host in any letter case. So the library takes two of them
// as the same in any letter case of ASCII, and only of ASCII: Unicode's case
// folding would take "\u212Aate@corp.example", whose first letter is the
// Kelvin sign, for "kate@corp.example", another address that displays alike,
// and "localho\u017Ft" (a long s) for localhost.

// equalFoldASCII reports whether a and b are the same but for the letter
// case of the ASCII letters A to Z; every other byte must be the same.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

// foldASCII is s with the ASCII letters A to Z in lower case: the key under
// which the strings that equalFoldASCII takes as the same are one.
func foldASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerASCII(c)
	}
	return string(b)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
