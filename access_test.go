package opal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// TestAccessDecodingIsLenient: a row's expiration date is nil exactly when
// the API says null or leaves it out, and any RFC 3339 time otherwise; its
// propagation status is "" when null or absent, else the object's status;
// a missing access level is the default level.
func TestAccessDecodingIsLenient(t *testing.T) {
	jan23 := mustTime(t, "2022-01-23T04:56:07Z")
	leap := mustTime(t, "2017-01-01T00:00:00Z")
	reader := opal.ResourceAccessLevel{Name: "Reader", RemoteID: "roles/reader"}
	tests := []struct {
		name string
		item string // the fields besides resource_id and user_id
		want opal.ResourceAccessUser
	}{
		{"null expiration date", `"expiration_date":null`, opal.ResourceAccessUser{}},
		{"no expiration date", `"full_name":"Jo"`, opal.ResourceAccessUser{FullName: "Jo"}},
		{"an expiration date", `"expiration_date":"2022-01-23T04:56:07.000Z"`, opal.ResourceAccessUser{ExpirationDate: &jan23}},
		{"an RFC 3339 time time.Time refuses", `"expiration_date":"2016-12-31t23:59:60z"`, opal.ResourceAccessUser{ExpirationDate: &leap}},
		{"null propagation status", `"propagation_status":null`, opal.ResourceAccessUser{}},
		{"a propagation status", `"propagation_status":{"status":"ERR_REMOTE_THROTTLE"}`, opal.ResourceAccessUser{PropagationStatus: "ERR_REMOTE_THROTTLE"}},
		{"a status object without its status", `"propagation_status":{}`, opal.ResourceAccessUser{}},
		{"null access level", `"access_level":null`, opal.ResourceAccessUser{}},
		{"an access level", `"access_level":{"access_level_name":"Reader","access_level_remote_id":"roles/reader"}`, opal.ResourceAccessUser{AccessLevel: reader}},
		{"nulls", `"email":null,"full_name":null,"has_direct_access":null,"num_access_paths":null`, opal.ResourceAccessUser{}},
		{"fields added since", `"access_paths":[{"group_id":"g1"}],"num_access_paths":4`, opal.ResourceAccessUser{NumAccessPaths: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, _ := setup(t)
			mux.HandleFunc("/v1/resources/r1/users", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, `{"results":[{"resource_id":"r1","user_id":"u1",`+tt.item+`}]}`)
			})
			got, err := c.Access.List(context.Background(), "r1", nil)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			want := tt.want
			want.ResourceID, want.UserID = "r1", "u1"
			if diff := cmp.Diff([]opal.ResourceAccessUser{want}, got.Results); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
			var direct opal.ResourceAccessUser
			if err := json.Unmarshal([]byte(`{"resource_id":"r1","user_id":"u1",`+tt.item+`}`), &direct); err != nil {
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
			if !errors.Is(err, opal.ErrInvalidResponse) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "SECRET") {
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
	checkJSON(t, opal.ResourceAccessUser{
		ResourceID: "r1", UserID: "u1", Email: "jane@company.dev", FullName: "Jane Smith",
		AccessLevel:    opal.ResourceAccessLevel{Name: "Reader", RemoteID: "roles/reader"},
		ExpirationDate: &expires, HasDirectAccess: true, NumAccessPaths: 2, PropagationStatus: "ERR_TIMEOUT",
	}, `{"resource_id":"r1","user_id":"u1","email":"jane@company.dev","full_name":"Jane Smith",`+
		`"access_level":{"access_level_name":"Reader","access_level_remote_id":"roles/reader"},`+
		`"expiration_date":"2026-12-24T18:00:00+01:00","has_direct_access":true,"num_access_paths":2,`+
		`"propagation_status":{"status":"ERR_TIMEOUT"}}`)
	checkJSON(t, opal.ResourceAccessUser{ResourceID: "r1", UserID: "u1"},
		`{"resource_id":"r1","user_id":"u1","email":"","full_name":"",`+
			`"access_level":{"access_level_name":"","access_level_remote_id":""},`+
			`"expiration_date":null,"has_direct_access":false,"num_access_paths":0,"propagation_status":null}`)
	checkJSON(t, opal.ResourceAccessUserList{Next: "n", Results: []opal.ResourceAccessUser{}}, `{"next":"n","previous":null,"results":[]}`)
}

// TestAccessRowsAreNeverMerged: a user who holds a resource at two access
// levels is two rows, in the order the server sent them.
func TestAccessRowsAreNeverMerged(t *testing.T) {
	reader, writer := opal.ResourceAccessLevel{Name: "Reader", RemoteID: "reader"}, opal.ResourceAccessLevel{Name: "Writer", RemoteID: "writer"}
	want := []opal.ResourceAccessUser{
		{ResourceID: "r1", UserID: "u1", AccessLevel: reader},
		{ResourceID: "r1", UserID: "u1", AccessLevel: writer, HasDirectAccess: true},
		{ResourceID: "r1", UserID: "u1", AccessLevel: writer, HasDirectAccess: true},
	}
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.AddAccess(want...)
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	var got []opal.ResourceAccessUser
	for a, err := range c.Access.All(t.Context(), "r1", nil) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("All (-want +got):\n%s", diff)
	}
}

// TestAccessIncludeUnmanagedIsAlwaysSent: a user's access is asked for with
// include_unmanaged, true or false, by every method, so that the answer does
// not depend on a default the reference does not state. (The page size and
// the cursor go as for every list: TestListsSendPageSize.)
func TestAccessIncludeUnmanagedIsAlwaysSent(t *testing.T) {
	methods := map[string]func(c *opal.Client, opts *opal.ListUserAccessOptions) error{
		"ListForUser": func(c *opal.Client, opts *opal.ListUserAccessOptions) error {
			_, err := c.Access.ListForUser(t.Context(), "u1", opts)
			return err
		},
		"PagesForUser": func(c *opal.Client, opts *opal.ListUserAccessOptions) error {
			return firstErr(c.Access.PagesForUser(t.Context(), "u1", opts))
		},
		"AllForUser": func(c *opal.Client, opts *opal.ListUserAccessOptions) error {
			return firstErr(c.Access.AllForUser(t.Context(), "u1", opts))
		},
	}
	tests := []struct {
		name string
		opts *opal.ListUserAccessOptions
		want string
	}{
		{"nil options", nil, "false"},
		{"false", &opal.ListUserAccessOptions{IncludeUnmanaged: false}, "false"},
		{"true", &opal.ListUserAccessOptions{IncludeUnmanaged: true}, "true"},
	}
	for name, call := range methods {
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				srv := opaltest.NewServer()
				defer srv.Close()
				srv.AddAccess(opal.ResourceAccessUser{ResourceID: "r1", UserID: "u1"})
				c, err := srv.Client()
				if err != nil {
					t.Fatal(err)
				}
				if err := call(c, tt.opts); err != nil {
					t.Fatal(err)
				}
				for _, q := range queries(srv) {
					if got := q["include_unmanaged"]; len(got) != 1 || got[0] != tt.want {
						t.Errorf("include_unmanaged %q sent, want %q", got, tt.want)
					}
				}
			})
		}
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

// TestAccessLoopErrorHoldsNoToken: the cursor-loop error names the request
// by its path, which holds the ID: a token passed as an ID by mistake is
// redacted from it.
func TestAccessLoopErrorHoldsNoToken(t *testing.T) {
	c, mux, _ := setup(t)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, fmt.Sprintf(`{"next":"c1","results":[{"resource_id":%q,"user_id":%q}]}`, testToken, testToken))
	})
	for name, seq := range map[string]func(func(opal.ResourceAccessUser, error) bool){
		"All":        c.Access.All(context.Background(), testToken, nil),
		"AllForUser": c.Access.AllForUser(context.Background(), testToken, nil),
	} {
		err := firstErr(seq)
		if !errors.Is(err, opal.ErrCursorLoop) {
			t.Fatalf("%s: error %v, want one matching ErrCursorLoop", name, err)
		}
		checkNoTokenInChain(t, err, testToken)
	}
}
