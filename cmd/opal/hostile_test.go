package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// An outside review of the command, judged by its README, its help and
// what it promises: each test drives the built command against a fake Opal
// that misbehaves, or with input a user mistypes. The TestDefect_ tests
// show what the command gets wrong: they fail until it is fixed.

// hxOrg is an organisation of nres resources, each granted to nusers
// users, the grant of user u expiring u+1 hours from now, each user with a
// live session on each resource at the default level.
func hxOrg(t *testing.T, nres, nusers int) *opaltest.Server {
	t.Helper()
	now := time.Now()
	srv := opaltest.NewServer()
	t.Cleanup(srv.Close)
	for u := range nusers {
		srv.AddUsers(opal.User{UserID: hxUser(u), Email: hxUser(u) + "@example.com", HRIDPStatus: opal.HRIDPStatusActive})
	}
	for r := range nres {
		srv.AddResources(opal.Resource{ResourceID: hxResource(r), Name: "name-" + hxResource(r), ResourceType: opal.ResourceTypeOktaApp})
		for u := range nusers {
			srv.AddAccess(opal.ResourceAccessUser{ResourceID: hxResource(r), UserID: hxUser(u), Email: hxUser(u) + "@example.com",
				HasDirectAccess: true, NumAccessPaths: 1, ExpirationDate: ptr(in(now, time.Duration(u+1)*time.Hour))})
			srv.AddSessions(opal.Session{ResourceID: hxResource(r), UserID: hxUser(u), ExpirationDate: in(now, time.Hour)})
		}
	}
	return srv
}

func hxUser(i int) string     { return fmt.Sprintf("u%03d", i) }
func hxResource(i int) string { return fmt.Sprintf("r%03d", i) }

// hxNotFound answers as Opal does for a resource it does not know.
func hxNotFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	w.Write([]byte(`{"message":"resource not found"}`))
}

// hxCSV reads a csv output.
func hxCSV(t *testing.T, out string) [][]string {
	t.Helper()
	records, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("reading the csv: %v\n%s", err, out)
	}
	return records
}

