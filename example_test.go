package opal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// exampleServer stands in for Opal: two pages of sessions on one AWS role.
func exampleServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(exampleSessions))
}

// exampleClient returns a client of srv, a test server that stands in for
// Opal, and a function that stops the server.
func exampleClient(srv *httptest.Server) (*opal.Client, func()) {
	client, err := opal.NewClient("my-api-token", opal.WithBaseURL(srv.URL))
	if err != nil {
		panic(err)
	}
	return client, srv.Close
}

// exampleSessions answers GET /sessions with two pages of sessions on one
// AWS role.
func exampleSessions(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Query().Get("resource_id") != "1b978423-db0a-4037-a4cf-f79c60cb67b3" {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message":"resource not found"}`)
		return
	}
	if r.URL.Query().Get("cursor") == "" {
		fmt.Fprint(w, `{"next":"cD0y","previous":null,"results":[
			{"connection_id":"c1","user_id":"alice","resource_id":"1b978423-db0a-4037-a4cf-f79c60cb67b3",
			 "access_level":{"access_level_name":"AdminRole","access_level_remote_id":"arn:aws:iam::590304332660:role/AdministratorAccess"},
			 "expiration_date":"2026-11-27T09:00:00.000Z"},
			{"connection_id":"c2","user_id":"bob","resource_id":"1b978423-db0a-4037-a4cf-f79c60cb67b3",
			 "expiration_date":"2026-11-26T18:30:00.000Z"}]}`)
		return
	}
	fmt.Fprint(w, `{"next":null,"previous":"cD0y","results":[
		{"connection_id":"c3","user_id":"carol","resource_id":"1b978423-db0a-4037-a4cf-f79c60cb67b3",
		 "access_level":{"access_level_name":"ReadOnly","access_level_remote_id":"arn:aws:iam::590304332660:role/ReadOnlyAccess"},
		 "expiration_date":"2026-11-28T12:00:00.000Z"}]}`)
}

// Who holds a session on a resource, at what level, until when: range over
// every session, page after page.
func ExampleSessionsService_All() {
	client, stop := exampleClient(exampleServer()) // a test server stands in for Opal
	defer stop()

	ctx := context.Background()
	for s, err := range client.Sessions.All(ctx, "1b978423-db0a-4037-a4cf-f79c60cb67b3", nil) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		level := s.AccessLevel.Name
		if s.AccessLevel.IsDefault() {
			level = "(default)"
		}
		fmt.Printf("%-5s %-9s until %s\n", s.UserID, level, s.ExpirationDate.Format("Jan 2 15:04 MST"))
	}
	// Output:
	// alice AdminRole until Nov 27 09:00 UTC
	// bob   (default) until Nov 26 18:30 UTC
	// carol ReadOnly  until Nov 28 12:00 UTC
}

// Pages gives the cursor of every page, to resume a walk later, even in
// another process, with ListSessionsOptions.Cursor.
func ExampleSessionsService_Pages() {
	client, stop := exampleClient(exampleServer()) // a test server stands in for Opal
	defer stop()

	for page, err := range client.Sessions.Pages(context.Background(), "1b978423-db0a-4037-a4cf-f79c60cb67b3", nil) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("%d sessions, next cursor %q\n", len(page.Results), page.Next)
	}
	// Output:
	// 2 sessions, next cursor "cD0y"
	// 1 sessions, next cursor ""
}

// List gets one page; errors.Is tells a missing resource from other failures.
func ExampleSessionsService_List() {
	client, stop := exampleClient(exampleServer()) // a test server stands in for Opal
	defer stop()

	_, err := client.Sessions.List(context.Background(), "no-such-resource", &opal.ListSessionsOptions{PageSize: 100})
	switch {
	case errors.Is(err, opal.ErrNotFound):
		fmt.Println("not found:", err)
	case err != nil:
		fmt.Println("failed:", err)
	}
	// Output:
	// not found: opal: GET /v1/sessions: 404 Not Found: resource not found
}

