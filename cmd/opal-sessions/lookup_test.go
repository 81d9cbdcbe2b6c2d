package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// TestLookupRequests counts the requests of each kind that the command
// sends: the lookup rule is about cost, and only counting shows it.
func TestLookupRequests(t *testing.T) {
	// many: 15 users with a session each on one resource, in pages of 4,
	// then a session of a user Opal does not know.
	many := opaltest.NewServer()
	defer many.Close()
	now := time.Now().Add(time.Hour)
	for i := range 15 {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		many.AddUsers(opal.User{UserID: id, Email: fmt.Sprintf("user%d@company.dev", i)})
		many.AddSessions(opal.Session{UserID: id, ResourceID: resource, ExpirationDate: now})
	}
	many.AddSessions(opal.Session{UserID: "ffffffff-0000-4000-8000-000000000000", ResourceID: resource, ExpirationDate: now})

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
		{"one ID, table: no resource column, no list", nil, []string{"-resource-id", resource},
			map[string]int{"/v1/sessions": 1, "/v1/user?user_id": 2}},
		{"one ID, csv: a resource column", nil, []string{"-resource-id", resource, "-format", "csv"},
			map[string]int{"/v1/resources": 1, "/v1/sessions": 1, "/v1/user?user_id": 2}},
		{"one ID, json: resource_name", nil, []string{"-resource-id", resource, "-format", "json"},
			map[string]int{"/v1/resources": 1, "/v1/sessions": 1, "/v1/user?user_id": 2}},
		{"150 IDs: a list per 100", nil, []string{"-resource-id", strings.Join(ids, ","), "-user-id", userA},
			map[string]int{"/v1/resources": 2, "/v1/sessions": 150, "/v1/user?user_id": 1}},
		{"-user: the email's user needs no get", nil, []string{"-all", "-user", emailB},
			map[string]int{"/v1/user?email": 1, "/v1/resources": 1, "/v1/sessions": 3}},
		{"-ids: no lookups", nil, []string{"-ids", "-resource-id", resource + "," + orders},
			map[string]int{"/v1/sessions": 2}},
		{"-ids with -all: the walk that selects", nil, []string{"-ids", "-all"},
			map[string]int{"/v1/resources": 1, "/v1/sessions": 3}},
		{"many users: 10 gets, then one walk", many, []string{"-resource-id", resource, "-page-size", "4"},
			map[string]int{"/v1/sessions": 4, "/v1/user?user_id": 10, "/v1/users": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.srv
			if srv == nil {
				srv = newOrg(t, testSessions(time.Now()))
			}
			before := len(srv.Requests())
			r := runCommand(t, serverEnv(srv), tt.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
			}
			if before != 0 {
				t.Fatal("the server was used before")
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
	r := runCommand(t, serverEnv(many), "-resource-id", resource, "-page-size", "4")
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

// TestLookupResults checks what the lookups show: names where Opal knows
// them, and the ID where it does not (a 404 for a user, a resource missing
// from the list), which is no failure.
func TestLookupResults(t *testing.T) {
	const stranger = "ffffffff-0000-4000-8000-000000000000"
	const unlisted = "22222222-0000-4000-8000-000000000000"
	s := testSessions(time.Now())
	extra := []opal.Session{
		{UserID: stranger, ResourceID: orders, ExpirationDate: s[4].ExpirationDate.Add(time.Minute)},
		{UserID: userB, ResourceID: unlisted, ExpirationDate: s[4].ExpirationDate.Add(2 * time.Minute)},
	}
	srv := newOrg(t, append(s, extra...))
	r := runCommand(t, serverEnv(srv), "-resource-id", orders+","+unlisted, "-sort", "expires")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
	}
	want := [][]string{
		{"USER", "RESOURCE", "ACCESS LEVEL", "EXPIRES AT", "EXPIRES IN"},
		{emailA, "orders-prod", "(default)", at(s[4]), "1h"},
		{stranger, "orders-prod", "(default)", at(extra[0]), "1h1m"},
		{emailB, unlisted, "(default)", at(extra[1]), "1h2m"},
	}
	if diff := cmp.Diff(want, parseTable(r.stdout)); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
	if got := paths(srv)["/v1/user?user_id"]; got != 3 {
		t.Errorf("%d user lookups, want 3: one per distinct user, the unknown one included", got)
	}

	r = runCommand(t, serverEnv(srv), "-all", "-user", "nobody@company.dev")
	if want := "opal-sessions: no user with email \"nobody@company.dev\" in this Opal organisation\n"; r.code != 1 || r.stderr != want {
		t.Errorf("-user unknown: exit %d, stderr %q; want 1 and %q", r.code, r.stderr, want)
	}
}
