package opal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRetriedStatuses(t *testing.T) {
	tests := []struct {
		status  int
		retried bool
	}{
		{http.StatusTooManyRequests, true},
		{http.StatusInternalServerError, true},
		{http.StatusBadGateway, true},
		{http.StatusServiceUnavailable, true},
		{http.StatusGatewayTimeout, true},
		{http.StatusNotImplemented, false},
		{http.StatusHTTPVersionNotSupported, false},
		{http.StatusBadRequest, false},
		{http.StatusUnauthorized, false},
		{http.StatusForbidden, false},
		{http.StatusNotFound, false},
		{http.StatusConflict, false},
		{http.StatusUnprocessableEntity, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			c, mux, _ := setup(t, WithRetryMax(2))
			var requests atomic.Int32
			mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, tt.status, fmt.Sprintf(`{"message":"failure %d"}`, requests.Load()))
			}))
			_, err := c.Sessions.List(context.Background(), "r", nil)
			wantAttempts := 1
			if tt.retried {
				wantAttempts = 3
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("List error = %v (%T), want *APIError", err, err)
			}
			// The caller gets the last response, not a bare "giving up".
			want := &APIError{
				StatusCode: tt.status, Method: "GET", Path: "/v1/sessions", Attempts: wantAttempts,
				Message: fmt.Sprintf("failure %d", wantAttempts),
				Body:    []byte(fmt.Sprintf(`{"message":"failure %d"}`, wantAttempts)),
			}
			if diff := cmp.Diff(want, apiErr); diff != "" {
				t.Errorf("APIError (-want +got):\n%s", diff)
			}
			if n := int(requests.Load()); n != wantAttempts {
				t.Errorf("%d requests sent, want %d", n, wantAttempts)
			}
		})
	}
}

func TestRetryMaxZeroDisablesRetries(t *testing.T) {
	c, mux, _ := setup(t, WithRetryMax(0))
	var requests atomic.Int32
	mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusServiceUnavailable, `{"message":"down"}`)
	}))
	if _, err := c.Sessions.List(context.Background(), "r", nil); !strings.Contains(fmt.Sprint(err), "503") {
		t.Errorf("List error = %v, want the 503", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests sent, want 1", n)
	}
}

// hijack takes over the connection of a request, for faults net/http will
// not produce on its own.
func hijack(t *testing.T, w http.ResponseWriter) net.Conn {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return nil
	}
	return conn
}

// Faults that a retry mends, each served once before a good answer.
var transportFaults = map[string]func(t *testing.T, w http.ResponseWriter){
	"connection reset before an answer": func(t *testing.T, w http.ResponseWriter) {
		if conn := hijack(t, w); conn != nil {
			conn.(*net.TCPConn).SetLinger(0) // an RST rather than a FIN
			conn.Close()
		}
	},
	"connection closed before an answer": func(t *testing.T, w http.ResponseWriter) {
		if conn := hijack(t, w); conn != nil {
			conn.Close()
		}
	},
	"body shorter than its Content-Length": func(t *testing.T, w http.ResponseWriter) {
		if conn := hijack(t, w); conn != nil {
			fmt.Fprint(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"results\":[{\"user_id\":\"u")
			conn.Close()
		}
	},
	"chunked body cut off": func(t *testing.T, w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"results":[{"user_id":"u`)
		w.(http.Flusher).Flush()
		if conn := hijack(t, w); conn != nil {
			conn.Close()
		}
	},
}

func TestTransportFaultsAreRetried(t *testing.T) {
	for name, fault := range transportFaults {
		t.Run(name, func(t *testing.T) {
			c, mux, _ := setup(t)
			var requests atomic.Int32
			mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
				if requests.Load() == 1 {
					fault(t, w)
					return
				}
				writeJSON(w, http.StatusOK, `{"results":[{"user_id":"u1","resource_id":"r"}]}`)
			}))
			got, err := c.Sessions.List(context.Background(), "r", nil)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if diff := cmp.Diff(&SessionsList{Results: []Session{{UserID: "u1", ResourceID: "r"}}}, got); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
			if n := requests.Load(); n != 2 {
				t.Errorf("%d requests sent, want 2", n)
			}
		})
	}
}