// hxSignalAt runs the command, sends it sig once srv has received n
// requests, and returns what it did.
func hxSignalAt(t *testing.T, srv *opaltest.Server, env []string, n int, sig os.Signal, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
	defer cancel()
	cmd := command(ctx, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for len(srv.Requests()) < n && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// TestHostileEnvironment: a token set but empty, a base URL without a
// token, or set but empty, is a usage error before anything is sent, never
// the demo; and the token is in no message about the environment.
func TestReviewEnvironment(t *testing.T) {
	srv := newOrg(t, nil)
	tests := []struct {
		env  []string
		want string
	}{
		{[]string{"OPAL_AUTH_TOKEN="}, "OPAL_AUTH_TOKEN is set but empty"},
		{[]string{"OPAL_AUTH_TOKEN=", "OPAL_BASE_URL=" + srv.URL}, "OPAL_AUTH_TOKEN is set but empty"},
		{[]string{"OPAL_BASE_URL=" + srv.URL}, "OPAL_BASE_URL is set but OPAL_AUTH_TOKEN is not"},
		{[]string{"OPAL_BASE_URL="}, "OPAL_BASE_URL is set but OPAL_AUTH_TOKEN is not"},
		{[]string{"OPAL_AUTH_TOKEN=" + srv.Token, "OPAL_BASE_URL="}, "OPAL_BASE_URL is set but empty"},
		{[]string{"OPAL_BASE_URL_EXACT=1"}, "OPAL_BASE_URL_EXACT is set but OPAL_BASE_URL is not"},
		{[]string{"OPAL_AUTH_TOKEN=   "}, "API token contains white space"},
		{[]string{"OPAL_AUTH_TOKEN=" + srv.Token, "OPAL_BASE_URL=http://example.com/v1"}, "plain http"},
	}
	for _, tt := range tests {
		for _, args := range [][]string{{"access", "-all", "-format", "csv"}, {"users"}} {
			t.Run(strings.Join(tt.env, " ")+" "+strings.Join(args, " "), func(t *testing.T) {
				r := runCommand(t, tt.env, args...)
				checkFailed(t, r, exitUsage, tt.want)
				if strings.Contains(r.stderr, srv.Token) {
					t.Errorf("stderr holds the token: %q", r.stderr)
				}
				if strings.Contains(r.stderr, "demo") && !strings.Contains(r.stderr, "to see the demo") {
					t.Errorf("stderr speaks of the demo as if it ran: %q", r.stderr)
				}
			})
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("the server received %d requests, want none", n)
	}
}

// TestHostileUsageErrors: typos and conflicting flags are usage errors,
// said before anything is sent.
func TestReviewUsageErrors(t *testing.T) {
	srv := newOrg(t, testSessions(time.Now()))
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"access"}, "pass -resource-id"},
		{[]string{"access", "-all", "-expiring-within", "0"}, "above zero"},
		{[]string{"access", "-all", "-expiring-within", "-1h"}, "want a duration"},
		{[]string{"access", "-all", "-expiring-within", "1e9d"}, "want a duration"},
		{[]string{"access", "-all", "-expiring-within", "1d-1h"}, "want a duration"},
		{[]string{"access", "-all", "-expiring-within", "d"}, "want a duration"},
		{[]string{"access", "-all", "-expiring-within", "999999999d"}, "too long"},
		{[]string{"sessions", "-all", "-expiring-within", "1.5.d"}, "want a duration"},
		{[]string{"access", "-all", "-page-size", "0"}, "-page-size 0: want 1 to 1000"},
		{[]string{"access", "-all", "-page-size", "1001"}, "-page-size 1001: want 1 to 1000"},
		{[]string{"users", "-page-size", "-1"}, "want 1 to 1000"},
		{[]string{"access", "-resource-id", resource + ",,"}, "holds an empty ID"},
		{[]string{"access", "-resource-id", ""}, "holds an empty ID"},
		{[]string{"access", "-all", "-resource-id", resource}, "-resource-id and -all both select resources"},
		{[]string{"access", "-all", "-user", emailA}, "pass it without -resource-id or -all"},
		{[]string{"access", "-user", emailA, "-user-id", userA}, "-user and -user-id both select a user"},
		{[]string{"access", "-resource-type", "okta_app"}, "-resource-type narrows -all"},
		{[]string{"access", "-resource-name", "x"}, "-resource-name narrows -all"},
		{[]string{"access", "-all", "-resource-type", "GITHUB_REPO"}, "did you mean GIT_HUB_REPO?"},
		{[]string{"access", "-all", "-resource-type", "OKTA-APP"}, "did you mean OKTA_APP?"},
		{[]string{"access", "-all", "-permanent", "-expiring-within", "1h"}, "pass one of them"},
		{[]string{"access", "-all", "-flagged", "-ids"}, "drop -ids"},
		{[]string{"access", "-all", "-sort", "expires", "-format", "json"}, "-sort is for -format table and csv"},
		{[]string{"access", "-all", "-sort", "email"}, `-sort "email": want expires, user or resource`},
		{[]string{"access", "-all", "-format", "xml"}, `-format "xml": want table, json or csv`},
		{[]string{"access", "-all", "extra"}, `unexpected argument "extra"`},
		{[]string{"access", "-all", "--", "-flagged"}, `unexpected argument "-flagged"`},
		{[]string{"-all", "access"}, "flags come after a command"},
		{[]string{"acess", "-all"}, "did you mean access?"},
		{[]string{"access", "-all", "-no-such"}, "flag provided but not defined: -no-such"},
		{[]string{"sessions", "-all", "-no-sessions"}, "flag provided but not defined: -no-sessions"},
		{[]string{"sessions", "-user", emailA}, "pass -resource-id"},
		{[]string{"resources", "-type", "GITHUB_REPO"}, "did you mean GIT_HUB_REPO?"},
		{[]string{"help", "nosuch"}, `unknown command "nosuch"`},
		{[]string{"help", "access", "sessions"}, "help takes one command"},
		{[]string{"version", "x"}, "version takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			before := len(srv.Requests())
			r := runCommand(t, serverEnv(srv), tt.args...)
			checkFailed(t, r, exitUsage, tt.want)
			if n := len(srv.Requests()) - before; n != 0 {
				t.Errorf("%d requests sent before a usage error", n)
			}
		})
	}
}

