package main

// Opal takes an ID or an email in any letter case and may write it back in
// another (a UUID in capitals), so the command keys and compares them in
// any letter case: of ASCII, and only of ASCII, as the opal package does.
// Unicode's case mapping would take "\u212Aate-0001", whose first letter is
// the Kelvin sign, for "kate-0001", and strings.EqualFold a long s
// (U+017F) for an s: another user, or another resource, whose ID displays
// alike, given the name, the status or the live session of the first. The
// values of flags (-format, -sort, -resource-type, units) take any letter
// case of ASCII the same way, so that no look-alike passes for one.

// foldASCII is s with the ASCII letters A to Z in lower case, and every
// other byte as it is: two IDs or emails are the same when their folds
// are, and a map of them is keyed by the fold.
func foldASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
