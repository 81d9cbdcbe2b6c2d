package opaltest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

const (
	resourceA = "1b978423-db0a-4037-a4cf-f79c60cb67b3"
	resourceB = "77eb1ab7-2c27-4fc4-afdb-137e1265cddd"
	userA     = "29827fb8-f2dd-4e80-9576-28e31e9934ac"
	userB     = "b031c922-b84f-4424-9f4f-c49c05871bfe"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// makeSessions returns n sessions on resourceID, numbered from first, with
// users taken in turn from users (userA if none).
func makeSessions(first, n int, resourceID string, users ...string) []opal.Session {
	if len(users) == 0 {
		users = []string{userA}
	}
	out := make([]opal.Session, n)
	for i := range out {
		k := first + i
		out[i] = opal.Session{
			ConnectionID:   fmt.Sprintf("%08x-0000-4000-8000-%012x", k, k),
			UserID:         users[i%len(users)],
			ResourceID:     resourceID,
			AccessLevel:    opal.ResourceAccessLevel{Name: "AdminRole", RemoteID: "arn:aws:iam::590304332660:role/AdministratorAccess"},
			ExpirationDate: epoch.Add(time.Duration(k) * time.Minute),
		}
	}
	return out
}

// page is a page of a list as sent, with null cursors kept apart from
// empty ones.
type page[T any] struct {
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}

// rawGet sends GET {srv.URL}{path}?{query} with srv's token (unless
// token is given), each time on a new connection, so that no request
// depends on what a fault did to an earlier one's. It returns the response
// with its body read; err is a transport or body-read error.
func rawGet(t *testing.T, srv *opaltest.Server, path string, query url.Values, token ...string) (*http.Response, []byte, error) {
	t.Helper()
	tok := srv.Token
	if len(token) > 0 {
		tok = token[0]
	}
	req, err := http.NewRequest(http.MethodGet, srv.URL+path+"?"+query.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return send(req)
}

func send(req *http.Request) (*http.Response, []byte, error) {
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// getPage fetches and decodes one page of sessions, failing the test on
// anything but a 200.
func getPage(t *testing.T, srv *opaltest.Server, query url.Values) page[opal.Session] {
	t.Helper()
	return fetch[opal.Session](t, srv, "/sessions", query)
}

// fetch fetches and decodes one page of the list at path, failing the
// test on anything but a 200.
func fetch[T any](t *testing.T, srv *opaltest.Server, path string, query url.Values) page[T] {
	t.Helper()
	resp, body, err := rawGet(t, srv, path, query)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s?%s: %s: %s", path, query.Encode(), resp.Status, body)
	}
	var p page[T]
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("decoding page: %v\n%s", err, body)
	}
	return p
}

// walk follows the list at path from its first page to its last, by hand,
// checking each page's cursors: previous is the cursor that fetched the
// page (null for the first), next is null on the last only. It calls
// between, if not nil, after each page but the last, and returns the pages
// and the cursors that fetched all but the first.
func walk[T any](t *testing.T, srv *opaltest.Server, path string, query url.Values, between func()) ([][]T, []string) {
	t.Helper()
	query = maps.Clone(query)
	var pages [][]T
	var cursors []string
	for {
		p := fetch[T](t, srv, path, query)
		var wantPrevious *string
		if len(cursors) > 0 {
			wantPrevious = str(cursors[len(cursors)-1])
		}
		if diff := cmp.Diff(wantPrevious, p.Previous); diff != "" {
			t.Errorf("GET %s, page %d: previous (-want +got):\n%s", path, len(pages)+1, diff)
		}
		pages = append(pages, p.Results)
		if p.Next == nil {
			return pages, cursors
		}
		if len(pages) > 100 {
			t.Fatalf("GET %s: no last page after 100 pages", path)
		}
		cursors = append(cursors, *p.Next)
		query.Set("cursor", *p.Next)
		if between != nil {
			between()
		}
	}
}

func str(s string) *string { return &s }

// checkJSON fetches path and compares its body, as JSON values, with want.
func checkJSON(t *testing.T, srv *opaltest.Server, path string, query url.Values, want string) {
	t.Helper()
	resp, body, err := rawGet(t, srv, path, query)
	if err != nil {
		t.Fatal(err)
	}
	var gotValue, wantValue any
	if err := json.Unmarshal(body, &gotValue); err != nil {
		t.Fatalf("GET %s: %s: body is not JSON: %q", path, resp.Status, body)
	}
	if err := json.Unmarshal([]byte(want), &wantValue); err != nil {
		t.Fatalf("bad want: %v", err)
	}
	if diff := cmp.Diff(wantValue, gotValue); diff != "" {
		t.Errorf("GET %s?%s: body (-want +got):\n%s", path, query.Encode(), diff)
	}
}

// errorAnswer is what a test checks of an error response.
type errorAnswer struct {
	Status      int
	ContentType string
	Message     string
	Header      string // the value of the case's header of interest
}

func TestErrorAnswers(t *testing.T) {
	srv := opaltest.NewServer(makeSessions(0, 3, resourceA)...)
	defer srv.Close()
	srv.AddResources(opal.Resource{ResourceID: resourceA})
	srv.AddUsers(opal.User{UserID: userA})
	realCursor := *getPage(t, srv, url.Values{"resource_id": {resourceA}, "page_size": {"1"}}).Next
	other := opaltest.NewServer(makeSessions(0, 3, resourceA)...)
	defer other.Close()
	otherCursor := *getPage(t, other, url.Values{"resource_id": {resourceA}, "page_size": {"1"}}).Next
	// Forgeries that a server trusting its cursors would accept: the real
	// cursor's bytes with one bit changed, at its start (where a position
	// would be) and at its end; and guessable positions.
	forge := func(i int) string {
		b, err := base64.RawURLEncoding.DecodeString(realCursor)
		if err != nil {
			t.Fatalf("cursor %q is not unpadded base64url: %v", realCursor, err)
		}
		b[(i+len(b))%len(b)] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	index3 := base64.RawURLEncoding.EncodeToString([]byte{0, 0, 0, 0, 0, 0, 0, 3})

	const (
		badPageSize = "page_size must be an integer from 1 to 1000"
		badType     = "resource_type_filter must be a value of ResourceTypeEnum"
	)
	tests := []struct {
		name      string
		method    string
		path      string // on the server's host
		query     string
		auth      string // the Authorization header; "ok" for the right one
		checkHead string
		want      errorAnswer
	}{
		{name: "unknown path", path: "/v1/session", query: "resource_id=" + resourceA,
			want: errorAnswer{Status: 404, Message: "not found: /v1/session"}},
		{name: "trailing slash", path: "/v1/sessions/", query: "resource_id=" + resourceA,
			want: errorAnswer{Status: 404, Message: "not found: /v1/sessions/"}},
		{name: "no version", path: "/sessions", query: "resource_id=" + resourceA,
			want: errorAnswer{Status: 404, Message: "not found: /sessions"}},
		{name: "POST", method: "POST", path: "/v1/sessions", query: "resource_id=" + resourceA, checkHead: "Allow",
			want: errorAnswer{Status: 405, Message: "method POST not allowed; use GET", Header: "GET"}},
		{name: "DELETE", method: "DELETE", path: "/v1/sessions", query: "resource_id=" + resourceA, checkHead: "Allow",
			want: errorAnswer{Status: 405, Message: "method DELETE not allowed; use GET", Header: "GET"}},
		{name: "no token", path: "/v1/sessions", query: "resource_id=" + resourceA, auth: "", checkHead: "WWW-Authenticate",
			want: errorAnswer{Status: 401, Message: "missing or invalid API token", Header: "Bearer"}},
		{name: "wrong token", path: "/v1/sessions", query: "resource_id=" + resourceA, auth: "Bearer opaltest-wrong",
			want: errorAnswer{Status: 401, Message: "missing or invalid API token"}},
		{name: "basic scheme", path: "/v1/sessions", query: "resource_id=" + resourceA, auth: "Basic TOKEN",
			want: errorAnswer{Status: 401, Message: "missing or invalid API token"}},
		{name: "token without scheme", path: "/v1/sessions", query: "resource_id=" + resourceA, auth: "TOKEN",
			want: errorAnswer{Status: 401, Message: "missing or invalid API token"}},
		{name: "no resource_id", path: "/v1/sessions", query: "user_id=" + userA, auth: "ok",
			want: errorAnswer{Status: 400, Message: "resource_id is required"}},
		{name: "empty resource_id", path: "/v1/sessions", query: "resource_id=", auth: "ok",
			want: errorAnswer{Status: 400, Message: "resource_id is required"}},
		{name: "malformed query", path: "/v1/sessions", query: "resource_id=" + resourceA + "&x=%zz", auth: "ok",
			want: errorAnswer{Status: 400, Message: "malformed query string"}},
		{name: "page_size 0", path: "/v1/sessions", query: "resource_id=" + resourceA + "&page_size=0", auth: "ok",
			want: errorAnswer{Status: 400, Message: badPageSize}},
		{name: "page_size -1", path: "/v1/sessions", query: "resource_id=" + resourceA + "&page_size=-1", auth: "ok",
			want: errorAnswer{Status: 400, Message: badPageSize}},
		{name: "page_size 1001", path: "/v1/sessions", query: "resource_id=" + resourceA + "&page_size=1001", auth: "ok",
			want: errorAnswer{Status: 400, Message: badPageSize}},
		{name: "page_size text", path: "/v1/sessions", query: "resource_id=" + resourceA + "&page_size=ten", auth: "ok",
			want: errorAnswer{Status: 400, Message: badPageSize}},
		{name: "cursor garbage", path: "/v1/sessions", query: "resource_id=" + resourceA + "&cursor=not-a-cursor", auth: "ok",
			want: errorAnswer{Status: 400, Message: "invalid cursor"}},
		{name: "cursor guessed index", path: "/v1/sessions", query: "resource_id=" + resourceA + "&cursor=" + index3, auth: "ok",
			want: errorAnswer{Status: 400, Message: "invalid cursor"}},
		{name: "cursor plain index", path: "/v1/sessions", query: "resource_id=" + resourceA + "&cursor=1", auth: "ok",
			want: errorAnswer{Status: 400, Message: "invalid cursor"}},
		{name: "cursor forged at start", path: "/v1/sessions", query: "resource_id=" + resourceA + "&cursor=" + forge(7), auth: "ok",
			want: errorAnswer{Status: 400, Message: "invalid cursor"}},
		{name: "cursor forged at end", path: "/v1/sessions", query: "resource_id=" + resourceA + "&cursor=" + forge(-1), auth: "ok",
			want: errorAnswer{Status: 400, Message: "invalid cursor"}},
		{name: "cursor cut short", path: "/v1/sessions", query: "resource_id=" + resourceA + "&cursor=" + realCursor[:len(realCursor)-2], auth: "ok",
			want: errorAnswer{Status: 400, Message: "invalid cursor"}},
		{name: "cursor of another server", path: "/v1/sessions", query: "resource_id=" + resourceA + "&cursor=" + otherCursor, auth: "ok",
			want: errorAnswer{Status: 400, Message: "invalid cursor"}},
		{name: "cursor of another resource", path: "/v1/sessions", query: "resource_id=" + resourceB + "&cursor=" + realCursor, auth: "ok",
			want: errorAnswer{Status: 400, Message: "invalid cursor"}},
		{name: "cursor of another user filter", path: "/v1/sessions", query: "resource_id=" + resourceA + "&user_id=" + userA + "&cursor=" + realCursor, auth: "ok",
			want: errorAnswer{Status: 400, Message: "invalid cursor"}},
		{name: "users: cursor of another list", path: "/v1/users", query: "cursor=" + realCursor, auth: "ok",
			want: errorAnswer{Status: 400, Message: "invalid cursor"}},
		{name: "users: page_size 1001", path: "/v1/users", query: "page_size=1001", auth: "ok",
			want: errorAnswer{Status: 400, Message: badPageSize}},
		{name: "users: no token", path: "/v1/users", checkHead: "WWW-Authenticate",
			want: errorAnswer{Status: 401, Message: "missing or invalid API token", Header: "Bearer"}},
		{name: "users: POST", method: "POST", path: "/v1/users", auth: "ok", checkHead: "Allow",
			want: errorAnswer{Status: 405, Message: "method POST not allowed; use GET", Header: "GET"}},
		{name: "users: trailing slash", path: "/v1/users/", auth: "ok",
			want: errorAnswer{Status: 404, Message: "not found: /v1/users/"}},
		{name: "user: wrong token", path: "/v1/user", query: "user_id=" + userA, auth: "Bearer opaltest-wrong",
			want: errorAnswer{Status: 401, Message: "missing or invalid API token"}},
		{name: "user: by path", path: "/v1/user/" + userA, auth: "ok",
			want: errorAnswer{Status: 404, Message: "not found: /v1/user/" + userA}},
		{name: "user: PUT", method: "PUT", path: "/v1/user", query: "user_id=" + userA, auth: "ok", checkHead: "Allow",
			want: errorAnswer{Status: 405, Message: "method PUT not allowed; use GET", Header: "GET"}},
		{name: "resources: no token", path: "/v1/resources", checkHead: "WWW-Authenticate",
			want: errorAnswer{Status: 401, Message: "missing or invalid API token", Header: "Bearer"}},
		{name: "resources: POST", method: "POST", path: "/v1/resources", auth: "ok", checkHead: "Allow",
			want: errorAnswer{Status: 405, Message: "method POST not allowed; use GET", Header: "GET"}},
		{name: "resources: page_size text", path: "/v1/resources", query: "page_size=ten", auth: "ok",
			want: errorAnswer{Status: 400, Message: badPageSize}},
		{name: "resources: cursor of another list", path: "/v1/resources", query: "cursor=" + realCursor, auth: "ok",
			want: errorAnswer{Status: 400, Message: "invalid cursor"}},
		{name: "resources: unknown type", path: "/v1/resources", query: "resource_type_filter=AWS_IAM_USER", auth: "ok",
			want: errorAnswer{Status: 400, Message: badType}},
		{name: "resources: type in lower case", path: "/v1/resources", query: "resource_type_filter=aws_iam_role", auth: "ok",
			want: errorAnswer{Status: 400, Message: badType}},
		{name: "resources: empty ID in resource_ids", path: "/v1/resources", query: "resource_ids=" + resourceA + ",," + resourceB, auth: "ok",
			want: errorAnswer{Status: 400, Message: "resource_ids holds an empty ID"}},
		{name: "resources: trailing comma in resource_ids", path: "/v1/resources", query: "resource_ids=" + resourceA + ",", auth: "ok",
			want: errorAnswer{Status: 400, Message: "resource_ids holds an empty ID"}},
		{name: "resources: resource_ids repeated", path: "/v1/resources", query: "resource_ids=" + resourceA + "&resource_ids=" + resourceB, auth: "ok",
			want: errorAnswer{Status: 400, Message: "resource_ids must be given at most once"}},
		{name: "resource: no token", path: "/v1/resources/" + resourceA, auth: "Bearer opaltest-wrong",
			want: errorAnswer{Status: 401, Message: "missing or invalid API token"}},
		{name: "resource: DELETE", method: "DELETE", path: "/v1/resources/" + resourceA, auth: "ok", checkHead: "Allow",
			want: errorAnswer{Status: 405, Message: "method DELETE not allowed; use GET", Header: "GET"}},
		{name: "resource: unknown", path: "/v1/resources/" + resourceB, auth: "ok",
			want: errorAnswer{Status: 404, Message: "resource not found"}},
		{name: "resource: no ID", path: "/v1/resources/", auth: "ok",
			want: errorAnswer{Status: 404, Message: "not found: /v1/resources/"}},
		{name: "resource: an endpoint below", path: "/v1/resources/" + resourceA + "/groups", auth: "ok",
			want: errorAnswer{Status: 404, Message: "not found: /v1/resources/" + resourceA + "/groups"}},
		{name: "resource: two endpoints below", path: "/v1/resources/" + resourceA + "/users/" + userA, auth: "ok",
			want: errorAnswer{Status: 404, Message: "not found: /v1/resources/" + resourceA + "/users/" + userA}},
		{name: "resource users: unknown resource", path: "/v1/resources/" + resourceB + "/users", auth: "ok",
			want: errorAnswer{Status: 404, Message: "resource not found"}},
		{name: "resource users: no token", path: "/v1/resources/" + resourceA + "/users", checkHead: "WWW-Authenticate",
			want: errorAnswer{Status: 401, Message: "missing or invalid API token", Header: "Bearer"}},
		{name: "resource users: POST", method: "POST", path: "/v1/resources/" + resourceA + "/users", auth: "ok", checkHead: "Allow",
			want: errorAnswer{Status: 405, Message: "method POST not allowed; use GET", Header: "GET"}},
		{name: "resource users: limit 0", path: "/v1/resources/" + resourceA + "/users", query: "limit=0", auth: "ok",
			want: errorAnswer{Status: 400, Message: "limit must be an integer from 1 to 1000"}},
		{name: "resource users: page_size wins over limit", path: "/v1/resources/" + resourceA + "/users", query: "page_size=1001&limit=5", auth: "ok",
			want: errorAnswer{Status: 400, Message: badPageSize}},
		{name: "resource users: cursor of another list", path: "/v1/resources/" + resourceA + "/users", query: "cursor=" + realCursor, auth: "ok",
			want: errorAnswer{Status: 400, Message: "invalid cursor"}},
		{name: "resource users: no resource ID", path: "/v1/resources//users", auth: "ok",
			want: errorAnswer{Status: 404, Message: "not found: /v1/resources//users"}},
		{name: "user resources: unknown user", path: "/v1/resources/users/" + userB, auth: "ok",
			want: errorAnswer{Status: 404, Message: "user not found"}},
		{name: "user resources: include_unmanaged not a boolean", path: "/v1/resources/users/" + userA, query: "include_unmanaged=1", auth: "ok",
			want: errorAnswer{Status: 400, Message: "include_unmanaged must be true or false"}},
		{name: "user resources: include_unmanaged in capitals", path: "/v1/resources/users/" + userA, query: "include_unmanaged=TRUE", auth: "ok",
			want: errorAnswer{Status: 400, Message: "include_unmanaged must be true or false"}},
		{name: "user resources: include_unmanaged empty", path: "/v1/resources/users/" + userA, query: "include_unmanaged=", auth: "ok",
			want: errorAnswer{Status: 400, Message: "include_unmanaged must be true or false"}},
		{name: "user resources: include_unmanaged twice", path: "/v1/resources/users/" + userA, query: "include_unmanaged=true&include_unmanaged=false", auth: "ok",
			want: errorAnswer{Status: 400, Message: "include_unmanaged must be given at most once"}},
		{name: "user resources: include_unmanaged good and bad", path: "/v1/resources/users/" + userA, query: "include_unmanaged=false&include_unmanaged=maybe", auth: "ok",
			want: errorAnswer{Status: 400, Message: "include_unmanaged must be given at most once"}},
		// A parameter given more than once is refused, whichever: read as
		// its first value, the empty user_id would list every user's sessions.
		{name: "user_id twice, the first empty", path: "/v1/sessions", query: "resource_id=" + resourceA + "&user_id=&user_id=" + userA, auth: "ok",
			want: errorAnswer{Status: 400, Message: "user_id must be given at most once"}},
		{name: "resource_id twice", path: "/v1/sessions", query: "resource_id=" + resourceA + "&resource_id=" + resourceB, auth: "ok",
			want: errorAnswer{Status: 400, Message: "resource_id must be given at most once"}},
		{name: "resource_id twice, the same", path: "/v1/sessions", query: "resource_id=" + resourceA + "&resource_id=" + resourceA, auth: "ok",
			want: errorAnswer{Status: 400, Message: "resource_id must be given at most once"}},
		{name: "page_size twice", path: "/v1/sessions", query: "resource_id=" + resourceA + "&page_size=1&page_size=1000", auth: "ok",
			want: errorAnswer{Status: 400, Message: "page_size must be given at most once"}},
		{name: "cursor twice", path: "/v1/sessions", query: "resource_id=" + resourceA + "&cursor=" + realCursor + "&cursor=", auth: "ok",
			want: errorAnswer{Status: 400, Message: "cursor must be given at most once"}},
		{name: "users: page_size twice", path: "/v1/users", query: "page_size=1&page_size=2", auth: "ok",
			want: errorAnswer{Status: 400, Message: "page_size must be given at most once"}},
		{name: "user: user_id twice", path: "/v1/user", query: "user_id=" + userA + "&user_id=" + userB, auth: "ok",
			want: errorAnswer{Status: 400, Message: "user_id must be given at most once"}},
		{name: "user: email twice", path: "/v1/user", query: "email=a@corp.example&email=b@corp.example", auth: "ok",
			want: errorAnswer{Status: 400, Message: "email must be given at most once"}},
		{name: "resources: resource_type_filter twice", path: "/v1/resources", query: "resource_type_filter=AWS_IAM_ROLE&resource_type_filter=GIT_HUB_REPO", auth: "ok",
			want: errorAnswer{Status: 400, Message: "resource_type_filter must be given at most once"}},
		{name: "resources: resource_name twice", path: "/v1/resources", query: "resource_name=a&resource_name=b", auth: "ok",
			want: errorAnswer{Status: 400, Message: "resource_name must be given at most once"}},
		{name: "resources: parent_resource_id twice", path: "/v1/resources", query: "parent_resource_id=" + resourceA + "&parent_resource_id=", auth: "ok",
			want: errorAnswer{Status: 400, Message: "parent_resource_id must be given at most once"}},
		{name: "resources: ancestor_resource_id twice", path: "/v1/resources", query: "ancestor_resource_id=&ancestor_resource_id=" + resourceA, auth: "ok",
			want: errorAnswer{Status: 400, Message: "ancestor_resource_id must be given at most once"}},
		{name: "resource users: limit twice", path: "/v1/resources/" + resourceA + "/users", query: "limit=1&limit=1000", auth: "ok",
			want: errorAnswer{Status: 400, Message: "limit must be given at most once"}},
		{name: "user resources: page_size twice", path: "/v1/resources/users/" + userA, query: "page_size=5&page_size=5", auth: "ok",
			want: errorAnswer{Status: 400, Message: "page_size must be given at most once"}},
		{name: "user resources: limit text", path: "/v1/resources/users/" + userA, query: "limit=ten", auth: "ok",
			want: errorAnswer{Status: 400, Message: "limit must be an integer from 1 to 1000"}},
		// Every parameter of sizes is checked, not only the one that wins:
		// a server may read either.
		{name: "resource users: limit twice beside page_size", path: "/v1/resources/" + resourceA + "/users", query: "page_size=5&limit=1&limit=1000", auth: "ok",
			want: errorAnswer{Status: 400, Message: "limit must be given at most once"}},
		{name: "user resources: limit twice beside page_size", path: "/v1/resources/users/" + userA, query: "page_size=5&limit=1&limit=1000", auth: "ok",
			want: errorAnswer{Status: 400, Message: "limit must be given at most once"}},
		{name: "resource users: limit text beside page_size", path: "/v1/resources/" + resourceA + "/users", query: "page_size=5&limit=ten", auth: "ok",
			want: errorAnswer{Status: 400, Message: "limit must be an integer from 1 to 1000"}},
		{name: "user resources: limit text beside page_size", path: "/v1/resources/users/" + userA, query: "page_size=5&limit=ten", auth: "ok",
			want: errorAnswer{Status: 400, Message: "limit must be an integer from 1 to 1000"}},
		{name: "user resources: cursor of another list", path: "/v1/resources/users/" + userA, query: "cursor=" + realCursor, auth: "ok",
			want: errorAnswer{Status: 400, Message: "invalid cursor"}},
		{name: "user resources: no user ID", path: "/v1/resources/users/", auth: "ok",
			want: errorAnswer{Status: 404, Message: "not found: /v1/resources/users/"}},
		{name: "user resources: DELETE", method: "DELETE", path: "/v1/resources/users/" + userA, auth: "ok", checkHead: "Allow",
			want: errorAnswer{Status: 405, Message: "method DELETE not allowed; use GET", Header: "GET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, strings.TrimSuffix(srv.URL, "/v1")+tt.path+"?"+tt.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			switch tt.auth {
			case "ok":
				req.Header.Set("Authorization", "Bearer "+srv.Token)
			case "":
			default:
				req.Header.Set("Authorization", strings.ReplaceAll(tt.auth, "TOKEN", srv.Token))
			}
			resp, body, err := send(req)
			if err != nil {
				t.Fatal(err)
			}
			var msg struct{ Message string }
			if err := json.Unmarshal(body, &msg); err != nil {
				t.Fatalf("error body is not JSON: %v: %q", err, body)
			}
			got := errorAnswer{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Message: msg.Message}
			if tt.checkHead != "" {
				got.Header = resp.Header.Get(tt.checkHead)
			}
			want := tt.want
			want.ContentType = "application/json"
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s %s?%s (-want +got):\n%s", method, tt.path, tt.query, diff)
			}
		})
	}
}