// TestHostileDays: durations in days take a fraction and any letter case.
func TestReviewDays(t *testing.T) {
	now := time.Now()
	srv := newOrg(t, nil)
	srv.AddAccess(grant(resource, userA, emailA, adminRoleLevel, ptr(in(now, 30*time.Hour)), true, 1, ""))
	for _, tt := range []struct {
		within string
		rows   int
	}{{"1.5d", 1}, {"1.5D", 1}, {"7D", 1}, {"1d", 0}, {"1d7h", 1}, {"1D5H", 0}, {"36h", 1}} {
		t.Run(tt.within, func(t *testing.T) {
			r := runCommand(t, serverEnv(srv), "access", "-resource-id", resource, "-no-sessions", "-expiring-within", tt.within)
			checkOK(t, r)
			if got := len(parseTable(r.stdout)) - 1; got != tt.rows {
				t.Errorf("%d rows, want %d:\n%s", got, tt.rows, r.stdout)
			}
		})
	}
}

// TestHostileHelp: help and version go to stdout with exit 0, whatever the
// environment, and each command's help has examples and the exit statuses.
func TestReviewHelp(t *testing.T) {
	for _, env := range [][]string{nil, {"OPAL_AUTH_TOKEN="}} {
		for _, args := range [][]string{{}, {"help"}, {"-h"}, {"--help"}, {"help", "help"}, {"help", "access"}, {"access", "-h"}, {"access", "--help"},
			{"sessions", "-help"}, {"users", "-h"}, {"resources", "-h"}, {"version"}, {"-version"}, {"--version"}, {"access", "-version"},
			{"help", "version"}, {"version", "-h"}} {
			t.Run(strings.Join(env, " ")+" "+strings.Join(args, " "), func(t *testing.T) {
				r := runCommand(t, env, args...)
				if r.code != 0 || r.stderr != "" || r.stdout == "" {
					t.Fatalf("exit %d, stderr %q, stdout %d bytes; want 0, nothing, and the text", r.code, r.stderr, len(r.stdout))
				}
				if len(args) > 0 && slices.Contains([]string{"access", "sessions", "users", "resources"}, args[len(args)-1]) ||
					len(args) == 2 && strings.HasPrefix(args[1], "-h") && args[0] != "version" || slices.Contains(args, "--help") && len(args) == 2 {
					for _, want := range []string{"Usage: opal", "Examples:", "Exit status:", "130", "143"} {
						if !strings.Contains(r.stdout, want) {
							t.Errorf("the help has no %q", want)
						}
					}
				}
			})
		}
	}
}

// hxColumnsOrg is one resource whose grants show every way of holding
// access, every status, and sessions that must and must not be joined.
func hxColumnsOrg(t *testing.T, now time.Time) (*opaltest.Server, map[string]time.Time) {
	t.Helper()
	x := opal.ResourceAccessLevel{Name: "X", RemoteID: "rx"}
	y := opal.ResourceAccessLevel{Name: "Y", RemoteID: "ry"}
	srv := opaltest.NewServer()
	t.Cleanup(srv.Close)
	srv.AddResources(opal.Resource{ResourceID: "r1", Name: "one", ResourceType: opal.ResourceTypeOktaApp})
	srv.AddUsers(
		opal.User{UserID: "u1", Email: "u1@x.dev", HRIDPStatus: opal.HRIDPStatusActive},
		opal.User{UserID: "u2", Email: "u2@x.dev", HRIDPStatus: "suspended"}, // any letter case
		opal.User{UserID: "u3", Email: "u3@x.dev", HRIDPStatus: opal.HRIDPStatusNotFound},
		opal.User{UserID: "u4", Email: "u4@x.dev", HRIDPStatus: opal.HRIDPStatusDeprovisioned},
		opal.User{UserID: "u5", Email: "u5@x.dev", HRIDPStatus: opal.HRIDPStatusDeleted},
	)
	sessions := map[string]time.Time{
		"u1 Y":       in(now, 2*time.Hour),
		"u2 X":       in(now, 3*time.Hour),
		"u5 default": in(now, 26*time.Hour),
	}
	srv.AddAccess(
		grant("r1", "u1", "u1@x.dev", x, nil, true, 0, ""),                                  // direct, though no path is counted
		grant("r1", "u1", "u1@x.dev", y, nil, false, 1, ""),                                 // group
		grant("r1", "u2", "u2@x.dev", x, ptr(in(now, -2*time.Hour)), true, 1, "SUCCESS"),    // expired, with a live session
		grant("r1", "u3", "u3@x.dev", x, nil, true, 2, "err_remote_throttle"),               // direct+group, not propagated
		grant("r1", "u4", "u4@x.dev", x, ptr(in(now, 90*time.Minute)), false, 3, "PENDING"), // group; pending is no error
		grant("r1", "u5", "", opal.ResourceAccessLevel{}, nil, false, 2, ""),                // no email in the grant
		grant("r1", "u9", "ghost@x.dev", x, nil, true, 1, ""),                               // unknown to Opal
	)
	srv.AddSessions(
		opal.Session{ResourceID: "r1", UserID: "u1", AccessLevel: y, ExpirationDate: sessions["u1 Y"]},
		opal.Session{ResourceID: "r1", UserID: "u1", AccessLevel: x, ExpirationDate: in(now, -time.Hour)},                         // over
		opal.Session{ResourceID: "r1", UserID: "u2", AccessLevel: x, ExpirationDate: in(now, time.Hour)},                          // an earlier one
		opal.Session{ResourceID: "r1", UserID: "u2", AccessLevel: x, ExpirationDate: sessions["u2 X"]},                            // the later wins
		opal.Session{ResourceID: "r1", UserID: "u3", AccessLevel: y, ExpirationDate: in(now, time.Hour)},                          // another level
		opal.Session{ResourceID: "r1", UserID: "u4", AccessLevel: opal.ResourceAccessLevel{}, ExpirationDate: in(now, time.Hour)}, // default level, granted X
		opal.Session{ResourceID: "r1", UserID: "u5", ExpirationDate: sessions["u5 default"]},
		opal.Session{ResourceID: "r1", UserID: "u5", AccessLevel: x, ExpirationDate: in(now, 5*time.Hour)}, // a level u5 is not granted
	)
	return srv, sessions
}

