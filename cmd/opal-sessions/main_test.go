package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// The tests run the command as a user does: built once, run as a process
// with flags and environment, judged by its stdout, stderr, exit status and
// the requests its server received. Under go test -race the command is
// built with -race too, so that its own goroutines are checked.

var binary string // the built command

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "opal-sessions-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "opal-sessions")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building opal-sessions:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// The test organisation: three resources (one without sessions), two users.
const (
	resource = "1b978423-db0a-4037-a4cf-f79c60cb67b3" // production
	orders   = "77eb1ab7-2c27-4fc4-afdb-137e1265cddd"
	okta     = "5e9d1b37-8a24-4c6f-b0e3-7f2a4d8c1b96" // no sessions
	userA    = "29827fb8-f2dd-4e80-9576-28e31e9934ac"
	userB    = "b031c922-b84f-4424-9f4f-c49c05871bfe"
	emailA   = "jane.smith@company.dev"
	emailB   = "raj.patel@company.dev"
)

var (
	testUsers = []opal.User{
		{UserID: userA, Email: emailA, FullName: "Jane Smith", FirstName: "Jane", LastName: "Smith"},
		{UserID: userB, Email: emailB, FullName: "Raj Patel", FirstName: "Raj", LastName: "Patel"},
	}
	testResources = []opal.Resource{
		{ResourceID: resource, Name: "production", ResourceType: opal.ResourceTypeAWSAccount},
		{ResourceID: orders, Name: "orders-prod", ResourceType: opal.ResourceTypePostgresInstance},
		{ResourceID: okta, Name: "Salesforce", ResourceType: opal.ResourceTypeOktaApp},
	}
)

// testSessions returns sessions expiring at round offsets from now, in whole
// seconds, so that EXPIRES IN rounds to the offsets however long the command
// takes to start (within 30 seconds). The first four are on resource.
func testSessions(now time.Time) []opal.Session {
	now = now.UTC().Truncate(time.Second)
	admin := opal.ResourceAccessLevel{Name: "AdminRole", RemoteID: "arn:aws:iam::590304332660:role/AdministratorAccess"}
	return []opal.Session{
		{ConnectionID: "6e6b5597-bd36-4f4c-a629-01e3fa791932", UserID: userA, ResourceID: resource, AccessLevel: admin, ExpirationDate: now.Add(3*time.Hour + 12*time.Minute)},
		{ConnectionID: "6e6b5597-bd36-4f4c-a629-01e3fa791932", UserID: userB, ResourceID: resource, ExpirationDate: now.Add(52*time.Hour + 10*time.Minute)},
		{ConnectionID: "6e6b5597-bd36-4f4c-a629-01e3fa791932", UserID: userA, ResourceID: resource, AccessLevel: opal.ResourceAccessLevel{RemoteID: "arn:aws:iam::590304332660:role/Billing"}, ExpirationDate: now.Add(-time.Hour)},
		{ConnectionID: "6e6b5597-bd36-4f4c-a629-01e3fa791932", UserID: userB, ResourceID: resource, AccessLevel: admin, ExpirationDate: now.Add(45 * time.Minute)},
		{ConnectionID: "0f3a8c21-7d4e-4b19-9a62-5e8d1c7b2f40", UserID: userA, ResourceID: orders, ExpirationDate: now.Add(time.Hour)},
	}
}

// newOrg starts a server holding the test organisation, closed when the
// test ends.
func newOrg(t *testing.T, sessions []opal.Session) *opaltest.Server {
	t.Helper()
	srv := opaltest.NewServer(sessions...)
	srv.AddUsers(testUsers...)
	srv.AddResources(testResources...)
	t.Cleanup(srv.Close)
	return srv
}

// command returns the command, run with a clean environment: none of the
// OPAL_ variables of whoever runs the tests (a real token above all), TZ=UTC
// so times print the same everywhere, and the given variables.
func command(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPAL_") && !strings.HasPrefix(kv, "TZ=") && !strings.HasPrefix(kv, "GORACE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(append(cmd.Env, "TZ=UTC"), env...)
	if raceEnabled {
		// A race report fails the test through stderr and the exit
		// status; the detector's default second of sleep before exiting
		// would only slow every run.
		cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0")
	}
	return cmd
}

type result struct {
	stdout, stderr string
	code           int
}

