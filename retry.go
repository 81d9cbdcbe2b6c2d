package opal

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Attempt is what an observer (see [WithObserver]) hears of one attempt of
// a call: one request sent, with the redirects it followed (and net/http's
// own resends of it, one on another connection each time a kept-alive one
// turns out closed before any answer came), and its answer or its failure. Nothing in it
// holds the API token, whatever the server sent, nor the query string.
type Attempt struct {
	// Method and Path name the request, such as "GET" and "/v1/sessions";
	// Path never holds the query (it can hold emails and cursors), and the
	// API token, passed by mistake as an ID, is redacted from it.
	Method string
	Path   string
	// Route is Path with its IDs as placeholders, such as
	// "/v1/resources/{resource_id}": a label of bounded cardinality for
	// metrics.
	Route string
	// ResourceID is the resource the call is about (the resource whose
	// sessions are listed, or the resource itself), "" for other calls.
	ResourceID string
	// N is the attempt's number in its call: 1 for the first.
	N int
	// MaxAttempts is the most attempts the call may make: 1 + the retries
	// that WithRetryMax allows.
	MaxAttempts int
	// Start is when the attempt was sent, after its turn from the rate
	// limiter.
	Start time.Time
	// Duration runs from sending to the end of reading the answer (a 2xx
	// body decoded included), or to the failure.
	Duration time.Duration
	// Waited is how long the attempt waited for its turn from the rate
	// limiter (or a shared Retry-After pause) before it was sent; the
	// backoff before a retry is not part of it. (A redirect that the
	// attempt follows waits for a turn of its own, within Duration.)
	Waited time.Duration
	// Status is the status of the answer, 0 when none came.
	Status int
	// RequestID is the answer's X-Request-Id header, when it has one, as
	// [APIError] keeps it.
	RequestID string
	// Err is nil when the attempt succeeded, else what the call would
	// return if it gave up now: an [*APIError] for a status that is not
	// 2xx, the context's own error when it ended the attempt, otherwise an
	// error naming the request.
	Err error
	// Retrying reports whether the call retries after this attempt. In
	// one case no retry follows a true: when the call's context ends
	// during the wait before the retry, or its deadline would pass before
	// the retry's turn, the call returns that error instead.
	Retrying bool
}

// policy is how every call of a Client goes: what sends its attempts, how
// often and how long it retries, the rate limiter that all calls share, who
// hears of each attempt, and the token to keep out of all it reports.
type policy struct {
	httpClient   *http.Client
	limiter      *limiter
	retryMax     int
	retryWaitMin time.Duration
	retryWaitMax time.Duration
	logger       *slog.Logger
	observer     func(context.Context, Attempt)
	// token is a func, as in tokenTransport, so that fmt never prints it.
	token func() string
}

// call is one call of the Client: its attempts, driven by go-retryablehttp's
// loop, which calls its methods in this order:
//
//   - the attempt is sent, once takeTurn has given it its turn: get takes
//     the first, prepareRetry the later ones; each followed redirect takes
//     one in the per-call CheckRedirect of retryingClient;
//   - checkRetry decides whether to retry, and after how long;
//   - when it does not, handleResponse reads the answer, and checkRetry
//     judges what it found;
//   - backoff reports the attempt, with another to follow, and gives the
//     wait before it;
//   - after the wait, prepareRetry takes the next attempt's turn;
//   - at the end, giveUp makes the caller's error, and get reports the last
//     attempt.
//
// A call is used by one goroutine only, so it needs no locks.
type call struct {
	*policy
	ctx context.Context
	// What the call is: its method, and what it reports as Attempt's Path
	// (never the query), Route and ResourceID, redacted.
	method, path, route, resourceID string

	// The attempt in flight, or the last one.
	n         int           // its number: attempts begun so far
	sent      turn          // its turn, or that of the last redirect it followed
	start     time.Time     // when it was sent
	waited    time.Duration // how long it waited for its turn
	end       time.Time     // when its outcome was last known
	status    int           // its answer's status; 0 while none came
	requestID string        // its answer's request ID
	err       error         // what the call would return if it gave up now
	wait      time.Duration // the wait before the next attempt, as checkRetry chose
	reported  int           // attempts reported to the log and the observer

	releasePause func()      // lets go of the Retry-After pause the call holds, if any
	httpCopy     http.Client // the Client's, with a CheckRedirect of the call's own
}

