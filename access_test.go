package opal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestAccessDecodesThePublishedExample: the example of ResourceAccessUserList
// in Opal's reference decodes, though its rows have no access level and no
// propagation status. It is about one resource and two users, so a mock
// answering it answers only that resource's listing: for one of the users
// it is a page of another user's access.
func TestAccessDecodesThePublishedExample(t *testing.T) {
	body, err := os.ReadFile("testdata/access_example.json")
	if err != nil {
		t.Fatal(err)
	}
	const resource, jake = "1b978423-db0a-4037-a4cf-f79c60cb67b3", "29827fb8-f2dd-4e80-9576-28e31e9934ac"
	c, mux, _ := setup(t)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, string(body)) })

	got, err := c.Access.List(context.Background(), resource, nil)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	jan23, feb3 := mustTime(t, "2022-01-23T04:56:07Z"), mustTime(t, "2022-02-03T12:33:02Z")
	want := &ResourceAccessUserList{Results: []ResourceAccessUser{
		{ResourceID: resource, UserID: jake, Email: "jake@company.dev", FullName: "Jake Barnes",
			ExpirationDate: &jan23, HasDirectAccess: true, NumAccessPaths: 2},
		{ResourceID: resource, UserID: "7646aa9a-e2ee-4eb5-8c62-91f29038a373", Email: "brett@company.dev", FullName: "Brett Ashley",
			ExpirationDate: &feb3, HasDirectAccess: true, NumAccessPaths: 3},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	var direct ResourceAccessUserList
	if err := json.Unmarshal(body, &direct); err != nil {
		t.Fatalf("json.Unmarshal: %v", err)
	}
	if diff := cmp.Diff(want, &direct); diff != "" {
		t.Errorf("json.Unmarshal (-want +got):\n%s", diff)
	}

	_, err = c.Access.ListForUser(context.Background(), jake, nil)
	const wantErr = `opal: GET /v1/resources/users/29827fb8-f2dd-4e80-9576-28e31e9934ac: 200 OK response is not a page of the user's resources: results[1]: its "user_id" is not the one asked for`
	if !errors.Is(err, ErrInvalidResponse) || err == nil || err.Error() != wantErr {
		t.Errorf("ListForUser(%s): %v, want %q", jake, err, wantErr)
	}
}

// TestAccessDecodingIsLenient: a row's expiration date is nil exactly when
// the API says null or leaves it out, and any RFC 3339 time otherwise; its
// propagation status is "" when null or absent, else the object's status;
// a missing access level is the default level.
func TestAccessDecodingIsLenient(t *testing.T) {
	jan23 := mustTime(t, "2022-01-23T04:56:07Z")
	leap := mustTime(t, "2017-01-01T00:00:00Z")
	reader := ResourceAccessLevel{Name: "Reader", RemoteID: "roles/reader"}
	tests := []struct {
		name string
		item string // the fields besides resource_id
		want ResourceAccessUser
	}{
		{"null expiration date", `"expiration_date":null`, ResourceAccessUser{}},
		{"no expiration date", `"user_id":"u1"`, ResourceAccessUser{UserID: "u1"}},
		{"an expiration date", `"expiration_date":"2022-01-23T04:56:07.000Z"`, ResourceAccessUser{ExpirationDate: &jan23}},
		{"an RFC 3339 time time.Time refuses", `"expiration_date":"2016-12-31t23:59:60z"`, ResourceAccessUser{ExpirationDate: &leap}},
		{"null propagation status", `"propagation_status":null`, ResourceAccessUser{}},
		{"a propagation status", `"propagation_status":{"status":"ERR_REMOTE_THROTTLE"}`, ResourceAccessUser{PropagationStatus: "ERR_REMOTE_THROTTLE"}},
		{"a status object without its status", `"propagation_status":{}`, ResourceAccessUser{}},
		{"null access level", `"access_level":null`, ResourceAccessUser{}},
		{"an access level", `"access_level":{"access_level_name":"Reader","access_level_remote_id":"roles/reader"}`, ResourceAccessUser{AccessLevel: reader}},
		{"nulls", `"email":null,"full_name":null,"has_direct_access":null,"num_access_paths":null`, ResourceAccessUser{}},
		{"fields added since", `"access_paths":[{"group_id":"g1"}],"num_access_paths":4`, ResourceAccessUser{NumAccessPaths: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, _ := setup(t)
			mux.HandleFunc("/v1/resources/r1/users", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, `{"results":[{"resource_id":"r1",`+tt.item+`}]}`)
			})
			got, err := c.Access.List(context.Background(), "r1", nil)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			want := tt.want
			want.ResourceID = "r1"
			if diff := cmp.Diff([]ResourceAccessUser{want}, got.Results); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
			var direct ResourceAccessUser
			if err := json.Unmarshal([]byte(`{"resource_id":"r1",`+tt.item+`}`), &direct); err != nil {
				t.Fatalf("json.Unmarshal: %v", err)
			}
			if diff := cmp.Diff(want, direct); diff != "" {
				t.Errorf("json.Unmarshal (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAccessRefusesRowsThatDoNotDecode: a row whose fields are not of their
// types is an error that names the field and the row, and does not quote
// the server's value.
func TestAccessRefusesRowsThatDoNotDecode(t *testing.T) {
	tests := []struct{ item, want string }{
		{`"expiration_date":"tomorrow-SECRET"`, "results[0].expiration_date: not an RFC 3339 time"},
		{`"propagation_status":"SUCCESS"`, "results[0].propagation_status is a string, want an object"},
		{`"num_access_paths":"two"`, "results[0].num_access_paths is a string, want an integer"},
		{`"has_direct_access":"yes"`, "results[0].has_direct_access is a string, want a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.item, func(t *testing.T) {
			c, mux, _ := setup(t)
			mux.HandleFunc("/v1/resources/r1/users", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, `{"results":[{"resource_id":"r1",`+tt.item+`}]}`)
			})
			_, err := c.Access.List(context.Background(), "r1", nil)
			if !errors.Is(err, ErrInvalidResponse) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "SECRET") {
				t.Errorf("List: %v, want an ErrInvalidResponse saying %q", err, tt.want)
			}
		})
	}
}

// TestAccessJSONHasTheAPIsFieldNames: a row encodes in the API's field
// names, with null for no expiry and no propagation status, and decodes
// back to the same value.
func TestAccessJSONHasTheAPIsFieldNames(t *testing.T) {
	expires := time.Date(2026, 12, 24, 18, 0, 0, 0, time.FixedZone("CET", 3600))
	checkJSON(t, ResourceAccessUser{
		ResourceID: "r1", UserID: "u1", Email: "jane@company.dev", FullName: "Jane Smith",
		AccessLevel:    ResourceAccessLevel{Name: "Reader", RemoteID: "roles/reader"},
		ExpirationDate: &expires, HasDirectAccess: true, NumAccessPaths: 2, PropagationStatus: "ERR_TIMEOUT",
	}, `{"resource_id":"r1","user_id":"u1","email":"jane@company.dev","full_name":"Jane Smith",`+
		`"access_level":{"access_level_name":"Reader","access_level_remote_id":"roles/reader"},`+
		`"expiration_date":"2026-12-24T18:00:00+01:00","has_direct_access":true,"num_access_paths":2,`+
		`"propagation_status":{"status":"ERR_TIMEOUT"}}`)
	checkJSON(t, ResourceAccessUser{ResourceID: "r1", UserID: "u1"},
		`{"resource_id":"r1","user_id":"u1","email":"","full_name":"",`+
			`"access_level":{"access_level_name":"","access_level_remote_id":""},`+
			`"expiration_date":null,"has_direct_access":false,"num_access_paths":0,"propagation_status":null}`)
	checkJSON(t, ResourceAccessUserList{Next: "n", Results: []ResourceAccessUser{}}, `{"next":"n","previous":null,"results":[]}`)
}

// TestAccessRowsAreNeverMerged: a user who holds a resource at two access
// levels is two rows, in the order the server sent them.
func TestAccessRowsAreNeverMerged(t *testing.T) {
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/resources/r1/users", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"results":[
			{"resource_id":"r1","user_id":"u1","access_level":{"access_level_name":"Reader","access_level_remote_id":"reader"}},
			{"resource_id":"r1","user_id":"u1","access_level":{"access_level_name":"Writer","access_level_remote_id":"writer"},"has_direct_access":true},
			{"resource_id":"r1","user_id":"u1","access_level":{"access_level_name":"Writer","access_level_remote_id":"writer"},"has_direct_access":true}]}`)
	})
	var got []ResourceAccessUser
	for a, err := range c.Access.All(context.Background(), "r1", nil) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a)
	}
	reader, writer := ResourceAccessLevel{"Reader", "reader"}, ResourceAccessLevel{"Writer", "writer"}
	want := []ResourceAccessUser{
		{ResourceID: "r1", UserID: "u1", AccessLevel: reader},
		{ResourceID: "r1", UserID: "u1", AccessLevel: writer, HasDirectAccess: true},
		{ResourceID: "r1", UserID: "u1", AccessLevel: writer, HasDirectAccess: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("All (-want +got):\n%s", diff)
	}
}

// TestAccessQueries: the page size goes as page_size and limit alike, the
// cursor as cursor, and include_unmanaged always, true or false.
func TestAccessQueries(t *testing.T) {
	tests := []struct {
		name string
		call func(c *Client) error
		path string
		want url.Values
	}{
		{"List, nil options", func(c *Client) error { _, err := c.Access.List(t.Context(), "r1", nil); return err },
			"/v1/resources/r1/users", url.Values{}},
		{"List, every option", func(c *Client) error {
			_, err := c.Access.List(t.Context(), "r1", &ListAccessOptions{Cursor: "cD0y", PageSize: 50})
			return err
		}, "/v1/resources/r1/users", url.Values{"cursor": {"cD0y"}, "page_size": {"50"}, "limit": {"50"}}},
		{"All, nil options", func(c *Client) error { return firstErr(c.Access.All(t.Context(), "r1", nil)) },
			"/v1/resources/r1/users", url.Values{"page_size": {"1000"}, "limit": {"1000"}}},
		{"ListForUser, nil options", func(c *Client) error { _, err := c.Access.ListForUser(t.Context(), "u1", nil); return err },
			"/v1/resources/users/u1", url.Values{"include_unmanaged": {"false"}}},
		{"ListForUser, every option", func(c *Client) error {
			_, err := c.Access.ListForUser(t.Context(), "u1", &ListUserAccessOptions{Cursor: "cD0y", PageSize: 7, IncludeUnmanaged: true})
			return err
		}, "/v1/resources/users/u1", url.Values{"cursor": {"cD0y"}, "page_size": {"7"}, "limit": {"7"}, "include_unmanaged": {"true"}}},
		{"AllForUser, nil options", func(c *Client) error { return firstErr(c.Access.AllForUser(t.Context(), "u1", nil)) },
			"/v1/resources/users/u1", url.Values{"page_size": {"1000"}, "limit": {"1000"}, "include_unmanaged": {"false"}}},
		{"PagesForUser, page size", func(c *Client) error {
			return firstErr(c.Access.PagesForUser(t.Context(), "u1", &ListUserAccessOptions{PageSize: 3}))
		}, "/v1/resources/users/u1", url.Values{"page_size": {"3"}, "limit": {"3"}, "include_unmanaged": {"false"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ps := newListServer(t, tt.path, map[string]string{"": `{"results":[]}`, "cD0y": `{"results":[]}`})
			if err := tt.call(c); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]url.Values{tt.want}, ps.queries); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
		})
	}
}

// firstErr ranges over seq and returns its first error, if any.
func firstErr[T any](seq func(func(T, error) bool)) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return nil
}

// TestAccessSendsTheIDAsOneSegment: whatever a resource or user ID holds,
// the server sees it as one escaped segment of the endpoint's path, and no
// request reaches another endpoint.
func TestAccessSendsTheIDAsOneSegment(t *testing.T) {
	tests := []struct{ id, escaped string }{
		{"1b978423-db0a-4037-a4cf-f79c60cb67b3", "1b978423-db0a-4037-a4cf-f79c60cb67b3"},
		{"a/b", "a%2Fb"},
		{"../users", "..%2Fusers"},
		{"%2F", "%252F"},
		{"?", "%3F"},
		{"a?user_id=u1", "a%3Fuser_id=u1"},
		{"#", "%23"},
		{"a b", "a%20b"},
		{"...", "..."},
		{"users/u1", "users%2Fu1"},
	}
	for _, tt := range tests {
		for _, byUser := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/by user %v", tt.id, byUser), func(t *testing.T) {
				c, mux, _ := setup(t)
				var gotPath, gotID string
				pattern, wantPath := "GET /v1/resources/{id}/users", "/v1/resources/"+tt.escaped+"/users"
				if byUser {
					pattern, wantPath = "GET /v1/resources/users/{id}", "/v1/resources/users/"+tt.escaped
				}
				mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
					gotPath, gotID = r.URL.EscapedPath(), r.PathValue("id")
					body, _ := json.Marshal(ResourceAccessUserList{Results: []ResourceAccessUser{{ResourceID: gotID, UserID: gotID}}})
					writeJSON(w, http.StatusOK, string(body))
				})
				var elsewhere atomic.Int32
				mux.HandleFunc("/", countingHandler(&elsewhere, func(w http.ResponseWriter, r *http.Request) {
					writeJSON(w, http.StatusOK, fmt.Sprintf(`{"results":[{"resource_id":%q,"user_id":%q}]}`, tt.id, tt.id))
				}))
				var err error
				if byUser {
					_, err = c.Access.ListForUser(context.Background(), tt.id, nil)
				} else {
					_, err = c.Access.List(context.Background(), tt.id, nil)
				}
				if err != nil {
					t.Fatalf("list: %v", err)
				}
				if gotPath != wantPath || gotID != tt.id {
					t.Errorf("the server saw %q, ID %q; want %q, ID %q", gotPath, gotID, wantPath, tt.id)
				}
				if n := elsewhere.Load(); n != 0 {
					t.Errorf("%d requests reached another endpoint", n)
				}
			})
		}
	}
}

// TestAccessRefusesIDsThatAreNotOneSegment: "", "." and ".." name no
// object, and a resource named "users" would reach the endpoint of the user
// "users"; each is refused by every method, and nothing is sent.
func TestAccessRefusesIDsThatAreNotOneSegment(t *testing.T) {
	byResource := map[string]func(c *Client, id string) error{
		"List":  func(c *Client, id string) error { _, err := c.Access.List(t.Context(), id, nil); return err },
		"Pages": func(c *Client, id string) error { return firstErr(c.Access.Pages(t.Context(), id, nil)) },
		"All":   func(c *Client, id string) error { return firstErr(c.Access.All(t.Context(), id, nil)) },
		"AllOf": func(c *Client, id string) error { return firstErr(c.Access.AllOf(t.Context(), []string{id}, nil)) },
	}
	byUser := map[string]func(c *Client, id string) error{
		"ListForUser":  func(c *Client, id string) error { _, err := c.Access.ListForUser(t.Context(), id, nil); return err },
		"PagesForUser": func(c *Client, id string) error { return firstErr(c.Access.PagesForUser(t.Context(), id, nil)) },
		"AllForUser":   func(c *Client, id string) error { return firstErr(c.Access.AllForUser(t.Context(), id, nil)) },
	}
	tests := []struct {
		calls map[string]func(c *Client, id string) error
		id    string
		want  string
	}{
		{byResource, "", "opal: invalid argument: empty resource ID"},
		{byResource, ".", `opal: invalid argument: resource ID "." is not an ID`},
		{byResource, "..", `opal: invalid argument: resource ID ".." is not an ID`},
		{byResource, "users", `opal: invalid argument: resource ID "users" would reach GET /resources/users/{user_id}, not this resource`},
		{byResource, "Users", `opal: invalid argument: resource ID "Users" would reach GET /resources/users/{user_id}, not this resource`},
		{byUser, "", "opal: invalid argument: empty user ID"},
		{byUser, ".", `opal: invalid argument: user ID "." is not an ID`},
		{byUser, "..", `opal: invalid argument: user ID ".." is not an ID`},
	}
	for _, tt := range tests {
		for name, call := range tt.calls {
			t.Run(fmt.Sprintf("%s(%q)", name, tt.id), func(t *testing.T) {
				c, mux, _ := setup(t)
				var sent atomic.Int32
				mux.HandleFunc("/", countingHandler(&sent, func(w http.ResponseWriter, r *http.Request) {
					writeJSON(w, http.StatusOK, `{"results":[]}`)
				}))
				err := call(c, tt.id)
				if !errors.Is(err, ErrInvalidArgument) || !strings.HasPrefix(err.Error(), tt.want) {
					t.Errorf("error %v, want one starting %q", err, tt.want)
				}
				if n := sent.Load(); n != 0 {
					t.Errorf("%d requests sent, want none", n)
				}
			})
		}
	}
}

// TestAccessLoopErrorHoldsNoToken: the cursor-loop error names the request
// by its path, which holds the ID: a token passed as an ID by mistake is
// redacted from it.
func TestAccessLoopErrorHoldsNoToken(t *testing.T) {
	c, mux, _ := setup(t)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, fmt.Sprintf(`{"next":"c1","results":[{"resource_id":%q,"user_id":%q}]}`, testToken, testToken))
	})
	for name, seq := range map[string]func(func(ResourceAccessUser, error) bool){
		"All":        c.Access.All(context.Background(), testToken, nil),
		"AllForUser": c.Access.AllForUser(context.Background(), testToken, nil),
	} {
		err := firstErr(seq)
		if !errors.Is(err, ErrCursorLoop) {
			t.Fatalf("%s: error %v, want one matching ErrCursorLoop", name, err)
		}
		checkNoTokenInChain(t, err, testToken)
	}
}
