package opal_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// TestDefect_OpaltestMatchesEmailsByUnicodeFolding: opaltest's GET /user
// matches ?email= with strings.EqualFold, which folds the Kelvin sign
// (U+212A) to "k": it answers a request for kate@corp.example with the
// user "\u212Aate@corp.example" added before her, and the Client, which
// compares emails in ASCII letter case only, refuses the answer, so a test
// of code that looks Kate up fails on opaltest though Kate is there.
//
// Reproduction: AddUsers({u-kelvin, "\u212Aate@corp.example"}, {u-kate,
// "kate@corp.example"}); client.Users.GetByEmail(ctx, "kate@corp.example")
// fails with "its \"email\" is not the one asked for".
//
// Expected: opaltest matches emails in ASCII letter case only, as the
// library does, and answers with u-kate. Fix in opaltest/users.go getUser.
func TestDefect_OpaltestMatchesEmailsByUnicodeFolding(t *testing.T) {
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.AddUsers(
		opal.User{UserID: "u-kelvin", Email: "\u212Aate@corp.example"},
		opal.User{UserID: "u-kate", Email: "kate@corp.example"},
	)
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"kate@corp.example", "KATE@corp.example"} {
		u, err := c.Users.GetByEmail(context.Background(), email)
		if err != nil || u.UserID != "u-kate" {
			t.Errorf("GetByEmail(%q) = %+v, %v; want u-kate", email, u, err)
		}
	}
}

// TestDefect_OpaltestTakesTheFirstOfRepeatedParameters: opaltest now
// refuses include_unmanaged given twice, "since a server could read it
// either way", and resource_ids given twice, but every other parameter
// given twice is read as its first value, the strict reading its doc
// promises aside. Worst, GET /v1/sessions?resource_id=r1&user_id=&user_id=u2
// lists every user's sessions on r1, not u2's: the empty first value is
// taken for no filter.
//
// Reproduction: the requests below, with the server's token.
//
// Expected: 400, as for include_unmanaged, for any parameter the server
// reads that is given more than once. Fix in opaltest (one helper that
// reads a parameter once, used by every endpoint).
func TestDefect_OpaltestTakesTheFirstOfRepeatedParameters(t *testing.T) {
	srv := opaltest.NewServer(
		opal.Session{ResourceID: "r1", UserID: "u1", ExpirationDate: in2030},
		opal.Session{ResourceID: "r1", UserID: "u2", ExpirationDate: in2030},
	)
	defer srv.Close()
	srv.AddUsers(opal.User{UserID: "u1", Email: "a@corp.example"}, opal.User{UserID: "u2", Email: "b@corp.example"})
	srv.AddResources(opal.Resource{ResourceID: "r1", ResourceType: opal.ResourceTypeAWSIAMRole})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	for _, pathAndQuery := range []string{
		"/sessions?resource_id=r1&user_id=&user_id=u2",
		"/sessions?resource_id=r1&resource_id=r2",
		"/sessions?resource_id=r1&page_size=1&page_size=1000",
		"/user?user_id=u1&user_id=u2",
		"/user?email=a@corp.example&email=b@corp.example",
		"/resources?resource_type_filter=AWS_IAM_ROLE&resource_type_filter=GIT_HUB_REPO",
		"/resources/r1/users?limit=1&limit=1000",
	} {
		req, err := http.NewRequest(http.MethodGet, srv.URL+pathAndQuery, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+srv.Token)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: %s %s, want 400", pathAndQuery, resp.Status, body)
		}
	}
}