// TestHostileColumns: HOW, EXPIRES, SESSION and FLAGS of grants of every
// kind, and -flagged, -permanent and -expiring-within on them.
func TestReviewColumns(t *testing.T) {
	now := time.Now()
	srv, s := hxColumnsOrg(t, now)
	header := []string{"USER", "ACCESS LEVEL", "HOW", "EXPIRES", "SESSION", "FLAGS"}
	rows := map[string][]string{
		"ghost":   {"ghost@x.dev", "X", "direct", "never", "-", "unknown-user"},
		"u1 X":    {"u1@x.dev", "X", "direct", "never", "-"},
		"u1 Y":    {"u1@x.dev", "Y", "group", "never", untilText(s["u1 Y"])},
		"u2":      {"u2@x.dev", "X", "direct", "(expired)", untilText(s["u2 X"]), "suspended,expired"},
		"u3":      {"u3@x.dev", "X", "direct+group", "never", "-", "not-in-idp,not-propagated"},
		"u4":      {"u4@x.dev", "X", "group", "(in 1h30m)", "-", "deprovisioned"},
		"u5":      {"u5@x.dev", "(default)", "group", "never", untilText(s["u5 default"]), "deleted"},
		"u1 X ns": {"u1@x.dev", "X", "direct", "never"},
	}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"-sort", "user"}, []string{"ghost", "u1 X", "u1 Y", "u2", "u3", "u4", "u5"}},
		{[]string{"-sort", "user", "-flagged"}, []string{"ghost", "u2", "u3", "u4", "u5"}},
		{[]string{"-sort", "user", "-permanent"}, []string{"ghost", "u1 X", "u1 Y", "u3", "u5"}},
		{[]string{"-sort", "expires", "-expiring-within", "91m"}, []string{"u2", "u4"}},
		{[]string{"-sort", "expires", "-expiring-within", "90m"}, []string{"u2"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCommand(t, serverEnv(srv), append([]string{"access", "-resource-id", "r1"}, tt.args...)...)
			checkOK(t, r)
			want := [][]string{header}
			for _, k := range tt.want {
				want = append(want, rows[k])
			}
			got := parseTable(r.stdout)
			for _, row := range got[1:] {
				if len(row) > 3 { // EXPIRES: keep what does not depend on the clock
					if i := strings.Index(row[3], " ("); i >= 0 {
						row[3] = row[3][i+1:]
					}
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("table (-want +got):\n%s", diff)
			}
			checkAligned(t, r.stdout)
		})
	}
}

