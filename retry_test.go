package opal_test

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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
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
			c, mux, _ := setup(t, opal.WithRetryMax(2))
			var requests atomic.Int32
			mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, tt.status, fmt.Sprintf(`{"message":"failure %d"}`, requests.Load()))
			}))
			_, err := c.Sessions.List(context.Background(), "r", nil)
			wantAttempts := 1
			if tt.retried {
				wantAttempts = 3
			}
			var apiErr *opal.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("List error = %v (%T), want *APIError", err, err)
			}
			// The caller gets the last response, not a bare "giving up".
			want := &opal.APIError{
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
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.Inject(opaltest.Fault{Status: http.StatusServiceUnavailable}, opaltest.Fault{Status: http.StatusServiceUnavailable})
	c, err := srv.Client(opal.WithRetryMax(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sessions.List(t.Context(), "r", nil); !strings.Contains(fmt.Sprint(err), "503") {
		t.Errorf("List error = %v, want the 503", err)
	}
	if n := len(srv.Requests()); n != 1 {
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
				writeJSON(w, http.StatusOK, `{"results":[{"user_id":"u1","resource_id":"r","expiration_date":"2030-01-01T00:00:00Z"}]}`)
			}))
			got, err := c.Sessions.List(context.Background(), "r", nil)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if diff := cmp.Diff(&opal.SessionsList{Results: []opal.Session{{UserID: "u1", ResourceID: "r", ExpirationDate: in2030}}}, got); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
			if n := requests.Load(); n != 2 {
				t.Errorf("%d requests sent, want 2", n)
			}
		})
	}
}

// TestTransportFaultsExhaustRetries: bodies cut short, one after another,
// end the call with the last fault, after every attempt.
func TestTransportFaultsExhaustRetries(t *testing.T) {
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.Inject(opaltest.Fault{Truncate: true}, opaltest.Fault{Truncate: true}, opaltest.Fault{Truncate: true})
	c, err := srv.Client(opal.WithRetryMax(2))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Sessions.List(t.Context(), "r", nil)
	if err == nil || !strings.Contains(err.Error(), "after 3 attempts") || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("List error = %v, want an unexpected EOF after 3 attempts", err)
	}
	checkNoTokenInChain(t, err, srv.Token)
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("%d requests sent, want 3", n)
	}
}

// TestAttemptTimeoutIsRetried gives each attempt a short http.Client
// timeout, on the fake clock, and a server whose first answer never comes.
func TestAttemptTimeoutIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var attempts attemptTimes
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if attempts.Record() == 1 {
				return stall(r)
			}
			return answer(r, http.StatusOK, `{"results":[]}`)
		})
		c := clientOf(t, &http.Client{Transport: rt, Timeout: 100 * time.Millisecond})
		if _, err := c.Sessions.List(t.Context(), "r", nil); err != nil {
			t.Fatalf("List: %v", err)
		}
		if n := attempts.Len(); n != 2 {
			t.Errorf("%d requests sent, want 2", n)
		}
	})
}

// TestContextDeadlineBoundsTheWholeCall: attempts that each time out are
// retried, but the context's deadline ends the call, waits and all. On the
// fake clock, each attempt takes its 20 ms timeout and each wait 1 to 2 ms:
// the tenth attempt starts by 198 ms, and an eleventh could not start
// before 210 ms, past the deadline of 200 ms.
func TestContextDeadlineBoundsTheWholeCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var attempts attemptTimes
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			attempts.Record()
			return stall(r)
		})
		c := clientOf(t, &http.Client{Transport: rt, Timeout: 20 * time.Millisecond},
			opal.WithRetryMax(1000), opal.WithRetryWait(time.Millisecond, 2*time.Millisecond))
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Sessions.List(ctx, "r", nil)
		// The deadline ends the tenth attempt: context.DeadlineExceeded,
		// which is a timeout.
		var timeout interface{ Timeout() bool }
		if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &timeout) || !timeout.Timeout() {
			t.Errorf("List error = %v, want context.DeadlineExceeded", err)
		}
		if elapsed := time.Since(start); elapsed != 200*time.Millisecond {
			t.Errorf("List took %v with a 200ms deadline, want 200ms", elapsed)
		}
		if n := attempts.Len(); n != 10 {
			t.Errorf("%d attempts, want 10", n)
		}
	})
}

