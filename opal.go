// Package opal is a client for the Opal Security API (https://docs.opal.dev).
//
// Opal grants temporary access to resources such as AWS roles, databases and
// apps. This package answers questions like "who holds a session on this
// role right now, at what access level, and until when?":
//
//	client, err := opal.NewClient(os.Getenv("OPAL_AUTH_TOKEN"))
//	if err != nil {
//		return err
//	}
//	for s, err := range client.Sessions.All(ctx, resourceID, nil) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(s.UserID, s.AccessLevel.Name, s.ExpirationDate)
//	}
//
// A session is a live, time-bounded connection made under a grant; the
// grants themselves, who can reach a resource directly or through groups,
// permanently or until an expiry, come from Client.Access, on SaaS apps too,
// which have no sessions. Client.Users and Client.Resources give the names
// behind the IDs, and [SessionsService.AllOf] and [AccessService.AllOf] walk
// many resources at once, a bounded number of them in flight. [WithObserver]
// reports every attempt of every call, for metrics and tracing.
//
// A [Client] is safe for concurrent use; make one at start-up and share it.
// Its requests, over all its calls, stay under a ceiling of requests a
// second ([DefaultRateLimit], or see [WithRateLimit]), below which it adapts
// to the 429s Opal answers, since Opal's limit is shared by the whole
// organisation; a Retry-After that one call waits out pauses every call of
// the Client. It retries rate limits (429), server
// faults (500, 502, 503, 504) and network faults with jittered exponential
// backoff, honours Retry-After, and reports everything else as an
// [*APIError] that works with [errors.Is] and the sentinels
// [ErrUnauthorized], [ErrForbidden], [ErrNotFound] and [ErrRateLimited]. A
// 2xx that is not what was asked for, such as a page without results or a
// page of another resource's sessions, is an error matching
// [ErrInvalidResponse], never an empty or wrong answer; a server that hands
// back a cursor it already gave ends the walk with an error matching
// [ErrCursorLoop] before the repeated page is yielded; a bad argument is
// one matching [ErrInvalidArgument], and nothing is sent.
//
// The API token is never written into an error, a log record, an [Attempt] or
// the fmt output of a Client, and it is sent to the base URL's host only.
package opal

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/opalclient/opal-go/internal/ascii"
)

// DefaultBaseURL is the base URL of Opal's hosted API.
const DefaultBaseURL = "https://api.opal.dev/v1"

// Version is the version of this library, sent in the User-Agent header as
// "opal-go/<Version>".
const Version = "0.1.0"

// Defaults of the options.
const (
	defaultRetryMax     = 4
	defaultRetryWaitMin = 1 * time.Second
	defaultRetryWaitMax = 30 * time.Second
	// defaultAttemptTimeout bounds one attempt when the caller brings no
	// http.Client, so that a job never hangs on a server that stops answering.
	// A page of 1000 sessions is about 250 KB, well inside it.
	defaultAttemptTimeout = 30 * time.Second

	// maxRetryWait bounds WithRetryWait's max.
	maxRetryWait = 24 * time.Hour
)

// Client talks to the Opal API. Make one with [NewClient]; it is safe for
// concurrent use by multiple goroutines.
type Client struct {
	// Sessions lists access sessions on resources.
	Sessions *SessionsService
	// Users finds the users of the organisation, by ID, by email or all.
	Users *UsersService
	// Resources finds the resources of the organisation: by ID, or all
	// of them, narrowed by type, name or place in the hierarchy.
	Resources *ResourcesService
	// Access lists who can reach a resource, directly or through groups,
	// and what a user can reach: the grants, permanent or expiring, that
	// sessions are made under.
	Access *AccessService

	base      *url.URL
	userAgent string
	// How every call goes. The token lives only in closures, here and in
	// the http.Client's transport, so that no verb of the fmt package can
	// print it from a Client or a service.
	policy
}

// service is what every API area's service holds.
type service struct {
	client *Client
}

// Option configures a [Client] in [NewClient].
type Option func(*config) error

type config struct {
	baseURL      string
	exactBaseURL bool // the base URL as given, with no "/v1" filled in
	httpClient   *http.Client
	product      string
	productSet   bool // product is given, and must be checked
	retryMax     int
	retryWaitMin time.Duration
	retryWaitMax time.Duration
	logger       *slog.Logger
	observer     func(context.Context, Attempt)
	rateLimit    float64
}