func TestAuthorizationSchemeIsCaseInsensitive(t *testing.T) {
	srv := opaltest.NewServer()
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/sessions?resource_id="+resourceA, nil)
	req.Header.Set("Authorization", "bearer "+srv.Token)
	resp, body, err := send(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("lower-case bearer: %s: %s", resp.Status, body)
	}
}

// TestResponseShape checks the wire format against the API reference: field
// names, null cursors, [] for no results, the content type.
func TestResponseShape(t *testing.T) {
	s := opal.Session{
		ConnectionID:   "6e6b5597-bd36-4f4c-a629-01e3fa791932",
		UserID:         userA,
		ResourceID:     resourceA,
		AccessLevel:    opal.ResourceAccessLevel{Name: "AdminRole", RemoteID: "arn:aws:iam::590304332660:role/AdministratorAccess"},
		ExpirationDate: time.Date(2022, 1, 23, 4, 56, 7, 0, time.UTC),
	}
	srv := opaltest.NewServer(s)
	defer srv.Close()

	tests := []struct {
		resourceID string
		want       map[string]any
	}{
		{resourceA, map[string]any{
			"next":     nil,
			"previous": nil,
			"results": []any{map[string]any{
				"connection_id": "6e6b5597-bd36-4f4c-a629-01e3fa791932",
				"user_id":       userA,
				"resource_id":   resourceA,
				"access_level": map[string]any{
					"access_level_name":      "AdminRole",
					"access_level_remote_id": "arn:aws:iam::590304332660:role/AdministratorAccess",
				},
				"expiration_date": "2022-01-23T04:56:07Z",
			}},
		}},
		{resourceB, map[string]any{"next": nil, "previous": nil, "results": []any{}}},
	}
	for _, tt := range tests {
		resp, body, err := rawGet(t, srv, "/sessions", url.Values{"resource_id": {tt.resourceID}})
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("resource %s: body (-want +got):\n%s", tt.resourceID, diff)
		}
	}
}

