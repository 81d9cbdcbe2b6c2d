package opal

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// The sweep's bound on what is in flight, tested on the fake clock, against
// a server in memory: the walkers' every wait is on that clock, so that the
// test can wait until each has done all it would do.

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
	mux := http.NewServeMux()
	c := inMemoryClient(t, mux.ServeHTTP, opts...)
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
		items = append(items, fmt.Sprintf(`{"user_id":%q,"resource_id":%q,"expiration_date":"2030-01-01T00:00:00Z"}`, u, resource))
	}
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{"next":%s,"results":[%s]}`, next, strings.Join(items, ",")))
}

func (ss *sweepServer) sent() []sweepRequest {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return slices.Clone(ss.requests)
}

// TestAllOfBreakCancelsAndLeavesNoGoroutine: a break mid-sweep cancels the
// requests in flight, and the sweep's goroutines are gone once the range
// loop has returned.
// TestAllOfBreakCancelsAndLeavesNoGoroutine: a break mid-sweep cancels the
// requests in flight, and the sweep's goroutines are gone once the range
// loop has returned.
func TestAllOfBreakCancelsAndLeavesNoGoroutine(t *testing.T) {
	t.Run("Sessions", func(t *testing.T) { testBreakCancels(t, sessionsOf) })
	t.Run("Access", func(t *testing.T) { testBreakCancels(t, accessOf) })
}

func testBreakCancels[T any](t *testing.T, allOf func(c *Client, ctx context.Context, ids []string, pageSize int) iter.Seq2[T, error]) {
	synctest.Test(t, func(t *testing.T) {
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
		for _, err := range allOf(c, t.Context(), resourceIDs(100), 0) {
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
		// Every request but r000's was hanging when the caller broke off,
		// and each was cancelled before the range loop returned.
		hanging := int32(len(ss.sent()) - 1)
		if got := cancelled.Load(); got != hanging {
			t.Errorf("%d requests cancelled, want the %d in flight", got, hanging)
		}
		if n := hanging + 1; n > maxInFlight+1 {
			t.Errorf("%d requests sent, want at most %d", n, maxInFlight+1)
		}
	})
}

// TestAllOfBoundsWhatIsInFlight: at most 16 resources are walked at once,
// and a walker holds its page until the caller takes it: a caller that
// stops reading holds up the sweep rather than letting pages pile up.
func TestAllOfBoundsWhatIsInFlight(t *testing.T) {
	t.Run("Sessions", func(t *testing.T) { testBoundsInFlight(t, sessionsOf) })
	t.Run("Access", func(t *testing.T) { testBoundsInFlight(t, accessOf) })
}

func testBoundsInFlight[T any](t *testing.T, allOf func(c *Client, ctx context.Context, ids []string, pageSize int) iter.Seq2[T, error]) {
	synctest.Test(t, func(t *testing.T) {
		c, ss := newSweepServer(t, 64, 6)
		ss.delay = 2 * time.Millisecond
		next, stop := iter.Pull2(allOf(c, t.Context(), resourceIDs(64), 2))
		defer stop()
		if _, err, ok := next(); !ok || err != nil {
			t.Fatalf("first row: %v, %v", err, ok)
		}
		// While the caller holds one row, every walker fetches its first
		// page and the one read fetches its second: on the fake clock, a
		// second is time for all of that, and for any walker that would
		// fetch more to do so, before each waits for the caller.
		time.Sleep(time.Second)
		synctest.Wait()
		if got, want := len(ss.sent()), maxInFlight+1; got != want {
			t.Errorf("%d pages fetched while the caller held one row, want %d: one per resource in flight, and the next of the one being read", got, want)
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

// sessionsOf and accessOf are the two AllOfs.
func sessionsOf(c *Client, ctx context.Context, ids []string, pageSize int) iter.Seq2[Session, error] {
	return c.Sessions.AllOf(ctx, ids, &ListSessionsOptions{PageSize: pageSize})
}

func accessOf(c *Client, ctx context.Context, ids []string, pageSize int) iter.Seq2[ResourceAccessUser, error] {
	return c.Access.AllOf(ctx, ids, &ListAccessOptions{PageSize: pageSize})
}
