package opal

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

// sweepServer serves the sessions and the users with access of many
// resources, in pages of the requested size, with cursors
// "<resource>:<index>", those of user_id only when it is given, and
// records each request. Resources it does not hold get 404.
type sweepServer struct {
	mu       sync.Mutex
	users    map[string][]string // resource to the users of its rows, in order
	requests []sweepRequest
	inFlight atomic.Int32
	peak     atomic.Int32
	delay    time.Duration
	answer   func(w http.ResponseWriter, r *http.Request) bool // answers instead, when it returns true
}

// sweepRequest is a request of a sweep: the resource it asks about, and
// its query without resource_id.
type sweepRequest struct {
	resource string
	query    url.Values
}

func newSweepServer(t *testing.T, resources, perResource int, opts ...Option) (*Client, *sweepServer) {
	t.Helper()
	c, mux, _ := setup(t, opts...)
	ss := &sweepServer{users: map[string][]string{}}
	for r := range resources {
		id := fmt.Sprintf("r%03d", r)
		for i := range perResource {
			ss.users[id] = append(ss.users[id], fmt.Sprintf("%s-u%02d", id, i))
		}
	}
	mux.HandleFunc("GET /v1/sessions", ss.serve)
	mux.HandleFunc("GET /v1/resources/{resource}/users", ss.serve)
	return c, ss
}

// resourceOf is the resource a request of a sweep asks about.
func resourceOf(r *http.Request) string {
	if id := r.URL.Query().Get("resource_id"); id != "" {
		return id
	}
	return r.PathValue("resource")
}