func TestTransportFaultsExhaustRetries(t *testing.T) {
	c, mux, _ := setup(t, WithRetryMax(2))
	var requests atomic.Int32
	mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
		transportFaults["body shorter than its Content-Length"](t, w)
	}))
	_, err := c.Sessions.List(context.Background(), "r", nil)
	if err == nil || !strings.Contains(err.Error(), "after 3 attempts") || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("List error = %v, want an unexpected EOF after 3 attempts", err)
	}
	checkNoTokenInChain(t, err, testToken)
	if n := requests.Load(); n != 3 {
		t.Errorf("%d requests sent, want 3", n)
	}
}

// TestAttemptTimeoutIsRetried gives each attempt a short http.Client timeout
// and a server whose first answer is late.
func TestAttemptTimeoutIsRetried(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	c, mux, _ := setup(t, WithHTTPClient(&http.Client{Timeout: 100 * time.Millisecond}))
	var requests atomic.Int32
	mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
		if requests.Load() == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		writeJSON(w, http.StatusOK, `{"results":[]}`)
	}))
	if _, err := c.Sessions.List(context.Background(), "r", nil); err != nil {
		t.Fatalf("List: %v", err)
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("%d requests sent, want 2", n)
	}
}

// TestContextDeadlineBoundsTheWholeCall: attempts that each time out are
// retried, but the context's deadline ends the call, waits and all.
func TestContextDeadlineBoundsTheWholeCall(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	c, mux, _ := setup(t, WithHTTPClient(&http.Client{Timeout: 20 * time.Millisecond}), WithRetryMax(1000))
	var requests atomic.Int32
	mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
		select { // never answers in time
		case <-release:
		case <-r.Context().Done():
		}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Sessions.List(ctx, "r", nil)
	// Usually the deadline ends an attempt: context.DeadlineExceeded. When
	// an attempt times out just before it, with too little time left for the
	// backoff, the call returns that attempt's timeout at once instead.
	// Both are timeouts.
	var timeout interface{ Timeout() bool }
	if !errors.As(err, &timeout) || !timeout.Timeout() {
		t.Errorf("List error = %v, want context.DeadlineExceeded or an attempt's timeout", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("List took %v with a 200ms deadline", elapsed)
	}
	if n := requests.Load(); n < 2 {
		t.Errorf("%d attempts, want the timed-out attempts retried", n)
	}
}

// TestAttemptTimeoutsAreNotTheCallersDeadline: a call that gives up after
// attempts that each hit http.Client.Timeout, while the caller's context is
// live, must not read as the caller's own deadline or cancellation, and must
// still say it was a timeout.
func TestAttemptTimeoutsAreNotTheCallersDeadline(t *testing.T) {
	tests := []struct {
		name  string
		stall func(w http.ResponseWriter)
	}{
		{"waiting for headers", func(http.ResponseWriter) {}},
		{"reading the body", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"results":[`)
			w.(http.Flusher).Flush()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			defer close(release)
			c, mux, _ := setup(t, WithHTTPClient(&http.Client{Timeout: 20 * time.Millisecond}), WithRetryMax(1))
			var requests atomic.Int32
			mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
				tt.stall(w)
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}))
			_, err := c.Sessions.List(context.Background(), "r", nil)
			if err == nil {
				t.Fatal("List succeeded, want a timeout")
			}
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				t.Errorf("List error %q matches a context error, though the caller's context is live", err)
			}
			var timeout interface{ Timeout() bool }
			if !errors.As(err, &timeout) || !timeout.Timeout() {
				t.Errorf("List error %q does not report Timeout() == true", err)
			}
			checkNoTokenInChain(t, err, testToken)
			if n := requests.Load(); n != 2 {
				t.Errorf("%d requests, want 2 (the timeout retried once)", n)
			}
		})
	}
}

func TestCertificateErrorsAreNotRetried(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("request reached the handler through an untrusted certificate")
	}))
	countConnections(srv, &conns)
	srv.Config.ErrorLog = discardLog()
	srv.StartTLS()
	defer srv.Close()
	// The default client does not trust httptest's certificate.
	c, err := NewClient(testToken, WithBaseURL(srv.URL), WithRetryWait(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Sessions.List(context.Background(), "r", nil)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("List error = %v, want a certificate error", err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1 (no retries)", n)
	}
}

// handlerTransport serves requests in memory, so that tests under
// testing/synctest see its fake clock in every wait.
type handlerTransport struct{ h http.HandlerFunc }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h(rec, r)
	return rec.Result(), nil
}

// inMemoryClient is a client whose requests go to h without a network, with
// no client-side rate limit.
func inMemoryClient(t *testing.T, h http.HandlerFunc, opts ...Option) *Client {
	t.Helper()
	opts = append([]Option{WithBaseURL("http://127.0.0.1/v1"), WithHTTPClient(&http.Client{Transport: handlerTransport{h}}), WithRateLimit(0)}, opts...)
	c, err := NewClient(testToken, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// attemptTimes records when each request arrives, on the bubble's clock.
type attemptTimes struct {
	mu    sync.Mutex
	times []time.Time
}

func (a *attemptTimes) record() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.times = append(a.times, time.Now())
	return len(a.times)
}

func (a *attemptTimes) gaps() []time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	var gaps []time.Duration
	for i := 1; i < len(a.times); i++ {
		gaps = append(gaps, a.times[i].Sub(a.times[i-1]))
	}
	return gaps
}

func TestRetryAfterIsHonoured(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter func(now time.Time) string
		wantWait   time.Duration
	}{
		{"429 with seconds", 429, func(time.Time) string { return "7" }, 7 * time.Second},
		{"503 with seconds", 503, func(time.Time) string { return "12" }, 12 * time.Second},
		{"429 with an HTTP date", 429, func(now time.Time) string { return now.Add(20 * time.Second).UTC().Format(http.TimeFormat) }, 20 * time.Second},
		{"429 with zero seconds", 429, func(time.Time) string { return "0" }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var attempts attemptTimes
				c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
					if attempts.record() == 1 {
						w.Header().Set("Retry-After", tt.retryAfter(time.Now()))
						writeJSON(w, tt.status, `{"message":"later"}`)
						return
					}
					writeJSON(w, http.StatusOK, `{"results":[]}`)
				})
				if _, err := c.Sessions.List(context.Background(), "r", nil); err != nil {
					t.Fatalf("List: %v", err)
				}
				if diff := cmp.Diff([]time.Duration{tt.wantWait}, attempts.gaps()); diff != "" {
					t.Errorf("waits between attempts (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestRetryAfterTooLongFailsAtOnce: a Retry-After beyond the maximum wait or
// the context's deadline is not slept through; the caller gets the response.
func TestRetryAfterTooLongFailsAtOnce(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		timeout    time.Duration
		want       time.Duration
	}{
		{"beyond the maximum wait", "3600", 0, time.Hour},
		{"beyond the deadline", "20", 10 * time.Second, 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var attempts attemptTimes
				c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
					attempts.record()
					w.Header().Set("Retry-After", tt.retryAfter)
					writeJSON(w, http.StatusTooManyRequests, `{"message":"rate limited"}`)
				})
				ctx := context.Background()
				if tt.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}
				start := time.Now()
				_, err := c.Sessions.List(ctx, "r", nil)
				var apiErr *APIError
				if !errors.As(err, &apiErr) || !errors.Is(err, ErrRateLimited) {
					t.Fatalf("List error = %v, want *APIError matching ErrRateLimited", err)
				}
				if apiErr.RetryAfter != tt.want {
					t.Errorf("RetryAfter = %v, want %v", apiErr.RetryAfter, tt.want)
				}
				if elapsed := time.Since(start); elapsed != 0 {
					t.Errorf("List waited %v, want no wait", elapsed)
				}
				if n := len(attempts.times); n != 1 {
					t.Errorf("%d requests sent, want 1", n)
				}
			})
		})
	}
}

// TestBackoffPastTheDeadlineFailsAtOnce: when the wait before the next
// attempt cannot end before the context's deadline, the call returns what
// the last attempt got at once, rather than sleeping into the deadline and
// returning the context's error. A wait that fits is still waited.
func TestBackoffPastTheDeadlineFailsAtOnce(t *testing.T) {
	tests := []struct {
		name         string
		wait         time.Duration // min and max of the backoff
		fault        func(t *testing.T, w http.ResponseWriter)
		wantRequests int32
		want         string // in Error()
	}{
		{"503, backoff past the deadline", time.Hour, func(t *testing.T, w http.ResponseWriter) {
			writeJSON(w, http.StatusServiceUnavailable, `{"message":"down"}`)
		}, 1, "503 Service Unavailable: down"},
		{"connection closed, backoff past the deadline", time.Hour, transportFaults["connection closed before an answer"], 1, "EOF"},
		{"503, backoff within the deadline", time.Millisecond, func(t *testing.T, w http.ResponseWriter) {
			writeJSON(w, http.StatusServiceUnavailable, `{"message":"down"}`)
		}, 3, "503 Service Unavailable: down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, _ := setup(t, WithRetryWait(tt.wait, tt.wait), WithRetryMax(2))
			var requests atomic.Int32
			mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
				tt.fault(t, w)
			}))
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_, err := c.Sessions.List(ctx, "r", nil)
			if errors.Is(err, context.DeadlineExceeded) || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("List error = %v, want one saying %q, before the deadline", err, tt.want)
			}
			checkNoTokenInChain(t, err, testToken)
			if n := requests.Load(); n != tt.wantRequests {
				t.Errorf("%d requests, want %d", n, tt.wantRequests)
			}
		})
	}
}

// TestBackoffIsExponentialWithJitter runs the default waits (1s to 30s) on
// the fake clock and checks each against its bounds.
func TestBackoffIsExponentialWithJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var attempts attemptTimes
		c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
			attempts.record()
			writeJSON(w, http.StatusServiceUnavailable, `{"message":"down"}`)
		}, WithRetryMax(6))
		start := time.Now()
		if _, err := c.Sessions.List(context.Background(), "r", nil); !errors.As(err, new(*APIError)) {
			t.Fatalf("List error = %v, want *APIError", err)
		}
		gaps := attempts.gaps()
		if len(gaps) != 6 {
			t.Fatalf("%d retries, want 6", len(gaps))
		}
		for i, gap := range gaps {
			upper := min(30*time.Second, time.Second<<(i+1))
			if gap < time.Second || gap > upper {
				t.Errorf("wait before retry %d = %v, want within [1s, %v]", i+1, gap, upper)
			}
		}
		t.Logf("waits %v, %v in all", gaps, time.Since(start))
	})
}

func TestBackoffWait(t *testing.T) {
	tests := []struct {
		min, max   time.Duration
		retry      int
		lower, top time.Duration
	}{
		{time.Second, 30 * time.Second, 0, time.Second, 2 * time.Second},
		{time.Second, 30 * time.Second, 3, time.Second, 16 * time.Second},
		{time.Second, 30 * time.Second, 4, time.Second, 30 * time.Second},
		{time.Second, 30 * time.Second, 200, time.Second, 30 * time.Second},
		{0, 10 * time.Millisecond, 0, 0, 10 * time.Millisecond},
		{0, 0, 5, 0, 0},
		{time.Second, time.Second, 3, time.Second, time.Second},
		{time.Hour, 1<<63 - 1, 62, time.Hour, 1<<63 - 1},
		// No argument overflows or panics: the whole range of durations,
		// a retry count that overflows when incremented, negative values.
		{0, 1<<63 - 1, 0, 0, 1<<63 - 1},
		{0, 1<<63 - 1, 70, 0, 1<<63 - 1},
		{1, 1<<63 - 1, 61, 1, 1<<63 - 1},
		{time.Second, 30 * time.Second, math.MaxInt, time.Second, 30 * time.Second},
		{time.Second, 30 * time.Second, -1, time.Second, 30 * time.Second},
		{-time.Second, time.Second, 0, 0, time.Second},
		{time.Second, -time.Second, 0, time.Second, time.Second},
	}
	for _, tt := range tests {
		seen := map[time.Duration]bool{}
		for range 200 {
			w := backoffWait(tt.min, tt.max, tt.retry)
			if w < tt.lower || w > tt.top {
				t.Fatalf("backoffWait(%v, %v, %d) = %v, want within [%v, %v]", tt.min, tt.max, tt.retry, w, tt.lower, tt.top)
			}
			seen[w] = true
		}
		if tt.top-tt.lower > time.Millisecond && len(seen) < 10 {
			t.Errorf("backoffWait(%v, %v, %d) took only %d values in 200 draws: no jitter", tt.min, tt.max, tt.retry, len(seen))
		}
	}
}

// TestExtremeRetryOptionsWork runs the largest accepted options on the fake
// clock through failures to a success.
func TestExtremeRetryOptionsWork(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
	}{
		{"no floor, longest max", []Option{WithRetryWait(0, 24*time.Hour)}},
		{"longest fixed wait", []Option{WithRetryWait(24*time.Hour, 24*time.Hour)}},
		{"no waits", []Option{WithRetryWait(0, 0)}},
		{"most retries", []Option{WithRetryMax(math.MaxInt), WithRetryWait(time.Nanosecond, 24*time.Hour)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var attempts attemptTimes
				c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
					if attempts.record() <= 3 {
						writeJSON(w, http.StatusServiceUnavailable, `{"message":"down"}`)
						return
					}
					writeJSON(w, http.StatusOK, `{"results":[]}`)
				}, append([]Option{WithRetryMax(3)}, tt.opts...)...)
				if _, err := c.Sessions.List(context.Background(), "r", nil); err != nil {
					t.Fatalf("List: %v", err)
				}
				for i, gap := range attempts.gaps() {
					if gap < 0 || gap > 24*time.Hour {
						t.Errorf("wait before retry %d = %v, want within [0, 24h]", i+1, gap)
					}
				}
			})
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"99999999999999999999", 1<<63 - 1, true},
		{"-3", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"Thu, 26 Nov 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Thu, 26 Nov 2026 11:59:00 GMT", 0, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

// TestCancelStopsAWaitAtOnce runs on the fake clock. A deadline never cuts a
// wait short: a wait that would pass it is not begun (see
// TestBackoffPastTheDeadlineFailsAtOnce).
func TestCancelStopsAWaitAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var attempts attemptTimes
		c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
			attempts.record()
			writeJSON(w, http.StatusServiceUnavailable, `{"message":"down"}`)
		}, WithRetryWait(time.Hour, time.Hour))
		go func() {
			time.Sleep(2 * time.Second)
			cancel()
		}()
		start := time.Now()
		_, err := c.Sessions.List(ctx, "r", nil)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("List error = %v, want context.Canceled", err)
		}
		if elapsed := time.Since(start); elapsed != 2*time.Second {
			t.Errorf("List returned after %v of an hour's wait, want at the cancellation, 2s", elapsed)
		}
		if n := len(attempts.times); n != 1 {
			t.Errorf("%d requests sent, want 1", n)
		}
	})
}

func TestCancelDuringARequest(t *testing.T) {
	c, mux, _ := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	var requests atomic.Int32
	mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
		cancel()
		<-r.Context().Done()
	}))
	_, err := c.Sessions.List(ctx, "r", nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("List error = %v, want context.Canceled", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests sent, want 1", n)
	}
}

func TestLoggerRecordsAttemptsAndWaits(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, mux, _ := setup(t, WithLogger(logger))
	var requests atomic.Int32
	mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
		if requests.Load() == 1 {
			writeJSON(w, http.StatusServiceUnavailable, `{"message":"down"}`)
			return
		}
		writeJSON(w, http.StatusOK, `{"results":[]}`)
	}))
	if _, err := c.Sessions.List(context.Background(), "r", &ListSessionsOptions{UserID: "u1"}); err != nil {
		t.Fatalf("List: %v", err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := jsonUnmarshalString(line, &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["level"] != "DEBUG" || rec["method"] != "GET" || rec["path"] != "/v1/sessions" {
			t.Errorf("record %s lacks level, method or path", line)
		}
		got = append(got, fmt.Sprintf("%v attempt=%v status=%v delay=%v", rec["msg"], rec["attempt"], rec["status"], rec["delay"] != nil))
	}
	want := []string{
		"opal: attempt attempt=1 status=503 delay=false",
		"opal: waiting to retry attempt=1 status=503 delay=true",
		"opal: attempt attempt=2 status=200 delay=false",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log records (-want +got):\n%s", diff)
	}
	for _, secret := range []string{testToken, "Authorization", "Bearer", "user_id", "u1"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log holds %q:\n%s", secret, buf.String())
		}
	}
}

// TestNothingIsPrintedByDefault guards against go-retryablehttp's default
// logger, which writes every URL to stderr.
func TestNothingIsPrintedByDefault(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, stdout := os.Stderr, os.Stdout
	os.Stderr, os.Stdout = w, w
	defer func() { os.Stderr, os.Stdout = stderr, stdout }()

	c, mux, _ := setup(t, WithRetryMax(1))
	mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusServiceUnavailable, `{"message":"down"}`)
	})
	c.Sessions.List(context.Background(), "r", nil)
	transportFaultClient, _ := NewClient(testToken, WithBaseURL("http://127.0.0.1:1/v1"), WithRetryMax(1), WithRetryWait(0, 0))
	transportFaultClient.Sessions.List(context.Background(), "r", nil)

	os.Stderr, os.Stdout = stderr, stdout
	w.Close()
	printed, _ := io.ReadAll(r)
	if len(printed) > 0 {
		t.Errorf("the library printed %q", printed)
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
