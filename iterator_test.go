package opal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// pagedServer serves the pages of a list by cursor and records each
// request's query.
type pagedServer struct {
	mu      sync.Mutex
	pages   map[string]string // cursor ("" for the first page) to body
	fail    []int             // statuses to answer first, one request each
	queries []url.Values
}

// newPagedServer serves the pages of a resource's sessions.
func newPagedServer(t *testing.T, pages map[string]string, opts ...Option) (*Client, *pagedServer) {
	t.Helper()
	return newListServer(t, "/v1/sessions", pages, opts...)
}

// newListServer serves pages at path, and fails the test on a request to
// any other path.
func newListServer(t *testing.T, path string, pages map[string]string, opts ...Option) (*Client, *pagedServer) {
	t.Helper()
	c, mux, _ := setup(t, opts...)
	ps := &pagedServer{pages: pages}
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		ps.mu.Lock()
		ps.queries = append(ps.queries, r.URL.Query())
		body, ok := ps.pages[r.URL.Query().Get("cursor")]
		status := http.StatusOK
		if len(ps.fail) > 0 {
			status, ps.fail = ps.fail[0], ps.fail[1:]
		}
		ps.mu.Unlock()
		switch {
		case status != http.StatusOK:
			writeJSON(w, status, `{"message":"try again"}`)
		case !ok:
			writeJSON(w, http.StatusNotFound, `{"message":"no such page"}`)
		default:
			writeJSON(w, http.StatusOK, body)
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request to %s, want %s", r.URL.EscapedPath(), path)
		writeJSON(w, http.StatusNotFound, `{"message":"no such endpoint"}`)
	})
	return c, ps
}

func (ps *pagedServer) cursors() []string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	cursors := []string{}
	for _, q := range ps.queries {
		cursors = append(cursors, q.Get("cursor"))
	}
	return cursors
}

func (ps *pagedServer) requests() int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return len(ps.queries)
}

// pageBody is a page body with sessions for the given users.
func pageBody(next string, users ...string) string {
	return listPage(func(u string) string {
		return fmt.Sprintf(`{"user_id":%q,"resource_id":"r1"}`, u)
	}, next, users...)
}

// listPage is a page body of any list: the given items, made by item, and
// next as the cursor of the following page, null for none.
func listPage(item func(string) string, next string, items ...string) string {
	body := `{"next":` + fmt.Sprintf("%q", next)
	if next == "" {
		body = `{"next":null`
	}
	body += `,"results":[`
	for i, it := range items {
		if i > 0 {
			body += ","
		}
		body += item(it)
	}
	return body + "]}"
}

var threePages = map[string]string{
	"":   pageBody("c2", "u1", "u2"),
	"c2": pageBody("c3", "u3"),
	"c3": pageBody("", "u4", "u5"),
}

// collect ranges over seq like a caller who checks errors, returning the
// user IDs and the errors seen.
func collect(seq func(func(Session, error) bool)) (users []string, errs []error) {
	for s, err := range seq {
		if err != nil {
			errs = append(errs, err)
			continue // a careless caller: the sequence must stop by itself
		}
		users = append(users, s.UserID)
	}
	return users, errs
}

func TestAllFollowsCursors(t *testing.T) {
	c, ps := newPagedServer(t, threePages)
	users, errs := collect(c.Sessions.All(context.Background(), "r1", nil))
	if errs != nil {
		t.Fatalf("errors: %v", errs)
	}
	if diff := cmp.Diff([]string{"u1", "u2", "u3", "u4", "u5"}, users); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
	// Every request carries the same filters; later ones the server's cursor.
	want := []url.Values{
		{"resource_id": {"r1"}, "page_size": {"1000"}},
		{"resource_id": {"r1"}, "page_size": {"1000"}, "cursor": {"c2"}},
		{"resource_id": {"r1"}, "page_size": {"1000"}, "cursor": {"c3"}},
	}
	if diff := cmp.Diff(want, ps.queries); diff != "" {
		t.Errorf("queries (-want +got):\n%s", diff)
	}
}

