package opal_test

import (
	"errors"
	"iter"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"go.uber.org/goleak"
)

// The contract check against Stoplight Prism mocking Opal's published
// OpenAPI document (testdata/prism/opal-openapi.yaml). The tests run only
// when OPAL_PRISM_URL is the URL of such a mock; .ci/prism starts one and
// runs them.
//
// Prism, in its static mode, checks each request against the document (a
// parameter of the wrong type or format, a page_size over 1000, a missing
// bearer token are refused with a 4xx) and answers one it accepts with the
// document's example, whatever was asked. So a call that ends with anything
// but an *APIError sent a request the document allows; and each test says
// what the library must make of the example it gets: decode it as the
// document writes it, or refuse it with the documented error where it is
// not the answer to what was asked (rows about other IDs, the same page
// again under the same cursor).
//
// The document's examples, as Prism serves them:
//   - SessionsList: two sessions, on prismSessionResource and on
//     prismOtherSessionResource, and a next cursor.
//   - PaginatedUsersList: two users, and a next cursor (the same cursor on
//     every page).
//   - User: prismJake (John Doe).
//   - PaginatedResourcesList: prismListedResource and prismGCPResource,
//     and a next cursor.
//   - Resource: prismResource.
//   - ResourceAccessUserList: prismJake and prismBrett on
//     prismAccessResource, and no cursor.

const (
	// prismAccessResource is the resource of both rows of the access
	// example, and of the first session of the sessions example.
	prismAccessResource       = "1b978423-db0a-4037-a4cf-f79c60cb67b3"
	prismSessionResource      = prismAccessResource
	prismOtherSessionResource = "77eb1ab7-2c27-4fc4-afdb-137e1265cddd"
	// prismPathExample is the document's example of the resource_id and
	// user_id path parameters, which no answer is about.
	prismPathExample = "4baf8423-db0a-4037-a4cf-f79c60cb67a5"
	// prismJake is the user of the first access row (Jake Barnes), of the
	// User example (John Doe) and of the first user of the users list.
	prismJake  = "29827fb8-f2dd-4e80-9576-28e31e9934ac"
	prismBrett = "7646aa9a-e2ee-4eb5-8c62-91f29038a373"
	prismJane  = "e8581682-04f7-473a-a419-472f0fb26d46"
	// prismResource is the Resource example; the resources list holds two
	// others, one of them differing from it in a single digit.
	prismResource        = "f454d283-ca87-4a8a-bdbb-df212eca5353"
	prismListedResource  = "f454d283-ca67-4a8a-bdbb-df212eca5353"
	prismGCPResource     = "99d0b81d-14be-4cf6-bd27-348b4af1d11b"
	prismParentResource  = "f454d283-ca67-4a8a-bdbb-df212eca5345"
	prismOwner           = "7c86c85d-0651-43e2-a748-d69d658418e8"
	prismNext            = "cD0yMDIxLTAxLTA2KzAzJTNBMjQlM0E1My40MzQzMjYlMkIwMCUzQTAw"
	prismPrevious        = "cj1sZXdwd2VycWVtY29zZnNkc2NzUWxNMEUxTXk0ME16UXpNallsTWtJ"
	prismSupportRoleText = `This resource represents AWS IAM role "SupportUser".`
)

// prismUsers is the users list example. Its users have no first or last
// name, which the schema requires: the library takes them as empty.
var prismUsers = &opal.UsersList{Next: prismNext, Previous: prismPrevious, Results: []opal.User{
	{UserID: prismJake, Email: "john.doe@company.dev", FullName: "John Doe", Position: "Senior Engineer"},
	{UserID: prismJane, Email: "jane.smith@company.dev", FullName: "Jane Smith", Position: "Product Marketing Lead"},
}}

// prismResources is the resources list example. It names the remote ID and
// name "remote_id" and "remote_name", where the schema says
// "remote_resource_id" and "remote_resource_name": they are not decoded.
var prismResources = &opal.ResourcesList{Next: prismNext, Previous: prismPrevious, Results: []opal.Resource{
	{
		ResourceID: prismListedResource, Description: prismSupportRoleText, AdminOwnerID: prismOwner,
		MaxDuration: 120, ParentResourceID: prismParentResource,
	},
	{
		ResourceID: prismGCPResource, Description: `This resource represents GCP project "app-demo".`, AdminOwnerID: prismOwner,
		MaxDuration: 360, RequireSupportTicket: true,
	},
}}

