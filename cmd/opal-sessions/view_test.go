package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
)

// at is how the table shows an expiry, in the tests' TZ=UTC.
func at(s opal.Session) string { return s.ExpirationDate.Format("2006-01-02 15:04 UTC") }

func TestTable(t *testing.T) {
	s := testSessions(time.Now())
	srv := newOrg(t, s)
	header := []string{"USER", "ACCESS LEVEL", "EXPIRES AT", "EXPIRES IN"}
	header2 := []string{"USER", "RESOURCE", "ACCESS LEVEL", "EXPIRES AT", "EXPIRES IN"}
	// The rows of each session, without and with the RESOURCE column.
	one := [][]string{
		{emailA, "AdminRole", at(s[0]), "3h12m"},
		{emailB, "(default)", at(s[1]), "2d4h"},
		{emailA, "arn:aws:iam::590304332660:role/Billing", at(s[2]), "expired"},
		{emailB, "AdminRole", at(s[3]), "45m"},
		{emailA, "(default)", at(s[4]), "1h"},
	}
	several := [][]string{
		{emailA, "production", "AdminRole", at(s[0]), "3h12m"},
		{emailB, "production", "(default)", at(s[1]), "2d4h"},
		{emailA, "production", "arn:aws:iam::590304332660:role/Billing", at(s[2]), "expired"},
		{emailB, "production", "AdminRole", at(s[3]), "45m"},
		{emailA, "orders-prod", "(default)", at(s[4]), "1h"},
	}
	rows := func(h []string, from [][]string, order ...int) [][]string {
		out := [][]string{h}
		for _, i := range order {
			out = append(out, from[i])
		}
		return out
	}
	tests := []struct {
		args []string
		want [][]string
	}{
		// One resource: page order, no RESOURCE column.
		{[]string{"-resource-id", resource}, rows(header, one, 0, 1, 2, 3)},
		{[]string{"-resource-id", resource, "-user-id", userB, "-format", "table", "-page-size", "1"}, rows(header, one, 1, 3)},
		{[]string{"-resource-id", resource, "-user", emailB}, rows(header, one, 1, 3)},
		{[]string{"-resource-id", okta}, rows(header, one)},
		// Several resources: the RESOURCE column, even when the rows are of
		// one.
		{[]string{"-resource-id", resource + "," + orders, "-sort", "expires"}, rows(header2, several, 2, 3, 4, 0, 1)},
		{[]string{"-resource-id", " " + orders + ", " + okta}, rows(header2, several, 4)},
		{[]string{"-all", "-sort", "expires"}, rows(header2, several, 2, 3, 4, 0, 1)},
		{[]string{"-all", "-sort", "user"}, rows(header2, several, 2, 4, 0, 3, 1)},
		{[]string{"-all", "-sort", "resource"}, rows(header2, several, 4, 2, 3, 0, 1)},
		// -all that lists one resource, or none: no RESOURCE column.
		{[]string{"-all", "-resource-type", "POSTGRES_INSTANCE"}, rows(header, one, 4)},
		{[]string{"-all", "-resource-type", "aws_account", "-sort", "user"}, rows(header, one, 2, 0, 3, 1)},
		{[]string{"-all", "-resource-name", "orders-prod"}, rows(header, one, 4)},
		{[]string{"-all", "-resource-name", "staging"}, rows(header, one)},
		{[]string{"-all", "-user-id", userA, "-sort", "expires"}, rows(header2, several, 2, 4, 0)},
		{[]string{"-all", "-user", emailB, "-sort", "expires"}, rows(header2, several, 3, 1)},
		// Expiring within: the expired session is still listed, so still held.
		{[]string{"-all", "-expiring-within", "1h", "-sort", "expires"}, rows(header2, several, 2, 3, 4)},
		{[]string{"-all", "-expiring-within", "2d", "-sort", "expires"}, rows(header2, several, 2, 3, 4, 0)},
		{[]string{"-all", "-expiring-within", "2d4h11m", "-sort", "expires"}, rows(header2, several, 2, 3, 4, 0, 1)},
		{[]string{"-resource-id", resource, "-expiring-within", "90m"}, rows(header, one, 2, 3)},
		// IDs instead of names.
		{[]string{"-resource-id", resource, "-ids", "-user-id", userB}, [][]string{header,
			{userB, "(default)", at(s[1]), "2d4h"}, {userB, "AdminRole", at(s[3]), "45m"}}},
		{[]string{"-all", "-ids", "-sort", "resource", "-expiring-within", "90m"}, [][]string{header2,
			{userA, resource, "arn:aws:iam::590304332660:role/Billing", at(s[2]), "expired"},
			{userB, resource, "AdminRole", at(s[3]), "45m"},
			{userA, orders, "(default)", at(s[4]), "1h"}}},
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
			checkAligned(t, r.stdout) // one block: fewer than 100 rows, all at once
		})
	}
}

