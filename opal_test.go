package opal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// The helpers that the white-box tests share with these, under their own
// names (see shared_internal_test.go).
const (
	testToken    = opal.TestToken
	hostileToken = opal.HostileToken
)

var (
	setup               = opal.Setup
	setupWithToken      = opal.SetupWithToken
	writeJSON           = opal.WriteJSON
	countingHandler     = opal.CountingHandler
	inMemoryClient      = opal.InMemoryClient
	clientOf            = opal.ClientOf
	leaksToken          = opal.LeaksToken
	maskToken           = opal.MaskToken
	checkNoTokenInChain = opal.CheckNoTokenInChain
	noSweepLeft         = opal.NoSweepLeft
	resourceIDs         = opal.ResourceIDs
)

type (
	roundTripFunc = opal.RoundTripFunc
	attemptTimes  = opal.AttemptTimes
)

var newMemNet = opal.NewMemNet

// in2030 is the expiration date of the sessions that tests write by hand.
var in2030 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// countConnections counts in n the connections that srv, not yet started,
// accepts.
func countConnections(srv *httptest.Server, n *atomic.Int32) {
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			n.Add(1)
		}
	}
}

// leaks reports whether text holds testToken in any form fmt could print it.
func leaks(text string) bool { return leaksToken(text, testToken) }

func TestNewClientRejectsBadArguments(t *testing.T) {
	tests := []struct {
		name  string
		token string
		opts  []opal.Option
		want  string // part of the error text
	}{
		{"empty token", "", nil, "empty API token"},
		{"token with newline", "abc\n", nil, "white space"},
		{"token with space", "abc def", nil, "white space"},
		{"unparsable base URL", "t", []opal.Option{opal.WithBaseURL("https://exa mple.com")}, "not a valid URL"},
		{"base URL without scheme", "t", []opal.Option{opal.WithBaseURL("api.opal.dev/v1")}, "has no host"},
		{"base URL without host", "t", []opal.Option{opal.WithBaseURL("https:///v1")}, "has no host"},
		{"empty base URL", "t", []opal.Option{opal.WithBaseURL("")}, "has no host"},
		{"ftp base URL", "t", []opal.Option{opal.WithBaseURL("ftp://opal.example.com")}, `scheme "ftp"`},
		{"plain http to a remote host", "t", []opal.Option{opal.WithBaseURL("http://opal.example.com/v1")}, "plain http"},
		{"plain http to a private address", "t", []opal.Option{opal.WithBaseURL("http://10.0.0.1/v1")}, "plain http"},
		{"plain http to a look-alike of localhost", "t", []opal.Option{opal.WithBaseURL("http://localhost.example.com")}, "plain http"},
		{"plain http to localhost with a long s", "t", []opal.Option{opal.WithBaseURL("http://LOCALHO\u017FT/v1")}, "plain http"},
		{"credentials in base URL", "t", []opal.Option{opal.WithBaseURL("https://user:pw@opal.example.com")}, "credentials"},
		{"query in base URL", "t", []opal.Option{opal.WithBaseURL("https://opal.example.com/v1?x=1")}, "query"},
		{"nil http client", "t", []opal.Option{opal.WithHTTPClient(nil)}, "nil *http.Client"},
		{"negative retry count", "t", []opal.Option{opal.WithRetryMax(-1)}, "negative retry count"},
		{"negative min wait", "t", []opal.Option{opal.WithRetryWait(-time.Second, time.Second)}, "negative wait"},
		{"negative max wait", "t", []opal.Option{opal.WithRetryWait(0, -time.Second)}, "negative wait"},
		{"min wait above max", "t", []opal.Option{opal.WithRetryWait(2*time.Second, time.Second)}, "greater than max"},
		{"max wait of all durations", "t", []opal.Option{opal.WithRetryWait(0, math.MaxInt64)}, "longer than 24h"},
		{"max wait over a day", "t", []opal.Option{opal.WithRetryWait(time.Second, 24*time.Hour+1)}, "longer than 24h"},
		{"token with a tab", "ab\tc", nil, "white space"},
		{"token with DEL", "abc\x7f", nil, "control characters"},
		{"token with a byte-order mark", "\uFEFFabc", nil, "invisible formatting characters"},
		{"token with a no-break space", "abc\u00A0", nil, "white space"},
		{"token with a zero-width space", "ab\u200Bc", nil, "invisible formatting characters"},
		{"token with a line separator", "abc\u2028", nil, "white space"},
		{"token with a paragraph separator", "abc\u2029", nil, "white space"},
		{"token with a next-line character", "abc\u0085", nil, "white space"},
		{"token with an ideographic space", "abc\u3000", nil, "white space"},
		{"token that is not UTF-8", "abc\xff", nil, "outside printable ASCII"},
		{"token with a Hangul filler", "abc\u3164", nil, "outside printable ASCII"},
		{"token with a Braille blank", "abc\u2800", nil, "outside printable ASCII"},
		{"token with a combining grapheme joiner", "abc\u034F", nil, "outside printable ASCII"},
		{"token with a variation selector", "abc\uFE0F", nil, "outside printable ASCII"},
		{"token with a letter outside ASCII", "schlüssel", nil, "outside printable ASCII"},
		{"empty user agent", "t", []opal.Option{opal.WithUserAgent("")}, "not a valid product"},
		{"user agent with newline", "t", []opal.Option{opal.WithUserAgent("bot/1\r\nX-Evil: 1")}, "not a valid product"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := opal.NewClient(tt.token, tt.opts...)
			if !errors.Is(err, opal.ErrInvalidArgument) {
				t.Fatalf("NewClient error = %v, want one wrapping ErrInvalidArgument", err)
			}
			if c != nil {
				t.Errorf("NewClient returned a client with error %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if len(tt.token) > 1 && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error %q quotes the token", err)
			}
		})
	}
}

