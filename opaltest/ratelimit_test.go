package opaltest_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// slowly is a rate at which no token comes back while a test runs: one
// every 1000 seconds.
const slowly = 0.001

// TestRateLimit sends the same five requests, to different endpoints and
// with and without the token, under several limits: the bucket is one for
// them all, and every request counts.
func TestRateLimit(t *testing.T) {
	requests := []struct {
		path  string
		query url.Values
		token string
	}{
		{"/sessions", query, ""},
		{"/users", nil, "opaltest-wrong"}, // 401
		{"/nowhere", nil, ""},             // 404
		{"/resources", nil, ""},
		{"/user", url.Values{"email": {"nobody@acme-corp.dev"}}, ""}, // 404
	}
	normal := []int{200, 401, 404, 200, 404}
	tests := []struct {
		name      string
		perSecond float64
		burst     int
		want      []int
	}{
		{"burst of 3", slowly, 3, []int{200, 401, 404, 429, 429}},
		{"burst of 1", slowly, 1, []int{200, 429, 429, 429, 429}},
		{"burst of 0 is 1", slowly, 0, []int{200, 429, 429, 429, 429}},
		{"negative burst is 1", slowly, -5, []int{200, 429, 429, 429, 429}},
		{"0 is off", 0, 3, normal},
		{"negative is off", -1, 3, normal},
		{"NaN is off", math.NaN(), 3, normal},
		{"infinite rate", math.Inf(1), 0, normal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := opaltest.NewServer()
			defer srv.Close()
			srv.SetRateLimit(tt.perSecond, tt.burst)

			var got []int
			wantRefused := 0
			for i, req := range requests {
				token := srv.Token
				if req.token != "" {
					token = req.token
				}
				resp, body, err := rawGet(t, srv, req.path, req.query, token)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, resp.StatusCode)
				if tt.want[i] == http.StatusTooManyRequests {
					wantRefused++
					checkRateLimited(t, resp, body)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
			if n := srv.RateLimited(); n != wantRefused {
				t.Errorf("RateLimited() = %d, want %d", n, wantRefused)
			}
			if n := len(srv.Requests()); n != len(requests) {
				t.Errorf("Requests() holds %d requests, want %d, the refused ones too", n, len(requests))
			}
		})
	}
}

// checkRateLimited checks a refusal for the rate limit: 429, a JSON
// message, no Retry-After.
func checkRateLimited(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	type answer struct {
		Status           int
		ContentType      string
		RetryAfter, Body string
	}
	want := answer{429, "application/json", "", `{"message":"rate limit exceeded"}`}
	got := answer{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), string(body)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("refusal (-want +got):\n%s", diff)
	}
}

