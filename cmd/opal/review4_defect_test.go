package main

import (
	"strings"
	"testing"
	"time"
)

// TestDefect_TokenAmidOtherTextIsShown: the command now trims the white
// space around OPAL_AUTH_TOKEN, so that an argument holding the token is
// found (tokenInArguments) and refused without being shown. White space
// inside it is left, as is a byte-order mark in front (TrimSpace keeps
// U+FEFF), and the whole value is what arguments are searched for. An
// OPAL_AUTH_TOKEN of "Bearer <token>" (copied from an Authorization
// header, a common mistake), of two lines (a secret file holding the new
// token and the old), or read from a file saved with a byte-order mark, is
// then never found in an argument that holds the token itself, and a
// flag's refusal quotes it on stderr,
// which CI logs keep: the opal package refuses such a token only later,
// once the flags have been checked, and that refusal does not name
// OPAL_AUTH_TOKEN. OPAL_BASE_URL_EXACT holding the token is quoted the same
// way.
//
// Reproduction: OPAL_AUTH_TOKEN="Bearer $T" opal users -format "$T"
// Got: `opal: -format "<T>": want table, json or csv` (exit 2), the token in
// full on stderr. Expected: exit 2 with no 8 bytes of the token in a row on
// stderr (as TestTokenAsArgumentIsRefused asks of a token that has white
// space only around it), nothing sent.
// Suggested fix: cmd/opal: check OPAL_AUTH_TOKEN first, in run before
// anything is parsed (where tokenInArguments runs): a value that the opal
// package refuses as a token (opal.NewClient(token) sends nothing) is a
// usage error that names OPAL_AUTH_TOKEN without quoting it, and may say
// that a token has no "Bearer " in front; or look for each field of it of
// 8 bytes or more, split at white space and other bytes no token holds,
// not only for the whole value.
func TestDefect_TokenAmidOtherTextIsShown(t *testing.T) {
	srv := newOrg(t, testSessions(time.Now()))
	for _, tt := range []struct {
		name  string
		token string // OPAL_AUTH_TOKEN
		env   []string
		args  []string
	}{
		{"Bearer in front, the token as -format", "Bearer " + srv.Token, nil, []string{"users", "-format", srv.Token}},
		{"Bearer in front, the token as -sort", "Bearer " + srv.Token, nil, []string{"access", "-all", "-sort", srv.Token}},
		{"two lines, the token as -format", srv.Token + "\nopal-old-token-Zr8mW2qP0v", nil, []string{"users", "-format", srv.Token}},
		{"a byte-order mark in front, the token as -format", "\uFEFF" + srv.Token + "\r\n", nil, []string{"users", "-format", srv.Token}},
		{"Bearer in front, the token as OPAL_BASE_URL_EXACT", "Bearer " + srv.Token, []string{"OPAL_BASE_URL_EXACT=" + srv.Token}, []string{"users"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := append([]string{"OPAL_BASE_URL=" + srv.URL, "OPAL_AUTH_TOKEN=" + tt.token}, tt.env...)
			r := runCommand(t, env, tt.args...)
			if r.code != exitUsage {
				t.Errorf("exit %d, want %d (a usage error)", r.code, exitUsage)
			}
			for i := 0; i+8 <= len(srv.Token); i++ {
				if strings.Contains(r.stdout+r.stderr, srv.Token[i:i+8]) {
					// Where, never what: a failure must not print it.
					t.Errorf("the output holds 8 bytes of the token in a row (from its byte %d)", i)
					break
				}
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}