// TestHostileJSONNames: json has the API's names and the command's own.
func TestReviewJSONNames(t *testing.T) {
	srv, _ := hxColumnsOrg(t, time.Now())
	r := runCommand(t, serverEnv(srv), "access", "-resource-id", "r1", "-format", "json")
	checkOK(t, r)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 7 {
		t.Fatalf("%d lines, want 7:\n%s", len(lines), r.stdout)
	}
	seen := map[string]bool{}
	for _, line := range lines {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		for k := range m {
			seen[k] = true
		}
		if string(m["flags"]) == "null" || m["flags"] == nil {
			t.Errorf("a line without flags: %s", line)
		}
	}
	for _, k := range []string{"resource_id", "user_id", "email", "full_name", "access_level", "expiration_date", "has_direct_access",
		"num_access_paths", "propagation_status", "user_email", "user_status", "resource_name", "session_expires_at", "flags"} {
		if !seen[k] {
			t.Errorf("no line has %q", k)
		}
	}
}

// hxHostile is text a hostile server sends: each kind of hidden character,
// formulas, and a long line.
var hxHostile = []string{
	"\x1b]8;;http://evil.example\x07click\x1b]8;;\x07",
	"bel\x07\x1b[2J\x1b[H",
	"\u009b31mc1\u0085nel",
	"isolate\u2066evil\u2069@x",
	"rlo\u202egnp.exe",
	"zw\u200b\u200d\u2060\ufeff",
	"ls\u2028ps\u2029",
	"tab\there\nnewline\r",
	"=HYPERLINK(\"http://evil.example\",\"x\")",
	"+1+1",
	"-2+3",
	"@SUM(A1)",
	"\t=1",
	"\r=1",
	strings.Repeat("long-", 100),
}

// hxHostileOrg is a resource whose every shown text is hostile.
func hxHostileOrg(t *testing.T) *opaltest.Server {
	t.Helper()
	srv := opaltest.NewServer()
	t.Cleanup(srv.Close)
	now := time.Now()
	for i, h := range hxHostile {
		uid, rid := fmt.Sprintf("hu%02d", i), fmt.Sprintf("hr%02d", i)
		level := opal.ResourceAccessLevel{Name: h, RemoteID: h + "-remote"}
		srv.AddUsers(opal.User{UserID: uid, Email: h, FullName: h, FirstName: h, LastName: h, Position: h, HRIDPStatus: h})
		srv.AddResources(opal.Resource{ResourceID: rid, Name: h, Description: h, ResourceType: opal.ResourceTypeAWSIAMRole})
		srv.AddAccess(opal.ResourceAccessUser{ResourceID: rid, UserID: uid, Email: h, FullName: h, AccessLevel: level,
			HasDirectAccess: true, NumAccessPaths: 1, PropagationStatus: "ERR_" + h, ExpirationDate: ptr(in(now, time.Hour))})
		srv.AddSessions(opal.Session{ResourceID: rid, UserID: uid, AccessLevel: level, ExpirationDate: in(now, time.Hour)})
	}
	return srv
}

// TestHostileJSONDecodesBack: every text of the server, in every field
// opal access shows as json, decodes back to itself, and no hidden
// character is in the line as itself.
func TestReviewJSONDecodesBack(t *testing.T) {
	srv := hxHostileOrg(t)
	r := runCommand(t, serverEnv(srv), "access", "-all", "-format", "json")
	checkOK(t, r)
	if raw := firstHidden(r.stdout); raw != "" {
		t.Errorf("stdout holds %q", raw)
	}
	n := 0
	for line := range strings.Lines(r.stdout) {
		var g struct {
			UserID      string `json:"user_id"`
			Email       string `json:"email"`
			FullName    string `json:"full_name"`
			AccessLevel struct {
				Name     string `json:"access_level_name"`
				RemoteID string `json:"access_level_remote_id"`
			} `json:"access_level"`
			PropagationStatus struct {
				Status string `json:"status"`
			} `json:"propagation_status"`
			UserEmail    string     `json:"user_email"`
			UserStatus   string     `json:"user_status"`
			ResourceName string     `json:"resource_name"`
			Session      *time.Time `json:"session_expires_at"`
		}
		if err := json.Unmarshal([]byte(line), &g); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		var i int
		fmt.Sscanf(g.UserID, "hu%02d", &i)
		h := hxHostile[i]
		got := []string{g.Email, g.FullName, g.AccessLevel.Name, g.AccessLevel.RemoteID, g.PropagationStatus.Status, g.UserEmail, g.UserStatus, g.ResourceName}
		want := []string{h, h, h, h + "-remote", "ERR_" + h, h, h, h}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("line %d (-want +got):\n%s", i, diff)
		}
		if g.Session == nil {
			t.Errorf("line %d has no session_expires_at", i)
		}
		n++
	}
	if n != len(hxHostile) {
		t.Errorf("%d lines, want %d", n, len(hxHostile))
	}
}