// newCall begins a call. What it reports is redacted once, for every error,
// record and Attempt that names it: the path and the resource ID are the
// caller's text, and hold the token if it was passed by mistake as an ID.
// Pieces of the token are redacted too, not only the whole: NewClient keeps
// a base URL holding fewer than minFreeSecret bytes of it, which the route
// written after it may make more (a token "…abc/users…" and a base URL
// ending in "/abc").
func (p *policy) newCall(ctx context.Context, method, path, route, resourceID string) *call {
	secret := p.token()
	return &call{
		policy:     p,
		ctx:        ctx,
		method:     method,
		path:       redactPieces(path, secret),
		route:      redactPieces(route, secret),
		resourceID: redactPieces(resourceID, secret),
	}
}

// takeTurn waits for the turn of the call's next attempt from the Client's
// rate limiter, and begins the attempt. It fails, without beginning one,
// with the context's error, or a *turnError when the turn would come after
// the context's deadline.
//
// The wait comes before the attempt is handed to net/http, so that it does
// not count against the attempt's own timeout (http.Client.Timeout).
func (c *call) takeTurn() error {
	asked := time.Now()
	t, err := c.limiter.waitTurn(c.ctx)
	if err != nil {
		return err
	}
	c.n++
	c.sent, c.start = t, time.Now()
	c.waited = c.start.Sub(asked)
	c.status, c.requestID, c.err = 0, "", nil
	return nil
}

// retryingClient configures go-retryablehttp for the call. Every policy is
// set explicitly, because its defaults do what this library must not: log
// each URL to stderr, sleep as long as any Retry-After says, and throw away
// the last response when retries run out.
func (c *call) retryingClient() *retryablehttp.Client {
	// A shallow copy per call, so that its redirects take the call's turns.
	c.httpCopy = *c.httpClient
	followed := c.httpClient.CheckRedirect // the Client's rules: same origin, the caller's policy
	c.httpCopy.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := followed(req, via); err != nil {
			return err
		}
		// A redirect that is followed is a request of its own, and takes
		// a turn of its own.
		t, err := c.limiter.waitTurn(req.Context())
		if err != nil {
			return err
		}
		c.sent = t
		return nil
	}
	return &retryablehttp.Client{
		HTTPClient:   &c.httpCopy,
		Logger:       nil, // records go to WithLogger's logger, from report and backoff
		RetryWaitMin: c.retryWaitMin,
		RetryWaitMax: c.retryWaitMax,
		RetryMax:     c.retryMax,
		CheckRetry:   c.checkRetry,
		Backoff:      c.backoff,
		PrepareRetry: c.prepareRetry,
		ErrorHandler: c.giveUp,
	}
}

// checkRetry records what an attempt got and decides whether to try again
// and, if so, how long to wait first. It runs after each attempt, and once
// more after the response handler when the handler ran; err is then the
// handler's.
func (c *call) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	c.end = time.Now()
	if resp != nil && c.status == 0 {
		c.status = resp.StatusCode
		c.requestID = requestID(resp.Header, c.token())
	}
	switch {
	case err != nil:
		c.err = c.attemptError(err)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		c.err = c.apiError(resp)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return false, ctxErr
	}
	lastAttempt := c.n > c.retryMax
	if err != nil {
		if lastAttempt || !retryableFault(err) {
			return false, nil
		}
		return c.backoffFits(ctx), nil
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
	default:
		return false, nil
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		c.limiter.throttled(c.sent)
	}
	if lastAttempt {
		return false, nil
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			// A wait beyond what the caller allows is not waited for: the
			// response handler turns this response into the caller's
			// *APIError, RetryAfter included, at once.
			if d > c.retryWaitMax || pastDeadline(ctx, d) {
				return false, nil
			}
			c.pauseEveryCall(d)
			c.wait = d
			return true, nil
		}
		if resp.StatusCode == http.StatusTooManyRequests && c.limiter.limits() && c.n == 1 {
			// The limiter has taken the 429 into account: the retry
			// waits for its turn at the rate it chose, behind the calls
			// already waiting, and not a backoff on top of it. A call
			// refused again backs off as from any other failure, so that
			// another integration's burst does not use up its attempts
			// in a fraction of a second.
			c.wait = 0
			return true, nil
		}
	}
	return c.backoffFits(ctx), nil
}

// backoffFits chooses the backoff before the next attempt and reports
// whether it ends before the context's deadline. One that does not is not
// begun: the caller gets the last answer (its *APIError, or the fault) now,
// rather than the context's error at the deadline with the answer lost.
func (c *call) backoffFits(ctx context.Context) bool {
	c.wait = backoffWait(c.retryWaitMin, c.retryWaitMax, c.n-1)
	return !pastDeadline(ctx, c.wait)
}

