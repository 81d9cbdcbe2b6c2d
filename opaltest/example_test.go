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