// prismAccess is the access example: no cursors, and rows without an
// access level (the schema requires one), which is the default level.
func prismAccess(t *testing.T) *opal.ResourceAccessUserList {
	jan23, feb3 := mustTime(t, "2022-01-23T04:56:07Z"), mustTime(t, "2022-02-03T12:33:02Z")
	return &opal.ResourceAccessUserList{Results: []opal.ResourceAccessUser{
		{ResourceID: prismAccessResource, UserID: prismJake, Email: "jake@company.dev", FullName: "Jake Barnes",
			ExpirationDate: &jan23, HasDirectAccess: true, NumAccessPaths: 2},
		{ResourceID: prismAccessResource, UserID: prismBrett, Email: "brett@company.dev", FullName: "Brett Ashley",
			ExpirationDate: &feb3, HasDirectAccess: true, NumAccessPaths: 3},
	}}
}

// prismAccessJSON is prismAccess as the library writes it: in the API's
// field names, with the default access level and a null propagation
// status written out.
const prismAccessJSON = `{"next":null,"previous":null,"results":[` +
	`{"resource_id":"1b978423-db0a-4037-a4cf-f79c60cb67b3","user_id":"29827fb8-f2dd-4e80-9576-28e31e9934ac","email":"jake@company.dev","full_name":"Jake Barnes",` +
	`"access_level":{"access_level_name":"","access_level_remote_id":""},"expiration_date":"2022-01-23T04:56:07Z","has_direct_access":true,"num_access_paths":2,"propagation_status":null},` +
	`{"resource_id":"1b978423-db0a-4037-a4cf-f79c60cb67b3","user_id":"7646aa9a-e2ee-4eb5-8c62-91f29038a373","email":"brett@company.dev","full_name":"Brett Ashley",` +
	`"access_level":{"access_level_name":"","access_level_remote_id":""},"expiration_date":"2022-02-03T12:33:02Z","has_direct_access":true,"num_access_paths":3,"propagation_status":null}]}`

