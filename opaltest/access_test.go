package opaltest_test

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// grant is a user's access to a resource, with the level named level.
func grant(resourceID, userID, level string, direct bool) opal.ResourceAccessUser {
	return opal.ResourceAccessUser{
		ResourceID: resourceID, UserID: userID, Email: userID + "@acme-corp.dev",
		AccessLevel:     opal.ResourceAccessLevel{Name: level, RemoteID: "role/" + level},
		HasDirectAccess: direct, NumAccessPaths: 1,
	}
}

// grants: userA holds resourceA at two levels, userB holds it through a
// group, and userA holds resourceB.
var grants = []opal.ResourceAccessUser{
	grant(resourceA, userA, "Reader", true),
	grant(resourceA, userB, "Reader", false),
	grant(resourceB, userA, "Admin", true),
	grant(resourceA, userA, "Writer", false),
}

// TestAccessLists walks both lists of grants by hand, in pages of one:
// each lists its grants in the order they were added, a user's two levels
// as two rows, with previous the cursor that fetched the page and next
// null on the last.
func TestAccessLists(t *testing.T) {
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.AddAccess(grants...)
	tests := []struct {
		path  string
		query url.Values
		want  []opal.ResourceAccessUser
	}{
		{"/resources/" + resourceA + "/users", url.Values{"page_size": {"1"}}, []opal.ResourceAccessUser{grants[0], grants[1], grants[3]}},
		{"/resources/" + resourceB + "/users", url.Values{"page_size": {"1"}}, []opal.ResourceAccessUser{grants[2]}},
		{"/resources/users/" + userA, url.Values{"page_size": {"1"}}, []opal.ResourceAccessUser{grants[0], grants[2], grants[3]}},
		{"/resources/users/" + userB, url.Values{"limit": {"1"}}, []opal.ResourceAccessUser{grants[1]}},
		{"/resources/users/" + userA, url.Values{"limit": {"1"}, "include_unmanaged": {"true"}}, []opal.ResourceAccessUser{grants[0], grants[2], grants[3]}},
	}
	for _, tt := range tests {
		pages, _ := walk[opal.ResourceAccessUser](t, srv, tt.path, tt.query, nil)
		if len(pages) != len(tt.want) {
			t.Errorf("GET %s?%s: %d pages, want %d of one", tt.path, tt.query.Encode(), len(pages), len(tt.want))
		}
		if diff := cmp.Diff(tt.want, slices.Concat(pages...)); diff != "" {
			t.Errorf("GET %s?%s (-want +got):\n%s", tt.path, tt.query.Encode(), diff)
		}
	}
}

// TestAccessPageSize: the lists of grants take limit as the page size when
// page_size is not given, page_size when both are, and 200 by default.
func TestAccessPageSize(t *testing.T) {
	srv := opaltest.NewServer()
	defer srv.Close()
	for i := range 250 {
		srv.AddAccess(grant(resourceA, userA, "level-"+string(rune('a'+i%26)), true))
	}
	tests := []struct {
		query url.Values
		want  int
	}{
		{nil, 200},
		{url.Values{"limit": {"3"}}, 3},
		{url.Values{"page_size": {"2"}, "limit": {"3"}}, 2},
		{url.Values{"page_size": {""}, "limit": {"4"}}, 4},
		{url.Values{"limit": {"1000"}}, 250},
	}
	for _, tt := range tests {
		for _, path := range []string{"/resources/" + resourceA + "/users", "/resources/users/" + userA} {
			if p := fetch[opal.ResourceAccessUser](t, srv, path, tt.query); len(p.Results) != tt.want {
				t.Errorf("GET %s?%s: %d grants, want %d", path, tt.query.Encode(), len(p.Results), tt.want)
			}
		}
	}
}