// TestAttemptTimeoutsAreNotTheCallersDeadline: a call that gives up after
// attempts that each hit http.Client.Timeout, on the fake clock, while the
// caller's context is live, must not read as the caller's own deadline or
// cancellation, and must still say it was a timeout.
func TestAttemptTimeoutsAreNotTheCallersDeadline(t *testing.T) {
	tests := []struct {
		name  string
		stall func(r *http.Request) (*http.Response, error)
	}{
		{"waiting for headers", stall},
		{"reading the body", func(r *http.Request) (*http.Response, error) {
			body := &stalledBody{ctx: r.Context(), start: strings.NewReader(`{"results":[`)}
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var attempts attemptTimes
				rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
					attempts.Record()
					return tt.stall(r)
				})
				c := clientOf(t, &http.Client{Transport: rt, Timeout: 20 * time.Millisecond}, opal.WithRetryMax(1))
				_, err := c.Sessions.List(t.Context(), "r", nil)
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
				if n := attempts.Len(); n != 2 {
					t.Errorf("%d requests, want 2 (the timeout retried once)", n)
				}
			})
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
	// A transport of the system's roots does not trust httptest's
	// certificate. It has no handshake timeout, nor the client one for an
	// attempt: a timeout, which is retried, cannot come first on a slow
	// machine.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c, err := opal.NewClient(testToken, opal.WithBaseURL(srv.URL), opal.WithHTTPClient(&http.Client{Transport: tr}),
		opal.WithRetryWait(time.Millisecond, time.Millisecond))
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

// answer is a response of the given status and JSON body to r, as a
// server's handler would write it.
func answer(r *http.Request, status int, body string) (*http.Response, error) {
	rec := httptest.NewRecorder()
	writeJSON(rec, status, body)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// stall is an attempt that gets no answer: it ends when its request's
// context does, as one to a server that stalls is ended by its timeout.
func stall(r *http.Request) (*http.Response, error) {
	<-r.Context().Done()
	return nil, r.Context().Err()
}

// stalledBody is a body that gives its start at once, then no more: a read
// ends when ctx, its request's, does, with its error.
type stalledBody struct {
	ctx   context.Context
	start io.Reader
}

func (b *stalledBody) Read(p []byte) (int, error) {
	if n, _ := b.start.Read(p); n > 0 {
		return n, nil
	}
	<-b.ctx.Done()
	return 0, b.ctx.Err()
}

func (b *stalledBody) Close() error { return nil }

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
					if attempts.Record() == 1 {
						w.Header().Set("Retry-After", tt.retryAfter(time.Now()))
						writeJSON(w, tt.status, `{"message":"later"}`)
						return
					}
					writeJSON(w, http.StatusOK, `{"results":[]}`)
				})
				if _, err := c.Sessions.List(context.Background(), "r", nil); err != nil {
					t.Fatalf("List: %v", err)
				}
				if diff := cmp.Diff([]time.Duration{tt.wantWait}, attempts.Gaps()); diff != "" {
					t.Errorf("waits between attempts (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestRetryAfterTooLongFailsAtOnce: a Retry-After beyond the maximum wait or
// the context's deadline is not slept through; the caller gets the response,
// and the Client's next call is not held back by a pause no call waits out.
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
					attempts.Record()
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
				for call := 1; call <= 2; call++ {
					_, err := c.Sessions.List(ctx, "r", nil)
					var apiErr *opal.APIError
					if !errors.As(err, &apiErr) || !errors.Is(err, opal.ErrRateLimited) {
						t.Fatalf("call %d: List error = %v, want *APIError matching ErrRateLimited", call, err)
					}
					if apiErr.RetryAfter != tt.want {
						t.Errorf("call %d: RetryAfter = %v, want %v", call, apiErr.RetryAfter, tt.want)
					}
					if elapsed := time.Since(start); elapsed != 0 {
						t.Errorf("call %d: List waited %v, want no wait", call, elapsed)
					}
					if n := attempts.Len(); n != call {
						t.Errorf("%d requests sent by %d calls, want one each", n, call)
					}
				}
			})
		})
	}
}

