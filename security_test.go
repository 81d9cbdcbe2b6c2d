package opal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opalclient/opal-go"
)

// TestFmtNeverPrintsTheToken prints a client and its service with every verb,
// as values and pointers.
func TestFmtNeverPrintsTheToken(t *testing.T) {
	c, err := opal.NewClient(testToken, opal.WithUserAgent("bot/1"))
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{
		"*Client":           c,
		"Client":            *c,
		"*SessionsService":  c.Sessions,
		"SessionsService":   *c.Sessions,
		"*UsersService":     c.Users,
		"*ResourcesService": c.Resources,
		"*AccessService":    c.Access,
		"AccessService":     *c.Access,
		"[]*Client":         []*opal.Client{c},
		"map of *Client":    map[string]*opal.Client{"c": c},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T", "%p"} {
			if out := fmt.Sprintf(verb, v); leaks(out) {
				t.Errorf("fmt.Sprintf(%q, %s) prints the token", verb, name)
			}
		}
	}
}

// TestServerEchoingTheTokenDoesNotLeakIt: some servers and proxies echo the
// request, Authorization header included, in an error body.
func TestServerEchoingTheTokenDoesNotLeakIt(t *testing.T) {
	for tokenName, token := range map[string]string{"token": testToken, "hostile token": hostileToken} {
		t.Run(tokenName, func(t *testing.T) {
			c, mux, _ := setupWithToken(t, token, opal.WithRetryMax(1))
			mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
				auth := r.Header.Get("Authorization")
				w.Header().Set("X-Request-Id", auth)
				// Escaped as JSON encoders do, HTML included, and Go-quoted.
				body, _ := json.Marshal(map[string]any{"message": "upstream rejected " + auth, "request": r.Header})
				writeJSON(w, http.StatusBadGateway, string(body)+fmt.Sprintf("\n%q", auth))
			})
			_, err := c.Sessions.List(context.Background(), "r", nil)
			var apiErr *opal.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("List error = %s, want *APIError", maskToken(fmt.Sprint(err), token))
			}
			for what, text := range map[string]string{
				"Error()": err.Error(), "Message": apiErr.Message, "Body": string(apiErr.Body),
				"RequestID": apiErr.RequestID, "%+v": fmt.Sprintf("%+v", apiErr), "%#v": fmt.Sprintf("%#v", err),
			} {
				if leaksToken(text, token) {
					t.Errorf("%s holds the token: %s", what, maskToken(text, token))
				}
			}
			checkNoTokenInChain(t, err, token)
			if !strings.Contains(string(apiErr.Body), "upstream rejected Bearer [REDACTED]") {
				t.Errorf("Body = %s, want the server's message with the token redacted", maskToken(string(apiErr.Body), token))
			}
		})
	}
}

// TestCallerHTTPClientIsNotModified: WithHTTPClient copies the client.
func TestCallerHTTPClientIsNotModified(t *testing.T) {
	hc := &http.Client{}
	if _, err := opal.NewClient(testToken, opal.WithHTTPClient(hc)); err != nil {
		t.Fatal(err)
	}
	if hc.Transport != nil || hc.CheckRedirect != nil {
		t.Errorf("NewClient modified the caller's http.Client: %+v", hc)
	}
}

// watch keeps what a Client writes to its logger and its observer, to look
// for the token in.
type watch struct {
	mu       sync.Mutex
	logs     strings.Builder
	attempts []opal.Attempt
}

// options make a Client write its debug records and its Attempts to w.
func (w *watch) options() []opal.Option {
	return []opal.Option{
		opal.WithLogger(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		opal.WithObserver(func(_ context.Context, a opal.Attempt) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.attempts = append(w.attempts, a)
		}),
	}
}

func (w *watch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.logs.Write(p)
}

