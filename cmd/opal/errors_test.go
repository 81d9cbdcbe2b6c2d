package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
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

// TestAPIErrors runs the command against servers that fail: it must exit 1,
// say why on stderr, with a hint of what to check where one helps, and
// never show the token, even when the server echoes it back.
func TestAPIErrors(t *testing.T) {
	const token = "opal-secret-token-4f1d2c"
	answer := func(status int, contentType, retryAfter, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.Header().Set("Content-Type", contentType)
			w.Header().Set("X-Request-Id", "req-"+r.Header.Get("Authorization"))
			w.WriteHeader(status)
			fmt.Fprint(w, strings.ReplaceAll(body, "AUTH", r.Header.Get("Authorization")))
		}
	}
	const js, problem = "application/json", "application/problem+json"
	users := []string{"users"} // the first request lists users
	tests := []struct {
		name    string
		handler http.Handler
		tls     bool
		args    []string
		want    string // stderr, after "opal: " and before the URL, if want2 is set
		want2   string // stderr after the URL
	}{
		{"401", answer(401, js, "", `{"message":"invalid token AUTH"}`), false, users,
			"GET /v1/users: 401 Unauthorized: invalid token Bearer [REDACTED] (is OPAL_AUTH_TOKEN a valid API token of this Opal?)\n", ""},
		{"401 on the check of -resource-id", answer(401, js, "", `{"message":"invalid token"}`), false, []string{"sessions", "-resource-id", resource},
			"checking that the resources of -resource-id exist: GET /v1/resources: 401 Unauthorized: invalid token (is OPAL_AUTH_TOKEN a valid API token of this Opal?)\n", ""},
		{"403", answer(403, js, "", `{"message":"AUTH may not read users"}`), false, users,
			"GET /v1/users: 403 Forbidden: Bearer [REDACTED] may not read users (OPAL_AUTH_TOKEN is not allowed to read this: an Opal admin can give its API token read access, or issue one that has it)\n", ""},
		{"404 names the URL requested", answer(404, js, "", `{"message":"no such route"}`), false, []string{"resources"},
			"listing... ", ""},
		{"RFC 7807 problem", answer(403, problem, "", `{"type":"https://opal.example/problems/scope","title":"Missing scope","status":403,"detail":"the token lacks read:users"}`), false, users,
			"GET /v1/users: 403 Forbidden: Missing scope: the token lacks read:users (OPAL_AUTH_TOKEN is not allowed", ""},
		{"RFC 7807 problem, detail only", answer(400, problem, "", `{"status":400,"detail":"page_size\n is too large"}`), false, users,
			"GET /v1/users: 400 Bad Request: page_size is too large\n", ""},
		// A problem is shown by its message where the opal package takes
		// one (a member "message" in ASCII letter case, whose value is a
		// string), else by its title and detail.
		{"RFC 7807 problem with a message", answer(403, problem, "", `{"title":"Missing scope","detail":"the token lacks read:users","Message":"scope read:users"}`), false, users,
			"GET /v1/users: 403 Forbidden: scope read:users (OPAL_AUTH_TOKEN is not allowed", ""},
		{"RFC 7807 problem with a null message", answer(403, problem, "", `{"title":"Missing scope","detail":"the token lacks read:users","message":null}`), false, users,
			"GET /v1/users: 403 Forbidden: Missing scope: the token lacks read:users (OPAL_AUTH_TOKEN is not allowed", ""},
		{"RFC 7807 problem with a message not a string", answer(403, problem, "", `{"title":"Missing scope","detail":"the token lacks read:users","message":{"code":7}}`), false, users,
			"GET /v1/users: 403 Forbidden: Missing scope: the token lacks read:users (OPAL_AUTH_TOKEN is not allowed", ""},
		{"RFC 7807 problem with a message spelt with long s", answer(403, problem, "", `{"title":"Missing scope","detail":"the token lacks read:users","me\u017F\u017Fage":"not the message"}`), false, users,
			"GET /v1/users: 403 Forbidden: Missing scope: the token lacks read:users (OPAL_AUTH_TOKEN is not allowed", ""},
		{"400", answer(400, js, "", `{"message":"resource_id: not a valid UUID"}`), false, users,
			"400 Bad Request: resource_id: not a valid UUID\n", ""},
		{"503 with a long Retry-After", answer(503, js, "3600", `{"message":"maintenance"}`), false, users,
			"503 Service Unavailable: maintenance\n", ""},
		{"429 with a long Retry-After", answer(429, js, "120", `{"message":"rate limit exceeded"}`), false, users,
			"429 Too Many Requests: rate limit exceeded\n", ""},
		{"HTML page", answer(418, "text/html", "", "<html><body><h1>AUTH</h1></body></html>"), false, users,
			"418 I'm a teapot: Bearer [REDACTED]\n", ""},
		{"200 that is not a page", answer(200, js, "", `{"message":"AUTH"}`), false, users,
			`200 OK response is not the page of users asked for: no "results" member` + "\n", ""},
		{"untrusted certificate", answer(200, js, "", `{"results":[]}`), true, users,
			"certificate", ""},
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

			want := tt.want
			if tt.name == "404 names the URL requested" {
				want = "listing the organisation's resources: GET /v1/resources: 404 Not Found: no such route (the URL requested was " +
					srv.URL + "/v1/resources: check that OPAL_BASE_URL is the API's base URL, such as https://api.opal.dev/v1 or https://<host>/v1; for a mock that serves the API at its root, as Prism does, set OPAL_BASE_URL_EXACT=1)\n"
				tt.args = []string{"sessions", "-all"}
			}
			r := runCommand(t, []string{"OPAL_BASE_URL=" + srv.URL + "/v1", "OPAL_AUTH_TOKEN=" + token}, tt.args...)
			checkFailed(t, r, exitFailure, want)
			if !strings.HasPrefix(r.stderr, "opal: ") || strings.Contains(r.stderr, "opal: opal:") {
				t.Errorf("stderr %q, want one \"opal: \" before the error", r.stderr)
			}
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

// TestNotFoundHintNamesTheURL: with a base URL of a mock that serves the
// API at its root (no /v1), the 404's hint names the URL that was asked
// for, under the base URL's origin.
func TestNotFoundHintNamesTheURL(t *testing.T) {
	srv := newOrg(t, nil)
	origin := strings.TrimSuffix(srv.URL, "/v1")
	r := runCommand(t, []string{"OPAL_BASE_URL=" + origin + "/api", "OPAL_AUTH_TOKEN=" + srv.Token}, "users")
	checkFailed(t, r, exitFailure, "GET /api/users: 404 Not Found: not found: /api/users (the URL requested was "+origin+"/api/users: ")
}

// TestRetriedFaultsLoseNoRow: faults that are retried (resets, truncated
// bodies, 5xx, a 429 with Retry-After, a slow answer) leave the output
// as long as without them, in any format.
func TestRetriedFaultsLoseNoRow(t *testing.T) {
	for _, format := range []string{"csv", "json"} {
		t.Run(format, func(t *testing.T) {
			srv := gridOrg(t, 12, 4)
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

// TestSweepFailureNamesTheResource: a failure that is not retried ends
// the run with exit 1 and says which resource and which request, cleaned;
// the rows printed before it line up.
func TestSweepFailureNamesTheResource(t *testing.T) {
	srv := gridOrg(t, 3, 4)
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

// TestNotAPage: a 200 that is not a page, from opaltest, fails the run
// wherever it comes: on the sweep, the resources walk or a user lookup.
func TestNotAPage(t *testing.T) {
	tests := []struct {
		args   []string
		faults []opaltest.Fault
		want   string
	}{
		// The check of the resources, then the first page.
		{[]string{"sessions", "-ids", "-resource-id", resource + "," + orders}, []opaltest.Fault{{}, {Status: 200}},
			`: 200 OK response is not the page of sessions asked for: no "results" member`},
		{[]string{"sessions", "-all"}, []opaltest.Fault{{Status: 200}}, `opal: listing the organisation's resources: GET /v1/resources: 200 OK response is not the page of resources asked for`},
		// The check, the sweep's page, then the first user's lookup.
		{[]string{"sessions", "-resource-id", orders}, []opaltest.Fault{{}, {}, {Status: 200}},
			`opal: looking up the email of user ` + userA + ` (-ids shows IDs and skips lookups): GET /v1/user: 200 OK response is not the user asked for`},
		{[]string{"users"}, []opaltest.Fault{{Status: 200}}, `opal: GET /v1/users: 200 OK response is not the page of users asked for`},
		{[]string{"resources"}, []opaltest.Fault{{Status: 200}}, `opal: GET /v1/resources: 200 OK response is not the page of resources asked for`},
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

// TestLookupFailures: a failing lookup says whose name it was looking up,
// and that -ids skips lookups; -ids then needs none.
func TestLookupFailures(t *testing.T) {
	srv := newOrg(t, testSessions(time.Now()))
	many := opaltest.NewServer()
	defer many.Close()
	many.AddResources(testResources...)
	for i := range 11 {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		many.AddUsers(opal.User{UserID: id, Email: fmt.Sprintf("user%d@company.dev", i)})
		many.AddSessions(opal.Session{UserID: id, ResourceID: resource, ExpirationDate: time.Now().Add(time.Hour)})
	}
	forbidden := func(srv *opaltest.Server, path string) []string {
		return proxyEnv(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == path {
				w.WriteHeader(http.StatusForbidden)
				return true
			}
			return false
		})
	}
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"a user's email", forbidden(srv, "/v1/user"), []string{"sessions", "-resource-id", orders},
			"opal: looking up the email of user " + userA + " (-ids shows IDs and skips lookups): GET /v1/user: 403 Forbidden"},
		{"the walk of every user", forbidden(many, "/v1/users"), []string{"sessions", "-resource-id", resource},
			"opal: looking up users' emails in a walk of every user, as more than 10 needed one (-ids shows IDs and skips lookups): GET /v1/users: 403 Forbidden"},
		{"-user-id's user", forbidden(srv, "/v1/user"), []string{"sessions", "-all", "-user-id", userA},
			"opal: looking up the user of -user-id " + userA + ": GET /v1/user: 403 Forbidden"},
		{"an unknown -user-id", serverEnv(srv), []string{"sessions", "-all", "-user-id", strings.ToUpper(userA)},
			"opal: no user with ID " + strings.ToUpper(userA) + " in this Opal organisation; check the ID (opal users lists them)\n"},
		{"an unknown -user", serverEnv(srv), []string{"sessions", "-all", "-user", "nobody@company.dev"},
			"opal: no user with email \"nobody@company.dev\" in this Opal organisation\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCommand(t, tt.env, tt.args...)
			if tt.name == "the walk of every user" {
				r.stdout = "" // the rows of the first 10 users, named before the walk, stay
			}
			checkFailed(t, r, exitFailure, tt.want)
		})
	}
	r := runCommand(t, forbidden(srv, "/v1/user"), "sessions", "-ids", "-resource-id", orders)
	if r.code != 0 || len(parseTable(r.stdout)) != 2 {
		t.Errorf("-ids: exit %d, stdout %q, stderr %q; want 0 and a row, with no lookup", r.code, r.stdout, r.stderr)
	}
}

// TestUnknownResources: a mistyped -resource-id is not a resource nobody
// can reach. Each is checked to exist: an unknown one is warned about and
// skipped, and the run fails when none exists, with -ids too; a filter of
// -all that matches no resource is said on stderr; nothing is asked of a
// resource that does not exist.
func TestUnknownResources(t *testing.T) {
	const unknown1, unknown2 = "0e4c7a3b-6d1f-4e8a-9b2c-5f7d1a3e9c60", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
	srv := newOrg(t, testSessions(time.Now()))
	srv.AddAccess(grant(resource, userA, emailA, adminRoleLevel, nil, true, 1, ""))
	warning := func(id string) string {
		return "opal: no resource with ID " + id + " in this Opal organisation; skipped\n"
	}
	tests := []struct {
		args       []string
		wantCode   int
		wantStderr string
		wantRows   int    // besides the header; -1 for no output
		wantOut    string // in stdout
	}{
		{[]string{"sessions", "-resource-id", unknown1}, 1,
			"opal: no resource with ID " + unknown1 + " in this Opal organisation; check the ID (opal resources lists them)\n", -1, ""},
		{[]string{"sessions", "-ids", "-resource-id", strings.ToUpper(resource)}, 1,
			"opal: no resource with ID " + strings.ToUpper(resource) + " in this Opal organisation; check the ID (opal resources lists them)\n", -1, ""},
		{[]string{"sessions", "-resource-id", unknown1 + "," + unknown2, "-format", "csv"}, 1,
			warning(unknown1) + warning(unknown2) + "opal: none of the 2 resources of -resource-id exists in this Opal organisation; check the IDs (opal resources lists them)\n", -1, ""},
		{[]string{"sessions", "-resource-id", unknown1, "-resource-id", orders}, 0, warning(unknown1), 1, ""},
		{[]string{"sessions", "-all", "-resource-name", "prod"}, 0, "opal: no resource matches -resource-name \"prod\"\n", 0, ""},
		{[]string{"sessions", "-all", "-resource-type", "okta_app", "-resource-name", "Salesforce "}, 0,
			"opal: no resource matches -resource-type OKTA_APP -resource-name \"Salesforce \"\n", 0, ""},
		{[]string{"access", "-resource-id", unknown1}, 1,
			"opal: no resource with ID " + unknown1 + " in this Opal organisation; check the ID (opal resources lists them)\n", -1, ""},
		{[]string{"access", "-resource-id", strings.ToUpper(resource)}, 1,
			"opal: no resource with ID " + strings.ToUpper(resource) + " in this Opal organisation; check the ID (opal resources lists them)\n", -1, ""},
		{[]string{"access", "-resource-id", unknown1 + "," + unknown2}, 1,
			warning(unknown1) + warning(unknown2) + "opal: none of the 2 resources of -resource-id exists in this Opal organisation; check the IDs (opal resources lists them)\n", -1, ""},
		{[]string{"access", "-resource-id", unknown1 + "," + resource}, 0, warning(unknown1), 1, emailA},
		{[]string{"access", "-all", "-resource-name", "no-such-name"}, 0, "opal: no resource matches -resource-name \"no-such-name\"\n", 0, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCommand(t, serverEnv(srv), tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d", r.code, tt.wantCode)
			}
			if diff := cmp.Diff(tt.wantStderr, r.stderr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			switch rows := parseTable(r.stdout); {
			case tt.wantRows < 0 && r.stdout != "":
				t.Errorf("stdout %q, want nothing", r.stdout)
			case tt.wantRows >= 0 && len(rows) != tt.wantRows+1:
				t.Errorf("%d lines, want the header and %d rows:\n%s", len(rows), tt.wantRows, r.stdout)
			case !strings.Contains(r.stdout, tt.wantOut):
				t.Errorf("stdout lacks %s:\n%s", tt.wantOut, r.stdout)
			}
		})
	}
	for _, r := range srv.Requests() {
		id := r.URL.Query().Get("resource_id")
		if id == unknown1 || id == unknown2 || strings.EqualFold(id, resource) && id != resource ||
			strings.Contains(r.URL.Path, unknown1) || strings.Contains(r.URL.Path, unknown2) || strings.Contains(r.URL.Path, strings.ToUpper(resource)) {
			t.Errorf("%s was asked of a resource that does not exist", r.URL)
		}
	}
}

// TestSignals sends SIGINT or SIGTERM while the command waits for a server
// that never answers its second page: it must stop, keep the first page's
// rows, say on stderr that the output is partial, and exit with 128 + the
// signal's number. With -sort, the rows received are printed, sorted, in
// opal sessions and opal access alike.
func TestSignals(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT or SIGTERM to send on Windows")
	}
	now := time.Now()
	s := testSessions(now)
	at := func(i int) string { return s[i].ExpirationDate.Format("15:04") }
	tests := []struct {
		name       string
		signal     os.Signal
		args       []string // after the command and its selection
		access     bool     // opal access on grants; else opal sessions
		wantCode   int
		wantStderr string
		wantRows   []string // what each row holds, in order; nil: any order
	}{
		{"SIGINT", os.Interrupt, nil, false, 130, "opal: interrupted; the output is partial\n", nil},
		{"SIGTERM", syscall.SIGTERM, []string{"-format", "csv"}, false, 143, "opal: terminated; the output is partial\n", nil},
		{"SIGINT, sorted", os.Interrupt, []string{"-sort", "expires"}, false, 130,
			"opal: interrupted; the output is partial: the 2 rows received before it, sorted\n", []string{at(2), at(3)}},
		{"SIGTERM, sorted csv", syscall.SIGTERM, []string{"-sort", "user", "-format", "csv"}, false, 143,
			"opal: terminated; the output is partial: the 2 rows received before it, sorted\n", []string{at(2), at(3)}},
		{"access, SIGINT, sorted", os.Interrupt, []string{"-no-sessions", "-sort", "expires"}, true, 130,
			"opal: interrupted; the output is partial: the 2 rows received before it, sorted\n", []string{userA, userB}},
		{"access, SIGTERM, sorted csv", syscall.SIGTERM, []string{"-no-sessions", "-sort", "expires", "-format", "csv"}, true, 143,
			"opal: terminated; the output is partial: the 2 rows received before it, sorted\n", []string{userA, userB}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The first page: the expired session of userA, and userB's of
			// 45 minutes; the second never comes.
			srv := newOrg(t, []opal.Session{s[3], s[2], s[0], s[1]})
			args := append([]string{"sessions", "-ids", "-resource-id", resource, "-page-size", "2"}, tt.args...)
			if tt.access {
				// The first page: the later grant first.
				srv = newOrg(t, nil)
				srv.AddAccess(grant(resource, userB, emailB, adminRoleLevel, ptr(in(now, 5*time.Hour)), true, 1, ""),
					grant(resource, userA, emailA, adminRoleLevel, ptr(in(now, time.Hour)), true, 1, ""),
					grant(resource, userA, emailA, readOnlyRole, ptr(in(now, 2*time.Hour)), true, 1, ""))
				args[0] = "access"
			}
			srv.Inject(opaltest.Fault{}, opaltest.Fault{}, opaltest.Fault{Delay: time.Hour})
			// Once its third request (the check, the first page, the
			// second) has arrived, the command has the first page and
			// waits for the second.
			r := signalAt(t, srv, serverEnv(srv), 3, tt.signal, args...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr: %s", r.code, tt.wantCode, r.stderr)
			}
			if diff := cmp.Diff(tt.wantStderr, r.stderr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			if len(lines) != 3 {
				t.Fatalf("stdout has %d lines, want the header and the first page's 2 rows:\n%s", len(lines), r.stdout)
			}
			for i, want := range tt.wantRows {
				if got := lines[i+1]; !strings.Contains(got, want) {
					t.Errorf("row %d is %q, want the one with %s", i+1, got, want)
				}
			}
		})
	}
}

// TestNotFoundHintHoldsNoPieceOfTheToken: the 404 hint names the URL
// requested, the base URL's origin joined to the path. The opal package
// keeps pieces of the token out of each alone, but a host ending in 7
// bytes of the token and the path's '/' make 8: the URL is then not shown.
func TestNotFoundHintHoldsNoPieceOfTheToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { notFound(w) }))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	token := "opal-" + host[len(host)-7:] + "/Zx81kq3LmN0pQ"
	r := runCommand(t, []string{"OPAL_BASE_URL=" + srv.URL, "OPAL_AUTH_TOKEN=" + token}, "users")
	if r.code != exitFailure {
		t.Errorf("exit %d, want %d", r.code, exitFailure)
	}
	for i := 0; i+8 <= len(token); i++ {
		if strings.Contains(r.stdout+r.stderr, token[i:i+8]) {
			// Where, never what: a failure must not print it.
			t.Errorf("the output holds 8 bytes of the token in a row (from its byte %d)", i)
			break
		}
	}
}