// prismClient is a client of the Prism mock at OPAL_PRISM_URL, which
// serves the API at its root; the test is skipped when it is not set.
func prismClient(t *testing.T, opts ...opal.Option) *opal.Client {
	t.Helper()
	url := prismURL(t)
	c, err := opal.NewClient(testToken, append([]opal.Option{opal.WithExactBaseURL(url)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// prismURL is OPAL_PRISM_URL; the test is skipped when it is not set.
func prismURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("OPAL_PRISM_URL")
	if url == "" {
		t.Skip("OPAL_PRISM_URL is not set: run .ci/prism, or start `prism mock testdata/prism/opal-openapi.yaml` and set OPAL_PRISM_URL to its URL, such as http://127.0.0.1:4010")
	}
	return url
}

// wantErr is the error a call must end with: one matching is, whose text
// is text.
type wantErr struct {
	is   error
	text string
}

// invalid is the error of a 2xx that is not the answer: the request was
// one the document allows, Prism answered it, and the library refused the
// answer.
func invalid(request, what, why string) wantErr {
	return wantErr{opal.ErrInvalidResponse, "opal: " + request + ": 200 OK response is not " + what + ": " + why}
}

// cursorLoop is the error of a walk of a list whose next page is the same
// page under the same cursor, refused after pages pages.
func cursorLoop(request string, pages int) wantErr {
	return wantErr{opal.ErrCursorLoop, "opal: " + request + ": server repeated a pagination cursor after " + strconv.Itoa(pages) + " pages"}
}

// checkErr checks that err is want, that it is no *APIError (Prism took
// the request: the library refused the answer), and that no error of its
// chain holds the token.
func checkErr(t *testing.T, call string, err error, want wantErr) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %q", call, want.text)
		return
	}
	if !errors.Is(err, want.is) || err.Error() != want.text {
		t.Errorf("%s: error %q, want %q (matching %v)", call, err, want.text, want.is)
	}
	if apiErr := (*opal.APIError)(nil); errors.As(err, &apiErr) {
		t.Errorf("%s: %q is an *APIError: Prism refused the request", call, err)
	}
	checkNoTokenInChain(t, err, testToken)
}

// walk ranges over seq to its end, returning what it yielded.
func walk[T any](seq iter.Seq2[T, error]) (items []T, errs []error) {
	for item, err := range seq {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		items = append(items, item)
	}
	return items, errs
}

// checkWalk checks that a walk yielded want, then exactly one error,
// wantErr, and nothing after it.
func checkWalk[T any](t *testing.T, call string, seq iter.Seq2[T, error], want []T, wantErr wantErr) {
	t.Helper()
	items, errs := walk(seq)
	if diff := cmp.Diff(want, items); diff != "" {
		t.Errorf("%s: items (-want +got):\n%s", call, diff)
	}
	if len(errs) != 1 {
		t.Fatalf("%s: %d errors %v, want one: %q", call, len(errs), errs, wantErr.text)
	}
	checkErr(t, call, errs[0], wantErr)
}

// TestPrismSessions: the sessions example holds sessions on two resources,
// so no page of it is the sessions of one resource. Whichever of the two is
// asked for, List refuses the page, and All, Pages and AllOf yield the
// error alone: none of the page's sessions passes for an answer.
func TestPrismSessions(t *testing.T) {
	c := prismClient(t)
	tests := []struct {
		name     string
		resource string
		opts     *opal.ListSessionsOptions
		why      string
	}{
		{"the first session's resource", prismSessionResource, nil, `results[1]: its "resource_id" is not the one asked for`},
		{"the second session's resource", prismOtherSessionResource, nil, `results[0]: its "resource_id" is not the one asked for`},
		{"the first session's resource and user", prismSessionResource, &opal.ListSessionsOptions{UserID: prismJake},
			`results[1]: its "resource_id" is not the one asked for`},
		{"the example's resource and another user", prismSessionResource, &opal.ListSessionsOptions{UserID: prismBrett, PageSize: 1000},
			`results[0]: its "user_id" is not the one asked for`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := invalid("GET /sessions", "the page of sessions asked for", tt.why)
			page, err := c.Sessions.List(t.Context(), tt.resource, tt.opts)
			if page != nil {
				t.Errorf("List returned a page: %+v", page)
			}
			checkErr(t, "List", err, want)
			checkWalk(t, "All", c.Sessions.All(t.Context(), tt.resource, tt.opts), nil, want)
			checkWalk(t, "Pages", c.Sessions.Pages(t.Context(), tt.resource, tt.opts), nil, want)
		})
	}

	t.Run("AllOf", func(t *testing.T) {
		before := goleak.IgnoreCurrent()
		// The first resource's walk to fail ends the sweep, before any
		// session: which one it is depends on which answer comes first.
		items, errs := walk(c.Sessions.AllOf(t.Context(), []string{prismSessionResource, prismOtherSessionResource}, nil))
		if len(items) != 0 || len(errs) != 1 {
			t.Fatalf("AllOf yielded %d sessions and errors %v, want one error alone", len(items), errs)
		}
		var re *opal.ResourceError
		if !errors.As(errs[0], &re) {
			t.Fatalf("AllOf error %q is not a *ResourceError", errs[0])
		}
		why := map[string]string{prismSessionResource: "results[1]", prismOtherSessionResource: "results[0]"}[re.ResourceID]
		checkErr(t, "AllOf", errs[0], wantErr{opal.ErrInvalidResponse, "opal: resource " + re.ResourceID +
			`: GET /sessions: 200 OK response is not the page of sessions asked for: ` + why + `: its "resource_id" is not the one asked for`})
		noSweepLeft(t, before)
	})
}

