package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"alice@example.com", "alice@example.com"},
		{"Zoë Ångström 李雷", "Zoë Ångström 李雷"},
		{"rlo\u202emoc.elpmaxe@evil", `rlo\u202emoc.elpmaxe@evil`},
		{"\x1b]0;pwned\x07title", `\u001b]0;pwned\u0007title`},
		{"\x1b[2Jclear", `\u001b[2Jclear`},
		{"c1\u009b31mred", `c1\u009b31mred`},
		{"del\x7f", `del\u007f`},
		{"tab\there\nnewline\rcr", `tab\u0009here\u000anewline\u000dcr`},
		{"zero\u200bwidth\u200c\u200d\ufeff", `zero\u200bwidth\u200c\u200d\ufeff`},
		{"iso\u2066late\u2069", `iso\u2066late\u2069`},
		{"line\u2028para\u2029", `line\u2028para\u2029`},
		{"tag\U000e0041", `tag\U000e0041`},
		// Default-ignorable characters that are not format characters.
		{"alice\u034f@corp.dev", `alice\u034f@corp.dev`},
		{"ok\ufe0f \u180b \U000e0100", `ok\ufe0f \u180b \U000e0100`},
		{"\u115f\u1160\u3164\uffa0\u17b4", `\u115f\u1160\u3164\uffa0\u17b4`},
		{"bad\xffutf8", `bad\xffutf8`},
		// A backslash is escaped too, so that a literal "\u202e" is told
		// from the escape of a U+202E.
		{`back\slash`, `back\\slash`},
		{`literal\u202e`, `literal\\u202e`},
	}
	for _, tt := range tests {
		if got := clean(tt.in); got != tt.want {
			t.Errorf("clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCSVCell(t *testing.T) {
	tests := []struct{ in, want string }{
		{"alice@example.com", "alice@example.com"},
		{`=HYPERLINK("http://evil.example","click")`, `'=HYPERLINK("http://evil.example","click")`},
		{"+1", "'+1"},
		{"-2+3", "'-2+3"},
		{"@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"},
		{"\t=1", `'\u0009=1`},
		{"\r=1", `'\u000d=1`},
		{"a=b", "a=b"},
		{"", ""},
		{"\x1b[2J", `\u001b[2J`},
	}
	for _, tt := range tests {
		if got := csvCell(tt.in); got != tt.want {
			t.Errorf("csvCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEscapeJSON(t *testing.T) {
	for _, s := range []string{"plain", "c1\u0085\u009b", "del\x7f", "rlo\u202e", "zw\u200b\ufeff", "tag\U000e0041", "ok é 李", "cgj\u034f vs\ufe0f\U000e0100 filler\u3164"} {
		b, err := json.Marshal(map[string]string{"v": s})
		if err != nil {
			t.Fatal(err)
		}
		got := escapeJSON(append(b, '\n'))
		if raw := firstHidden(strings.TrimSuffix(string(got), "\n")); raw != "" {
			t.Errorf("escapeJSON of %q left %q in %s", s, raw, got)
		}
		var back map[string]string
		if err := json.Unmarshal(got, &back); err != nil || back["v"] != s {
			t.Errorf("escapeJSON of %q = %s, which decodes to %q, %v; want the same text", s, got, back["v"], err)
		}
	}
}

// firstHidden returns the first character of s, besides a newline, that
// could drive a terminal or disguise text (a control, a format or
// separator character, or another that is drawn as nothing), as a quoted
// string; "" when there is none.
func firstHidden(s string) string {
	for _, r := range s {
		if r != '\n' && (unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp,
			unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point)) || r == '\ufffd' {
			return string(r)
		}
	}
	return ""
}

// hostile is text a hostile server sends: each kind of hidden character,
// at the start of a value (for csv) and inside one, formulas, a literal
// backslash, and a long line.
var hostile = []string{
	"rlo\u202emoc.elpmaxe@evil.example",
	"rlo\u202egnp.exe",
	"\x1b]0;pwned\x07\x1b[2J",
	"\x1b]8;;http://evil.example\x07click\x1b]8;;\x07", // a hidden hyperlink
	"bel\x07\x1b[2J\x1b[H",
	"\u009b31mc1",
	"\u009b31mc1\u0085nel",
	"isolate\u2066evil\u2069@x",
	"zero\u200bwidth\ufeff",
	"zw\u200b\u200d\u2060\ufeff",
	"line\u2028sep\u2029",
	"tab\there\nnewline\r",
	`=HYPERLINK("http://evil.example","x")`,
	"@SUM(1)|cmd",
	"@SUM(A1)",
	"+cmd",
	"+1+1",
	"-cmd",
	"-2+3",
	"\tcmd",
	"\t=1",
	"\rcmd",
	"\r=1",
	// Drawn as nothing, so that two users look the same.
	"alice\u034f@corp.dev",
	"alice\ufe0f\u180b\U000e0100@corp.dev",
	"alice\u115f\u3164\uffa0\u17b4@corp.dev",
	// A literal backslash, which must not read as an escape.
	`literal\u202e@evil.example`,
	strings.Repeat("long-", 100),
}

// hostileOrg is an organisation whose every name, email, level, status
// and propagation status is hostile text: user-NN holds a grant on
// resource-NN, expiring in an hour, and a live session at its level.
func hostileOrg(t *testing.T) (*opaltest.Server, []opal.User, []opal.Resource) {
	t.Helper()
	srv := opaltest.NewServer()
	t.Cleanup(srv.Close)
	now := time.Now()
	var users []opal.User
	var resources []opal.Resource
	for i, h := range hostile {
		u := opal.User{UserID: fmt.Sprintf("user-%02d", i), Email: h, FullName: h, FirstName: h, LastName: h, Position: h, HRIDPStatus: h}
		r := opal.Resource{ResourceID: fmt.Sprintf("resource-%02d", i), Name: h, Description: h, ResourceType: opal.ResourceTypeAWSIAMRole}
		users, resources = append(users, u), append(resources, r)
		level := opal.ResourceAccessLevel{Name: h, RemoteID: h + "-remote"}
		srv.AddSessions(opal.Session{UserID: u.UserID, ResourceID: r.ResourceID, ExpirationDate: in(now, time.Hour), AccessLevel: level})
		srv.AddAccess(opal.ResourceAccessUser{UserID: u.UserID, ResourceID: r.ResourceID, Email: h, FullName: h, AccessLevel: level,
			HasDirectAccess: true, NumAccessPaths: 1, PropagationStatus: "ERR_" + h, ExpirationDate: ptr(in(now, time.Hour))})
	}
	srv.AddUsers(users...)
	srv.AddResources(resources...)
	return srv, users, resources
}

// formula reports whether a spreadsheet reads a cell that starts as s does
// as a formula.
func formula(s string) bool { return s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) }

// TestHostileText runs every command in every format on an organisation
// whose text is hostile: no control, format or invisible character reaches
// stdout, a pipe gets a long value whole, csv cells never start as a
// formula (one that did is the cleaned text after a '), and json decodes
// back to the very text the server sent, in every field.
func TestHostileText(t *testing.T) {
	srv, users, resources := hostileOrg(t)
	for _, args := range [][]string{{"access", "-all"}, {"sessions", "-all"}, {"users"}, {"resources"}} {
		for _, format := range []string{"table", "csv", "json"} {
			t.Run(strings.Join(args, " ")+" "+format, func(t *testing.T) {
				r := runCommand(t, serverEnv(srv), append(args, "-format", format)...)
				checkOK(t, r)
				if raw := firstHidden(r.stdout); raw != "" {
					t.Errorf("stdout holds %q:\n%s", raw, r.stdout)
				}
				switch format {
				case "table":
					if !strings.Contains(r.stdout, `rlo\u202emoc.elpmaxe@evil.example`) || !strings.Contains(r.stdout, `\u001b]0;pwned\u0007`) ||
						!strings.Contains(r.stdout, `literal\\u202e@evil.example`) {
						t.Errorf("the table does not show the escapes:\n%s", r.stdout)
					}
					if !strings.Contains(r.stdout, strings.Repeat("long-", 100)) {
						t.Errorf("a long name is cut on a pipe")
					}
				case "csv":
					cells := map[string]bool{}
					for _, rec := range readCSV(t, r.stdout) {
						for _, cell := range rec {
							cells[cell] = true
							if formula(cell) {
								t.Errorf("cell %q starts as a formula", cell)
							}
						}
					}
					for _, h := range hostile {
						if want := "'" + clean(h); formula(h) && !cells[want] {
							t.Errorf("no cell is %q", want)
						}
					}
					if !strings.Contains(r.stdout, `'=HYPERLINK(""http://evil.example"",""x"")`) || !strings.Contains(r.stdout, `'\u0009cmd`) {
						t.Errorf("the csv does not neutralise formulas:\n%s", r.stdout)
					}
				case "json":
					checkRecoverable(t, r.stdout, users, resources)
					if args[0] == "access" {
						checkGrantsRecoverable(t, r.stdout)
					}
				}
			})
		}
	}
}

// checkRecoverable checks that json lines hold the hostile text as the
// server sent it, once decoded.
func checkRecoverable(t *testing.T, out string, users []opal.User, resources []opal.Resource) {
	t.Helper()
	want := map[string]bool{}
	for _, u := range users {
		want[u.Email] = true
	}
	for _, r := range resources {
		want[r.Name] = true
	}
	got := map[string]bool{}
	for line := range strings.Lines(out) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		for _, k := range []string{"email", "user_email", "name", "resource_name"} {
			if s, ok := m[k].(string); ok {
				got[s] = true
			}
		}
	}
	for s := range want {
		if !got[s] {
			t.Errorf("no line holds %q, decoded", s)
		}
	}
}

// checkGrantsRecoverable checks that every text of the server, in every
// field opal access shows as json, decodes back to itself, and that each
// grant has its session.
func checkGrantsRecoverable(t *testing.T, out string) {
	t.Helper()
	n := 0
	for line := range strings.Lines(out) {
		var g jsonGrant
		if err := json.Unmarshal([]byte(line), &g); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		var i int
		if _, err := fmt.Sscanf(g.UserID, "user-%02d", &i); err != nil || i >= len(hostile) || g.PropagationStatus == nil {
			t.Fatalf("a grant of user %q, propagation %v: %v", g.UserID, g.PropagationStatus, err)
		}
		text := func(s *string) string {
			if s == nil {
				return "(none)"
			}
			return *s
		}
		h := hostile[i]
		got := []string{g.Email, g.FullName, g.AccessLevel.Name, g.AccessLevel.RemoteID, g.PropagationStatus.Status,
			text(g.UserEmail), text(g.UserStatus), text(g.ResourceName)}
		want := []string{h, h, h, h + "-remote", "ERR_" + h, h, h, h}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("the grant of %s (-want +got):\n%s", g.UserID, diff)
		}
		if g.SessionExpiresAt == nil {
			t.Errorf("the grant of %s has no session_expires_at", g.UserID)
		}
		n++
	}
	if n != len(hostile) {
		t.Errorf("%d lines, want %d", n, len(hostile))
	}
}

// TestHostileTextOnStderr: an error message, an RFC 7807 problem (by its
// title and detail), a warning and the resource ID of one hostile server
// reach stderr cleaned, with and without -v, and with the token the
// server echoed redacted.
func TestHostileTextOnStderr(t *testing.T) {
	srv, _, _ := hostileOrg(t)
	srv.AddResources(opal.Resource{ResourceID: "gone\u202e\x1b[2J", Name: "gone"})
	env := proxyEnv(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.URL.Query().Get("resource_id") == "gone\u202e\x1b[2J":
			w.WriteHeader(http.StatusNotFound)
			return true
		case r.URL.Path == "/v1/users":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"message":"bad \u202eresu\u200b \u0085 \u2028 \u001b]8;;http://evil.example\u0007link"}`))
			return true
		}
		return false
	})
	org := newOrg(t, testSessions(time.Now()))
	problem := proxyEnv(t, org, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v1/sessions" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("X-Request-Id", "req-\u202e-"+org.Token)
			w.WriteHeader(http.StatusConflict)
			w.Write([]byte(`{"title":"Not \u202eAllowed \u001b]0;x\u0007","detail":"token ` + org.Token + ` is \u2028 bad"}`))
			return true
		}
		return false
	})
	tests := []struct {
		env  []string
		args []string
		code int
		want string
	}{
		{env, []string{"users"}, exitFailure, `opal: GET /v1/users: 400 Bad Request: bad \u202eresu\u200b`},
		{env, []string{"sessions", "-all", "-ids"}, exitOK, `opal: resource gone\u202e\u001b[2J not found (deleted?); skipped`},
		{env, []string{"sessions", "-all", "-resource-name", "\u202eevil"}, exitOK, `opal: no resource matches -resource-name "\u202eevil"`},
		{problem, []string{"sessions", "-resource-id", resource}, exitFailure, `409 Conflict: Not \u202eAllowed \u001b]0;x\u0007: token [REDACTED] is bad`},
	}
	for _, tt := range tests {
		for _, verbose := range [][]string{nil, {"-v"}} {
			t.Run(strings.Join(append(tt.args, verbose...), " "), func(t *testing.T) {
				r := runCommand(t, tt.env, append(tt.args, verbose...)...)
				if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
					t.Errorf("exit %d, stderr %q; want %d, and stderr to contain %q", r.code, r.stderr, tt.code, tt.want)
				}
				if raw := firstHidden(r.stderr); raw != "" || strings.Contains(r.stderr, srv.Token) || strings.Contains(r.stderr, org.Token) {
					t.Errorf("stderr holds %q or the token: %q", raw, r.stderr)
				}
			})
		}
	}
}

// TestHostileUsageErrors: a flag's value is echoed cleaned too.
func TestHostileUsageErrors(t *testing.T) {
	r := runCommand(t, nil, "sessions", "-format", "\x1b[2J\u202e")
	checkFailed(t, r, exitUsage, `opal: -format "\u001b[2J\u202e": want table, json or csv`)
	if diff := cmp.Diff("", firstHidden(r.stderr)); diff != "" {
		t.Errorf("stderr holds a hidden character: %q", r.stderr)
	}
}