func (ss *sweepServer) serve(w http.ResponseWriter, r *http.Request) {
	n := ss.inFlight.Add(1)
	defer ss.inFlight.Add(-1)
	for {
		peak := ss.peak.Load()
		if n <= peak || ss.peak.CompareAndSwap(peak, n) {
			break
		}
	}
	q := r.URL.Query()
	resource := resourceOf(r)
	q.Del("resource_id")
	ss.mu.Lock()
	ss.requests = append(ss.requests, sweepRequest{resource, q})
	users, ok := ss.users[resource]
	answer := ss.answer
	ss.mu.Unlock()
	if ss.delay > 0 {
		select {
		case <-time.After(ss.delay):
		case <-r.Context().Done():
			return
		}
	}
	if answer != nil && answer(w, r) {
		return
	}
	if !ok {
		writeJSON(w, http.StatusNotFound, `{"message":"resource not found"}`)
		return
	}
	if user := q.Get("user_id"); user != "" {
		users = slices.DeleteFunc(slices.Clone(users), func(u string) bool { return u != user })
	}
	start := 0
	if c := q.Get("cursor"); c != "" {
		fmt.Sscanf(c[strings.LastIndex(c, ":")+1:], "%d", &start)
	}
	size := 200
	if s := q.Get("page_size"); s != "" {
		fmt.Sscanf(s, "%d", &size)
	}
	end := min(start+size, len(users))
	next := "null"
	if end < len(users) {
		next = fmt.Sprintf(`"%s:%d"`, resource, end)
	}
	var items []string
	for _, u := range users[start:end] {
		items = append(items, fmt.Sprintf(`{"user_id":%q,"resource_id":%q}`, u, resource))
	}
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{"next":%s,"results":[%s]}`, next, strings.Join(items, ",")))
}

func (ss *sweepServer) sent() []sweepRequest {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return slices.Clone(ss.requests)
}

// resourcesAskedFor are the resources of the requests sent, sorted.
func (ss *sweepServer) resourcesAskedFor() []string {
	var ids []string
	for _, r := range ss.sent() {
		ids = append(ids, r.resource)
	}
	slices.Sort(ids)
	return ids
}

// row is an item of any sweep, reduced to its resource and user.
type row struct{ resource, user string }

// sweepOf is one AllOf of the client, seen through its items' rows.
type sweepOf struct {
	name string
	// path is what errors say was requested for resource id.
	path  func(id string) string
	allOf func(c *Client, ctx context.Context, ids []string, cursor string, pageSize int) iter.Seq2[row, error]
}

// sweeps are every AllOf of the client.
var sweeps = []sweepOf{
	{
		name: "Sessions",
		path: func(string) string { return "/v1/sessions" },
		allOf: func(c *Client, ctx context.Context, ids []string, cursor string, pageSize int) iter.Seq2[row, error] {
			return rows(c.Sessions.AllOf(ctx, ids, &ListSessionsOptions{Cursor: cursor, PageSize: pageSize}),
				func(s Session) row { return row{s.ResourceID, s.UserID} })
		},
	},
	{
		name: "Access",
		path: func(id string) string { return "/v1/resources/" + id + "/users" },
		allOf: func(c *Client, ctx context.Context, ids []string, cursor string, pageSize int) iter.Seq2[row, error] {
			return rows(c.Access.AllOf(ctx, ids, &ListAccessOptions{Cursor: cursor, PageSize: pageSize}),
				func(a ResourceAccessUser) row { return row{a.ResourceID, a.UserID} })
		},
	},
}

// rows maps a sweep's items to rows.
func rows[T any](seq iter.Seq2[T, error], of func(T) row) iter.Seq2[row, error] {
	return func(yield func(row, error) bool) {
		for item, err := range seq {
			if !yield(of(item), err) {
				return
			}
		}
	}
}

// forEachSweep runs test as a subtest for every AllOf.
func forEachSweep(t *testing.T, test func(t *testing.T, sw sweepOf)) {
	for _, sw := range sweeps {
		t.Run(sw.name, func(t *testing.T) { test(t, sw) })
	}
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

func resourceIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("r%03d", i)
	}
	return ids
}

// TestAllOfDeliversEveryItemOnceInPageOrder: 40 resources of 7 rows in
// pages of 3; pages of different resources may interleave, but each
// resource's rows come in order and each page's stay together.
func TestAllOfDeliversEveryItemOnceInPageOrder(t *testing.T) {
	forEachSweep(t, func(t *testing.T, sw sweepOf) {
		before := goleak.IgnoreCurrent()
		c, ss := newSweepServer(t, 40, 7)
		var got []row
		for r, err := range sw.allOf(c, t.Context(), resourceIDs(40), "", 3) {
			if err != nil {
				t.Fatalf("AllOf: %v", err)
			}
			got = append(got, r)
		}
		byResource := map[string][]string{}
		for i, r := range got {
			byResource[r.resource] = append(byResource[r.resource], r.user)
			// A page's first row is followed by the rest of its page.
			if n := len(byResource[r.resource]); (n-1)%3 != 0 && got[i-1].resource != r.resource {
				t.Errorf("row %d (%s) is not next to the rest of its page", i, r.user)
			}
		}
		if diff := cmp.Diff(ss.users, byResource); diff != "" {
			t.Errorf("rows by resource, in order (-want +got):\n%s", diff)
		}
		if n := len(ss.sent()); n != 40*3 {
			t.Errorf("%d requests, want %d (3 pages for each of 40 resources)", n, 40*3)
		}
		noSweepLeft(t, before)
	})
}

// TestAllOfQueries: every resource is asked for as All asks: pages of 1000
// unless PageSize says otherwise, with the caller's filters; the caller's
// options are never modified.
func TestAllOfQueries(t *testing.T) {
	sessions := func(o *ListSessionsOptions) func(*Client) iter.Seq2[row, error] {
		return func(c *Client) iter.Seq2[row, error] {
			return rows(c.Sessions.AllOf(t.Context(), resourceIDs(3), o), func(s Session) row { return row{s.ResourceID, s.UserID} })
		}
	}
	access := func(o *ListAccessOptions) func(*Client) iter.Seq2[row, error] {
		return func(c *Client) iter.Seq2[row, error] {
			return rows(c.Access.AllOf(t.Context(), resourceIDs(3), o), func(a ResourceAccessUser) row { return row{a.ResourceID, a.UserID} })
		}
	}
	sessionsPage, accessPage := &ListSessionsOptions{PageSize: 50}, &ListAccessOptions{PageSize: 50}
	user := &ListSessionsOptions{UserID: "r001-u00"}
	tests := []struct {
		name  string
		opts  any // the caller's options
		sweep func(*Client) iter.Seq2[row, error]
		want  url.Values
	}{
		{"Sessions, nil options", nil, sessions(nil), url.Values{"page_size": {"1000"}}},
		{"Sessions, page size", sessionsPage, sessions(sessionsPage), url.Values{"page_size": {"50"}}},
		{"Sessions, user", user, sessions(user), url.Values{"page_size": {"1000"}, "user_id": {"r001-u00"}}},
		{"Access, nil options", nil, access(nil), url.Values{"page_size": {"1000"}, "limit": {"1000"}}},
		{"Access, page size", accessPage, access(accessPage), url.Values{"page_size": {"50"}, "limit": {"50"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ss := newSweepServer(t, 3, 1)
			before := fmt.Sprintf("%#v", tt.opts)
			for _, err := range tt.sweep(c) {
				if err != nil {
					t.Fatalf("AllOf: %v", err)
				}
			}
			for _, r := range ss.sent() {
				if diff := cmp.Diff(tt.want, r.query); diff != "" {
					t.Errorf("query (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(resourceIDs(3), ss.resourcesAskedFor()); diff != "" {
				t.Errorf("resources asked for (-want +got):\n%s", diff)
			}
			if after := fmt.Sprintf("%#v", tt.opts); after != before {
				t.Errorf("AllOf changed the caller's options from %s to %s", before, after)
			}
		})
	}
}

// TestAllOfArguments: bad arguments are one ErrInvalidArgument that says
// what was wrong, with nothing sent; an empty list yields nothing; a
// repeated ID is walked once.
func TestAllOfArguments(t *testing.T) {
	tests := []struct {
		name         string
		ids          []string
		cursor       string
		pageSize     int
		wantErr      string // the error, "" for none
		wantRequests []string
		only         string // the sweep the case is about, "" for both
	}{
		{name: "empty list"},
		{name: "empty ID", ids: []string{"r000", ""}, wantErr: "opal: invalid argument: empty resource ID (resourceIDs[1])"},
		{name: "a cursor", ids: []string{"r000"}, cursor: "r000:1", wantErr: "opal: invalid argument: AllOf takes no Cursor: a cursor belongs to one resource"},
		{name: "page size too large", ids: []string{"r000"}, pageSize: 1001, wantErr: "opal: invalid argument: page size 1001 is outside 0..1000"},
		{name: "negative page size", ids: nil, pageSize: -1, wantErr: "opal: invalid argument: page size -1 is outside 0..1000"},
		{name: "repeated IDs", ids: []string{"r001", "r000", "r001", "r000"}, wantRequests: []string{"r000", "r001"}},
		// IDs are compared in any letter case, as a page's items are.
		{name: "repeated IDs in another letter case", ids: []string{"r001", "R001", "r000"}, wantRequests: []string{"r000", "r001"}},
		{name: "a dot-dot ID", ids: []string{"r000", "r001", ".."}, only: "Access", wantErr: `opal: invalid argument: resource ID ".." is not an ID (resourceIDs[2])`},
		{name: "the ID users", ids: []string{"users"}, only: "Access", wantErr: `opal: invalid argument: resource ID "users" would reach GET /resources/users/{user_id}, not this resource (resourceIDs[0])`},
	}
	forEachSweep(t, func(t *testing.T, sw sweepOf) {
		for _, tt := range tests {
			if tt.only != "" && tt.only != sw.name {
				continue
			}
			t.Run(tt.name, func(t *testing.T) {
				before := goleak.IgnoreCurrent()
				c, ss := newSweepServer(t, 2, 1)
				var errs []string
				for _, err := range sw.allOf(c, t.Context(), tt.ids, tt.cursor, tt.pageSize) {
					if err != nil {
						if !errors.Is(err, ErrInvalidArgument) {
							t.Errorf("error %v does not match ErrInvalidArgument", err)
						}
						errs = append(errs, err.Error())
					}
				}
				var wantErrs []string
				if tt.wantErr != "" {
					wantErrs = []string{tt.wantErr}
				}
				if diff := cmp.Diff(wantErrs, errs); diff != "" {
					t.Errorf("errors (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.wantRequests, ss.resourcesAskedFor()); diff != "" {
					t.Errorf("resources asked for (-want +got):\n%s", diff)
				}
				noSweepLeft(t, before)
			})
		}
	})
}

// TestAllOfGoesOnAfterANotFound: a resource deleted since it was listed
// yields its 404 as a *ResourceError, and the sweep goes on.
func TestAllOfGoesOnAfterANotFound(t *testing.T) {
	forEachSweep(t, func(t *testing.T, sw sweepOf) {
		c, _ := newSweepServer(t, 5, 2)
		ids := append(resourceIDs(5), "gone-1", "gone-2")
		var got []row
		var errs []error
		for r, err := range sw.allOf(c, t.Context(), ids, "", 0) {
			if err != nil {
				errs = append(errs, err)
				continue
			}
			got = append(got, r)
		}
		if len(got) != 10 {
			t.Errorf("%d rows, want the 10 of the 5 resources that exist", len(got))
		}
		var gone []string
		for _, err := range errs {
			var re *ResourceError
			var apiErr *APIError
			if !errors.As(err, &re) || !errors.Is(err, ErrNotFound) || !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
				t.Errorf("error %v: want a *ResourceError around a 404 *APIError", err)
				continue
			}
			gone = append(gone, re.ResourceID)
			if want := "opal: resource " + re.ResourceID + ": GET " + sw.path(re.ResourceID) + ": 404 Not Found"; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Error() = %q, want it to start %q", err, want)
			}
		}
		slices.Sort(gone)
		if diff := cmp.Diff([]string{"gone-1", "gone-2"}, gone); diff != "" {
			t.Errorf("resources reported gone (-want +got):\n%s", diff)
		}
	})
}

// TestAllOfEndsOnOtherErrors: any other error, a 403 or a page about
// another resource, is yielded once, as a *ResourceError, and ends the
// sweep: no more rows, no goroutine left.
func TestAllOfEndsOnOtherErrors(t *testing.T) {
	tests := []struct {
		name   string
		answer func(w http.ResponseWriter)
		want   error
	}{
		{"forbidden", func(w http.ResponseWriter) { writeJSON(w, http.StatusForbidden, `{"message":"no access to r007"}`) }, ErrForbidden},
		{"a page of another resource", func(w http.ResponseWriter) {
			writeJSON(w, http.StatusOK, `{"results":[{"user_id":"u","resource_id":"r008"}]}`)
		}, ErrInvalidResponse},
	}
	forEachSweep(t, func(t *testing.T, sw sweepOf) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := goleak.IgnoreCurrent()
				c, ss := newSweepServer(t, 30, 2, WithRetryMax(0))
				ss.answer = func(w http.ResponseWriter, r *http.Request) bool {
					if resourceOf(r) != "r007" {
						return false
					}
					tt.answer(w)
					return true
				}
				var errs []error
				afterError := 0
				for _, err := range sw.allOf(c, t.Context(), resourceIDs(30), "", 0) {
					if err != nil {
						errs = append(errs, err)
						continue // a careless caller: the sequence must end by itself
					}
					if len(errs) > 0 {
						afterError++
					}
				}
				var re *ResourceError
				if len(errs) != 1 || !errors.As(errs[0], &re) || re.ResourceID != "r007" || !errors.Is(errs[0], tt.want) {
					t.Fatalf("errors = %v, want one *ResourceError for r007 matching %v", errs, tt.want)
				}
				if afterError != 0 {
					t.Errorf("%d rows yielded after the error", afterError)
				}
				noSweepLeft(t, before)
			})
		}
	})
}

// TestAllOfBreakCancelsAndLeavesNoGoroutine: a break mid-sweep cancels the
// requests in flight, and the sweep's goroutines are gone once the range
// loop has returned.
func TestAllOfBreakCancelsAndLeavesNoGoroutine(t *testing.T) {
	forEachSweep(t, func(t *testing.T, sw sweepOf) {
		before := goleak.IgnoreCurrent()
		c, ss := newSweepServer(t, 100, 1)
		var cancelled atomic.Int32
		release := make(chan struct{})
		ss.answer = func(w http.ResponseWriter, r *http.Request) bool {
			if resourceOf(r) == "r000" {
				return false
			}
			select { // every other resource hangs until the client gives up
			case <-r.Context().Done():
				cancelled.Add(1)
			case <-release:
			}
			return true
		}
		defer close(release)
		n := 0
		for _, err := range sw.allOf(c, t.Context(), resourceIDs(100), "", 0) {
			if err != nil {
				t.Fatalf("AllOf: %v", err)
			}
			n++
			break
		}
		noSweepLeft(t, before)
		if n != 1 {
			t.Errorf("%d rows before the break, want 1", n)
		}
		// Every request that reached the server but r000's was hanging when
		// the caller broke off; the server sees each cancelled shortly after.
		hanging := func() int32 { return int32(len(ss.sent()) - 1) }
		deadline := time.Now().Add(2 * time.Second)
		for cancelled.Load() != hanging() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if got, want := cancelled.Load(), hanging(); got != want {
			t.Errorf("%d requests cancelled, want the %d in flight", got, want)
		}
		if n := hanging() + 1; n > maxInFlight+1 {
			t.Errorf("%d requests sent, want at most %d", n, maxInFlight+1)
		}
	})
}

// TestAllOfCallerCancel: cancelling the caller's context ends the sweep with
// an error that matches context.Canceled.
func TestAllOfCallerCancel(t *testing.T) {
	forEachSweep(t, func(t *testing.T, sw sweepOf) {
		before := goleak.IgnoreCurrent()
		c, ss := newSweepServer(t, 50, 1)
		ss.delay = 20 * time.Millisecond
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var errs []error
		for _, err := range sw.allOf(c, ctx, resourceIDs(50), "", 0) {
			cancel()
			if err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
			t.Errorf("errors = %v, want one matching context.Canceled", errs)
		}
		noSweepLeft(t, before)
	})
}

// TestAllOfBoundsWhatIsInFlight: at most 16 resources are walked at once,
// and a walker holds its page until the caller takes it: a caller that
// stops reading holds up the sweep rather than letting pages pile up.
func TestAllOfBoundsWhatIsInFlight(t *testing.T) {
	forEachSweep(t, func(t *testing.T, sw sweepOf) {
		c, ss := newSweepServer(t, 64, 6)
		ss.delay = 2 * time.Millisecond
		next, stop := iter.Pull2(sw.allOf(c, t.Context(), resourceIDs(64), "", 2))
		defer stop()
		if _, err, ok := next(); !ok || err != nil {
			t.Fatalf("first row: %v, %v", err, ok)
		}
		// While the caller holds one row, every walker fetches its first
		// page and the one read fetches its second: wait until they have, so
		// that the check below is not passed by a slow machine, then give any
		// walker that would fetch more the time to.
		const held = maxInFlight + 1
		for deadline := time.Now().Add(5 * time.Second); len(ss.sent()) < held && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		if got := len(ss.sent()); got != held {
			t.Errorf("%d pages fetched while the caller held one row, want %d: one per resource in flight, and the next of the one being read", got, held)
		}
		for {
			_, err, ok := next()
			if !ok {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if peak := ss.peak.Load(); peak > maxInFlight {
			t.Errorf("%d requests in flight at once, want at most %d", peak, maxInFlight)
		}
	})
}

// TestAllOfNilContext: a nil context is a bad argument, as for every call,
// not a panic.
func TestAllOfNilContext(t *testing.T) {
	forEachSweep(t, func(t *testing.T, sw sweepOf) {
		c, ss := newSweepServer(t, 2, 1)
		var errs []error
		for _, err := range sw.allOf(c, nil, resourceIDs(2), "", 0) {
			errs = append(errs, err)
		}
		if len(errs) != 1 || !errors.Is(errs[0], ErrInvalidArgument) {
			t.Errorf("AllOf(nil, ...) yielded %v, want one ErrInvalidArgument", errs)
		}
		if n := len(ss.sent()); n != 0 {
			t.Errorf("%d requests sent, want none", n)
		}
	})
}
