package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// TestProgressLine drives the status line on a fake clock and checks every
// byte it writes: nothing for a second, then one line redrawn in place,
// cleared before a warning and before rows, and cleared at the end.
func TestProgressLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var stderr, stdout bytes.Buffer
		p := newProgress(&stderr, true)
		written := func() string {
			p.mu.Lock() // the drawing goroutine writes under it
			defer p.mu.Unlock()
			s := stderr.String()
			stderr.Reset()
			return s
		}
		step := func(d time.Duration, want string) {
			t.Helper()
			time.Sleep(d)
			synctest.Wait()
			if diff := cmp.Diff(want, written()); diff != "" {
				t.Errorf("after %v more (-want +got):\n%s", d, diff)
			}
		}
		clear := func(n int) string { return "\r" + strings.Repeat(" ", n) + "\r" }

		p.listed.Store(7)
		p.requests.Store(2)
		step(progressDelay-time.Millisecond, "") // a quick run shows nothing
		step(time.Millisecond, "\rlisting resources: 7 so far, 2 requests/s")

		p.total.Store(7)
		p.answered.Store(1)
		p.sessions.Store(250)
		p.requests.Store(12)
		line := "resources 1/7 answered, 250 sessions, 10 requests/s" // 12 requests in 1.2 s
		step(progressEvery, "\r"+line)
		// A shorter line is padded over the end of the one before.
		short := "resources 1/7 answered, 250 sessions, 9 requests/s" // 12 in 1.4 s
		step(progressEvery, "\r"+short+" ")

		p.warn("opal-sessions: resource %s not found (deleted?); skipped", "r1")
		step(0, clear(len(short))+"opal-sessions: resource r1 not found (deleted?); skipped\n")

		p.requests.Store(16)
		step(progressEvery, "\r"+line) // 16 in 1.6 s
		// A row is written whole: its start waits for its end.
		out := p.output(&stdout)
		write := func(s string) {
			if _, err := out.Write([]byte(s)); err != nil {
				t.Fatal(err)
			}
		}
		write("ro")
		step(0, "")
		write("w\nne")
		write("xt\n")
		step(0, clear(len(line)))
		if stdout.String() != "row\nnext\n" {
			t.Errorf("stdout %q, want the two rows", stdout.String())
		}
		step(progressEvery, "\r"+short) // 16 in 1.8 s

		p.finish()
		step(time.Minute, clear(len(short))) // and never drawn again
	})
}

// TestProgressHidden: when stderr is not a terminal, nothing but warnings
// is written, however long the run, and rows go straight to stdout.
func TestProgressHidden(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var stderr, stdout bytes.Buffer
		p := newProgress(&stderr, false)
		p.total.Store(3)
		time.Sleep(time.Minute)
		synctest.Wait()
		p.warn("opal-sessions: resource %s not found (deleted?); skipped", "r1")
		if w := p.output(&stdout); w != &stdout {
			t.Errorf("output is %T, want stdout itself", w)
		}
		p.finish()
		if diff := cmp.Diff("opal-sessions: resource r1 not found (deleted?); skipped\n", stderr.String()); diff != "" {
			t.Errorf("stderr (-want +got):\n%s", diff)
		}
	})
}

// TestProgressTransport checks the counts the transport keeps in a real
// sweep: every request, retries included, and each resource once, when its
// first page has come back or it was not found.
func TestProgressTransport(t *testing.T) {
	const r1, r2, r3, gone = "r1", "r2", "r3", "gone"
	expires := time.Now().Add(time.Hour)
	var sessions []opal.Session
	for range 5 {
		sessions = append(sessions, opal.Session{UserID: "u", ResourceID: r1, ExpirationDate: expires})
	}
	sessions = append(sessions, opal.Session{UserID: "u", ResourceID: r2, ExpirationDate: expires})
	srv := opaltest.NewServer(sessions...) // r3 has no sessions
	defer srv.Close()
	var retried atomic.Bool
	front := proxyEnv(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
		switch id := r.URL.Query().Get("resource_id"); {
		case id == gone:
			w.WriteHeader(http.StatusNotFound)
			return true
		case id == r2 && retried.CompareAndSwap(false, true):
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	base := strings.TrimPrefix(front[0], "OPAL_BASE_URL=")

	p := newProgress(&bytes.Buffer{}, false)
	client, err := srv.Client(opal.WithBaseURL(base), opal.WithHTTPClient(p.httpClient()))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, err := range client.Sessions.AllOf(t.Context(), []string{r1, r2, r3, gone}, &opal.ListSessionsOptions{PageSize: 2}) {
		if err == nil {
			got++
		}
	}
	// r1 in 3 pages, r2 in one after a 503, r3 in one, and gone's 404.
	if got != 6 || p.requests.Load() != 7 || p.answered.Load() != 4 {
		t.Errorf("%d sessions, %d requests, %d resources answered; want 6, 7 and 4", got, p.requests.Load(), p.answered.Load())
	}
}

// TestProgressTransportLeavesBodies: the transport counts from the request
// and the status alone, and hands the library the body it was given, not a
// copy kept for reading it again.
func TestProgressTransportLeavesBodies(t *testing.T) {
	p := newProgress(&bytes.Buffer{}, false)
	body := io.NopCloser(strings.NewReader(`{"results":[]}`))
	tr := p.transport(roundTripperFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Body: body}, nil
	}))
	resp, err := tr.RoundTrip(httptest.NewRequest(http.MethodGet, "https://opal.example/v1/sessions?resource_id=r1", nil))
	if err != nil || resp.Body != body {
		t.Errorf("the body is %T, %v; want the one from the server, untouched", resp.Body, err)
	}
	if p.answered.Load() != 1 {
		t.Errorf("%d resources answered, want 1", p.answered.Load())
	}
}

// TestProgressClientConnections sweeps 200 resources through the client
// that the status line watches, against a server that counts the
// connections it accepts: a sweep walks 16 resources at once, and a pool
// that kept fewer than 16 idle connections would open a new one for most
// pages, where the library's own client opens about 16 in all.
func TestProgressClientConnections(t *testing.T) {
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.SetLatency(2 * time.Millisecond) // so that walks overlap
	var conns atomic.Int64
	target, _ := url.Parse(strings.TrimSuffix(srv.URL, "/v1"))
	front := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	front.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			conns.Add(1)
		}
	}
	front.Start()
	defer front.Close()

	p := newProgress(&bytes.Buffer{}, false)
	client, err := srv.Client(opal.WithBaseURL(front.URL+"/v1"), opal.WithHTTPClient(p.httpClient()))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 200 {
		ids = append(ids, fmt.Sprintf("r%d", i))
	}
	for _, err := range client.Sessions.AllOf(t.Context(), ids, nil) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n > 24 {
		t.Errorf("%d connections for 200 requests, 16 at a time; want about 16", n)
	}
}