// TestBackoffPastTheDeadlineFailsAtOnce: when the wait before the next
// attempt cannot end before the context's deadline, the call returns what
// the last attempt got at once, rather than sleeping into the deadline and
// returning the context's error. A wait that fits is still waited. On the
// fake clock, with a deadline of 100 ms.
func TestBackoffPastTheDeadlineFailsAtOnce(t *testing.T) {
	down := func(r *http.Request) (*http.Response, error) {
		return answer(r, http.StatusServiceUnavailable, `{"message":"down"}`)
	}
	closed := func(*http.Request) (*http.Response, error) { return nil, io.EOF } // a connection closed before an answer
	tests := []struct {
		name         string
		wait         time.Duration // min and max of the backoff
		fault        func(r *http.Request) (*http.Response, error)
		wantRequests int
		wantTime     time.Duration // the call takes
		want         string        // in Error()
	}{
		{"503, backoff past the deadline", time.Hour, down, 1, 0, "503 Service Unavailable: down"},
		{"connection closed, backoff past the deadline", time.Hour, closed, 1, 0, "EOF"},
		{"503, backoff within the deadline", time.Millisecond, down, 3, 2 * time.Millisecond, "503 Service Unavailable: down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var attempts attemptTimes
				rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
					attempts.Record()
					return tt.fault(r)
				})
				c := clientOf(t, &http.Client{Transport: rt}, opal.WithRetryWait(tt.wait, tt.wait), opal.WithRetryMax(2))
				ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
				defer cancel()
				start := time.Now()
				_, err := c.Sessions.List(ctx, "r", nil)
				if errors.Is(err, context.DeadlineExceeded) || err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("List error = %v, want one saying %q, before the deadline", err, tt.want)
				}
				checkNoTokenInChain(t, err, testToken)
				if elapsed := time.Since(start); elapsed != tt.wantTime {
					t.Errorf("List took %v, want %v", elapsed, tt.wantTime)
				}
				if n := attempts.Len(); n != tt.wantRequests {
					t.Errorf("%d requests, want %d", n, tt.wantRequests)
				}
			})
		})
	}
}

// TestBackoffIsExponentialWithJitter runs the default waits (1s to 30s) on
// the fake clock and checks each against its bounds.
func TestBackoffIsExponentialWithJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var attempts attemptTimes
		c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
			attempts.Record()
			writeJSON(w, http.StatusServiceUnavailable, `{"message":"down"}`)
		}, opal.WithRetryMax(6))
		start := time.Now()
		if _, err := c.Sessions.List(context.Background(), "r", nil); !errors.As(err, new(*opal.APIError)) {
			t.Fatalf("List error = %v, want *APIError", err)
		}
		gaps := attempts.Gaps()
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

