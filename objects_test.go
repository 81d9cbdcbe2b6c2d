package opal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// The rules of getting one object, each one test run over every getter of
// the client: Users.Get, Users.GetByEmail and Resources.Get, against an
// opaltest server unless the test needs an answer it does not give, as Opal
// would not: another object, or none, in a 200.

// getter is one way of getting one object.
type getter struct {
	name    string
	pattern string   // the ServeMux pattern the request must reach
	arg     string   // what is asked for
	badArgs []string // arguments refused before anything is sent
	// body is a 200 body holding the object whose identifying field is key.
	body func(key string) string
	// get calls the getter; its first result is the *User or *Resource.
	get func(c *opal.Client, ctx context.Context, arg string) (any, error)
	// add gives an opaltest server the object asked for; notFound is what
	// that server says of an object it does not hold.
	add      func(srv *opaltest.Server)
	notFound string
}

var getters = []getter{
	{
		name:    "Users.Get",
		pattern: "GET /v1/user",
		arg:     "29827fb8-f2dd-4e80-9576-28e31e9934ac",
		badArgs: []string{""},
		body:    func(key string) string { return fmt.Sprintf(`{"user_id":%q,"email":"john.doe@company.dev"}`, key) },
		get:     func(c *opal.Client, ctx context.Context, arg string) (any, error) { return c.Users.Get(ctx, arg) },
		add: func(srv *opaltest.Server) {
			srv.AddUsers(opal.User{UserID: "29827fb8-f2dd-4e80-9576-28e31e9934ac", Email: "john.doe@company.dev"})
		},
		notFound: "user not found",
	},
	{
		name:    "Users.GetByEmail",
		pattern: "GET /v1/user",
		arg:     "john.doe@company.dev",
		badArgs: []string{""},
		body: func(key string) string {
			return fmt.Sprintf(`{"user_id":"29827fb8-f2dd-4e80-9576-28e31e9934ac","email":%q}`, key)
		},
		get: func(c *opal.Client, ctx context.Context, arg string) (any, error) {
			return c.Users.GetByEmail(ctx, arg)
		},
		add: func(srv *opaltest.Server) {
			srv.AddUsers(opal.User{UserID: "29827fb8-f2dd-4e80-9576-28e31e9934ac", Email: "john.doe@company.dev"})
		},
		notFound: "user not found",
	},
	{
		name:    "Resources.Get",
		pattern: "GET /v1/resources/{id}",
		arg:     "1b978423-db0a-4037-a4cf-f79c60cb67b3",
		badArgs: nil, // its IDs: TestIDsThatAreNotOneSegmentAreRefused
		body:    func(key string) string { return fmt.Sprintf(`{"resource_id":%q,"name":"AdminRole"}`, key) },
		get:     func(c *opal.Client, ctx context.Context, arg string) (any, error) { return c.Resources.Get(ctx, arg) },
		add: func(srv *opaltest.Server) {
			srv.AddResources(opal.Resource{ResourceID: "1b978423-db0a-4037-a4cf-f79c60cb67b3", Name: "AdminRole"})
		},
		notFound: "resource not found",
	},
}

// serveObject answers the getter's requests with the given statuses and
// bodies in turn, the last one for the rest, counts them, and fails the
// test on a request to any other endpoint.
func serveObject(t *testing.T, g getter, statuses []int, bodies ...string) (*opal.Client, *atomic.Int32) {
	t.Helper()
	c, mux, _ := setup(t)
	var requests atomic.Int32
	mux.HandleFunc(g.pattern, func(w http.ResponseWriter, r *http.Request) {
		n := min(int(requests.Add(1)), len(bodies)) - 1
		writeJSON(w, statuses[n], bodies[n])
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request to %s %s, want %s", r.Method, r.URL.EscapedPath(), g.pattern)
		writeJSON(w, http.StatusNotFound, `{"message":"no such endpoint"}`)
	})
	return c, &requests
}

