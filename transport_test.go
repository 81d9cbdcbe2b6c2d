package opal_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opalclient/opal-go"
)

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
			var apiErr *opal.APIError
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
		writeJSON(w, http.StatusOK, `{"results":[{"user_id":"u1","resource_id":"r","expiration_date":"2030-01-01T00:00:00Z"}]}`)
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
			c, mux, _ := setup(t, opal.WithHTTPClient(tt.hc))
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
			c, err := opal.NewClient(testToken, opal.WithHTTPClient(&http.Client{Transport: rt}), opal.WithRetryMax(0))
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

// TestCallerTransportIsNotModified: the proxy guard works on a clone.
func TestCallerTransportIsNotModified(t *testing.T) {
	proxyURL := &url.URL{Scheme: "http", Host: "127.0.0.1:3128"}
	proxy := http.ProxyURL(proxyURL)
	tr := &http.Transport{Proxy: proxy}
	if _, err := opal.NewClient(testToken, opal.WithBaseURL("http://127.0.0.1:1/v1"), opal.WithHTTPClient(&http.Client{Transport: tr})); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/v1/sessions", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if u, err := tr.Proxy(req); err != nil || u == nil || u.Host != proxyURL.Host {
		t.Errorf("the caller's Proxy now returns %v, %v; want its own proxy", u, err)
	}
}

// TestConnectionsAreReusedAfterFailures: neither a retried error with a
// large body nor a failed call costs a new connection. go-retryablehttp
// drains only 4 KiB of a retried body and closes all idle connections after a
// failed call; the transport's buffering and its lack of
// CloseIdleConnections are what keep the connection. (On the fake clock,
// over a network in memory: see MemNet.)
func TestConnectionsAreReusedAfterFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var requests atomic.Int32
		n := newMemNet(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		tr := n.Transport()
		defer tr.CloseIdleConnections()
		c := clientOf(t, &http.Client{Transport: tr}, opal.WithRetryWait(time.Millisecond, time.Millisecond))
		ctx := t.Context()
		if _, err := c.Sessions.List(ctx, "r", nil); err != nil {
			t.Fatalf("List after a 502: %v", err)
		}
		if _, err := c.Sessions.List(ctx, "r", nil); !errors.Is(err, opal.ErrNotFound) {
			t.Fatalf("List error = %v, want ErrNotFound", err)
		}
		if _, err := c.Sessions.List(ctx, "r", nil); err != nil {
			t.Fatalf("List after a 404: %v", err)
		}
		if d := n.Dials(); d != 1 {
			t.Errorf("%d requests used %d connections, want 1", requests.Load(), d)
		}
	})
}