// TestHostileCSVAndTable: in csv no cell starts as a formula and no hidden
// character is left, in table neither; a cell that started as a formula is
// the cleaned text after a '.
func TestReviewCSVAndTable(t *testing.T) {
	srv := hxHostileOrg(t)
	for _, args := range [][]string{{"access", "-all"}, {"sessions", "-all"}, {"users"}, {"resources"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runCommand(t, serverEnv(srv), append(args, "-format", "csv")...)
			checkOK(t, r)
			if raw := firstHidden(r.stdout); raw != "" {
				t.Errorf("csv holds %q", raw)
			}
			cells := map[string]bool{}
			for _, rec := range hxCSV(t, r.stdout) {
				for _, c := range rec {
					cells[c] = true
					if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
						t.Errorf("cell %q starts as a formula", c)
					}
				}
			}
			for _, h := range hxHostile {
				if !strings.ContainsRune("=+-@\t\r", rune(h[0])) {
					continue
				}
				if want := "'" + clean(h); !cells[want] {
					t.Errorf("no cell is %q", want)
				}
			}
			r = runCommand(t, serverEnv(srv), args...)
			checkOK(t, r)
			if raw := firstHidden(r.stdout); raw != "" {
				t.Errorf("the table holds %q", raw)
			}
			if !strings.Contains(r.stdout, strings.Repeat("long-", 100)) {
				t.Errorf("a long name is cut on a pipe")
			}
		})
	}
}

// TestHostileStderr: an RFC 7807 problem is shown by its title and detail,
// cleaned, with the token the server echoed redacted, with and without -v.
func TestReviewStderr(t *testing.T) {
	srv := newOrg(t, testSessions(time.Now()))
	env := proxyEnv(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v1/sessions" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("X-Request-Id", "req-\u202e-"+srv.Token)
			w.WriteHeader(http.StatusConflict)
			w.Write([]byte(`{"title":"Not \u202eAllowed \u001b]0;x\u0007","detail":"token ` + srv.Token + ` is \u2028 bad"}`))
			return true
		}
		return false
	})
	for _, extra := range [][]string{nil, {"-v"}} {
		r := runCommand(t, env, append([]string{"sessions", "-resource-id", resource}, extra...)...)
		if r.code != exitFailure {
			t.Errorf("exit %d, want 1", r.code)
		}
		for _, want := range []string{`409 Conflict: Not \u202eAllowed \u001b]0;x\u0007: token [REDACTED] is bad`} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr %q, want it to hold %q", r.stderr, want)
			}
		}
		if raw := firstHidden(r.stderr); raw != "" || strings.Contains(r.stderr, srv.Token) {
			t.Errorf("stderr holds %q or the token: %q", raw, r.stderr)
		}
	}
}

// TestHostileFaults: retried faults and a 429 with Retry-After lose no
// row, in any format.
func TestReviewFaults(t *testing.T) {
	for _, format := range []string{"csv", "json"} {
		t.Run(format, func(t *testing.T) {
			srv := hxOrg(t, 12, 4)
			srv.Inject(opaltest.Fault{}, opaltest.Fault{}, opaltest.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second},
				opaltest.Fault{Status: http.StatusServiceUnavailable}, opaltest.Fault{Reset: true}, opaltest.Fault{Truncate: true},
				opaltest.Fault{}, opaltest.Fault{Status: http.StatusBadGateway}, opaltest.Fault{Delay: 300 * time.Millisecond})
			r := runCommand(t, serverEnv(srv), "access", "-all", "-page-size", "3", "-format", format)
			checkOK(t, r)
			want := 12 * 4
			if format == "csv" {
				want++
			}
			if n := strings.Count(r.stdout, "\n"); n != want {
				t.Errorf("%d lines, want %d", n, want)
			}
		})
	}
}