// TestExtremeRetryOptionsWork runs the largest accepted options on the fake
// clock through failures to a success.
func TestExtremeRetryOptionsWork(t *testing.T) {
	tests := []struct {
		name string
		opts []opal.Option
	}{
		{"no floor, longest max", []opal.Option{opal.WithRetryWait(0, 24*time.Hour)}},
		{"longest fixed wait", []opal.Option{opal.WithRetryWait(24*time.Hour, 24*time.Hour)}},
		{"no waits", []opal.Option{opal.WithRetryWait(0, 0)}},
		{"most retries", []opal.Option{opal.WithRetryMax(math.MaxInt), opal.WithRetryWait(time.Nanosecond, 24*time.Hour)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var attempts attemptTimes
				c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
					if attempts.Record() <= 3 {
						writeJSON(w, http.StatusServiceUnavailable, `{"message":"down"}`)
						return
					}
					writeJSON(w, http.StatusOK, `{"results":[]}`)
				}, append([]opal.Option{opal.WithRetryMax(3)}, tt.opts...)...)
				if _, err := c.Sessions.List(context.Background(), "r", nil); err != nil {
					t.Fatalf("List: %v", err)
				}
				for i, gap := range attempts.Gaps() {
					if gap < 0 || gap > 24*time.Hour {
						t.Errorf("wait before retry %d = %v, want within [0, 24h]", i+1, gap)
					}
				}
			})
		})
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
			attempts.Record()
			writeJSON(w, http.StatusServiceUnavailable, `{"message":"down"}`)
		}, opal.WithRetryWait(time.Hour, time.Hour))
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
		if n := attempts.Len(); n != 1 {
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
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.Inject(opaltest.Fault{Status: http.StatusServiceUnavailable})
	c, err := srv.Client(opal.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sessions.List(t.Context(), "r", &opal.ListSessionsOptions{UserID: "u1"}); err != nil {
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
	for _, secret := range []string{srv.Token, "Authorization", "Bearer", "user_id", "u1"} {
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

	srv := opaltest.NewServer()
	defer srv.Close()
	srv.Inject(opaltest.Fault{Status: http.StatusServiceUnavailable}, opaltest.Fault{Status: http.StatusServiceUnavailable})
	c, err := srv.Client(opal.WithRetryMax(1))
	if err != nil {
		t.Fatal(err)
	}
	c.Sessions.List(t.Context(), "r", nil)
	transportFaultClient, _ := opal.NewClient(testToken, opal.WithBaseURL("http://127.0.0.1:1/v1"), opal.WithRetryMax(1), opal.WithRetryWait(0, 0))
	transportFaultClient.Sessions.List(context.Background(), "r", nil)

	os.Stderr, os.Stdout = stderr, stdout
	w.Close()
	printed, _ := io.ReadAll(r)
	if len(printed) > 0 {
		t.Errorf("the library printed %q", printed)
	}
}

// TestRetryAfterNotWaitedOutPausesNoOtherCall: a Retry-After that its call
// did not wait out, because the call was cancelled during the wait or had no
// retry left, holds back no other call of the Client, later or already
// waiting for its turn; one that another call still waits out does. On the
// fake clock: the first request for resource "A" gets 429 with
// Retry-After: 4, after 100 ms, the first for "C" 429 with Retry-After: 3
// at once, every other request 200 at once.
func TestRetryAfterNotWaitedOutPausesNoOtherCall(t *testing.T) {
	tests := []struct {
		name string
		opts []opal.Option
		// run makes the calls, starting others with start; the result
		// is when B's request arrived.
		run   func(t *testing.T, c *opal.Client, start func(ctx context.Context, resourceID string))
		wantB time.Duration
	}{
		{"cancelled during the wait", nil, func(t *testing.T, c *opal.Client, start func(context.Context, string)) {
			ctx, cancel := context.WithCancel(t.Context())
			start(ctx, "A")
			time.Sleep(time.Second)
			cancel()
			synctest.Wait() // A has returned
			listOrFail(t, c, "B")
		}, time.Second},
		{"no retry left", []opal.Option{opal.WithRetryMax(0)}, func(t *testing.T, c *opal.Client, start func(context.Context, string)) {
			if _, err := c.Sessions.List(t.Context(), "A", nil); !errors.Is(err, opal.ErrRateLimited) {
				t.Errorf("A: List error = %v, want ErrRateLimited", err)
			}
			listOrFail(t, c, "B")
		}, 100 * time.Millisecond},
		{"cancelled while another call waits out a shorter pause", nil, func(t *testing.T, c *opal.Client, start func(context.Context, string)) {
			ctx, cancel := context.WithCancel(t.Context())
			start(ctx, "A") // paused until 4.1 s, from when its answer comes
			time.Sleep(50 * time.Millisecond)
			start(t.Context(), "C") // sent before A's answer, paused until 3.05 s
			time.Sleep(950 * time.Millisecond)
			cancel()
			synctest.Wait()
			listOrFail(t, c, "B")
		}, 3050 * time.Millisecond},
		// The call first in line for a turn looks again every 25 ms while
		// a pause holds, so it goes within 25 ms of the pause's end.
		{"cancelled while another call waits for its turn", nil, func(t *testing.T, c *opal.Client, start func(context.Context, string)) {
			ctx, cancel := context.WithCancel(t.Context())
			start(ctx, "A") // paused until 4.1 s, from when its answer comes
			time.Sleep(510 * time.Millisecond)
			start(t.Context(), "B") // waits, looking again at 535 ms, 560 ms, ...
			time.Sleep(490 * time.Millisecond)
			cancel() // at 1 s
		}, 1010 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				arrivals := map[string][]time.Time{}
				c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
					id := r.URL.Query().Get("resource_id")
					mu.Lock()
					arrivals[id] = append(arrivals[id], time.Now())
					first := len(arrivals[id]) == 1
					mu.Unlock()
					if first && id == "A" {
						time.Sleep(100 * time.Millisecond)
					}
					if first && id != "B" {
						w.Header().Set("Retry-After", map[string]string{"A": "4", "C": "3"}[id])
						writeJSON(w, http.StatusTooManyRequests, `{"message":"slow down"}`)
						return
					}
					writeJSON(w, http.StatusOK, `{"results":[]}`)
				}, tt.opts...)
				begin := time.Now()
				var wg sync.WaitGroup
				tt.run(t, c, func(ctx context.Context, resourceID string) {
					wg.Go(func() { _, _ = c.Sessions.List(ctx, resourceID, nil) })
				})
				wg.Wait()
				if got := arrivals["B"]; len(got) != 1 || got[0].Sub(begin) != tt.wantB {
					t.Errorf("B's requests arrived at %v from the start, want one at %v", offsets(got, begin), tt.wantB)
				}
			})
		})
	}
}

// listOrFail lists the sessions of a resource, failing the test on an error.
func listOrFail(t *testing.T, c *opal.Client, resourceID string) {
	t.Helper()
	if _, err := c.Sessions.List(t.Context(), resourceID, nil); err != nil {
		t.Errorf("%s: List: %v", resourceID, err)
	}
}

// offsets are times as durations from begin.
func offsets(times []time.Time, begin time.Time) []time.Duration {
	var d []time.Duration
	for _, at := range times {
		d = append(d, at.Sub(begin))
	}
	return d
}

// seen is an Attempt as the observer tests compare it: its times from the
// start of the test, its error as text.
type seen struct {
	Method, Path, Route, ResourceID string
	N, MaxAttempts                  int
	Start, Duration, Waited         time.Duration
	Status                          int
	RequestID, Err                  string
	Retrying                        bool
}