// TestNewClientRefusalsNeverQuoteTheToken: a token given by mistake in an
// option (the base URL and the token swapped, or pasted together; the
// token as the user agent, or in it) is refused with an error that still
// wraps ErrInvalidArgument, says what holds the token, and quotes neither
// the token nor a piece of it, in any form. So is a value that holds 8
// bytes of the token in a row, valid or not: kept, a base URL would be
// quoted in every error, log record and Attempt, and a user agent printed
// by fmt from the Client (7 bytes are kept: they tell little, and are
// common words). A token that is a URL is refused as swapped with the base
// URL, and a base URL without a host, which may be a token that NewClient
// was not given, is not quoted. The library's own words are kept whole,
// though the token starts like them: the suite's token starts "opal-", as
// the errors' "opal: " does.
func TestNewClientRefusalsNeverQuoteTheToken(t *testing.T) {
	const holds, holdsPart = "holds the API token", "holds part of the API token"
	for _, token := range []string{testToken, "Qz7+hUNTER2/XyZ=0123456789abcdefVWk", hostileToken} {
		esc, path := url.QueryEscape(token), url.PathEscape(token)
		piece := token[2:12]
		for _, opt := range []struct {
			name    string
			asToken string // given to NewClient as the token, where not the token
			opt     opal.Option
			want    string // what the error says after "opal: invalid argument: "
		}{
			{name: "the token as the base URL", opt: opal.WithBaseURL(token), want: "base URL " + holds},
			{name: "the token as the exact base URL", opt: opal.WithExactBaseURL(token), want: "base URL " + holds},
			{name: "the token as the host", opt: opal.WithBaseURL("https://" + token), want: "base URL " + holds},
			{name: "the token in the path of a plain-http URL", opt: opal.WithBaseURL("http://opal.example/" + path), want: "base URL " + holds},
			{name: "the token in an unknown scheme's URL", opt: opal.WithExactBaseURL("ftp://x/" + token), want: "base URL " + holds},
			{name: "the token as the user", opt: opal.WithBaseURL("https://" + esc + "@opal.example/v1"), want: "base URL " + holds},
			{name: "the token as the user, with a password", opt: opal.WithBaseURL("https://" + esc + ":x@opal.example/v1"), want: "base URL " + holds},
			{name: "the token in the query", opt: opal.WithBaseURL("https://opal.example/v1?token=" + esc), want: "base URL " + holds},
			{name: "the token as the fragment", opt: opal.WithBaseURL("https://opal.example/v1#" + esc), want: "base URL " + holds},
			{name: "the token as the port", opt: opal.WithBaseURL("https://opal.example:" + token), want: "base URL " + holds},
			{name: "the token in a URL without a host", opt: opal.WithExactBaseURL("opal.example/" + path), want: "base URL " + holds},
			{name: "the token as the user agent", opt: opal.WithUserAgent(token), want: "WithUserAgent: the product " + holds},
			{name: "the token in the user agent", opt: opal.WithUserAgent("bot/1 (" + token + ")"), want: "WithUserAgent: the product " + holds},
			{name: "the token as the user agent, with its newline", opt: opal.WithUserAgent(token + "\n"), want: "WithUserAgent: the product " + holds},
			{name: "the token in the user agent, with a NUL", opt: opal.WithUserAgent("bot/" + token + "\x00"), want: "WithUserAgent: the product " + holds},
			{name: "a piece of the token in a user agent", opt: opal.WithUserAgent("bot/" + piece), want: "WithUserAgent: the product " + holdsPart},
			{name: "8 bytes of the token in a user agent", opt: opal.WithUserAgent("bot/" + token[3:11]), want: "WithUserAgent: the product " + holdsPart},
			{name: "a piece of the token in a user agent refused anyway", opt: opal.WithUserAgent("bot/" + piece + "\n"), want: "WithUserAgent: the product " + holdsPart},
			{name: "a piece of the token in a base URL", opt: opal.WithBaseURL("https://opal.example/" + url.PathEscape(piece)), want: "base URL " + holdsPart},
			{name: "8 bytes of the token in a base URL", opt: opal.WithBaseURL("https://opal.example/" + url.PathEscape(token[3:11])), want: "base URL " + holdsPart},
			{name: "a piece of the token in an exact base URL", opt: opal.WithExactBaseURL("https://opal.example/" + url.PathEscape(piece)), want: "base URL " + holdsPart},
			{name: "a piece of the token in a URL with a query", opt: opal.WithBaseURL("https://opal.example/v1?t=" + url.QueryEscape(piece)), want: "base URL " + holdsPart},
			{name: "a piece of the token in a URL of another scheme", opt: opal.WithExactBaseURL("ftp://opal.example/" + url.PathEscape(piece)), want: "base URL " + holdsPart},
			{name: "a piece of the token in a URL that does not parse", opt: opal.WithBaseURL("https://opal.example:x" + piece), want: "base URL " + holdsPart},
			{name: "the token and the base URL swapped", asToken: "https://opal.example.com/v1", opt: opal.WithBaseURL(token), want: "API token is a URL (were the token and the base URL swapped?)"},
			{name: "the token and the exact base URL swapped", asToken: "https://opal.example.com/v1", opt: opal.WithExactBaseURL(token), want: "API token is a URL (were the token and the base URL swapped?)"},
			{name: "the token as the base URL of another token", asToken: "opal-other-token-QQQQ", opt: opal.WithBaseURL(path), want: "base URL has no host (want a URL like https://api.opal.dev/v1); it is not quoted"},
		} {
			t.Run(opt.name+"/"+token[:3], func(t *testing.T) {
				given := token
				if opt.asToken != "" {
					given = opt.asToken
				}
				c, err := opal.NewClient(given, opt.opt)
				if !errors.Is(err, opal.ErrInvalidArgument) || c != nil {
					t.Fatalf("NewClient = %v, %s; want nil and ErrInvalidArgument", c, maskToken(fmt.Sprint(err), token))
				}
				checkNoTokenInChain(t, err, token)
				if want := "opal: invalid argument: " + opt.want; !strings.HasPrefix(err.Error(), want) {
					t.Errorf("NewClient error = %q, want it to start %q", maskToken(err.Error(), token), want)
				}
			})
		}
		t.Run("7 bytes of the token are kept/"+token[:3], func(t *testing.T) {
			c, err := opal.NewClient(token, opal.WithBaseURL("https://opal.example/"+url.PathEscape(token[2:9])), opal.WithUserAgent("bot/"+token[2:9]))
			if err != nil || c == nil {
				t.Errorf("NewClient = %v, %s; want a client", c, maskToken(fmt.Sprint(err), token))
			}
		})
	}
}