// Options configure a client once, at start-up; bad values are reported
// before anything is sent.
func ExampleNewClient() {
	_, err := opal.NewClient("my-api-token",
		opal.WithBaseURL("http://opal.internal.example.com"),
		opal.WithUserAgent("inventory-bot/2.1"),
	)
	fmt.Println(errors.Is(err, opal.ErrInvalidArgument))
	fmt.Println(err)
	// Output:
	// true
	// opal: invalid argument: base URL: "http://opal.internal.example.com" uses plain http, which is allowed only to loopback hosts (localhost, 127.0.0.0/8, [::1]); use https
}

// exampleUsers and exampleResources are the users and resources behind the
// IDs of exampleSessions.
var (
	exampleUsers = []opal.User{
		{UserID: "alice", Email: "alice.martin@company.dev", FullName: "Alice Martin", FirstName: "Alice", LastName: "Martin", Position: "Staff Engineer", HRIDPStatus: opal.HRIDPStatusActive},
		{UserID: "bob", Email: "bob.chen@company.dev", FullName: "Bob Chen", FirstName: "Bob", LastName: "Chen", Position: "Site Reliability Engineer", HRIDPStatus: opal.HRIDPStatusActive},
		{UserID: "carol", Email: "carol.diaz@company.dev", FullName: "Carol Diaz", FirstName: "Carol", LastName: "Diaz", Position: "Security Analyst", HRIDPStatus: opal.HRIDPStatusSuspended},
	}
	exampleResources = []opal.Resource{
		{ResourceID: "1b978423-db0a-4037-a4cf-f79c60cb67b3", Name: "production-admin", ResourceType: opal.ResourceTypeAWSIAMRole,
			RemoteResourceID: "arn:aws:iam::590304332660:role/AdministratorAccess", MaxDuration: 240, RequireManagerApproval: true},
		{ResourceID: "77eb1ab7-2c27-4fc4-afdb-137e1265cddd", Name: "orders-prod", ResourceType: opal.ResourceTypePostgresInstance, MaxDuration: 120},
		{ResourceID: "a4c2e8f1-39b7-4d05-8e6a-2b1f7c9d0e53", Name: "production-readonly", ResourceType: opal.ResourceTypeAWSIAMRole,
			RemoteResourceID: "arn:aws:iam::590304332660:role/ReadOnlyAccess", MaxDuration: 720},
	}
)

// exampleGrants are who holds the resources of exampleResources, directly
// or through groups.
var exampleGrants = func() []opal.ResourceAccessUser {
	until := func(s string) *time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return &t
	}
	admin, readOnly := exampleResources[0].ResourceID, exampleResources[2].ResourceID
	orders := exampleResources[1].ResourceID
	alice, bob, carol := exampleUsers[0], exampleUsers[1], exampleUsers[2]
	grant := func(resourceID string, u opal.User, level string, direct bool, paths int, expires *time.Time) opal.ResourceAccessUser {
		return opal.ResourceAccessUser{ResourceID: resourceID, UserID: u.UserID, Email: u.Email, FullName: u.FullName,
			AccessLevel: opal.ResourceAccessLevel{Name: level, RemoteID: level}, HasDirectAccess: direct, NumAccessPaths: paths, ExpirationDate: expires}
	}
	grants := []opal.ResourceAccessUser{
		grant(admin, alice, "AdminRole", true, 1, until("2026-11-27T09:00:00Z")),
		grant(admin, carol, "AdminRole", false, 1, nil),
		grant(orders, bob, "Read/write", true, 2, nil),
		grant(orders, bob, "Read only", false, 1, until("2026-12-31T00:00:00Z")),
		grant(readOnly, alice, "", false, 2, nil),
	}
	grants[3].PropagationStatus = "ERR_REMOTE_THROTTLE"
	return grants
}()