// WithBaseURL sets the URL of the Opal API, for self-hosted Opal or tests.
// The default is [DefaultBaseURL].
//
// A URL with no path, or just "/", means "/v1" on that host, which is where
// self-hosted Opal serves its API; any other path is kept as given. The
// scheme must be https; plain http is allowed only to loopback hosts
// (localhost, 127.0.0.0/8, [::1]), so that the token never crosses a network
// in clear text.
//
// NewClient refuses a base URL that holds the API token, or any 8 bytes of
// it in a row (the token swapped with the URL, or pasted into it), in any
// escaping, without quoting it: the base URL's path is in every error, log
// record and [Attempt]. It does not quote a base URL without a host either,
// which is no URL and may be a token.
func WithBaseURL(rawURL string) Option {
	return func(c *config) error {
		c.baseURL, c.exactBaseURL = rawURL, false
		return nil
	}
}

// WithExactBaseURL is [WithBaseURL] without the "/v1" that WithBaseURL fills
// in for a URL with no path: the URL is used as given, its root included.
// It is for a mock that serves the API at a host's root, as Stoplight Prism
// serves Opal's OpenAPI document: WithExactBaseURL("http://127.0.0.1:4010").
// The rules of scheme and host are those of WithBaseURL. Of the two options,
// the last given wins.
func WithExactBaseURL(rawURL string) Option {
	return func(c *config) error {
		c.baseURL, c.exactBaseURL = rawURL, true
		return nil
	}
}

// WithHTTPClient sets the http.Client that sends each attempt, under the
// retry layer: its Transport, Timeout (which bounds one attempt) and
// CheckRedirect are used. The client is copied, never modified. A nil
// Transport means the connection pool that clients without this option share.
//
// With a plain-http (loopback) base URL and an *http.Transport whose Proxy is
// set, the client uses a clone of that transport, whose Proxy refuses to send
// a request carrying the token through a proxy, in clear text: the call
// fails, naming the proxy, and is not retried. The caller's transport is
// never modified. (The library's own transport sends such requests around
// the proxy instead: there the proxy came from the environment, not from a
// choice of the caller's, which fails loudly rather than being ignored.)
//
// Without this option, each attempt is bounded by a 30-second timeout, and
// every such client shares one pool of connections, as net/http's clients
// share http.DefaultTransport.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return fmt.Errorf("%w: WithHTTPClient: nil *http.Client", ErrInvalidArgument)
		}
		c.httpClient = hc
		return nil
	}
}

// WithUserAgent puts the caller's product, such as "inventory-bot/2.1", in
// front of the library's own User-Agent ("opal-go/<Version>"). NewClient
// refuses a product that is empty, has white space at either end or holds a
// control character, and, without quoting it, one that holds the API token
// or any 8 bytes of it in a row, which the Client would send in every
// request, and fmt print. Of several, the last given wins.
func WithUserAgent(product string) Option {
	return func(c *config) error {
		// Checked by NewClient, which knows the token: a refusal must not
		// quote a product that holds it.
		c.product, c.productSet = product, true
		return nil
	}
}

// WithRetryMax sets how many times a failed request is retried after its
// first attempt; 0 disables retries. The default is 4.
func WithRetryMax(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: WithRetryMax: negative retry count %d", ErrInvalidArgument, n)
		}
		c.retryMax = n
		return nil
	}
}

// WithRetryWait sets the bounds of the backoff between attempts. The
// defaults are 1s and 30s; max may be at most 24 hours.
//
// The wait before retry n (0 for the first) is drawn at random between min
// and min·2^(n+1), capped at max. With min 0 there is nothing to double:
// every wait is drawn between 0 and max, and WithRetryWait(0, 0) retries at
// once.
//
// A Retry-After longer than max is not waited for: the request fails at once
// with an [*APIError] whose RetryAfter says how long the server asked for.
func WithRetryWait(min, max time.Duration) Option {
	return func(c *config) error {
		if min < 0 || max < 0 {
			return fmt.Errorf("%w: WithRetryWait: negative wait (min %v, max %v)", ErrInvalidArgument, min, max)
		}
		if min > max {
			return fmt.Errorf("%w: WithRetryWait: min %v is greater than max %v", ErrInvalidArgument, min, max)
		}
		if max > maxRetryWait {
			// A longer wait is no retry but an outage: a job is better off
			// failing and deciding for itself.
			return fmt.Errorf("%w: WithRetryWait: max %v is longer than %v", ErrInvalidArgument, max, maxRetryWait)
		}
		c.retryWaitMin, c.retryWaitMax = min, max
		return nil
	}
}

