package opal

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
)

// testToken is distinctive so that a leak is easy to find in any output.
const testToken = "opal-test-token-7Yq2Lw9Zx4"

// setup starts a test server and a client for it. The client's base URL ends
// in /v1 like Opal's, so handlers see the API's own paths, and an absolute
// URL in the library would miss the server. Retry waits are milliseconds,
// and there is no client-side rate limit.
func setup(t *testing.T, opts ...Option) (*Client, *http.ServeMux, *httptest.Server) {
	t.Helper()
	return setupWithToken(t, testToken, opts...)
}

// setupWithToken is setup with a client for the given token.
func setupWithToken(t *testing.T, token string, opts ...Option) (*Client, *http.ServeMux, *httptest.Server) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	// No client-side rate limit unless a test sets one: a loopback server
	// answers in microseconds, and the limiter's own tests are elsewhere.
	opts = append([]Option{WithBaseURL(srv.URL + "/v1"), WithRetryWait(time.Millisecond, 2*time.Millisecond), WithRateLimit(0)}, opts...)
	c, err := NewClient(token, opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c, mux, srv
}

// writeJSON answers with a JSON body, as Opal does.
func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

// countConnections counts in n the connections that srv, not yet started,
// accepts.
func countConnections(srv *httptest.Server, n *atomic.Int32) {
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			n.Add(1)
		}
	}
}

// countingHandler answers every request with h and counts them.
func countingHandler(n *atomic.Int32, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}
}