func TestPageSizeSent(t *testing.T) {
	tests := []struct {
		name     string
		pages    bool // Pages rather than All
		pageSize int
		want     string // page_size sent, "" for none
	}{
		{"All asks for the maximum by default", false, 0, "1000"},
		{"All keeps the caller's size", false, 50, "50"},
		{"Pages sends none by default", true, 0, ""},
		{"Pages keeps the caller's size", true, 7, "7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ps := newPagedServer(t, threePages)
			opts := &ListSessionsOptions{PageSize: tt.pageSize}
			if tt.pages {
				for _, err := range c.Sessions.Pages(context.Background(), "r1", opts) {
					if err != nil {
						t.Fatal(err)
					}
				}
			} else {
				for _, err := range c.Sessions.All(context.Background(), "r1", opts) {
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, q := range ps.queries {
				if got := q.Get("page_size"); got != tt.want || q.Has("page_size") != (tt.want != "") {
					t.Errorf("page_size = %q (sent: %v), want %q", got, q.Has("page_size"), tt.want)
				}
			}
		})
	}
}

func TestPagesYieldsEachPage(t *testing.T) {
	c, _ := newPagedServer(t, threePages)
	var got []SessionsList
	for p, err := range c.Sessions.Pages(context.Background(), "r1", nil) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, *p)
	}
	want := []SessionsList{
		{Next: "c2", Results: []Session{{UserID: "u1", ResourceID: "r1"}, {UserID: "u2", ResourceID: "r1"}}},
		{Next: "c3", Results: []Session{{UserID: "u3", ResourceID: "r1"}}},
		{Results: []Session{{UserID: "u4", ResourceID: "r1"}, {UserID: "u5", ResourceID: "r1"}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
}

func TestEmptyPageWithANextCursorIsNotTheEnd(t *testing.T) {
	c, _ := newPagedServer(t, map[string]string{
		"":   pageBody("c2", "u1"),
		"c2": pageBody("c3"),
		"c3": `{"next":"c4","results":null}`,
		"c4": pageBody("", "u2"),
	})
	users, errs := collect(c.Sessions.All(context.Background(), "r1", nil))
	if errs != nil {
		t.Fatalf("errors: %v", errs)
	}
	if diff := cmp.Diff([]string{"u1", "u2"}, users); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
}

func TestBuildingASequenceSendsNothing(t *testing.T) {
	c, ps := newPagedServer(t, threePages)
	_ = c.Sessions.All(context.Background(), "r1", nil)
	_ = c.Sessions.Pages(context.Background(), "r1", nil)
	if n := ps.requests(); n != 0 {
		t.Errorf("%d requests sent before ranging, want none", n)
	}
}

func TestEarlyBreakStopsAtOnce(t *testing.T) {
	c, ps := newPagedServer(t, threePages)
	for s, err := range c.Sessions.All(context.Background(), "r1", nil) {
		if err != nil {
			t.Fatal(err)
		}
		if s.UserID == "u2" { // the last session of the first page
			break
		}
	}
	if n := ps.requests(); n != 1 {
		t.Errorf("%d requests sent, want 1", n)
	}
	for range c.Sessions.Pages(context.Background(), "r1", nil) {
		break
	}
	if n := ps.requests(); n != 2 {
		t.Errorf("%d requests sent in all, want 2", n)
	}
}

func TestErrorMidwayIsYieldedOnceAndEnds(t *testing.T) {
	c, ps := newPagedServer(t, map[string]string{
		"":   pageBody("c2", "u1", "u2"),
		"c2": pageBody("gone", "u3"),
		// "gone" is not served: 404
	})
	users, errs := collect(c.Sessions.All(context.Background(), "r1", nil))
	if diff := cmp.Diff([]string{"u1", "u2", "u3"}, users); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
	if len(errs) != 1 || !errors.Is(errs[0], ErrNotFound) {
		t.Fatalf("errors = %v, want one matching ErrNotFound", errs)
	}
	var apiErr *APIError
	if !errors.As(errs[0], &apiErr) || apiErr.StatusCode != http.StatusNotFound {
		t.Errorf("error %v does not keep its *APIError", errs[0])
	}
	if n := ps.requests(); n != 3 {
		t.Errorf("%d requests sent, want 3", n)
	}

	// Pages yields a nil page with the error.
	var pagesSeen, errsSeen int
	for p, err := range c.Sessions.Pages(context.Background(), "r1", nil) {
		if err != nil {
			errsSeen++
			if p != nil {
				t.Errorf("page %+v yielded with error", p)
			}
			continue
		}
		pagesSeen++
	}
	if pagesSeen != 2 || errsSeen != 1 {
		t.Errorf("Pages yielded %d pages and %d errors, want 2 and 1", pagesSeen, errsSeen)
	}
}

// TestLoopGuardKeepsNoCursor: the loop guard remembers each cursor of a
// walk by a fixed-size fingerprint. A server whose cursors are 1 MiB long
// would otherwise grow the heap by 1 MiB a page: over 32 pages, the live
// heap grows by less than a quarter of that.
func TestLoopGuardKeepsNoCursor(t *testing.T) {
	const pages, cursorLen = 32, 1 << 20
	pad := strings.Repeat("x", cursorLen)
	cursor := func(i int) string { return fmt.Sprintf("c%d-%s", i, pad) }
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.MaxHeaderBytes = 4 * cursorLen // the cursor comes back in the query
	srv.Start()
	t.Cleanup(srv.Close)
	mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		i := 0
		if c := r.URL.Query().Get("cursor"); c != "" {
			fmt.Sscanf(c, "c%d-", &i)
		}
		next := "null"
		if i+1 < pages {
			next = strconv.Quote(cursor(i + 1))
		}
		writeJSON(w, http.StatusOK, fmt.Sprintf(`{"next":%s,"results":[{"connection_id":"s%d","resource_id":"r1","user_id":"u1"}]}`, next, i))
	})
	c, err := NewClient(testToken, WithBaseURL(srv.URL+"/v1"), WithRateLimit(0))
	if err != nil {
		t.Fatal(err)
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	var early, late uint64
	n := 0
	for _, err := range c.Sessions.All(context.Background(), "r1", nil) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		switch n {
		case 2:
			early = heap()
		case pages:
			late = heap()
		}
	}
	if n != pages {
		t.Fatalf("%d sessions, want %d", n, pages)
	}
	t.Logf("live heap after 2 pages: %d KiB; after %d: %d KiB", early>>10, pages, late>>10)
	if growth := int64(late) - int64(early); growth > (pages-2)*cursorLen/4 {
		t.Errorf("live heap grew by %d KiB over %d pages of %d KiB cursors", growth>>10, pages-2, cursorLen>>10)
	}
}

