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