// fake is an opaltest server, holding the object asked for if holding,
// and a client of it.
func (g getter) fake(t *testing.T, holding bool) (*opal.Client, *opaltest.Server) {
	t.Helper()
	srv := opaltest.NewServer()
	t.Cleanup(srv.Close)
	if holding {
		g.add(srv)
	}
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

// isNil reports whether v, a pointer in an interface, is nil.
func isNil(v any) bool { return v == nil || reflect.ValueOf(v).IsNil() }

// forEachGetter runs test as a subtest for every getter.
func forEachGetter(t *testing.T, test func(t *testing.T, g getter)) {
	for _, g := range getters {
		t.Run(g.name, func(t *testing.T) { test(t, g) })
	}
}

func TestGetRejectsABadArgumentWithoutSending(t *testing.T) {
	forEachGetter(t, func(t *testing.T, g getter) {
		c, srv := g.fake(t, true)
		for _, arg := range g.badArgs {
			got, err := g.get(c, t.Context(), arg)
			if !errors.Is(err, opal.ErrInvalidArgument) || !isNil(got) {
				t.Errorf("%s(%q) = %v, %v; want nil and ErrInvalidArgument", g.name, arg, got, err)
			}
		}
		if n := len(srv.Requests()); n != 0 {
			t.Errorf("%d requests sent, want none", n)
		}
	})
}

func TestGetOfAnUnknownObjectIsNotFound(t *testing.T) {
	forEachGetter(t, func(t *testing.T, g getter) {
		c, srv := g.fake(t, false)
		got, err := g.get(c, t.Context(), g.arg)
		if !errors.Is(err, opal.ErrNotFound) || !isNil(got) {
			t.Errorf("%s = %v, %v; want nil and ErrNotFound", g.name, got, err)
		}
		var apiErr *opal.APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || apiErr.Message != g.notFound {
			t.Errorf("error %v is not the server's *APIError", err)
		}
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("%d requests sent, want 1", n)
		}
	})
}

// TestGetRefusesWhatWasNotAskedFor: a 2xx that holds no object, or another
// one, is an error, never a zero or wrong object, and is not retried.
func TestGetRefusesWhatWasNotAskedFor(t *testing.T) {
	forEachGetter(t, func(t *testing.T, g getter) {
		bodies := map[string]string{
			"empty object":               `{}`,
			"null":                       `null`,
			"an array":                   `[]`,
			"an array of the object":     `[` + g.body(g.arg) + `]`,
			"a message":                  `{"message":"not found"}`,
			"another's record":           g.body("someone-else"),
			"a record without its key":   g.body(""),
			"a prefix of what was asked": g.body(g.arg[:len(g.arg)-1]),
			"what was asked, then more":  g.body(g.arg + "x"),
			"a page holding the object":  `{"results":[` + g.body(g.arg) + `]}`,
			"the object, then more JSON": g.body(g.arg) + g.body(g.arg),
			// A user's position, a resource's maximum duration.
			"the object with a bad field": strings.Replace(g.body(g.arg), "{", `{"position":7,"max_duration":"1h",`, 1),
		}
		for name, body := range bodies {
			c, requests := serveObject(t, g, []int{http.StatusOK}, body)
			got, err := g.get(c, context.Background(), g.arg)
			if !errors.Is(err, opal.ErrInvalidResponse) || !isNil(got) {
				t.Errorf("%s: %s = %+v, %v; want nil and ErrInvalidResponse", name, g.name, got, err)
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("%s: %d requests sent, want 1", name, n)
			}
		}
	})
}

// TestGetMatchesInASCIILetterCase: a server may normalise a UUID's or an
// email's letter case, so what was asked for matches in any letter case of
// ASCII, and only of ASCII: with a Kelvin sign for its k, or a long s for
// its s, it is another user or resource that displays alike.
func TestGetMatchesInASCIILetterCase(t *testing.T) {
	forEachGetter(t, func(t *testing.T, g getter) {
		for _, tt := range []struct {
			arg, key string
			same     bool
		}{
			{strings.ToUpper(g.arg), g.arg, true},
			{g.arg, strings.ToUpper(g.arg), true},
			{"kate.s@example.com", "\u212Aate.s@example.com", false},
			{"kate.s@example.com", "kate.\u017F@example.com", false},
			{"KATE.S@example.com", "kate.s@EXAMPLE.COM", true},
		} {
			c, _ := serveObject(t, g, []int{http.StatusOK}, g.body(tt.key))
			got, err := g.get(c, context.Background(), tt.arg)
			switch {
			case tt.same && (err != nil || isNil(got)):
				t.Errorf("%s(%q) of %s = %v, %v; want the object", g.name, tt.arg, tt.key, got, err)
			case !tt.same && (!errors.Is(err, opal.ErrInvalidResponse) || !isNil(got)):
				t.Errorf("%s(%q) of %s = %v, %v; want nil and ErrInvalidResponse", g.name, tt.arg, tt.key, got, err)
			}
		}
	})
}