// TestAccessShape checks the wire format of a grant against the API
// reference: its field names, null for no expiry and no propagation status.
func TestAccessShape(t *testing.T) {
	srv := opaltest.NewServer()
	defer srv.Close()
	expires := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	srv.AddAccess(
		opal.ResourceAccessUser{ResourceID: resourceA, UserID: userA, Email: "jake@company.dev", FullName: "Jake Barnes",
			HasDirectAccess: true, NumAccessPaths: 2},
		opal.ResourceAccessUser{ResourceID: resourceA, UserID: userB, AccessLevel: opal.ResourceAccessLevel{Name: "Reader", RemoteID: "reader"},
			ExpirationDate: &expires, NumAccessPaths: 1, PropagationStatus: "ERR_REMOTE_THROTTLE"},
	)
	checkJSON(t, srv, "/resources/"+resourceA+"/users", nil, `{"next":null,"previous":null,"results":[
		{"resource_id":"`+resourceA+`","user_id":"`+userA+`","email":"jake@company.dev","full_name":"Jake Barnes",
		 "access_level":{"access_level_name":"","access_level_remote_id":""},"expiration_date":null,
		 "has_direct_access":true,"num_access_paths":2,"propagation_status":null},
		{"resource_id":"`+resourceA+`","user_id":"`+userB+`","email":"","full_name":"",
		 "access_level":{"access_level_name":"Reader","access_level_remote_id":"reader"},"expiration_date":"2026-12-31T00:00:00Z",
		 "has_direct_access":false,"num_access_paths":1,"propagation_status":{"status":"ERR_REMOTE_THROTTLE"}}]}`)
}

// TestAccessKnowsResourcesAndUsers: a resource or user is known once added
// or named by a grant; a known one without grants lists none, an unknown
// one is a 404.
func TestAccessKnowsResourcesAndUsers(t *testing.T) {
	srv := opaltest.NewServer(makeSessions(0, 1, "only-in-a-session", "user-only-in-a-session")...)
	defer srv.Close()
	srv.AddResources(opal.Resource{ResourceID: "added-resource"})
	srv.AddUsers(opal.User{UserID: "added-user"})
	srv.AddAccess(grant("granted-resource", "granted-user", "Reader", true))
	tests := []struct {
		path   string
		status int
		grants int
	}{
		{"/resources/added-resource/users", http.StatusOK, 0},
		{"/resources/granted-resource/users", http.StatusOK, 1},
		{"/resources/only-in-a-session/users", http.StatusNotFound, 0},
		{"/resources/never-heard-of/users", http.StatusNotFound, 0},
		{"/resources/users/added-user", http.StatusOK, 0},
		{"/resources/users/granted-user", http.StatusOK, 1},
		{"/resources/users/user-only-in-a-session", http.StatusNotFound, 0},
		{"/resources/users/never-heard-of", http.StatusNotFound, 0},
	}
	for _, tt := range tests {
		resp, _, err := rawGet(t, srv, tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tt.status {
			t.Errorf("GET %s: %s, want %d", tt.path, resp.Status, tt.status)
			continue
		}
		if tt.status == http.StatusOK {
			if p := fetch[opal.ResourceAccessUser](t, srv, tt.path, nil); len(p.Results) != tt.grants || p.Results == nil {
				t.Errorf("GET %s: %v, want %d grants", tt.path, p.Results, tt.grants)
			}
		}
	}
}

// TestAccessCursorsAreBoundToTheirList: a cursor of one resource's users
// is refused for another resource, for a user's resources, and with another
// include_unmanaged.
func TestAccessCursorsAreBoundToTheirList(t *testing.T) {
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.AddAccess(grants...)
	byResource := fetch[opal.ResourceAccessUser](t, srv, "/resources/"+resourceA+"/users", url.Values{"limit": {"1"}}).Next
	byUser := fetch[opal.ResourceAccessUser](t, srv, "/resources/users/"+userA, url.Values{"limit": {"1"}, "include_unmanaged": {"true"}}).Next
	if byResource == nil || byUser == nil {
		t.Fatal("no next cursor")
	}
	tests := []struct {
		path  string
		query url.Values
	}{
		{"/resources/" + resourceB + "/users", url.Values{"cursor": {*byResource}}},
		{"/resources/users/" + userA, url.Values{"cursor": {*byResource}, "include_unmanaged": {"true"}}},
		{"/resources/users/" + userA, url.Values{"cursor": {*byUser}, "include_unmanaged": {"false"}}},
		{"/resources/users/" + userA, url.Values{"cursor": {*byUser}}},
		{"/resources/users/" + userB, url.Values{"cursor": {*byUser}, "include_unmanaged": {"true"}}},
	}
	for _, tt := range tests {
		resp, _, err := rawGet(t, srv, tt.path, tt.query)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s?%s: %s, want 400", tt.path, tt.query.Encode(), resp.Status)
		}
	}
	// The same list and filters take it, absent include_unmanaged being false.
	again := fetch[opal.ResourceAccessUser](t, srv, "/resources/users/"+userA, url.Values{"cursor": {*byUser}, "include_unmanaged": {"true"}})
	if len(again.Results) != 2 {
		t.Errorf("page at the cursor: %d grants, want 2", len(again.Results))
	}
}

