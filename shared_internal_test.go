package opal

// What the white-box tests here and the black-box tests of package
// opal_test share. An external test package sees only the exported names of
// the package it tests, its test files included: the helpers both need are
// defined once, here, and exported for it at the end of the file. (The
// limiter's tests, in ratelimit_internal_test.go, use some of them in
// package opal: inMemoryClient, clientOf, attemptTimes, writeJSON and
// testToken.)

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// testToken is distinctive so that a leak is easy to find in any output.
const testToken = "opal-test-token-7Yq2Lw9Zx4"

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

// leaksToken reports whether text holds token in any of its forms, or a
// piece of it as it is: any 8 of its bytes in a row, or its first 6, where
// a parser split it. (A token shorter than 8 bytes has no pieces.)
func leaksToken(text, token string) bool {
	lower := strings.ToLower(text) // fmt's %X writes hex in capitals
	for name, form := range tokenForms(token) {
		if strings.Contains(text, form) || name == "hex" && strings.Contains(lower, form) {
			return true
		}
	}
	if len(token) < 8 {
		return false
	}
	for i := 0; i+8 <= len(token); i++ {
		if strings.Contains(text, token[i:i+8]) {
			return true
		}
	}
	return strings.Contains(text, token[:6])
}

// maskToken replaces every form of a token in text, and every piece of it
// that leaksToken finds, with a placeholder naming it, so that a failing
// test can show text without the token.
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
	for i := 0; i+8 <= len(token); i++ {
		text = strings.ReplaceAll(text, token[i:i+8], "<piece of the token>")
	}
	return strings.ReplaceAll(text, token[:6], "<start of the token>")
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

// roundTripFunc is a RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// clientOf is a client whose attempts go through hc, to a loopback base
// URL, with no client-side rate limit.
func clientOf(t *testing.T, hc *http.Client, opts ...Option) *Client {
	t.Helper()
	opts = append([]Option{WithBaseURL("http://127.0.0.1/v1"), WithHTTPClient(hc), WithRateLimit(0)}, opts...)
	c, err := NewClient(testToken, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// noSweepLeft fails the test if a goroutine of the sweep is still running,
// looking at once: they must be gone by the time the range loop has
// returned. Then goleak checks that nothing else was left behind but the
// HTTP connections' goroutines.
func noSweepLeft(t *testing.T, before goleak.Option) {
	t.Helper()
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	if n := strings.Count(stacks, "opal-go.sweep["); n > 0 {
		t.Errorf("%d stack frames of the sweep still running after its range loop returned:\n%s", n, stacks)
	}
	goleak.VerifyNone(t, before,
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*conn).serve"),
		goleak.IgnoreAnyFunction("net/http/httptest.(*Server).goServe.func1"),
	)
}

// setup starts a test server and a client for it. The client's base URL ends
// in /v1 like Opal's, so handlers see the API's own paths, and an absolute
// URL in the library would miss the server. Retry waits are milliseconds,
// and there is no client-side rate limit.
func setup(t *testing.T, opts ...Option) (*Client, *http.ServeMux, *httptest.Server) {
	t.Helper()
	return setupWithToken(t, testToken, opts...)
}

// setupWithToken is setup with a client for the given token.
func setupWithToken(t *testing.T, token string, opts ...Option) (*Client, *http.ServeMux, *httptest.Server) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	// No client-side rate limit unless a test sets one: a loopback server
	// answers in microseconds, and the limiter's own tests are elsewhere.
	opts = append([]Option{WithBaseURL(srv.URL + "/v1"), WithRetryWait(time.Millisecond, 2*time.Millisecond), WithRateLimit(0)}, opts...)
	c, err := NewClient(token, opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c, mux, srv
}

// writeJSON answers with a JSON body, as Opal does.
func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

// countingHandler answers every request with h and counts them.
func countingHandler(n *atomic.Int32, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
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

// inMemoryClient is a client whose requests go to h without a network,
// with no client-side rate limit.
func inMemoryClient(t *testing.T, h http.HandlerFunc, opts ...Option) *Client {
	t.Helper()
	return clientOf(t, &http.Client{Transport: handlerTransport{h}}, opts...)
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

func resourceIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("r%03d", i)
	}
	return ids
}

// MemNet is a network in memory, for tests on the fake clock of
// testing/synctest: an http.Server, and the transports that dial it over
// net.Pipe connections, every wait of which is on the bubble's clock. On a
// loopback network, net/http reuses a connection only if its writing
// goroutine says, within 50 ms, that the request went out, which a busy
// machine can fail to do: tests that count connections run here instead,
// where those 50 ms cannot pass while that goroutine has work to do.
type MemNet struct {
	srv   *http.Server
	conns chan net.Conn
	done  chan struct{}
	close sync.Once
	dials atomic.Int32
}

// NewMemNet serves h on a network in memory until the test ends. It must be
// called in a synctest bubble.
func NewMemNet(t *testing.T, h http.Handler) *MemNet {
	n := &MemNet{srv: &http.Server{Handler: h}, conns: make(chan net.Conn), done: make(chan struct{})}
	go func() { _ = n.srv.Serve(n) }()
	t.Cleanup(func() { _ = n.srv.Close() })
	return n
}

// Transport is a transport whose every connection is a new one to the
// server, whatever the address.
func (n *MemNet) Transport() *http.Transport {
	return &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		client, server := net.Pipe()
		select {
		case n.conns <- server:
			n.dials.Add(1)
			return client, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-n.done:
			return nil, net.ErrClosed
		}
	}}
}

// Dials is how many connections the transports have opened.
func (n *MemNet) Dials() int { return int(n.dials.Load()) }

// Accept, Close and Addr make the network the server's listener.
func (n *MemNet) Accept() (net.Conn, error) {
	select {
	case c := <-n.conns:
		return c, nil
	case <-n.done:
		return nil, net.ErrClosed
	}
}

func (n *MemNet) Close() error {
	n.close.Do(func() { close(n.done) })
	return nil
}

func (n *MemNet) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// The helpers above, exported for the tests of package opal_test, which
// give them back their names (opal_test.go).
const (
	TestToken    = testToken
	HostileToken = hostileToken
)

var (
	Setup               = setup
	SetupWithToken      = setupWithToken
	WriteJSON           = writeJSON
	CountingHandler     = countingHandler
	InMemoryClient      = inMemoryClient
	ClientOf            = clientOf
	LeaksToken          = leaksToken
	MaskToken           = maskToken
	CheckNoTokenInChain = checkNoTokenInChain
	NoSweepLeft         = noSweepLeft
	ResourceIDs         = resourceIDs
)

// RoundTripFunc is roundTripFunc.
type RoundTripFunc = roundTripFunc

// AttemptTimes is attemptTimes, with methods that opal_test can call.
type AttemptTimes struct{ attemptTimes }

// Record records an arrival now and returns how many there have been.
func (a *AttemptTimes) Record() int { return a.record() }

// Gaps are the times between arrivals.
func (a *AttemptTimes) Gaps() []time.Duration { return a.gaps() }

// Len is how many arrivals there have been.
func (a *AttemptTimes) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.times)
}
