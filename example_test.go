package opal_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/opalclient/opal-go"
)

// exampleServer stands in for Opal: two pages of sessions on one AWS role.
func exampleServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	}))
}

// Who holds a session on a resource, at what level, until when: range over
// every session, page after page.
func ExampleSessionsService_All() {
	srv := exampleServer()
	defer srv.Close()
	client, err := opal.NewClient("my-api-token", opal.WithBaseURL(srv.URL))
	if err != nil {
		fmt.Println(err)
		return
	}

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
	srv := exampleServer()
	defer srv.Close()
	client, err := opal.NewClient("my-api-token", opal.WithBaseURL(srv.URL))
	if err != nil {
		fmt.Println(err)
		return
	}

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
	srv := exampleServer()
	defer srv.Close()
	client, err := opal.NewClient("my-api-token", opal.WithBaseURL(srv.URL))
	if err != nil {
		fmt.Println(err)
		return
	}

	_, err = client.Sessions.List(context.Background(), "no-such-resource", &opal.ListSessionsOptions{PageSize: 100})
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
