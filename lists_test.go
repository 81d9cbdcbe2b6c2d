package opal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// The rules of the shared pager, each one test run over every list of the
// client: the sessions of one resource, the users, the resources, and the
// access to one resource and of one user. Each runs against an opaltest
// server holding the list's items (lister.fake), unless it needs an answer
// that opaltest does not give, as Opal would not: a body that is not a page,
// an overfull or empty page, a cursor that loops, items not asked for. Those
// run against pages written by hand (newListServer).

// lister is one list of the client, seen through its items' IDs.
type lister struct {
	name  string
	path  string     // the path the server must see
	what  string     // what its errors say a page is
	query url.Values // what every request carries besides cursor and page_size
	// limitToo says that the page size goes as "limit" too.
	limitToo bool
	item     func(id string) string // the JSON of an item with this ID
	// add gives an opaltest server items with these IDs, in this order,
	// and what the list's filters need to find them.
	add func(srv *opaltest.Server, ids ...string)
	// open makes the caller's options, starting at cursor with pageSize,
	// and the three ways of reading the list with them.
	open func(c *opal.Client, cursor string, pageSize int) listCalls
}

// listCalls are a list's All, Pages and List with one set of options.
type listCalls struct {
	opts  any // the caller's options, to check that they are never modified
	all   func(context.Context) iter.Seq2[string, error]
	pages func(context.Context) iter.Seq2[*idPage, error]
	list  func(context.Context) (*idPage, error)
}

// idPage is a page of any list, reduced to its cursors and its items' IDs.
type idPage struct {
	Next, Previous string
	IDs            []string
}

// listMethods are the methods of a list with options O, items T and pages
// L, of the service S that service takes from a client, and how to read an
// item's ID and a page's parts.
type listMethods[S, O, T, L any] struct {
	service func(*opal.Client) S
	opts    func(cursor string, pageSize int) *O
	all     func(S, context.Context, *O) iter.Seq2[T, error]
	pages   func(S, context.Context, *O) iter.Seq2[*L, error]
	list    func(S, context.Context, *O) (*L, error)
	id      func(T) string
	parts   func(*L) (next, previous string, items []T)
}

// sessionsOfR1 is the sessions list of resource r1, with the methods of a
// list of the whole organisation.
type sessionsOfR1 struct{ s *opal.SessionsService }

func (x sessionsOfR1) All(ctx context.Context, o *opal.ListSessionsOptions) iter.Seq2[opal.Session, error] {
	return x.s.All(ctx, "r1", o)
}

func (x sessionsOfR1) Pages(ctx context.Context, o *opal.ListSessionsOptions) iter.Seq2[*opal.SessionsList, error] {
	return x.s.Pages(ctx, "r1", o)
}

func (x sessionsOfR1) List(ctx context.Context, o *opal.ListSessionsOptions) (*opal.SessionsList, error) {
	return x.s.List(ctx, "r1", o)
}

// accessOfR1 is the access list of resource r1, and accessOfU1 that of
// user u1, with the methods of a list of the whole organisation.
type (
	accessOfR1 struct{ s *opal.AccessService }
	accessOfU1 struct{ s *opal.AccessService }
)

func (x accessOfR1) All(ctx context.Context, o *opal.ListAccessOptions) iter.Seq2[opal.ResourceAccessUser, error] {
	return x.s.All(ctx, "r1", o)
}

func (x accessOfR1) Pages(ctx context.Context, o *opal.ListAccessOptions) iter.Seq2[*opal.ResourceAccessUserList, error] {
	return x.s.Pages(ctx, "r1", o)
}

func (x accessOfR1) List(ctx context.Context, o *opal.ListAccessOptions) (*opal.ResourceAccessUserList, error) {
	return x.s.List(ctx, "r1", o)
}

func (x accessOfU1) All(ctx context.Context, o *opal.ListUserAccessOptions) iter.Seq2[opal.ResourceAccessUser, error] {
	return x.s.AllForUser(ctx, "u1", o)
}

func (x accessOfU1) Pages(ctx context.Context, o *opal.ListUserAccessOptions) iter.Seq2[*opal.ResourceAccessUserList, error] {
	return x.s.PagesForUser(ctx, "u1", o)
}

func (x accessOfU1) List(ctx context.Context, o *opal.ListUserAccessOptions) (*opal.ResourceAccessUserList, error) {
	return x.s.ListForUser(ctx, "u1", o)
}

func (m listMethods[S, O, T, L]) open(c *opal.Client, cursor string, pageSize int) listCalls {
	service, opts := m.service(c), m.opts(cursor, pageSize)
	reduce := func(l *L) *idPage {
		if l == nil {
			return nil
		}
		p := &idPage{}
		var items []T
		p.Next, p.Previous, items = m.parts(l)
		if items != nil { // nil results stay nil, as the page has them
			p.IDs = make([]string, 0, len(items))
		}
		for _, item := range items {
			p.IDs = append(p.IDs, m.id(item))
		}
		return p
	}
	return listCalls{
		opts: opts,
		all: func(ctx context.Context) iter.Seq2[string, error] {
			// Built here, not when ranged over, so that a sequence that
			// sent something when built would be caught.
			seq := m.all(service, ctx, opts)
			return func(yield func(string, error) bool) {
				for item, err := range seq {
					if !yield(m.id(item), err) {
						return
					}
				}
			}
		},
		pages: func(ctx context.Context) iter.Seq2[*idPage, error] {
			seq := m.pages(service, ctx, opts)
			return func(yield func(*idPage, error) bool) {
				for l, err := range seq {
					if !yield(reduce(l), err) {
						return
					}
				}
			}
		},
		list: func(ctx context.Context) (*idPage, error) {
			l, err := m.list(service, ctx, opts)
			return reduce(l), err
		},
	}
}