// observed records the Attempts that a Client's observer hears of, as seen
// from begin.
type observed struct {
	mu       sync.Mutex
	begin    time.Time
	attempts []seen
}

func newObserved() *observed { return &observed{begin: time.Now()} }

func (o *observed) observe(_ context.Context, a opal.Attempt) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := seen{
		Method: a.Method, Path: a.Path, Route: a.Route, ResourceID: a.ResourceID,
		N: a.N, MaxAttempts: a.MaxAttempts,
		Start: a.Start.Sub(o.begin), Duration: a.Duration, Waited: a.Waited,
		Status: a.Status, RequestID: a.RequestID, Retrying: a.Retrying,
	}
	if a.Err != nil {
		s.Err = a.Err.Error()
	}
	o.attempts = append(o.attempts, s)
}

func (o *observed) seen() []seen {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.attempts)
}

// withDuration is s with the given Duration.
func withDuration(s seen, d time.Duration) seen {
	s.Duration = d
	return s
}

// TestObserverHearsOfEveryAttempt runs calls on the fake clock, each answer
// taking 30 ms, and compares what the observer heard with what happened.
func TestObserverHearsOfEveryAttempt(t *testing.T) {
	type answer func(w http.ResponseWriter) error // an error is a transport fault
	status := func(code int, body string, header ...string) answer {
		return func(w http.ResponseWriter) error {
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			writeJSON(w, code, body)
			return nil
		}
	}
	ok := status(http.StatusOK, `{"results":[]}`, "X-Request-Id", "req-ok")
	down := status(http.StatusServiceUnavailable, `{"message":"down"}`, "X-Request-Id", "req-down")
	redirect := func(code int, location string) answer {
		return func(w http.ResponseWriter) error {
			w.Header().Set("Location", location)
			w.WriteHeader(code)
			return nil
		}
	}
	// An attempt as the tests expect it, with its number, start, status,
	// request ID, error and whether a retry follows.
	attempt := func(n int, start time.Duration, status int, requestID, err string, retrying bool) seen {
		return seen{Method: "GET", Path: "/v1/sessions", Route: "/v1/sessions", ResourceID: "r1", N: n, MaxAttempts: 3,
			Start: start, Duration: 30 * time.Millisecond, Status: status, RequestID: requestID, Err: err, Retrying: retrying}
	}
	const downErr = "opal: GET /v1/sessions: 503 Service Unavailable: down"
	tests := []struct {
		name    string
		answers []answer // the last answers every further request
		want    []seen
	}{
		{"success", []answer{ok}, []seen{attempt(1, 0, 200, "req-ok", "", false)}},
		{"an outage, then success", []answer{down, ok}, []seen{
			attempt(1, 0, 503, "req-down", downErr, true),
			attempt(2, 1030*time.Millisecond, 200, "req-ok", "", false), // after the backoff of 1 s
		}},
		{"a Retry-After, then success", []answer{status(http.StatusTooManyRequests, `{"message":"slow down"}`, "Retry-After", "1"), ok}, []seen{
			attempt(1, 0, 429, "", "opal: GET /v1/sessions: 429 Too Many Requests: slow down", true),
			attempt(2, 1030*time.Millisecond, 200, "req-ok", "", false),
		}},
		{"a Retry-After too long to wait", []answer{status(http.StatusTooManyRequests, `{"message":"slow down"}`, "Retry-After", "2")}, []seen{
			attempt(1, 0, 429, "", "opal: GET /v1/sessions: 429 Too Many Requests: slow down", false),
		}},
		{"retries run out", []answer{down}, []seen{
			attempt(1, 0, 503, "req-down", downErr, true),
			attempt(2, 1030*time.Millisecond, 503, "req-down", downErr, true),
			attempt(3, 2060*time.Millisecond, 503, "req-down", downErr, false),
		}},
		{"an error that is not retried", []answer{status(http.StatusNotFound, `{"message":"resource not found"}`)}, []seen{
			attempt(1, 0, 404, "", "opal: GET /v1/sessions: 404 Not Found: resource not found", false),
		}},
		{"a 200 that is not a page", []answer{status(http.StatusOK, `{"message":"hello"}`)}, []seen{
			attempt(1, 0, 200, "", `opal: GET /v1/sessions: 200 OK response is not the page of sessions asked for: no "results" member`, false),
		}},
		{"a transport fault, then success", []answer{func(http.ResponseWriter) error { return errors.New("connection reset by peer") }, ok}, []seen{
			attempt(1, 0, 0, "", "opal: GET /v1/sessions: connection reset by peer", true),
			attempt(2, 1030*time.Millisecond, 200, "req-ok", "", false),
		}},
		// A redirect that is followed is part of its attempt, which takes
		// both requests' time, and ends with the second's answer.
		{"a redirect within the origin", []answer{redirect(http.StatusFound, "/v1/sessions?resource_id=r1&moved=1"), ok}, []seen{
			withDuration(attempt(1, 0, 200, "req-ok", "", false), 60*time.Millisecond),
		}},
		{"a redirect, then an outage, then success", []answer{redirect(http.StatusFound, "/v1/sessions?resource_id=r1&moved=1"), down, ok}, []seen{
			withDuration(attempt(1, 0, 503, "req-down", downErr, true), 60*time.Millisecond),
			attempt(2, 1060*time.Millisecond, 200, "req-ok", "", false),
		}},
		{"a redirect to another host, not followed", []answer{redirect(http.StatusTemporaryRedirect, "https://elsewhere.example/v1/sessions")}, []seen{
			attempt(1, 0, 307, "", "opal: GET /v1/sessions: 307 Temporary Redirect: redirect to https://elsewhere.example/v1/sessions not followed; redirects are followed within the base URL's origin only", false),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				requests := 0
				rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
					answer := tt.answers[min(requests, len(tt.answers)-1)]
					requests++
					time.Sleep(30 * time.Millisecond)
					rec := httptest.NewRecorder()
					if err := answer(rec); err != nil {
						return nil, err
					}
					return rec.Result(), nil
				})
				o := newObserved()
				c, err := opal.NewClient(testToken, opal.WithBaseURL("http://127.0.0.1/v1"), opal.WithHTTPClient(&http.Client{Transport: rt}),
					opal.WithRateLimit(0), opal.WithRetryMax(2), opal.WithRetryWait(time.Second, time.Second), opal.WithObserver(o.observe))
				if err != nil {
					t.Fatal(err)
				}
				_, _ = c.Sessions.List(t.Context(), "r1", nil)
				if diff := cmp.Diff(tt.want, o.seen()); diff != "" {
					t.Errorf("attempts (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestNetHTTPResendIsPartOfItsAttempt: when a kept-alive connection turns
// out to have been closed by the server before any answer came, net/http
// itself sends the GET again on a new connection, unseen by the retries:
// as WithObserver says, that is one attempt, heard of once. (On the fake
// clock, over a network in memory, so that the connection is reused
// however busy the machine: see MemNet.)
func TestNetHTTPResendIsPartOfItsAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var requests atomic.Int32
		n := newMemNet(t, countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
			if requests.Load() == 2 { // the second call's, on the first call's connection
				if conn := hijack(t, w); conn != nil {
					conn.Close()
				}
				return
			}
			writeJSON(w, http.StatusOK, `{"user_id":"u1"}`)
		}))
		tr := n.Transport()
		defer tr.CloseIdleConnections()
		o := newObserved()
		c := clientOf(t, &http.Client{Transport: tr}, opal.WithObserver(o.observe))
		for i := range 2 {
			if _, err := c.Users.Get(t.Context(), "u1"); err != nil {
				t.Fatalf("call %d: %v", i+1, err)
			}
		}
		if got, dials := requests.Load(), n.Dials(); got != 3 || dials != 2 {
			t.Fatalf("%d requests over %d connections, want 3 over 2: net/http did not resend", got, dials)
		}
		var heard []string
		for _, a := range o.seen() {
			heard = append(heard, fmt.Sprintf("attempt %d: %d", a.N, a.Status))
		}
		if diff := cmp.Diff([]string{"attempt 1: 200", "attempt 1: 200"}, heard); diff != "" {
			t.Errorf("attempts heard of (-want +got):\n%s", diff)
		}
	})
}

