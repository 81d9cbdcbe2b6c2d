// Package opaltest provides an in-memory Opal API server for testing code
// that uses the opal package, in the way net/http/httptest provides servers
// for testing HTTP clients.
//
// A [Server] answers as Opal does, checking the bearer token on every
// request:
//
//   - GET /v1/sessions: the sessions on resource_id, of user_id if given
//     (see [Server.AddSessions]);
//   - GET /v1/users: every user (see [Server.AddUsers]);
//   - GET /v1/user: one user, by user_id or else by email; 404 if unknown;
//   - GET /v1/resources: the resources that pass every filter given:
//     resource_type_filter, resource_name, resource_ids (comma-joined),
//     parent_resource_id and ancestor_resource_id (see [Server.AddResources]);
//   - GET /v1/resources/{resource_id}: one resource; 404 if unknown;
//   - GET /v1/resources/{resource_id}/users: the grants on the resource,
//     direct or through groups (see [Server.AddAccess]); 404 if the resource
//     is unknown;
//   - GET /v1/resources/users/{user_id}: the grants of the user, with
//     include_unmanaged true or false (absent, false); 404 if the user is
//     unknown.
//
// A resource is known once added with [Server.AddResources] or named by a
// grant, and a user once added with [Server.AddUsers] or named by a grant;
// a session makes neither known. (A resource whose ID is "users" has its
// grants out of reach: /v1/resources/users/users is the user "users"'s.)
//
// Lists page with opaque cursors and page_size (1 to 1000, 200 by
// default); the two lists of grants, whose reference declares only limit,
// take limit when page_size is not given; both are checked when both are
// given, since a server may read either. The sessions and the grants are
// indexed by resource and by user, so that a page of them costs what it
// returns, however many others the server holds; GET /resources with
// filters looks at every resource. Other paths get 404 and other methods 405; every error
// is a JSON {"message": ...}. Where Opal's documentation leaves a behaviour
// open, the server takes the strict reading, so that code passing its
// tests does not lean on luck: a cursor is accepted only with the list and
// the filters it was made for, "previous" is the cursor that fetched the
// current page, and a query parameter given more than once (as
// user_id=&user_id=u2) is refused with 400, never read as its first value.
//
// A Server can also misbehave on request, one request at a time, with a
// [Fault]: an error status, a slow answer, a dropped connection or a body
// cut short, so that a test can see how its code copes with rate limits and
// outages without waiting for real ones. And it can behave as Opal does
// under load, for every request: [Server.SetRateLimit] refuses requests
// beyond a rate with 429, as Opal's organisation-wide limit does, and
// [Server.SetLatency] makes every answer take a network's round trip.
//
//	srv := opaltest.NewServer(sessions...)
//	defer srv.Close()
//	srv.Inject(opaltest.Fault{Status: http.StatusServiceUnavailable})
//	client, err := srv.Client()
//	// ... call the code under test with client ...
package opaltest

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/internal/ascii"
	"golang.org/x/time/rate"
)

// defaultPageSize is the page a request without page_size gets from Opal;
// the largest it accepts is opal.MaxPageSize.
const defaultPageSize = 200

// Server is an Opal API server on a loopback address, holding an
// organisation's sessions, users, resources and grants in memory. Make one
// with [NewServer] and stop it with [Server.Close]. Its methods are safe for concurrent use, also while
// requests are being served.
type Server struct {
	// URL is the base URL of the API, such as "http://127.0.0.1:40815/v1":
	// what opal.WithBaseURL takes.
	URL string
	// Token is the only API token the server accepts, as
	// "Authorization: Bearer <Token>". It is random, so that a test that
	// forgets to send it fails.
	Token string

	srv       *httptest.Server
	transport *http.Transport // the client side of Client's connections
	cursorKey []byte          // signs cursors; random, so no two servers share cursors
	closed    chan struct{}   // closed by Close, to end Delay faults in progress
	closeOnce sync.Once

	mu          sync.Mutex // guards what follows
	pageSize    int
	faults      []Fault
	requests    []*http.Request
	limiter     *rate.Limiter // nil: no rate limit
	rateLimited int
	latency     time.Duration
	// The lists, in insertion order, only ever appended to, and where in
	// them the items of each resource or user are.
	sessions               []opal.Session
	sessionsByResource     index[string]    // by resource ID
	sessionsByResourceUser index[[2]string] // by resource ID and user ID
	users                  []opal.User
	usersByID              index[string]
	resources              []opal.Resource
	resourcesByID          index[string]
	grants                 []opal.ResourceAccessUser
	grantsByResource       index[string]
	grantsByUser           index[string]
}

