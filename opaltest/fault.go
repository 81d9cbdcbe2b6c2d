package opaltest

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Fault is a misbehaviour for one request. Reset, Truncate and Status are
// alternatives; when more than one is set, Reset wins over Truncate, and
// Truncate over Status. The zero Fault answers normally, which lets a test
// place a fault after some good requests:
//
//	srv.Inject(opaltest.Fault{}, opaltest.Fault{Reset: true}) // the second request fails
type Fault struct {
	// Status, from 200 to 599, answers with that status and a JSON body
	// {"message": "injected fault"}, as Opal's own errors look. An
	// opal.Client retries 429, 500, 502, 503 and 504.
	//
	// A 2xx Status is a gateway's or a proxy's success that is not what was
	// asked for: {"message": ...} is not a page of any list, nor a user or
	// a resource. An opal.Client reports it as an error matching
	// opal.ErrInvalidResponse, without retrying it; it is never taken for
	// an empty page, which for an access review would say that nobody holds
	// access.
	Status int
	// Body, with Status, is sent instead of the JSON message, as it is, with
	// the Content-Type net/http sniffs from it: a proxy's HTML error page,
	// say, or a 200 that is not JSON.
	Body string
	// RetryAfter, with Status, adds a Retry-After header: the duration in
	// whole seconds, rounded up. An opal.Client waits that long before it
	// retries a 429 or 503, or fails at once if that is longer than its
	// longest retry wait (5ms for one made by Server.Client).
	RetryAfter time.Duration
	// Delay waits this long before answering, normally or with the fault,
	// as a slow or overloaded server does, on top of the server's latency
	// (see Server.SetLatency). The wait ends early when the
	// client gives up (its answer is then never written) or when the server
	// is closed (the connection is then dropped).
	Delay time.Duration
	// Reset drops the connection without answering, as a crashed server or
	// a proxy does; the client sees an EOF.
	Reset bool
	// Truncate answers 200 with a Content-Length of the whole body the
	// request would otherwise get, writes only the first half of it, and
	// drops the connection, as happens when a network fails mid-transfer.
	Truncate bool
}

// Inject queues faults: each answers one request from now on, in order of
// arrival, whatever the request (a request that would get a 401 or a 404
// takes its fault too), except one refused for the rate limit (see
// [Server.SetRateLimit]). When the queue is empty, normal service resumes.
func (s *Server) Inject(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, faults...)
}

// SetLatency makes every answer wait d first, errors, faults and refusals
// for the rate limit included, as a network's round trip does; a Fault's
// Delay adds to it. As for Delay, the wait ends early when the client gives
// up or the server is closed. A d of 0 or less, as until set, adds no wait.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// writeFault answers with the fault's status.
func writeFault(w http.ResponseWriter, f Fault) {
	if f.Status < 200 || f.Status > 599 {
		// WriteHeader panics on codes outside 100..999, and 1xx answers are
		// not final; tell the test what is wrong with its fault instead.
		errorResponse(http.StatusInternalServerError,
			fmt.Sprintf("opaltest: Fault.Status %d is not an HTTP status from 200 to 599", f.Status)).write(w)
		return
	}
	resp := errorResponse(f.Status, "injected fault")
	resp.header = http.Header{}
	if f.Body != "" {
		resp.body = []byte(f.Body)
		resp.header.Set("Content-Type", http.DetectContentType(resp.body))
	}
	if f.RetryAfter > 0 {
		secs := (f.RetryAfter + time.Second - 1) / time.Second
		resp.header.Set("Retry-After", strconv.FormatInt(int64(secs), 10))
	}
	resp.write(w)
}

// dropConnection closes the connection without writing anything.
func dropConnection(w http.ResponseWriter) {
	if conn, _, ok := hijack(w); ok {
		_ = conn.Close()
	}
}

// truncate writes a 200 that promises all of body, sends the first half of
// it, and drops the connection. Writing it by hand on the hijacked
// connection makes the cut exact: status line, headers, half the body, close.
func truncate(w http.ResponseWriter, body []byte) {
	conn, buf, ok := hijack(w)
	if !ok {
		return
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	_, _ = buf.Write(body[:len(body)/2])
	_ = buf.Flush()
}

// hijack takes the connection over from net/http. Only an HTTP/2 connection
// cannot be hijacked, and the server speaks HTTP/1.1 only; should it ever
// fail, the test hears of it in a 500 rather than in a silent 200.
func hijack(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, bool) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		errorResponse(http.StatusInternalServerError, "opaltest: cannot drop the connection: "+err.Error()).write(w)
		return nil, nil, false
	}
	return conn, buf, true
}
