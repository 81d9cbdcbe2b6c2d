package main

import (
	"encoding/json"
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

	users := map[string]opal.User{}
	for _, u := range demoUsers() {
		users[u.UserID] = u
	}
	resources := map[string]opal.Resource{}
	for _, r := range demoResources() {
		resources[r.ResourceID] = r
	}
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
// and sessions expiring within the hour on more than one resource.
func TestDemoData(t *testing.T) {
	now := time.Now()
	users := map[string]opal.User{}
	emails := map[string]bool{}
	for _, u := range demoUsers() {
		if _, dup := users[u.UserID]; dup || emails[u.Email] {
			t.Errorf("user %s: ID or email %s is not unique", u.UserID, u.Email)
		}
		users[u.UserID], emails[u.Email] = u, true
		if !strings.HasSuffix(u.Email, "@acme-corp.dev") || u.FullName != u.FirstName+" "+u.LastName || u.Position == "" || u.HRIDPStatus == "" {
			t.Errorf("user %+v: want an @acme-corp.dev email, a full name of first and last, a position and an HR status", u)
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

// TestDemo runs the command without a token, as a newcomer does: the whole
// demo organisation by name, or the views the notice suggests, each time
// with a notice saying what the data is, what this view shows and what
// else to try.
func TestDemo(t *testing.T) {
	tests := []struct {
		args     []string
		view     string // the line of the notice that says what is shown
		wantRows int    // besides the table's header
		check    func(t *testing.T, stdout string)
	}{
		{nil, "This is the whole organisation (-all), sorted by resource. Other views:", len(demoSessions(time.Now())), func(t *testing.T, stdout string) {
			checkAligned(t, stdout)
			rows := parseTable(stdout)
			if diff := cmp.Diff([]string{"USER", "RESOURCE", "ACCESS LEVEL", "EXPIRES AT", "EXPIRES IN"}, rows[0]); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			// Names, sorted by resource.
			if !slices.IsSortedFunc(rows[1:], func(a, b []string) int { return compareText(a[1], b[1]) }) {
				t.Errorf("rows not sorted by resource:\n%s", stdout)
			}
			for _, row := range rows[1:] {
				if !strings.HasSuffix(row[0], "@acme-corp.dev") {
					t.Errorf("row %q: user %q, want an email", row, row[0])
				}
			}
		}},
		{[]string{"-resource-id", "5e9d1b37-8a24-4c6f-b0e3-7f2a4d8c1b96"}, "This is one resource (-resource-id), unsorted. Other views:", 3, func(t *testing.T, stdout string) {
			for _, row := range parseTable(stdout)[1:] {
				if row[1] != "(default)" {
					t.Errorf("row %q: access level %q, want (default)", row, row[1])
				}
			}
		}},
		{[]string{"-all", "-expiring-within", "1h"}, "This is the whole organisation (-all), the sessions ending within 1h only, unsorted. Other views:", 4, func(*testing.T, string) {}},
		{[]string{"-all", "-resource-type", "okta_app", "-sort", "expires"}, "This is the organisation's resources of type OKTA_APP (-all), sorted by expiry. Other views:", 3, func(*testing.T, string) {}},
		{[]string{"-format", "json", "-user", "carol.lindqvist@acme-corp.dev"}, "This is the whole organisation (-all), the sessions of carol.lindqvist@acme-corp.dev only, unsorted. Other views:", 3, func(t *testing.T, stdout string) {
			for line := range strings.Lines(stdout) {
				var s jsonLine
				if err := json.Unmarshal([]byte(line), &s); err != nil || s.UserID != "32acc112-21ff-4669-91c2-21e27683eaa1" || s.ResourceName == nil {
					t.Errorf("json %s: %v; want carol's session, with its resource's name", line, err)
				}
			}
		}},
		{[]string{"-user-id", "32acc112-21ff-4669-91c2-21e27683eaa1", "-expiring-within", "6h", "-sort", "user"},
			"This is the whole organisation (-all), the sessions of user 32acc112-21ff-4669-91c2-21e27683eaa1 ending within 6h only, sorted by user. Other views:", 1, func(*testing.T, string) {}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			// No OPAL_AUTH_TOKEN, and an OPAL_BASE_URL that would fail if it were used.
			r := runCommand(t, []string{"OPAL_BASE_URL=https://opal.invalid/v1"}, tt.args...)
			if r.code != 0 {
				t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
			}
			notice := strings.Split(r.stderr, "\n")
			if !strings.HasPrefix(notice[0], "opal-sessions: OPAL_AUTH_TOKEN is not set, so this is demo data") ||
				!strings.HasPrefix(notice[1], "To see your own organisation, set OPAL_AUTH_TOKEN to an Opal API token") {
				t.Errorf("stderr lacks the demo notice:\n%s", r.stderr)
			}
			if len(notice) < 3 || notice[2] != tt.view {
				t.Errorf("the notice's third line is not %q:\n%s", tt.view, r.stderr)
			}
			for _, flag := range []string{"-resource-id", "-user", "-expiring-within", "-format", "-sort", "-ids"} {
				if !strings.Contains(r.stderr, "\n  "+flag+" ") {
					t.Errorf("the notice does not tell of %s:\n%s", flag, r.stderr)
				}
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
