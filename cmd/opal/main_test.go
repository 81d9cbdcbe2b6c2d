package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
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
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// The tests run the command as a user does: built once, run as a process
// with arguments and environment, judged by its stdout, stderr, exit
// status and the requests its server received. Under go test -race the
// command is built with -race too, so that its own goroutines are checked.
//
// They pass on a loaded machine: no test compares a time the command
// computes from its clock with one the test computes from its own within
// less than half a minute (expiries are at half-minute offsets, so that
// "in 1h" rounds the same for 30 seconds either way), and no test bounds
// how long the command takes, but for the generous timeout that stops a
// command that hangs.

var binary string // the built command

// commandTimeout stops a command that hangs; a passing run takes well
// under a second, even on a loaded machine.
const commandTimeout = 2 * time.Minute

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "opal-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "opal")
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
		fmt.Fprintln(os.Stderr, "building opal:", err)
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
		{UserID: userA, Email: emailA, FullName: "Jane Smith", FirstName: "Jane", LastName: "Smith", HRIDPStatus: opal.HRIDPStatusActive},
		{UserID: userB, Email: emailB, FullName: "Raj Patel", FirstName: "Raj", LastName: "Patel", HRIDPStatus: opal.HRIDPStatusDeprovisioned},
	}
	testResources = []opal.Resource{
		{ResourceID: resource, Name: "production", ResourceType: opal.ResourceTypeAWSAccount},
		{ResourceID: orders, Name: "orders-prod", ResourceType: opal.ResourceTypePostgresInstance},
		{ResourceID: okta, Name: "Salesforce", ResourceType: opal.ResourceTypeOktaApp},
	}
)

// in is an expiry at a half-minute offset from now, in whole seconds: a
// command that reads its clock up to half a minute after now rounds the
// time left to d, and one that filters on -expiring-within D keeps it when
// D is a minute more than d, and not when D is d.
func in(now time.Time, d time.Duration) time.Time {
	return now.UTC().Truncate(time.Second).Add(d + 30*time.Second)
}

// testSessions returns sessions expiring at offsets from now; the first
// four are on resource.
func testSessions(now time.Time) []opal.Session {
	admin := opal.ResourceAccessLevel{Name: "AdminRole", RemoteID: "arn:aws:iam::590304332660:role/AdministratorAccess"}
	return []opal.Session{
		{ConnectionID: "6e6b5597-bd36-4f4c-a629-01e3fa791932", UserID: userA, ResourceID: resource, AccessLevel: admin, ExpirationDate: in(now, 3*time.Hour+12*time.Minute)},
		{ConnectionID: "6e6b5597-bd36-4f4c-a629-01e3fa791932", UserID: userB, ResourceID: resource, ExpirationDate: in(now, 52*time.Hour+10*time.Minute)},
		{ConnectionID: "6e6b5597-bd36-4f4c-a629-01e3fa791932", UserID: userA, ResourceID: resource, AccessLevel: opal.ResourceAccessLevel{RemoteID: "arn:aws:iam::590304332660:role/Billing"}, ExpirationDate: in(now, -time.Hour)},
		{ConnectionID: "6e6b5597-bd36-4f4c-a629-01e3fa791932", UserID: userB, ResourceID: resource, AccessLevel: admin, ExpirationDate: in(now, 45*time.Minute)},
		{ConnectionID: "0f3a8c21-7d4e-4b19-9a62-5e8d1c7b2f40", UserID: userA, ResourceID: orders, ExpirationDate: in(now, time.Hour)},
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

// gridOrg is an organisation of nres resources (r000, r001...), each
// granted to nusers users (u000...), the grant of user u expiring u+1 hours from now, each user with a
// live session on each resource at the default level.
func gridOrg(t *testing.T, nres, nusers int) *opaltest.Server {
	t.Helper()
	now := time.Now()
	srv := opaltest.NewServer()
	t.Cleanup(srv.Close)
	for u := range nusers {
		srv.AddUsers(opal.User{UserID: gridUser(u), Email: gridUser(u) + "@example.com", HRIDPStatus: opal.HRIDPStatusActive})
	}
	for r := range nres {
		srv.AddResources(opal.Resource{ResourceID: gridResource(r), Name: "name-" + gridResource(r), ResourceType: opal.ResourceTypeOktaApp})
		for u := range nusers {
			srv.AddAccess(opal.ResourceAccessUser{ResourceID: gridResource(r), UserID: gridUser(u), Email: gridUser(u) + "@example.com",
				HasDirectAccess: true, NumAccessPaths: 1, ExpirationDate: ptr(in(now, time.Duration(u+1)*time.Hour))})
			srv.AddSessions(opal.Session{ResourceID: gridResource(r), UserID: gridUser(u), ExpirationDate: in(now, time.Hour)})
		}
	}
	return srv
}

func gridUser(i int) string     { return fmt.Sprintf("u%03d", i) }
func gridResource(i int) string { return fmt.Sprintf("r%03d", i) }

// notFound answers as Opal does for a resource it does not know.
func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	w.Write([]byte(`{"message":"resource not found"}`))
}

// readCSV reads a csv output.
func readCSV(t *testing.T, out string) [][]string {
	t.Helper()
	records, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("reading the csv: %v\n%s", err, out)
	}
	return records
}

// signalAt runs the command, sends it sig once srv has received n
// requests (the command then waits for the last of them), and returns what
// it did.
func signalAt(t *testing.T, srv *opaltest.Server, env []string, n int, sig os.Signal, args ...string) result {
	t.Helper()
	return runWhile(t, env, func(ctx context.Context, cmd *exec.Cmd) {
		for len(srv.Requests()) < n && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}, args...)
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

// runCommand runs the command to its end.
func runCommand(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runWhile(t, env, nil, args...)
}

// runWhile runs the command to its end, and meanwhile, once it has
// started, during if not nil.
func runWhile(t *testing.T, env []string, during func(context.Context, *exec.Cmd), args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
	defer cancel()
	cmd := command(ctx, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("running opal: %v", err)
	}
	if during != nil {
		during(ctx, cmd)
	}
	err := cmd.Wait()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatalf("running opal: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("opal %s did not end within %v; stderr: %s", strings.Join(args, " "), commandTimeout, stderr.String())
	}
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// startCommand starts the command and returns it with a scanner of its
// stdout's lines, read as they come, and its stderr.
func startCommand(t *testing.T, env []string, args ...string) (*exec.Cmd, *bufio.Scanner, *bytes.Buffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
	t.Cleanup(cancel)
	cmd := command(ctx, env, args...)
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewScanner(stdout), stderr
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
// on every line as on the header's.
func checkAligned(t *testing.T, out string) {
	t.Helper()
	var header []int
	i := 0
	for line := range strings.Lines(out) {
		var starts []int
		for _, gap := range columnGap.FindAllStringIndex(line, -1) {
			starts = append(starts, len([]rune(line[:gap[1]])))
		}
		if i == 0 {
			header = starts
		} else if len(starts) > len(header) || !cmp.Equal(header[:len(starts)], starts) {
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
		t.Errorf("exit %d, want %d; stderr: %s", r.code, code, r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q, want it to contain %q", r.stderr, want)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
}

// checkOK checks that the command exited 0 and wrote nothing on stderr.
func checkOK(t *testing.T, r result) {
	t.Helper()
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
	}
}