// check fails the test if token, in any form or a piece of it, is in err's
// chain, a log record or an Attempt, or if attempts were made and none was
// heard of (nothing to look in).
func (w *watch) check(t *testing.T, err error, token string, sent bool) {
	t.Helper()
	checkNoTokenInChain(t, err, token)
	w.mu.Lock()
	defer w.mu.Unlock()
	if sent && (len(w.attempts) == 0 || w.logs.Len() == 0) {
		t.Errorf("%d attempts heard of, %d bytes logged: nothing to look for the token in", len(w.attempts), w.logs.Len())
	}
	if leaksToken(w.logs.String(), token) {
		t.Errorf("the log holds the token:\n%s", maskToken(w.logs.String(), token))
	}
	for _, a := range w.attempts {
		if text := fmt.Sprintf("%+v", a); leaksToken(text, token) {
			t.Errorf("attempt %d holds the token: %s", a.N, maskToken(text, token))
		}
		checkNoTokenInChain(t, a.Err, token)
	}
}

// TestEchoedTokenNeverReachesAnError: a server that echoes the request's
// Authorization header into anything it sends that the client reads (a
// header, a body, a redirect) does not get the token into any error in the
// chain, any log record or any Attempt. (net/http's own texts: the next
// test; a cursor that loops: TestListsKeepTheTokenOutOfTheLoopError.)
func TestEchoedTokenNeverReachesAnError(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a request reached another host: %s", r.URL)
	}))
	t.Cleanup(other.Close)
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request, token string)
	}{
		{"as an expiration date", func(w http.ResponseWriter, r *http.Request, token string) {
			writeJSON(w, http.StatusOK, `{"results":[{"expiration_date":"`+token+`"}]}`)
		}},
		{"as a content type", func(w http.ResponseWriter, r *http.Request, token string) {
			w.Header().Set("Content-Type", "text/x-"+token)
			fmt.Fprint(w, "<html></html>")
		}},
		{"as a cursor, then a dropped connection", func(w http.ResponseWriter, r *http.Request, token string) {
			if r.URL.Query().Get("cursor") == "" {
				writeJSON(w, http.StatusOK, fmt.Sprintf(`{"next":%q,"results":[]}`, token))
				return
			}
			if conn := hijack(t, w); conn != nil {
				conn.Close()
			}
		}},
		{"as a request ID and an error's message", func(w http.ResponseWriter, r *http.Request, token string) {
			w.Header().Set("X-Request-Id", r.Header.Get("Authorization"))
			writeJSON(w, http.StatusServiceUnavailable, fmt.Sprintf(`{"message":%q}`, r.Header.Get("Authorization")))
		}},
		{"as a Retry-After", func(w http.ResponseWriter, r *http.Request, token string) {
			w.Header().Set("Retry-After", token)
			writeJSON(w, http.StatusTooManyRequests, `{"message":"slow down"}`)
		}},
		{"as a nested message", func(w http.ResponseWriter, r *http.Request, token string) {
			writeJSON(w, http.StatusBadRequest, fmt.Sprintf(`{"error":{"message":%q},"Message":%[1]q}`, token))
		}},
		{"in a gzip'd error body", func(w http.ResponseWriter, r *http.Request, token string) {
			w.Header().Set("Content-Encoding", "gzip")
			w.WriteHeader(http.StatusBadRequest)
			w.Write(gzipped(fmt.Sprintf(`{"message":%q}`, token)))
		}},
		{"as a body that does not decompress", func(w http.ResponseWriter, r *http.Request, token string) {
			w.Header().Set("Content-Encoding", "gzip")
			writeJSON(w, http.StatusOK, token)
		}},
		{"as a member's name", func(w http.ResponseWriter, r *http.Request, token string) {
			writeJSON(w, http.StatusOK, fmt.Sprintf(`{%q:1}`, token))
		}},
		{"as the results", func(w http.ResponseWriter, r *http.Request, token string) {
			writeJSON(w, http.StatusOK, fmt.Sprintf(`{"results":%q}`, token))
		}},
		{"as a next that is an object", func(w http.ResponseWriter, r *http.Request, token string) {
			writeJSON(w, http.StatusOK, fmt.Sprintf(`{"results":[],"next":{%q:1}}`, token))
		}},
		{"as an item's ID that is not a string", func(w http.ResponseWriter, r *http.Request, token string) {
			writeJSON(w, http.StatusOK, fmt.Sprintf(`{"results":[{"user_id":{%q:1}}]}`, token))
		}},
		{"as the IDs of an item", func(w http.ResponseWriter, r *http.Request, token string) {
			writeJSON(w, http.StatusOK, fmt.Sprintf(`{"results":[{"user_id":%q,"resource_id":%[1]q,"expiration_date":"2030-01-01T00:00:00Z"}]}`, token))
		}},
		{"in a redirect to another host", func(w http.ResponseWriter, r *http.Request, token string) {
			w.Header().Set("Location", other.URL+"/v1/"+url.PathEscape(token)+"?token="+url.QueryEscape(token)+"#"+token)
			w.WriteHeader(http.StatusFound)
		}},
		{"as the user of a redirect to another host", func(w http.ResponseWriter, r *http.Request, token string) {
			w.Header().Set("Location", "http://"+url.QueryEscape(token)+"@"+strings.TrimPrefix(other.URL, "http://")+"/v1/x")
			w.WriteHeader(http.StatusTemporaryRedirect)
		}},
		{"in redirects within the origin, in a loop", func(w http.ResponseWriter, r *http.Request, token string) {
			w.Header().Set("Location", "/v1/sessions?t="+url.QueryEscape(token))
			w.WriteHeader(http.StatusFound)
		}},
	}
	for tokenName, token := range map[string]string{"token": testToken, "hostile token": hostileToken} {
		for _, tt := range tests {
			t.Run(tt.name+"/"+tokenName, func(t *testing.T) {
				w := &watch{}
				c, mux, _ := setupWithToken(t, token, append(w.options(), opal.WithRetryMax(1))...)
				mux.HandleFunc("/v1/sessions", func(rw http.ResponseWriter, r *http.Request) {
					tt.handler(rw, r, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
				})
				var err error
				for _, err = range c.Sessions.All(context.Background(), "r", nil) {
					if err != nil {
						break
					}
				}
				if err == nil {
					t.Fatal("the walk succeeded, want an error")
				}
				w.check(t, err, token, true)
			})
		}
	}
}