// runCommand runs the command to its end, for at most 20 seconds.
func runCommand(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := command(ctx, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatalf("running opal-sessions: %v", err)
	}
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// serverEnv points the command at srv.
func serverEnv(srv *opaltest.Server) []string {
	return []string{"OPAL_BASE_URL=" + srv.URL, "OPAL_AUTH_TOKEN=" + srv.Token}
}

// proxyEnv points the command at a server that answers as srv does, except
// where handle returns true, having answered itself.
func proxyEnv(t *testing.T, srv *opaltest.Server, handle func(w http.ResponseWriter, r *http.Request) bool) []string {
	t.Helper()
	target, _ := url.Parse(strings.TrimSuffix(srv.URL, "/v1"))
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !handle(w, r) {
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(front.Close)
	return []string{"OPAL_BASE_URL=" + front.URL + "/v1", "OPAL_AUTH_TOKEN=" + srv.Token}
}

var columnGap = regexp.MustCompile(`  +`)

// parseTable splits a table into its cells.
func parseTable(out string) [][]string {
	var cells [][]string
	for line := range strings.Lines(out) {
		cells = append(cells, columnGap.Split(strings.TrimSuffix(line, "\n"), -1))
	}
	return cells
}

// checkAligned checks that every column of a table starts at the same place
// on every line, as it does within a block.
func checkAligned(t *testing.T, out string) {
	t.Helper()
	var header []int
	i := 0
	for line := range strings.Lines(out) {
		var starts []int
		for _, gap := range columnGap.FindAllStringIndex(line, -1) {
			starts = append(starts, gap[1])
		}
		if i == 0 {
			header = starts
		} else if !cmp.Equal(header, starts) {
			t.Errorf("line %d: columns start at %v, the header's at %v:\n%s", i+1, starts, header, out)
		}
		i++
	}
}

// paths counts the requests srv received, by path, with "?email" or
// "?user_id" after /v1/user to tell its two lookups apart.
func paths(srv *opaltest.Server) map[string]int {
	n := map[string]int{}
	for _, r := range srv.Requests() {
		p := r.URL.Path
		switch {
		case p == "/v1/user" && r.URL.Query().Has("email"):
			p += "?email"
		case p == "/v1/user":
			p += "?user_id"
		}
		n[p]++
	}
	return n
}

// checkFailed checks that the command exited with code, said want on
// stderr, and wrote nothing on stdout.
func checkFailed(t *testing.T, r result, code int, want string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d", r.code, code)
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q, want it to contain %q", r.stderr, want)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	srv := newOrg(t, testSessions(time.Now()))
	env := serverEnv(srv)
	tests := []struct {
		name string
		env  []string
		args []string
		want string // in stderr
	}{
		{"unknown flag", env, []string{"-resource", resource}, "flag provided but not defined: -resource"},
		{"no selection with a token", env, nil, "pass -resource-id ID[,ID...] for some resources, or -all for the whole organisation"},
		{"only a filter with a token", env, []string{"-user-id", userA}, "pass -resource-id ID[,ID...]"},
		{"two selections", env, []string{"-resource-id", resource, "-all"}, "-resource-id and -all both select resources: pass one of them"},
		{"type without -all", env, []string{"-resource-id", resource, "-resource-type", "OKTA_APP"}, "-resource-type narrows -all: pass -all too"},
		{"name without -all", env, []string{"-resource-name", "production"}, "-resource-name narrows -all: pass -all too"},
		{"unknown type", env, []string{"-all", "-resource-type", "AWS_ROLE"}, `-resource-type "AWS_ROLE" is not a resource type of Opal; want one of: AWS_IAM_ROLE, `},
		{"empty ID", env, []string{"-resource-id", resource + ",,"}, "holds an empty ID: join IDs with single commas"},
		{"two users", env, []string{"-all", "-user", emailA, "-user-id", userA}, "-user and -user-id both select a user: pass one of them"},
		{"bad duration", env, []string{"-all", "-expiring-within", "soon"}, `-expiring-within "soon": want a duration such as 90m, 36h, 7d or 7d12h`},
		{"fractional days", env, []string{"-all", "-expiring-within", "1.5d"}, `-expiring-within "1.5d": want a duration`},
		{"zero duration", env, []string{"-all", "-expiring-within", "0s"}, `-expiring-within "0s": want a duration above zero`},
		{"negative duration", env, []string{"-all", "-expiring-within", "-1h"}, `-expiring-within "-1h": want a duration`},
		{"sort with json", env, []string{"-all", "-format", "json", "-sort", "user"}, "-sort is for -format table and csv: json lines come as they arrive; sort them with jq -s, or use -format csv"},
		{"bad sort", env, []string{"-all", "-sort", "name"}, `-sort "name": want expires, user or resource`},
		{"bad format", env, []string{"-all", "-format", "xml"}, `-format "xml": want table, json or csv`},
		{"page size too small", env, []string{"-all", "-page-size", "-1"}, "-page-size -1: want 1 to 1000"},
		{"page size too large", env, []string{"-resource-id", resource, "-page-size", "1001"}, "-page-size 1001: want 1 to 1000"},
		{"page size not a number", env, []string{"-page-size", "ten"}, `invalid value "ten" for flag -page-size`},
		{"extra argument", env, []string{"-resource-id", resource, "extra"}, `unexpected argument "extra"`},
		{"flag error in the demo", nil, []string{"-sort", "when"}, `-sort "when": want expires, user or resource`},
		{"plain http to another host", []string{"OPAL_AUTH_TOKEN=" + srv.Token, "OPAL_BASE_URL=http://api.opal.dev/v1"},
			[]string{"-resource-id", resource}, "plain http, which is allowed only to loopback hosts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFailed(t, runCommand(t, tt.env, tt.args...), exitUsage, tt.want)
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("usage errors sent %d requests, want none", n)
	}

	r := runCommand(t, nil, "-h")
	if r.code != 0 || !strings.Contains(r.stderr, "Usage: opal-sessions") || !strings.Contains(r.stderr, "OPAL_AUTH_TOKEN") {
		t.Errorf("-h: exit %d, stderr %q; want 0 and the usage", r.code, r.stderr)
	}
}

// TestAPIErrors runs the command against servers that fail: it must exit 1,
// say why on stderr, and never show the token, even when the server echoes
// it back.
func TestAPIErrors(t *testing.T) {
	const token = "opal-secret-token-4f1d2c"
	answer := func(status int, retryAfter, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Request-Id", "req-"+r.Header.Get("Authorization"))
			w.WriteHeader(status)
			fmt.Fprint(w, strings.ReplaceAll(body, "AUTH", r.Header.Get("Authorization")))
		}
	}
	ids := []string{"-ids", "-resource-id", resource} // the first request is for sessions
	tests := []struct {
		name    string
		handler http.Handler
		tls     bool
		args    []string
		want    string // in stderr
	}{
		{"401", answer(401, "", `{"message":"invalid token AUTH"}`), false, ids,
			"opal-sessions: opal: resource " + resource + ": GET /v1/sessions: 401 Unauthorized: invalid token Bearer [REDACTED] (is OPAL_AUTH_TOKEN a valid API token?)\n"},
		{"401 on the first lookup", answer(401, "", `{"message":"invalid token"}`), false, []string{"-resource-id", resource, "-format", "csv"},
			"opal-sessions: opal: GET /v1/resources: 401 Unauthorized: invalid token (is OPAL_AUTH_TOKEN a valid API token?)\n"},
		{"404 on the resources walk", answer(404, "", `{"message":"no such route"}`), false, []string{"-all"},
			"opal-sessions: opal: GET /v1/resources: 404 Not Found: no such route (check that OPAL_BASE_URL ends in /v1)\n"},
		{"403 echoing the token", answer(403, "", `{"message":"AUTH may not read sessions"}`), false, ids,
			"403 Forbidden: Bearer [REDACTED] may not read sessions\n"},
		{"400", answer(400, "", `{"message":"resource_id: not a valid UUID"}`), false, ids,
			"400 Bad Request: resource_id: not a valid UUID\n"},
		{"503 with a long Retry-After", answer(503, "3600", `{"message":"maintenance"}`), false, ids,
			"503 Service Unavailable: maintenance\n"},
		{"429 with a long Retry-After", answer(429, "120", `{"message":"rate limit exceeded"}`), false, ids,
			"429 Too Many Requests: rate limit exceeded\n"},
		{"HTML page", answer(418, "", "<html><body><h1>AUTH</h1></body></html>"), false, ids,
			"418 I'm a teapot: Bearer [REDACTED]\n"},
		{"200 that is not a page", answer(200, "", `{"message":"AUTH"}`), false, ids,
			`200 OK response is not a page of sessions: no "results" member` + "\n"},
		{"untrusted certificate", answer(200, "", `{"results":[]}`), true, ids,
			"certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var auth []string
			seen := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				auth = append(auth, r.Header.Get("Authorization"))
				mu.Unlock()
				tt.handler.ServeHTTP(w, r)
			})
			var srv *httptest.Server
			if tt.tls {
				srv = httptest.NewUnstartedServer(seen)
				srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
				srv.StartTLS()
			} else {
				srv = httptest.NewServer(seen)
			}
			defer srv.Close()

			r := runCommand(t, []string{"OPAL_BASE_URL=" + srv.URL + "/v1", "OPAL_AUTH_TOKEN=" + token}, tt.args...)
			checkFailed(t, r, exitFailure, tt.want)
			if strings.Contains(r.stdout+r.stderr, token) {
				t.Errorf("the token is in the output:\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
			}
			mu.Lock()
			defer mu.Unlock()
			if !tt.tls && (len(auth) != 1 || auth[0] != "Bearer "+token) {
				t.Errorf("server saw Authorization %q, want one request with the token", auth)
			}
		})
	}
}