// The methods of each list, with every filter it takes set, so that each
// test also checks that the filters go with every page.
var (
	sessionsMethods = listMethods[sessionsOfR1, opal.ListSessionsOptions, opal.Session, opal.SessionsList]{
		service: func(c *opal.Client) sessionsOfR1 { return sessionsOfR1{c.Sessions} },
		opts: func(cursor string, pageSize int) *opal.ListSessionsOptions {
			return &opal.ListSessionsOptions{UserID: "u1", Cursor: cursor, PageSize: pageSize}
		},
		all: sessionsOfR1.All, pages: sessionsOfR1.Pages, list: sessionsOfR1.List,
		id:    func(s opal.Session) string { return s.ConnectionID },
		parts: func(l *opal.SessionsList) (string, string, []opal.Session) { return l.Next, l.Previous, l.Results },
	}
	usersMethods = listMethods[*opal.UsersService, opal.ListUsersOptions, opal.User, opal.UsersList]{
		service: func(c *opal.Client) *opal.UsersService { return c.Users },
		opts: func(cursor string, pageSize int) *opal.ListUsersOptions {
			return &opal.ListUsersOptions{Cursor: cursor, PageSize: pageSize}
		},
		all: (*opal.UsersService).All, pages: (*opal.UsersService).Pages, list: (*opal.UsersService).List,
		id:    func(u opal.User) string { return u.UserID },
		parts: func(l *opal.UsersList) (string, string, []opal.User) { return l.Next, l.Previous, l.Results },
	}
	resourcesMethods = listMethods[*opal.ResourcesService, opal.ListResourcesOptions, opal.Resource, opal.ResourcesList]{
		service: func(c *opal.Client) *opal.ResourcesService { return c.Resources },
		opts: func(cursor string, pageSize int) *opal.ListResourcesOptions {
			return &opal.ListResourcesOptions{
				Cursor: cursor, PageSize: pageSize, Type: opal.ResourceTypeAWSIAMRole, Name: "AdminRole",
				ParentID: "parent", AncestorID: "ancestor",
			}
		},
		all: (*opal.ResourcesService).All, pages: (*opal.ResourcesService).Pages, list: (*opal.ResourcesService).List,
		id:    func(r opal.Resource) string { return r.ResourceID },
		parts: func(l *opal.ResourcesList) (string, string, []opal.Resource) { return l.Next, l.Previous, l.Results },
	}
	accessMethods = listMethods[accessOfR1, opal.ListAccessOptions, opal.ResourceAccessUser, opal.ResourceAccessUserList]{
		service: func(c *opal.Client) accessOfR1 { return accessOfR1{c.Access} },
		opts: func(cursor string, pageSize int) *opal.ListAccessOptions {
			return &opal.ListAccessOptions{Cursor: cursor, PageSize: pageSize}
		},
		all: accessOfR1.All, pages: accessOfR1.Pages, list: accessOfR1.List,
		id: func(a opal.ResourceAccessUser) string { return a.UserID },
		parts: func(l *opal.ResourceAccessUserList) (string, string, []opal.ResourceAccessUser) {
			return l.Next, l.Previous, l.Results
		},
	}
	userAccessMethods = listMethods[accessOfU1, opal.ListUserAccessOptions, opal.ResourceAccessUser, opal.ResourceAccessUserList]{
		service: func(c *opal.Client) accessOfU1 { return accessOfU1{c.Access} },
		opts: func(cursor string, pageSize int) *opal.ListUserAccessOptions {
			return &opal.ListUserAccessOptions{Cursor: cursor, PageSize: pageSize, IncludeUnmanaged: true}
		},
		all: accessOfU1.All, pages: accessOfU1.Pages, list: accessOfU1.List,
		id: func(a opal.ResourceAccessUser) string { return a.ResourceID },
		parts: func(l *opal.ResourceAccessUserList) (string, string, []opal.ResourceAccessUser) {
			return l.Next, l.Previous, l.Results
		},
	}
)

// listers are every list of the client.
var listers = []lister{
	{
		name:  "sessions",
		path:  "/v1/sessions",
		what:  "the page of sessions asked for",
		query: url.Values{"resource_id": {"r1"}, "user_id": {"u1"}},
		item: func(id string) string {
			return fmt.Sprintf(`{"connection_id":%q,"user_id":"u1","resource_id":"r1","expiration_date":"2030-01-01T00:00:00Z"}`, id)
		},
		add: func(srv *opaltest.Server, ids ...string) {
			for _, id := range ids {
				srv.AddSessions(opal.Session{ConnectionID: id, UserID: "u1", ResourceID: "r1"})
			}
		},
		open: sessionsMethods.open,
	},
	{
		name:  "users",
		path:  "/v1/users",
		what:  "the page of users asked for",
		query: url.Values{},
		item:  func(id string) string { return fmt.Sprintf(`{"user_id":%q,"email":"a@example.com"}`, id) },
		add: func(srv *opaltest.Server, ids ...string) {
			for _, id := range ids {
				srv.AddUsers(opal.User{UserID: id, Email: id + "@example.com"})
			}
		},
		open: usersMethods.open,
	},
	{
		name: "resources",
		path: "/v1/resources",
		what: "the page of resources asked for",
		query: url.Values{
			"resource_type_filter": {"AWS_IAM_ROLE"},
			"resource_name":        {"AdminRole"},
			"parent_resource_id":   {"parent"},
			"ancestor_resource_id": {"ancestor"},
		},
		item: func(id string) string {
			return fmt.Sprintf(`{"resource_id":%q,"resource_type":"AWS_IAM_ROLE","parent_resource_id":"parent","name":"AdminRole"}`, id)
		},
		add: func(srv *opaltest.Server, ids ...string) {
			srv.AddResources(opal.Resource{ResourceID: "parent", ParentResourceID: "ancestor"})
			for _, id := range ids {
				srv.AddResources(opal.Resource{ResourceID: id, ResourceType: opal.ResourceTypeAWSIAMRole, Name: "AdminRole", ParentResourceID: "parent"})
			}
		},
		open: resourcesMethods.open,
	},
	{
		name:     "access by resource",
		path:     "/v1/resources/r1/users",
		what:     "the page of the resource's users asked for",
		query:    url.Values{},
		limitToo: true,
		item: func(id string) string {
			return fmt.Sprintf(`{"resource_id":"r1","user_id":%q,"email":"a@example.com","expiration_date":null}`, id)
		},
		add: func(srv *opaltest.Server, ids ...string) {
			for _, id := range ids {
				srv.AddAccess(opal.ResourceAccessUser{ResourceID: "r1", UserID: id})
			}
		},
		open: accessMethods.open,
	},
	{
		name:     "access by user",
		path:     "/v1/resources/users/u1",
		what:     "the page of the user's resources asked for",
		query:    url.Values{"include_unmanaged": {"true"}},
		limitToo: true,
		item: func(id string) string {
			return fmt.Sprintf(`{"resource_id":%q,"user_id":"u1","propagation_status":{"status":"SUCCESS"}}`, id)
		},
		add: func(srv *opaltest.Server, ids ...string) {
			for _, id := range ids {
				srv.AddAccess(opal.ResourceAccessUser{ResourceID: id, UserID: "u1"})
			}
		},
		open: userAccessMethods.open,
	},
}

// pagedServer serves the pages of a list by cursor and records each
// request's query.
type pagedServer struct {
	mu      sync.Mutex
	pages   map[string]string // cursor ("" for the first page) to body
	queries []url.Values
}

// newListServer serves pages at path, in memory, and fails the test on a
// request to any other path.
func newListServer(t *testing.T, path string, pages map[string]string, opts ...opal.Option) (*opal.Client, *pagedServer) {
	t.Helper()
	mux := http.NewServeMux()
	c := inMemoryClient(t, mux.ServeHTTP, append([]opal.Option{opal.WithRetryWait(time.Millisecond, 2*time.Millisecond)}, opts...)...)
	ps := &pagedServer{pages: pages}
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		ps.mu.Lock()
		ps.queries = append(ps.queries, r.URL.Query())
		body, ok := ps.pages[r.URL.Query().Get("cursor")]
		ps.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusNotFound, `{"message":"no such page"}`)
			return
		}
		writeJSON(w, http.StatusOK, body)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request to %s, want %s", r.URL.EscapedPath(), path)
		writeJSON(w, http.StatusNotFound, `{"message":"no such endpoint"}`)
	})
	return c, ps
}

func (ps *pagedServer) requests() int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return len(ps.queries)
}

// listPage is a page body of any list: the given items, made by item, and
// next as the cursor of the following page, null for none.
func listPage(item func(string) string, next string, items ...string) string {
	var b strings.Builder
	if next == "" {
		b.WriteString(`{"next":null,"results":[`)
	} else {
		fmt.Fprintf(&b, `{"next":%q,"results":[`, next)
	}
	for i, it := range items {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(item(it))
	}
	b.WriteString("]}")
	return b.String()
}

