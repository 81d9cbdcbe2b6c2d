package opal

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// hostileToken holds a character that each form of escaping changes, so
// that a test with it tells the raw, JSON, Go-quoted and URL forms apart.
const hostileToken = `Tk9/<a&b>"c\d+e%f?g=h#-x`

// tokenForms is every way the tests look for a token in text: as it is, in
// hex (fmt's %x), escaped in a JSON string with and without HTML escaping,
// Go-quoted, and URL-escaped for a query or a path. It is written apart from
// the library's own list on purpose.
func tokenForms(token string) map[string]string {
	htmlJSON, _ := json.Marshal(token)
	var plainJSON bytes.Buffer
	enc := json.NewEncoder(&plainJSON)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(token)
	unquote := func(s string) string { return s[1 : len(s)-1] }
	return map[string]string{
		"raw":          token,
		"hex":          hex.EncodeToString([]byte(token)),
		"JSON":         unquote(string(htmlJSON)),
		"JSON no HTML": unquote(strings.TrimSpace(plainJSON.String())),
		"Go-quoted":    unquote(strconv.Quote(token)),
		"query":        url.QueryEscape(token),
		"path":         url.PathEscape(token),
	}
}

// leaksToken reports whether text holds token in any of its forms.
func leaksToken(text, token string) bool {
	lower := strings.ToLower(text) // fmt's %X writes hex in capitals
	for name, form := range tokenForms(token) {
		if strings.Contains(text, form) || name == "hex" && strings.Contains(lower, form) {
			return true
		}
	}
	return false
}

// leaks reports whether text holds testToken in any form fmt could print it.
func leaks(text string) bool { return leaksToken(text, testToken) }

// maskToken replaces every form of a token in text with a placeholder
// naming the form, so that a failing test can show text without the token.
// A token shorter than 8 bytes is no secret in a test, and is left.
func maskToken(text, token string) string {
	if len(token) < 8 {
		return text
	}
	forms := tokenForms(token)
	names := slices.Collect(maps.Keys(forms))
	// Longest first, so that a form holding another is masked whole.
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(len(forms[b])-len(forms[a]), strings.Compare(a, b)) })
	for _, name := range names {
		text = strings.ReplaceAll(text, forms[name], "<token, "+name+">")
	}
	return text
}

// errorTree is err and every error reachable from it through
// Unwrap() error and Unwrap() []error, as errors.Is walks them.
func errorTree(err error) []error {
	if err == nil {
		return nil
	}
	tree := []error{err}
	switch e := err.(type) {
	case interface{ Unwrap() error }:
		tree = append(tree, errorTree(e.Unwrap())...)
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			tree = append(tree, errorTree(inner)...)
		}
	}
	return tree
}

// checkNoTokenInChain fails the test if any error reachable from err holds
// token in any of its forms, printed with %v, %+v, %#v, %s, %q or Error(),
// as an error tracker that unwraps errors would print them.
func checkNoTokenInChain(t *testing.T, err error, token string) {
	t.Helper()
	for i, e := range errorTree(err) {
		texts := map[string]string{"Error()": e.Error()}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			texts[verb] = fmt.Sprintf(verb, e)
		}
		for how, text := range texts {
			if leaksToken(text, token) {
				t.Errorf("error %d of the chain (%T), printed with %s, holds the token: %s", i, e, how, maskToken(text, token))
			}
		}
	}
}

// TestFmtNeverPrintsTheToken prints a client and its service with every verb,
// as values and pointers.
func TestFmtNeverPrintsTheToken(t *testing.T) {
	c, err := NewClient(testToken, WithUserAgent("bot/1"))
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{
		"*Client":          c,
		"Client":           *c,
		"*SessionsService": c.Sessions,
		"SessionsService":  *c.Sessions,
		"[]*Client":        []*Client{c},
		"map of *Client":   map[string]*Client{"c": c},
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
			c, mux, _ := setupWithToken(t, token, WithRetryMax(1))
			mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
				auth := r.Header.Get("Authorization")
				w.Header().Set("X-Request-Id", auth)
				// Escaped as JSON encoders do, HTML included, and Go-quoted.
				body, _ := json.Marshal(map[string]any{"message": "upstream rejected " + auth, "request": r.Header})
				writeJSON(w, http.StatusBadGateway, string(body)+fmt.Sprintf("\n%q", auth))
			})
			_, err := c.Sessions.List(context.Background(), "r", nil)
			var apiErr *APIError
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