func TestNewClientRejectsBadArguments(t *testing.T) {
	tests := []struct {
		name  string
		token string
		opts  []Option
		want  string // part of the error text
	}{
		{"empty token", "", nil, "empty API token"},
		{"token with newline", "abc\n", nil, "white space"},
		{"token with space", "abc def", nil, "white space"},
		{"unparsable base URL", "t", []Option{WithBaseURL("https://exa mple.com")}, "not a valid URL"},
		{"base URL without scheme", "t", []Option{WithBaseURL("api.opal.dev/v1")}, "has no host"},
		{"base URL without host", "t", []Option{WithBaseURL("https:///v1")}, "has no host"},
		{"empty base URL", "t", []Option{WithBaseURL("")}, "has no host"},
		{"ftp base URL", "t", []Option{WithBaseURL("ftp://opal.example.com")}, `scheme "ftp"`},
		{"plain http to a remote host", "t", []Option{WithBaseURL("http://opal.example.com/v1")}, "plain http"},
		{"plain http to a private address", "t", []Option{WithBaseURL("http://10.0.0.1/v1")}, "plain http"},
		{"plain http to a look-alike of localhost", "t", []Option{WithBaseURL("http://localhost.example.com")}, "plain http"},
		{"credentials in base URL", "t", []Option{WithBaseURL("https://user:pw@opal.example.com")}, "credentials"},
		{"query in base URL", "t", []Option{WithBaseURL("https://opal.example.com/v1?x=1")}, "query"},
		{"nil http client", "t", []Option{WithHTTPClient(nil)}, "nil *http.Client"},
		{"negative retry count", "t", []Option{WithRetryMax(-1)}, "negative retry count"},
		{"negative min wait", "t", []Option{WithRetryWait(-time.Second, time.Second)}, "negative wait"},
		{"negative max wait", "t", []Option{WithRetryWait(0, -time.Second)}, "negative wait"},
		{"min wait above max", "t", []Option{WithRetryWait(2*time.Second, time.Second)}, "greater than max"},
		{"max wait of all durations", "t", []Option{WithRetryWait(0, math.MaxInt64)}, "longer than 24h"},
		{"max wait over a day", "t", []Option{WithRetryWait(time.Second, 24*time.Hour+1)}, "longer than 24h"},
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
		{"empty user agent", "t", []Option{WithUserAgent("")}, "not a valid product"},
		{"user agent with newline", "t", []Option{WithUserAgent("bot/1\r\nX-Evil: 1")}, "not a valid product"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.token, tt.opts...)
			if !errors.Is(err, ErrInvalidArgument) {
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

func TestParseBaseURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://opal.example.com", "https://opal.example.com/v1"},
		{"https://opal.example.com/", "https://opal.example.com/v1"},
		{"https://opal.example.com/v1", "https://opal.example.com/v1"},
		{"https://opal.example.com/v1/", "https://opal.example.com/v1/"},
		{"https://opal.example.com/opal/api", "https://opal.example.com/opal/api"},
		{"HTTPS://opal.example.com:8443", "https://opal.example.com:8443/v1"},
		{"http://localhost:8080", "http://localhost:8080/v1"},
		{"http://LOCALHOST", "http://LOCALHOST/v1"},
		{"http://127.0.0.1:1234/v1", "http://127.0.0.1:1234/v1"},
		{"http://127.8.9.10", "http://127.8.9.10/v1"},
		{"http://[::1]:9000/", "http://[::1]:9000/v1"},
		{DefaultBaseURL, DefaultBaseURL},
	}
	for _, tt := range tests {
		u, err := parseBaseURL(tt.in)
		if err != nil {
			t.Errorf("parseBaseURL(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, u.String()); diff != "" {
			t.Errorf("parseBaseURL(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

// TestBaseURLPaths checks the paths that reach the server, so that no base
// URL form produces "//" or loses its prefix.
func TestBaseURLPaths(t *testing.T) {
	var gotPath atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath.Store(r.URL.Path)
		writeJSON(w, http.StatusOK, `{"results":[]}`)
	}))
	defer srv.Close()
	port := fmt.Sprint(srv.Listener.Addr().(*net.TCPAddr).Port)
	tests := []struct{ base, wantPath string }{
		{srv.URL, "/v1/sessions"},
		{srv.URL + "/", "/v1/sessions"},
		{srv.URL + "/v1", "/v1/sessions"},
		{srv.URL + "/v1/", "/v1/sessions"},
		{srv.URL + "/opal/api/", "/opal/api/sessions"},
		{"http://localhost:" + port + "/custom", "/custom/sessions"},
	}
	for _, tt := range tests {
		c, err := NewClient(testToken, WithBaseURL(tt.base))
		if err != nil {
			t.Fatalf("NewClient(%q): %v", tt.base, err)
		}
		if _, err := c.Sessions.List(context.Background(), "r", nil); err != nil {
			t.Fatalf("List with base %q: %v", tt.base, err)
		}
		if diff := cmp.Diff(tt.wantPath, gotPath.Load()); diff != "" {
			t.Errorf("base %q: path (-want +got):\n%s", tt.base, diff)
		}
	}
}

func TestRequestQuery(t *testing.T) {
	tests := []struct {
		name       string
		resourceID string
		opts       *ListSessionsOptions
		want       url.Values
	}{
		{"resource only", "1b978423-db0a-4037-a4cf-f79c60cb67b3", nil,
			url.Values{"resource_id": {"1b978423-db0a-4037-a4cf-f79c60cb67b3"}}},
		{"zero options send nothing more", "r1", &ListSessionsOptions{},
			url.Values{"resource_id": {"r1"}}},
		{"every option", "r1", &ListSessionsOptions{UserID: "u1", Cursor: "cD0yMDIx", PageSize: 50},
			url.Values{"resource_id": {"r1"}, "user_id": {"u1"}, "cursor": {"cD0yMDIx"}, "page_size": {"50"}}},
		{"largest page", "r1", &ListSessionsOptions{PageSize: 1000},
			url.Values{"resource_id": {"r1"}, "page_size": {"1000"}}},
		{"IDs with query syntax are escaped", "a&user_id=evil#x y", &ListSessionsOptions{UserID: "u=1&page_size=9", Cursor: "c+/=%"},
			url.Values{"resource_id": {"a&user_id=evil#x y"}, "user_id": {"u=1&page_size=9"}, "cursor": {"c+/=%"}}},
		{"white space is sent as given", " r ", &ListSessionsOptions{UserID: "\tu"},
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

func TestRequestHeaders(t *testing.T) {
	tests := []struct {
		name      string
		opts      []Option
		wantAgent string
	}{
		{"default user agent", nil, "opal-go/" + Version},
		{"caller's product first", []Option{WithUserAgent("inventory-bot/2.1")}, "inventory-bot/2.1 opal-go/" + Version},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, _ := setup(t, tt.opts...)
			var got http.Header
			mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
				got = r.Header
				writeJSON(w, http.StatusOK, `{"results":[]}`)
			})
			if _, err := c.Sessions.List(context.Background(), "r", nil); err != nil {
				t.Fatalf("List: %v", err)
			}
			want := map[string]string{
				"Authorization": "Bearer " + testToken,
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

func TestListRejectsBadArgumentsWithoutSending(t *testing.T) {
	tests := []struct {
		name       string
		resourceID string
		opts       *ListSessionsOptions
		want       string
	}{
		{"empty resource ID", "", nil, "empty resource ID"},
		{"negative page size", "r", &ListSessionsOptions{PageSize: -1}, "page size -1"},
		{"page size above 1000", "r", &ListSessionsOptions{PageSize: 1001}, "page size 1001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, _ := setup(t)
			var requests atomic.Int32
			mux.HandleFunc("/", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {}))
			list, err := c.Sessions.List(context.Background(), tt.resourceID, tt.opts)
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("List error = %v, want one wrapping ErrInvalidArgument", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if list != nil {
				t.Errorf("List returned a page with its error")
			}
			if n := requests.Load(); n != 0 {
				t.Errorf("%d requests sent, want none", n)
			}
		})
	}
}

func TestListWithDoneContextSendsNothing(t *testing.T) {
	c, mux, _ := setup(t)
	var requests atomic.Int32
	mux.HandleFunc("/", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {}))

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
	if _, err := c.Sessions.List(nil, "r", nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("List(nil context) error = %v, want ErrInvalidArgument", err)
	}
	if n := requests.Load(); n != 0 {
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
		writeJSON(w, http.StatusOK, `{"results":[{"user_id":"`+id+`","resource_id":"`+id+`"}]}`)
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