// TestNotAPage: a 200 that is not a page, from opaltest, fails the run
// wherever it comes: on the sweep, the resources walk or a user lookup.
func TestNotAPage(t *testing.T) {
	tests := []struct {
		args   []string
		faults []opaltest.Fault
		want   string
	}{
		{[]string{"-ids", "-resource-id", resource + "," + orders}, []opaltest.Fault{{Status: 200}},
			`: 200 OK response is not a page of sessions: no "results" member`},
		{[]string{"-all"}, []opaltest.Fault{{Status: 200}}, `opal-sessions: opal: GET /v1/resources: 200 OK response is not a page of resources`},
		// The sweep's page, then the first user's lookup.
		{[]string{"-resource-id", orders}, []opaltest.Fault{{}, {Status: 200}}, `opal-sessions: opal: GET /v1/user: 200 OK response is not the user asked for`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			srv := newOrg(t, testSessions(time.Now()))
			srv.Inject(tt.faults...)
			r := runCommand(t, serverEnv(srv), tt.args...)
			if r.code != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, tt.want)
			}
		})
	}
}

// TestSignals sends SIGINT or SIGTERM while the command waits for a server
// that never answers its second page: it must stop at once, keep the first
// page's rows, say why on stderr, and exit with 128 + the signal's number.
func TestSignals(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT or SIGTERM to send on Windows")
	}
	tests := []struct {
		signal     os.Signal
		wantCode   int
		wantStderr string
	}{
		{os.Interrupt, 130, "opal-sessions: interrupted\n"},
		{syscall.SIGTERM, 143, "opal-sessions: terminated\n"},
	}
	for _, tt := range tests {
		t.Run(tt.signal.String(), func(t *testing.T) {
			srv := newOrg(t, testSessions(time.Now())[:4])
			srv.Inject(opaltest.Fault{}, opaltest.Fault{Delay: time.Hour})

			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			cmd := command(ctx, serverEnv(srv), "-ids", "-resource-id", resource, "-page-size", "2")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Once its second request has arrived, the command has the
			// first page and waits for the second.
			for deadline := time.Now().Add(10 * time.Second); len(srv.Requests()) < 2; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the command did not ask for a second page within 10s")
				}
			}
			sent := time.Now()
			if err := cmd.Process.Signal(tt.signal); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if took := time.Since(sent); took > 2*time.Second {
				t.Errorf("the command took %v to stop after %v", took, tt.signal)
			}
			if code := cmd.ProcessState.ExitCode(); code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			if diff := cmp.Diff(tt.wantStderr, stderr.String()); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if rows := parseTable(stdout.String()); len(rows) != 3 {
				t.Errorf("stdout has %d lines, want the header and the first page's 2 rows:\n%s", len(rows), stdout.String())
			}
		})
	}
}