// TestPagination walks 7 sessions in pages of 3 by hand, checking each
// page's cursors: previous is the cursor that fetched the page (null for
// the first), next is null on the last.
func TestPagination(t *testing.T) {
	all := makeSessions(0, 7, resourceA)
	srv := opaltest.NewServer(all...)
	defer srv.Close()

	got, cursors := walk[opal.Session](t, srv, "/sessions", url.Values{"resource_id": {resourceA}, "page_size": {"3"}}, nil)
	want := [][]opal.Session{all[0:3], all[3:6], all[6:7]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
	if cursors[0] == cursors[1] {
		t.Errorf("two pages have the same cursor %q", cursors[0])
	}

	// A cursor may be used again, and with another page size.
	again := getPage(t, srv, url.Values{"resource_id": {resourceA}, "page_size": {"10"}, "cursor": {cursors[0]}})
	if diff := cmp.Diff(all[3:], again.Results); diff != "" {
		t.Errorf("page at the first cursor, size 10 (-want +got):\n%s", diff)
	}

	// An exactly full last page has no next cursor.
	full := getPage(t, srv, url.Values{"resource_id": {resourceA}, "page_size": {"7"}})
	if full.Next != nil || len(full.Results) != 7 {
		t.Errorf("page of 7 of 7: next = %v, %d results; want null and 7", full.Next, len(full.Results))
	}
}

func TestPageSizeBounds(t *testing.T) {
	srv := opaltest.NewServer(makeSessions(0, 1001, resourceA)...)
	defer srv.Close()
	for _, size := range []int{1, 1000} {
		p := getPage(t, srv, url.Values{"resource_id": {resourceA}, "page_size": {fmt.Sprint(size)}})
		if len(p.Results) != size || p.Next == nil {
			t.Errorf("page_size=%d: %d results, next %v; want %d and a cursor", size, len(p.Results), p.Next, size)
		}
	}
}

func TestSetPageSize(t *testing.T) {
	tests := []struct {
		name string
		set  []int // calls of SetPageSize, in order
		want int
	}{
		{"default", nil, 200},
		{"5", []int{5}, 5},
		{"1000", []int{1000}, 1000},
		{"0 restores the default", []int{5, 0}, 200},
		{"negative restores the default", []int{5, -3}, 200},
		{"above the maximum is capped", []int{5000}, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := opaltest.NewServer(makeSessions(0, 1001, resourceA)...)
			defer srv.Close()
			for _, n := range tt.set {
				srv.SetPageSize(n)
			}
			p := getPage(t, srv, url.Values{"resource_id": {resourceA}})
			if len(p.Results) != tt.want {
				t.Errorf("page without page_size has %d sessions, want %d", len(p.Results), tt.want)
			}
			// A request's page_size wins over the server's default.
			p = getPage(t, srv, url.Values{"resource_id": {resourceA}, "page_size": {"3"}})
			if len(p.Results) != 3 {
				t.Errorf("page_size=3 gave %d sessions", len(p.Results))
			}
		})
	}
}