// WithLogger makes the client write a debug record for each attempt and each
// wait before a retry (method, path, attempt, status, delay). Headers and
// query strings are never logged. By default, and with a nil logger, nothing
// is logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		c.logger = l
		return nil
	}
}

// WithObserver calls f once after every attempt of every call (every retry
// included), on the goroutine that made it; f must be quick and must not
// call the Client. It is how to count requests, retries and 429s, or to
// trace slow calls: see [Attempt], and the README's section on metrics and
// tracing. A nil f observes nothing.
//
// f hears of an attempt when its outcome is known: when its answer has been
// read (a 2xx body decoded included) or it failed. For a call that retries,
// that is before the wait for the retry. An attempt may be more than one
// request on the wire: the redirects it follows, and the resends that
// net/http makes on its own of a GET whose kept-alive connection the server
// had closed before answering (one for each such connection, so maybe
// several), are part of it: one Attempt, and no turn of the rate limiter of
// their own for the resends. A panic in f is not recovered: it unwinds the
// call, as one in the caller's own code would, and the Client stays fit for
// use, its limiter and connections as they were. (In
// [SessionsService.AllOf] and [AccessService.AllOf], f runs on the sweep's
// goroutines, where a panic, as in any goroutine, ends the program.)
func WithObserver(f func(context.Context, Attempt)) Option {
	return func(c *config) error {
		c.observer = f
		return nil
	}
}

// WithRateLimit caps the requests per second that a Client sends, over all its
// calls and goroutines, retries and redirects included: [DefaultRateLimit]
// (Opal's documented limit per route) unless given; 0 means no client-side
// limit. Any other positive rate, however small or large, is honoured.
//
// The limit is a ceiling, never a brake below it: a Client that asks for
// less, and meets no 429, runs at the pace it asks for within a second or
// so. Below the ceiling the Client adapts to Opal's 429s, since Opal's limit
// is shared by every token of the organisation: it starts gently, slows down
// when Opal refuses, and climbs back while Opal does not, so that Clients
// sharing the limit settle on equal shares. Calls take their turns in the
// order they ask for them; a call whose turn would come after its context's
// deadline fails at once, with an error matching [context.DeadlineExceeded].
// A 429 or 503 with a Retry-After that the Client waits out pauses every call
// of the Client until then.
func WithRateLimit(perSecond float64) Option {
	return func(c *config) error {
		if perSecond < 0 || math.IsNaN(perSecond) || math.IsInf(perSecond, 0) {
			return fmt.Errorf("%w: WithRateLimit: %v is not a rate (want requests per second, 0 for no limit)", ErrInvalidArgument, perSecond)
		}
		c.rateLimit = perSecond
		return nil
	}
}

// NewClient returns a client that authenticates with the given API token.
// It sends nothing; errors are about its arguments and wrap
// [ErrInvalidArgument], and never quote the token, nor any 8 bytes of it in
// a row, even where it was given by mistake in an option, such as the base
// URL or the user agent: such an option is refused, and its refusal says
// that its value holds the token, or a piece of it, rather than quoting it.
// A token that is an http(s) URL is refused too: the token and the base URL
// were swapped.
func NewClient(token string, opts ...Option) (*Client, error) {
	c, err := newClient(token, opts)
	if err != nil {
		return nil, withoutToken(err, token)
	}
	return c, nil
}

