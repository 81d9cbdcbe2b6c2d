package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// at is how the table shows an expiry, in the tests' TZ=UTC.
func at(t time.Time) string { return t.Format("2006-01-02 15:04 UTC") }

// sessionsTable is the table opal sessions prints of the sessions s at the
// indices given, in that order: with a RESOURCE column when several, with
// IDs instead of names when ids.
func sessionsTable(s []opal.Session, several, ids bool, order ...int) [][]string {
	header := []string{"USER", "ACCESS LEVEL", "EXPIRES AT", "EXPIRES IN"}
	if several {
		header = []string{"USER", "RESOURCE", "ACCESS LEVEL", "EXPIRES AT", "EXPIRES IN"}
	}
	emails := map[string]string{userA: emailA, userB: emailB}
	names := map[string]string{resource: "production", orders: "orders-prod"}
	left := []string{"3h12m", "2d4h", "expired", "45m", "1h"}
	table := [][]string{header}
	for _, i := range order {
		user, res := emails[s[i].UserID], names[s[i].ResourceID]
		if ids {
			user, res = s[i].UserID, s[i].ResourceID
		}
		row := []string{user}
		if several {
			row = append(row, res)
		}
		table = append(table, append(row, accessLevel(s[i].AccessLevel), at(s[i].ExpirationDate), left[i]))
	}
	return table
}

func TestSessionsTable(t *testing.T) {
	tests := []struct {
		args    []string
		several bool
		ids     bool
		order   []int
	}{
		// One -resource-id: page order, no RESOURCE column.
		{[]string{"-resource-id", resource}, false, false, []int{0, 1, 2, 3}},
		{[]string{"-resource-id", resource, "-user-id", userB, "-format", "TABLE", "-page-size", "1"}, false, false, []int{1, 3}},
		{[]string{"-resource-id", resource, "-user", emailB}, false, false, []int{1, 3}},
		{[]string{"-resource-id", okta}, false, false, nil},
		// Several resources: the RESOURCE column, even when the rows are of
		// one.
		{[]string{"-resource-id", resource + "," + orders, "-sort", "expires"}, true, false, []int{2, 3, 4, 0, 1}},
		{[]string{"-resource-id", resource, "-resource-id", orders, "-sort", "Expires"}, true, false, []int{2, 3, 4, 0, 1}},
		{[]string{"-resource-id", " " + orders + ", " + okta}, true, false, []int{4}},
		{[]string{"-all", "-sort", "expires"}, true, false, []int{2, 3, 4, 0, 1}},
		{[]string{"-all", "-sort", "USER"}, true, false, []int{2, 4, 0, 3, 1}},
		{[]string{"-all", "-sort", "resource"}, true, false, []int{4, 2, 3, 0, 1}},
		// -all that lists one resource still names it.
		{[]string{"-all", "-resource-type", "POSTGRES_INSTANCE"}, true, false, []int{4}},
		{[]string{"-all", "-resource-type", "aws_account", "-sort", "user"}, true, false, []int{2, 0, 3, 1}},
		{[]string{"-all", "-resource-name", "orders-prod"}, true, false, []int{4}},
		{[]string{"-all", "-user-id", userA, "-sort", "expires"}, true, false, []int{2, 4, 0}},
		{[]string{"-all", "-user", strings.ToUpper(emailB), "-sort", "expires"}, true, false, []int{3, 1}},
		// Expiring within: the expired session is still listed, so still held.
		{[]string{"-all", "-expiring-within", "61m", "-sort", "expires"}, true, false, []int{2, 3, 4}},
		{[]string{"-all", "-expiring-within", "1h", "-sort", "expires"}, true, false, []int{2, 3}},
		{[]string{"-all", "-expiring-within", "2d", "-sort", "expires"}, true, false, []int{2, 3, 4, 0}},
		{[]string{"-all", "-expiring-within", "2D4H11m", "-sort", "expires"}, true, false, []int{2, 3, 4, 0, 1}},
		{[]string{"-all", "-expiring-within", "0.15d", "-sort", "expires"}, true, false, []int{2, 3, 4, 0}}, // 3h36m
		{[]string{"-resource-id", resource, "-expiring-within", "90m"}, false, false, []int{2, 3}},
		// IDs instead of names.
		{[]string{"-resource-id", resource, "-ids", "-user-id", userB}, false, true, []int{1, 3}},
		{[]string{"-all", "-ids", "-sort", "resource", "-expiring-within", "90m"}, true, true, []int{2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			s := testSessions(time.Now())
			srv := newOrg(t, s)
			r := runCommand(t, serverEnv(srv), append([]string{"sessions"}, tt.args...)...)
			checkOK(t, r)
			if diff := cmp.Diff(sessionsTable(s, tt.several, tt.ids, tt.order...), parseTable(r.stdout)); diff != "" {
				t.Errorf("table (-want +got):\n%s", diff)
			}
			checkAligned(t, r.stdout)
		})
	}
}