// fake is an opaltest server holding the list's five items, a1 to a5, and
// a client of it.
func (l lister) fake(t *testing.T) (*opal.Client, *opaltest.Server) {
	t.Helper()
	srv := opaltest.NewServer()
	t.Cleanup(srv.Close)
	l.add(srv, "a1", "a2", "a3", "a4", "a5")
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

// queries are the queries of the requests srv has received, in order.
func queries(srv *opaltest.Server) []url.Values {
	var qs []url.Values
	for _, r := range srv.Requests() {
		qs = append(qs, r.URL.Query())
	}
	return qs
}

// cursorsSent are the cursors of the requests srv has received, "" for
// none, in order.
func cursorsSent(srv *opaltest.Server) []string {
	var cursors []string
	for _, q := range queries(srv) {
		cursors = append(cursors, q.Get("cursor"))
	}
	return cursors
}

// page is a page body of the list: items with the given IDs, then the
// cursor of the following page ("" for none).
func (l lister) page(next string, ids ...string) string { return listPage(l.item, next, ids...) }

// request is the query of a request of the list: its filters, with
// page_size and cursor when not empty.
func (l lister) request(pageSize, cursor string) url.Values {
	q := maps.Clone(l.query)
	if pageSize != "" {
		q.Set("page_size", pageSize)
		if l.limitToo {
			q.Set("limit", pageSize)
		}
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return q
}

// way is one of the three ways of reading a list, reduced to the IDs it gave
// and the errors it yielded, as a careless caller who goes on ranging after
// an error sees them: the sequence must stop by itself.
type way struct {
	name string
	// defaultPageSize is the page_size sent when the caller sets none.
	defaultPageSize string
	read            func(t *testing.T, ctx context.Context, calls listCalls) (ids []string, errs []error)
}

var (
	readAll = way{"All", "1000", func(t *testing.T, ctx context.Context, calls listCalls) (ids []string, errs []error) {
		for id, err := range calls.all(ctx) {
			if err != nil {
				errs = append(errs, err)
				if id != "" {
					t.Errorf("All yielded item %q with its error", id)
				}
				continue
			}
			ids = append(ids, id)
		}
		return ids, errs
	}}
	readPages = way{"Pages", "", func(t *testing.T, ctx context.Context, calls listCalls) (ids []string, errs []error) {
		for p, err := range calls.pages(ctx) {
			if err != nil {
				errs = append(errs, err)
				if p != nil {
					t.Errorf("Pages yielded page %+v with its error", p)
				}
				continue
			}
			ids = append(ids, p.IDs...)
		}
		return ids, errs
	}}
	readList = way{"List", "", func(t *testing.T, ctx context.Context, calls listCalls) (ids []string, errs []error) {
		p, err := calls.list(ctx)
		if err != nil {
			if p != nil {
				t.Errorf("List returned page %+v with its error", p)
			}
			return nil, []error{err}
		}
		return p.IDs, nil
	}}
	ways  = []way{readAll, readPages, readList}
	walks = []way{readAll, readPages} // the ways that follow cursors
)

// forEachList runs test as a subtest for every list.
func forEachList(t *testing.T, test func(t *testing.T, l lister)) {
	for _, l := range listers {
		t.Run(l.name, func(t *testing.T) { test(t, l) })
	}
}

// forEachWay runs test as a subtest for every list and every way of reading it.
func forEachWay(t *testing.T, ways []way, test func(t *testing.T, l lister, w way)) {
	forEachList(t, func(t *testing.T, l lister) {
		for _, w := range ways {
			t.Run(w.name, func(t *testing.T) { test(t, l, w) })
		}
	})
}

// wantOneError checks that errs is one error matching target.
func wantOneError(t *testing.T, errs []error, target error) {
	t.Helper()
	if len(errs) != 1 || !errors.Is(errs[0], target) {
		t.Errorf("errors = %v, want one matching %v", errs, target)
	}
}

// wantFailure checks what a read that must fail at once gave: no items,
// one error matching target, and as many requests sent as wanted.
func wantFailure(t *testing.T, ids []string, errs []error, target error, sent, want int) {
	t.Helper()
	if len(ids) != 0 {
		t.Errorf("items %v, want none", ids)
	}
	wantOneError(t, errs, target)
	if sent != want {
		t.Errorf("%d requests sent, want %d", sent, want)
	}
}

// TestListsFollowCursors: All and Pages follow each page's next cursor to
// the end, in pages of the size asked for, and List reads the page at its
// cursor; every request carries the list's filters.
func TestListsFollowCursors(t *testing.T) {
	forEachList(t, func(t *testing.T, l lister) {
		ctx := t.Context()
		c, srv := l.fake(t)
		ids, errs := readAll.read(t, ctx, l.open(c, "", 2))
		if errs != nil {
			t.Fatalf("All: %v", errs)
		}
		if diff := cmp.Diff([]string{"a1", "a2", "a3", "a4", "a5"}, ids); diff != "" {
			t.Errorf("All's items (-want +got):\n%s", diff)
		}

		var pages []*idPage
		for p, err := range l.open(c, "", 2).pages(ctx) {
			if err != nil {
				t.Fatalf("Pages: %v", err)
			}
			pages = append(pages, p)
		}
		if len(pages) != 3 || pages[0].Next == "" || pages[1].Next == "" {
			t.Fatalf("Pages yielded %+v, want three pages, the first two with a next cursor", pages)
		}
		c2, c3 := pages[0].Next, pages[1].Next
		// opaltest's previous cursor is the one that fetched the page.
		wantPages := []*idPage{
			{Next: c2, IDs: []string{"a1", "a2"}},
			{Next: c3, Previous: c2, IDs: []string{"a3", "a4"}},
			{Previous: c3, IDs: []string{"a5"}},
		}
		if diff := cmp.Diff(wantPages, pages); diff != "" {
			t.Errorf("Pages (-want +got):\n%s", diff)
		}

		page, err := l.open(c, c2, 2).list(ctx)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if diff := cmp.Diff(wantPages[1], page); diff != "" {
			t.Errorf("List at the second page's cursor (-want +got):\n%s", diff)
		}

		// Every request carries the filters, and the server's cursor.
		want := []url.Values{
			l.request("2", ""), l.request("2", c2), l.request("2", c3), // All
			l.request("2", ""), l.request("2", c2), l.request("2", c3), // Pages
			l.request("2", c2), // List
		}
		if diff := cmp.Diff(want, queries(srv)); diff != "" {
			t.Errorf("queries (-want +got):\n%s", diff)
		}
	})
}

// TestListsSendPageSize: All asks for pages of 1000 when the caller sets no
// page size, Pages and List send none; a set page size is sent by all three,
// as "limit" too where the reference declares only that.
func TestListsSendPageSize(t *testing.T) {
	forEachWay(t, ways, func(t *testing.T, l lister, w way) {
		for _, pageSize := range []int{0, 2, 7, 50, 1000} {
			want := w.defaultPageSize
			if pageSize != 0 {
				want = strconv.Itoa(pageSize)
			}
			c, srv := l.fake(t)
			if _, errs := w.read(t, t.Context(), l.open(c, "", pageSize)); errs != nil {
				t.Fatalf("PageSize %d: %v", pageSize, errs)
			}
			wantLimit := ""
			if l.limitToo {
				wantLimit = want
			}
			for _, q := range queries(srv) {
				if q.Get("page_size") != want || q.Has("page_size") != (want != "") {
					t.Errorf("PageSize %d: page_size %q sent (%v), want %q", pageSize, q.Get("page_size"), q.Has("page_size"), want)
				}
				if q.Get("limit") != wantLimit || q.Has("limit") != (wantLimit != "") {
					t.Errorf("PageSize %d: limit %q sent (%v), want %q", pageSize, q.Get("limit"), q.Has("limit"), wantLimit)
				}
			}
		}
	})
}

func TestListsSendNothingUntilRanged(t *testing.T) {
	forEachList(t, func(t *testing.T, l lister) {
		c, srv := l.fake(t)
		calls := l.open(c, "", 0)
		_ = calls.all(t.Context())
		_ = calls.pages(t.Context())
		if n := len(srv.Requests()); n != 0 {
			t.Errorf("%d requests sent before ranging, want none", n)
		}
	})
}

// secondPage is the cursor of the list's second page in pages of two, as
// srv gives it.
func (l lister) secondPage(t *testing.T, c *opal.Client) string {
	t.Helper()
	first, err := l.open(c, "", 2).list(t.Context())
	if err != nil || first.Next == "" {
		t.Fatalf("List: %+v, %v; want a page with a next cursor", first, err)
	}
	return first.Next
}

// TestListsStartOverWhenRangedAgain: one sequence, ranged twice, walks
// twice from the caller's cursor.
func TestListsStartOverWhenRangedAgain(t *testing.T) {
	forEachList(t, func(t *testing.T, l lister) {
		c, srv := l.fake(t)
		start := l.secondPage(t, c)
		calls := l.open(c, start, 2)
		all, pages := calls.all(t.Context()), calls.pages(t.Context())
		var third string
		for range 2 {
			var ids []string
			for id, err := range all {
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			if diff := cmp.Diff([]string{"a3", "a4", "a5"}, ids); diff != "" {
				t.Errorf("All's items (-want +got):\n%s", diff)
			}
			var nexts []string
			for p, err := range pages {
				if err != nil {
					t.Fatal(err)
				}
				nexts = append(nexts, p.Next)
			}
			if len(nexts) != 2 || nexts[0] == "" || nexts[1] != "" {
				t.Fatalf("Pages' next cursors %q, want one, then none", nexts)
			}
			third = nexts[0]
		}
		want := []string{"", start, third, start, third, start, third, start, third}
		if diff := cmp.Diff(want, cursorsSent(srv)); diff != "" {
			t.Errorf("cursors sent (-want +got):\n%s", diff)
		}
	})
}

// TestListsNeverModifyOptions: not the cursor as the walk goes on, not the
// page size that All asks for, nor one the caller set.
func TestListsNeverModifyOptions(t *testing.T) {
	forEachWay(t, ways, func(t *testing.T, l lister, w way) {
		for _, pageSize := range []int{0, 3} {
			c, _ := l.fake(t)
			start := l.secondPage(t, c)
			calls := l.open(c, start, pageSize)
			if _, errs := w.read(t, t.Context(), calls); errs != nil {
				t.Fatal(errs)
			}
			if diff := cmp.Diff(l.open(c, start, pageSize).opts, calls.opts); diff != "" {
				t.Errorf("PageSize %d: options changed (-want +got):\n%s", pageSize, diff)
			}
		}
	})
}

// TestListsStopAtABreak: a caller who stops after the last item of the
// first page costs one request; no page is fetched ahead.
func TestListsStopAtABreak(t *testing.T) {
	forEachList(t, func(t *testing.T, l lister) {
		c, srv := l.fake(t)
		for id, err := range l.open(c, "", 2).all(t.Context()) {
			if err != nil {
				t.Fatal(err)
			}
			if id == "a2" {
				break
			}
		}
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("All: %d requests sent, want 1", n)
		}
		for range l.open(c, "", 2).pages(t.Context()) {
			break
		}
		if n := len(srv.Requests()); n != 2 {
			t.Errorf("Pages: %d requests sent in all, want 2", n)
		}
	})
}

// TestListsYieldOneErrorThenStop: a failure after two pages ends the walk
// with the server's error, once; Pages yields it with a nil page.
func TestListsYieldOneErrorThenStop(t *testing.T) {
	forEachWay(t, walks, func(t *testing.T, l lister, w way) {
		c, srv := l.fake(t)
		srv.Inject(opaltest.Fault{}, opaltest.Fault{}, opaltest.Fault{Status: http.StatusNotFound})
		ids, errs := w.read(t, t.Context(), l.open(c, "", 2))
		if diff := cmp.Diff([]string{"a1", "a2", "a3", "a4"}, ids); diff != "" {
			t.Errorf("items (-want +got):\n%s", diff)
		}
		wantOneError(t, errs, opal.ErrNotFound)
		var apiErr *opal.APIError
		if len(errs) == 1 && (!errors.As(errs[0], &apiErr) || apiErr.StatusCode != http.StatusNotFound) {
			t.Errorf("error %v is not the server's *APIError", errs[0])
		}
		if n := len(srv.Requests()); n != 3 {
			t.Errorf("%d requests sent, want 3", n)
		}
	})
}

// TestListsGoOnPastAnEmptyPage: a page without items, empty or null, is
// not the end of the list while it has a next cursor.
func TestListsGoOnPastAnEmptyPage(t *testing.T) {
	forEachWay(t, walks, func(t *testing.T, l lister, w way) {
		c, ps := newListServer(t, l.path, map[string]string{
			"":   l.page("c2", "a1"),
			"c2": l.page("c3"),
			"c3": `{"next":"c4","results":null}`,
			"c4": l.page("", "a2"),
		})
		ids, errs := w.read(t, context.Background(), l.open(c, "", 0))
		if errs != nil {
			t.Fatal(errs)
		}
		if diff := cmp.Diff([]string{"a1", "a2"}, ids); diff != "" {
			t.Errorf("items (-want +got):\n%s", diff)
		}
		if n := ps.requests(); n != 4 {
			t.Errorf("%d requests sent, want 4", n)
		}
	})
}

// TestListsEndWhenCancelled: a context cancelled while the caller holds a
// page, or while the next page is on its way, ends the walk with one
// context.Canceled, and no further request.
func TestListsEndWhenCancelled(t *testing.T) {
	forEachList(t, func(t *testing.T, l lister) {
		t.Run("between pages", func(t *testing.T) {
			c, srv := l.fake(t)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var ids []string
			var errs []error
			for id, err := range l.open(c, "", 2).all(ctx) {
				if err != nil {
					errs = append(errs, err)
					continue
				}
				ids = append(ids, id)
				cancel()
			}
			if diff := cmp.Diff([]string{"a1", "a2"}, ids); diff != "" {
				t.Errorf("All's items (-want +got):\n%s", diff)
			}
			wantOneError(t, errs, context.Canceled)

			ctx, cancel = context.WithCancel(t.Context())
			defer cancel()
			var pages int
			errs = nil
			for _, err := range l.open(c, "", 2).pages(ctx) {
				if err != nil {
					errs = append(errs, err)
					continue
				}
				pages++
				cancel()
			}
			if pages != 1 {
				t.Errorf("Pages yielded %d pages, want 1", pages)
			}
			wantOneError(t, errs, context.Canceled)
			if n := len(srv.Requests()); n != 2 {
				t.Errorf("%d requests sent, want 2: one for each walk", n)
			}
		})
		t.Run("during a page", func(t *testing.T) {
			for _, w := range walks {
				c, srv := l.fake(t)
				// The second page is held back until the caller gives up,
				// which it does once the server has the request.
				srv.Inject(opaltest.Fault{}, opaltest.Fault{Delay: time.Hour})
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				go func() {
					for len(srv.Requests()) < 2 && ctx.Err() == nil {
						time.Sleep(time.Millisecond)
					}
					cancel()
				}()
				ids, errs := w.read(t, ctx, l.open(c, "", 2))
				if diff := cmp.Diff([]string{"a1", "a2"}, ids); diff != "" {
					t.Errorf("%s's items (-want +got):\n%s", w.name, diff)
				}
				wantOneError(t, errs, context.Canceled)
			}
		})
	})
}

// TestListsGuardAgainstCursorLoops: a page whose next cursor the walk has
// already seen, the one that fetched it and a start cursor included, is
// refused before its items are yielded, with one error that names the
// request; no item comes twice.
func TestListsGuardAgainstCursorLoops(t *testing.T) {
	forEachWay(t, walks, func(t *testing.T, l lister, w way) {
		tests := []struct {
			name  string
			start string
			pages map[string]string
			want  []string // the items yielded
			sent  int      // pages fetched, the refused one included
		}{
			{"a page points back", "", map[string]string{"": l.page("c2", "a1"), "c2": l.page("c3", "a2"), "c3": l.page("c2", "a3")}, []string{"a1", "a2"}, 3},
			{"a page points to itself", "", map[string]string{"": l.page("c2", "a1"), "c2": l.page("c2", "a2")}, []string{"a1"}, 2},
			{"back to the start cursor", "c1", map[string]string{"c1": l.page("c2", "a1"), "c2": l.page("c1", "a2")}, []string{"a1"}, 2},
			// A server that ignores the cursor answers with its first page again.
			{"the cursor is ignored", "", map[string]string{"": l.page("c2", "a1", "a2"), "c2": l.page("c2", "a1", "a2")}, []string{"a1", "a2"}, 2},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c, ps := newListServer(t, l.path, tt.pages)
				ids, errs := w.read(t, context.Background(), l.open(c, tt.start, 0))
				if diff := cmp.Diff(tt.want, ids); diff != "" {
					t.Errorf("items (-want +got):\n%s", diff)
				}
				wantOneError(t, errs, opal.ErrCursorLoop)
				want := fmt.Sprintf("opal: GET %s: server repeated a pagination cursor after %d pages", l.path, tt.sent)
				if len(errs) == 1 && errs[0].Error() != want {
					t.Errorf("error %q, want %q", errs[0], want)
				}
				if n := ps.requests(); n != tt.sent {
					t.Errorf("%d requests sent, want %d", n, tt.sent)
				}
			})
		}
	})
}