// TestPrismUsers: the users list example decodes as the document writes it;
// a walk of every user yields its two users, then refuses the next page,
// which is the same page under the same cursor. Get and GetByEmail take the
// User example when it is the user asked for, and refuse it otherwise.
func TestPrismUsers(t *testing.T) {
	c := prismClient(t)
	ctx := t.Context()

	page, err := c.Users.List(ctx, nil)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if diff := cmp.Diff(prismUsers, page); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	checkJSON(t, *page, `{"next":"`+prismNext+`","previous":"`+prismPrevious+`","results":[`+
		`{"user_id":"`+prismJake+`","email":"john.doe@company.dev","full_name":"John Doe","first_name":"","last_name":"","position":"Senior Engineer"},`+
		`{"user_id":"`+prismJane+`","email":"jane.smith@company.dev","full_name":"Jane Smith","first_name":"","last_name":"","position":"Product Marketing Lead"}]}`)

	// Resuming at the page's Next sends the cursor (Prism ignores it).
	if page, err := c.Users.List(ctx, &opal.ListUsersOptions{Cursor: page.Next, PageSize: 1000}); err != nil {
		t.Errorf("List at Next: %v", err)
	} else if diff := cmp.Diff(prismUsers, page); diff != "" {
		t.Errorf("List at Next (-want +got):\n%s", diff)
	}
	// Two users on a page of one are more than was asked for.
	_, err = c.Users.List(ctx, &opal.ListUsersOptions{PageSize: 1})
	checkErr(t, "List, page size 1", err, invalid("GET /users", "the page of users asked for", "more than 1 result, the page size asked for"))

	checkWalk(t, "All", c.Users.All(ctx, nil), prismUsers.Results, cursorLoop("GET /users", 2))
	checkWalk(t, "Pages", c.Users.Pages(ctx, nil), []*opal.UsersList{prismUsers}, cursorLoop("GET /users", 2))

	john := &opal.User{UserID: prismJake, Email: "john.doe@company.dev", FullName: "John Doe", FirstName: "John", LastName: "Doe", Position: "Engineer"}
	for _, tt := range []struct {
		name string
		get  func() (*opal.User, error)
		want wantErr // none: the User example is the answer
	}{
		{"Get, the example's user", func() (*opal.User, error) { return c.Users.Get(ctx, prismJake) }, wantErr{}},
		{"Get, the example's user in upper case", func() (*opal.User, error) { return c.Users.Get(ctx, strings.ToUpper(prismJake)) }, wantErr{}},
		{"Get, another user", func() (*opal.User, error) { return c.Users.Get(ctx, prismBrett) },
			invalid("GET /user", "the user asked for", `its "user_id" is not the one asked for`)},
		{"GetByEmail, the example's email", func() (*opal.User, error) { return c.Users.GetByEmail(ctx, "John.Doe@company.dev") }, wantErr{}},
		{"GetByEmail, another email", func() (*opal.User, error) { return c.Users.GetByEmail(ctx, "jane.smith@company.dev") },
			invalid("GET /user", "the user asked for", `its "email" is not the one asked for`)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u, err := tt.get()
			if tt.want.is != nil {
				if u != nil {
					t.Errorf("returned a user: %+v", u)
				}
				checkErr(t, tt.name, err, tt.want)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(john, u); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestPrismResources: the resources list example decodes as the document
// writes it, and a walk refuses its repeated page, as for users. A filter
// the example does not pass (a type it does not state, IDs it does not
// hold) makes the page an error; Get takes the Resource example only when
// it is the resource asked for.
func TestPrismResources(t *testing.T) {
	c := prismClient(t)
	ctx := t.Context()

	page, err := c.Resources.List(ctx, nil)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if diff := cmp.Diff(prismResources, page); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	checkJSON(t, *page, `{"next":"`+prismNext+`","previous":"`+prismPrevious+`","results":[`+
		`{"resource_id":"`+prismListedResource+`","description":"This resource represents AWS IAM role \"SupportUser\".","admin_owner_id":"`+prismOwner+`","parent_resource_id":"`+prismParentResource+`","max_duration":120},`+
		`{"resource_id":"`+prismGCPResource+`","description":"This resource represents GCP project \"app-demo\".","admin_owner_id":"`+prismOwner+`","max_duration":360,"require_support_ticket":true}]}`)

	checkWalk(t, "All", c.Resources.All(ctx, nil), prismResources.Results, cursorLoop("GET /resources", 2))
	checkWalk(t, "Pages", c.Resources.Pages(ctx, nil), []*opal.ResourcesList{prismResources}, cursorLoop("GET /resources", 2))

	// The IDs of the example pass its filter, in any letter case, and the
	// filter goes as one comma-joined parameter, as the document says.
	ids := []string{strings.ToUpper(prismGCPResource), prismListedResource}
	if page, err := c.Resources.List(ctx, &opal.ListResourcesOptions{IDs: ids}); err != nil {
		t.Errorf("List of the example's IDs: %v", err)
	} else if diff := cmp.Diff(prismResources, page); diff != "" {
		t.Errorf("List of the example's IDs (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		name string
		opts *opal.ListResourcesOptions
		why  string
	}{
		{"a type the example does not state", &opal.ListResourcesOptions{Type: opal.ResourceTypeAWSIAMRole}, `results[0]: no "resource_type"`},
		{"an ID the example does not hold", &opal.ListResourcesOptions{IDs: []string{prismPathExample}}, `results[0]: its "resource_id" is not one of the IDs asked for`},
		{"one of the example's IDs", &opal.ListResourcesOptions{IDs: []string{prismListedResource}}, `results[1]: its "resource_id" is not one of the IDs asked for`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := invalid("GET /resources", "the page of resources asked for", tt.why)
			page, err := c.Resources.List(ctx, tt.opts)
			if page != nil {
				t.Errorf("List returned a page: %+v", page)
			}
			checkErr(t, "List", err, want)
			checkWalk(t, "All", c.Resources.All(ctx, tt.opts), nil, want)
		})
	}

	// The Resource example's remote ID is a JSON number, under "remote_id",
	// which the schema does not name: it is not decoded.
	r, err := c.Resources.Get(ctx, prismResource)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if diff := cmp.Diff(&opal.Resource{
		ResourceID: prismResource, AppID: "b5a5ca27-0ea3-4d86-9199-2126d57d1fbd", Description: prismSupportRoleText,
		AdminOwnerID: prismOwner, MaxDuration: 120, ParentResourceID: prismParentResource,
	}, r); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
	r, err = c.Resources.Get(ctx, prismListedResource)
	if r != nil {
		t.Errorf("Get of another resource returned %+v", r)
	}
	checkErr(t, "Get of another resource", err, invalid("GET /resources/"+prismListedResource, "the resource asked for", `its "resource_id" is not the one asked for`))
}

// TestPrismAccess: the access example is the whole answer about its
// resource: List decodes it, with its nulls, and All and AllOf yield its
// two rows and end, as it has no next cursor. About any other resource, and
// about any user (its rows are of two users), it is refused. Every request
// (page_size and limit on both endpoints, include_unmanaged, true or
// false) is one the document allows.
func TestPrismAccess(t *testing.T) {
	c := prismClient(t)
	ctx := t.Context()
	want := prismAccess(t)

	page, err := c.Access.List(ctx, prismAccessResource, nil)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if diff := cmp.Diff(want, page); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	checkJSON(t, *page, prismAccessJSON)

	for _, opts := range []*opal.ListAccessOptions{nil, {PageSize: 2}, {PageSize: 1000}} {
		items, errs := walk(c.Access.All(ctx, prismAccessResource, opts))
		if diff := cmp.Diff(want.Results, items); diff != "" || errs != nil {
			t.Errorf("All(%+v): errors %v, rows (-want +got):\n%s", opts, errs, diff)
		}
		pages, errs := walk(c.Access.Pages(ctx, prismAccessResource, opts))
		if diff := cmp.Diff([]*opal.ResourceAccessUserList{want}, pages); diff != "" || errs != nil {
			t.Errorf("Pages(%+v): errors %v, pages (-want +got):\n%s", opts, errs, diff)
		}
	}
	_, err = c.Access.List(ctx, prismAccessResource, &opal.ListAccessOptions{PageSize: 1})
	checkErr(t, "List, page size 1", err, invalid("GET /resources/"+prismAccessResource+"/users", "the page of the resource's users asked for", "more than 1 result, the page size asked for"))

	t.Run("another resource", func(t *testing.T) {
		want := invalid("GET /resources/"+prismPathExample+"/users", "the page of the resource's users asked for", `results[0]: its "resource_id" is not the one asked for`)
		page, err := c.Access.List(ctx, prismPathExample, nil)
		if page != nil {
			t.Errorf("List returned a page: %+v", page)
		}
		checkErr(t, "List", err, want)
		checkWalk(t, "All", c.Access.All(ctx, prismPathExample, nil), nil, want)
	})

	t.Run("AllOf", func(t *testing.T) {
		before := goleak.IgnoreCurrent()
		// The same resource in two letter cases is walked once.
		items, errs := walk(c.Access.AllOf(ctx, []string{prismAccessResource, strings.ToUpper(prismAccessResource)}, nil))
		if diff := cmp.Diff(want.Results, items); diff != "" || errs != nil {
			t.Errorf("AllOf: errors %v, rows (-want +got):\n%s", errs, diff)
		}

		// Another resource's refused page ends the sweep. The two walks run
		// at once: the example's rows come before the error or not at all.
		items, errs = walk(c.Access.AllOf(ctx, []string{prismAccessResource, prismPathExample}, &opal.ListAccessOptions{PageSize: 500}))
		if len(items) != 0 {
			if diff := cmp.Diff(want.Results, items); diff != "" {
				t.Errorf("AllOf: rows before the error (-want +got):\n%s", diff)
			}
		}
		if len(errs) != 1 {
			t.Fatalf("AllOf: errors %v, want one", errs)
		}
		checkErr(t, "AllOf", errs[0], wantErr{opal.ErrInvalidResponse, "opal: resource " + prismPathExample + ": GET /resources/" + prismPathExample +
			`/users: 200 OK response is not the page of the resource's users asked for: results[0]: its "resource_id" is not the one asked for`})
		var re *opal.ResourceError
		if !errors.As(errs[0], &re) || re.ResourceID != prismPathExample {
			t.Errorf("AllOf error %#v is not a *ResourceError of %s", errs[0], prismPathExample)
		}
		noSweepLeft(t, before)
	})

	// The example's rows are of two users: no page of it is one user's.
	for _, tt := range []struct {
		user string
		opts *opal.ListUserAccessOptions
		why  string
	}{
		{prismJake, nil, "results[1]"},
		{prismJake, &opal.ListUserAccessOptions{IncludeUnmanaged: true, PageSize: 1000}, "results[1]"},
		{prismBrett, &opal.ListUserAccessOptions{IncludeUnmanaged: false, Cursor: prismNext}, "results[0]"},
		{prismPathExample, &opal.ListUserAccessOptions{IncludeUnmanaged: true}, "results[0]"},
	} {
		t.Run("user "+tt.user, func(t *testing.T) {
			want := invalid("GET /resources/users/"+tt.user, "the page of the user's resources asked for", tt.why+`: its "user_id" is not the one asked for`)
			page, err := c.Access.ListForUser(ctx, tt.user, tt.opts)
			if page != nil {
				t.Errorf("ListForUser returned a page: %+v", page)
			}
			checkErr(t, "ListForUser", err, want)
			checkWalk(t, "AllForUser", c.Access.AllForUser(ctx, tt.user, tt.opts), nil, want)
			checkWalk(t, "PagesForUser", c.Access.PagesForUser(ctx, tt.user, tt.opts), nil, want)
		})
	}
}

// TestPrismBaseURL: Prism serves the API at its root, not under the /v1 of
// the document's server URL, so a client with WithBaseURL, which fills in
// /v1, gets a 404 naming the path it requested, and retries nothing.
func TestPrismBaseURL(t *testing.T) {
	c := prismClient(t, opal.WithBaseURL(prismURL(t)))
	_, err := c.Users.List(t.Context(), nil)
	var apiErr *opal.APIError
	if !errors.Is(err, opal.ErrNotFound) || !errors.As(err, &apiErr) {
		t.Fatalf("List: %v, want an *APIError matching ErrNotFound", err)
	}
	if apiErr.Method != "GET" || apiErr.Path != "/v1/users" || apiErr.Attempts != 1 {
		t.Errorf("List: %s %s after %d attempts, want GET /v1/users after 1", apiErr.Method, apiErr.Path, apiErr.Attempts)
	}
	checkNoTokenInChain(t, err, testToken)
}

// TestPrismRefusesWhatTheDocumentDoes: a request the document does not
// allow (a resource ID that is not a UUID, which the library sends as it
// is given) is refused by Prism with a 422, which the library reports as
// an *APIError, once: the successes of the tests above are requests
// Prism checked against the document.
func TestPrismRefusesWhatTheDocumentDoes(t *testing.T) {
	c := prismClient(t)
	_, err := c.Resources.Get(t.Context(), "not-a-uuid")
	var apiErr *opal.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 422 || apiErr.Path != "/resources/not-a-uuid" || apiErr.Attempts != 1 {
		t.Fatalf("Get: %#v, want an *APIError of GET /resources/not-a-uuid: 422, after 1 attempt", err)
	}
	if !strings.Contains(string(apiErr.Body), `resource_id must match format \"uuid\"`) {
		t.Errorf("422 body %q does not say why", apiErr.Body)
	}
	checkNoTokenInChain(t, err, testToken)
}