func TestUserIDFilter(t *testing.T) {
	all := append(makeSessions(0, 9, resourceA, userA, userB, userB), makeSessions(100, 2, resourceB, userA)...)
	srv := opaltest.NewServer(all...)
	defer srv.Close()
	client, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		userID string
		want   []opal.Session
	}{
		{userA, []opal.Session{all[0], all[3], all[6]}},
		{userB, []opal.Session{all[1], all[2], all[4], all[5], all[7], all[8]}},
		{"", all[:9]},
		{"00000000-0000-4000-8000-000000000000", nil},
	}
	for _, tt := range tests {
		var got []opal.Session
		for s, err := range client.Sessions.All(t.Context(), resourceA, &opal.ListSessionsOptions{UserID: tt.userID, PageSize: 2}) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("user_id=%q (-want +got):\n%s", tt.userID, diff)
		}
	}
}

// TestWalkWhileAdding adds sessions between the pages of a walk, with
// earlier expirations and smaller IDs than those already there, so that a
// server ordering by either, or paging by offset into a sorted list, would
// repeat or skip some. Every session must come back once, in insertion
// order.
func TestWalkWhileAdding(t *testing.T) {
	initial := makeSessions(1000, 10, resourceA)
	srv := opaltest.NewServer(initial...)
	defer srv.Close()
	client, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}

	want := append([]opal.Session(nil), initial...)
	var got []opal.Session
	added := 0
	for p, err := range client.Sessions.Pages(t.Context(), resourceA, &opal.ListSessionsOptions{PageSize: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Results...)
		if p.Next != "" && added < 9 {
			more := makeSessions(999-added-2, 3, resourceA) // before everything so far, by ID and by time
			added += 3
			srv.AddSessions(more...)
			want = append(want, more...)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("walk while adding (-want +got):\n%s", diff)
	}
}

