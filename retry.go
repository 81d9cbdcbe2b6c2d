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
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// attempts is the state of one call through go-retryablehttp's loop, which
// calls its methods around each attempt. A call owns its attempts, so a Client
// shared by many goroutines needs no locks.
type attempts struct {
	client *Client
	ctx    context.Context
	method string
	path   string

	n       int           // attempts sent so far
	sent    turn          // when the last attempt got its turn to be sent
	turnErr error         // why the last attempt got no turn, if it did not
	logged  int           // attempts logged so far
	status  int           // status of the last response; 0 after a transport fault
	wait    time.Duration // the wait before the next attempt, chosen by checkRetry
}

// retryingClient configures go-retryablehttp for one call. Every policy is set
// explicitly, because its defaults do what this library must not: log each URL
// to stderr, sleep as long as any Retry-After says, and throw away the last
// response when retries run out.
func (a *attempts) retryingClient() *retryablehttp.Client {
	return &retryablehttp.Client{
		HTTPClient:     a.client.httpClient,
		Logger:         nil, // records go to WithLogger's logger, from the hooks below
		RetryWaitMin:   a.client.retryWaitMin,
		RetryWaitMax:   a.client.retryWaitMax,
		RetryMax:       a.client.retryMax,
		RequestLogHook: a.beforeAttempt,
		CheckRetry:     a.checkRetry,
		Backoff:        a.backoff,
		ErrorHandler:   a.giveUp,
	}
}

// beforeAttempt runs before each attempt: it waits for the attempt's turn
// from the Client's rate limiter. It waits here, before the attempt, rather
// than in the transport, so that the wait does not count against the
// attempt's own timeout (http.Client.Timeout); it cannot fail the attempt,
// so the transport does, when there was no turn.
func (a *attempts) beforeAttempt(_ retryablehttp.Logger, _ *http.Request, retry int) {
	a.n = retry + 1
	a.sent, a.turnErr = a.client.limiter.turn(a.ctx)
}

// checkRetry decides whether to try again and, if so, how long to wait first.
// It runs after each attempt, and once more after the response handler when
// the handler ran; err is then the handler's.
func (a *attempts) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if resp != nil {
		a.status = resp.StatusCode
	} else {
		a.status = 0
	}
	a.logAttempt(err)
	if ctxErr := ctx.Err(); ctxErr != nil {
		return false, ctxErr
	}
	if err != nil {
		if !transient(err) {
			return false, nil
		}
	} else {
		switch resp.StatusCode {
		case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		default:
			return false, nil
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			a.client.limiter.throttled(a.sent)
		}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				// A wait beyond what the caller allows is not waited for: the
				// response handler turns this response into the caller's
				// *APIError, RetryAfter included, at once.
				if d > a.client.retryWaitMax || pastDeadline(ctx, d) {
					return false, nil
				}
				// The server spoke for the whole organisation: every call of
				// the Client waits, not only this one.
				a.client.limiter.pauseUntil(time.Now().Add(d))
				a.wait = d
				return true, nil
			}
		}
		if resp.StatusCode == http.StatusTooManyRequests && a.client.limiter.limits() && a.n == 1 {
			// The limiter has taken the 429 into account: the retry
			// waits for its turn at the rate it chose, behind the calls
			// already waiting, and not a backoff on top of it. A call
			// refused again backs off as from any other failure, so that
			// another integration's burst does not use up its attempts
			// in a fraction of a second.
			a.wait = 0
			return true, nil
		}
	}
	a.wait = backoffWait(a.client.retryWaitMin, a.client.retryWaitMax, a.n-1)
	// Nor is a backoff that cannot end before the context's deadline: the
	// caller gets the last answer (its *APIError, or the fault) now, rather
	// than the context's error at the deadline with the answer lost.
	return !pastDeadline(ctx, a.wait), nil
}

// pastDeadline reports whether a wait would end after the context's
// deadline. time.Until saturates, so no wait overflows it.
func pastDeadline(ctx context.Context, wait time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return ok && wait > time.Until(deadline)
}

// backoff hands go-retryablehttp the wait that checkRetry chose.
func (a *attempts) backoff(_, _ time.Duration, _ int, _ *http.Response) time.Duration {
	a.log("opal: waiting to retry", slog.Int("status", a.status), slog.Duration("delay", a.wait))
	return a.wait
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

// giveUp turns the end of a failed call into the caller's error: the last
// response as *APIError when there is one, the context's own error when it
// ended the call, or the last fault.
func (a *attempts) giveUp(resp *http.Response, err error, tries int) (*http.Response, error) {
	if resp != nil {
		defer resp.Body.Close()
	}
	if ctxErr := a.ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return nil, ctxErr
	}
	var apiErr *APIError
	switch {
	case err == nil && resp != nil:
		// Retries ran out on a retryable status: the last response is the answer.
		apiErr = a.apiError(resp)
	case errors.As(err, &apiErr):
	default:
		return nil, a.failure(err, tries)
	}
	apiErr.Attempts = tries
	return nil, apiErr
}

