package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// TestDemoServerNamesEverything: the demo server knows the user and the
// resource of every demo session, so that names can be shown without a
// token.
func TestDemoServerNamesEverything(t *testing.T) {
	now := time.Now()
	srv := demoServer(now)
	defer srv.Close()

	users, resources := demoByID()
	for _, s := range demoSessions(now) {
		var u opal.User
		demoGet(t, srv, "/user?user_id="+url.QueryEscape(s.UserID), &u)
		if u != users[s.UserID] {
			t.Errorf("GET /user?user_id=%s = %+v, want %+v", s.UserID, u, users[s.UserID])
		}
		var r opal.Resource
		demoGet(t, srv, "/resources/"+url.PathEscape(s.ResourceID), &r)
		if r != resources[s.ResourceID] {
			t.Errorf("GET /resources/%s = %+v, want %+v", s.ResourceID, r, resources[s.ResourceID])
		}
	}
}

func demoGet(t *testing.T, srv *opaltest.Server, path string, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// TestDemoData checks that the demo organisation is coherent, and varied
// enough for an organisation-wide view: several resource types and users,
// sessions expiring within the hour on more than one resource, none on the
// SaaS app, and people who left still in the directory.
func TestDemoData(t *testing.T) {
	now := time.Now()
	users := map[string]opal.User{}
	emails := map[string]bool{}
	statuses := map[string]bool{}
	for _, u := range demoUsers() {
		if _, dup := users[u.UserID]; dup || emails[u.Email] {
			t.Errorf("user %s: ID or email %s is not unique", u.UserID, u.Email)
		}
		users[u.UserID], emails[u.Email] = u, true
		statuses[u.HRIDPStatus] = true
		if !strings.HasSuffix(u.Email, "@acme-corp.dev") || u.FullName != u.FirstName+" "+u.LastName || u.Position == "" || u.HRIDPStatus == "" {
			t.Errorf("user %+v: want an @acme-corp.dev email, a full name of first and last, a position and an HR status", u)
		}
	}
	for _, s := range []string{opal.HRIDPStatusActive, opal.HRIDPStatusSuspended, opal.HRIDPStatusDeprovisioned} {
		if !statuses[s] {
			t.Errorf("no demo user is %s", s)
		}
	}
	resources := map[string]opal.Resource{}
	types := map[opal.ResourceType]bool{}
	for _, r := range demoResources() {
		if _, dup := resources[r.ResourceID]; dup {
			t.Errorf("resource ID %s is not unique", r.ResourceID)
		}
		resources[r.ResourceID] = r
		types[r.ResourceType] = true
		if !r.ResourceType.IsKnown() || r.Name == "" || r.Description == "" || r.RemoteResourceID == "" ||
			r.AdminOwnerID == "" || r.AppID == "" || r.MaxDuration <= 0 {
			t.Errorf("resource %+v: want a known type, a name, a description, a remote ID, an owner, an app and a maximum duration", r)
		}
	}
	for _, r := range resources {
		if _, ok := resources[r.ParentResourceID]; r.ParentResourceID != "" && !ok {
			t.Errorf("resource %s: parent %s is not a demo resource", r.Name, r.ParentResourceID)
		}
	}

	holders := map[string]bool{}
	soonOn := map[string]bool{} // resources with a session expiring within the hour
	for _, s := range demoSessions(now) {
		r, ok := resources[s.ResourceID]
		if _, known := users[s.UserID]; !known || !ok {
			t.Errorf("session %+v: its user or resource is not in the demo data", s)
			continue
		}
		holders[s.UserID] = true
		if r.ResourceType == opal.ResourceTypeOktaApp {
			t.Errorf("session of %s on %s: a SaaS app has no sessions", s.UserID, r.Name)
		}
		if s.ConnectionID != r.AppID {
			t.Errorf("session of %s on %s: connection %s, want the resource's app %s", s.UserID, r.Name, s.ConnectionID, r.AppID)
		}
		if left := s.ExpirationDate.Sub(now); left > time.Duration(r.MaxDuration)*time.Minute {
			t.Errorf("session of %s on %s: %v left, beyond the resource's maximum of %d minutes", s.UserID, r.Name, left, r.MaxDuration)
		} else if left < time.Hour {
			soonOn[r.ResourceID] = true
		}
	}
	if len(types) < 4 || len(holders) < 5 || len(soonOn) < 3 {
		t.Errorf("%d resource types, %d users holding sessions, %d resources with sessions expiring within the hour; want at least 4, 5 and 3",
			len(types), len(holders), len(soonOn))
	}
}

// TestDemoGrants checks that the demo's grants show at a glance why grants
// matter, and that every session is made under a grant at its level that
// lasts at least as long.
func TestDemoGrants(t *testing.T) {
	now := time.Now()
	users, resources := demoByID()
	var seen struct{ groupAdmin, deprovisioned, suspended, saas, notPropagated, soon, expired, direct, both bool }
	grants := demoGrants(now)
	for _, g := range grants {
		u, r := users[g.UserID], resources[g.ResourceID]
		if u.UserID == "" || r.ResourceID == "" || g.Email != u.Email || g.NumAccessPaths < 1 {
			t.Errorf("grant %+v: its user or resource is not in the demo data, or it has no path", g)
		}
		permanent := g.ExpirationDate == nil
		seen.groupAdmin = seen.groupAdmin || permanent && !g.HasDirectAccess && strings.Contains(g.AccessLevel.Name, "Admin")
		seen.deprovisioned = seen.deprovisioned || u.HRIDPStatus == opal.HRIDPStatusDeprovisioned
		seen.suspended = seen.suspended || u.HRIDPStatus == opal.HRIDPStatusSuspended
		seen.saas = seen.saas || r.ResourceType == opal.ResourceTypeOktaApp
		seen.notPropagated = seen.notPropagated || strings.HasPrefix(g.PropagationStatus, "ERR_")
		seen.soon = seen.soon || !permanent && g.ExpirationDate.After(now) && g.ExpirationDate.Before(now.Add(time.Hour))
		seen.expired = seen.expired || !permanent && g.ExpirationDate.Before(now)
		seen.direct = seen.direct || g.HasDirectAccess && g.NumAccessPaths == 1
		seen.both = seen.both || g.HasDirectAccess && g.NumAccessPaths > 1
	}
	if !seen.groupAdmin || !seen.deprovisioned || !seen.suspended || !seen.saas || !seen.notPropagated || !seen.soon || !seen.expired || !seen.direct || !seen.both {
		t.Errorf("the demo's grants lack a kind: %+v", seen)
	}
	for _, s := range demoSessions(now) {
		ok := slices.ContainsFunc(grants, func(g opal.ResourceAccessUser) bool {
			return g.ResourceID == s.ResourceID && g.UserID == s.UserID && g.AccessLevel == s.AccessLevel &&
				(g.ExpirationDate == nil || !g.ExpirationDate.Before(s.ExpirationDate))
		})
		if !ok {
			t.Errorf("session %+v is made under no grant that lasts as long", s)
		}
	}
}

// TestDemoFlagged: opal access -flagged on the demo shows the people who
// left and still hold access, and every other grant that needs a look:
// the rows the README shows.
func TestDemoFlagged(t *testing.T) {
	r := runCommand(t, nil, "access", "-flagged")
	if r.code != 0 {
		t.Fatalf("exit %d; stderr: %s", r.code, r.stderr)
	}
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

// TestDemo runs each command without a token, as a newcomer does: the demo
// organisation, with a tour on stderr saying what the data is, what this
// run shows and what else to try.
func TestDemo(t *testing.T) {
	tests := []struct {
		args     []string
		view     string // the line of the tour that says what is shown
		wantRows int    // besides a table's header
		check    func(t *testing.T, stdout string)
	}{
		{[]string{"access"}, "This is opal access: the grants on the whole organisation (-all), sorted by resource. Try also:",
			len(demoGrants(time.Now())), func(t *testing.T, stdout string) {
				checkAligned(t, stdout)
				rows := parseTable(stdout)
				if diff := cmp.Diff([]string{"USER", "RESOURCE", "ACCESS LEVEL", "HOW", "EXPIRES", "SESSION", "FLAGS"}, rows[0]); diff != "" {
					t.Errorf("header (-want +got):\n%s", diff)
				}
				if !slices.IsSortedFunc(rows[1:], func(a, b []string) int { return compareText(a[1], b[1]) }) {
					t.Errorf("rows not sorted by resource:\n%s", stdout)
				}
				var hows, sessions, saas []string
				for _, row := range rows[1:] {
					hows = append(hows, row[3])
					sessions = append(sessions, row[5])
					if row[1] == "Salesforce" {
						saas = append(saas, row[5])
					}
				}
				for _, h := range []string{"direct", "group", "direct+group"} {
					if !slices.Contains(hows, h) {
						t.Errorf("no grant is held %s:\n%s", h, stdout)
					}
				}
				if !slices.ContainsFunc(sessions, func(s string) bool { return strings.HasPrefix(s, "until ") }) || slices.ContainsFunc(saas, func(s string) bool { return s != "-" }) {
					t.Errorf("want live sessions, and none on Salesforce:\n%s", stdout)
				}
			}},
		{[]string{"access", "-user", "henry.fischer@acme-corp.dev", "-format", "csv"}, "This is opal access: the grants of henry.fischer@acme-corp.dev, in the order answers arrive. Try also:", 2, nil},
		{[]string{"access", "-all", "-permanent", "-expiring-within", "1h"}, "", -1, nil},
		// Every filter given is said.
		{[]string{"access", "-all", "-flagged", "-permanent"}, "This is opal access: the grants on the whole organisation (-all), only those flagged and permanent, in the order answers arrive. Try also:", 3, nil},
		{[]string{"access", "-all", "-expiring-within", "1h", "-no-sessions"}, "This is opal access: the grants on the whole organisation (-all), only those ending within 1h, in the order answers arrive. Try also:", 3, nil},
		{[]string{"sessions"}, "This is opal sessions: the live sessions of the whole organisation (-all), sorted by resource. Try also:",
			len(demoSessions(time.Now())), func(t *testing.T, stdout string) {
				checkAligned(t, stdout)
				rows := parseTable(stdout)
				if diff := cmp.Diff([]string{"USER", "RESOURCE", "ACCESS LEVEL", "EXPIRES AT", "EXPIRES IN"}, rows[0]); diff != "" {
					t.Errorf("header (-want +got):\n%s", diff)
				}
				if !slices.IsSortedFunc(rows[1:], func(a, b []string) int { return compareText(a[1], b[1]) }) {
					t.Errorf("rows not sorted by resource:\n%s", stdout)
				}
				for _, row := range rows[1:] {
					if !strings.HasSuffix(row[0], "@acme-corp.dev") {
						t.Errorf("row %q: user %q, want an email", row, row[0])
					}
				}
			}},
		{[]string{"sessions", "-resource-id", "3f7c9e21-5b84-4d0a-9c6e-8a1d2b4f7e30"}, "This is opal sessions: the live sessions of one resource (-resource-id), in the order answers arrive. Try also:", 2,
			func(t *testing.T, stdout string) {
				for _, row := range parseTable(stdout)[1:] {
					if row[1] != "(default)" {
						t.Errorf("row %q: access level %q, want (default)", row, row[1])
					}
				}
			}},
		{[]string{"sessions", "-all", "-expiring-within", "1h"}, "This is opal sessions: the live sessions of the whole organisation (-all), only those ending within 1h, in the order answers arrive. Try also:", 4, nil},
		{[]string{"sessions", "-all", "-resource-type", "okta_app", "-sort", "expires"}, "This is opal sessions: the live sessions of the organisation's resources of type OKTA_APP (-all), sorted by expiry. Try also:", 0, nil},
		{[]string{"sessions", "-format", "json", "-user", "carol.lindqvist@acme-corp.dev"}, "This is opal sessions: the live sessions of the whole organisation (-all), only those of carol.lindqvist@acme-corp.dev, in the order answers arrive. Try also:", 2,
			func(t *testing.T, stdout string) {
				for line := range strings.Lines(stdout) {
					var s jsonSession
					if err := json.Unmarshal([]byte(line), &s); err != nil || s.UserID != "32acc112-21ff-4669-91c2-21e27683eaa1" || s.ResourceName == nil {
						t.Errorf("json %s: %v; want carol's session, with its resource's name", line, err)
					}
				}
			}},
		{[]string{"users"}, "This is opal users: every user of the organisation. Try also:", len(demoUsers()), nil},
		{[]string{"users", "-email", "henry.fischer@acme-corp.dev"}, "This is opal users: the user henry.fischer@acme-corp.dev. Try also:", 1, func(t *testing.T, stdout string) {
			if rows := parseTable(stdout); rows[1][4] != "DEPROVISIONED" {
				t.Errorf("henry's row is %q, want him DEPROVISIONED", rows[1])
			}
		}},
		{[]string{"resources"}, "This is opal resources: every resource of the organisation. Try also:", len(demoResources()), nil},
		{[]string{"resources", "-type", "OKTA_APP"}, "This is opal resources: the resources of -type OKTA_APP. Try also:", 1, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCommand(t, nil, tt.args...)
			if tt.wantRows < 0 { // a usage error: no tour
				checkFailed(t, r, exitUsage, "opal: -permanent keeps grants that never expire")
				return
			}
			if r.code != 0 {
				t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
			}
			tour := strings.Split(r.stderr, "\n")
			if !strings.HasPrefix(tour[0], "opal: OPAL_AUTH_TOKEN and OPAL_BASE_URL are not set, so this is demo data") ||
				!strings.HasPrefix(tour[1], "To see your own organisation, set OPAL_AUTH_TOKEN to an Opal API token") {
				t.Errorf("stderr lacks the demo notice:\n%s", r.stderr)
			}
			if len(tour) < 3 || tour[2] != tt.view {
				t.Errorf("the tour's third line is not %q:\n%s", tt.view, r.stderr)
			}
			for _, c := range commands {
				if !strings.Contains(r.stderr, "\n  opal "+c.name+" ") {
					t.Errorf("the tour does not tell of opal %s:\n%s", c.name, r.stderr)
				}
			}
			rows := strings.Count(r.stdout, "\n")
			if !slices.Contains(tt.args, "json") {
				rows-- // the header
			}
			if rows != tt.wantRows {
				t.Errorf("%d rows, want %d:\n%s", rows, tt.wantRows, r.stdout)
			}
			if tt.check != nil {
				tt.check(t, r.stdout)
			}
		})
	}
}

// TestDemoTourFlags: the flags the demo's tour says a command takes are
// the flags it takes.
func TestDemoTourFlags(t *testing.T) {
	var tour strings.Builder
	demoTour(&tour, "a view")
	tests := []struct {
		line  string   // of the tour
		flags []string // the flags it names
		takes []string // the commands it says take them
	}{
		{"  -format json|csv, -v             on every command\n", []string{"format", "v"}, []string{"access", "sessions", "users", "resources"}},
		{"  -sort KEY, -ids                  on access and sessions; opal help <command> tells every flag\n", []string{"sort", "ids"}, []string{"access", "sessions"}},
	}
	for _, tt := range tests {
		if !strings.Contains(tour.String(), tt.line) {
			t.Errorf("the tour lacks the line %q:\n%s", tt.line, tour.String())
		}
		for _, c := range commands {
			fs := c.flagSet(io.Discard, c.newOptions())
			for _, f := range tt.flags {
				if takes := fs.Lookup(f) != nil; takes != slices.Contains(tt.takes, c.name) {
					t.Errorf("opal %s takes -%s: %v; the tour says it does: %v", c.name, f, takes, !takes)
				}
			}
		}
	}
}

// demoByID is the demo's users and resources, each by its ID.
func demoByID() (map[string]opal.User, map[string]opal.Resource) {
	users := map[string]opal.User{}
	for _, u := range demoUsers() {
		users[u.UserID] = u
	}
	resources := map[string]opal.Resource{}
	for _, r := range demoResources() {
		resources[r.ResourceID] = r
	}
	return users, resources
}