// TestAttemptNamesItsCall: every endpoint's attempts name its path, its
// route (the path with its IDs as placeholders) and the resource it is about.
func TestAttemptNamesItsCall(t *testing.T) {
	tests := []struct {
		name                    string
		call                    func(ctx context.Context, c *opal.Client)
		path, route, resourceID string
	}{
		{"Sessions.List", func(ctx context.Context, c *opal.Client) { _, _ = c.Sessions.List(ctx, "r1", nil) }, "/v1/sessions", "/v1/sessions", "r1"},
		{"Sessions.AllOf", func(ctx context.Context, c *opal.Client) {
			for range c.Sessions.AllOf(ctx, []string{"r2"}, nil) {
			}
		}, "/v1/sessions", "/v1/sessions", "r2"},
		{"Users.Get", func(ctx context.Context, c *opal.Client) { _, _ = c.Users.Get(ctx, "u1") }, "/v1/user", "/v1/user", ""},
		{"Users.GetByEmail", func(ctx context.Context, c *opal.Client) { _, _ = c.Users.GetByEmail(ctx, "jo@example.com") }, "/v1/user", "/v1/user", ""},
		{"Users.List", func(ctx context.Context, c *opal.Client) { _, _ = c.Users.List(ctx, nil) }, "/v1/users", "/v1/users", ""},
		{"Resources.Get", func(ctx context.Context, c *opal.Client) { _, _ = c.Resources.Get(ctx, "a/b") },
			"/v1/resources/a%2Fb", "/v1/resources/{resource_id}", "a/b"},
		{"Resources.List", func(ctx context.Context, c *opal.Client) {
			_, _ = c.Resources.List(ctx, &opal.ListResourcesOptions{IDs: []string{"r1"}})
		}, "/v1/resources", "/v1/resources", ""},
		{"Access.List", func(ctx context.Context, c *opal.Client) { _, _ = c.Access.List(ctx, "a/b", nil) },
			"/v1/resources/a%2Fb/users", "/v1/resources/{resource_id}/users", "a/b"},
		{"Access.AllOf", func(ctx context.Context, c *opal.Client) {
			for range c.Access.AllOf(ctx, []string{"r2"}, nil) {
			}
		}, "/v1/resources/r2/users", "/v1/resources/{resource_id}/users", "r2"},
		{"Access.ListForUser", func(ctx context.Context, c *opal.Client) { _, _ = c.Access.ListForUser(ctx, "u1", nil) },
			"/v1/resources/users/u1", "/v1/resources/users/{user_id}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []opal.Attempt
			c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusNotFound, `{"message":"not found"}`)
			}, opal.WithObserver(func(_ context.Context, a opal.Attempt) { got = append(got, a) }))
			tt.call(t.Context(), c)
			if len(got) != 1 {
				t.Fatalf("%d attempts, want 1", len(got))
			}
			want := []string{tt.path, tt.route, tt.resourceID}
			if diff := cmp.Diff(want, []string{got[0].Path, got[0].Route, got[0].ResourceID}); diff != "" {
				t.Errorf("Path, Route, ResourceID (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAttemptWaitedIsItsTurn: Waited is the wait for the attempt's turn
// from the rate limiter, or a Retry-After pause that another call asked
// for; the call's own backoff is not part of it, and Start is after it.
func TestAttemptWaitedIsItsTurn(t *testing.T) {
	t.Run("a pause", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			first := true
			var mu sync.Mutex
			o := newObserved()
			c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				pause := first
				first = false
				mu.Unlock()
				if pause {
					w.Header().Set("Retry-After", "2")
					writeJSON(w, http.StatusTooManyRequests, `{"message":"slow down"}`)
					return
				}
				writeJSON(w, http.StatusOK, `{"results":[]}`)
			}, opal.WithObserver(o.observe))
			var wg sync.WaitGroup
			wg.Go(func() { listOrFail(t, c, "a") })
			time.Sleep(500 * time.Millisecond)
			listOrFail(t, c, "b")
			wg.Wait()
			var got []string
			for _, a := range o.seen() {
				got = append(got, fmt.Sprintf("%s #%d: start %v, waited %v", a.ResourceID, a.N, a.Start, a.Waited))
			}
			slices.Sort(got)
			want := []string{
				"a #1: start 0s, waited 0s",
				"a #2: start 2s, waited 0s", // its own Retry-After is its backoff
				"b #1: start 2s, waited 1.5s",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("attempts (-want +got):\n%s", diff)
			}
		})
	})
	t.Run("the rate limit", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			o := newObserved()
			c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, `{"results":[]}`)
			}, opal.WithRateLimit(1), opal.WithObserver(o.observe))
			listOrFail(t, c, "a")
			second := time.Now()
			listOrFail(t, c, "b")
			got := o.seen()
			if len(got) != 2 || got[0].Waited != 0 || got[1].Waited <= 0 || got[1].Start != second.Sub(o.begin)+got[1].Waited {
				t.Errorf("attempts %+v; want the first not to wait, and the second to be sent after it waited for its turn", got)
			}
		})
	})
}

