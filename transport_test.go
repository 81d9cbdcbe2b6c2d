package opal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

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
	tr := &tokenTransport{next: rec, base: base, token: func() string { return testToken }}
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
			return libraryTransport(&http.Transport{Proxy: http.ProxyURL(proxyURL)}, maxInFlight)
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
		transports = append(transports, c.httpClient.Transport.(*tokenTransport).next)
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

// TestConnectionsAreReusedAfterFailures: neither a retried error with a
// large body nor a failed call costs a new connection. go-retryablehttp
// drains only 4 KiB of a retried body and closes all idle connections after a
// failed call; the transport's buffering and its lack of
// CloseIdleConnections are what keep the connection.
func TestConnectionsAreReusedAfterFailures(t *testing.T) {
	var requests, conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch requests.Add(1) {
		case 1: // retried: a proxy's large error page
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "<html>"+strings.Repeat("<p>upstream unavailable</p>", 1000)+"</html>")
		case 3: // a failed call
			writeJSON(w, http.StatusNotFound, `{"message":"resource not found"}`)
		default:
			writeJSON(w, http.StatusOK, `{"results":[]}`)
		}
	}))
	countConnections(srv, &conns)
	srv.Start()
	defer srv.Close()
	c, err := NewClient(testToken, WithBaseURL(srv.URL), WithRetryWait(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Sessions.List(ctx, "r", nil); err != nil {
		t.Fatalf("List after a 502: %v", err)
	}
	if _, err := c.Sessions.List(ctx, "r", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("List error = %v, want ErrNotFound", err)
	}
	if _, err := c.Sessions.List(ctx, "r", nil); err != nil {
		t.Fatalf("List after a 404: %v", err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d requests used %d connections, want 1", requests.Load(), n)
	}
}

// TestSweepReusesItsConnections: the shared pool keeps an idle connection
// for each list that a sweep walks at once, so that a second sweep, with as
// many lists in flight, opens no new connection.
func TestSweepReusesItsConnections(t *testing.T) {
	var conns, inFlight atomic.Int32
	var mu sync.Mutex
	allIn := make(chan struct{}) // closed when maxInFlight requests are in flight
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		wait := allIn
		if inFlight.Add(1) == maxInFlight {
			close(allIn)
			allIn = make(chan struct{})
			inFlight.Store(0)
		}
		mu.Unlock()
		select { // hold every request until all are in flight, each on a connection of its own
		case <-wait:
		case <-r.Context().Done():
			return
		}
		id := r.URL.Query().Get("resource_id")
		writeJSON(w, http.StatusOK, `{"results":[{"user_id":"u","resource_id":"`+id+`"}]}`)
	}))
	countConnections(srv, &conns)
	srv.Start()
	defer srv.Close()
	c, err := NewClient(testToken, WithBaseURL(srv.URL), WithRateLimit(0)) // on the shared pool
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ids := make([]string, maxInFlight)
	for i := range ids {
		ids[i] = fmt.Sprint("r", i)
	}
	for round := 1; round <= 2; round++ {
		n := 0
		for _, err := range c.Sessions.AllOf(ctx, ids, nil) {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			n++
		}
		if n != maxInFlight {
			t.Fatalf("round %d: %d sessions, want %d", round, n, maxInFlight)
		}
		if got := conns.Load(); got != maxInFlight {
			t.Errorf("after round %d: %d connections, want %d, one per list in flight", round, got, maxInFlight)
		}
	}
}
