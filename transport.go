package opal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/opalclient/opal-go/internal/ascii"
)

// maxDrain bounds how much of an unwanted body is read just to keep its
// connection: past this, closing the connection is cheaper.
const maxDrain = 256 << 10

// tokenTransport is the per-attempt layer under the retries. It adds the
// token to requests for the base URL's origin and nowhere else, and it
// buffers error bodies, so that a retry reuses the connection even after a
// proxy's large error page. It knows nothing of calls: every request it is
// given is sent.
//
// It deliberately has no CloseIdleConnections method: go-retryablehttp calls
// that on the whole http.Client after every failed call, which would drop the
// pooled connections of every other goroutine sharing the Client. Idle
// connections close on the underlying Transport's IdleConnTimeout instead.
type tokenTransport struct {
	next http.RoundTripper
	base *url.URL
	// token is a func, not a string, because fmt prints a func as an address
	// whatever the verb, while a wrong verb (%s on a Client) makes fmt print
	// the structs that pointers point to.
	token func() string
}

func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if sameOrigin(req.URL, t.base) {
		// A RoundTripper must not change the request it is given.
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", "Bearer "+t.token())
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	// net/http checks these only after this layer has read the body; a
	// hand-written RoundTripper given through WithHTTPClient may break them.
	if resp == nil {
		return nil, fmt.Errorf("opal: %T returned neither a response nor an error", t.next)
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		bufferBody(resp)
	}
	return resp, nil
}

// bufferBody replaces a response's body with its first maxErrorBody bytes,
// draining a bounded rest so the connection returns to the pool. A read
// error keeps what arrived: the status is what matters.
func bufferBody(resp *http.Response) {
	start, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(start))
}

// libraryTransport is a clone of base with the library's settings, keeping
// up to idlePerHost idle connections to a host.
func libraryTransport(base http.RoundTripper, idlePerHost int) *http.Transport {
	var tr *http.Transport
	if bt, ok := base.(*http.Transport); ok {
		tr = bt.Clone()
	} else {
		tr = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	tr.MaxIdleConnsPerHost = idlePerHost
	// Plain http is allowed only to loopback hosts, and a proxy would carry
	// the token in clear text over a network: a plain-http request never
	// goes through one. This is decided for each request, because clients
	// with https and http base URLs share the transport.
	proxy := tr.Proxy
	tr.Proxy = func(req *http.Request) (*url.URL, error) {
		if proxy == nil || strings.EqualFold(req.URL.Scheme, "http") {
			return nil, nil
		}
		return proxy(req)
	}
	return tr
}

// refuseClearTextProxies returns the RoundTripper for a caller's transport.
// With a plain-http base URL and an *http.Transport with a Proxy, that is a
// clone of it (the caller's transport is never modified) whose Proxy refuses
// to send a plain-http request carrying the token through a proxy. Otherwise
// it is next itself: over https the token goes through a proxy encrypted.
func refuseClearTextProxies(next http.RoundTripper, base *url.URL) http.RoundTripper {
	t, ok := next.(*http.Transport)
	if !ok || t.Proxy == nil || base.Scheme != "http" {
		return next
	}
	t = t.Clone()
	proxy := t.Proxy
	t.Proxy = func(req *http.Request) (*url.URL, error) {
		u, err := proxy(req)
		if err != nil || u == nil || !strings.EqualFold(req.URL.Scheme, "http") || req.Header.Get("Authorization") == "" {
			return u, err
		}
		return nil, &clearTextProxyError{proxyHost: u.Host}
	}
	return t
}

// clearTextProxyError is the refusal to send the token through a proxy over
// plain http. It names the proxy by host and port only (its URL may hold a
// password), and it is not retried: the proxy settings will not change
// between attempts.
type clearTextProxyError struct{ proxyHost string }

func (e *clearTextProxyError) Error() string {
	return "refusing to send the API token in clear text through proxy " + e.proxyHost +
		"; with a plain-http base URL, the transport's Proxy must return no proxy"
}

func (e *clearTextProxyError) retryable() bool { return false }

// redirectError marks an error of the caller's redirect policy, or of
// net/http's limit of 10 redirects, which no retry can mend.
type redirectError struct{ err error }

func (e *redirectError) Error() string   { return e.err.Error() }
func (e *redirectError) Unwrap() error   { return e.err }
func (e *redirectError) retryable() bool { return false }

// sameOriginRedirects follows redirects within the base URL's origin only,
// then applies the caller's own policy, if any, or net/http's limit of 10.
// A redirect elsewhere is not followed, so the token cannot follow it: the
// redirect itself is the answer, and becomes an *APIError with its 3xx status.
func sameOriginRedirects(base *url.URL, next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if !sameOrigin(req.URL, base) {
			return http.ErrUseLastResponse
		}
		var err error
		switch {
		case next != nil:
			err = next(req, via)
		case len(via) >= 10:
			err = errors.New("stopped after 10 redirects")
		}
		if err == nil || err == http.ErrUseLastResponse { // net/http compares it with ==
			return err
		}
		return &redirectError{err}
	}
}

// sameOrigin reports whether u has the scheme, host and port of base.
func sameOrigin(u, base *url.URL) bool {
	return strings.EqualFold(u.Scheme, base.Scheme) &&
		ascii.EqualFold(u.Hostname(), base.Hostname()) &&
		port(u) == port(base)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "http") {
		return "80"
	}
	return "443"
}