// TestTokenInATransportFaultIsInNoError: a server can put the token into
// net/http's own error texts, which quote what it sent: a status line, a
// header, or a Location that does not parse. No error reachable from the
// call's error, log record or Attempt holds it, nor a piece of it (net/url
// quotes the port it found in such a Location, up to the token's first
// '/'), and the faults that would come again the same way are not retried.
func TestTokenInATransportFaultIsInNoError(t *testing.T) {
	raw := func(response string) func(w http.ResponseWriter, token string) {
		return func(w http.ResponseWriter, token string) {
			if conn := hijack(t, w); conn != nil {
				fmt.Fprint(conn, strings.ReplaceAll(response, "TOKEN", token))
				conn.Close()
			}
		}
	}
	tests := []struct {
		name         string
		answer       func(w http.ResponseWriter, token string)
		want         string // in Error()
		wantRequests int32
	}{
		{"token as the status code", raw("HTTP/1.1 TOKEN garbage\r\n\r\n"), "malformed HTTP status code", 1}, // deterministic: not retried
		{"token as the status line", raw("TOKEN\r\n\r\n"), "malformed HTTP response", 1},
		{"token in the protocol", raw("HTTP/9TOKEN 200 OK\r\n\r\n"), "malformed HTTP version", 1},
		{"token as a header line", raw("HTTP/1.1 200 OK\r\nX-TOKEN\r\n\r\n"), "malformed MIME header", 2},
		{"token as a header's value", raw("HTTP/1.1 400 Bad Request\r\nContent-Length: TOKEN\r\n\r\n"), "bad Content-Length", 2},
		{"token as a chunk's size", raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nTOKEN\r\n"), "invalid byte in chunk length", 2},
		{"token as the reason phrase", raw("HTTP/1.1 400 TOKEN\r\nContent-Length: 2\r\n\r\n{}"), "400 Bad Request", 1},
		{"token in an unparsable Location", func(w http.ResponseWriter, token string) {
			w.Header().Set("Location", "/%zz"+token)
			w.WriteHeader(http.StatusFound)
		}, "failed to parse Location header", 1},
		{"token query-escaped in an unparsable Location", func(w http.ResponseWriter, token string) {
			w.Header().Set("Location", "/%zz?token="+url.QueryEscape(token))
			w.WriteHeader(http.StatusFound)
		}, "failed to parse Location header", 1},
		{"token as the port of a Location", func(w http.ResponseWriter, token string) {
			w.Header().Set("Location", "http://127.0.0.1:"+token+"/")
			w.WriteHeader(http.StatusFound)
		}, "failed to parse Location header", 1},
		{"token as the host of a Location", func(w http.ResponseWriter, token string) {
			w.Header().Set("Location", "http://["+token)
			w.WriteHeader(http.StatusFound)
		}, "failed to parse Location header", 1},
	}
	tokens := map[string]string{
		"token": testToken, "hostile token": hostileToken,
		"token with a slash": "Qz7+hUNTER2/XyZ=0123456789abcdefVWk", // a base64 token
	}
	for tokenName, token := range tokens {
		for _, tt := range tests {
			t.Run(tt.name+"/"+tokenName, func(t *testing.T) {
				w := &watch{}
				c, mux, _ := setupWithToken(t, token, append(w.options(), opal.WithRetryMax(1))...)
				var requests atomic.Int32
				mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(rw http.ResponseWriter, r *http.Request) {
					tt.answer(rw, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
				}))
				_, err := c.Sessions.List(context.Background(), "r", nil)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("List error = %s, want one saying %q", maskToken(fmt.Sprint(err), token), tt.want)
				}
				w.check(t, err, token, true)
				if n := requests.Load(); n != tt.wantRequests {
					t.Errorf("%d requests, want %d", n, tt.wantRequests)
				}
			})
		}
	}
}