// TestIDsInPathsAreOneSegment: whatever a resource or user ID holds, the
// server sees it as one escaped segment of its endpoint's path, with no
// query or fragment of its making, and no request reaches another
// endpoint: the one request sent has the path and query wanted, and
// opaltest, which finds the ID as one segment unescaped, answers with the
// object of that ID.
func TestIDsInPathsAreOneSegment(t *testing.T) {
	tests := []struct{ id, escaped string }{
		{"1b978423-db0a-4037-a4cf-f79c60cb67b3", "1b978423-db0a-4037-a4cf-f79c60cb67b3"},
		{"a/b", "a%2Fb"},
		{"../users", "..%2Fusers"},
		{"a/../..", "a%2F..%2F.."},
		{"users/u1", "users%2Fu1"},
		{"%2F", "%252F"},
		{"%2e%2e", "%252e%252e"},
		{"?", "%3F"},
		{"a?user_id=u1", "a%3Fuser_id=u1"},
		{"#", "%23"},
		{"a#b", "a%23b"},
		{"a b", "a%20b"},
		{"a;b", "a%3Bb"},
		{`a\b`, "a%5Cb"},
		{"...", "..."},
		{"ресурс/é", "%D1%80%D0%B5%D1%81%D1%83%D1%80%D1%81%2F%C3%A9"},
		{"a\x00b\nc", "a%00b%0Ac"},
		// Not "users", though Unicode's case folding takes a long s for an s.
		{"u\u017Fers", "u%C5%BFers"},
	}
	calls := []struct {
		name, path, query string // path holds %s where the ID goes
		// add gives an opaltest server what is asked for, of the ID; want
		// is that, as the call returns it; call makes the call.
		add  func(srv *opaltest.Server, id string)
		want func(id string) any
		call func(ctx context.Context, c *opal.Client, id string) (any, error)
	}{
		{"Resources.Get", "/v1/resources/%s", "",
			func(srv *opaltest.Server, id string) { srv.AddResources(opal.Resource{ResourceID: id}) },
			func(id string) any { return &opal.Resource{ResourceID: id} },
			func(ctx context.Context, c *opal.Client, id string) (any, error) {
				r, err := c.Resources.Get(ctx, id)
				return r, err
			}},
		{"Access.List", "/v1/resources/%s/users", "",
			func(srv *opaltest.Server, id string) {
				srv.AddAccess(opal.ResourceAccessUser{ResourceID: id, UserID: "u1"})
			},
			func(id string) any {
				return &opal.ResourceAccessUserList{Results: []opal.ResourceAccessUser{{ResourceID: id, UserID: "u1"}}}
			},
			func(ctx context.Context, c *opal.Client, id string) (any, error) {
				l, err := c.Access.List(ctx, id, nil)
				return l, err
			}},
		{"Access.ListForUser", "/v1/resources/users/%s", "include_unmanaged=false",
			func(srv *opaltest.Server, id string) {
				srv.AddAccess(opal.ResourceAccessUser{ResourceID: "r1", UserID: id})
			},
			func(id string) any {
				return &opal.ResourceAccessUserList{Results: []opal.ResourceAccessUser{{ResourceID: "r1", UserID: id}}}
			},
			func(ctx context.Context, c *opal.Client, id string) (any, error) {
				l, err := c.Access.ListForUser(ctx, id, nil)
				return l, err
			}},
	}
	for _, call := range calls {
		for _, tt := range tests {
			t.Run(call.name+"/"+tt.id, func(t *testing.T) {
				srv := opaltest.NewServer()
				defer srv.Close()
				call.add(srv, tt.id)
				c, err := srv.Client()
				if err != nil {
					t.Fatal(err)
				}
				got, err := call.call(t.Context(), c, tt.id)
				if err != nil {
					t.Fatalf("%s: %v", call.name, err)
				}
				if diff := cmp.Diff(call.want(tt.id), got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", call.name, diff)
				}
				want := fmt.Sprintf(call.path, tt.escaped) + "?" + call.query
				var sent []string
				for _, r := range srv.Requests() {
					sent = append(sent, r.URL.EscapedPath()+"?"+r.URL.RawQuery)
				}
				if diff := cmp.Diff([]string{want}, sent); diff != "" {
					t.Errorf("requests (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestIDsThatAreNotOneSegmentAreRefused: "", "." and ".." name no object in
// a path, and a resource named "users" would reach the endpoint of the
// user "users"; each is refused by every call that puts it in a path,
// with an error that says so and no answer, and nothing is sent.
func TestIDsThatAreNotOneSegmentAreRefused(t *testing.T) {
	resourceGet := map[string]func(c *opal.Client, id string) error{
		"Resources.Get": func(c *opal.Client, id string) error {
			r, err := c.Resources.Get(t.Context(), id)
			if r != nil {
				t.Errorf("Get(%q) returned a resource with its error", id)
			}
			return err
		},
	}
	byResource := map[string]func(c *opal.Client, id string) error{
		"Access.List": func(c *opal.Client, id string) error {
			l, err := c.Access.List(t.Context(), id, nil)
			if l != nil {
				t.Errorf("List(%q) returned a page with its error", id)
			}
			return err
		},
		"Access.Pages": func(c *opal.Client, id string) error { return firstErr(c.Access.Pages(t.Context(), id, nil)) },
		"Access.All":   func(c *opal.Client, id string) error { return firstErr(c.Access.All(t.Context(), id, nil)) },
		"Access.AllOf": func(c *opal.Client, id string) error { return firstErr(c.Access.AllOf(t.Context(), []string{id}, nil)) },
	}
	byUser := map[string]func(c *opal.Client, id string) error{
		"Access.ListForUser": func(c *opal.Client, id string) error {
			l, err := c.Access.ListForUser(t.Context(), id, nil)
			if l != nil {
				t.Errorf("ListForUser(%q) returned a page with its error", id)
			}
			return err
		},
		"Access.PagesForUser": func(c *opal.Client, id string) error { return firstErr(c.Access.PagesForUser(t.Context(), id, nil)) },
		"Access.AllForUser":   func(c *opal.Client, id string) error { return firstErr(c.Access.AllForUser(t.Context(), id, nil)) },
	}
	tests := []struct {
		calls map[string]func(c *opal.Client, id string) error
		id    string
		want  string
	}{
		{resourceGet, "", "opal: invalid argument: empty resource ID"},
		{resourceGet, ".", `opal: invalid argument: resource ID "." is not an ID`},
		{resourceGet, "..", `opal: invalid argument: resource ID ".." is not an ID`},
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
				srv := opaltest.NewServer()
				defer srv.Close()
				c, err := srv.Client()
				if err != nil {
					t.Fatal(err)
				}
				err = call(c, tt.id)
				if !errors.Is(err, opal.ErrInvalidArgument) || !strings.HasPrefix(err.Error(), tt.want) {
					t.Errorf("error %v, want one starting %q", err, tt.want)
				}
				if n := len(srv.Requests()); n != 0 {
					t.Errorf("%d requests sent, want none", n)
				}
			})
		}
	}
}

func TestRequestHeaders(t *testing.T) {
	tests := []struct {
		name      string
		opts      []opal.Option
		wantAgent string
	}{
		{"default user agent", nil, "opal-go/" + opal.Version},
		{"caller's product first", []opal.Option{opal.WithUserAgent("inventory-bot/2.1")}, "inventory-bot/2.1 opal-go/" + opal.Version},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := opaltest.NewServer()
			defer srv.Close()
			c, err := srv.Client(tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Sessions.List(t.Context(), "r", nil); err != nil {
				t.Fatalf("List: %v", err)
			}
			got := srv.Requests()[0].Header
			want := map[string]string{
				"Authorization": "Bearer " + srv.Token,
				"Accept":        "application/json",
				"User-Agent":    tt.wantAgent,
			}
			for name, value := range want {
				if got.Get(name) != value {
					// Never print the Authorization header's value.
					t.Errorf("header %s is wrong", name)
				}
			}
		})
	}
}

// TestListWithDoneContextSendsNothing: a done context is returned as it
// is, a nil one is a bad argument, and nothing is sent.
func TestListWithDoneContextSendsNothing(t *testing.T) {
	srv := opaltest.NewServer()
	defer srv.Close()
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, ctx := range []context.Context{canceled, expired} {
		_, err := c.Sessions.List(ctx, "r", nil)
		if err != ctx.Err() {
			t.Errorf("List error = %v, want the context's own error %v", err, ctx.Err())
		}
	}
	//lint:ignore SA1012 a nil context is a caller's mistake the library must survive
	if _, err := c.Sessions.List(nil, "r", nil); !errors.Is(err, opal.ErrInvalidArgument) {
		t.Errorf("List(nil context) error = %v, want ErrInvalidArgument", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

func TestClientIsSafeForConcurrentUse(t *testing.T) {
	c, mux, _ := setup(t)
	var failed sync.Map
	mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("resource_id")
		// Each resource's first request fails, so retries run concurrently too.
		if _, seen := failed.LoadOrStore(id, true); !seen {
			writeJSON(w, http.StatusServiceUnavailable, `{"message":"busy"}`)
			return
		}
		writeJSON(w, http.StatusOK, `{"results":[{"user_id":"`+id+`","resource_id":"`+id+`","expiration_date":"2030-01-01T00:00:00Z"}]}`)
	})
	const goroutines = 16
	errs := make(chan error, goroutines)
	for i := range goroutines {
		go func() {
			id := fmt.Sprint("r", i)
			list, err := c.Sessions.List(context.Background(), id, nil)
			if err == nil && (len(list.Results) != 1 || list.Results[0].UserID != id) {
				err = fmt.Errorf("resource %s: got %+v", id, list.Results)
			}
			errs <- err
		}()
	}
	for range goroutines {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func jsonUnmarshalString(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// discardLog silences a test server's own error log (TLS handshake failures).
func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