// jsonSession is a line of opal sessions -format json, decoded with the
// field names the command promises.
type jsonSession struct {
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

// decodeLines decodes every line of a json output, refusing unknown fields.
func decodeLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var got []T
	for l := range strings.Lines(out) {
		var v T
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got = append(got, v)
	}
	return got
}

func TestSessionsJSON(t *testing.T) {
	str := func(s string) *string { return &s }
	line := func(s opal.Session, email, name, resource *string) jsonSession {
		l := jsonSession{ConnectionID: s.ConnectionID, UserID: s.UserID, ResourceID: s.ResourceID, ExpirationDate: s.ExpirationDate,
			UserEmail: email, UserFullName: name, ResourceName: resource}
		l.AccessLevel.Name, l.AccessLevel.RemoteID = s.AccessLevel.Name, s.AccessLevel.RemoteID
		return l
	}
	s := testSessions(time.Now())
	unknown := opal.Session{UserID: "0d1f0e7a-0000-4000-8000-000000000000", ResourceID: orders, ExpirationDate: s[4].ExpirationDate.Add(time.Minute)}
	srv := newOrg(t, append(s, unknown))
	a, b, prod, ord := str(emailA), str(emailB), str("production"), str("orders-prod")
	tests := []struct {
		args []string
		want []jsonSession
	}{
		{[]string{"-resource-id", resource, "-page-size", "3"}, []jsonSession{
			line(s[0], a, str("Jane Smith"), prod), line(s[1], b, str("Raj Patel"), prod),
			line(s[2], a, str("Jane Smith"), prod), line(s[3], b, str("Raj Patel"), prod)}},
		// A user Opal does not know has no name fields; the rest are there.
		{[]string{"-all", "-resource-name", "orders-prod"}, []jsonSession{
			line(s[4], a, str("Jane Smith"), ord), line(unknown, nil, nil, ord)}},
		{[]string{"-ids", "-resource-id", resource + "," + orders, "-user-id", userA}, []jsonSession{
			line(s[0], nil, nil, nil), line(s[2], nil, nil, nil), line(s[4], nil, nil, nil)}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCommand(t, serverEnv(srv), append(append([]string{"sessions"}, tt.args...), "-format", "Json")...)
			checkOK(t, r)
			got := decodeLines[jsonSession](t, r.stdout)
			// Resources are swept at once, so their rows interleave; one
			// resource's come in page order.
			slices.SortStableFunc(got, func(x, y jsonSession) int { return strings.Compare(x.ResourceID, y.ResourceID) })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSessionsCSV(t *testing.T) {
	header := []string{"user", "resource", "access_level", "expires_at", "expires_in", "user_id", "resource_id"}
	rfc := func(s opal.Session) string { return s.ExpirationDate.UTC().Format(time.RFC3339) }
	tests := []struct {
		args []string
		want func(s []opal.Session) [][]string
	}{
		// The same columns whatever the selection.
		{[]string{"-resource-id", resource, "-user-id", userB}, func(s []opal.Session) [][]string {
			return [][]string{header,
				{emailB, "production", "(default)", rfc(s[1]), "2d4h", userB, resource},
				{emailB, "production", "AdminRole", rfc(s[3]), "45m", userB, resource}}
		}},
		{[]string{"-all", "-sort", "expires", "-expiring-within", "61m"}, func(s []opal.Session) [][]string {
			return [][]string{header,
				{emailA, "production", "arn:aws:iam::590304332660:role/Billing", rfc(s[2]), "expired", userA, resource},
				{emailB, "production", "AdminRole", rfc(s[3]), "45m", userB, resource},
				{emailA, "orders-prod", "(default)", rfc(s[4]), "1h", userA, orders}}
		}},
		{[]string{"-ids", "-resource-id", orders}, func(s []opal.Session) [][]string {
			return [][]string{header, {userA, orders, "(default)", rfc(s[4]), "1h", userA, orders}}
		}},
		{[]string{"-resource-id", okta}, func([]opal.Session) [][]string { return [][]string{header} }},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			s := testSessions(time.Now())
			srv := newOrg(t, s)
			r := runCommand(t, serverEnv(srv), append(append([]string{"sessions"}, tt.args...), "-format", "csv")...)
			checkOK(t, r)
			got, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
			if err != nil {
				t.Fatalf("%v:\n%s", err, r.stdout)
			}
			if diff := cmp.Diff(tt.want(s), got); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSweepNotFound: resources that vanish during a sweep (their sessions
// 404, though the resources walk listed them or the check of -resource-id
// found them) get one warning each on stderr, and the run goes on with the
// others and exits 0; when that is every resource swept, nothing was read,
// and the run fails rather than print an empty table.
func TestSweepNotFound(t *testing.T) {
	const gone1, gone2 = "0e4c7a3b-6d1f-4e8a-9b2c-5f7d1a3e9c60", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
	s := testSessions(time.Now())
	srv := newOrg(t, s)
	srv.AddResources(opal.Resource{ResourceID: gone1, Name: "old-bucket"}, opal.Resource{ResourceID: gone2, Name: "old-role"})
	env := proxyEnv(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
		if id := r.URL.Query().Get("resource_id"); r.URL.Path == "/v1/sessions" && (id == gone1 || id == gone2) {
			notFound(w)
			return true
		}
		return false
	})
	warning := func(id string) string { return "opal: resource " + id + " not found (deleted?); skipped\n" }
	tests := []struct {
		args     []string
		wantCode int
		wantRows int // besides the header; -1 for no output
		wantErr  []string
	}{
		{[]string{"-all"}, 0, 5, []string{warning(gone1), warning(gone2)}},
		{[]string{"-resource-id", gone1 + "," + orders + "," + gone2}, 0, 1, []string{warning(gone1), warning(gone2)}},
		{[]string{"-all", "-resource-name", "old-bucket"}, 1, -1, []string{warning(gone1),
			"opal: resource " + gone1 + " could not be read: it answered 404 Not Found (deleted since it was listed, or a proxy that does not serve this part of the API?)\n"}},
		{[]string{"-ids", "-resource-id", gone1 + "," + gone2}, 1, -1, []string{warning(gone1), warning(gone2),
			"opal: none of the 2 resources could be read: each answered 404 Not Found (deleted since they were listed, or a proxy that does not serve this part of the API?)\n"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCommand(t, env, append([]string{"sessions"}, tt.args...)...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr: %s", r.code, tt.wantCode, r.stderr)
			}
			// The warnings come in the order the 404s do, and before the
			// error that ends the run.
			got := slices.Sorted(strings.Lines(r.stderr))
			want := slices.Sorted(slices.Values(tt.wantErr))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if last := tt.wantErr[len(tt.wantErr)-1]; tt.wantCode != 0 && !strings.HasSuffix(r.stderr, last) {
				t.Errorf("stderr %q, want it to end with %q", r.stderr, last)
			}
			switch rows := parseTable(r.stdout); {
			case tt.wantRows < 0 && r.stdout != "":
				t.Errorf("stdout %q, want nothing", r.stdout)
			case tt.wantRows >= 0 && len(rows) != tt.wantRows+1:
				t.Errorf("%d lines, want the header and %d rows:\n%s", len(rows), tt.wantRows, r.stdout)
			}
		})
	}
}

// TestStreaming holds back some pages and checks that the rows before them
// are on stdout meanwhile: a command that printed only at the end, or only
// every 100 rows, would never show them. The pages are held until the rows
// show, for as long as that takes, so the test needs no clock.
func TestStreaming(t *testing.T) {
	const slow = "3f7c9e21-5b84-4d0a-9c6e-8a1d2b4f7e30"
	s := testSessions(time.Now())
	srv := newOrg(t, append(s, opal.Session{UserID: userB, ResourceID: slow, ExpirationDate: s[0].ExpirationDate}))
	srv.AddResources(opal.Resource{ResourceID: slow, Name: "BillingAdmin"})
	cursor := func(r *http.Request) bool { return r.URL.Query().Has("cursor") }
	tests := []struct {
		name    string
		args    []string
		held    func(r *http.Request) bool // requests held until the rows before them show
		before  int                        // lines on stdout before the held requests are let through
		allRows int
	}{
		{"second page, table", []string{"-ids", "-resource-id", resource, "-page-size", "2"}, cursor, 3, 5}, // with the header
		{"second page, json", []string{"-ids", "-resource-id", resource, "-page-size", "2", "-format", "json"}, cursor, 2, 4},
		{"second page, csv", []string{"-ids", "-resource-id", resource, "-page-size", "2", "-format", "csv"}, cursor, 3, 5},
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

			cmd, sc, stderr := startCommand(t, env, append([]string{"sessions"}, tt.args...)...)
			var got []string
			for len(got) < tt.before && sc.Scan() {
				got = append(got, sc.Text())
			}
			if len(got) < tt.before {
				t.Fatalf("stdout ended after %q; stderr: %s", got, stderr.String())
			}
			releaseOnce()
			for sc.Scan() {
				got = append(got, sc.Text())
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
// ends at once with the error: the page is held until the test ends, so a
// command that waited for it would never end.
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

	// orders has one session: after it, the sweep has nothing to hand over
	// until the held page comes.
	r := runCommand(t, env, "sessions", "-resource-id", orders+","+slow)
	want := "opal: looking up the email of user " + userA + " (-ids shows IDs and skips lookups): GET /v1/user: 403 Forbidden"
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, want)
	}
}

// TestFailureAfterFirstPage checks that rows printed before a failure stay,
// that with -sort the rows received before it are printed, sorted, as on
// an interrupt, that stderr says the output is partial, and that the
// failure still sets the exit status.
func TestFailureAfterFirstPage(t *testing.T) {
	s := testSessions(time.Now())
	tests := []struct {
		args    []string
		partial string
		rows    []string // the time left of each row, in order
	}{
		{nil, "opal: the output is partial: the 2 rows printed before the failure\n", []string{"2d4h", "3h12m"}},
		{[]string{"-sort", "expires"}, "opal: the output is partial: the 2 rows received before the failure, sorted\n", []string{"3h12m", "2d4h"}},
		{[]string{"-sort", "user", "-format", "csv"}, "opal: the output is partial: the 2 rows received before the failure, sorted\n", []string{"3h12m", "2d4h"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			// The first page holds the later session first.
			srv := newOrg(t, []opal.Session{s[1], s[0], s[2], s[3]})
			// The check that the resource exists, the first page, then the second.
			srv.Inject(opaltest.Fault{}, opaltest.Fault{}, opaltest.Fault{Status: http.StatusForbidden})

			r := runCommand(t, serverEnv(srv), append([]string{"sessions", "-ids", "-resource-id", resource, "-page-size", "2"}, tt.args...)...)
			if r.code != 1 || !strings.Contains(r.stderr, "403 Forbidden: injected fault") || !strings.HasSuffix(r.stderr, tt.partial) {
				t.Errorf("exit %d, stderr %q; want 1, the 403, and %q", r.code, r.stderr, tt.partial)
			}
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			if len(lines) != 3 || !strings.Contains(lines[1], tt.rows[0]) || !strings.Contains(lines[2], tt.rows[1]) {
				t.Errorf("stdout, want the header and the first page's 2 rows, %s then %s:\n%s", tt.rows[0], tt.rows[1], r.stdout)
			}
		})
	}
}

// TestNoProgressWhenNotTerminal runs a sweep that takes longer than the
// status line's delay with stderr on a pipe: stderr must stay empty, not a
// byte of a status line in it.
func TestNoProgressWhenNotTerminal(t *testing.T) {
	srv := newOrg(t, testSessions(time.Now()))
	srv.Inject(opaltest.Fault{Delay: progressDelay + 300*time.Millisecond})
	r := runCommand(t, serverEnv(srv), "sessions", "-all")
	checkOK(t, r)
	if rows := parseTable(r.stdout); len(rows) != 6 {
		t.Errorf("%d lines, want the header and 5 rows:\n%s", len(rows), r.stdout)
	}
}

// TestSessionsUsageErrors: mistakes that need no request to see are usage
// errors, and nothing is sent.
func TestSessionsUsageErrors(t *testing.T) {
	srv := newOrg(t, nil)
	env := serverEnv(srv)
	tests := []struct {
		name string
		env  []string
		args []string
		want string // in stderr
	}{
		{"unknown flag", env, []string{"-resource", resource}, "flag provided but not defined: -resource\nRun 'opal sessions -h' for usage.\n"},
		{"no selection with a token", env, nil, "opal: pass -resource-id ID[,ID...] for some resources, or -all for the whole organisation"},
		{"only a filter with a token", env, []string{"-user-id", userA}, "pass -resource-id ID[,ID...]"},
		{"only -user with a token", env, []string{"-user", emailA}, "pass -resource-id ID[,ID...]"},
		{"a flag of opal access", env, []string{"-all", "-no-sessions"}, "flag provided but not defined: -no-sessions"},
		{"a bad fraction of days", env, []string{"-all", "-expiring-within", "1.5.d"}, "want a duration"},
		{"two selections", env, []string{"-resource-id", resource, "-all"}, "-resource-id and -all both select resources: pass one of them"},
		{"type without -all", env, []string{"-resource-id", resource, "-resource-type", "OKTA_APP"}, "-resource-type narrows -all: pass -all too"},
		{"name without -all", env, []string{"-resource-name", "production"}, "-resource-name narrows -all: pass -all too"},
		{"unknown type", env, []string{"-all", "-resource-type", "GITHUB_REPO"}, `opal: -resource-type "GITHUB_REPO" is not a resource type of Opal; did you mean GIT_HUB_REPO?`},
		{"unknown type, nothing near", env, []string{"-all", "-resource-type", "BLOB"}, `-resource-type "BLOB" is not a resource type of Opal; want one of: AWS_IAM_ROLE, `},
		{"empty ID", env, []string{"-resource-id", resource + ",,"}, "holds an empty ID: join IDs with single commas"},
		{"empty ID in a second -resource-id", env, []string{"-resource-id", resource, "-resource-id", ""}, "holds an empty ID"},
		{"two users", env, []string{"-all", "-user", emailA, "-user-id", userA}, "-user and -user-id both select a user: pass one of them"},
		// A flag given empty, as an unset variable expands, is no filter
		// left out: it would list everyone's sessions.
		{"empty -user", env, []string{"-all", "-user", ""}, "opal: -user is given an empty value (an unset variable?): give it one, or leave the flag out\n"},
		{"empty -user-id", env, []string{"-all", "-user-id", ""}, "opal: -user-id is given an empty value"},
		{"empty -resource-name", env, []string{"-all", "-resource-name="}, "opal: -resource-name is given an empty value"},
		{"empty -expiring-within", env, []string{"-all", "-expiring-within", ""}, "opal: -expiring-within is given an empty value"},
		{"bad duration", env, []string{"-all", "-expiring-within", "soon"}, `-expiring-within "soon": want a duration such as 90m, 36h, 1.5d, 7d or 7d12h`},
		{"zero duration", env, []string{"-all", "-expiring-within", "0s"}, `-expiring-within "0s": want a duration above zero`},
		{"negative duration", env, []string{"-all", "-expiring-within", "-1h"}, `-expiring-within "-1h": want a duration`},
		{"sort with json", env, []string{"-all", "-format", "json", "-sort", "user"}, "-sort is for -format table and csv: json lines come as they arrive; sort them with jq -s, or use -format csv"},
		{"bad sort", env, []string{"-all", "-sort", "name"}, `-sort "name": want expires, user or resource`},
		{"bad format", env, []string{"-all", "-format", "xml"}, `-format "xml": want table, json or csv`},
		{"page size 0", env, []string{"-all", "-page-size", "0"}, "-page-size 0: want 1 to 1000"},
		{"page size too small", env, []string{"-all", "-page-size", "-1"}, "-page-size -1: want 1 to 1000"},
		{"page size too large", env, []string{"-resource-id", resource, "-page-size", "1001"}, "-page-size 1001: want 1 to 1000"},
		{"page size not a number", env, []string{"-page-size", "ten"}, `invalid value "ten" for flag -page-size`},
		{"extra argument", env, []string{"-resource-id", resource, "extra"}, `opal: unexpected argument "extra" (all input is given by flags)`},
		{"flag error in the demo", nil, []string{"-sort", "when"}, `-sort "when": want expires, user or resource`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFailed(t, runCommand(t, tt.env, append([]string{"sessions"}, tt.args...)...), exitUsage, tt.want)
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("usage errors sent %d requests, want none", n)
	}
}

// TestSessionsLookupRequests counts the requests of each kind that opal
// sessions sends: the lookup rule is about cost, and only counting shows
// it.
func TestSessionsLookupRequests(t *testing.T) {
	// many: 15 users with a session each on one resource, in pages of 4,
	// then a session of a user Opal does not know.
	many := opaltest.NewServer()
	defer many.Close()
	many.AddResources(testResources...)
	expires := time.Now().Add(time.Hour)
	for i := range 15 {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		many.AddUsers(opal.User{UserID: id, Email: fmt.Sprintf("user%d@company.dev", i)})
		many.AddSessions(opal.Session{UserID: id, ResourceID: resource, ExpirationDate: expires})
	}
	many.AddSessions(opal.Session{UserID: "ffffffff-0000-4000-8000-000000000000", ResourceID: resource, ExpirationDate: expires})

	ids := []string{resource, orders, okta}
	for i := range 147 {
		ids = append(ids, fmt.Sprintf("11111111-0000-4000-8000-%012d", i))
	}

	tests := []struct {
		name string
		srv  *opaltest.Server // nil: the test organisation
		args []string
		want map[string]int
	}{
		{"few users, -all: one get per user", nil, []string{"-all"},
			map[string]int{"/v1/resources": 1, "/v1/sessions": 3, "/v1/user?user_id": 2}},
		{"few users, several IDs: one list of the resources", nil, []string{"-resource-id", resource + "," + orders},
			map[string]int{"/v1/resources": 1, "/v1/sessions": 2, "/v1/user?user_id": 2}},
		{"one ID: checked to exist", nil, []string{"-resource-id", resource},
			map[string]int{"/v1/resources": 1, "/v1/sessions": 1, "/v1/user?user_id": 2}},
		{"150 IDs: a list per 100, and only those that exist swept", nil, []string{"-resource-id", strings.Join(ids, ","), "-user-id", userA},
			map[string]int{"/v1/resources": 2, "/v1/sessions": 3, "/v1/user?user_id": 1}},
		{"-user: the email's user needs no get", nil, []string{"-all", "-user", emailB},
			map[string]int{"/v1/user?email": 1, "/v1/resources": 1, "/v1/sessions": 3}},
		{"-ids: no lookups but the check", nil, []string{"-ids", "-resource-id", resource + "," + orders},
			map[string]int{"/v1/resources": 1, "/v1/sessions": 2}},
		{"-ids with -user-id: the user is checked to exist", nil, []string{"-ids", "-resource-id", resource, "-user-id", userA},
			map[string]int{"/v1/resources": 1, "/v1/sessions": 1, "/v1/user?user_id": 1}},
		{"-ids with -all: the walk that selects", nil, []string{"-ids", "-all"},
			map[string]int{"/v1/resources": 1, "/v1/sessions": 3}},
		{"many users: 10 gets, then one walk", many, []string{"-resource-id", resource, "-page-size", "4"},
			map[string]int{"/v1/resources": 1, "/v1/sessions": 4, "/v1/user?user_id": 10, "/v1/users": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.srv
			if srv == nil {
				srv = newOrg(t, testSessions(time.Now()))
			}
			r := runCommand(t, serverEnv(srv), append([]string{"sessions"}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d; stderr: %s", r.code, r.stderr)
			}
			if diff := cmp.Diff(tt.want, paths(srv)); diff != "" {
				t.Errorf("requests by path (-want +got):\n%s", diff)
			}
		})
	}

	// Every user of many is named after the walk, the unknown one by its
	// ID, and the walk asked for pages of 1000.
	for _, r := range many.Requests() {
		if q := r.URL.Query(); r.URL.Path == "/v1/users" && q.Get("page_size") != "1000" {
			t.Errorf("the users walk asked for pages of %q, want 1000", q.Get("page_size"))
		}
	}
	r := runCommand(t, serverEnv(many), "sessions", "-resource-id", resource, "-page-size", "4")
	var users []string
	for _, row := range parseTable(r.stdout)[1:] {
		users = append(users, row[0])
	}
	var want []string
	for i := range 15 {
		want = append(want, fmt.Sprintf("user%d@company.dev", i))
	}
	if diff := cmp.Diff(append(want, "ffffffff-0000-4000-8000-000000000000"), users); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
}

// TestSessionsLookupResults checks what the lookups show: names where Opal
// knows them, and the ID of a user it does not know (a 404), which is no
// failure.
func TestSessionsLookupResults(t *testing.T) {
	const stranger = "ffffffff-0000-4000-8000-000000000000"
	s := testSessions(time.Now())
	extra := opal.Session{UserID: stranger, ResourceID: orders, ExpirationDate: s[4].ExpirationDate.Add(time.Minute)}
	srv := newOrg(t, append(s, extra))
	r := runCommand(t, serverEnv(srv), "sessions", "-resource-id", orders+","+resource, "-sort", "expires", "-expiring-within", "62m")
	checkOK(t, r)
	want := [][]string{
		{"USER", "RESOURCE", "ACCESS LEVEL", "EXPIRES AT", "EXPIRES IN"},
		{emailA, "production", "arn:aws:iam::590304332660:role/Billing", at(s[2].ExpirationDate), "expired"},
		{emailB, "production", "AdminRole", at(s[3].ExpirationDate), "45m"},
		{emailA, "orders-prod", "(default)", at(s[4].ExpirationDate), "1h"},
		{stranger, "orders-prod", "(default)", at(extra.ExpirationDate), "1h1m"},
	}
	if diff := cmp.Diff(want, parseTable(r.stdout)); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
	if got := paths(srv)["/v1/user?user_id"]; got != 3 {
		t.Errorf("%d user lookups, want 3: one per distinct user, the unknown one included", got)
	}
}