func newClient(token string, opts []Option) (*Client, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: empty API token", ErrInvalidArgument)
	}
	// Usually a newline read from a file along with the token, or a
	// byte-order mark or zero-width space pasted with it: the server would
	// refuse every call with a 401. The error never quotes the token.
	if strings.ContainsFunc(token, invalidInToken) {
		return nil, fmt.Errorf("%w: API token contains white space, control characters, invisible formatting characters or others outside printable ASCII, which Opal's tokens are", ErrInvalidArgument)
	}
	if isWebURL(token) {
		// The base URL is then likely the token, which its refusal would
		// quote if it did not find the token in it (it looks for this one).
		return nil, fmt.Errorf("%w: API token is a URL (were the token and the base URL swapped?)", ErrInvalidArgument)
	}
	cfg := config{
		baseURL:      DefaultBaseURL,
		retryMax:     defaultRetryMax,
		retryWaitMin: defaultRetryWaitMin,
		retryWaitMax: defaultRetryWaitMax,
		rateLimit:    DefaultRateLimit,
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	parse := parseBaseURL
	if cfg.exactBaseURL {
		parse = checkBaseURL
	}
	// The token was swapped with a string option, or pasted into it: the
	// refusal must not quote the value. The bytes of the token are looked
	// for as they are (in any form of escaping, but in their own letter
	// case), as the server would read them. A piece of it is refused as the
	// whole is: kept, the base URL's path would be quoted in every error,
	// log record and Attempt, and the product sent in every User-Agent and
	// printed by fmt from the Client. So the values checked below hold no
	// piece of the token, and their refusals may quote them.
	if err := checkNoToken("base URL", "URL", cfg.baseURL, token); err != nil {
		return nil, err
	}
	if cfg.productSet {
		if err := checkNoToken("WithUserAgent: the product", "product", cfg.product, token); err != nil {
			return nil, err
		}
	}
	base, err := parse(cfg.baseURL)
	if err != nil {
		return nil, err
	}
	if cfg.productSet {
		if err := checkProduct(cfg.product); err != nil {
			return nil, err
		}
	}

	hc := &http.Client{Timeout: defaultAttemptTimeout}
	var next http.RoundTripper = sharedTransport() // it sends plain http to no proxy
	if cfg.httpClient != nil {
		copied := *cfg.httpClient
		hc = &copied
		if hc.Transport != nil {
			next = refuseClearTextProxies(hc.Transport, base)
		}
	}
	secret := func() string { return token }
	hc.Transport = &tokenTransport{next: next, base: base, token: secret}
	hc.CheckRedirect = sameOriginRedirects(base, hc.CheckRedirect)

	userAgent := "opal-go/" + Version
	if cfg.product != "" {
		userAgent = cfg.product + " " + userAgent
	}
	c := &Client{
		base:      base,
		userAgent: userAgent,
		policy: policy{
			httpClient:   hc,
			limiter:      newLimiter(cfg.rateLimit, cfg.logger),
			retryMax:     cfg.retryMax,
			retryWaitMin: cfg.retryWaitMin,
			retryWaitMax: cfg.retryWaitMax,
			logger:       cfg.logger,
			observer:     cfg.observer,
			token:        secret,
		},
	}
	c.Sessions = &SessionsService{client: c}
	c.Users = &UsersService{client: c}
	c.Resources = &ResourcesService{client: c}
	c.Access = &AccessService{client: c}
	return c, nil
}

// withoutToken is err, a refusal of NewClient's arguments, with the token
// redacted, pieces of it included, where its text held it. It is a last
// safety net: no refusal quotes a value that holds the token or a piece of
// it (see checkNoToken), so it changes nothing unless one was missed. It runs
// over the whole text, so that it would redact the library's own words
// where the token holds them. It still wraps ErrInvalidArgument.
func withoutToken(err error, token string) error {
	if !chainHoldsSecret(err, token) {
		return err
	}
	return &scrubbedError{msg: redactPieces(err.Error(), token), err: ErrInvalidArgument}
}

// sharedTransport is the connection pool of every Client made without
// WithHTTPClient, as http.DefaultTransport is for net/http's clients: with a
// pool each, short-lived clients would leave their idle connections (and
// their goroutines) behind until the idle timeout. It is cloned from
// http.DefaultTransport on first use, and keeps an idle connection to a host
// for each list that a sweep walks at once, so that a sweep never redials.
var sharedTransport = sync.OnceValue(func() *http.Transport {
	return libraryTransport(http.DefaultTransport, maxInFlight)
})

