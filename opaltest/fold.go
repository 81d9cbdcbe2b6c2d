package opaltest

// equalFoldASCII reports whether a and b are the same but for the letter
// case of the ASCII letters A to Z; every other byte must be the same. The
// server compares emails, and the Authorization header's scheme, so, as
// the opal package does, and not with Unicode's case folding, which takes
// look-alikes such as the Kelvin sign (U+212A) for "k".
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

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
