package opal_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
	"go.uber.org/goleak"
)

// The rules of AllOf, each one test run over every AllOf of the client, on
// an opaltest server unless the test needs an answer it does not give. (Its
// bound on what is in flight: allof_internal_test.go.)

// row is an item of any sweep, reduced to its resource and user.
type row struct{ resource, user string }

// sweepOf is one AllOf of the client, seen through its items' rows.
type sweepOf struct {
	name string
	// path is what errors say was requested for resource id.
	path func(id string) string
	// add gives an opaltest server rows of this list.
	add   func(srv *opaltest.Server, rows ...row)
	allOf func(c *opal.Client, ctx context.Context, ids []string, cursor string, pageSize int) iter.Seq2[row, error]
}

// sweeps are every AllOf of the client.
var sweeps = []sweepOf{
	{
		name: "Sessions",
		path: func(string) string { return "/v1/sessions" },
		add: func(srv *opaltest.Server, rows ...row) {
			for _, r := range rows {
				srv.AddSessions(opal.Session{ResourceID: r.resource, UserID: r.user})
			}
		},
		allOf: func(c *opal.Client, ctx context.Context, ids []string, cursor string, pageSize int) iter.Seq2[row, error] {
			return rows(c.Sessions.AllOf(ctx, ids, &opal.ListSessionsOptions{Cursor: cursor, PageSize: pageSize}),
				func(s opal.Session) row { return row{s.ResourceID, s.UserID} })
		},
	},
	{
		name: "Access",
		path: func(id string) string { return "/v1/resources/" + id + "/users" },
		add: func(srv *opaltest.Server, rows ...row) {
			for _, r := range rows {
				srv.AddAccess(opal.ResourceAccessUser{ResourceID: r.resource, UserID: r.user})
			}
		},
		allOf: func(c *opal.Client, ctx context.Context, ids []string, cursor string, pageSize int) iter.Seq2[row, error] {
			return rows(c.Access.AllOf(ctx, ids, &opal.ListAccessOptions{Cursor: cursor, PageSize: pageSize}),
				func(a opal.ResourceAccessUser) row { return row{a.ResourceID, a.UserID} })
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

// fake is an opaltest server holding the rows of the resources r000, r001,
// ..., perResource each, and a client of it; want is the users of each
// resource's rows, in order.
func (sw sweepOf) fake(t *testing.T, resources, perResource int) (c *opal.Client, srv *opaltest.Server, want map[string][]string) {
	t.Helper()
	srv = opaltest.NewServer()
	t.Cleanup(srv.Close)
	want = map[string][]string{}
	for _, id := range resourceIDs(resources) {
		for i := range perResource {
			user := fmt.Sprintf("%s-u%02d", id, i)
			sw.add(srv, row{id, user})
			want[id] = append(want[id], user)
		}
	}
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	return c, srv, want
}

// askedAbout is the resource a request of a sweep asks about, in its query
// or its path.
func askedAbout(r *http.Request) string {
	if id := r.URL.Query().Get("resource_id"); id != "" {
		return id
	}
	id, _ := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(r.URL.EscapedPath(), "/v1/resources/"), "/users"))
	return id
}

// resourcesAskedAbout are the resources of the requests srv has received,
// sorted.
func resourcesAskedAbout(srv *opaltest.Server) []string {
	var ids []string
	for _, r := range srv.Requests() {
		ids = append(ids, askedAbout(r))
	}
	slices.Sort(ids)
	return ids
}

// serveSweep is a client of a server that answers each request of either
// sweep as answer says for its resource.
func serveSweep(t *testing.T, answer func(w http.ResponseWriter, resource string), opts ...opal.Option) *opal.Client {
	t.Helper()
	c, mux, _ := setup(t, opts...)
	handler := func(w http.ResponseWriter, r *http.Request) { answer(w, askedAbout(r)) }
	mux.HandleFunc("GET /v1/sessions", handler)
	mux.HandleFunc("GET /v1/resources/{resource}/users", handler)
	return c
}

// twoRows is the one page of a resource's rows, for either sweep.
func twoRows(w http.ResponseWriter, resource string) {
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{"results":[{"user_id":"u1","resource_id":%q,"expiration_date":"2030-01-01T00:00:00Z"},{"user_id":"u2","resource_id":%q,"expiration_date":"2030-01-01T00:00:00Z"}]}`, resource, resource))
}

// TestAllOfDeliversEveryItemOnceInPageOrder: 40 resources of 7 rows in
// pages of 3; pages of different resources may interleave, but each
// resource's rows come in order and each page's stay together.
func TestAllOfDeliversEveryItemOnceInPageOrder(t *testing.T) {
	forEachSweep(t, func(t *testing.T, sw sweepOf) {
		before := goleak.IgnoreCurrent()
		c, srv, want := sw.fake(t, 40, 7)
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
		if diff := cmp.Diff(want, byResource); diff != "" {
			t.Errorf("rows by resource, in order (-want +got):\n%s", diff)
		}
		if n := len(srv.Requests()); n != 40*3 {
			t.Errorf("%d requests, want %d (3 pages for each of 40 resources)", n, 40*3)
		}
		noSweepLeft(t, before)
	})
}

// TestAllOfIsLazyAndRestartable: a sweep sends nothing until it is ranged
// over, and ranging it again walks every resource again.
func TestAllOfIsLazyAndRestartable(t *testing.T) {
	forEachSweep(t, func(t *testing.T, sw sweepOf) {
		c, srv, want := sw.fake(t, 3, 2)
		seq := sw.allOf(c, t.Context(), resourceIDs(3), "", 0)
		if n := len(srv.Requests()); n != 0 {
			t.Fatalf("%d requests sent before ranging, want none", n)
		}
		for walk := 1; walk <= 2; walk++ {
			got := map[string][]string{}
			for r, err := range seq {
				if err != nil {
					t.Fatal(err)
				}
				got[r.resource] = append(got[r.resource], r.user)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("walk %d (-want +got):\n%s", walk, diff)
			}
			if n := len(srv.Requests()); n != 3*walk {
				t.Errorf("%d requests after %d walks of 3 resources, want %d", n, walk, 3*walk)
			}
		}
	})
}

// TestAllOfQueries: every resource is asked for as All asks: pages of 1000
// unless PageSize says otherwise, with the caller's filters; the caller's
// options are never modified.
func TestAllOfQueries(t *testing.T) {
	sessions := func(o *opal.ListSessionsOptions) func(*opal.Client) iter.Seq2[row, error] {
		return func(c *opal.Client) iter.Seq2[row, error] {
			return rows(c.Sessions.AllOf(t.Context(), resourceIDs(3), o), func(s opal.Session) row { return row{s.ResourceID, s.UserID} })
		}
	}
	access := func(o *opal.ListAccessOptions) func(*opal.Client) iter.Seq2[row, error] {
		return func(c *opal.Client) iter.Seq2[row, error] {
			return rows(c.Access.AllOf(t.Context(), resourceIDs(3), o), func(a opal.ResourceAccessUser) row { return row{a.ResourceID, a.UserID} })
		}
	}
	sessionsPage, accessPage := &opal.ListSessionsOptions{PageSize: 50}, &opal.ListAccessOptions{PageSize: 50}
	user := &opal.ListSessionsOptions{UserID: "r001-u00"}
	tests := []struct {
		name  string
		sweep string // the sweep whose server it needs
		opts  any    // the caller's options
		call  func(*opal.Client) iter.Seq2[row, error]
		want  url.Values
	}{
		{"Sessions, nil options", "Sessions", nil, sessions(nil), url.Values{"page_size": {"1000"}}},
		{"Sessions, page size", "Sessions", sessionsPage, sessions(sessionsPage), url.Values{"page_size": {"50"}}},
		{"Sessions, user", "Sessions", user, sessions(user), url.Values{"page_size": {"1000"}, "user_id": {"r001-u00"}}},
		{"Access, nil options", "Access", nil, access(nil), url.Values{"page_size": {"1000"}, "limit": {"1000"}}},
		{"Access, page size", "Access", accessPage, access(accessPage), url.Values{"page_size": {"50"}, "limit": {"50"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sw := sweeps[slices.IndexFunc(sweeps, func(sw sweepOf) bool { return sw.name == tt.sweep })]
			c, srv, _ := sw.fake(t, 3, 1)
			before := fmt.Sprintf("%#v", tt.opts)
			for _, err := range tt.call(c) {
				if err != nil {
					t.Fatalf("AllOf: %v", err)
				}
			}
			for _, r := range srv.Requests() {
				q := r.URL.Query()
				q.Del("resource_id")
				if diff := cmp.Diff(tt.want, q); diff != "" {
					t.Errorf("query (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(resourceIDs(3), resourcesAskedAbout(srv)); diff != "" {
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
// repeated ID, in any ASCII letter case, is walked once.
func TestAllOfArguments(t *testing.T) {
	tests := []struct {
		name         string
		ids          []string
		cursor       string
		pageSize     int
		wantErr      string // the error, "" for none
		wantRequests []string
		only         string   // the sweep the case is about, "" for both
		held         []string // resources the server holds besides r000 and r001
	}{
		{name: "empty list"},
		{name: "empty ID", ids: []string{"r000", ""}, wantErr: "opal: invalid argument: empty resource ID (resourceIDs[1])"},
		{name: "a cursor", ids: []string{"r000"}, cursor: "r000:1", wantErr: "opal: invalid argument: AllOf takes no Cursor: a cursor belongs to one resource"},
		{name: "page size too large", ids: []string{"r000"}, pageSize: 1001, wantErr: "opal: invalid argument: page size 1001 is outside 0..1000"},
		{name: "negative page size", ids: nil, pageSize: -1, wantErr: "opal: invalid argument: page size -1 is outside 0..1000"},
		{name: "repeated IDs", ids: []string{"r001", "r000", "r001", "r000"}, wantRequests: []string{"r000", "r001"}},
		// IDs are compared in any letter case of ASCII, as a page's items
		// are, and only of ASCII: a Kelvin sign for k makes another ID.
		{name: "repeated IDs in another letter case", ids: []string{"r001", "R001", "r000"}, wantRequests: []string{"r000", "r001"}},
		{name: "IDs alike beyond ASCII letter case", ids: []string{"k1", "\u212A1", "K1"}, held: []string{"k1", "\u212A1"}, wantRequests: []string{"k1", "\u212A1"}},
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
				c, srv, _ := sw.fake(t, 2, 1)
				for _, id := range tt.held {
					sw.add(srv, row{id, "u"})
				}
				var errs []string
				for _, err := range sw.allOf(c, t.Context(), tt.ids, tt.cursor, tt.pageSize) {
					if err != nil {
						if !errors.Is(err, opal.ErrInvalidArgument) {
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
				if diff := cmp.Diff(tt.wantRequests, resourcesAskedAbout(srv)); diff != "" {
					t.Errorf("resources asked for (-want +got):\n%s", diff)
				}
				noSweepLeft(t, before)
			})
		}
	})
}

// TestAllOfGoesOnAfterANotFound: a resource deleted since it was listed
// yields its 404 as a *ResourceError, and the sweep goes on. (opaltest lists
// no sessions, rather than a 404, for a resource it does not hold.)
func TestAllOfGoesOnAfterANotFound(t *testing.T) {
	forEachSweep(t, func(t *testing.T, sw sweepOf) {
		c := serveSweep(t, func(w http.ResponseWriter, resource string) {
			if strings.HasPrefix(resource, "gone-") {
				writeJSON(w, http.StatusNotFound, `{"message":"resource not found"}`)
				return
			}
			twoRows(w, resource)
		})
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
			var re *opal.ResourceError
			var apiErr *opal.APIError
			if !errors.As(err, &re) || !errors.Is(err, opal.ErrNotFound) || !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
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

// TestAllOfEndsOnOtherErrors: any other error, a 403, a page about another
// resource or a cursor that loops, is yielded once, as a *ResourceError, and
// ends the sweep: no more rows, no goroutine left.
func TestAllOfEndsOnOtherErrors(t *testing.T) {
	tests := []struct {
		name   string
		answer func(w http.ResponseWriter)
		want   error
	}{
		{"forbidden", func(w http.ResponseWriter) { writeJSON(w, http.StatusForbidden, `{"message":"no access to r007"}`) }, opal.ErrForbidden},
		{"a page of another resource", func(w http.ResponseWriter) {
			writeJSON(w, http.StatusOK, `{"results":[{"user_id":"u","resource_id":"r008","expiration_date":"2030-01-01T00:00:00Z"}]}`)
		}, opal.ErrInvalidResponse},
		{"a cursor that loops", func(w http.ResponseWriter) {
			writeJSON(w, http.StatusOK, `{"next":"c1","results":[{"user_id":"u","resource_id":"r007","expiration_date":"2030-01-01T00:00:00Z"}]}`)
		}, opal.ErrCursorLoop},
	}
	forEachSweep(t, func(t *testing.T, sw sweepOf) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := goleak.IgnoreCurrent()
				c := serveSweep(t, func(w http.ResponseWriter, resource string) {
					if resource == "r007" {
						tt.answer(w)
						return
					}
					twoRows(w, resource)
				}, opal.WithRetryMax(0))
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
				var re *opal.ResourceError
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

// TestAllOfCallerCancel: cancelling the caller's context ends the sweep with
// an error that matches context.Canceled.
func TestAllOfCallerCancel(t *testing.T) {
	forEachSweep(t, func(t *testing.T, sw sweepOf) {
		before := goleak.IgnoreCurrent()
		c, srv, _ := sw.fake(t, 50, 1)
		srv.SetLatency(20 * time.Millisecond)
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

// TestAllOfNilContext: a nil context is a bad argument, as for every call,
// not a panic.
func TestAllOfNilContext(t *testing.T) {
	forEachSweep(t, func(t *testing.T, sw sweepOf) {
		c, srv, _ := sw.fake(t, 2, 1)
		var errs []error
		for _, err := range sw.allOf(c, nil, resourceIDs(2), "", 0) {
			errs = append(errs, err)
		}
		if len(errs) != 1 || !errors.Is(errs[0], opal.ErrInvalidArgument) {
			t.Errorf("AllOf(nil, ...) yielded %v, want one ErrInvalidArgument", errs)
		}
		if n := len(srv.Requests()); n != 0 {
			t.Errorf("%d requests sent, want none", n)
		}
	})
}