// NewServer starts and returns a new Server holding the given sessions, in
// that order; add users, resources and grants with [Server.AddUsers],
// [Server.AddResources] and [Server.AddAccess]. The caller should call Close when finished, to
// shut it down.
func NewServer(sessions ...opal.Session) *Server {
	s := newServer(sessions)
	s.start()
	return s
}

// newServer is NewServer but for start, so that this package's tests can
// watch the server's connections.
func newServer(sessions []opal.Session) *Server {
	s := &Server{
		Token:     "opaltest-" + rand.Text(),
		cursorKey: make([]byte, 32),
		closed:    make(chan struct{}),
		// httptest's own client keeps 2 idle connections, so a test with
		// many goroutines opens a new connection for most requests; keep
		// as many as http.DefaultTransport does in all.
		transport: &http.Transport{MaxIdleConnsPerHost: 100},
		pageSize:  defaultPageSize,

		sessionsByResource:     index[string]{},
		sessionsByResourceUser: index[[2]string]{},
		usersByID:              index[string]{},
		resourcesByID:          index[string]{},
		grantsByResource:       index[string]{},
		grantsByUser:           index[string]{},
	}
	rand.Read(s.cursorKey) // never fails; see its documentation
	s.AddSessions(sessions...)
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	return s
}

func (s *Server) start() {
	s.srv.Start()
	s.URL = s.srv.URL + "/v1"
}

// Close shuts down the server and blocks until all outstanding requests on
// it have completed. A request held by a Delay fault ends at once, with its
// connection dropped. Calling Close more than once is harmless.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
	s.srv.Close()
	s.transport.CloseIdleConnections()
}

// Client returns an opal.Client for this server, with its Token and URL,
// with retry waits of a few milliseconds instead of seconds, so that tests of
// retries run fast, and with no client-side rate limit (opal.WithRateLimit(0)),
// since a loopback server answers far faster than Opal's 100 requests per
// second would let a test go. The options are applied after these, so they can
// change any of them: pass opal.WithRateLimit to test code against the
// limiter, with SetRateLimit.
//
// Its connections are kept for reuse, enough of them for a test's many
// goroutines, and closed by Close, so that they do not outlive the test.
func (s *Server) Client(opts ...opal.Option) (*opal.Client, error) {
	base := []opal.Option{
		opal.WithBaseURL(s.URL),
		opal.WithHTTPClient(&http.Client{Transport: s.transport}),
		opal.WithRetryWait(time.Millisecond, 5*time.Millisecond),
		opal.WithRateLimit(0),
	}
	return opal.NewClient(s.Token, append(base, opts...)...)
}

// SetPageSize sets how many items a page of any list holds when a request
// has no page_size: 200 until set, as on Opal. A request's own page_size
// wins: opal's SessionsService.All always sends one (1000 unless
// ListSessionsOptions.PageSize says otherwise), so to make it walk several
// pages, give it a small PageSize rather than calling SetPageSize.
//
// An n below 1 restores the default of 200, and an n above 1000 sets 1000,
// the largest page Opal serves.
func (s *Server) SetPageSize(n int) {
	switch {
	case n < 1:
		n = defaultPageSize
	case n > opal.MaxPageSize:
		n = opal.MaxPageSize
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// Requests returns the requests the server has received so far, in order
// of arrival, including those answered with an error or a fault. Each call
// returns new copies, which the caller may keep and change; their bodies
// are not kept.
func (s *Server) Requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*http.Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = cloneRequest(r)
	}
	return out
}

// cloneRequest copies a request deeply enough to outlive its handler: the
// URL and headers are copied, and the body, which belongs to the
// connection, is left out.
func cloneRequest(r *http.Request) *http.Request {
	c := r.Clone(context.Background())
	c.Body = http.NoBody
	c.GetBody = nil
	return c
}