// exampleOrgServer stands in for Opal: exampleSessions, and the users and
// resources behind their IDs, the users in two pages, and exampleGrants.
func exampleOrgServer() *httptest.Server {
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		if v == nil {
			w.WriteHeader(http.StatusNotFound)
			v = map[string]string{"message": "not found"}
		}
		json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/sessions", exampleSessions)
	mux.HandleFunc("GET /v1/user", func(w http.ResponseWriter, r *http.Request) {
		id, email := r.URL.Query().Get("user_id"), r.URL.Query().Get("email")
		for _, u := range exampleUsers {
			if (id != "" && u.UserID == id) || (id == "" && strings.EqualFold(u.Email, email)) {
				reply(w, u)
				return
			}
		}
		reply(w, nil)
	})
	mux.HandleFunc("GET /v1/users", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("cursor") == "" {
			reply(w, opal.UsersList{Next: "dT0y", Results: exampleUsers[:2]})
			return
		}
		reply(w, opal.UsersList{Previous: "dT0y", Results: exampleUsers[2:]})
	})
	mux.HandleFunc("GET /v1/resources/{id}", func(w http.ResponseWriter, r *http.Request) {
		for _, res := range exampleResources {
			if res.ResourceID == r.PathValue("id") {
				reply(w, res)
				return
			}
		}
		reply(w, nil)
	})
	grants := func(w http.ResponseWriter, known bool, of func(opal.ResourceAccessUser) bool) {
		if !known {
			reply(w, nil)
			return
		}
		page := opal.ResourceAccessUserList{Results: []opal.ResourceAccessUser{}}
		for _, g := range exampleGrants {
			if of(g) {
				page.Results = append(page.Results, g)
			}
		}
		reply(w, page)
	}
	// GET /resources/{resource_id}/users and GET /resources/users/{user_id},
	// which a ServeMux cannot tell apart.
	mux.HandleFunc("GET /v1/resources/{first}/{second}", func(w http.ResponseWriter, r *http.Request) {
		switch first, second := r.PathValue("first"), r.PathValue("second"); {
		case first == "users":
			known := slices.ContainsFunc(exampleUsers, func(u opal.User) bool { return u.UserID == second })
			grants(w, known, func(g opal.ResourceAccessUser) bool { return g.UserID == second })
		case second == "users":
			known := slices.ContainsFunc(exampleResources, func(res opal.Resource) bool { return res.ResourceID == first })
			grants(w, known, func(g opal.ResourceAccessUser) bool { return g.ResourceID == first })
		default:
			reply(w, nil)
		}
	})
	mux.HandleFunc("GET /v1/resources", func(w http.ResponseWriter, r *http.Request) {
		page := opal.ResourcesList{Results: []opal.Resource{}}
		for _, res := range exampleResources {
			if t := r.URL.Query().Get("resource_type_filter"); t == "" || string(res.ResourceType) == t {
				page.Results = append(page.Results, res)
			}
		}
		reply(w, page)
	})
	return httptest.NewServer(mux)
}

// Each session of a resource by its user's email, looking each user up
// once, however many sessions they hold.
func ExampleUsersService_Get() {
	client, stop := exampleClient(exampleOrgServer()) // a test server stands in for Opal
	defer stop()

	ctx := context.Background()
	emails := map[string]string{} // user ID to email
	for s, err := range client.Sessions.All(ctx, "1b978423-db0a-4037-a4cf-f79c60cb67b3", nil) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		email, ok := emails[s.UserID]
		if !ok {
			u, err := client.Users.Get(ctx, s.UserID)
			switch {
			case errors.Is(err, opal.ErrNotFound):
				email = s.UserID // a user removed since
			case err != nil:
				fmt.Println("error:", err)
				return
			default:
				email = u.Email
			}
			emails[s.UserID] = email
		}
		level := s.AccessLevel.Name
		if s.AccessLevel.IsDefault() {
			level = "(default)"
		}
		fmt.Printf("%-24s  %-9s  %s\n", email, level, s.ExpirationDate.Format("2006-01-02 15:04 MST"))
	}
	// Output:
	// alice.martin@company.dev  AdminRole  2026-11-27 09:00 UTC
	// bob.chen@company.dev      (default)  2026-11-26 18:30 UTC
	// carol.diaz@company.dev    ReadOnly   2026-11-28 12:00 UTC
}

