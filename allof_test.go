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

// sweepServer serves the sessions of many resources, in pages of the
// requested size, with cursors "<resource>:<index>", those of user_id only
// when it is given, and records each request's query. Resources it does
// not hold get 404.
type sweepServer struct {
	mu       sync.Mutex
	sessions map[string][]string // resource to its users, in order
	queries  []url.Values
	inFlight atomic.Int32
	peak     atomic.Int32
	delay    time.Duration
	answer   func(w http.ResponseWriter, r *http.Request) bool // answers instead, when it returns true
}

func newSweepServer(t *testing.T, resources, perResource int, opts ...Option) (*Client, *sweepServer) {
	t.Helper()
	c, mux, _ := setup(t, opts...)
	ss := &sweepServer{sessions: map[string][]string{}}
	for r := range resources {
		id := fmt.Sprintf("r%03d", r)
		for i := range perResource {
			ss.sessions[id] = append(ss.sessions[id], fmt.Sprintf("%s-u%02d", id, i))
		}
	}
	mux.HandleFunc("/v1/sessions", ss.serve)
	return c, ss
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
	ss.mu.Lock()
	ss.queries = append(ss.queries, q)
	users, ok := ss.sessions[q.Get("resource_id")]
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
		next = fmt.Sprintf(`"%s:%d"`, q.Get("resource_id"), end)
	}
	var items []string
	for _, u := range users[start:end] {
		items = append(items, fmt.Sprintf(`{"user_id":%q,"resource_id":%q}`, u, q.Get("resource_id")))
	}
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{"next":%s,"results":[%s]}`, next, strings.Join(items, ",")))
}

func (ss *sweepServer) requests() []url.Values {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return slices.Clone(ss.queries)
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

// TestAllOfDeliversEverySessionOnceInPageOrder: 40 resources of 7 sessions
// in pages of 3; pages of different resources may interleave, but each
// resource's sessions come in order and each page's stay together.
func TestAllOfDeliversEverySessionOnceInPageOrder(t *testing.T) {
	before := goleak.IgnoreCurrent()
	c, ss := newSweepServer(t, 40, 7)
	var got []Session
	for s, err := range c.Sessions.AllOf(t.Context(), resourceIDs(40), &ListSessionsOptions{PageSize: 3}) {
		if err != nil {
			t.Fatalf("AllOf: %v", err)
		}
		got = append(got, s)
	}
	byResource := map[string][]string{}
	for i, s := range got {
		byResource[s.ResourceID] = append(byResource[s.ResourceID], s.UserID)
		// A page's first session is followed by the rest of its page.
		if n := len(byResource[s.ResourceID]); (n-1)%3 != 0 && got[i-1].ResourceID != s.ResourceID {
			t.Errorf("session %d (%s) is not next to the rest of its page", i, s.UserID)
		}
	}
	if diff := cmp.Diff(ss.sessions, byResource); diff != "" {
		t.Errorf("sessions by resource, in order (-want +got):\n%s", diff)
	}
	if n := len(ss.requests()); n != 40*3 {
		t.Errorf("%d requests, want %d (3 pages for each of 40 resources)", n, 40*3)
	}
	noSweepLeft(t, before)
}

// TestAllOfQueries: every resource is asked for as All asks: pages of 1000
// unless PageSize says otherwise, and UserID filters each.
func TestAllOfQueries(t *testing.T) {
	tests := []struct {
		name string
		opts *ListSessionsOptions
		want url.Values
	}{
		{"nil options", nil, url.Values{"page_size": {"1000"}}},
		{"page size", &ListSessionsOptions{PageSize: 50}, url.Values{"page_size": {"50"}}},
		{"user", &ListSessionsOptions{UserID: "u7"}, url.Values{"page_size": {"1000"}, "user_id": {"u7"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ss := newSweepServer(t, 3, 1)
			var saved ListSessionsOptions
			if tt.opts != nil {
				saved = *tt.opts
			}
			for _, err := range c.Sessions.AllOf(t.Context(), resourceIDs(3), tt.opts) {
				if err != nil {
					t.Fatalf("AllOf: %v", err)
				}
			}
			var resources []string
			for _, q := range ss.requests() {
				resources = append(resources, q.Get("resource_id"))
				q.Del("resource_id")
				if diff := cmp.Diff(tt.want, q); diff != "" {
					t.Errorf("query (-want +got):\n%s", diff)
				}
			}
			slices.Sort(resources)
			if diff := cmp.Diff(resourceIDs(3), resources); diff != "" {
				t.Errorf("resources asked for (-want +got):\n%s", diff)
			}
			if tt.opts != nil && *tt.opts != saved {
				t.Errorf("AllOf changed the caller's options to %+v", *tt.opts)
			}
		})
	}
}

// TestAllOfArguments: bad arguments are one ErrInvalidArgument with nothing
// sent; an empty list yields nothing; a repeated ID is walked once.
func TestAllOfArguments(t *testing.T) {
	tests := []struct {
		name         string
		ids          []string
		opts         *ListSessionsOptions
		wantErr      bool
		wantRequests []string
	}{
		{"empty list", nil, nil, false, nil},
		{"empty ID", []string{"r000", ""}, nil, true, nil},
		{"a cursor", []string{"r000"}, &ListSessionsOptions{Cursor: "r000:1"}, true, nil},
		{"page size too large", []string{"r000"}, &ListSessionsOptions{PageSize: 1001}, true, nil},
		{"repeated IDs", []string{"r001", "r000", "r001", "r000"}, nil, false, []string{"r000", "r001"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			c, ss := newSweepServer(t, 2, 1)
			var errs []error
			for _, err := range c.Sessions.AllOf(t.Context(), tt.ids, tt.opts) {
				if err != nil {
					errs = append(errs, err)
				}
			}
			if tt.wantErr && (len(errs) != 1 || !errors.Is(errs[0], ErrInvalidArgument)) {
				t.Errorf("errors = %v, want one ErrInvalidArgument", errs)
			}
			if !tt.wantErr && len(errs) != 0 {
				t.Errorf("errors = %v, want none", errs)
			}
			var got []string
			for _, q := range ss.requests() {
				got = append(got, q.Get("resource_id"))
			}
			slices.Sort(got)
			if diff := cmp.Diff(tt.wantRequests, got); diff != "" {
				t.Errorf("resources asked for (-want +got):\n%s", diff)
			}
			noSweepLeft(t, before)
		})
	}
}

// TestAllOfGoesOnAfterANotFound: a resource deleted since it was listed
// yields its 404 as a *ResourceError, and the sweep goes on.
func TestAllOfGoesOnAfterANotFound(t *testing.T) {
	c, _ := newSweepServer(t, 5, 2)
	ids := append(resourceIDs(5), "gone-1", "gone-2")
	var users []string
	var errs []error
	for s, err := range c.Sessions.AllOf(t.Context(), ids, nil) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		users = append(users, s.UserID)
	}
	if len(users) != 10 {
		t.Errorf("%d sessions, want the 10 of the 5 resources that exist", len(users))
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
		if want := "opal: resource " + re.ResourceID + ": GET /v1/sessions: 404 Not Found"; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Error() = %q, want it to start %q", err, want)
		}
	}
	slices.Sort(gone)
	if diff := cmp.Diff([]string{"gone-1", "gone-2"}, gone); diff != "" {
		t.Errorf("resources reported gone (-want +got):\n%s", diff)
	}
}

// TestAllOfEndsOnOtherErrors: any other error is yielded once, as a
// *ResourceError, and ends the sweep: no more sessions, no goroutine left.
func TestAllOfEndsOnOtherErrors(t *testing.T) {
	before := goleak.IgnoreCurrent()
	c, ss := newSweepServer(t, 30, 2, WithRetryMax(0))
	ss.answer = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Query().Get("resource_id") != "r007" {
			return false
		}
		writeJSON(w, http.StatusForbidden, `{"message":"no access to r007"}`)
		return true
	}
	var errs []error
	afterError := 0
	for _, err := range c.Sessions.AllOf(t.Context(), resourceIDs(30), nil) {
		if err != nil {
			errs = append(errs, err)
			continue // a careless caller: the sequence must end by itself
		}
		if len(errs) > 0 {
			afterError++
		}
	}
	var re *ResourceError
	if len(errs) != 1 || !errors.As(errs[0], &re) || re.ResourceID != "r007" || !errors.Is(errs[0], ErrForbidden) {
		t.Fatalf("errors = %v, want one *ResourceError for r007 matching ErrForbidden", errs)
	}
	if afterError != 0 {
		t.Errorf("%d sessions yielded after the error", afterError)
	}
	noSweepLeft(t, before)
}

// TestAllOfBreakCancelsAndLeavesNoGoroutine: a break mid-sweep cancels the
// requests in flight, and the sweep's goroutines are gone once the range
// loop has returned.
func TestAllOfBreakCancelsAndLeavesNoGoroutine(t *testing.T) {
	before := goleak.IgnoreCurrent()
	c, ss := newSweepServer(t, 100, 1)
	var cancelled atomic.Int32
	release := make(chan struct{})
	ss.answer = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Query().Get("resource_id") == "r000" {
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
	for _, err := range c.Sessions.AllOf(t.Context(), resourceIDs(100), nil) {
		if err != nil {
			t.Fatalf("AllOf: %v", err)
		}
		n++
		break
	}
	noSweepLeft(t, before)
	if n != 1 {
		t.Errorf("%d sessions before the break, want 1", n)
	}
	// Every request that reached the server but r000's was hanging when
	// the caller broke off; the server sees each cancelled shortly after.
	hanging := func() int32 { return int32(len(ss.requests()) - 1) }
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
}

// TestAllOfCallerCancel: cancelling the caller's context ends the sweep with
// an error that matches context.Canceled.
func TestAllOfCallerCancel(t *testing.T) {
	before := goleak.IgnoreCurrent()
	c, ss := newSweepServer(t, 50, 1)
	ss.delay = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var errs []error
	for _, err := range c.Sessions.AllOf(ctx, resourceIDs(50), nil) {
		cancel()
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
		t.Errorf("errors = %v, want one matching context.Canceled", errs)
	}
	noSweepLeft(t, before)
}

// TestAllOfBoundsWhatIsInFlight: at most 16 resources are walked at once,
// and a walker holds its page until the caller takes it: a caller that
// stops reading holds up the sweep rather than letting pages pile up.
func TestAllOfBoundsWhatIsInFlight(t *testing.T) {
	c, ss := newSweepServer(t, 64, 6)
	ss.delay = 2 * time.Millisecond
	next, stop := iter.Pull2(c.Sessions.AllOf(t.Context(), resourceIDs(64), &ListSessionsOptions{PageSize: 2}))
	defer stop()
	if _, err, ok := next(); !ok || err != nil {
		t.Fatalf("first session: %v, %v", err, ok)
	}
	// While the caller holds one session, every walker fetches its first
	// page and the one read fetches its second: wait until they have, so
	// that the check below is not passed by a slow machine, then give any
	// walker that would fetch more the time to.
	const held = maxInFlight + 1
	for deadline := time.Now().Add(5 * time.Second); len(ss.requests()) < held && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if got := len(ss.requests()); got != held {
		t.Errorf("%d pages fetched while the caller held one session, want %d: one per resource in flight, and the next of the one being read", got, held)
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
}

// TestAllOfNilContext: a nil context is a bad argument, as for every call,
// not a panic.
func TestAllOfNilContext(t *testing.T) {
	c, ss := newSweepServer(t, 2, 1)
	var errs []error
	//lint:ignore SA1012 a nil context is what is tested
	for _, err := range c.Sessions.AllOf(nil, resourceIDs(2), nil) {
		errs = append(errs, err)
	}
	if len(errs) != 1 || !errors.Is(errs[0], ErrInvalidArgument) {
		t.Errorf("AllOf(nil, ...) yielded %v, want one ErrInvalidArgument", errs)
	}
	if n := len(ss.requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}