// TestConcurrentUse walks, adds, injects and inspects at once; run with
// -race. Each walk must see every initial session exactly once.
func TestConcurrentUse(t *testing.T) {
	initial := makeSessions(0, 40, resourceA, userA, userB)
	srv := opaltest.NewServer(initial...)
	defer srv.Close()
	client, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 100 {
			srv.AddSessions(makeSessions(100+i, 1, resourceA)...)
			srv.SetPageSize(1 + i%50)
			srv.Inject(opaltest.Fault{}) // consumed like any fault: answers normally
			if i%10 == 0 {
				for _, r := range srv.Requests() {
					_ = r.URL.Query().Get("cursor")
				}
			}
		}
	})

	for range 8 {
		wg.Go(func() {
			seen := map[string]int{}
			for s, err := range client.Sessions.All(t.Context(), resourceA, &opal.ListSessionsOptions{PageSize: 7}) {
				if err != nil {
					t.Error(err)
					return
				}
				seen[s.ConnectionID]++
			}
			for id, n := range seen {
				if n != 1 {
					t.Errorf("session %s came %d times", id, n)
				}
			}
			for _, s := range initial {
				if seen[s.ConnectionID] != 1 {
					t.Errorf("session %s missing", s.ConnectionID)
				}
			}
		})
	}
	wg.Wait()
}