// GetByEmail finds a user by email address, in any letter case; an address
// Opal does not know is ErrNotFound.
func ExampleUsersService_GetByEmail() {
	client, stop := exampleClient(exampleOrgServer()) // a test server stands in for Opal
	defer stop()

	for _, email := range []string{"Carol.Diaz@company.dev", "dave@company.dev"} {
		u, err := client.Users.GetByEmail(context.Background(), email)
		switch {
		case errors.Is(err, opal.ErrNotFound):
			fmt.Println(email, "is not a user")
		case err != nil:
			fmt.Println("error:", err)
		default:
			fmt.Printf("%s is %s, %s (%s)\n", email, u.FullName, u.Position, u.HRIDPStatus)
		}
	}
	// Output:
	// Carol.Diaz@company.dev is Carol Diaz, Security Analyst (SUSPENDED)
	// dave@company.dev is not a user
}

// All goes through every user of the organisation, page after page.
func ExampleUsersService_All() {
	client, stop := exampleClient(exampleOrgServer()) // a test server stands in for Opal
	defer stop()

	for u, err := range client.Users.All(context.Background(), nil) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("%-24s  %-12s  %s\n", u.Email, u.FullName, u.Position)
	}
	// Output:
	// alice.martin@company.dev  Alice Martin  Staff Engineer
	// bob.chen@company.dev      Bob Chen      Site Reliability Engineer
	// carol.diaz@company.dev    Carol Diaz    Security Analyst
}

// Get tells what a resource ID of a session stands for.
func ExampleResourcesService_Get() {
	client, stop := exampleClient(exampleOrgServer()) // a test server stands in for Opal
	defer stop()

	r, err := client.Resources.Get(context.Background(), "1b978423-db0a-4037-a4cf-f79c60cb67b3")
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Printf("%s (%s)\n%s\nat most %d minutes, manager approval: %v\n",
		r.Name, r.ResourceType, r.RemoteResourceID, r.MaxDuration, r.RequireManagerApproval)
	// Output:
	// production-admin (AWS_IAM_ROLE)
	// arn:aws:iam::590304332660:role/AdministratorAccess
	// at most 240 minutes, manager approval: true
}

// All with a Type lists the resources of one type, such as every AWS IAM
// role Opal manages.
func ExampleResourcesService_All() {
	client, stop := exampleClient(exampleOrgServer()) // a test server stands in for Opal
	defer stop()

	opts := &opal.ListResourcesOptions{Type: opal.ResourceTypeAWSIAMRole}
	for r, err := range client.Resources.All(context.Background(), opts) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("%-19s  %s\n", r.Name, r.RemoteResourceID)
	}
	// Output:
	// production-admin     arn:aws:iam::590304332660:role/AdministratorAccess
	// production-readonly  arn:aws:iam::590304332660:role/ReadOnlyAccess
}