// TestListsSendCursorsVerbatim: a cursor goes back exactly as the server
// gave it, whatever its bytes, as one query parameter that can neither add
// another nor change one.
func TestListsSendCursorsVerbatim(t *testing.T) {
	odd := []string{
		"a&page_size=1&resource_id=OTHER&cursor=x",
		"a b+c=d;e",
		"%2F%00%zz",
		"#fragment?q=1",
		"../../users",
		"\\u0000\x01\x7f\n\r\t",
		"\u202eright-to-left\u200b",
		"ü€𝄞",
		strings.Repeat("é", 3000),
	}
	forEachWay(t, walks, func(t *testing.T, l lister, w way) {
		// The page at each cursor, odd[i], gives item a<i+1> and the next
		// cursor; the first page, a0 and odd[0].
		pages := map[string]string{}
		for i, cursor := range append([]string{""}, odd...) {
			next := "null"
			if i < len(odd) {
				quoted, _ := json.Marshal(odd[i])
				next = string(quoted)
			}
			pages[cursor] = fmt.Sprintf(`{"next":%s,"results":[%s]}`, next, l.item(fmt.Sprint("a", i)))
		}
		c, ps := newListServer(t, l.path, pages)
		ids, errs := w.read(t, context.Background(), l.open(c, "", 0))
		if errs != nil || len(ids) != len(odd)+1 {
			t.Fatalf("%d items, errors %v; want %d, every cursor understood", len(ids), errs, len(odd)+1)
		}
		var want []url.Values
		for _, cursor := range append([]string{""}, odd...) {
			want = append(want, l.request(w.defaultPageSize, cursor))
		}
		ps.mu.Lock()
		defer ps.mu.Unlock()
		if diff := cmp.Diff(want, ps.queries); diff != "" {
			t.Errorf("queries (-want +got):\n%s", diff)
		}
	})
}

