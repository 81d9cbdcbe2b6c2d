package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
	"slices"
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
// with flags and environment, judged by its stdout, stderr and exit status.
// Under go test -race the command is built with -race too, so that its own
// goroutines are checked.

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

const (
	resource = "1b978423-db0a-4037-a4cf-f79c60cb67b3"
	userA    = "29827fb8-f2dd-4e80-9576-28e31e9934ac"
	userB    = "b031c922-b84f-4424-9f4f-c49c05871bfe"
)

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

// testSessions returns sessions expiring at round offsets from now, in whole
// seconds, so that EXPIRES IN rounds to the offsets however long the command
// takes to start (within 30 seconds).
func testSessions(now time.Time) []opal.Session {
	now = now.UTC().Truncate(time.Second)
	admin := opal.ResourceAccessLevel{Name: "AdminRole", RemoteID: "arn:aws:iam::590304332660:role/AdministratorAccess"}
	return []opal.Session{
		{ConnectionID: "6e6b5597-bd36-4f4c-a629-01e3fa791932", UserID: userA, ResourceID: resource, AccessLevel: admin, ExpirationDate: now.Add(3*time.Hour + 12*time.Minute)},
		{ConnectionID: "6e6b5597-bd36-4f4c-a629-01e3fa791932", UserID: userB, ResourceID: resource, ExpirationDate: now.Add(52*time.Hour + 10*time.Minute)},
		{ConnectionID: "6e6b5597-bd36-4f4c-a629-01e3fa791932", UserID: userA, ResourceID: resource, AccessLevel: opal.ResourceAccessLevel{RemoteID: "arn:aws:iam::590304332660:role/Billing"}, ExpirationDate: now.Add(-time.Hour)},
		{ConnectionID: "6e6b5597-bd36-4f4c-a629-01e3fa791932", UserID: userB, ResourceID: resource, AccessLevel: admin, ExpirationDate: now.Add(45 * time.Minute)},
		{ConnectionID: "0f3a8c21-7d4e-4b19-9a62-5e8d1c7b2f40", UserID: userA, ResourceID: "77eb1ab7-2c27-4fc4-afdb-137e1265cddd", ExpirationDate: now.Add(time.Hour)},
	}
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
// on every line, as it does within a page.
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

func TestTable(t *testing.T) {
	sessions := testSessions(time.Now())
	srv := opaltest.NewServer(sessions...)
	defer srv.Close()

	tests := []struct {
		args    []string
		aligned bool // one page, so aligned throughout
		want    [][]string
	}{
		{[]string{"-resource-id", resource}, true, [][]string{
			{"USER", "ACCESS LEVEL", "EXPIRES AT", "EXPIRES IN"},
			{userA, "AdminRole", sessions[0].ExpirationDate.Format("2006-01-02 15:04 UTC"), "3h12m"},
			{userB, "(default)", sessions[1].ExpirationDate.Format("2006-01-02 15:04 UTC"), "2d4h"},
			{userA, "arn:aws:iam::590304332660:role/Billing", sessions[2].ExpirationDate.Format("2006-01-02 15:04 UTC"), "expired"},
			{userB, "AdminRole", sessions[3].ExpirationDate.Format("2006-01-02 15:04 UTC"), "45m"},
		}},
		{[]string{"-resource-id", resource, "-user-id", userB, "-format", "table", "-page-size", "1"}, false, [][]string{
			{"USER", "ACCESS LEVEL", "EXPIRES AT", "EXPIRES IN"},
			{userB, "(default)", sessions[1].ExpirationDate.Format("2006-01-02 15:04 UTC"), "2d4h"},
			{userB, "AdminRole", sessions[3].ExpirationDate.Format("2006-01-02 15:04 UTC"), "45m"},
		}},
		{[]string{"-resource-id", "5e9d1b37-8a24-4c6f-b0e3-7f2a4d8c1b96"}, true, [][]string{
			{"USER", "ACCESS LEVEL", "EXPIRES AT", "EXPIRES IN"},
		}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCommand(t, serverEnv(srv), tt.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
			}
			if diff := cmp.Diff(tt.want, parseTable(r.stdout)); diff != "" {
				t.Errorf("table (-want +got):\n%s", diff)
			}
			if tt.aligned {
				checkAligned(t, r.stdout)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	sessions := testSessions(time.Now())
	srv := opaltest.NewServer(sessions...)
	defer srv.Close()

	r := runCommand(t, serverEnv(srv), "-resource-id", resource, "-format", "json", "-page-size", "3")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
	}
	var got []opal.Session
	for line := range strings.Lines(r.stdout) {
		var s opal.Session
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, s)
	}
	if diff := cmp.Diff(sessions[:4], got); diff != "" {
		t.Errorf("sessions (-want +got):\n%s", diff)
	}
	// The API's own field names, for jq.
	if first, _, _ := strings.Cut(r.stdout, "\n"); !strings.Contains(first, `"access_level":{"access_level_name":"AdminRole"`) ||
		!strings.Contains(first, `"expiration_date":"`) {
		t.Errorf("first line %s: want the API's field names", first)
	}
}

func TestDemo(t *testing.T) {
	const okta = "5e9d1b37-8a24-4c6f-b0e3-7f2a4d8c1b96"
	tests := []struct {
		args     []string
		wantRows int // besides the table's header
		check    func(t *testing.T, stdout string)
	}{
		{nil, 6, func(t *testing.T, stdout string) {
			checkAligned(t, stdout)
			rows := parseTable(stdout)
			if diff := cmp.Diff([]string{"USER", "ACCESS LEVEL", "EXPIRES AT", "EXPIRES IN"}, rows[0]); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
		}},
		{[]string{"-resource-id", okta}, 3, func(t *testing.T, stdout string) {
			for _, row := range parseTable(stdout)[1:] {
				if row[1] != "(default)" {
					t.Errorf("row %q: access level %q, want (default)", row, row[1])
				}
			}
		}},
		{[]string{"-format", "json", "-user-id", "32acc112-21ff-4669-91c2-21e27683eaa1"}, 1, func(t *testing.T, stdout string) {
			var s opal.Session
			if err := json.Unmarshal([]byte(stdout), &s); err != nil || s.ResourceID != resource || s.UserID != "32acc112-21ff-4669-91c2-21e27683eaa1" {
				t.Errorf("json: %+v, %v; want carol's session on the first resource", s, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			// No OPAL_AUTH_TOKEN, and an OPAL_BASE_URL that would fail if it were used.
			r := runCommand(t, []string{"OPAL_BASE_URL=https://opal.invalid/v1"}, tt.args...)
			if r.code != 0 {
				t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "OPAL_AUTH_TOKEN is not set, so this is demo data") ||
				!strings.Contains(r.stderr, "set OPAL_AUTH_TOKEN to an Opal API token") {
				t.Errorf("stderr lacks the demo notice:\n%s", r.stderr)
			}
			rows := strings.Count(r.stdout, "\n")
			if !slices.Contains(tt.args, "json") {
				rows-- // the header
			}
			if rows != tt.wantRows {
				t.Errorf("%d rows, want %d:\n%s", rows, tt.wantRows, r.stdout)
			}
			tt.check(t, r.stdout)
		})
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
	tests := []struct {
		name    string
		handler http.Handler
		tls     bool
		want    string // in stderr
	}{
		{"401", answer(401, "", `{"message":"invalid token AUTH"}`), false,
			"opal-sessions: opal: GET /v1/sessions: 401 Unauthorized: invalid token Bearer [REDACTED] (is OPAL_AUTH_TOKEN a valid API token?)\n"},
		{"403 echoing the token", answer(403, "", `{"message":"AUTH may not read sessions"}`), false,
			"403 Forbidden: Bearer [REDACTED] may not read sessions\n"},
		{"404", answer(404, "", `{"message":"resource not found"}`), false,
			"404 Not Found: resource not found (check -resource-id"},
		{"400", answer(400, "", `{"message":"resource_id: not a valid UUID"}`), false,
			"400 Bad Request: resource_id: not a valid UUID\n"},
		{"503 with a long Retry-After", answer(503, "3600", `{"message":"maintenance"}`), false,
			"503 Service Unavailable: maintenance\n"},
		{"429 with a long Retry-After", answer(429, "120", `{"message":"rate limit exceeded"}`), false,
			"429 Too Many Requests: rate limit exceeded\n"},
		{"HTML page", answer(418, "", "<html><body><h1>AUTH</h1></body></html>"), false,
			"418 I'm a teapot: Bearer [REDACTED]\n"},
		{"untrusted certificate", answer(200, "", `{"results":[]}`), true,
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

			r := runCommand(t, []string{"OPAL_BASE_URL=" + srv.URL + "/v1", "OPAL_AUTH_TOKEN=" + token}, "-resource-id", resource)
			if r.code != 1 {
				t.Errorf("exit %d, want 1", r.code)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr %q, want it to contain %q", r.stderr, tt.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
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

func TestUsageErrors(t *testing.T) {
	srv := opaltest.NewServer(testSessions(time.Now())...)
	defer srv.Close()
	tests := []struct {
		name string
		env  []string
		args []string
		want string // in stderr
	}{
		{"unknown flag", nil, []string{"-resource", resource}, "flag provided but not defined: -resource"},
		{"missing resource with a token", serverEnv(srv), nil, "-resource-id is required"},
		{"bad format", nil, []string{"-format", "csv"}, `-format "csv": want table or json`},
		{"page size too small", nil, []string{"-page-size", "-1"}, "-page-size -1: want 1 to 1000"},
		{"page size too large", serverEnv(srv), []string{"-resource-id", resource, "-page-size", "1001"}, "-page-size 1001: want 1 to 1000"},
		{"page size not a number", nil, []string{"-page-size", "ten"}, `invalid value "ten" for flag -page-size`},
		{"extra argument", nil, []string{"-resource-id", resource, "extra"}, `unexpected argument "extra"`},
		{"plain http to another host", []string{"OPAL_AUTH_TOKEN=" + srv.Token, "OPAL_BASE_URL=http://api.opal.dev/v1"},
			[]string{"-resource-id", resource}, "plain http, which is allowed only to loopback hosts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCommand(t, tt.env, tt.args...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2", r.code)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr %q, want it to contain %q", r.stderr, tt.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
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

// TestStreaming holds back the second page until the first page's rows are
// on stdout: a command that printed only at the end would never show them.
func TestStreaming(t *testing.T) {
	sessions := testSessions(time.Now())[:4] // in pages of 2: two pages
	srv := opaltest.NewServer(sessions...)
	defer srv.Close()

	tests := []struct {
		format        string
		firstPageRows int // lines on stdout after the first page
		allRows       int
	}{
		{"table", 3, 5}, // with the header
		{"json", 2, 4},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			target, _ := url.Parse(strings.TrimSuffix(srv.URL, "/v1"))
			proxy := httputil.NewSingleHostReverseProxy(target)
			release := make(chan struct{})
			var mu sync.Mutex
			requests := 0
			gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				requests++
				n := requests
				mu.Unlock()
				if n == 2 {
					<-release
				}
				proxy.ServeHTTP(w, r)
			}))
			defer gate.Close()
			releaseOnce := sync.OnceFunc(func() { close(release) })
			defer releaseOnce() // before gate.Close, which waits for the held request

			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			cmd := command(ctx, []string{"OPAL_BASE_URL=" + gate.URL + "/v1", "OPAL_AUTH_TOKEN=" + srv.Token},
				"-resource-id", resource, "-page-size", "2", "-format", tt.format)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := make(chan string)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					lines <- sc.Text()
				}
			}()

			var got []string
			for len(got) < tt.firstPageRows {
				select {
				case line, ok := <-lines:
					if !ok {
						t.Fatalf("stdout ended after %q; stderr: %s", got, stderr.String())
					}
					got = append(got, line)
				case <-time.After(10 * time.Second):
					t.Fatalf("the first page's rows did not show while the second page was held back; got %q", got)
				}
			}
			releaseOnce() // let the second page through
			for line := range lines {
				got = append(got, line)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("%v; stderr: %s", err, stderr.String())
			}
			if len(got) != tt.allRows {
				t.Errorf("%d lines, want %d:\n%s", len(got), tt.allRows, strings.Join(got, "\n"))
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
			srv := opaltest.NewServer(testSessions(time.Now())[:4]...)
			defer srv.Close()
			srv.Inject(opaltest.Fault{}, opaltest.Fault{Delay: time.Hour})

			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			cmd := command(ctx, serverEnv(srv), "-resource-id", resource, "-page-size", "2")
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
	sessions := testSessions(time.Now())[:4]
	srv := opaltest.NewServer(sessions...)
	defer srv.Close()
	srv.Inject(opaltest.Fault{}, opaltest.Fault{Status: http.StatusForbidden})

	r := runCommand(t, serverEnv(srv), "-resource-id", resource, "-page-size", "2")
	if r.code != 1 || !strings.Contains(r.stderr, "403 Forbidden: injected fault") {
		t.Errorf("exit %d, stderr %q; want 1 and the 403", r.code, r.stderr)
	}
	if rows := parseTable(r.stdout); len(rows) != 3 {
		t.Errorf("stdout has %d lines, want the header and the first page's 2 rows:\n%s", len(rows), r.stdout)
	}
}