// TestRedirectToAnotherHostIsRefused: the token goes to the base URL's
// origin only. A redirect elsewhere is not followed: it becomes an *APIError
// with its 3xx status, is not retried, and the other host never sees a request.
func TestRedirectToAnotherHostIsRefused(t *testing.T) {
	var otherRequests atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherRequests.Add(1)
		if r.Header.Get("Authorization") != "" {
			t.Error("the other host received an Authorization header")
		}
		writeJSON(w, http.StatusOK, `{"results":[]}`)
	}))
	defer other.Close()
	// localhost and 127.0.0.1 are different hosts.
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)

	tests := []struct {
		name       string
		status     int
		target     string
		wantTarget string // as the message names it
	}{
		{"another host", http.StatusFound, otherURL + "/v1/sessions", otherURL + "/v1/sessions"},
		{"another port", http.StatusTemporaryRedirect, other.URL + "/v1/sessions", other.URL + "/v1/sessions"},
		{"https to a look-alike", http.StatusMovedPermanently, "https://127.0.0.1.evil.example/v1/sessions", "https://127.0.0.1.evil.example/v1/sessions"},
		// A signed URL's query and a password are not repeated.
		{"with user info, a query and a fragment", http.StatusFound, "https://user:pw@evil.example/v1/sessions?sig=s3cr3t&x=1#frag",
			"https://evil.example/v1/sessions"},
		{"with the token in its path and query", http.StatusFound, "https://evil.example/" + testToken + "/?token=" + testToken,
			"https://evil.example/[REDACTED]/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, _ := setup(t)
			var requests atomic.Int32
			mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, tt.target, tt.status)
			}))
			_, err := c.Sessions.List(context.Background(), "r", nil)
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tt.status {
				t.Fatalf("List error = %v, want *APIError with status %d", err, tt.status)
			}
			if want := "redirect to " + tt.wantTarget + " not followed"; !strings.Contains(apiErr.Message, want) {
				t.Errorf("Message = %q, want it to say %q", maskToken(apiErr.Message, testToken), want)
			}
			checkNoTokenInChain(t, err, testToken)
			if n := requests.Load(); n != 1 {
				t.Errorf("%d requests sent, want 1 (no retries)", n)
			}
		})
	}
	if n := otherRequests.Load(); n != 0 {
		t.Errorf("the other host got %d requests", n)
	}
}

// TestRedirectPolicyErrorsAreNotRetried: the caller's CheckRedirect, or
// net/http's limit of 10, ends the call at once.
func TestRedirectPolicyErrorsAreNotRetried(t *testing.T) {
	tests := []struct {
		name         string
		hc           *http.Client
		want         string
		wantRequests int32
	}{
		{"caller's policy", &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return errors.New("no redirects here") }}, "no redirects here", 1},
		{"endless redirects", &http.Client{}, "stopped after 10 redirects", 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, _ := setup(t, WithHTTPClient(tt.hc))
			var requests atomic.Int32
			mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/v1/sessions?"+r.URL.RawQuery, http.StatusFound)
			}))
			_, err := c.Sessions.List(context.Background(), "r", nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("List error = %v, want %q", err, tt.want)
			}
			checkNoTokenInChain(t, err, testToken)
			if n := requests.Load(); n != tt.wantRequests {
				t.Errorf("%d requests, want %d (one call, no retries)", n, tt.wantRequests)
			}
		})
	}
}

func TestRedirectWithinTheOriginKeepsTheToken(t *testing.T) {
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/v1/sessions-moved?"+r.URL.RawQuery, http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/v1/sessions-moved", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			writeJSON(w, http.StatusUnauthorized, `{"message":"no token"}`)
			return
		}
		writeJSON(w, http.StatusOK, `{"results":[{"user_id":"u1","resource_id":"r"}]}`)
	})
	got, err := c.Sessions.List(context.Background(), "r", nil)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got.Results) != 1 {
		t.Errorf("List = %+v, want one session", got)
	}
}