// TestRetryingWhenTheCallEndsDuringTheWait: a call that is cancelled while
// it waits to retry returns the context's error, and its last Attempt said
// that a retry would follow: the one case where Retrying is not what
// happened next, as WithObserver documents.
func TestRetryingWhenTheCallEndsDuringTheWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newObserved()
		c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusServiceUnavailable, `{"message":"down"}`)
		}, opal.WithRetryWait(time.Hour, time.Hour), opal.WithObserver(o.observe))
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		if _, err := c.Sessions.List(ctx, "r1", nil); err != context.Canceled {
			t.Errorf("List error = %v, want context.Canceled", err)
		}
		got := o.seen()
		if len(got) != 1 || !got[0].Retrying {
			t.Errorf("attempts %+v, want one, saying that a retry follows", got)
		}
	})
}

// slowBody is a body that takes delay to arrive, on the bubble's clock.
type slowBody struct {
	r     io.Reader
	delay time.Duration
}

func (b *slowBody) Read(p []byte) (int, error) {
	time.Sleep(b.delay)
	b.delay = 0
	return b.r.Read(p)
}

func (b *slowBody) Close() error { return nil }

// TestAttemptDurationIncludesReadingTheAnswer: Duration runs from sending to
// the end of reading and decoding the body, not to its headers.
func TestAttemptDurationIncludesReadingTheAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			time.Sleep(30 * time.Millisecond) // the headers
			body := &slowBody{r: strings.NewReader(`{"results":[{"user_id":"u1","resource_id":"r1","expiration_date":"2030-01-01T00:00:00Z"}]}`), delay: 50 * time.Millisecond}
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}, nil
		})
		var got []opal.Attempt
		c, err := opal.NewClient(testToken, opal.WithBaseURL("http://127.0.0.1/v1"), opal.WithHTTPClient(&http.Client{Transport: rt}),
			opal.WithRateLimit(0), opal.WithObserver(func(_ context.Context, a opal.Attempt) { got = append(got, a) }))
		if err != nil {
			t.Fatal(err)
		}
		listOrFail(t, c, "r1")
		if len(got) != 1 || got[0].Duration != 80*time.Millisecond {
			t.Errorf("attempts %+v, want one of 80ms", got)
		}
	})
}