// serve records each request, applies the rate limit and the next fault,
// if any, and otherwise answers as Opal would.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, cloneRequest(r))
	allowed := s.allow()
	var f Fault
	if allowed && len(s.faults) > 0 {
		f = s.faults[0]
		s.faults = s.faults[1:]
	}
	wait := s.latency + f.Delay
	s.mu.Unlock()

	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return // the client has gone; no one would read the answer
		case <-s.closed:
			dropConnection(w)
			return
		}
	}
	switch {
	case !allowed:
		errorResponse(http.StatusTooManyRequests, "rate limit exceeded").write(w)
	case f.Reset:
		dropConnection(w)
	case f.Truncate:
		truncate(w, s.answer(r).body)
	case f.Status != 0:
		writeFault(w, f)
	default:
		s.answer(r).write(w)
	}
}

// answer is what Opal would answer to r, checking in the order: endpoint,
// method, token, query.
func (s *Server) answer(r *http.Request) response {
	endpoint := s.endpoint(r.URL.EscapedPath())
	if endpoint == nil {
		return errorResponse(http.StatusNotFound, "not found: "+r.URL.Path)
	}
	if r.Method != http.MethodGet {
		resp := errorResponse(http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use GET")
		resp.header = http.Header{"Allow": {http.MethodGet}}
		return resp
	}
	if !s.authorized(r) {
		resp := errorResponse(http.StatusUnauthorized, "missing or invalid API token")
		resp.header = http.Header{"Www-Authenticate": {"Bearer"}}
		return resp
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return errorResponse(http.StatusBadRequest, "malformed query string")
	}
	return endpoint(query)
}

// endpoint returns the function that answers a GET of the path, given as
// it was sent (escaped), or nil if there is no such endpoint.
func (s *Server) endpoint(path string) func(query url.Values) response {
	switch path {
	case "/v1/sessions":
		return s.listSessions
	case "/v1/users":
		return s.listUsers
	case "/v1/user":
		return s.getUser
	case "/v1/resources":
		return s.listResources
	}
	// An ID is one segment of the path as sent, unescaped once: so an ID
	// holding "/" (sent as %2F) is that resource's, and no ID can reach
	// another endpoint, however it is escaped.
	rest, ok := strings.CutPrefix(path, "/v1/resources/")
	if !ok {
		return nil
	}
	segments := strings.Split(rest, "/")
	ids := make([]string, len(segments))
	for i, segment := range segments {
		id, err := url.PathUnescape(segment)
		if segment == "" || err != nil {
			return nil
		}
		ids[i] = id
	}
	switch {
	case len(segments) == 1:
		return func(url.Values) response { return s.getResource(ids[0]) }
	// /resources/users/users is the user "users"'s resources: the literal
	// segment wins, as it is written first.
	case len(segments) == 2 && segments[0] == "users":
		return func(query url.Values) response { return s.listUserResources(ids[1], query) }
	case len(segments) == 2 && segments[1] == "users":
		return func(query url.Values) response { return s.listResourceUsers(ids[0], query) }
	}
	return nil
}

func (s *Server) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && ascii.EqualFold(scheme, "Bearer") &&
		subtle.ConstantTimeCompare([]byte(token), []byte(s.Token)) == 1
}

// response is an answer built before it is written, so that a Truncate
// fault can write the start of it.
type response struct {
	status int
	header http.Header // besides Content-Length; Content-Type is JSON unless set
	body   []byte
}

func (resp response) write(w http.ResponseWriter) {
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(resp.body)))
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body) // a client that hangs up is not the server's problem
}

// jsonResponse is a 200 with v as JSON.
func jsonResponse(v any) response {
	body, err := json.Marshal(v)
	if err != nil {
		// Only a session whose time cannot be written as RFC 3339 (a year
		// outside 0..9999) gets here: a bad fixture, which the test should hear of.
		return errorResponse(http.StatusInternalServerError, "opaltest: encoding the answer: "+err.Error())
	}
	return response{status: http.StatusOK, body: body}
}

// errorResponse is Opal's error shape: a JSON object with a message.
func errorResponse(status int, message string) response {
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{message}) // a struct of one string always marshals
	return response{status: status, body: body}
}