// TestWalkAccessWhileAdding adds grants between the pages of a walk by
// resource and by user: each that matches comes back once, in insertion
// order.
func TestWalkAccessWhileAdding(t *testing.T) {
	for _, path := range []string{"/resources/" + resourceA + "/users", "/resources/users/" + userA} {
		srv := opaltest.NewServer()
		srv.AddAccess(grants...)
		later := []opal.ResourceAccessUser{grant(resourceA, userA, "Owner", true), grant(resourceB, userB, "Reader", true), grant(resourceA, userA, "Auditor", false)}
		added := 0
		pages, _ := walk[opal.ResourceAccessUser](t, srv, path, url.Values{"page_size": {"1"}}, func() {
			if added < len(later) {
				srv.AddAccess(later[added])
				added++
			}
		})
		var want []opal.ResourceAccessUser
		for _, g := range slices.Concat(grants, later) {
			if path == "/resources/"+resourceA+"/users" && g.ResourceID == resourceA || path == "/resources/users/"+userA && g.UserID == userA {
				want = append(want, g)
			}
		}
		if diff := cmp.Diff(want, slices.Concat(pages...)); diff != "" {
			t.Errorf("GET %s while adding (-want +got):\n%s", path, diff)
		}
		srv.Close()
	}
}

// TestAccessThroughTheClient: the client's Access methods read the server's
// grants, and AllOf goes on past a resource the server does not know.
func TestAccessThroughTheClient(t *testing.T) {
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.AddAccess(grants...)
	client, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	collect := func(seq func(func(opal.ResourceAccessUser, error) bool)) (got []opal.ResourceAccessUser, errs []error) {
		for a, err := range seq {
			if err != nil {
				errs = append(errs, err)
				continue
			}
			got = append(got, a)
		}
		return got, errs
	}
	opts := &opal.ListAccessOptions{PageSize: 1}
	got, errs := collect(client.Access.All(t.Context(), resourceA, opts))
	if diff := cmp.Diff([]opal.ResourceAccessUser{grants[0], grants[1], grants[3]}, got); diff != "" || errs != nil {
		t.Errorf("All: %v (-want +got):\n%s", errs, diff)
	}
	got, errs = collect(client.Access.AllForUser(t.Context(), userA, &opal.ListUserAccessOptions{PageSize: 2, IncludeUnmanaged: true}))
	if diff := cmp.Diff([]opal.ResourceAccessUser{grants[0], grants[2], grants[3]}, got); diff != "" || errs != nil {
		t.Errorf("AllForUser: %v (-want +got):\n%s", errs, diff)
	}
	got, errs = collect(client.Access.AllOf(t.Context(), []string{resourceB, "deleted", resourceA}, opts))
	slices.SortFunc(got, func(a, b opal.ResourceAccessUser) int { return slices.Index(grants, a) - slices.Index(grants, b) })
	if diff := cmp.Diff(grants, got); diff != "" {
		t.Errorf("AllOf (-want +got):\n%s", diff)
	}
	var re *opal.ResourceError
	if len(errs) != 1 || !errors.As(errs[0], &re) || re.ResourceID != "deleted" || !errors.Is(errs[0], opal.ErrNotFound) {
		t.Errorf("AllOf's errors %v, want one 404 for the resource deleted", errs)
	}
	if _, err := client.Access.ListForUser(t.Context(), "never-heard-of", nil); !errors.Is(err, opal.ErrNotFound) {
		t.Errorf("ListForUser of an unknown user: %v, want ErrNotFound", err)
	}
}