// TestListsRefuseASuccessThatIsNotAPage: a 2xx that is not a page of the
// list, first or later in a walk, is an error that says what was wrong,
// never an empty page, and no retry can mend it. For an access review, "no
// sessions" means "nobody holds access": a gateway's {} must not say that.
func TestListsRefuseASuccessThatIsNotAPage(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"empty object", `{}`, `no "results" member`},
		{"null", `null`, "the body is null, not a JSON object"},
		{"an empty array", `[]`, "the body is an array, not a JSON object"},
		{"an array", `[{"user_id":"u1"}]`, "the body is an array, not a JSON object"},
		{"a string", `"ok"`, "the body is a string, not a JSON object"},
		{"a number", `0`, "the body is a number, not a JSON object"},
		{"a message", `{"message":"not found"}`, `no "results" member`},
		{"a gateway's error", `{"error":"upstream timed out","status":504}`, `no "results" member`},
		{"another API's page", `{"data":[],"cursor":null}`, `no "results" member`},
		{"results a string", `{"results":"none"}`, `"results" is a string, not an array`},
		{"results an object", `{"results":{}}`, `"results" is an object, not an array`},
		{"results a number", `{"results":0}`, `"results" is a number, not an array`},
		{"results twice", `{"results":[],"Results":[{"user_id":"u1"}]}`, `"results" appears twice`},
	}
	forEachWay(t, ways, func(t *testing.T, l lister, w way) {
		for _, tt := range tests {
			want := fmt.Sprintf("opal: GET %s: 200 OK response is not %s: %s", l.path, l.what, tt.want)
			t.Run(tt.name, func(t *testing.T) {
				c, ps := newListServer(t, l.path, map[string]string{"": tt.body})
				ids, errs := w.read(t, context.Background(), l.open(c, "", 0))
				wantFailure(t, ids, errs, opal.ErrInvalidResponse, ps.requests(), 1)
				if len(errs) == 1 && errs[0].Error() != want {
					t.Errorf("error %q, want %q", errs[0], want)
				}
			})
			if w.name == "List" {
				continue
			}
			t.Run(tt.name+", as the second page", func(t *testing.T) {
				c, ps := newListServer(t, l.path, map[string]string{"": l.page("c2", "a1"), "c2": tt.body})
				ids, errs := w.read(t, context.Background(), l.open(c, "", 0))
				if diff := cmp.Diff([]string{"a1"}, ids); diff != "" {
					t.Errorf("items (-want +got):\n%s", diff)
				}
				wantOneError(t, errs, opal.ErrInvalidResponse)
				if len(errs) == 1 && errs[0].Error() != want {
					t.Errorf("error %q, want %q", errs[0], want)
				}
				if n := ps.requests(); n != 2 {
					t.Errorf("%d requests sent, want 2 (no retries)", n)
				}
			})
		}
	})
}

