//go:build !race

package main

// raceEnabled says that the tests run with -race; see race_test.go.
const raceEnabled = false