// TestConcurrentLists walks users and resources while more are added, in
// parallel subtests; run with -race. Each walk must see every initial item
// exactly once, and in order.
func TestConcurrentLists(t *testing.T) {
	users := makeUsers(0, 30)
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.AddUsers(users...)
	srv.AddResources(organisation...)

	t.Run("group", func(t *testing.T) {
		t.Run("add", func(t *testing.T) {
			t.Parallel()
			for i := range 100 {
				srv.AddUsers(makeUsers(100+i, 1)...)
				srv.AddResources(opal.Resource{ResourceID: fmt.Sprint("added-", i), ParentResourceID: "acct"})
			}
		})
		for i := range 4 {
			t.Run(fmt.Sprint("users-", i), func(t *testing.T) {
				t.Parallel()
				pages, _ := walk[opal.User](t, srv, "/users", url.Values{"page_size": {"7"}}, nil)
				checkOnce(t, slices.Concat(pages...), func(u opal.User) string { return u.UserID })
				if got := slices.Concat(pages...)[:len(users)]; !cmp.Equal(users, got) {
					t.Errorf("the walk's first users are not the initial ones, in order:\n%s", cmp.Diff(users, got))
				}
			})
			t.Run(fmt.Sprint("resources-", i), func(t *testing.T) {
				t.Parallel()
				pages, _ := walk[opal.Resource](t, srv, "/resources", url.Values{"ancestor_resource_id": {"acct"}, "page_size": {"2"}}, nil)
				checkOnce(t, slices.Concat(pages...), func(r opal.Resource) string { return r.ResourceID })
				want := []opal.Resource{admin, readOnly, policy}
				if got := slices.Concat(pages...)[:len(want)]; !cmp.Equal(want, got) {
					t.Errorf("the walk's first resources are not the initial ones, in order:\n%s", cmp.Diff(want, got))
				}
			})
		}
	})
}

