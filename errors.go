package opal

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/opalclient/opal-go/internal/ascii"
)

// Sentinel errors, for use with [errors.Is].
//
// ErrInvalidArgument is wrapped by every error about the caller's input
// (a bad option, an empty resource ID, a page size out of range); no request
// is sent when it is returned.
//
// ErrInvalidResponse matches every error about a 2xx response that is not
// what was asked for: not JSON, not a page of the list (a page with no
// "results" member is never taken for an empty one), more items than the
// page size asked for, an item that does not decode, another user than the
// one asked for, an item of a list that is not about what the list was
// asked for (a session of another resource), or that does not say what it
// is about (a user without an ID, a session without its expiration date).
// Such a response is not retried.
//
// ErrCursorLoop matches the error that ends a walk through a list's pages
// when the server hands back a cursor it already gave in the same walk,
// which would otherwise repeat pages forever: the page that carries it is
// refused before any of its items is yielded.
//
// The others match an [*APIError] by its status code: 401, 403, 404 and 429.
var (
	ErrInvalidArgument = errors.New("opal: invalid argument")
	ErrInvalidResponse = errors.New("opal: invalid response")
	ErrUnauthorized    = errors.New("opal: unauthorized")
	ErrForbidden       = errors.New("opal: forbidden")
	ErrNotFound        = errors.New("opal: not found")
	ErrRateLimited     = errors.New("opal: rate limited")
	ErrCursorLoop      = errors.New("opal: server repeated a pagination cursor")
)

// cursorLoopError ends a walk whose server repeated a cursor. It names the
// request, as "GET /v1/sessions", never the cursor, which is the server's
// text.
type cursorLoopError struct {
	request string // method and path, the token redacted
	pages   int    // pages received, the refused one included
}

func (e *cursorLoopError) Error() string {
	return fmt.Sprintf("opal: %s: server repeated a pagination cursor after %d pages", e.request, e.pages)
}

// Is makes errors.Is(err, ErrCursorLoop) true.
func (e *cursorLoopError) Is(target error) bool { return target == ErrCursorLoop }

// Bounds on what is kept of an error response. Opal's error bodies are a
// short JSON object; anything bigger is a proxy page or worse, and only its
// start is worth keeping.
const (
	maxErrorBody  = 64 << 10 // read at most this much of an error body
	maxKeptBody   = 4 << 10  // APIError.Body holds at most this much
	maxMessageLen = 300      // APIError.Message and RequestID are cut to this many bytes
)

// APIError is returned for every response whose status is not 2xx, once
// retries (if any applied) are exhausted.
type APIError struct {
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// Message is a JSON body's "message" (in any ASCII letter case) whose
	// value is a string, else a short text of the body, else the status text.
	Message string
	// Body is the start of the response body (at most 4 KiB), with the API
	// token, if the server echoed it, replaced by "[REDACTED]".
	Body []byte
	// RetryAfter is the wait the server asked for in a Retry-After header,
	// when it sent one.
	RetryAfter time.Duration
	// Method and Path identify the request, such as "GET" and "/v1/sessions".
	// The query string is left out.
	Method string
	Path   string
	// RequestID is the X-Request-Id header of the response, if any: quote it
	// when asking Opal's support about a failure.
	RequestID string
	// Attempts is how many times the request was sent, retries included.
	Attempts int
}

// Error reads like "opal: GET /v1/sessions: 404 Not Found: resource not found".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("opal: ")
	if e.Method != "" || e.Path != "" {
		b.WriteString(strings.TrimSpace(e.Method + " " + e.Path))
		b.WriteString(": ")
	}
	b.WriteString(statusLine(e.StatusCode))
	if e.Message != "" && e.Message != http.StatusText(e.StatusCode) {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotFound) and its siblings true for the matching status.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	}
	return false
}

// ResourceError is the error of one resource in [SessionsService.AllOf] or
// [AccessService.AllOf].
// [errors.Is] and [errors.As] see through it to the cause, such as
// [ErrNotFound] or an [*APIError].
type ResourceError struct {
	// ResourceID is the resource whose walk failed ("[REDACTED]" if it
	// was the API token, passed by mistake).
	ResourceID string
	// Err is why.
	Err error
}

// Error reads like "opal: resource 1b978423-...: GET /v1/sessions: 404 Not
// Found: resource not found".
func (e *ResourceError) Error() string {
	cause := "failed"
	if e.Err != nil {
		cause = strings.TrimPrefix(e.Err.Error(), "opal: ")
	}
	return "opal: resource " + e.ResourceID + ": " + cause
}