// pauseEveryCall holds back every call of the Client for d: the server
// spoke for the whole organisation, not only for this call. The call holds
// the pause until it ends, so that a pause it does not wait out, because
// its context ended first, holds back no other call.
func (c *call) pauseEveryCall(d time.Duration) {
	c.release() // a pause it held before, it has waited out
	c.releasePause = c.limiter.pauseUntil(time.Now().Add(d))
}

// release lets go of what the call holds of the Client's shared state: a
// Retry-After pause. get calls it when the call ends, however it ends.
func (c *call) release() {
	if c.releasePause != nil {
		c.releasePause()
		c.releasePause = nil
	}
}

// pastDeadline reports whether a wait would end after the context's
// deadline. time.Until saturates, so no wait overflows it.
func pastDeadline(ctx context.Context, wait time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return ok && wait > time.Until(deadline)
}

// backoff runs when checkRetry chose to retry: the attempt is over, and
// another follows after the wait it returns.
func (c *call) backoff(_, _ time.Duration, _ int, _ *http.Response) time.Duration {
	c.report(true)
	c.log("opal: waiting to retry", slog.Int("status", c.status), slog.Duration("delay", c.wait))
	return c.wait
}

// prepareRetry runs after the wait before a retry: it takes the retry's
// turn. A call whose turn cannot come ends here, with the error of
// takeTurn.
func (c *call) prepareRetry(*http.Request) error {
	return c.takeTurn()
}

// backoffWait is the wait before retry number retry (0 for the first):
// uniformly random between min and min·2^(retry+1), capped at max; with min
// 0, between 0 and max. The full jitter spreads out clients that were
// rate-limited together (Opal's limits are shared by a whole organisation),
// so they do not come back in step. No argument can make it overflow or
// panic, whatever WithRetryWait allows.
func backoffWait(min, max time.Duration, retry int) time.Duration {
	if min < 0 {
		min = 0
	}
	if max <= min {
		return min
	}
	upper := max
	// min<<(retry+1) when that is at most max; the shift is checked
	// before it is made.
	if min > 0 && retry >= 0 && retry < 62 && min <= max>>(retry+1) {
		upper = min << (retry + 1)
	}
	span := upper - min // 0 <= min < upper, so no overflow
	if span < math.MaxInt64 {
		span++ // upper itself may be drawn
	}
	return min + rand.N(span)
}

// handleResponse reads each response that is not retried: it hands a 2xx
// body to read and answers any other status with the *APIError that
// checkRetry made of it. Errors it returns go back through checkRetry, so a
// body cut short is retried.
func (c *call) handleResponse(what string, read func(*json.Decoder) error) retryablehttp.ResponseHandlerFunc {
	return func(resp *http.Response) error {
		defer resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return c.err
		}
		err := decodeBody(resp, what, c.token(), read)
		var cut *bodyReadError
		if errors.As(err, &cut) && c.timedOut() {
			cut.timeout = true
		}
		return err
	}
}

// timedOut reports whether the attempt has outlived its own timeout
// (http.Client.Timeout). net/http marks a body read that it cut short for
// that timeout as a timeout only if its timer's goroutine got there first;
// when the request's context was quicker, the read fails as a closed
// connection.
func (c *call) timedOut() bool {
	limit := c.httpClient.Timeout
	return limit > 0 && time.Since(c.start) >= limit
}

// apiError reads the body of a response whose status is not 2xx (the
// transport buffered it) into the caller's *APIError.
func (c *call) apiError(resp *http.Response) *APIError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := newAPIError(c.method, c.path, resp.StatusCode, resp.Header, body, c.token())
	e.Attempts = c.n
	return e
}

// retryableError is implemented by the library's own errors of an attempt, each
// of which says whether a new attempt may mend it. (The errors made after
// the last attempt, scrubbedError and standInError, are never asked.)
type retryableError interface{ retryable() bool }

// retryableFault reports whether a new attempt may mend err, the failure of
// an attempt or of reading its answer. The library's own errors say so
// themselves; an *APIError made by the response handler is the answer; of
// net/http's faults, every one but a certificate, scheme, header or Location
// problem, which would fail the same way again.
func retryableFault(err error) bool {
	var (
		own       retryableError
		urlErr    *url.Error
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		record    tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &own):
		return own.retryable()
	case !errors.As(err, &urlErr): // the response handler's *APIError
		return false
	case errors.As(err, &verify), errors.As(err, &authority), errors.As(err, &hostname),
		errors.As(err, &invalid), errors.As(err, &record):
		return false
	}
	// net/http reports these only as text.
	msg := urlErr.Err.Error()
	for _, permanent := range []string{"unsupported protocol scheme", "server gave HTTP response to HTTPS client", "invalid header field",
		"failed to parse Location header", "malformed HTTP"} {
		if strings.Contains(msg, permanent) {
			return false
		}
	}
	return true
}