// failure is the caller's error for a call that ended with no response to
// report: its cause, naming the request, with the token scrubbed from the
// text, since a cause can carry text the server chose.
func (a *attempts) failure(err error, tries int) error {
	// A url.Error repeats the URL, whose query holds cursors the server
	// chose; the request is named by method and path instead.
	if transport, ok := err.(*url.Error); ok {
		err = transport.Err
	}
	secret := a.client.transport.token()
	var turn *turnError
	if errors.As(err, &turn) {
		// The caller's deadline would pass before the rate limiter gave
		// the attempt its turn: that is the caller's deadline, and is
		// passed on as such.
		return fmt.Errorf("opal: %s %s: %w", a.method, a.path, turn)
	}
	// Two kinds of cause are not passed on, only their redacted text and
	// their Timeout(). Error trackers unwrap errors and print every cause,
	// and net/http quotes a status line or a Location as the server sent it,
	// so a cause may hold the token. And net/http's per-attempt timeout
	// (http.Client.Timeout) matches context.DeadlineExceeded, while the
	// caller's context is live here (giveUp returned the context's own error
	// otherwise): passed on, it would tell the caller that its deadline
	// passed when the server was slow.
	if chainHoldsSecret(err, secret) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = &standInError{msg: redactString(err.Error(), secret), timeout: isTimeout(err)}
	}
	msg := fmt.Sprintf("opal: %s %s: %v", a.method, a.path, err)
	if tries > 1 {
		msg += fmt.Sprintf(" (after %d attempts)", tries)
	}
	return &scrubbedError{msg: redactString(msg, secret), err: err}
}

// handleResponse reads each response that is not retried: it hands a 2xx
// body to read and turns any other status into *APIError. Errors it returns
// go back through checkRetry, so a body cut short is retried.
func (a *attempts) handleResponse(what string, read func(*json.Decoder) error) retryablehttp.ResponseHandlerFunc {
	return func(resp *http.Response) error {
		defer resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return a.apiError(resp)
		}
		err := decodeBody(resp, what, a.client.transport.token(), read)
		var cut *bodyReadError
		if errors.As(err, &cut) && a.timedOut() {
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
func (a *attempts) timedOut() bool {
	limit := a.client.httpClient.Timeout
	return limit > 0 && time.Since(a.sent.at) >= limit
}

func (a *attempts) apiError(resp *http.Response) *APIError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody)) // buffered by transport
	e := newAPIError(a.method, a.path, resp.StatusCode, resp.Header, body, a.client.transport.token())
	e.Attempts = a.n
	return e
}

// transient reports whether an error is a fault that a new attempt may not
// meet: a body cut short, or a transport fault other than a certificate,
// scheme, header, redirect or Location problem or a refused proxy, which
// would fail the same way again.
func transient(err error) bool {
	var (
		body      *bodyReadError
		turn      *turnError
		transport *url.Error
		redirect  *redirectError
		proxy     *clearTextProxyError
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		record    tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &body):
		return true
	case errors.As(err, &turn): // the deadline would pass before the turn
		return false
	case !errors.As(err, &transport): // the response handler's verdicts
		return false
	case errors.As(err, &redirect), errors.As(err, &proxy), errors.As(err, &verify), errors.As(err, &authority),
		errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &record):
		return false
	}
	// net/http reports these only as text.
	msg := transport.Err.Error()
	for _, permanent := range []string{"unsupported protocol scheme", "server gave HTTP response to HTTPS client", "invalid header field",
		"failed to parse Location header", "malformed HTTP"} {
		if strings.Contains(msg, permanent) {
			return false
		}
	}
	return true
}

// parseRetryAfter reads a Retry-After header: whole seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	// All digits but too many for a uint64 is a very long wait, not garbage.
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if secs > math.MaxInt64/uint64(time.Second) {
			return math.MaxInt64, true
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}

// logAttempt writes one record per attempt, when its outcome is first known.
func (a *attempts) logAttempt(err error) {
	if a.logged >= a.n {
		return
	}
	a.logged = a.n
	if err != nil {
		// A url.Error repeats the URL, query string included; log its cause.
		var transport *url.Error
		if errors.As(err, &transport) {
			err = transport.Err
		}
		a.log("opal: attempt failed", slog.String("error", redactString(err.Error(), a.client.transport.token())))
		return
	}
	a.log("opal: attempt", slog.Int("status", a.status))
}

// log writes a debug record through WithLogger's logger: method, path and
// attempt, never headers or the query string.
func (a *attempts) log(msg string, attrs ...slog.Attr) {
	l := a.client.logger
	if l == nil || !l.Enabled(a.ctx, slog.LevelDebug) {
		return
	}
	l.LogAttrs(a.ctx, slog.LevelDebug, msg, append([]slog.Attr{
		slog.String("method", a.method),
		slog.String("path", a.path),
		slog.Int("attempt", a.n),
	}, attrs...)...)
}
