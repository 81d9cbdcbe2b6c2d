package opal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestListDecodesTheReferenceExample decodes the example response published
// in Opal's API reference, verbatim: its first connection ID is not a UUID and
// neither session has an access level, which some clients reject. Its
// sessions are on two resources, so a server answering it, as a mock that
// serves the example does, answers no resource's listing.
func TestListDecodesTheReferenceExample(t *testing.T) {
	body, err := os.ReadFile("testdata/reference_example.json")
	if err != nil {
		t.Fatal(err)
	}
	want := &SessionsList{
		Next:     "cD0yMDIxLTAxLTA2KzAzJTNBMjQlM0E1My40MzQzMjYlMkIwMCUzQTAw",
		Previous: "cj1sZXdwd2VycWVtY29zZnNkc2NzUWxNMEUxTXk0ME16UXpNallsTWtJ",
		Results: []Session{
			{
				ConnectionID:   "h0z968412-2451-4bbd-42h4-057l715d917m",
				UserID:         "29827fb8-f2dd-4e80-9576-28e31e9934ac",
				ResourceID:     "1b978423-db0a-4037-a4cf-f79c60cb67b3",
				ExpirationDate: mustTime(t, "2022-01-23T04:56:07Z"),
			},
			{
				ConnectionID:   "6e6b5597-bd36-4f4c-a629-01e3fa791932",
				UserID:         "b031c922-b84f-4424-9f4f-c49c05871bfe",
				ResourceID:     "77eb1ab7-2c27-4fc4-afdb-137e1265cddd",
				ExpirationDate: mustTime(t, "2022-03-12T07:22:18Z"),
			},
		},
	}
	got, err := decodePageAs(body, new(SessionsService).byResource("r", nil).public)
	if err != nil {
		t.Fatalf("decoding: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	for _, s := range got.Results {
		if !s.AccessLevel.IsDefault() {
			t.Errorf("session %s: access level %+v, want the default level", s.ConnectionID, s.AccessLevel)
		}
	}
	// json.Unmarshal into the public type agrees with the client.
	var direct SessionsList
	if err := json.Unmarshal(body, &direct); err != nil {
		t.Fatalf("json.Unmarshal: %v", err)
	}
	if diff := cmp.Diff(want, &direct); diff != "" {
		t.Errorf("json.Unmarshal (-want +got):\n%s", diff)
	}

	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, string(body))
	})
	_, err = c.Sessions.List(context.Background(), "1b978423-db0a-4037-a4cf-f79c60cb67b3", nil)
	const wantErr = `opal: GET /v1/sessions: 200 OK response is not a page of sessions: results[1]: its "resource_id" is not the one asked for`
	if !errors.Is(err, ErrInvalidResponse) || err.Error() != wantErr {
		t.Errorf("List of the first resource: %v, want %q", err, wantErr)
	}
}

func TestListDecodingIsLenient(t *testing.T) {
	admin := ResourceAccessLevel{Name: "AdminRole", RemoteID: "arn:aws:iam::590304332660:role/AdministratorAccess"}
	tests := []struct {
		name string
		body string
		want *SessionsList
	}{
		{"null cursors and results", `{"next":null,"previous":null,"results":null}`, &SessionsList{}},
		{"absent cursors", `{"results":null}`, &SessionsList{}},
		{"empty results", `{"results":[]}`, &SessionsList{Results: []Session{}}},
		{"unknown fields ignored", `{"total":3,"results":[{"user_id":"u","resource_id":"r","new_field":{"a":1}}],"links":[]}`,
			&SessionsList{Results: []Session{{UserID: "u", ResourceID: "r"}}}},
		{"access level", `{"results":[{"resource_id":"r","access_level":{"access_level_name":"AdminRole","access_level_remote_id":"arn:aws:iam::590304332660:role/AdministratorAccess"}}]}`,
			&SessionsList{Results: []Session{{ResourceID: "r", AccessLevel: admin}}}},
		{"null access level", `{"results":[{"resource_id":"r","access_level":null}]}`, &SessionsList{Results: []Session{{ResourceID: "r"}}}},
		{"null expiration date", `{"results":[{"resource_id":"r","expiration_date":null}]}`, &SessionsList{Results: []Session{{ResourceID: "r"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := listBody(t, tt.body)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
		})
	}
}

// listBody lists the sessions of a server answering with body.
func listBody(t *testing.T, body string) *SessionsList {
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
			got := listBody(t, `{"results":[{"resource_id":"r","expiration_date":"`+tt.in+`"}]}`)
			want := mustTime(t, tt.want)
			if len(got.Results) != 1 || !got.Results[0].ExpirationDate.Equal(want) {
				t.Errorf("expiration_date %q decoded to %v, want %v", tt.in, got.Results, want)
			}
			var s Session
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
		fmt.Fprint(w, "\n  {\"results\":[{\"user_id\":\"u1\",\"resource_id\":\"r\"}]}")
	})
	got, err := c.Sessions.List(context.Background(), "r", nil)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if diff := cmp.Diff(&SessionsList{Results: []Session{{UserID: "u1", ResourceID: "r"}}}, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

func TestSessionMarshalsToTheAPIShape(t *testing.T) {
	s := Session{
		ConnectionID:   "c1",
		UserID:         "u1",
		ResourceID:     "r1",
		AccessLevel:    ResourceAccessLevel{Name: "AdminRole", RemoteID: "arn:aws:iam::1:role/Admin"},
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

	list, err := json.Marshal(SessionsList{Next: "n", Results: []Session{}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(`{"next":"n","previous":null,"results":[]}`, string(list)); diff != "" {
		t.Errorf("json.Marshal(SessionsList) (-want +got):\n%s", diff)
	}
}

func TestResourceAccessLevelIsDefault(t *testing.T) {
	tests := []struct {
		level ResourceAccessLevel
		want  bool
	}{
		{ResourceAccessLevel{}, true},
		{ResourceAccessLevel{Name: "AdminRole"}, false},
		{ResourceAccessLevel{RemoteID: "arn:aws:iam::1:role/Admin"}, false},
		{ResourceAccessLevel{Name: "AdminRole", RemoteID: "arn:aws:iam::1:role/Admin"}, false},
	}
	for _, tt := range tests {
		if got := tt.level.IsDefault(); got != tt.want {
			t.Errorf("%+v.IsDefault() = %v, want %v", tt.level, got, tt.want)
		}
	}
}