// giveUp turns the end of a failed call into the caller's error.
func (c *call) giveUp(resp *http.Response, err error, tries int) (*http.Response, error) {
	if resp != nil {
		defer resp.Body.Close()
	}
	if err == nil { // go-retryablehttp's own reason to stop, had checkRetry not said it
		err = c.err
	}
	return nil, c.callError(err, tries)
}

// callError is the caller's error for a call that ended with err after
// tries attempts: the context's own error when it ended the call, the last
// response's *APIError, or the fault, naming the request.
func (c *call) callError(err error, tries int) error {
	if ctxErr := c.ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return ctxErr
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		apiErr.Attempts = tries
		return apiErr
	}
	return c.faultError(err, tries)
}

// attemptError is callError for one attempt, as if it were the call's last.
func (c *call) attemptError(err error) error {
	return c.callError(err, c.n)
}

// faultError is the caller's error for a call that ended with no response
// to report: its cause, naming the request, with the token scrubbed from
// the text, since a cause can carry text the server chose.
func (c *call) faultError(err error, tries int) error {
	// A url.Error repeats the URL, whose query holds cursors the server
	// chose; the request is named by method and path instead.
	if urlErr, ok := err.(*url.Error); ok {
		err = urlErr.Err
	}
	var noTurn *turnError
	if errors.As(err, &noTurn) {
		// The caller's deadline would pass before the rate limiter gave
		// the attempt its turn: that is the caller's deadline, and is
		// passed on as such.
		return fmt.Errorf("opal: %s %s: %w", c.method, c.path, noTurn)
	}
	secret := c.token()
	// Two kinds of cause are not passed on, only their redacted text and
	// their Timeout(). Error trackers unwrap errors and print every cause,
	// and net/http quotes a status line or a Location as the server sent it,
	// so a cause may hold the token. And net/http's per-attempt timeout
	// (http.Client.Timeout) matches context.DeadlineExceeded, while the
	// caller's context is live here (callError returned the context's own
	// error otherwise): passed on, it would tell the caller that its
	// deadline passed when the server was slow.
	switch {
	case chainHoldsSecret(err, secret):
		// Where the token is whole, pieces of it may be too: net/http
		// quotes a Location that does not parse, and then net/url the port
		// it found in it, up to the token's first '/'.
		err = &standInError{msg: redactPieces(err.Error(), secret), timeout: isTimeout(err)}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		err = &standInError{msg: redactString(err.Error(), secret), timeout: isTimeout(err)}
	}
	msg := fmt.Sprintf("opal: %s %s: %v", c.method, c.path, err)
	if tries > 1 {
		msg += fmt.Sprintf(" (after %d attempts)", tries)
	}
	return &scrubbedError{msg: redactString(msg, secret), err: err}
}

// report writes the log record of the attempt in flight and tells the
// observer how it went, once; retrying says whether another attempt
// follows.
func (c *call) report(retrying bool) {
	if c.reported == c.n {
		return
	}
	c.reported = c.n
	if c.status != 0 {
		c.log("opal: attempt", slog.Int("status", c.status))
	} else if c.err != nil {
		c.log("opal: attempt failed", slog.String("error", c.err.Error()))
	}
	if c.observer == nil {
		return
	}
	c.observer(c.ctx, Attempt{
		Method:      c.method,
		Path:        c.path,
		Route:       c.route,
		ResourceID:  c.resourceID,
		N:           c.n,
		MaxAttempts: c.retryMax + min(1, math.MaxInt-c.retryMax), // no overflow at math.MaxInt
		Start:       c.start,
		Duration:    c.end.Sub(c.start),
		Waited:      c.waited,
		Status:      c.status,
		RequestID:   c.requestID,
		Err:         c.err,
		Retrying:    retrying,
	})
}

// log writes a debug record through WithLogger's logger: method, path and
// attempt, never headers or the query string.
func (c *call) log(msg string, attrs ...slog.Attr) {
	l := c.logger
	if l == nil || !l.Enabled(c.ctx, slog.LevelDebug) {
		return
	}
	l.LogAttrs(c.ctx, slog.LevelDebug, msg, append([]slog.Attr{
		slog.String("method", c.method),
		slog.String("path", c.path),
		slog.Int("attempt", c.n),
	}, attrs...)...)
}