// TestSetRateLimitAgain: each call starts a full bucket, 0 turns the limit
// off, and the count goes on across calls.
func TestSetRateLimitAgain(t *testing.T) {
	srv := opaltest.NewServer()
	defer srv.Close()
	status := func() int {
		resp, _, err := rawGet(t, srv, "/sessions", query)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	var got []int
	srv.SetRateLimit(slowly, 1)
	got = append(got, status(), status())
	srv.SetRateLimit(0, 1)
	got = append(got, status(), status())
	srv.SetRateLimit(slowly, 2)
	got = append(got, status(), status(), status())
	if diff := cmp.Diff([]int{200, 429, 200, 200, 200, 200, 429}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if n := srv.RateLimited(); n != 2 {
		t.Errorf("RateLimited() = %d, want 2", n)
	}
}

// TestRateLimitBeforeFaults: a request refused for the rate limit takes no
// fault; the next one that passes the limit does.
func TestRateLimitBeforeFaults(t *testing.T) {
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.Inject(opaltest.Fault{Status: 503}, opaltest.Fault{Status: 502})
	srv.SetRateLimit(slowly, 1)

	var got []int
	for i := range 4 {
		if i == 2 {
			srv.SetRateLimit(0, 0)
		}
		resp, _, err := rawGet(t, srv, "/sessions", query)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, resp.StatusCode)
	}
	if diff := cmp.Diff([]int{503, 429, 502, 200}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

// TestRateLimitThroughClient: the opal client retries the 429s and then
// reports the last one, with the server's message and no Retry-After.
func TestRateLimitThroughClient(t *testing.T) {
	srv := opaltest.NewServer(makeSessions(0, 1, resourceA)...)
	defer srv.Close()
	srv.SetRateLimit(slowly, 1)
	client, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Sessions.List(t.Context(), resourceA, nil); err != nil {
		t.Fatalf("first List: %v", err)
	}
	_, err = client.Sessions.List(t.Context(), resourceA, nil)
	var apiErr *opal.APIError
	if !errors.Is(err, opal.ErrRateLimited) || !errors.As(err, &apiErr) {
		t.Fatalf("second List: err = %v, want ErrRateLimited", err)
	}
	want := &opal.APIError{StatusCode: 429, Message: "rate limit exceeded", Attempts: 5}
	got := &opal.APIError{StatusCode: apiErr.StatusCode, Message: apiErr.Message, RetryAfter: apiErr.RetryAfter, Attempts: apiErr.Attempts}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("second List's error (-want +got):\n%s", diff)
	}
	if n := srv.RateLimited(); n != 5 {
		t.Errorf("RateLimited() = %d, want 5 (the attempts of the second List)", n)
	}
}

// TestLatency: every answer waits for the latency, errors and refusals
// included, and a Delay fault adds to it. Only lower bounds are checked:
// a slow machine may take longer, never shorter.
func TestLatency(t *testing.T) {
	const latency = 30 * time.Millisecond
	tests := []struct {
		name       string
		setup      func(*testing.T, *opaltest.Server)
		token      string
		wantStatus int
		atLeast    time.Duration
	}{
		{"200", func(*testing.T, *opaltest.Server) {}, "", 200, latency},
		{"401", func(*testing.T, *opaltest.Server) {}, "opaltest-wrong", 401, latency},
		{"rate limited", func(t *testing.T, srv *opaltest.Server) {
			srv.SetRateLimit(slowly, 1)
			if _, _, err := rawGet(t, srv, "/sessions", query); err != nil { // takes the only turn
				t.Fatal(err)
			}
		}, "", 429, latency},
		{"fault", func(_ *testing.T, srv *opaltest.Server) { srv.Inject(opaltest.Fault{Status: 503}) }, "", 503, latency},
		{"Delay adds to it", func(_ *testing.T, srv *opaltest.Server) { srv.Inject(opaltest.Fault{Delay: 20 * time.Millisecond}) }, "", 200, latency + 20*time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := opaltest.NewServer()
			defer srv.Close()
			tt.setup(t, srv)
			srv.SetLatency(latency)
			token := srv.Token
			if tt.token != "" {
				token = tt.token
			}
			start := time.Now()
			resp, _, err := rawGet(t, srv, "/sessions", query, token)
			elapsed := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus || elapsed < tt.atLeast {
				t.Errorf("%s after %v; want %d after at least %v", resp.Status, elapsed, tt.wantStatus, tt.atLeast)
			}
		})
	}
}

// TestLatencyEndsWhenClientGoes: a client that gives up does not wait out
// the latency, and the server is not held up by its request.
func TestLatencyEndsWhenClientGoes(t *testing.T) {
	srv := opaltest.NewServer()
	srv.SetLatency(time.Hour)
	if _, err := getWithin(t, srv, 20*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("request through an hour's latency: err = %v, want the context's deadline", err)
	}

	closed := make(chan struct{})
	go func() {
		srv.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s after the client had gone")
	}
}

// TestSetLatencyOff: SetLatency(0) removes the wait, which an hour's
// latency shows without timing anything short.
func TestSetLatencyOff(t *testing.T) {
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.SetLatency(time.Hour)
	srv.SetLatency(0)
	if resp, err := getWithin(t, srv, 5*time.Second); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("after SetLatency(0): %v, %v; want a 200 at once", resp, err)
	}
}

// getWithin sends GET /sessions with srv's token, giving up after timeout.
func getWithin(t *testing.T, srv *opaltest.Server, timeout time.Duration) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/sessions?"+query.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	resp, _, err := send(req)
	return resp, err
}