// TestTransportSendsTheTokenToTheOriginOnly checks the per-request rule
// directly, for requests that reach the transport by any path.
func TestTransportSendsTheTokenToTheOriginOnly(t *testing.T) {
	var gotAuth []string
	rec := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		gotAuth = append(gotAuth, r.Header.Get("Authorization"))
		return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}, nil
	})
	base, err := parseBaseURL("https://opal.example.com/v1")
	if err != nil {
		t.Fatal(err)
	}
	tr := &transport{next: rec, base: base, token: func() string { return testToken }}
	urls := []string{
		"https://opal.example.com/v1/sessions",
		"https://OPAL.example.com:443/v1/sessions",
		"http://opal.example.com/v1/sessions",
		"https://opal.example.com:8443/v1/sessions",
		"https://evil.example.com/v1/sessions",
		"https://opal.example.com.evil.example/v1/sessions",
	}
	for _, u := range urls {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if _, err := tr.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
		if req.Header.Get("Authorization") != "" {
			t.Errorf("RoundTrip changed the caller's request for %s", u)
		}
	}
	bearer := "Bearer " + testToken
	want := []bool{true, true, false, false, false, false}
	for i, auth := range gotAuth {
		if (auth == bearer) != want[i] {
			t.Errorf("%s: token sent = %v, want %v", urls[i], auth == bearer, want[i])
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestCallerHTTPClientIsNotModified: WithHTTPClient copies the client.
func TestCallerHTTPClientIsNotModified(t *testing.T) {
	hc := &http.Client{}
	if _, err := NewClient(testToken, WithHTTPClient(hc)); err != nil {
		t.Fatal(err)
	}
	if hc.Transport != nil || hc.CheckRedirect != nil {
		t.Errorf("NewClient modified the caller's http.Client: %+v", hc)
	}
}

// TestBrokenRoundTripperDoesNotPanic: a hand-written RoundTripper given
// through WithHTTPClient may return a response without a body, or nothing.
func TestBrokenRoundTripperDoesNotPanic(t *testing.T) {
	tests := []struct {
		name string
		resp *http.Response
		want string
	}{
		{"error status without a body", &http.Response{StatusCode: http.StatusNotFound, Header: http.Header{}}, "404 Not Found"},
		{"success without a body", &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}}, "the body is empty"},
		{"nil response and nil error", nil, "returned neither a response nor an error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := roundTripFunc(func(*http.Request) (*http.Response, error) { return tt.resp, nil })
			c, err := NewClient(testToken, WithHTTPClient(&http.Client{Transport: rt}), WithRetryMax(0))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Sessions.List(context.Background(), "r", nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("List error = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// TestEchoedTokenNeverReachesAnError: a server that echoes the request's
// Authorization header into the text an error quotes (a date, a content
// type, a cursor) does not get the token into any error in the chain.
func TestEchoedTokenNeverReachesAnError(t *testing.T) {
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request, auth string)
	}{
		{"as an expiration date", func(w http.ResponseWriter, r *http.Request, auth string) {
			writeJSON(w, http.StatusOK, `{"results":[{"expiration_date":"`+auth+`"}]}`)
		}},
		{"as a content type", func(w http.ResponseWriter, r *http.Request, auth string) {
			w.Header().Set("Content-Type", "text/x-"+strings.TrimPrefix(auth, "Bearer "))
			fmt.Fprint(w, "<html></html>")
		}},
		{"as a cursor that loops", func(w http.ResponseWriter, r *http.Request, auth string) {
			writeJSON(w, http.StatusOK, fmt.Sprintf(`{"next":%q,"results":[]}`, auth))
		}},
		{"as a cursor, then a dropped connection", func(w http.ResponseWriter, r *http.Request, auth string) {
			if r.URL.Query().Get("cursor") == "" {
				writeJSON(w, http.StatusOK, fmt.Sprintf(`{"next":%q,"results":[]}`, auth))
				return
			}
			if conn := hijack(t, w); conn != nil {
				conn.Close()
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs strings.Builder
			c, mux, _ := setup(t, WithRetryMax(1), WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
				tt.handler(w, r, r.Header.Get("Authorization"))
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
			checkNoTokenInChain(t, err, testToken)
			if leaks(logs.String()) {
				t.Errorf("the log holds the token")
			}
		})
	}
}

// TestTokenInATransportFaultIsInNoError: a server can put the token into
// net/http's own error texts, which quote what it sent: a status line, or a
// Location that does not parse. No error reachable from the call's error
// holds it, and the unparsable Location, which would fail the same way
// again, is not retried.
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
		{"token in an unparsable Location", func(w http.ResponseWriter, token string) {
			w.Header().Set("Location", "/%zz"+token)
			w.WriteHeader(http.StatusFound)
		}, "failed to parse Location header", 1},
		{"token query-escaped in an unparsable Location", func(w http.ResponseWriter, token string) {
			w.Header().Set("Location", "/%zz?token="+url.QueryEscape(token))
			w.WriteHeader(http.StatusFound)
		}, "failed to parse Location header", 1},
	}
	for tokenName, token := range map[string]string{"token": testToken, "hostile token": hostileToken} {
		for _, tt := range tests {
			t.Run(tt.name+"/"+tokenName, func(t *testing.T) {
				c, mux, _ := setupWithToken(t, token, WithRetryMax(1))
				var requests atomic.Int32
				mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
					tt.answer(w, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
				}))
				_, err := c.Sessions.List(context.Background(), "r", nil)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("List error = %s, want one saying %q", maskToken(fmt.Sprint(err), token), tt.want)
				}
				checkNoTokenInChain(t, err, token)
				if n := requests.Load(); n != tt.wantRequests {
					t.Errorf("%d requests, want %d", n, tt.wantRequests)
				}
			})
		}
	}
}