// redactedSweepErr is the first error of a sweep given the token as a
// resource's ID, which must be a *ResourceError naming it "[REDACTED]".
func redactedSweepErr[T any](t *testing.T, seq iter.Seq2[T, error]) error {
	t.Helper()
	err := firstErr(seq)
	var resourceErr *opal.ResourceError
	if errors.As(err, &resourceErr) && resourceErr.ResourceID != "[REDACTED]" {
		t.Errorf("ResourceError.ResourceID is not [REDACTED]")
	}
	return err
}

// TestATokenPassedAsAnIDIsRedacted: the token passed by mistake as an ID,
// an email, a filter or a cursor, in a path, a query or an argument that is
// refused, reaches no error (its Path, its text, a ResourceError), no log
// record and no Attempt, whatever the server answers: an error that echoes
// the request's path and query back, a redirect elsewhere that does, or a
// dropped connection.
func TestATokenPassedAsAnIDIsRedacted(t *testing.T) {
	tests := []struct {
		name string
		sent bool // whether the call sends a request
		call func(ctx context.Context, c *opal.Client) error
	}{
		{"Users.Get", true, func(ctx context.Context, c *opal.Client) error { _, err := c.Users.Get(ctx, testToken); return err }},
		{"Users.GetByEmail", true, func(ctx context.Context, c *opal.Client) error {
			_, err := c.Users.GetByEmail(ctx, testToken)
			return err
		}},
		{"Resources.Get", true, func(ctx context.Context, c *opal.Client) error { _, err := c.Resources.Get(ctx, testToken); return err }},
		{"Resources.List with the token among IDs", true, func(ctx context.Context, c *opal.Client) error {
			_, err := c.Resources.List(ctx, &opal.ListResourcesOptions{IDs: []string{"r1", testToken}})
			return err
		}},
		{"Resources.List with the token in an ID it refuses", false, func(ctx context.Context, c *opal.Client) error {
			_, err := c.Resources.List(ctx, &opal.ListResourcesOptions{IDs: []string{"r1", testToken + ",r2"}})
			return err
		}},
		{"Resources.List with the token as every filter", true, func(ctx context.Context, c *opal.Client) error {
			_, err := c.Resources.List(ctx, &opal.ListResourcesOptions{Name: testToken, ParentID: testToken, AncestorID: testToken, Type: opal.ResourceType(testToken)})
			return err
		}},
		{"Sessions.All", true, func(ctx context.Context, c *opal.Client) error { return firstErr(c.Sessions.All(ctx, testToken, nil)) }},
		{"Sessions.List with the token as the user", true, func(ctx context.Context, c *opal.Client) error {
			_, err := c.Sessions.List(ctx, "r1", &opal.ListSessionsOptions{UserID: testToken})
			return err
		}},
		{"Sessions.All with the token as the cursor", true, func(ctx context.Context, c *opal.Client) error {
			return firstErr(c.Sessions.All(ctx, "r1", &opal.ListSessionsOptions{Cursor: testToken}))
		}},
		{"Sessions.AllOf with the token among IDs", true, func(ctx context.Context, c *opal.Client) error {
			return redactedSweepErr(t, c.Sessions.AllOf(ctx, []string{testToken}, nil))
		}},
		{"Sessions.AllOf with the token as a cursor it refuses", false, func(ctx context.Context, c *opal.Client) error {
			return redactedSweepErr(t, c.Sessions.AllOf(ctx, []string{testToken}, &opal.ListSessionsOptions{Cursor: testToken}))
		}},
		{"Access.List", true, func(ctx context.Context, c *opal.Client) error {
			_, err := c.Access.List(ctx, testToken, nil)
			return err
		}},
		{"Access.ListForUser, with the token as the cursor too", true, func(ctx context.Context, c *opal.Client) error {
			_, err := c.Access.ListForUser(ctx, testToken, &opal.ListUserAccessOptions{Cursor: testToken})
			return err
		}},
		{"Access.AllOf with the token among IDs", true, func(ctx context.Context, c *opal.Client) error {
			return redactedSweepErr(t, c.Access.AllOf(ctx, []string{testToken}, nil))
		}},
		{"Access.AllOf with the token beside an ID it refuses", false, func(ctx context.Context, c *opal.Client) error {
			return redactedSweepErr(t, c.Access.AllOf(ctx, []string{testToken, ""}, nil))
		}},
	}
	// Each server echoes the request's path and query, where the token is,
	// as some do in their errors.
	echo := func(r *http.Request) string { return r.URL.EscapedPath() + " " + r.URL.Path + "?" + r.URL.RawQuery }
	servers := map[string]func(t *testing.T, requests *atomic.Int32) http.HandlerFunc{
		"an outage, then not found": func(t *testing.T, requests *atomic.Int32) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Request-Id", echo(r))
				body, _ := json.Marshal(map[string]string{"message": "no " + echo(r)})
				status := http.StatusNotFound
				if requests.Load() == 1 { // retried, so that every record is written
					status = http.StatusServiceUnavailable
				}
				writeJSON(w, status, string(body))
			}
		},
		"a redirect elsewhere": func(t *testing.T, requests *atomic.Int32) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://elsewhere.example"+r.URL.RequestURI(), http.StatusTemporaryRedirect)
			}
		},
		"a dropped connection": func(t *testing.T, requests *atomic.Int32) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if conn := hijack(t, w); conn != nil {
					conn.Close()
				}
			}
		},
	}
	for server, handler := range servers {
		for _, tt := range tests {
			t.Run(server+"/"+tt.name, func(t *testing.T) {
				w := &watch{}
				c, mux, _ := setup(t, append(w.options(), opal.WithRetryMax(1))...)
				var requests atomic.Int32
				mux.HandleFunc("/", countingHandler(&requests, handler(t, &requests)))
				err := tt.call(context.Background(), c)
				if err == nil {
					t.Fatal("the call succeeded, want an error")
				}
				w.check(t, err, testToken, tt.sent)
				var apiErr *opal.APIError
				if errors.As(err, &apiErr) && leaks(apiErr.Path) {
					t.Errorf("APIError.Path holds the token: %s", maskToken(apiErr.Path, testToken))
				}
			})
		}
	}
}

