//go:build race

package main

// raceEnabled says that the tests run with -race, so that TestMain builds
// the command with it too.
const raceEnabled = true