// TestHostileFailureMidSweep: a failure that is not retried ends the run
// with exit 1 and says which resource and which request.
func TestReviewFailureMidSweep(t *testing.T) {
	srv := hxOrg(t, 3, 4)
	env := proxyEnv(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v1/resources/r002/users" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"message":"bad \u202e request"}`))
			return true
		}
		return false
	})
	r := runCommand(t, env, "access", "-all", "-no-sessions")
	if r.code != exitFailure || !strings.Contains(r.stderr, `resource r002: GET /v1/resources/r002/users: 400 Bad Request: bad \u202e request`) {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if r.stdout != "" {
		checkAligned(t, r.stdout)
	}
}

// TestHostileSignals: a signal during a sorted listing prints the rows
// received, sorted, says so, and exits 130 or 143.
func TestReviewSignals(t *testing.T) {
	tests := []struct {
		sig    os.Signal
		format string
		code   int
		what   string
	}{
		{os.Interrupt, "table", exitInterrupted, "interrupted"},
		{syscall.SIGTERM, "csv", exitTerminated, "terminated"},
	}
	for _, tt := range tests {
		t.Run(tt.what, func(t *testing.T) {
			now := time.Now()
			srv := newOrg(t, nil)
			// The first page: the later grant first; the second page never comes.
			srv.AddAccess(grant(resource, userB, emailB, adminRoleLevel, ptr(in(now, 5*time.Hour)), true, 1, ""),
				grant(resource, userA, emailA, adminRoleLevel, ptr(in(now, time.Hour)), true, 1, ""),
				grant(resource, userA, emailA, readOnlyRole, ptr(in(now, 2*time.Hour)), true, 1, ""))
			srv.Inject(opaltest.Fault{}, opaltest.Fault{}, opaltest.Fault{Delay: time.Hour})
			// Requests: the check of -resource-id, the first page, the second.
			r := hxSignalAt(t, srv, serverEnv(srv), 3, tt.sig, "access", "-ids", "-no-sessions", "-resource-id", resource,
				"-page-size", "2", "-sort", "expires", "-format", tt.format)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d", r.code, tt.code)
			}
			if want := "opal: " + tt.what + "; the output is partial: the 2 rows received before it, sorted\n"; r.stderr != want {
				t.Errorf("stderr %q, want %q", r.stderr, want)
			}
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[1], userA) || !strings.HasPrefix(lines[2], userB) {
				t.Errorf("stdout, want the header, then A's grant, then B's:\n%s", r.stdout)
			}
		})
	}
}

// TestHostileClosedPipe: a reader that goes away ends the command, at once
// and not in success.
func TestReviewClosedPipe(t *testing.T) {
	srv := hxOrg(t, 30, 20)
	for _, format := range []string{"table", "csv", "json"} {
		t.Run(format, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
			defer cancel()
			cmd := command(ctx, serverEnv(srv), "access", "-all", "-format", format)
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			pr.Close()
			cmd.Stdout = pw
			err = cmd.Run()
			pw.Close()
			if ctx.Err() != nil {
				t.Fatalf("the command did not end")
			}
			if _, ok := err.(*exec.ExitError); !ok {
				t.Errorf("the command wrote to a closed pipe and ended with %v, want a failure", err)
			}
		})
	}
}

// TestHostileDemo: with no environment the demo runs, says so, and its
// flagged grants are the README's.
func TestReviewDemo(t *testing.T) {
	r := runCommand(t, nil, "access")
	if r.code != 0 || !strings.Contains(r.stderr, "this is demo data from a built-in test server, not from Opal") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "henry.fischer@acme-corp.dev") {
		t.Errorf("the demo does not show the deprovisioned user:\n%s", r.stdout)
	}
	r = runCommand(t, nil, "access", "-flagged")
	var got [][]string
	for _, row := range parseTable(r.stdout) {
		got = append(got, []string{row[0], row[1], row[2], row[3], row[len(row)-1]})
	}
	want := [][]string{
		{"USER", "RESOURCE", "ACCESS LEVEL", "HOW", "FLAGS"},
		{"grace.adeyemi@acme-corp.dev", "ANALYTICS", "Reader", "direct", "suspended"},
		{"frank.nakamura@acme-corp.dev", "orders-prod", "Read only", "direct", "expired"},
		{"grace.adeyemi@acme-corp.dev", "payments-api", "Write", "direct", "suspended"},
		{"henry.fischer@acme-corp.dev", "production", "AdminRole", "group", "deprovisioned"},
		{"dave.ramirez@acme-corp.dev", "Salesforce", "(default)", "direct", "not-propagated"},
		{"henry.fischer@acme-corp.dev", "Salesforce", "(default)", "group", "deprovisioned"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("opal access -flagged in the demo (-README +got):\n%s", diff)
	}
}

