package opaltest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// makeUsers returns n users numbered from first.
func makeUsers(first, n int) []opal.User {
	out := make([]opal.User, n)
	for i := range out {
		k := first + i
		out[i] = opal.User{
			UserID:      fmt.Sprintf("%08x-0000-4000-9000-%012x", k, k),
			Email:       fmt.Sprintf("user%d@acme-corp.dev", k),
			FullName:    fmt.Sprintf("User %d", k),
			FirstName:   "User",
			LastName:    fmt.Sprint(k),
			Position:    "Engineer",
			HRIDPStatus: opal.HRIDPStatusActive,
		}
	}
	return out
}

func TestListUsers(t *testing.T) {
	all := makeUsers(0, 7)
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.AddUsers(all[:4]...)
	srv.AddUsers(all[4:]...) // a later call adds after the earlier

	got, _ := walk[opal.User](t, srv, "/users", url.Values{"page_size": {"3"}}, nil)
	want := [][]opal.User{all[0:3], all[3:6], all[6:7]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}

	// SetPageSize applies to this list as to the sessions.
	srv.SetPageSize(5)
	if p := fetch[opal.User](t, srv, "/users", nil); len(p.Results) != 5 || p.Next == nil {
		t.Errorf("page without page_size after SetPageSize(5): %d users, next %v; want 5 and a cursor", len(p.Results), p.Next)
	}
}

// TestUserShape checks the wire format against the API reference: field
// names, and an empty list's null cursors and [].
func TestUserShape(t *testing.T) {
	srv := opaltest.NewServer()
	defer srv.Close()
	checkJSON(t, srv, "/users", nil, `{"next":null,"previous":null,"results":[]}`)

	srv.AddUsers(opal.User{UserID: userA, Email: "jane.smith@acme-corp.dev", FullName: "Jane Smith",
		FirstName: "Jane", LastName: "Smith", Position: "Staff Engineer", HRIDPStatus: opal.HRIDPStatusActive})
	const jane = `{
		"user_id": "29827fb8-f2dd-4e80-9576-28e31e9934ac",
		"email": "jane.smith@acme-corp.dev",
		"full_name": "Jane Smith",
		"first_name": "Jane",
		"last_name": "Smith",
		"position": "Staff Engineer",
		"hr_idp_status": "ACTIVE"
	}`
	checkJSON(t, srv, "/user", url.Values{"user_id": {userA}}, jane)
	checkJSON(t, srv, "/users", nil, `{"next":null,"previous":null,"results":[`+jane+`]}`)
}

// TestWalkUsersWhileAdding adds users between the pages of a walk: every
// user must come back once, in insertion order.
func TestWalkUsersWhileAdding(t *testing.T) {
	initial := makeUsers(0, 5)
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.AddUsers(initial...)

	want := slices.Clone(initial)
	added := 0
	pages, _ := walk[opal.User](t, srv, "/users", url.Values{"page_size": {"2"}}, func() {
		if added < 3 {
			more := makeUsers(100+added, 1)
			srv.AddUsers(more...)
			want = append(want, more...)
			added++
		}
	})
	if diff := cmp.Diff(want, slices.Concat(pages...)); diff != "" {
		t.Errorf("walk while adding (-want +got):\n%s", diff)
	}
}

func TestGetUser(t *testing.T) {
	users := makeUsers(0, 3)
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.AddUsers(users...)
	// A second user with the first one's ID: the first added wins.
	srv.AddUsers(opal.User{UserID: users[0].UserID, Email: "impostor@acme-corp.dev"})
	// A look-alike of Kate's address, added before her: its first letter is
	// the Kelvin sign, which Unicode's case folding takes for a "k".
	kelvin := opal.User{UserID: "u-kelvin", Email: "\u212Aate@corp.example"}
	kate := opal.User{UserID: "u-kate", Email: "kate@corp.example"}
	srv.AddUsers(kelvin, kate)

	tests := []struct {
		name       string
		query      url.Values
		wantStatus int
		want       any // the user, or the error message
	}{
		{"by user_id", url.Values{"user_id": {users[1].UserID}}, 200, users[1]},
		{"by email", url.Values{"email": {users[2].Email}}, 200, users[2]},
		{"user_id wins over email", url.Values{"user_id": {users[1].UserID}, "email": {users[2].Email}}, 200, users[1]},
		{"unknown user_id does not fall back to email", url.Values{"user_id": {"00000000-0000-4000-8000-000000000000"}, "email": {users[2].Email}}, 404, "user not found"},
		{"empty user_id is absent", url.Values{"user_id": {""}, "email": {users[2].Email}}, 200, users[2]},
		{"first of a repeated ID", url.Values{"user_id": {users[0].UserID}}, 200, users[0]},
		{"unknown user_id", url.Values{"user_id": {"00000000-0000-4000-8000-000000000000"}}, 404, "user not found"},
		{"unknown email", url.Values{"email": {"nobody@acme-corp.dev"}}, 404, "user not found"},
		{"email in other letter case", url.Values{"email": {strings.ToUpper(users[2].Email)}}, 200, users[2]},
		{"email in ASCII letter case only", url.Values{"email": {"kate@corp.example"}}, 200, kate},
		{"email in capitals, in ASCII letter case only", url.Values{"email": {"KATE@corp.example"}}, 200, kate},
		{"the look-alike email", url.Values{"email": {"\u212Aate@corp.example"}}, 200, kelvin},
		{"neither", nil, 400, "user_id or email is required"},
		{"both empty", url.Values{"user_id": {""}, "email": {""}}, 400, "user_id or email is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body, err := rawGet(t, srv, "/user", tt.query)
			if err != nil {
				t.Fatal(err)
			}
			var got any
			if tt.wantStatus == http.StatusOK {
				var u opal.User
				err = json.Unmarshal(body, &u)
				got = u
			} else {
				var msg struct{ Message string }
				err = json.Unmarshal(body, &msg)
				got = msg.Message
			}
			if err != nil || resp.StatusCode != tt.wantStatus {
				t.Fatalf("GET /user?%s: %s, %q; want %d", tt.query.Encode(), resp.Status, body, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("GET /user?%s (-want +got):\n%s", tt.query.Encode(), diff)
			}
		})
	}
}