func TestStartCursorAndRerangingAndOptsUnchanged(t *testing.T) {
	c, ps := newPagedServer(t, threePages)
	opts := &ListSessionsOptions{Cursor: "c2", PageSize: 3}
	before := *opts
	seq := c.Sessions.All(context.Background(), "r1", opts)
	for range 2 {
		users, errs := collect(seq)
		if errs != nil {
			t.Fatal(errs)
		}
		if diff := cmp.Diff([]string{"u3", "u4", "u5"}, users); diff != "" {
			t.Errorf("users (-want +got):\n%s", diff)
		}
	}
	for range c.Sessions.Pages(context.Background(), "r1", opts) {
	}
	if diff := cmp.Diff([]string{"c2", "c3", "c2", "c3", "c2", "c3"}, ps.cursors()); diff != "" {
		t.Errorf("cursors sent (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, *opts); diff != "" {
		t.Errorf("opts changed (-want +got):\n%s", diff)
	}
}

func TestCancellationEndsTheWalk(t *testing.T) {
	t.Run("between pages", func(t *testing.T) {
		c, ps := newPagedServer(t, threePages)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var users []string
		var errs []error
		for s, err := range c.Sessions.All(ctx, "r1", nil) {
			if err != nil {
				errs = append(errs, err)
				continue
			}
			users = append(users, s.UserID)
			cancel()
		}
		if diff := cmp.Diff([]string{"u1", "u2"}, users); diff != "" {
			t.Errorf("users (-want +got):\n%s", diff)
		}
		if len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
			t.Errorf("errors = %v, want one context.Canceled", errs)
		}
		if n := ps.requests(); n != 1 {
			t.Errorf("%d requests sent, want 1", n)
		}
	})
	t.Run("during a page", func(t *testing.T) {
		c, mux, _ := setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("cursor") == "" {
				writeJSON(w, http.StatusOK, pageBody("c2", "u1"))
				return
			}
			cancel()
			<-r.Context().Done()
		})
		users, errs := collect(c.Sessions.All(ctx, "r1", nil))
		if diff := cmp.Diff([]string{"u1"}, users); diff != "" {
			t.Errorf("users (-want +got):\n%s", diff)
		}
		if len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
			t.Errorf("errors = %v, want one context.Canceled", errs)
		}
	})
}

func TestIteratorsRejectBadArguments(t *testing.T) {
	tests := []struct {
		name       string
		resourceID string
		opts       *ListSessionsOptions
	}{
		{"empty resource ID", "", nil},
		{"page size above 1000", "r1", &ListSessionsOptions{PageSize: 1001}},
		{"negative page size", "r1", &ListSessionsOptions{PageSize: -5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ps := newPagedServer(t, threePages)
			users, errs := collect(c.Sessions.All(context.Background(), tt.resourceID, tt.opts))
			if len(users) != 0 || len(errs) != 1 || !errors.Is(errs[0], ErrInvalidArgument) {
				t.Errorf("All yielded %v and %v, want one ErrInvalidArgument", users, errs)
			}
			var pageErrs []error
			for _, err := range c.Sessions.Pages(context.Background(), tt.resourceID, tt.opts) {
				pageErrs = append(pageErrs, err)
			}
			if len(pageErrs) != 1 || !errors.Is(pageErrs[0], ErrInvalidArgument) {
				t.Errorf("Pages yielded %v, want one ErrInvalidArgument", pageErrs)
			}
			if n := ps.requests(); n != 0 {
				t.Errorf("%d requests sent, want none", n)
			}
		})
	}
}