// TestListsRefuseAnOverfullPage: a page may hold no more items than the
// page size asked for, or 1000 when none was.
func TestListsRefuseAnOverfullPage(t *testing.T) {
	ids := func(n int) []string {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprint("a", i)
		}
		return ids
	}
	tests := []struct {
		pageSize, items int
		want            string // part of the error, "" for none
	}{
		{2, 3, "more than 2 results, the page size asked for"},
		{1, 2, "more than 1 result, the page size asked for"},
		{1, 1, ""},
		{2, 2, ""},
		{0, 1001, "more than 1000 results, the page size asked for"},
		{0, 1000, ""},
	}
	forEachWay(t, ways, func(t *testing.T, l lister, w way) {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("PageSize %d, %d items", tt.pageSize, tt.items), func(t *testing.T) {
				c, ps := newListServer(t, l.path, map[string]string{"": l.page("", ids(tt.items)...)})
				got, errs := w.read(t, context.Background(), l.open(c, "", tt.pageSize))
				if tt.want == "" {
					if errs != nil || len(got) != tt.items {
						t.Errorf("got %d items and %v, want them all", len(got), errs)
					}
					return
				}
				wantFailure(t, got, errs, opal.ErrInvalidResponse, ps.requests(), 1)
				if len(errs) == 1 && !strings.Contains(errs[0].Error(), tt.want) {
					t.Errorf("error %q does not say %q", errs[0], tt.want)
				}
			})
		}
	})
}

// TestListsRejectABadPageSize: a page size outside 0..1000 is an error that
// says so, and nothing is sent.
func TestListsRejectABadPageSize(t *testing.T) {
	forEachWay(t, ways, func(t *testing.T, l lister, w way) {
		for _, pageSize := range []int{-5, -1, 1001} {
			t.Run(fmt.Sprint("PageSize ", pageSize), func(t *testing.T) {
				c, srv := l.fake(t)
				ids, errs := w.read(t, t.Context(), l.open(c, "", pageSize))
				wantFailure(t, ids, errs, opal.ErrInvalidArgument, len(srv.Requests()), 0)
				want := fmt.Sprintf("opal: invalid argument: page size %d is outside 0..1000", pageSize)
				if len(errs) == 1 && errs[0].Error() != want {
					t.Errorf("error %q, want %q", errs[0], want)
				}
			})
		}
	})
}

// TestListsRetryAnOutage: a 503 is retried, and the list comes whole.
func TestListsRetryAnOutage(t *testing.T) {
	forEachWay(t, ways, func(t *testing.T, l lister, w way) {
		c, srv := l.fake(t)
		srv.Inject(opaltest.Fault{Status: http.StatusServiceUnavailable})
		ids, errs := w.read(t, t.Context(), l.open(c, "", 0))
		if errs != nil {
			t.Fatal(errs)
		}
		if diff := cmp.Diff([]string{"a1", "a2", "a3", "a4", "a5"}, ids); diff != "" {
			t.Errorf("items (-want +got):\n%s", diff)
		}
		if n := len(srv.Requests()); n != 2 {
			t.Errorf("%d requests sent, want 2 (the 503, then the retry)", n)
		}
	})
}

// TestListsDecodeLeniently: null or absent cursors and results, and fields
// the client does not know, are fine; null results stay nil, and empty ones
// empty.
func TestListsDecodeLeniently(t *testing.T) {
	forEachList(t, func(t *testing.T, l lister) {
		// An item with a field added since, as Opal adds them.
		newer := `{"added_later":{"a":[1,null]},` + strings.TrimPrefix(l.item("a1"), "{")
		tests := []struct {
			body string
			want *idPage
		}{
			{`{"next":null,"previous":null,"results":null}`, &idPage{}},
			{`{"results":null}`, &idPage{}},
			{`{"results":[]}`, &idPage{IDs: []string{}}},
			{`{"total":1,"results":[` + newer + `],"previous":"c0","links":[]}`, &idPage{Previous: "c0", IDs: []string{"a1"}}},
		}
		for _, tt := range tests {
			c, _ := newListServer(t, l.path, map[string]string{"": tt.body})
			got, err := l.open(c, "", 0).list(context.Background())
			if err != nil {
				t.Fatalf("List of %s: %v", tt.body, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("List of %s (-want +got):\n%s", tt.body, diff)
			}
		}
	})
}

// TestListsKeepTheTokenOutOfTheLoopError: a server that echoes the
// request's Authorization header as its next cursor, over and over, ends
// the walk with a cursor-loop error, and gets the token into no error of
// its chain and no log record. Failures never print the errors, which
// would print it. (A token echoed in an error's body: TestServerEchoingTheTokenDoesNotLeakIt.)
func TestListsKeepTheTokenOutOfTheLoopError(t *testing.T) {
	forEachWay(t, walks, func(t *testing.T, l lister, w way) {
		var logs strings.Builder
		c, mux, _ := setup(t, opal.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
		mux.HandleFunc(l.path, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, l.page(r.Header.Get("Authorization"), "a1"))
		})
		_, errs := w.read(t, context.Background(), l.open(c, "", 0))
		wantOneError(t, errs, opal.ErrCursorLoop)
		if len(errs) == 1 {
			checkNoTokenInChain(t, errs[0], testToken)
		}
		if leaks(logs.String()) {
			t.Errorf("the log holds the token:\n%s", maskToken(logs.String(), testToken))
		}
	})
}

// notAskedFor is a page's item that is not what its list was asked for, or
// (ok) one that is, written differently.
type notAskedFor struct {
	name string
	item string // the item's JSON
	want string // what the error says; "" when the item is fine
	id   string // the item's ID, when it is fine
}