// TestHostileTypos: an unknown resource or user is an error, not an empty
// table; a filter that matches nothing says so.
func TestReviewTypos(t *testing.T) {
	srv := newOrg(t, testSessions(time.Now()))
	srv.AddAccess(grant(resource, userA, emailA, adminRoleLevel, nil, true, 1, ""))
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"access", "-resource-id", "no-such-id"}, "no resource with ID no-such-id in this Opal organisation"},
		{[]string{"access", "-resource-id", strings.ToUpper(resource)}, "no resource with ID " + strings.ToUpper(resource)},
		{[]string{"access", "-resource-id", "a,b"}, "none of the 2 resources of -resource-id exists"},
		{[]string{"access", "-user", "nobody@company.dev"}, `no user with email "nobody@company.dev"`},
		{[]string{"access", "-user-id", "no-such-user"}, "no user with ID no-such-user"},
		{[]string{"sessions", "-all", "-user-id", "no-such-user"}, "no user with ID no-such-user"},
		{[]string{"users", "-email", "nobody@company.dev"}, `no user with email "nobody@company.dev"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			checkFailed(t, runCommand(t, serverEnv(srv), tt.args...), exitFailure, tt.want)
		})
	}
	r := runCommand(t, serverEnv(srv), "access", "-all", "-resource-name", "no-such-name")
	if r.code != 0 || r.stderr != "opal: no resource matches -resource-name \"no-such-name\"\n" {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	r = runCommand(t, serverEnv(srv), "access", "-resource-id", "no-such-id,"+resource)
	if r.code != 0 || !strings.Contains(r.stderr, "no resource with ID no-such-id in this Opal organisation; skipped") ||
		!strings.Contains(r.stdout, emailA) {
		t.Errorf("exit %d, stderr %q, stdout %q; want A's grant and a warning about the other ID", r.code, r.stderr, r.stdout)
	}
}

// TestHostileUserOneWalk: -user walks the user's grants once, sweeps no
// resource's grants, looks no other user up, and sweeps the sessions of
// the user's resources only; -no-sessions sends no sessions request.
func TestReviewUserOneWalk(t *testing.T) {
	srv := hxOrg(t, 15, 3)
	for _, tt := range []struct {
		args []string
		want map[string]int
	}{
		{nil, map[string]int{"/v1/user?email": 1, "/v1/resources/users/{user_id}": 4, "/v1/resources": 1, "/v1/sessions": 15}},
		{[]string{"-no-sessions"}, map[string]int{"/v1/user?email": 1, "/v1/resources/users/{user_id}": 4, "/v1/resources": 1}},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			before := len(srv.Requests())
			r := runCommand(t, serverEnv(srv), append([]string{"access", "-user", "u001@example.com", "-page-size", "4", "-format", "csv"}, tt.args...)...)
			checkOK(t, r)
			if n := len(hxCSV(t, r.stdout)); n != 16 {
				t.Errorf("%d records, want the header and 15", n)
			}
			got := map[string]int{}
			for _, req := range srv.Requests()[before:] {
				p := req.URL.Path
				switch {
				case p == "/v1/user" && req.URL.Query().Has("email"):
					p += "?email"
				case p == "/v1/user":
					p += "?user_id"
				case strings.HasPrefix(p, "/v1/resources/users/"):
					p = "/v1/resources/users/{user_id}"
				case strings.HasSuffix(p, "/users"):
					p = "/v1/resources/{resource_id}/users"
				}
				if p == "/v1/sessions" && req.URL.Query().Get("user_id") != "u001" {
					t.Errorf("a sessions request for another user: %s", req.URL)
				}
				got[p]++
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}