func TestGetRetriesAnOutage(t *testing.T) {
	forEachGetter(t, func(t *testing.T, g getter) {
		c, srv := g.fake(t, true)
		srv.Inject(opaltest.Fault{Status: http.StatusServiceUnavailable})
		if got, err := g.get(c, t.Context(), g.arg); err != nil || isNil(got) {
			t.Errorf("%s = %v, %v; want the object", g.name, got, err)
		}
		if n := len(srv.Requests()); n != 2 {
			t.Errorf("%d requests sent, want 2 (the 503, then the retry)", n)
		}
	})
}

// TestPublishedExamplesDecode decodes the examples published in Opal's API
// reference, verbatim, as the client and as json.Unmarshal into the public
// types: the users examples leave out fields their schema requires, the
// resources examples say remote_id (once a number) and remote_name, which
// the schema does not have, the sessions example has a connection ID that
// is not a UUID and no access levels, and the access example no access
// levels and no propagation statuses.
//
// Where an example is not the answer to any one call (the sessions example
// holds two resources' sessions; the access example is one resource's, and
// so holds other users' access than any one user's), a mock serving it does
// not answer the call: the client refuses it, and says why. (That the
// client decodes such a page as json.Unmarshal does, FuzzDecodeSessionsList
// checks on it, as on every example.)
func TestPublishedExamplesDecode(t *testing.T) {
	const (
		next     = "cD0yMDIxLTAxLTA2KzAzJTNBMjQlM0E1My40MzQzMjYlMkIwMCUzQTAw"
		previous = "cj1sZXdwd2VycWVtY29zZnNkc2NzUWxNMEUxTXk0ME16UXpNallsTWtJ"
		support  = `This resource represents AWS IAM role "SupportUser".`
		owner    = "7c86c85d-0651-43e2-a748-d69d658418e8"
		resource = "1b978423-db0a-4037-a4cf-f79c60cb67b3"
		jake     = "29827fb8-f2dd-4e80-9576-28e31e9934ac"
	)
	jan23, feb3 := mustTime(t, "2022-01-23T04:56:07Z"), mustTime(t, "2022-02-03T12:33:02Z")
	sessions := &opal.SessionsList{Next: next, Previous: previous, Results: []opal.Session{
		{
			ConnectionID: "h0z968412-2451-4bbd-42h4-057l715d917m", UserID: jake, ResourceID: resource,
			ExpirationDate: jan23,
		},
		{
			ConnectionID: "6e6b5597-bd36-4f4c-a629-01e3fa791932", UserID: "b031c922-b84f-4424-9f4f-c49c05871bfe",
			ResourceID: "77eb1ab7-2c27-4fc4-afdb-137e1265cddd", ExpirationDate: mustTime(t, "2022-03-12T07:22:18Z"),
		},
	}}
	access := &opal.ResourceAccessUserList{Results: []opal.ResourceAccessUser{
		{ResourceID: resource, UserID: jake, Email: "jake@company.dev", FullName: "Jake Barnes",
			ExpirationDate: &jan23, HasDirectAccess: true, NumAccessPaths: 2},
		{ResourceID: resource, UserID: "7646aa9a-e2ee-4eb5-8c62-91f29038a373", Email: "brett@company.dev", FullName: "Brett Ashley",
			ExpirationDate: &feb3, HasDirectAccess: true, NumAccessPaths: 3},
	}}
	tests := []struct {
		name, file, pattern string
		get                 func(c *opal.Client, ctx context.Context) (any, error)
		want                any    // what the example decodes to
		wantErr             string // what the client says instead, when the example is not the answer
	}{
		{"Users.Get", "user_example.json", "GET /v1/user", func(c *opal.Client, ctx context.Context) (any, error) {
			return c.Users.Get(ctx, jake)
		}, &opal.User{
			UserID: jake, Email: "john.doe@company.dev", FullName: "John Doe",
			FirstName: "John", LastName: "Doe", Position: "Engineer",
		}, ""},
		{"Users.List", "users_example.json", "GET /v1/users", func(c *opal.Client, ctx context.Context) (any, error) {
			return c.Users.List(ctx, nil)
		}, &opal.UsersList{Next: next, Previous: previous, Results: []opal.User{
			{UserID: jake, Email: "john.doe@company.dev", FullName: "John Doe", Position: "Senior Engineer"},
			{UserID: "e8581682-04f7-473a-a419-472f0fb26d46", Email: "jane.smith@company.dev", FullName: "Jane Smith", Position: "Product Marketing Lead"},
		}}, ""},
		{"Resources.Get", "resource_example.json", "GET /v1/resources/{id}", func(c *opal.Client, ctx context.Context) (any, error) {
			return c.Resources.Get(ctx, "f454d283-ca87-4a8a-bdbb-df212eca5353")
		}, &opal.Resource{
			ResourceID: "f454d283-ca87-4a8a-bdbb-df212eca5353", AppID: "b5a5ca27-0ea3-4d86-9199-2126d57d1fbd",
			Description: support, AdminOwnerID: owner, MaxDuration: 120, ParentResourceID: "f454d283-ca67-4a8a-bdbb-df212eca5345",
		}, ""},
		{"Resources.List", "resources_example.json", "GET /v1/resources", func(c *opal.Client, ctx context.Context) (any, error) {
			return c.Resources.List(ctx, nil)
		}, &opal.ResourcesList{Next: next, Previous: previous, Results: []opal.Resource{
			{
				ResourceID: "f454d283-ca67-4a8a-bdbb-df212eca5353", Description: support, AdminOwnerID: owner,
				MaxDuration: 120, ParentResourceID: "f454d283-ca67-4a8a-bdbb-df212eca5345",
			},
			{
				ResourceID: "99d0b81d-14be-4cf6-bd27-348b4af1d11b", Description: `This resource represents GCP project "app-demo".`,
				AdminOwnerID: owner, MaxDuration: 360, RequireSupportTicket: true,
			},
		}}, ""},
		{"Sessions.List", "reference_example.json", "GET /v1/sessions", func(c *opal.Client, ctx context.Context) (any, error) {
			return c.Sessions.List(ctx, resource, nil)
		}, sessions, `opal: GET /v1/sessions: 200 OK response is not the page of sessions asked for: results[1]: its "resource_id" is not the one asked for`},
		{"Access.List", "access_example.json", "GET /v1/resources/{id}/users", func(c *opal.Client, ctx context.Context) (any, error) {
			return c.Access.List(ctx, resource, nil)
		}, access, ""},
		{"Access.ListForUser", "access_example.json", "GET /v1/resources/users/{id}", func(c *opal.Client, ctx context.Context) (any, error) {
			return c.Access.ListForUser(ctx, jake, nil)
		}, access, `opal: GET /v1/resources/users/` + jake + `: 200 OK response is not the page of the user's resources asked for: results[1]: its "user_id" is not the one asked for`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := os.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			direct := reflect.New(reflect.TypeOf(tt.want).Elem()).Interface()
			if err := json.Unmarshal(body, direct); err != nil {
				t.Fatalf("json.Unmarshal: %v", err)
			}
			if diff := cmp.Diff(tt.want, direct); diff != "" {
				t.Errorf("json.Unmarshal (-want +got):\n%s", diff)
			}

			c, mux, _ := setup(t)
			mux.HandleFunc(tt.pattern, func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, string(body))
			})
			got, err := tt.get(c, context.Background())
			if tt.wantErr != "" {
				if !errors.Is(err, opal.ErrInvalidResponse) || err.Error() != tt.wantErr || !isNil(got) {
					t.Errorf("the client: %v, %v; want nil and %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("the client: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("the client (-want +got):\n%s", diff)
			}
		})
	}
}

// checkJSON checks that v encodes to want, in the API's field names, and
// that want decodes to v.
func checkJSON[T any](t *testing.T, v T, want string) {
	t.Helper()
	got, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(%+v): %v", v, err)
	}
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("json.Marshal(%T) (-want +got):\n%s", v, diff)
	}
	var back T
	if err := json.Unmarshal([]byte(want), &back); err != nil {
		t.Fatalf("json.Unmarshal(%s): %v", want, err)
	}
	if diff := cmp.Diff(v, back); diff != "" {
		t.Errorf("json.Unmarshal(%s) (-want +got):\n%s", want, diff)
	}
}