// recordingProxy is a loopback "proxy" that records every request it gets
// and answers each as the API would, so that a request sent through it
// would succeed.
func recordingProxy(t *testing.T) (*url.URL, *atomic.Int32) {
	var got atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		writeJSON(w, http.StatusOK, `{"results":[]}`)
	}))
	t.Cleanup(proxy.Close)
	u, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u, &got
}

// TestPlainHTTPNeverGoesThroughAProxy: with a plain-http (loopback) base
// URL, a request carrying the token is never sent to a proxy. A caller's
// transport with a proxy is refused, with an error naming the proxy, without
// retries; the library's own transport sends such requests directly.
func TestPlainHTTPNeverGoesThroughAProxy(t *testing.T) {
	proxyURL, proxied := recordingProxy(t)
	tests := []struct {
		name      string
		transport func() *http.Transport
		want      string // in the error; "" for a call that reaches the server directly
	}{
		{"caller's transport with a proxy", func() *http.Transport {
			return &http.Transport{Proxy: http.ProxyURL(proxyURL)}
		}, "refusing to send the API token in clear text through proxy " + proxyURL.Host},
		{"caller's transport with a proxy that skips this host", func() *http.Transport {
			return &http.Transport{Proxy: func(*http.Request) (*url.URL, error) { return nil, nil }}
		}, ""},
		{"the library's transport, made from one with a proxy", func() *http.Transport {
			return libraryTransport(&http.Transport{Proxy: http.ProxyURL(proxyURL)})
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxied.Store(0)
			c, mux, _ := setup(t, WithHTTPClient(&http.Client{Transport: tt.transport()}), WithRetryMax(2))
			var direct atomic.Int32
			mux.HandleFunc("/v1/sessions", countingHandler(&direct, func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, `{"results":[]}`)
			}))
			_, err := c.Sessions.List(context.Background(), "r", nil)
			if n := proxied.Load(); n != 0 {
				t.Errorf("the proxy received %d requests, want none", n)
			}
			if tt.want == "" {
				if err != nil || direct.Load() != 1 {
					t.Errorf("List error = %v after %d direct requests; want success, sent directly", err, direct.Load())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("List error = %v, want one saying %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "attempts") || direct.Load() != 0 {
				t.Errorf("List error = %v after %d direct requests; want no retry and no request", err, direct.Load())
			}
			checkNoTokenInChain(t, err, testToken)
		})
	}
}

// TestCallerTransportIsNotModified: the proxy guard works on a clone.
func TestCallerTransportIsNotModified(t *testing.T) {
	proxyURL, _ := recordingProxy(t)
	proxy := http.ProxyURL(proxyURL)
	tr := &http.Transport{Proxy: proxy}
	if _, err := NewClient(testToken, WithBaseURL("http://127.0.0.1:1/v1"), WithHTTPClient(&http.Client{Transport: tr})); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/v1/sessions", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if u, err := tr.Proxy(req); err != nil || u == nil || u.Host != proxyURL.Host {
		t.Errorf("the caller's Proxy now returns %v, %v; want its own proxy", u, err)
	}
}

// TestClientsShareOneConnectionPool: clients made without WithHTTPClient
// share one transport, so many short-lived clients use one connection rather
// than leaving one each behind.
func TestClientsShareOneConnectionPool(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"results":[]}`)
	}))
	countConnections(srv, &conns)
	srv.Start()
	defer srv.Close()
	var transports []http.RoundTripper
	for range 20 {
		c, err := NewClient(testToken, WithBaseURL(srv.URL))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Sessions.List(context.Background(), "r", nil); err != nil {
			t.Fatalf("List: %v", err)
		}
		transports = append(transports, c.transport.next)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("20 clients opened %d connections, want 1", n)
	}
	for i, tr := range transports {
		if tr != transports[0] {
			t.Errorf("client %d has a transport of its own", i)
		}
	}
}
