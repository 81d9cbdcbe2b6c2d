package opal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSessionsQuery: the resource and the user go as resource_id and
// user_id, escaped, as given, and a zero option is not sent.
func TestSessionsQuery(t *testing.T) {
	tests := []struct {
		name       string
		resourceID string
		opts       *opal.ListSessionsOptions
		want       url.Values
	}{
		{"resource only", "1b978423-db0a-4037-a4cf-f79c60cb67b3", nil,
			url.Values{"resource_id": {"1b978423-db0a-4037-a4cf-f79c60cb67b3"}}},
		{"zero options send nothing more", "r1", &opal.ListSessionsOptions{},
			url.Values{"resource_id": {"r1"}}},
		{"every option", "r1", &opal.ListSessionsOptions{UserID: "u1", Cursor: "cD0yMDIx", PageSize: 50},
			url.Values{"resource_id": {"r1"}, "user_id": {"u1"}, "cursor": {"cD0yMDIx"}, "page_size": {"50"}}},
		{"IDs with query syntax are escaped", "a&user_id=evil#x y", &opal.ListSessionsOptions{UserID: "u=1&page_size=9", Cursor: "c+/=%"},
			url.Values{"resource_id": {"a&user_id=evil#x y"}, "user_id": {"u=1&page_size=9"}, "cursor": {"c+/=%"}}},
		{"white space is sent as given", " r ", &opal.ListSessionsOptions{UserID: "\tu"},
			url.Values{"resource_id": {" r "}, "user_id": {"\tu"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, _ := setup(t)
			var got url.Values
			mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet {
					t.Errorf("method = %s, want GET", r.Method)
				}
				got = r.URL.Query()
				writeJSON(w, http.StatusOK, `{"results":[]}`)
			})
			if _, err := c.Sessions.List(context.Background(), tt.resourceID, tt.opts); err != nil {
				t.Fatalf("List: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSessionsRejectAnEmptyResourceID: sessions of no resource are an
// error that says so, from List, Pages and All alike, with no page and no
// session, and nothing is sent.
func TestSessionsRejectAnEmptyResourceID(t *testing.T) {
	srv := opaltest.NewServer()
	defer srv.Close()
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	list, err := c.Sessions.List(ctx, "", nil)
	if list != nil {
		t.Errorf("List returned a page with its error")
	}
	got := map[string][]error{"List": {err}}
	for p, err := range c.Sessions.Pages(ctx, "", nil) {
		if p != nil {
			t.Errorf("Pages yielded a page")
		}
		got["Pages"] = append(got["Pages"], err)
	}
	for s, err := range c.Sessions.All(ctx, "", nil) {
		if s != (opal.Session{}) {
			t.Errorf("All yielded a session")
		}
		got["All"] = append(got["All"], err)
	}
	for name, errs := range got {
		if len(errs) != 1 || !errors.Is(errs[0], opal.ErrInvalidArgument) || errs[0].Error() != "opal: invalid argument: empty resource ID" {
			t.Errorf("%s: errors %v, want one ErrInvalidArgument saying the resource ID is empty", name, errs)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

// TestSessionDecodingIsLenient: a session's access level may be null or
// absent. json.Unmarshal takes a session without an expiration date as the
// zero time; the sessions list refuses it (TestListsRefuseItemsNotAskedFor).
// (A page's own leniency: TestListsDecodeLeniently.)
func TestSessionDecodingIsLenient(t *testing.T) {
	admin := opal.ResourceAccessLevel{Name: "AdminRole", RemoteID: "arn:aws:iam::590304332660:role/AdministratorAccess"}
	const session = `"resource_id":"r","user_id":"u","expiration_date":"2030-01-01T00:00:00Z"`
	tests := []struct {
		name string
		body string
		want *opal.SessionsList
	}{
		{"access level", `{"results":[{` + session + `,"access_level":{"access_level_name":"AdminRole","access_level_remote_id":"arn:aws:iam::590304332660:role/AdministratorAccess"}}]}`,
			&opal.SessionsList{Results: []opal.Session{{ResourceID: "r", UserID: "u", ExpirationDate: in2030, AccessLevel: admin}}}},
		{"null access level", `{"results":[{` + session + `,"access_level":null}]}`,
			&opal.SessionsList{Results: []opal.Session{{ResourceID: "r", UserID: "u", ExpirationDate: in2030}}}},
		{"no access level", `{"results":[{` + session + `}]}`,
			&opal.SessionsList{Results: []opal.Session{{ResourceID: "r", UserID: "u", ExpirationDate: in2030}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := listBody(t, tt.body)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
		})
	}
	for _, body := range []string{`{"resource_id":"r","expiration_date":null}`, `{"resource_id":"r"}`} {
		var s opal.Session
		if err := json.Unmarshal([]byte(body), &s); err != nil || s != (opal.Session{ResourceID: "r"}) {
			t.Errorf("json.Unmarshal(%s) = %+v, %v; want the zero time", body, s, err)
		}
	}
}

// listBody lists the sessions of a server answering with body.
func listBody(t *testing.T, body string) *opal.SessionsList {
	t.Helper()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, body)
	})
	got, err := c.Sessions.List(context.Background(), "r", nil)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return got
}

func TestExpirationDateTakesAnyRFC3339Time(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2022-01-23T04:56:07.000Z", "2022-01-23T04:56:07Z"},
		{"2022-01-23T04:56:07Z", "2022-01-23T04:56:07Z"},
		{"2022-01-23T04:56:07.123456789Z", "2022-01-23T04:56:07.123456789Z"},
		{"2022-01-23T06:56:07+02:00", "2022-01-23T04:56:07Z"},
		{"2022-01-22T23:26:07-05:30", "2022-01-23T04:56:07Z"},
		{"2022-01-23T04:56:07-00:00", "2022-01-23T04:56:07Z"},
		{"2022-01-23t04:56:07.5z", "2022-01-23T04:56:07.5Z"},
		{"2022-01-23 04:56:07Z", "2022-01-23T04:56:07Z"},
		{"2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := listBody(t, `{"results":[{"resource_id":"r","user_id":"u","expiration_date":"`+tt.in+`"}]}`)
			want := mustTime(t, tt.want)
			if len(got.Results) != 1 || !got.Results[0].ExpirationDate.Equal(want) {
				t.Errorf("expiration_date %q decoded to %v, want %v", tt.in, got.Results, want)
			}
			var s opal.Session
			if err := json.Unmarshal([]byte(`{"expiration_date":"`+tt.in+`"}`), &s); err != nil || !s.ExpirationDate.Equal(want) {
				t.Errorf("json.Unmarshal: %v, %v; want %v", s.ExpirationDate, err, want)
			}
		})
	}
}

// TestJSONWithATextContentTypeIsAccepted covers handlers that set no
// Content-Type: net/http then labels a JSON body text/plain.
func TestJSONWithATextContentTypeIsAccepted(t *testing.T) {
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "\n  {\"results\":[{\"user_id\":\"u1\",\"resource_id\":\"r\",\"expiration_date\":\"2030-01-01T00:00:00Z\"}]}")
	})
	got, err := c.Sessions.List(context.Background(), "r", nil)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if diff := cmp.Diff(&opal.SessionsList{Results: []opal.Session{{UserID: "u1", ResourceID: "r", ExpirationDate: in2030}}}, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

func TestSessionMarshalsToTheAPIShape(t *testing.T) {
	s := opal.Session{
		ConnectionID:   "c1",
		UserID:         "u1",
		ResourceID:     "r1",
		AccessLevel:    opal.ResourceAccessLevel{Name: "AdminRole", RemoteID: "arn:aws:iam::1:role/Admin"},
		ExpirationDate: mustTime(t, "2022-01-23T04:56:07Z"),
	}
	got, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"connection_id":"c1","user_id":"u1","resource_id":"r1","access_level":{"access_level_name":"AdminRole","access_level_remote_id":"arn:aws:iam::1:role/Admin"},"expiration_date":"2022-01-23T04:56:07Z"}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("json.Marshal(Session) (-want +got):\n%s", diff)
	}

	list, err := json.Marshal(opal.SessionsList{Next: "n", Results: []opal.Session{}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(`{"next":"n","previous":null,"results":[]}`, string(list)); diff != "" {
		t.Errorf("json.Marshal(SessionsList) (-want +got):\n%s", diff)
	}
}

func TestResourceAccessLevelIsDefault(t *testing.T) {
	tests := []struct {
		level opal.ResourceAccessLevel
		want  bool
	}{
		{opal.ResourceAccessLevel{}, true},
		{opal.ResourceAccessLevel{Name: "AdminRole"}, false},
		{opal.ResourceAccessLevel{RemoteID: "arn:aws:iam::1:role/Admin"}, false},
		{opal.ResourceAccessLevel{Name: "AdminRole", RemoteID: "arn:aws:iam::1:role/Admin"}, false},
	}
	for _, tt := range tests {
		if got := tt.level.IsDefault(); got != tt.want {
			t.Errorf("%+v.IsDefault() = %v, want %v", tt.level, got, tt.want)
		}
	}
}