// TestFailureAfterFirstPage checks that rows printed before a failure stay,
// and that the failure still sets the exit status.
func TestFailureAfterFirstPage(t *testing.T) {
	srv := newOrg(t, testSessions(time.Now())[:4])
	srv.Inject(opaltest.Fault{}, opaltest.Fault{Status: http.StatusForbidden})

	r := runCommand(t, serverEnv(srv), "-ids", "-resource-id", resource, "-page-size", "2")
	if r.code != 1 || !strings.Contains(r.stderr, "403 Forbidden: injected fault") {
		t.Errorf("exit %d, stderr %q; want 1 and the 403", r.code, r.stderr)
	}
	if rows := parseTable(r.stdout); len(rows) != 3 {
		t.Errorf("stdout has %d lines, want the header and the first page's 2 rows:\n%s", len(rows), r.stdout)
	}
}

// TestNoProgressWhenNotTerminal runs a sweep that takes longer than the
// status line's delay with stderr on a pipe: stderr must stay empty, not a
// byte of a status line in it.
func TestNoProgressWhenNotTerminal(t *testing.T) {
	srv := newOrg(t, testSessions(time.Now()))
	srv.Inject(opaltest.Fault{Delay: progressDelay + 300*time.Millisecond})
	r := runCommand(t, serverEnv(srv), "-all")
	if r.code != 0 || r.stderr != "" {
		t.Errorf("exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
	}
	if rows := parseTable(r.stdout); len(rows) != 6 {
		t.Errorf("%d lines, want the header and 5 rows:\n%s", len(rows), r.stdout)
	}
}