// TestListsRefuseItemsNotAskedFor: a page holding an item about another
// resource, user, type, ID or parent than the list was asked for, or one that does
// not say what it is about (its identifying fields, a session's expiration
// date, which the API requires), is an error matching ErrInvalidResponse,
// found before any item of that page is yielded, not retried, and naming
// the field but not the server's value. A null or empty item says nothing,
// and a misrouted answer (the page of resources asked for for the page of users asked for) does not
// say what was asked. IDs and types match in any letter case of ASCII, and
// only of ASCII.
func TestListsRefuseItemsNotAskedFor(t *testing.T) {
	sessionsOfAnyone := sessionsMethods
	sessionsOfAnyone.opts = func(cursor string, pageSize int) *opal.ListSessionsOptions {
		return &opal.ListSessionsOptions{Cursor: cursor, PageSize: pageSize}
	}
	everyResource := resourcesMethods
	everyResource.opts = func(cursor string, pageSize int) *opal.ListResourcesOptions {
		return &opal.ListResourcesOptions{Cursor: cursor, PageSize: pageSize}
	}
	resourcesByID := resourcesMethods
	resourcesByID.opts = func(cursor string, pageSize int) *opal.ListResourcesOptions {
		return &opal.ListResourcesOptions{Cursor: cursor, PageSize: pageSize, Type: opal.ResourceTypeAWSIAMRole, IDs: []string{"a1", "a2", "a3", "k9"}}
	}
	childrenOfK1 := resourcesMethods
	childrenOfK1.opts = func(cursor string, pageSize int) *opal.ListResourcesOptions {
		return &opal.ListResourcesOptions{Cursor: cursor, PageSize: pageSize, ParentID: "k1"}
	}
	// Asked for with a space after it, which a server may trim.
	namedTeam := resourcesMethods
	namedTeam.opts = func(cursor string, pageSize int) *opal.ListResourcesOptions {
		return &opal.ListResourcesOptions{Cursor: cursor, PageSize: pageSize, Name: "ÉQUIPE "}
	}
	namedCity := resourcesMethods // a capital İ lowers to i but folds to nothing
	namedCity.opts = func(cursor string, pageSize int) *opal.ListResourcesOptions {
		return &opal.ListResourcesOptions{Cursor: cursor, PageSize: pageSize, Name: "istanbul"}
	}
	namedSales := resourcesMethods // in Greek, whose sigma has two lower cases
	namedSales.opts = func(cursor string, pageSize int) *opal.ListResourcesOptions {
		return &opal.ListResourcesOptions{Cursor: cursor, PageSize: pageSize, Name: "πωλησεις"}
	}
	const in2030 = `"expiration_date":"2030-01-01T00:00:00Z"`
	session := func(id string) string {
		return fmt.Sprintf(`{"connection_id":%q,"user_id":"u1","resource_id":"r1",%s}`, id, in2030)
	}
	resource := func(id string) string { return fmt.Sprintf(`{"resource_id":%q,"resource_type":"AWS_IAM_ROLE"}`, id) }
	tests := []struct {
		name  string
		path  string
		open  func(c *opal.Client, cursor string, pageSize int) listCalls
		item  func(id string) string // an item that is what was asked for
		cases []notAskedFor
	}{
		{
			name: "sessions", path: "/v1/sessions", open: sessionsMethods.open, // of r1, user u1
			item: session,
			cases: []notAskedFor{
				{name: "another resource", item: `{"connection_id":"a4","user_id":"u1","resource_id":"OTHER-r9",` + in2030 + `}`, want: `results[1]: its "resource_id" is not the one asked for`},
				{name: "another user", item: `{"connection_id":"a4","user_id":"OTHER-u9","resource_id":"r1",` + in2030 + `}`, want: `results[1]: its "user_id" is not the one asked for`},
				{name: "no resource", item: `{"connection_id":"a4","user_id":"u1",` + in2030 + `}`, want: `results[1]: no "resource_id"`},
				{name: "no user", item: `{"connection_id":"a4","resource_id":"r1","user_id":null,` + in2030 + `}`, want: `results[1]: no "user_id"`},
				// Else it would read as a session that ended in the year 1.
				{name: "no expiration date", item: `{"connection_id":"a4","user_id":"u1","resource_id":"r1"}`, want: `results[1]: no "expiration_date"`},
				{name: "a null expiration date", item: `{"connection_id":"a4","user_id":"u1","resource_id":"r1","expiration_date":null}`, want: `results[1]: no "expiration_date"`},
				// Of a key given twice, the last value is read, as for any field.
				{name: "an expiration date, then null", item: `{"connection_id":"a4","user_id":"u1","resource_id":"r1",` + in2030 + `,"expiration_date":null}`, want: `results[1]: no "expiration_date"`},
				{name: "null, then an expiration date", item: `{"connection_id":"a4","user_id":"u1","resource_id":"r1","expiration_date":null,` + in2030 + `}`, id: "a4"},
				{name: "a null item", item: `null`, want: `results[1]: no "resource_id"`},
				{name: "an empty item", item: `{}`, want: `results[1]: no "resource_id"`},
				{name: "upper-case IDs", item: `{"connection_id":"a4","user_id":"U1","resource_id":"R1",` + in2030 + `}`, id: "a4"},
			},
		},
		{
			name: "sessions of any user", path: "/v1/sessions", open: sessionsOfAnyone.open, // of r1
			item: session,
			cases: []notAskedFor{
				{name: "no user", item: `{"connection_id":"a4","resource_id":"r1",` + in2030 + `}`, want: `results[1]: no "user_id"`},
				{name: "another user", item: `{"connection_id":"a4","user_id":"u9","resource_id":"r1",` + in2030 + `}`, id: "a4"},
			},
		},
		{
			name: "users", path: "/v1/users", open: usersMethods.open,
			item: func(id string) string { return fmt.Sprintf(`{"user_id":%q,"email":"a@example.com"}`, id) },
			cases: []notAskedFor{
				{name: "no ID", item: `{"email":"OTHER@example.com"}`, want: `results[1]: no "user_id"`},
				{name: "a null item", item: `null`, want: `results[1]: no "user_id"`},
				{name: "a resource", item: resource("OTHER-r9"), want: `results[1]: no "user_id"`},
			},
		},
		{
			name: "every resource", path: "/v1/resources", open: everyResource.open,
			item: resource,
			cases: []notAskedFor{
				{name: "no ID", item: `{"name":"OTHER"}`, want: `results[1]: no "resource_id"`},
				{name: "a null item", item: `null`, want: `results[1]: no "resource_id"`},
				{name: "a user", item: `{"user_id":"OTHER-u9","email":"a@example.com"}`, want: `results[1]: no "resource_id"`},
				{name: "any type", item: `{"resource_id":"a4","resource_type":"GCP_PROJECT"}`, id: "a4"},
			},
		},
		{
			name: "resources", path: "/v1/resources", open: resourcesByID.open, // AWS_IAM_ROLE, IDs a1 a2 a3 k9
			item: resource,
			cases: []notAskedFor{
				{name: "an ID not asked for", item: `{"resource_id":"OTHER-x8","resource_type":"AWS_IAM_ROLE"}`, want: `results[1]: its "resource_id" is not one of the IDs asked for`},
				{name: "another type", item: `{"resource_id":"k9","resource_type":"GCP_PROJECT"}`, want: `results[1]: its "resource_type" is not the one asked for`},
				{name: "no type", item: `{"resource_id":"k9"}`, want: `results[1]: no "resource_type"`},
				{name: "no ID", item: `{"resource_type":"AWS_IAM_ROLE"}`, want: `results[1]: no "resource_id"`},
				{name: "upper-case ID, lower-case type", item: `{"resource_id":"K9","resource_type":"aws_iam_role"}`, id: "K9"},
				// Letter case is that of ASCII only: a Kelvin sign or a long s
				// makes another ID.
				{name: "a look-alike of an ID", item: `{"resource_id":"\u212A9","resource_type":"AWS_IAM_ROLE"}`, want: `results[1]: its "resource_id" is not one of the IDs asked for`},
				{name: "a look-alike of the type", item: `{"resource_id":"k9","resource_type":"AW\u017F_IAM_ROLE"}`, want: `results[1]: its "resource_type" is not the one asked for`},
			},
		},
		{
			// A server that dropped the filter answers with every resource:
			// children of other parents, and top-level ones, with no parent.
			name: "children of a resource", path: "/v1/resources", open: childrenOfK1.open,
			item: func(id string) string { return fmt.Sprintf(`{"resource_id":%q,"parent_resource_id":"k1"}`, id) },
			cases: []notAskedFor{
				{name: "a child of another parent", item: `{"resource_id":"c1","parent_resource_id":"OTHER-p2"}`, want: `results[1]: its "parent_resource_id" is not the one asked for`},
				{name: "no parent", item: `{"resource_id":"c1"}`, want: `results[1]: no "parent_resource_id"`},
				{name: "a null parent", item: `{"resource_id":"c1","parent_resource_id":null}`, want: `results[1]: no "parent_resource_id"`},
				{name: "an empty parent", item: `{"resource_id":"c1","parent_resource_id":""}`, want: `results[1]: no "parent_resource_id"`},
				{name: "upper-case parent", item: `{"resource_id":"c1","parent_resource_id":"K1"}`, id: "c1"},
				{name: "a look-alike of the parent", item: `{"resource_id":"c1","parent_resource_id":"\u212A1"}`, want: `results[1]: its "parent_resource_id" is not the one asked for`},
			},
		},
		{
			// Whether Opal matches a name exactly or as a search, a resource
			// it answers with holds the name asked for, without the white
			// space around it, in any letter case of Unicode (as
			// strings.EqualFold takes letters): a name identifies nothing,
			// and a search that ignores case folds every letter. A letter
			// that folds to no other, as the dotless ı (U+0131), is another
			// name.
			name: "resources by name", path: "/v1/resources", open: namedTeam.open,
			item: func(id string) string { return fmt.Sprintf(`{"resource_id":%q,"name":"Équipe"}`, id) },
			cases: []notAskedFor{
				{name: "another name", item: `{"resource_id":"a4","name":"OTHER-Reader"}`, want: `results[1]: its "name" does not hold the name asked for`},
				{name: "no name", item: `{"resource_id":"a4"}`, want: `results[1]: no "name"`},
				{name: "a null name", item: `{"resource_id":"a4","name":null}`, want: `results[1]: no "name"`},
				{name: "the name in a longer one, in another letter case", item: `{"resource_id":"a4","name":"prod-équipe-role"}`, id: "a4"},
				{name: "the name in another letter case, in JSON's escapes", item: `{"resource_id":"a4","name":"\u00e9QUIPE"}`, id: "a4"},
				{name: "a name whose i lowers to no i", item: `{"resource_id":"a4","name":"\u00C9QU\u0131PE"}`, want: `results[1]: its "name" does not hold the name asked for`},
				{name: "the name without its accent", item: `{"resource_id":"a4","name":"EQUIPE"}`, want: `results[1]: its "name" does not hold the name asked for`},
			},
		},
		{
			name: "resources by a name with an i", path: "/v1/resources", open: namedCity.open,
			item: func(id string) string { return fmt.Sprintf(`{"resource_id":%q,"name":"istanbul"}`, id) },
			cases: []notAskedFor{
				{name: "with a dotted capital I", item: `{"resource_id":"a4","name":"İSTANBUL Office"}`, id: "a4"},
				{name: "with a dotless i", item: `{"resource_id":"a4","name":"ıstanbul"}`, want: `results[1]: its "name" does not hold the name asked for`},
			},
		},
		{
			name: "resources by a Greek name", path: "/v1/resources", open: namedSales.open,
			item: func(id string) string { return fmt.Sprintf(`{"resource_id":%q,"name":"πωλησεις"}`, id) },
			cases: []notAskedFor{
				// A capital sigma lowers to σ, never to the final ς.
				{name: "in capitals", item: `{"resource_id":"a4","name":"ΠΩΛΗΣΕΙΣ"}`, id: "a4"},
				{name: "with a final sigma, in a longer name", item: `{"resource_id":"a4","name":"prod-πωλησεις-eu"}`, id: "a4"},
				{name: "another Greek name", item: `{"resource_id":"a4","name":"λογαριασμος"}`, want: `results[1]: its "name" does not hold the name asked for`},
			},
		},
		{
			name: "access by resource", path: "/v1/resources/r1/users", open: accessMethods.open,
			item: func(id string) string { return fmt.Sprintf(`{"resource_id":"r1","user_id":%q}`, id) },
			cases: []notAskedFor{
				{name: "another resource", item: `{"resource_id":"OTHER-r9","user_id":"a4"}`, want: `results[1]: its "resource_id" is not the one asked for`},
				{name: "no resource", item: `{"resource_id":"","user_id":"a4"}`, want: `results[1]: no "resource_id"`},
				{name: "no user", item: `{"resource_id":"r1","email":"OTHER@example.com"}`, want: `results[1]: no "user_id"`},
				{name: "a resource", item: `{"resource_id":"r1","name":"OTHER","resource_type":"AWS_IAM_ROLE"}`, want: `results[1]: no "user_id"`},
				{name: "a null item", item: `null`, want: `results[1]: no "resource_id"`},
				{name: "upper-case ID", item: `{"resource_id":"R1","user_id":"a4"}`, id: "a4"},
			},
		},
		{
			name: "access by user", path: "/v1/resources/users/u1", open: userAccessMethods.open,
			item: func(id string) string { return fmt.Sprintf(`{"resource_id":%q,"user_id":"u1"}`, id) },
			cases: []notAskedFor{
				{name: "another user", item: `{"resource_id":"a4","user_id":"OTHER-u9"}`, want: `results[1]: its "user_id" is not the one asked for`},
				{name: "no user", item: `{"resource_id":"a4"}`, want: `results[1]: no "user_id"`},
				{name: "no resource", item: `{"user_id":"u1","email":"a@example.com"}`, want: `results[1]: no "resource_id"`},
				{name: "upper-case ID", item: `{"resource_id":"a4","user_id":"U1"}`, id: "a4"},
			},
		},
	}
	for _, list := range tests {
		for _, tt := range list.cases {
			// The second page holds a good item, then this one.
			pages := map[string]string{
				"":   listPage(list.item, "c2", "a1", "a2"),
				"c2": strings.Replace(listPage(list.item, "", "a3", "a4"), list.item("a4"), tt.item, 1),
			}
			for _, w := range ways {
				t.Run(list.name+"/"+tt.name+"/"+w.name, func(t *testing.T) {
					c, ps := newListServer(t, list.path, pages)
					start, requests := "", 2 // List reads the page in question
					if w.name == "List" {
						start, requests = "c2", 1
					}
					ids, errs := w.read(t, context.Background(), list.open(c, start, 0))
					var want []string
					if w.name != "List" {
						want = []string{"a1", "a2"}
					}
					if tt.want == "" {
						want = append(want, "a3", tt.id)
						if errs != nil {
							t.Errorf("errors %v, want none", errs)
						}
					} else {
						wantOneError(t, errs, opal.ErrInvalidResponse)
						if len(errs) == 1 && (!strings.Contains(errs[0].Error(), tt.want) || strings.Contains(errs[0].Error(), "OTHER")) {
							t.Errorf("error %q does not say %q, or quotes the server's value", errs[0], tt.want)
						}
					}
					if diff := cmp.Diff(want, ids); diff != "" {
						t.Errorf("items (-want +got):\n%s", diff)
					}
					if n := ps.requests(); n != requests {
						t.Errorf("%d requests, want %d (no retries)", n, requests)
					}
				})
			}
		}
	}
}
