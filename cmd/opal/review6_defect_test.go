package main

import (
	"strings"
	"testing"
)

// TestDefect_ArgumentHoldingMostOfTheTokenIsQuoted: tokenInArguments looks
// for the whole token only, so an argument holding all of it but its last
// bytes (a paste cut short) passes, and the unknown command's or the
// flag's refusal quotes it: 31 of the token's 33 bytes on stderr, which CI
// logs keep. The hint (holdsPieceOfToken) and the opal package already
// treat 8 bytes of the token in a row as the token.
//
// Reproduction: OPAL_AUTH_TOKEN=<token> opal help <token minus its last 2
// bytes> (or opal <that>, or opal users -format <that>).
// Expected: a usage error that says which argument holds part of the
// token, quoting none of it, as for the whole token.
// Got: opal: unknown command "<31 bytes of the token>".
func TestDefect_ArgumentHoldingMostOfTheTokenIsQuoted(t *testing.T) {
	srv := newOrg(t, nil)
	cut := srv.Token[:len(srv.Token)-2]
	for _, args := range [][]string{{"help", cut}, {cut}, {"users", "-format", cut}} {
		t.Run(strings.Join(args[:len(args)-1], " "), func(t *testing.T) {
			r := runCommand(t, []string{"OPAL_BASE_URL=" + srv.URL, "OPAL_AUTH_TOKEN=" + srv.Token}, args...)
			if r.code != exitUsage {
				t.Errorf("exit %d, want %d", r.code, exitUsage)
			}
			checkNoToken(t, r, srv.Token)
		})
	}
}

// TestDefect_CommandHelpFlagNeedsAValidToken: help answers whatever
// OPAL_AUTH_TOKEN holds for `opal help access`, but the same help asked
// as `opal access -h` (or `opal version -h`) is refused when the token is
// not one word, though it reads no token and quotes no argument.
//
// Reproduction: OPAL_AUTH_TOKEN='Bearer abcdefghijk' opal access -h
// Expected: exit 0 and the access help on stdout, as opal help access.
// Got: exit 2, "OPAL_AUTH_TOKEN is not an Opal API token".
func TestDefect_CommandHelpFlagNeedsAValidToken(t *testing.T) {
	for _, args := range [][]string{{"access", "-h"}, {"users", "--help"}, {"version", "-h"}} {
		r := runCommand(t, []string{"OPAL_AUTH_TOKEN=Bearer abcdefghijk"}, args...)
		if r.code != exitOK || !strings.Contains(r.stdout, "Usage: opal "+args[0]) {
			t.Errorf("opal %s: exit %d, stdout %q; want exit 0 and its help", strings.Join(args, " "), r.code, r.stdout)
		}
	}
}