// checkOnce checks that no two items have the same ID.
func checkOnce[T any](t *testing.T, items []T, id func(T) string) {
	t.Helper()
	seen := map[string]bool{}
	for _, item := range items {
		if seen[id(item)] {
			t.Errorf("%s came more than once", id(item))
		}
		seen[id(item)] = true
	}
}

func TestRequestsAreCopies(t *testing.T) {
	srv := opaltest.NewServer(makeSessions(0, 2, resourceA)...)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/sessions?resource_id="+resourceA, nil)
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	req.Header.Set("X-Trace", "first")
	if _, _, err := send(req); err != nil {
		t.Fatal(err)
	}
	kept := srv.Requests()
	if len(kept) != 1 {
		t.Fatalf("Requests() has %d requests, want 1", len(kept))
	}
	// Changing a copy changes neither the server's record nor later copies.
	kept[0].Header.Set("X-Trace", "changed")
	kept[0].URL.RawQuery = "changed"

	if _, _, err := rawGet(t, srv, "/nowhere", nil); err != nil {
		t.Fatal(err)
	}
	type summary struct{ Method, Path, RawQuery, Trace, Auth string }
	var got []summary
	for _, r := range srv.Requests() {
		got = append(got, summary{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("X-Trace"), r.Header.Get("Authorization")})
		body, err := io.ReadAll(r.Body)
		if err != nil || len(body) != 0 {
			t.Errorf("recorded body: %q, %v; want empty", body, err)
		}
	}
	want := []summary{
		{"GET", "/v1/sessions", "resource_id=" + resourceA, "first", "Bearer " + srv.Token},
		{"GET", "/v1/nowhere", "", "", "Bearer " + srv.Token},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Requests() (-want +got):\n%s", diff)
	}
	if h, q := kept[0].Header.Get("X-Trace"), kept[0].URL.RawQuery; h != "changed" || q != "changed" {
		t.Errorf("kept copy changed under the caller: X-Trace %q, query %q", h, q)
	}
}