// An observer counts what a dashboard shows: here, the 429s that Opal
// answers, per route, a label of bounded cardinality whatever the IDs in
// the paths. (A test server stands in for Opal, busy for a few requests.)
func ExampleWithObserver() {
	srv := opaltest.NewServer()
	defer srv.Close()
	roleID := "1b978423-db0a-4037-a4cf-f79c60cb67b3"
	srv.AddResources(opal.Resource{ResourceID: roleID, Name: "AdminRole"})

	var mu sync.Mutex // an observer is called from every goroutine that uses the client
	rateLimited := map[string]int{}
	attempts := 0
	client, err := srv.Client(opal.WithObserver(func(_ context.Context, a opal.Attempt) {
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if a.Status == http.StatusTooManyRequests {
			rateLimited[a.Route]++
		}
	}))
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	srv.Inject(opaltest.Fault{Status: http.StatusTooManyRequests}, opaltest.Fault{Status: http.StatusTooManyRequests})
	if _, err := client.Resources.Get(ctx, roleID); err != nil {
		fmt.Println("error:", err)
	}
	srv.Inject(opaltest.Fault{Status: http.StatusTooManyRequests})
	if _, err := client.Sessions.List(ctx, roleID, nil); err != nil {
		fmt.Println("error:", err)
	}

	for _, route := range slices.Sorted(maps.Keys(rateLimited)) {
		fmt.Printf("%s: %d rate limited\n", route, rateLimited[route])
	}
	fmt.Println(attempts, "attempts")
	// Output:
	// /v1/resources/{resource_id}: 2 rate limited
	// /v1/sessions: 1 rate limited
	// 5 attempts
}

// Who holds what, directly or through groups, and until when, on every
// resource of the organisation: grants, which SaaS apps have too, not
// sessions. Rows of different resources come in the order their answers
// arrive.
func ExampleAccessService_AllOf() {
	client, stop := exampleClient(exampleOrgServer()) // a test server stands in for Opal
	defer stop()

	ctx := context.Background()
	names := map[string]string{} // resource ID to name
	var ids []string
	for r, err := range client.Resources.All(ctx, nil) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		names[r.ResourceID] = r.Name
		ids = append(ids, r.ResourceID)
	}
	ids = append(ids, "9b2e5d1c-0000-4000-8000-000000000000") // deleted since it was listed, say
	for a, err := range client.Access.AllOf(ctx, ids, nil) {
		var gone *opal.ResourceError
		switch {
		case errors.As(err, &gone) && errors.Is(err, opal.ErrNotFound):
			fmt.Println(gone.ResourceID, "is gone; skipped")
			continue // the sweep goes on
		case err != nil:
			fmt.Println("error:", err)
			return
		}
		level := a.AccessLevel.Name
		if a.AccessLevel.IsDefault() {
			level = "(default)"
		}
		how := "through groups"
		if a.HasDirectAccess {
			how = "directly"
		}
		until := "permanently"
		if a.ExpirationDate != nil {
			until = "until " + a.ExpirationDate.Format("2006-01-02 15:04 MST")
		}
		fmt.Printf("%-19s  %-24s  %-10s  %-14s  %s\n", names[a.ResourceID], a.Email, level, how, until)
	}
	// Unordered output:
	// production-admin     alice.martin@company.dev  AdminRole   directly        until 2026-11-27 09:00 UTC
	// production-admin     carol.diaz@company.dev    AdminRole   through groups  permanently
	// orders-prod          bob.chen@company.dev      Read/write  directly        permanently
	// orders-prod          bob.chen@company.dev      Read only   through groups  until 2026-12-31 00:00 UTC
	// production-readonly  alice.martin@company.dev  (default)   through groups  permanently
	// 9b2e5d1c-0000-4000-8000-000000000000 is gone; skipped
}

// Everything one user can reach, one row per access level, with grants
// whose last change did not reach the remote system flagged.
func ExampleAccessService_AllForUser() {
	client, stop := exampleClient(exampleOrgServer()) // a test server stands in for Opal
	defer stop()

	ctx := context.Background()
	for a, err := range client.Access.AllForUser(ctx, "bob", nil) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		r, err := client.Resources.Get(ctx, a.ResourceID)
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("%s: %s, %d way(s)", r.Name, a.AccessLevel.Name, a.NumAccessPaths)
		if a.PropagationStatus != "" && a.PropagationStatus != "SUCCESS" {
			fmt.Printf(" (not applied on %s: %s)", r.ResourceType, a.PropagationStatus)
		}
		fmt.Println()
	}
	// Output:
	// orders-prod: Read/write, 2 way(s)
	// orders-prod: Read only, 1 way(s) (not applied on POSTGRES_INSTANCE: ERR_REMOTE_THROTTLE)
}
