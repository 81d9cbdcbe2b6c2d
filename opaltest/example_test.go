package opaltest_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// countAdmins is the code under test: it counts the sessions at the
// AdminRole access level on a resource.
func countAdmins(ctx context.Context, client *opal.Client, resourceID string) (int, error) {
	n := 0
	for s, err := range client.Sessions.All(ctx, resourceID, nil) {
		if err != nil {
			return 0, err
		}
		if s.AccessLevel.Name == "AdminRole" {
			n++
		}
	}
	return n, nil
}

// This example tests a function that uses the opal client against a server
// holding three sessions, one of them read-only, while Opal is briefly
// unavailable.
func Example() {
	const roleID = "1b978423-db0a-4037-a4cf-f79c60cb67b3"
	session := func(userID, level string) opal.Session {
		return opal.Session{
			ConnectionID:   "6e6b5597-bd36-4f4c-a629-01e3fa791932",
			UserID:         userID,
			ResourceID:     roleID,
			AccessLevel:    opal.ResourceAccessLevel{Name: level, RemoteID: "arn:aws:iam::590304332660:role/" + level},
			ExpirationDate: time.Now().Add(2 * time.Hour),
		}
	}
	srv := opaltest.NewServer(
		session("29827fb8-f2dd-4e80-9576-28e31e9934ac", "AdminRole"),
		session("b031c922-b84f-4424-9f4f-c49c05871bfe", "ReadOnly"),
		session("32acc112-21ff-4669-91c2-21e27683eaa1", "AdminRole"),
	)
	defer srv.Close()
	// The first request meets an outage; the client retries it.
	srv.Inject(opaltest.Fault{Status: http.StatusServiceUnavailable})

	client, err := srv.Client()
	if err != nil {
		fmt.Println(err)
		return
	}
	n, err := countAdmins(context.Background(), client, roleID)
	fmt.Println("admins:", n, "error:", err)
	fmt.Println("requests:", len(srv.Requests()))
	// Output:
	// admins: 2 error: <nil>
	// requests: 2
}

// This example shows a client meeting the server's rate limit: two
// requests pass, and the third, with retries off, gets Opal's 429.
func ExampleServer_SetRateLimit() {
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.SetRateLimit(0.1, 2) // bursts of 2, then one request every 10 seconds

	client, err := srv.Client(opal.WithRetryMax(0))
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 3 {
		_, err := client.Sessions.List(context.Background(), "1b978423-db0a-4037-a4cf-f79c60cb67b3", nil)
		fmt.Println(err)
	}
	fmt.Println("refused:", srv.RateLimited())
	// Output:
	// <nil>
	// <nil>
	// opal: GET /v1/sessions: 429 Too Many Requests: rate limit exceeded
	// refused: 1
}

// This example makes every answer take the round trip of a distant server.
func ExampleServer_SetLatency() {
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.SetLatency(50 * time.Millisecond)

	client, err := srv.Client()
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Now()
	_, err = client.Sessions.List(context.Background(), "1b978423-db0a-4037-a4cf-f79c60cb67b3", nil)
	fmt.Println("error:", err, "at least 50ms:", time.Since(start) >= 50*time.Millisecond)
	// Output:
	// error: <nil> at least 50ms: true
}

// This example gives the server the resources behind sessions' IDs, a role
// below an AWS account, and lists the account's IAM roles, as Opal's
// GET /resources does with its filters.
func ExampleServer_AddResources() {
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.AddResources(
		opal.Resource{ResourceID: "e5b07d2c-94a1-4f38-a6d2-0c8e7b3f1a95", Name: "production (590304332660)",
			ResourceType: opal.ResourceTypeAWSAccount},
		opal.Resource{ResourceID: "1b978423-db0a-4037-a4cf-f79c60cb67b3", Name: "AdministratorAccess",
			ResourceType: opal.ResourceTypeAWSIAMRole, ParentResourceID: "e5b07d2c-94a1-4f38-a6d2-0c8e7b3f1a95"},
		opal.Resource{ResourceID: "77eb1ab7-2c27-4fc4-afdb-137e1265cddd", Name: "orders-prod",
			ResourceType: opal.ResourceTypePostgresInstance},
	)

	client, err := srv.Client()
	if err != nil {
		fmt.Println(err)
		return
	}
	roles := &opal.ListResourcesOptions{Type: opal.ResourceTypeAWSIAMRole, AncestorID: "e5b07d2c-94a1-4f38-a6d2-0c8e7b3f1a95"}
	for r, err := range client.Resources.All(context.Background(), roles) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(r.ResourceID, r.ResourceType, r.Name)
	}
	// Output:
	// 1b978423-db0a-4037-a4cf-f79c60cb67b3 AWS_IAM_ROLE AdministratorAccess
}

// This example gives the server the users behind sessions' IDs, and looks
// one up by email, as Opal's GET /user does.
func ExampleServer_AddUsers() {
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.AddUsers(
		opal.User{UserID: "29827fb8-f2dd-4e80-9576-28e31e9934ac", Email: "jane.smith@acme-corp.dev",
			FullName: "Jane Smith", Position: "Staff Engineer", HRIDPStatus: opal.HRIDPStatusActive},
		opal.User{UserID: "b031c922-b84f-4424-9f4f-c49c05871bfe", Email: "omar.haddad@acme-corp.dev",
			FullName: "Omar Haddad", Position: "Site Reliability Engineer", HRIDPStatus: opal.HRIDPStatusActive},
	)

	client, err := srv.Client()
	if err != nil {
		fmt.Println(err)
		return
	}
	user, err := client.Users.GetByEmail(context.Background(), "omar.haddad@acme-corp.dev")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(user.UserID, user.FullName)
	// Output:
	// b031c922-b84f-4424-9f4f-c49c05871bfe Omar Haddad
}

// This example gives the server standing access to a SaaS app, which has
// grants and never sessions: one direct and permanent, one through a group
// until the end of the year. It lists who holds the app, as Opal's
// GET /resources/{resource_id}/users does.
func ExampleServer_AddAccess() {
	const app = "a4c2e8f1-39b7-4d05-8e6a-2b1f7c9d0e53" // an Okta app, say
	srv := opaltest.NewServer()
	defer srv.Close()
	endOfYear := time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC)
	srv.AddAccess(
		opal.ResourceAccessUser{ResourceID: app, UserID: "29827fb8-f2dd-4e80-9576-28e31e9934ac", Email: "jane.smith@acme-corp.dev",
			HasDirectAccess: true, NumAccessPaths: 1},
		opal.ResourceAccessUser{ResourceID: app, UserID: "b031c922-b84f-4424-9f4f-c49c05871bfe", Email: "omar.haddad@acme-corp.dev",
			NumAccessPaths: 1, ExpirationDate: &endOfYear},
	)

	client, err := srv.Client()
	if err != nil {
		fmt.Println(err)
		return
	}
	for a, err := range client.Access.All(context.Background(), app, nil) {
		if err != nil {
			fmt.Println(err)
			return
		}
		how, until := "through a group", "permanently"
		if a.HasDirectAccess {
			how = "directly"
		}
		if a.ExpirationDate != nil {
			until = "until " + a.ExpirationDate.Format(time.DateOnly)
		}
		fmt.Println(a.Email, how, until)
	}
	sessions, err := client.Sessions.List(context.Background(), app, nil)
	fmt.Println("sessions:", len(sessions.Results), err)
	// Output:
	// jane.smith@acme-corp.dev directly permanently
	// omar.haddad@acme-corp.dev through a group until 2026-12-31
	// sessions: 0 <nil>
}