// jsonLine is a line of -format json, decoded with the field names the
// command promises.
type jsonLine struct {
	ConnectionID string `json:"connection_id"`
	UserID       string `json:"user_id"`
	ResourceID   string `json:"resource_id"`
	AccessLevel  struct {
		Name     string `json:"access_level_name"`
		RemoteID string `json:"access_level_remote_id"`
	} `json:"access_level"`
	ExpirationDate time.Time `json:"expiration_date"`
	UserEmail      *string   `json:"user_email"`
	UserFullName   *string   `json:"user_full_name"`
	ResourceName   *string   `json:"resource_name"`
}

func TestJSON(t *testing.T) {
	s := testSessions(time.Now())
	unknown := opal.Session{UserID: "0d1f0e7a-0000-4000-8000-000000000000", ResourceID: orders, ExpirationDate: s[4].ExpirationDate.Add(time.Minute)}
	srv := newOrg(t, append(s, unknown))
	str := func(s string) *string { return &s }
	line := func(s opal.Session, email, name, resource *string) jsonLine {
		l := jsonLine{ConnectionID: s.ConnectionID, UserID: s.UserID, ResourceID: s.ResourceID, ExpirationDate: s.ExpirationDate,
			UserEmail: email, UserFullName: name, ResourceName: resource}
		l.AccessLevel.Name, l.AccessLevel.RemoteID = s.AccessLevel.Name, s.AccessLevel.RemoteID
		return l
	}
	a, b, prod, ord := str(emailA), str(emailB), str("production"), str("orders-prod")
	tests := []struct {
		args []string
		want []jsonLine
	}{
		{[]string{"-resource-id", resource, "-page-size", "3"}, []jsonLine{
			line(s[0], a, str("Jane Smith"), prod), line(s[1], b, str("Raj Patel"), prod),
			line(s[2], a, str("Jane Smith"), prod), line(s[3], b, str("Raj Patel"), prod)}},
		// A user Opal does not know has no name fields; the rest are there.
		{[]string{"-all", "-resource-name", "orders-prod"}, []jsonLine{
			line(s[4], a, str("Jane Smith"), ord), line(unknown, nil, nil, ord)}},
		{[]string{"-ids", "-resource-id", resource + "," + orders, "-user-id", userA}, []jsonLine{
			line(s[0], nil, nil, nil), line(s[2], nil, nil, nil), line(s[4], nil, nil, nil)}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCommand(t, serverEnv(srv), append(tt.args, "-format", "json")...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
			}
			var got []jsonLine
			for l := range strings.Lines(r.stdout) {
				var j jsonLine
				dec := json.NewDecoder(strings.NewReader(l))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&j); err != nil {
					t.Fatalf("line %q: %v", l, err)
				}
				got = append(got, j)
			}
			// Resources are swept at once, so their rows interleave; one
			// resource's come in page order.
			slices.SortStableFunc(got, func(x, y jsonLine) int { return strings.Compare(x.ResourceID, y.ResourceID) })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCSV(t *testing.T) {
	s := testSessions(time.Now())
	srv := newOrg(t, s)
	header := []string{"user", "resource", "access_level", "expires_at", "expires_in", "user_id", "resource_id"}
	rfc := func(s opal.Session) string { return s.ExpirationDate.UTC().Format(time.RFC3339) }
	tests := []struct {
		args []string
		want [][]string
	}{
		// The same columns whatever the selection.
		{[]string{"-resource-id", resource, "-user-id", userB}, [][]string{header,
			{emailB, "production", "(default)", rfc(s[1]), "2d4h", userB, resource},
			{emailB, "production", "AdminRole", rfc(s[3]), "45m", userB, resource}}},
		{[]string{"-all", "-sort", "expires", "-expiring-within", "1h"}, [][]string{header,
			{emailA, "production", "arn:aws:iam::590304332660:role/Billing", rfc(s[2]), "expired", userA, resource},
			{emailB, "production", "AdminRole", rfc(s[3]), "45m", userB, resource},
			{emailA, "orders-prod", "(default)", rfc(s[4]), "1h", userA, orders}}},
		{[]string{"-ids", "-resource-id", orders}, [][]string{header,
			{userA, orders, "(default)", rfc(s[4]), "1h", userA, orders}}},
		{[]string{"-resource-id", okta}, [][]string{header}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCommand(t, serverEnv(srv), append(tt.args, "-format", "csv")...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
			}
			got, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
			if err != nil {
				t.Fatalf("%v:\n%s", err, r.stdout)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSweepNotFound: resources that vanish during a sweep (their sessions
// 404, though the resources walk listed them or they were named with
// -resource-id) get one warning each on stderr, and the run goes on with
// the others and exits 0, even when every resource of -all vanished. When
// every resource of -resource-id is not found, the IDs or the base URL are
// wrong, and the run exits 1.
func TestSweepNotFound(t *testing.T) {
	const gone1, gone2 = "0e4c7a3b-6d1f-4e8a-9b2c-5f7d1a3e9c60", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
	s := testSessions(time.Now())
	srv := newOrg(t, s)
	srv.AddResources(opal.Resource{ResourceID: gone1, Name: "old-bucket"}, opal.Resource{ResourceID: gone2, Name: "old-role"})
	env := proxyEnv(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
		if id := r.URL.Query().Get("resource_id"); r.URL.Path == "/v1/sessions" && (id == gone1 || id == gone2) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"resource not found"}`))
			return true
		}
		return false
	})
	warning := func(id string) string { return "opal-sessions: resource " + id + " not found (deleted?); skipped\n" }
	allGone := "opal-sessions: none of the 2 resources was found; check the IDs, and that OPAL_BASE_URL ends in /v1\n"
	tests := []struct {
		args     []string
		wantRows int // besides the header
		wantCode int
		wantErr  []string // stderr's lines, in any order
	}{
		{[]string{"-all"}, 5, 0, []string{warning(gone1), warning(gone2)}},
		{[]string{"-all", "-resource-name", "old-bucket"}, 0, 0, []string{warning(gone1)}},
		{[]string{"-resource-id", gone1 + "," + orders + "," + gone2}, 1, 0, []string{warning(gone1), warning(gone2)}},
		{[]string{"-ids", "-resource-id", gone1 + "," + gone2}, 0, 1, []string{warning(gone1), warning(gone2), allGone}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCommand(t, env, tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr: %s", r.code, tt.wantCode, r.stderr)
			}
			// The warnings come in the order the 404s do.
			got := slices.Sorted(strings.Lines(r.stderr))
			want := slices.Sorted(slices.Values(tt.wantErr))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			switch rows := parseTable(r.stdout); {
			case tt.wantCode != 0 && r.stdout != "":
				t.Errorf("stdout = %q, want nothing from a failed run", r.stdout)
			case tt.wantCode == 0 && len(rows) != tt.wantRows+1:
				t.Errorf("%d lines, want the header and %d rows:\n%s", len(rows), tt.wantRows, r.stdout)
			}
		})
	}
}

// TestStreaming holds back some pages and checks that the rows before them
// are on stdout meanwhile: a command that printed only at the end, or only
// every 100 rows, would never show them. The first case holds back the
// second page of one resource; the second holds back every page of one
// resource of a sweep over several, whose rows come from several goroutines.
func TestStreaming(t *testing.T) {
	const slow = "3f7c9e21-5b84-4d0a-9c6e-8a1d2b4f7e30"
	s := testSessions(time.Now())
	srv := newOrg(t, append(s, opal.Session{UserID: userB, ResourceID: slow, ExpirationDate: s[0].ExpirationDate}))
	srv.AddResources(opal.Resource{ResourceID: slow, Name: "BillingAdmin"})

	tests := []struct {
		name    string
		args    []string
		held    func(r *http.Request) bool // requests held until the rows before them show
		before  int                        // lines on stdout before the held requests are let through
		allRows int
	}{
		{"second page, table", []string{"-ids", "-resource-id", resource, "-page-size", "2"},
			func(r *http.Request) bool { return r.URL.Query().Has("cursor") }, 3, 5}, // with the header
		{"second page, json", []string{"-ids", "-resource-id", resource, "-page-size", "2", "-format", "json"},
			func(r *http.Request) bool { return r.URL.Query().Has("cursor") }, 2, 4},
		{"second page, csv", []string{"-ids", "-resource-id", resource, "-page-size", "2", "-format", "csv"},
			func(r *http.Request) bool { return r.URL.Query().Has("cursor") }, 3, 5},
		{"one resource of a sweep, table", []string{"-all"},
			func(r *http.Request) bool { return r.URL.Query().Get("resource_id") == slow }, 6, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			releaseOnce := sync.OnceFunc(func() { close(release) })
			env := proxyEnv(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path == "/v1/sessions" && tt.held(r) {
					<-release
				}
				return false
			})
			defer releaseOnce() // before the proxy's Close, which waits for the held request

			cmd, sc, stderr := startCommand(t, env, tt.args...)
			lines := make(chan string)
			go func() {
				defer close(lines)
				for sc.Scan() {
					lines <- sc.Text()
				}
			}()

			var got []string
			for len(got) < tt.before {
				select {
				case line, ok := <-lines:
					if !ok {
						t.Fatalf("stdout ended after %q; stderr: %s", got, stderr.String())
					}
					got = append(got, line)
				case <-time.After(10 * time.Second):
					t.Fatalf("the rows did not show while a page was held back; got %q", got)
				}
			}
			releaseOnce()
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

// TestFailureDuringSweep: when the printing side fails (here a user lookup
// that gets a 403) while a resource's page is still on its way, the run
// ends at once with the error, without waiting for that page.
func TestFailureDuringSweep(t *testing.T) {
	const slow = "3f7c9e21-5b84-4d0a-9c6e-8a1d2b4f7e30"
	s := testSessions(time.Now())
	srv := newOrg(t, append(s, opal.Session{UserID: userB, ResourceID: slow, ExpirationDate: s[0].ExpirationDate}))
	srv.AddResources(opal.Resource{ResourceID: slow, Name: "BillingAdmin"})
	release := make(chan struct{})
	env := proxyEnv(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.URL.Query().Get("resource_id") == slow:
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case r.URL.Path == "/v1/user":
			w.WriteHeader(http.StatusForbidden)
			return true
		}
		return false
	})
	defer close(release) // before the proxy's Close, which waits for the held request

	start := time.Now()
	// orders has one session: after it, the sweep has nothing to hand over
	// until the held page comes.
	r := runCommand(t, env, "-resource-id", orders+","+slow)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the run took %v, waiting for the held page", took)
	}
	if r.code != 1 || !strings.Contains(r.stderr, "GET /v1/user: 403 Forbidden") {
		t.Errorf("exit %d, stderr %q; want 1 and the 403", r.code, r.stderr)
	}
}

// TestStreamingSteadyRows: rows that come steadily, one page of one
// session every 150 ms (more often than a block's idle wait), still show
// long before the last page: a row is held about half a second at most. A
// command that flushed only when 100 rows were held or rows paused would
// print them all at the end.
func TestStreamingSteadyRows(t *testing.T) {
	const pages, every = 12, 150 * time.Millisecond
	var sessions []opal.Session
	for i := range pages {
		sessions = append(sessions, opal.Session{UserID: userA, ResourceID: resource, ExpirationDate: time.Now().Add(time.Duration(i+1) * time.Hour)})
	}
	srv := newOrg(t, sessions)
	for _, format := range []string{"table", "csv"} {
		t.Run(format, func(t *testing.T) {
			var served atomic.Int64
			release := make(chan struct{}) // once a row has shown, the rest come at once
			releaseOnce := sync.OnceFunc(func() { close(release) })
			defer releaseOnce()
			env := proxyEnv(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path == "/v1/sessions" {
					if r.URL.Query().Has("cursor") {
						select {
						case <-time.After(every):
						case <-release:
						}
					}
					served.Add(1)
				}
				return false
			})

			cmd, sc, stderr := startCommand(t, env, "-ids", "-resource-id", resource, "-page-size", "1", "-format", format)
			lines := 0
			for lines < 2 && sc.Scan() { // the header, then the first row
				lines++
			}
			// Half a second is a little more than 3 pages; 8 leave room
			// for a slow machine, and the last 4 pages would still be to
			// come.
			if n := served.Load(); lines < 2 || n > 8 {
				t.Errorf("the first row showed after %d of %d pages, want it within about half a second (3 or 4 pages)", n, pages)
			}
			releaseOnce()
			for sc.Scan() {
				lines++
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("%v; stderr: %s", err, stderr.String())
			}
			if lines != pages+1 {
				t.Errorf("%d lines, want the header and %d rows", lines, pages)
			}
		})
	}
}

// startCommand starts the command, for at most 20 seconds, and returns it
// with a scanner of its stdout's lines, read as they come, and its stderr.
func startCommand(t *testing.T, env []string, args ...string) (*exec.Cmd, *bufio.Scanner, *bytes.Buffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
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