func TestClientOptionsApplyAfterDefaults(t *testing.T) {
	srv := opaltest.NewServer(makeSessions(0, 1, resourceA)...)
	defer srv.Close()

	client, err := srv.Client(opal.WithUserAgent("inventory-bot/2.1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Sessions.List(t.Context(), resourceA, nil); err != nil {
		t.Fatal(err)
	}
	if ua := srv.Requests()[0].Header.Get("User-Agent"); !strings.HasPrefix(ua, "inventory-bot/2.1 opal-go/") {
		t.Errorf("User-Agent = %q, want the option's product first", ua)
	}

	// An option may replace a default: here the base URL, to a closed port.
	client, err = srv.Client(opal.WithBaseURL("http://127.0.0.1:1/v1"), opal.WithRetryMax(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Sessions.List(t.Context(), resourceA, nil); err == nil {
		t.Error("List through a base URL on a closed port succeeded")
	}
}

// TestCloseEndsDelay: Close ends a wait of a Delay fault or of the
// latency at once, dropping the connection.
func TestCloseEndsDelay(t *testing.T) {
	tests := []struct {
		name string
		slow func(*opaltest.Server)
	}{
		{"Delay fault", func(srv *opaltest.Server) { srv.Inject(opaltest.Fault{Delay: time.Hour}) }},
		{"latency", func(srv *opaltest.Server) { srv.SetLatency(time.Hour) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := opaltest.NewServer()
			tt.slow(srv)
			errc := make(chan error, 1)
			go func() {
				_, _, err := rawGet(t, srv, "/sessions", url.Values{"resource_id": {resourceA}})
				errc <- err
			}()
			waitFor(t, func() bool { return len(srv.Requests()) == 1 })

			closed := make(chan struct{})
			go func() {
				srv.Close()
				srv.Close() // a second Close is harmless
				close(closed)
			}()
			select {
			case <-closed:
			case <-time.After(5 * time.Second):
				t.Fatal("Close did not return within 5s while a request was waiting")
			}
			if err := <-errc; err == nil {
				t.Error("the waiting request got an answer after Close; want its connection dropped")
			}
		})
	}
}

// waitFor polls cond until it holds, for at most 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestClientHasNoRateLimit: srv.Client() turns the client-side rate limit
// off, so that a test's many requests are not paced; a caller's
// WithRateLimit still applies. 200 calls at once, each with half a second to
// go, tell which, whatever the machine's speed: the limiter queues them in
// order and fails at once, saying "rate limit", each call whose turn is past
// its deadline at its rate (with the default limit, every call after the
// 16th or so; with one a second, every call after the first). Without it,
// none says so.
func TestClientHasNoRateLimit(t *testing.T) {
	srv := opaltest.NewServer(makeSessions(0, 1, resourceA)...)
	defer srv.Close()
	turnErrors := func(opts ...opal.Option) int {
		client, err := srv.Client(opts...)
		if err != nil {
			t.Fatal(err)
		}
		var n atomic.Int32
		var wg sync.WaitGroup
		for range 200 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
				defer cancel()
				_, err := client.Sessions.List(ctx, resourceA, nil)
				// A slow machine may time a request out; only the
				// limiter says "rate limit".
				if errors.Is(err, context.DeadlineExceeded) && strings.Contains(err.Error(), "rate limit") {
					n.Add(1)
				}
			})
		}
		wg.Wait()
		return int(n.Load())
	}
	if n := turnErrors(); n != 0 {
		t.Errorf("%d calls through srv.Client() waited for the rate limiter", n)
	}
	if n := turnErrors(opal.WithRateLimit(1)); n == 0 {
		t.Error("no call with WithRateLimit(1) waited for the rate limiter")
	}
}
