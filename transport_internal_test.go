package opal

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// TestTransportSendsTheTokenToTheOriginOnly checks the per-request rule
// directly, for requests that reach the transport by any path.
func TestTransportSendsTheTokenToTheOriginOnly(t *testing.T) {
	var gotAuth []string
	rec := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		gotAuth = append(gotAuth, r.Header.Get("Authorization"))
		return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}, nil
	})
	base, err := parseBaseURL("https://opal.desk.example/v1")
	if err != nil {
		t.Fatal(err)
	}
	tr := &tokenTransport{next: rec, base: base, token: func() string { return testToken }}
	urls := []string{
		"https://opal.desk.example/v1/sessions",
		"https://OPAL.DESK.example:443/v1/sessions",
		"http://opal.desk.example/v1/sessions",
		"https://opal.desk.example:8443/v1/sessions",
		"https://evil.example.com/v1/sessions",
		"https://opal.desk.example.evil.example/v1/sessions",
		// Look-alikes, another host that Unicode's case folding takes for
		// this one: a Kelvin sign, a long s.
		"https://opal.des\u212A.example/v1/sessions",
		"https://opal.de\u017Fk.example/v1/sessions",
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
	want := []bool{true, true, false, false, false, false, false, false}
	for i, auth := range gotAuth {
		if (auth == bearer) != want[i] {
			t.Errorf("%s: token sent = %v, want %v", urls[i], auth == bearer, want[i])
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

// TestTheLibraryTransportKeepsProxiesForHTTPS: the library's own transport
// keeps a proxy from plain http only (TestPlainHTTPNeverGoesThroughAProxy);
// an https request, whose token is encrypted, goes through the proxy as
// configured.
func TestTheLibraryTransportKeepsProxiesForHTTPS(t *testing.T) {
	proxyURL := &url.URL{Scheme: "http", Host: "127.0.0.1:3128"}
	tr := libraryTransport(&http.Transport{Proxy: http.ProxyURL(proxyURL)}, maxInFlight)
	req, err := http.NewRequest(http.MethodGet, "https://opal.example.com/v1/sessions", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tr.Proxy(req); err != nil || got == nil || *got != *proxyURL {
		t.Errorf("the proxy of an https request is %v, %v; want %v", got, err, proxyURL)
	}
}

// TestClientsShareOneConnectionPool: clients made without WithHTTPClient
// share one transport, so many short-lived clients leave no idle
// connections of their own behind. (That one transport reuses its
// connections: TestAllReusesOneConnection.)
func TestClientsShareOneConnectionPool(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"results":[]}`)
	}))
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
	for i, tr := range transports {
		if tr != sharedTransport() {
			t.Errorf("client %d has a transport of its own", i)
		}
	}
}

// TestSweepReusesItsConnections: the shared pool keeps an idle connection
// for each list that a sweep walks at once, so that a second sweep, with as
// many lists in flight, opens no new connection. On the fake clock, over a
// network in memory (see MemNet), with a transport made as the shared pool
// is.
func TestSweepReusesItsConnections(t *testing.T) {
	if n := sharedTransport().MaxIdleConnsPerHost; n != maxInFlight {
		t.Fatalf("the shared pool keeps %d idle connections per host, want %d", n, maxInFlight)
	}
	synctest.Test(t, func(t *testing.T) {
		var inFlight atomic.Int32
		var mu sync.Mutex
		allIn := make(chan struct{}) // closed when maxInFlight requests are in flight
		n := NewMemNet(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
			writeJSON(w, http.StatusOK, `{"results":[{"user_id":"u","resource_id":"`+id+`","expiration_date":"2030-01-01T00:00:00Z"}]}`)
		}))
		tr := libraryTransport(n.Transport(), maxInFlight)
		defer tr.CloseIdleConnections()
		c := clientOf(t, &http.Client{Transport: tr})
		ids := make([]string, maxInFlight)
		for i := range ids {
			ids[i] = fmt.Sprint("r", i)
		}
		for round := 1; round <= 2; round++ {
			got := 0
			for _, err := range c.Sessions.AllOf(t.Context(), ids, nil) {
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				got++
			}
			if got != maxInFlight {
				t.Fatalf("round %d: %d sessions, want %d", round, got, maxInFlight)
			}
			if d := n.Dials(); d != maxInFlight {
				t.Errorf("after round %d: %d connections, want %d, one per list in flight", round, d, maxInFlight)
			}
		}
	})
}