// pieceOfTokenAt returns where in token the first run of 8 of its bytes
// that text holds starts, or -1 when text holds none: the pieces that
// NewClient refuses in a base URL, and that the suites of the library and
// the command look for. (A failure says where, never what.)
func pieceOfTokenAt(text, token string) int {
	for i := 0; i+8 <= len(token); i++ {
		if strings.Contains(text, token[i:i+8]) {
			return i
		}
	}
	return -1
}

// TestPiecesOfTheTokenInABaseURLAreRedacted: NewClient keeps a base URL
// holding 7 bytes of the token in a row (it refuses 8), but the client
// writes its path followed by "/" and a route, which may carry on the
// token: a token "A1b2C3d4/users-..." and a base URL ending in "/1b2C3d4"
// make "/1b2C3d4/users", 13 bytes of it. Nothing the client writes, an
// error, APIError.Path or Attempt.Path, holds 8 bytes of the token in a
// row: they are redacted.
func TestPiecesOfTheTokenInABaseURLAreRedacted(t *testing.T) {
	const token = "A1b2C3d4/users-E5f6G7h8I9j0"
	const pasted = "1b2C3d4" // 7 bytes, which NewClient keeps
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/"+pasted+"/users" {
			// A page that hands back the cursor it was asked with: the walk
			// ends with an error that names the request.
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"next":"again","results":[]}`)
			return
		}
		http.Error(w, `{"message":"not found"}`, http.StatusNotFound)
	}))
	defer srv.Close()
	var mu sync.Mutex
	var paths []string
	c, err := opal.NewClient(token, opal.WithBaseURL(srv.URL+"/"+pasted), opal.WithRetryMax(0),
		opal.WithObserver(func(_ context.Context, a opal.Attempt) {
			mu.Lock()
			defer mu.Unlock()
			paths = append(paths, a.Path)
		}))
	if errors.Is(err, opal.ErrInvalidArgument) {
		return // refused: nothing is written
	}
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Sessions.List(t.Context(), "r1", nil)
	if err == nil {
		t.Fatal("Sessions.List answered with a 404 succeeded")
	}
	var apiErr *opal.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("Sessions.List: %v; want an *APIError", err)
	}
	var loopErr error
	for _, err := range c.Users.All(t.Context(), nil) {
		loopErr = err
	}
	if !errors.Is(loopErr, opal.ErrCursorLoop) {
		t.Fatalf("Users.All ended with %v; want an error matching ErrCursorLoop", loopErr)
	}
	mu.Lock()
	defer mu.Unlock()
	for what, text := range map[string]string{
		"the error":          err.Error(),
		"APIError.Path":      apiErr.Path,
		"Attempt.Path":       strings.Join(paths, " "),
		"the cursor's error": loopErr.Error(),
	} {
		if at := pieceOfTokenAt(text, token); at >= 0 {
			t.Errorf("%s holds 8 bytes of the token in a row (from its byte %d), from a base URL that NewClient kept", what, at)
		}
	}
}