// Unwrap returns the cause.
func (e *ResourceError) Unwrap() error { return e.Err }

// isTimeout reports whether an error in err's chain says it is a timeout.
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

func statusLine(code int) string {
	if text := http.StatusText(code); text != "" {
		return fmt.Sprintf("%d %s", code, text)
	}
	return fmt.Sprintf("%d", code)
}

// newAPIError builds the error for a non-2xx response from its status, headers
// and the start of its body. The secret (the API token) is scrubbed from
// everything kept, because some servers echo the request back in an error,
// before anything is cut, so that no cut keeps the start of it.
func newAPIError(method, path string, status int, header http.Header, body []byte, secret string) *APIError {
	text := string(body)
	if len(body) >= maxErrorBody {
		// The transport keeps the first maxErrorBody bytes of a body: this
		// one was cut, maybe through the token.
		text = redactCut(text, secret)
	} else {
		text = redactString(text, secret)
	}
	message := errorMessage([]byte(text))
	if location := header.Get("Location"); status >= 300 && status < 400 && location != "" {
		// A redirect is an error only when it was not followed: it left the
		// base URL's origin, or the caller's CheckRedirect stopped it.
		message = oneLine("redirect to " + redirectTarget(location) + " not followed; redirects are followed within the base URL's origin only")
	}
	e := &APIError{
		StatusCode: status,
		Method:     method,
		Path:       path,
		RequestID:  requestID(header, secret),
		Message:    truncate(message, maxMessageLen, secret),
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	if kept, _ := keepStart(text, maxKeptBody, secret); kept != "" {
		e.Body = []byte(kept)
	}
	if d, ok := parseRetryAfter(header.Get("Retry-After"), time.Now()); ok {
		e.RetryAfter = d
	}
	return e
}

// requestID is a response's X-Request-Id header, as APIError.RequestID
// keeps it: on one line, redacted, at most maxMessageLen bytes.
func requestID(header http.Header, secret string) string {
	return truncate(oneLine(header.Get("X-Request-Id")), maxMessageLen, secret)
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

// redirectTarget names a redirect's target without its query string,
// fragment or user information, where signed URLs and passwords live.
func redirectTarget(location string) string {
	u, err := url.Parse(location)
	if err != nil {
		return "an unparsable location"
	}
	u.User = nil
	u.RawQuery, u.ForceQuery = "", false
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// errorMessage finds the human-readable part of an error body: the "message"
// of a JSON object (Opal has sent both "message" and "Message"), else the
// body's text, without markup, on one short line. Of several keys that
// spell "message" in some ASCII letter case, "message" itself wins, then
// the others in sorted order, the first whose value is a string: a body
// holding two gives the same message on every run.
func errorMessage(body []byte) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) == nil {
		if len(obj) == 0 {
			return "" // {} or null says nothing; the status text will
		}
		keys := []string{"message"}
		for _, key := range slices.Sorted(maps.Keys(obj)) {
			if key != "message" && ascii.EqualFold(key, "message") {
				keys = append(keys, key)
			}
		}
		for _, key := range keys {
			var msg string
			if raw, ok := obj[key]; ok && string(raw) != "null" && json.Unmarshal(raw, &msg) == nil {
				return oneLine(msg)
			}
		}
	}
	text := string(body)
	if strings.HasPrefix(strings.TrimSpace(text), "<") {
		text = stripTags(text)
	}
	return oneLine(text)
}

// stripTags drops everything between < and >, so that a proxy's HTML page
// reads as its text ("502 Bad Gateway nginx").
func stripTags(s string) string {
	var b strings.Builder
	inTag := false
	for _, r := range s {
		switch {
		case r == '<':
			inTag = true
			b.WriteByte(' ')
		case r == '>':
			inTag = false
		case !inTag:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// oneLine collapses runs of white space and control characters into single spaces.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
}

// truncate is s with the secret redacted, cut to at most n bytes on a rune
// boundary, and marked "…" where it was cut.
func truncate(s string, n int, secret string) string {
	kept, cut := keepStart(redactString(s, secret), n, secret)
	if cut {
		kept += "…"
	}
	return kept
}

// keepStart is the start of s, a redacted text, at most n bytes of it, cut
// on a rune boundary, and reports whether it cut anything. A start of the
// secret that the cut leaves at its end is redacted; where that makes the
// text longer, it is cut again, within "[REDACTED]".
func keepStart(s string, n int, secret string) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	return runeStart(redactCut(runeStart(s, n), secret), n), true
}

// runeStart is s cut to at most n bytes, on a rune boundary.
func runeStart(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
