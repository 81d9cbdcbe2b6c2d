// Package ascii compares text in any letter case of ASCII, and only of
// ASCII, for the opal package, opaltest and the opal command.
//
// Opal may change the letter case of what it is asked about, an ID or an
// email (a UUID in capitals, an address as its owner typed it), and a host
// name is the same host in any letter case. So two of them are the same in
// any letter case of ASCII. Unicode's case folding would go further, and
// take another string that displays alike for the same: strings.EqualFold
// takes "\u212Aate@corp.example", whose first letter is the Kelvin sign,
// for "kate@corp.example", and "localho\u017Ft" (a long s) for localhost;
// strings.ToLower turns the Kelvin sign into k and the capital I with a dot
// above (U+0130) into i. Another user, resource or host must never pass for
// the one asked about.
package ascii

// EqualFold reports whether a and b are the same but for the letter case
// of the ASCII letters A to Z; every other byte must be the same.
func EqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// Lower is s with the ASCII letters A to Z in lower case, and every other
// byte as it is: the key under which the strings that EqualFold takes as
// the same are one.
func Lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lower(c)
	}
	return string(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
