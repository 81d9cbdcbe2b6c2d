package main

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
)

// TestProgressLine drives the status line on a fake clock and checks every
// byte it writes: nothing for a second, then one line redrawn in place,
// cleared before a warning and before rows to the same terminal, and
// cleared at the end.
func TestProgressLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var stderr, stdout bytes.Buffer
		p := newProgress(&stderr, true, true, true)
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

		p.begin("resources", 0)
		p.items.Store(7)
		p.requests.Store(2)
		step(progressDelay-time.Millisecond, "") // a quick run shows nothing
		step(time.Millisecond, "\rresources: 7 so far, 2 requests/s")

		p.begin("sessions", 7)
		p.items.Store(250)
		p.requests.Store(12)
		line := "sessions: 250 so far, resources 0/7 answered, 10 requests/s" // 12 requests in 1.2 s
		step(progressEvery, "\r"+line)
		short := "sessions: 250 so far, resources 0/7 answered, 9 requests/s" // 12 in 1.4 s
		step(progressEvery, "\r"+short+" ")

		p.warn("opal: resource %s not found (deleted?); skipped", "r1\x1b[2J")
		step(0, clear(len(short))+`opal: resource r1\u001b[2J not found (deleted?); skipped`+"\n")

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

		// A log record, cleaned, below no status line.
		slog.New(slog.NewTextHandler(p.logOutput(), nil)).Info("attempt", "path", "/v1/sessions\u202e")
		got := written()
		// slog quotes the value, escaping the U+202E; clean escapes the
		// backslash of that escape.
		if !strings.HasPrefix(got, clear(len(short))) || !strings.Contains(got, `path="/v1/sessions\\u202e"`) {
			t.Errorf("log record written as %q, want it after the line is cleared, escaped", got)
		}

		p.finish()
		step(time.Minute, "") // never drawn again
	})
}

// TestProgressUnobserved: without the client's attempts, the line shows
// what is listed and how many so far, and no requests or resources
// answered it cannot know.
func TestProgressUnobserved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var stderr bytes.Buffer
		p := newProgress(&stderr, true, false, false)
		p.begin("sessions", 7)
		p.items.Store(3)
		time.Sleep(progressDelay)
		synctest.Wait()
		p.finish()
		line := "sessions: 3 so far"
		if want := "\r" + line + "\r" + strings.Repeat(" ", len(line)) + "\r"; stderr.String() != want {
			t.Errorf("stderr %q, want the line without requests or resources answered", stderr.String())
		}
	})
}

// TestProgressOtherTerminal: when stdout is not the terminal the status
// line is on (a file, a pipe, another terminal), rows go straight to it,
// and the status line is not cleared for them.
func TestProgressOtherTerminal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var stderr, stdout bytes.Buffer
		p := newProgress(&stderr, true, false, false)
		p.begin("users", 0)
		time.Sleep(progressDelay)
		synctest.Wait()
		if w := p.output(&stdout); w != &stdout {
			t.Errorf("output is %T, want stdout itself", w)
		}
		p.mu.Lock()
		before := stderr.String()
		p.mu.Unlock()
		p.output(&stdout).Write([]byte("row\n"))
		p.mu.Lock()
		after := stderr.String()
		p.mu.Unlock()
		if before == "" || after != before {
			t.Errorf("stderr went from %q to %q while a row was written; want the status line left alone", before, after)
		}
		p.finish()
	})
}

// TestProgressHidden: when stderr is not a terminal, nothing but warnings
// is written, however long the run, and rows go straight to stdout.
func TestProgressHidden(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var stderr, stdout bytes.Buffer
		p := newProgress(&stderr, false, true, false)
		p.begin("sessions", 3)
		time.Sleep(time.Minute)
		synctest.Wait()
		p.warn("opal: resource %s not found (deleted?); skipped", "r1")
		if w := p.output(&stdout); w != &stdout {
			t.Errorf("output is %T, want stdout itself", w)
		}
		p.finish()
		if diff := cmp.Diff("opal: resource r1 not found (deleted?); skipped\n", stderr.String()); diff != "" {
			t.Errorf("stderr (-want +got):\n%s", diff)
		}
	})
}

// TestProgressObserved feeds the status line attempts as the client's
// observer reports them: every attempt is a request, a resource is
// answered by a 2xx or a 404 (once, however many pages), and a call that
// waits to retry is said until its next attempt ends.
func TestProgressObserved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newProgress(io.Discard, false, false, true)
		p.begin("sessions", 3)
		refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
		attempt := func(resource string, n, status int, err error, retrying bool) {
			p.observe(t.Context(), opal.Attempt{Method: "GET", Path: "/v1/sessions", ResourceID: resource,
				N: n, MaxAttempts: 5, Status: status, Err: err, Retrying: retrying})
		}
		time.Sleep(time.Second)
		check := func(want string) {
			t.Helper()
			p.mu.Lock()
			defer p.mu.Unlock()
			if got := p.status(); got != want {
				t.Errorf("status %q, want %q", got, want)
			}
		}
		attempt("r1", 1, 200, nil, false)
		attempt("r1", 1, 200, nil, false) // its second page
		attempt("r2", 1, 404, nil, false)
		attempt("r3", 2, 0, &url.Error{Op: "Get", URL: "http://127.0.0.1:1/v1/sessions", Err: refused}, true)
		check("sessions: 0 so far, resources 2/3 answered, 4 requests/s; retrying: connection refused, attempt 3 of 5")
		attempt("r3", 3, 503, nil, true)
		check("sessions: 0 so far, resources 2/3 answered, 5 requests/s; retrying: 503 Service Unavailable, attempt 4 of 5")
		attempt("r3", 4, 200, nil, false)
		check("sessions: 0 so far, resources 3/3 answered, 6 requests/s")
	})
}

// TestProgressObservedBeforeDrawing: building the client that reports to
// the status line, once the line is drawn, changes nothing the drawing
// goroutine reads; under -race, a field set then would be reported.
func TestProgressObservedBeforeDrawing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var stderr bytes.Buffer
		p := newProgress(&stderr, true, false, true)
		time.Sleep(progressDelay + progressEvery/2) // drawn, on its goroutine
		_, closeClient, err := conn{token: "token-of-a-test", baseURL: "http://127.0.0.1:9/v1"}.client("users", p, false)
		if err != nil {
			t.Fatal(err)
		}
		closeClient()
		p.finish()
		if !strings.Contains(stderr.String(), "requests/s") {
			t.Errorf("stderr %q, want a status line that counts requests", stderr.String())
		}
	})
}
