package opal_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// TestUsersGetAsksOnlyForWhatItIsGiven: Get sends the ID, GetByEmail the
// email, each alone, and neither tries the other when the server knows no
// such user.
func TestUsersGetAsksOnlyForWhatItIsGiven(t *testing.T) {
	tests := []struct {
		byEmail bool // GetByEmail rather than Get
		arg     string
		want    url.Values
	}{
		{false, "29827fb8-f2dd-4e80-9576-28e31e9934ac", url.Values{"user_id": {"29827fb8-f2dd-4e80-9576-28e31e9934ac"}}},
		{false, "u1&email=jane@company.dev#x", url.Values{"user_id": {"u1&email=jane@company.dev#x"}}},
		{true, "jane.smith@company.dev", url.Values{"email": {"jane.smith@company.dev"}}},
		{true, "jane+ops@company.dev", url.Values{"email": {"jane+ops@company.dev"}}},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			srv := opaltest.NewServer() // knows no user
			defer srv.Close()
			c, err := srv.Client()
			if err != nil {
				t.Fatal(err)
			}
			get := c.Users.Get
			if tt.byEmail {
				get = c.Users.GetByEmail
			}
			user, err := get(t.Context(), tt.arg)
			if !errors.Is(err, opal.ErrNotFound) || user != nil {
				t.Errorf("got %+v, %v; want nil and ErrNotFound", user, err)
			}
			var sent []string
			for _, r := range srv.Requests() {
				sent = append(sent, r.Method+" "+r.URL.Path)
			}
			if diff := cmp.Diff([]string{"GET /v1/user"}, sent); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]url.Values{tt.want}, queries(srv)); diff != "" {
				t.Errorf("queries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUserJSONHasTheAPIsFieldNames(t *testing.T) {
	checkJSON(t, opal.User{
		UserID: "u1", Email: "jane.smith@company.dev", FullName: "Jane Smith", FirstName: "Jane",
		LastName: "Smith", Position: "Engineer", HRIDPStatus: opal.HRIDPStatusActive,
	}, `{"user_id":"u1","email":"jane.smith@company.dev","full_name":"Jane Smith","first_name":"Jane","last_name":"Smith","position":"Engineer","hr_idp_status":"ACTIVE"}`)
	checkJSON(t, opal.User{UserID: "u1", HRIDPStatus: "ON_LEAVE"}, // a status added since
		`{"user_id":"u1","email":"","full_name":"","first_name":"","last_name":"","position":"","hr_idp_status":"ON_LEAVE"}`)
	checkJSON(t, opal.User{UserID: "u1"}, `{"user_id":"u1","email":"","full_name":"","first_name":"","last_name":"","position":""}`)
	checkJSON(t, opal.UsersList{Next: "n", Results: []opal.User{}}, `{"next":"n","previous":null,"results":[]}`)
}

// TestUserDecodesAbsentFieldsAsEmpty: the API's own example leaves out
// fields its schema requires, and hr_idp_status is optional.
func TestUserDecodesAbsentFieldsAsEmpty(t *testing.T) {
	for _, body := range []string{
		`{"user_id":"u1","email":"jane.smith@company.dev"}`,
		`{"user_id":"u1","email":"jane.smith@company.dev","hr_idp_status":null,"full_name":null}`,
	} {
		var got opal.User
		if err := jsonUnmarshalString(body, &got); err != nil {
			t.Fatalf("json.Unmarshal(%s): %v", body, err)
		}
		if diff := cmp.Diff(opal.User{UserID: "u1", Email: "jane.smith@company.dev"}, got); diff != "" {
			t.Errorf("json.Unmarshal(%s) (-want +got):\n%s", body, diff)
		}
	}
}