// checkNoToken refuses value, a string option (what names it, and noun
// says what it should be), where it holds the token or any piece of it
// that redactPieces redacts: the refusal says so, and does not quote it.
func checkNoToken(what, noun, value, token string) error {
	switch {
	case holdsSecret(value, token):
		return fmt.Errorf("%w: %s holds the API token (were the token and the %s swapped?)", ErrInvalidArgument, what, noun)
	case holdsPiece(value, token):
		return fmt.Errorf("%w: %s holds part of the API token, %d bytes of it or more in a row (was the token pasted into it?)", ErrInvalidArgument, what, minFreeSecret)
	}
	return nil
}

// isWebURL reports whether s, a token given to NewClient, is an http or
// https URL with a host: a base URL, which no token is.
func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (ascii.EqualFold(u.Scheme, "https") || ascii.EqualFold(u.Scheme, "http")) && u.Host != ""
}

// checkProduct checks the product of WithUserAgent, which holds no piece
// of the token.
func checkProduct(product string) error {
	if product == "" || strings.TrimSpace(product) != product || hasControl(product) {
		return fmt.Errorf("%w: WithUserAgent: %q is not a valid product (want text like \"inventory-bot/2.1\")", ErrInvalidArgument, product)
	}
	return nil
}

// parseBaseURL checks a base URL against the rules of WithBaseURL and
// returns it with "/v1" filled in for an empty path. The URL holds no
// piece of the token.
func parseBaseURL(raw string) (*url.URL, error) {
	u, err := checkBaseURL(raw)
	if err != nil {
		return nil, err
	}
	if u.Path == "" || u.Path == "/" {
		u.Path, u.RawPath = "/v1", ""
	}
	return u, nil
}

// checkBaseURL checks a base URL against the rules of WithBaseURL and
// returns it as given. The URL holds no piece of the token, but one
// without a host is not quoted all the same: it is no URL, and may be a
// token, another than the one given to NewClient (an old one, or one of
// another Opal).
func checkBaseURL(raw string) (*url.URL, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: base URL: "+format, append([]any{ErrInvalidArgument}, args...)...)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL; say only what is wrong with it,
		// which quotes a part of it.
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		return nil, bad("not a valid URL: %v", err)
	}
	shown := strconv.Quote(u.Redacted())
	switch {
	case u.Opaque != "" || u.Hostname() == "":
		return nil, fmt.Errorf("%w: base URL has no host (want a URL like %s); it is not quoted, as a value that is no URL may be an API token (were the token and the URL swapped?)", ErrInvalidArgument, DefaultBaseURL)
	case u.User != nil:
		return nil, bad("%s contains credentials; the token is given to NewClient", shown)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, bad("%s has a query or fragment", shown)
	case u.Scheme == "https":
	case u.Scheme == "http":
		if !isLoopback(u.Hostname()) {
			return nil, bad("%s uses plain http, which is allowed only to loopback hosts (localhost, 127.0.0.0/8, [::1]); use https", shown)
		}
	default:
		return nil, bad("%s has scheme %q; use https", shown, u.Scheme)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if ascii.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// invalidInToken reports whether r cannot be part of an API token: Opal's
// tokens, like any value of an HTTP header that servers agree on, are
// printable ASCII. Anything else, a space, a control character, a
// byte-order mark, a zero-width space or a Hangul filler, was pasted with it
// and would only earn a 401 on every call. Bytes that are not UTF-8 come
// as U+FFFD, outside ASCII too.
func invalidInToken(r rune) bool {
	return r <= ' ' || r > '~'
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f })
}

// request is one GET of the API, as a service describes it to get.
type request struct {
	// path is the endpoint under the base URL, a segment each, such as
	// {"resources", id}. Each is escaped, so no ID reaches another endpoint.
	path []string
	// route is path with its IDs as placeholders, such as
	// "/resources/{resource_id}": what an Attempt's Route is made of. It
	// must be given when path holds an ID; "" stands for path itself.
	route string
	// resourceID is the resource the call is about, if any: the one whose
	// sessions are listed, or the resource itself.
	resourceID string
	// query is the query string's values; it is never logged or reported.
	query url.Values
	// what names what a 2xx must hold, as in "the page of sessions asked
	// for", for the error when it does not.
	what string
}