// TestPanickingObserverLeavesTheClientSound: an observer that panics, on an
// attempt that is retried or on a call's last, unwinds the call; the
// Client's limiter holds no pause for it, its connections go back to the
// pool, and the next calls work on the same connection; nothing is left
// running once the connections are closed.
func TestPanickingObserverLeavesTheClientSound(t *testing.T) {
	t.Run("the limiter", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var requests []time.Duration
			begin := time.Now()
			c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
				requests = append(requests, time.Since(begin))
				if len(requests) == 1 {
					w.Header().Set("Retry-After", "3")
					writeJSON(w, http.StatusTooManyRequests, `{"message":"slow down"}`)
					return
				}
				writeJSON(w, http.StatusOK, `{"results":[]}`)
			}, opal.WithObserver(func(_ context.Context, a opal.Attempt) {
				if a.Retrying {
					panic("observer")
				}
			}))
			if got := panicOf(func() { _, _ = c.Sessions.List(t.Context(), "r1", nil) }); got != "observer" {
				t.Fatalf("List panicked with %v, want the observer's panic", got)
			}
			listOrFail(t, c, "r1")
			if diff := cmp.Diff([]time.Duration{0, 0}, requests); diff != "" {
				t.Errorf("requests, from the start (-want +got): the pause of the call that panicked held back the next\n%s", diff)
			}
		})
	})
	t.Run("connections and goroutines", func(t *testing.T) {
		// On the fake clock, over a network in memory (see MemNet): the
		// bubble also fails the test if a goroutine is left behind once
		// the connections are closed.
		synctest.Test(t, func(t *testing.T) {
			var requests atomic.Int32
			n := newMemNet(t, countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
				if requests.Load()%2 == 1 {
					w.Header().Set("Content-Type", "text/html")
					w.WriteHeader(http.StatusBadGateway)
					fmt.Fprint(w, strings.Repeat("<p>upstream unavailable</p>", 1000))
					return
				}
				writeJSON(w, http.StatusOK, `{"results":[]}`)
			}))
			tr := n.Transport()
			defer tr.CloseIdleConnections()
			var panicking atomic.Bool
			panicking.Store(true)
			c := clientOf(t, &http.Client{Transport: tr}, opal.WithRetryWait(time.Millisecond, time.Millisecond),
				opal.WithObserver(func(context.Context, opal.Attempt) {
					if panicking.Load() {
						panic("observer")
					}
				}))
			// The 502 is retried: the panic comes from within the retry loop,
			// then from the end of a call.
			for range 2 {
				if got := panicOf(func() { _, _ = c.Sessions.List(t.Context(), "r1", nil) }); got != "observer" {
					t.Fatalf("List panicked with %v, want the observer's panic", got)
				}
			}
			panicking.Store(false)
			for range 2 {
				listOrFail(t, c, "r1") // a 502, retried, then a 200
			}
			if d := n.Dials(); d != 1 {
				t.Errorf("%d requests used %d connections, want 1", requests.Load(), d)
			}
		})
	})
}

// panicOf is what f panics with, nil if it returns.
func panicOf(f func()) (recovered any) {
	defer func() { recovered = recover() }()
	f()
	return nil
}