// get sends r, with retries, and hands a 2xx JSON body to read. Every other
// outcome is an error: *APIError for a non-2xx status, the context's own
// error when it is done.
func (c *Client) get(ctx context.Context, r request, read func(*json.Decoder) error) error {
	if ctx == nil {
		return fmt.Errorf("%w: nil context", ErrInvalidArgument)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	u := c.endpoint(r.path)
	u.RawQuery = r.query.Encode()
	cl := c.newCall(ctx, http.MethodGet, u.EscapedPath(), c.route(r), r.resourceID)
	defer cl.release()
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return cl.callError(err, 0)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	req.SetResponseHandler(cl.handleResponse(r.what, read))
	// The first attempt's turn is taken here, where a call that gets none
	// fails at once; the retries' are taken in the loop.
	if err := cl.takeTurn(); err != nil {
		return cl.callError(err, 0)
	}
	// The response handler reads and closes the body of every response.
	_, err = cl.retryingClient().Do(req)
	cl.report(false)
	return err
}

// route is what an Attempt's Route says of r: its path with its IDs as
// placeholders, under the base URL's path. Only an observer reads it, so it
// is made only for one.
func (c *Client) route(r request) string {
	if c.observer == nil {
		return ""
	}
	route := r.route
	if route == "" {
		route = "/" + strings.Join(r.path, "/")
	}
	return strings.TrimSuffix(c.base.EscapedPath(), "/") + route
}

// redact is s, text the caller gave (an ID, an email) or a path built of
// it, with the API token redacted, 8 bytes of it in a row included, for an
// error to quote: a token passed by mistake as an ID must not reach an
// error, a log record or an Attempt, nor a piece of it that a base URL
// kept and the route written after it made longer.
func (c *Client) redact(s string) string {
	return redactPieces(s, c.token())
}

// getObject fetches one object, such as a user, decodes it and checks with
// check that it is the one asked for: a 2xx holding another object, or none,
// is an error, never a zero value.
func getObject[T any](ctx context.Context, c *Client, r request, check func(*T) error) (*T, error) {
	var out T
	err := c.get(ctx, r, func(dec *json.Decoder) error {
		out = *new(T) // nothing of a failed attempt's answer may remain
		if err := decodeObject(dec, &out); err != nil {
			return err
		}
		return check(&out)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// askedFor checks that an object's identifying field, such as its
// "user_id", holds what was asked for (in any ASCII letter case, as UUIDs
// and emails may come back normalised: see ascii.EqualFold). The server's
// value is not quoted.
func askedFor(field, got, want string) error {
	if err := present(field, got != ""); err != nil {
		return err
	}
	if !ascii.EqualFold(got, want) {
		return fmt.Errorf("its %q is not the one asked for", field)
	}
	return nil
}

// present checks that an answer held field, such as an item's "user_id",
// which says what the item is about: one that leaves it out, or sends it
// null or empty, shows nothing of what it is, and a misrouted answer (a page
// of resources for a page of users) would pass for the answer.
func present(field string, held bool) error {
	if !held {
		return fmt.Errorf("no %q", field)
	}
	return nil
}

// checkPathID returns an error wrapping ErrInvalidArgument when id, the ID
// of an object of the given kind (as "resource"), cannot be one segment of
// a request's path: empty, or "." or "..", which no escaping keeps from
// meaning "this or the parent directory" to a server or proxy on the way.
func checkPathID(kind, id string) error {
	switch id {
	case "":
		return fmt.Errorf("%w: empty %s ID", ErrInvalidArgument, kind)
	case ".", "..":
		return fmt.Errorf("%w: %s ID %q is not an ID", ErrInvalidArgument, kind, id)
	}
	return nil
}

// endpoint is the URL of the API's path under the base URL. Each element
// is escaped as one path segment, so that an ID such as "a/b" or "?" cannot
// reach another endpoint. (url.JoinPath would resolve "..".)
func (c *Client) endpoint(path []string) *url.URL {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = strings.TrimSuffix(c.base.EscapedPath(), "/")
	for _, segment := range path {
		u.Path += "/" + segment
		u.RawPath += "/" + url.PathEscape(segment)
	}
	return &u
}
