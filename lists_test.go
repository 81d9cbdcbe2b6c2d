package opal

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The rules of the shared pager, each one test run over every list of the
// client: the sessions of one resource, the users, the resources, and the
// access to one resource and of one user.

// lister is one list of the client, seen through its items' IDs.
type lister struct {
	name  string
	path  string     // the path the server must see
	query url.Values // what every request carries besides cursor and page_size
	// limitToo says that the page size goes as "limit" too.
	limitToo bool
	item     func(id string) string // the JSON of an item with this ID
	// open makes the caller's options, starting at cursor with pageSize,
	// and the three ways of reading the list with them.
	open func(c *Client, cursor string, pageSize int) listCalls
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
	service func(*Client) S
	opts    func(cursor string, pageSize int) *O
	all     func(S, context.Context, *O) iter.Seq2[T, error]
	pages   func(S, context.Context, *O) iter.Seq2[*L, error]
	list    func(S, context.Context, *O) (*L, error)
	id      func(T) string
	parts   func(*L) (next, previous string, items []T)
}

// sessionsOfR1 is the sessions list of resource r1, with the methods of a
// list of the whole organisation.
type sessionsOfR1 struct{ s *SessionsService }

func (x sessionsOfR1) All(ctx context.Context, o *ListSessionsOptions) iter.Seq2[Session, error] {
	return x.s.All(ctx, "r1", o)
}

func (x sessionsOfR1) Pages(ctx context.Context, o *ListSessionsOptions) iter.Seq2[*SessionsList, error] {
	return x.s.Pages(ctx, "r1", o)
}

func (x sessionsOfR1) List(ctx context.Context, o *ListSessionsOptions) (*SessionsList, error) {
	return x.s.List(ctx, "r1", o)
}

// accessOfR1 is the access list of resource r1, and accessOfU1 that of
// user u1, with the methods of a list of the whole organisation.
type (
	accessOfR1 struct{ s *AccessService }
	accessOfU1 struct{ s *AccessService }
)

func (x accessOfR1) All(ctx context.Context, o *ListAccessOptions) iter.Seq2[ResourceAccessUser, error] {
	return x.s.All(ctx, "r1", o)
}

func (x accessOfR1) Pages(ctx context.Context, o *ListAccessOptions) iter.Seq2[*ResourceAccessUserList, error] {
	return x.s.Pages(ctx, "r1", o)
}

func (x accessOfR1) List(ctx context.Context, o *ListAccessOptions) (*ResourceAccessUserList, error) {
	return x.s.List(ctx, "r1", o)
}

func (x accessOfU1) All(ctx context.Context, o *ListUserAccessOptions) iter.Seq2[ResourceAccessUser, error] {
	return x.s.AllForUser(ctx, "u1", o)
}

func (x accessOfU1) Pages(ctx context.Context, o *ListUserAccessOptions) iter.Seq2[*ResourceAccessUserList, error] {
	return x.s.PagesForUser(ctx, "u1", o)
}

func (x accessOfU1) List(ctx context.Context, o *ListUserAccessOptions) (*ResourceAccessUserList, error) {
	return x.s.ListForUser(ctx, "u1", o)
}

func (m listMethods[S, O, T, L]) open(c *Client, cursor string, pageSize int) listCalls {
	service, opts := m.service(c), m.opts(cursor, pageSize)
	reduce := func(l *L) *idPage {
		if l == nil {
			return nil
		}
		p := &idPage{IDs: []string{}}
		var items []T
		p.Next, p.Previous, items = m.parts(l)
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
	sessionsMethods = listMethods[sessionsOfR1, ListSessionsOptions, Session, SessionsList]{
		service: func(c *Client) sessionsOfR1 { return sessionsOfR1{c.Sessions} },
		opts: func(cursor string, pageSize int) *ListSessionsOptions {
			return &ListSessionsOptions{UserID: "u1", Cursor: cursor, PageSize: pageSize}
		},
		all: sessionsOfR1.All, pages: sessionsOfR1.Pages, list: sessionsOfR1.List,
		id:    func(s Session) string { return s.ConnectionID },
		parts: func(l *SessionsList) (string, string, []Session) { return l.Next, l.Previous, l.Results },
	}
	usersMethods = listMethods[*UsersService, ListUsersOptions, User, UsersList]{
		service: func(c *Client) *UsersService { return c.Users },
		opts: func(cursor string, pageSize int) *ListUsersOptions {
			return &ListUsersOptions{Cursor: cursor, PageSize: pageSize}
		},
		all: (*UsersService).All, pages: (*UsersService).Pages, list: (*UsersService).List,
		id:    func(u User) string { return u.UserID },
		parts: func(l *UsersList) (string, string, []User) { return l.Next, l.Previous, l.Results },
	}
	resourcesMethods = listMethods[*ResourcesService, ListResourcesOptions, Resource, ResourcesList]{
		service: func(c *Client) *ResourcesService { return c.Resources },
		opts: func(cursor string, pageSize int) *ListResourcesOptions {
			return &ListResourcesOptions{
				Cursor: cursor, PageSize: pageSize, Type: ResourceTypeAWSIAMRole, Name: "AdminRole",
				ParentID: "p1", AncestorID: "a1",
			}
		},
		all: (*ResourcesService).All, pages: (*ResourcesService).Pages, list: (*ResourcesService).List,
		id:    func(r Resource) string { return r.ResourceID },
		parts: func(l *ResourcesList) (string, string, []Resource) { return l.Next, l.Previous, l.Results },
	}
	accessMethods = listMethods[accessOfR1, ListAccessOptions, ResourceAccessUser, ResourceAccessUserList]{
		service: func(c *Client) accessOfR1 { return accessOfR1{c.Access} },
		opts: func(cursor string, pageSize int) *ListAccessOptions {
			return &ListAccessOptions{Cursor: cursor, PageSize: pageSize}
		},
		all: accessOfR1.All, pages: accessOfR1.Pages, list: accessOfR1.List,
		id: func(a ResourceAccessUser) string { return a.UserID },
		parts: func(l *ResourceAccessUserList) (string, string, []ResourceAccessUser) {
			return l.Next, l.Previous, l.Results
		},
	}
	userAccessMethods = listMethods[accessOfU1, ListUserAccessOptions, ResourceAccessUser, ResourceAccessUserList]{
		service: func(c *Client) accessOfU1 { return accessOfU1{c.Access} },
		opts: func(cursor string, pageSize int) *ListUserAccessOptions {
			return &ListUserAccessOptions{Cursor: cursor, PageSize: pageSize, IncludeUnmanaged: true}
		},
		all: accessOfU1.All, pages: accessOfU1.Pages, list: accessOfU1.List,
		id: func(a ResourceAccessUser) string { return a.ResourceID },
		parts: func(l *ResourceAccessUserList) (string, string, []ResourceAccessUser) {
			return l.Next, l.Previous, l.Results
		},
	}
)

// listers are every list of the client.
var listers = []lister{
	{
		name:  "sessions",
		path:  "/v1/sessions",
		query: url.Values{"resource_id": {"r1"}, "user_id": {"u1"}},
		item: func(id string) string {
			return fmt.Sprintf(`{"connection_id":%q,"user_id":"u1","resource_id":"r1"}`, id)
		},
		open: sessionsMethods.open,
	},
	{
		name:  "users",
		path:  "/v1/users",
		query: url.Values{},
		item:  func(id string) string { return fmt.Sprintf(`{"user_id":%q,"email":"a@example.com"}`, id) },
		open:  usersMethods.open,
	},
	{
		name: "resources",
		path: "/v1/resources",
		query: url.Values{
			"resource_type_filter": {"AWS_IAM_ROLE"},
			"resource_name":        {"AdminRole"},
			"parent_resource_id":   {"p1"},
			"ancestor_resource_id": {"a1"},
		},
		item: func(id string) string { return fmt.Sprintf(`{"resource_id":%q,"resource_type":"AWS_IAM_ROLE"}`, id) },
		open: resourcesMethods.open,
	},
	{
		name:     "access by resource",
		path:     "/v1/resources/r1/users",
		query:    url.Values{},
		limitToo: true,
		item: func(id string) string {
			return fmt.Sprintf(`{"resource_id":"r1","user_id":%q,"email":"a@example.com","expiration_date":null}`, id)
		},
		open: accessMethods.open,
	},
	{
		name:     "access by user",
		path:     "/v1/resources/users/u1",
		query:    url.Values{"include_unmanaged": {"true"}},
		limitToo: true,
		item: func(id string) string {
			return fmt.Sprintf(`{"resource_id":%q,"user_id":"u1","propagation_status":{"status":"SUCCESS"}}`, id)
		},
		open: userAccessMethods.open,
	},
}

// page is a page body of the list: items with the given IDs, then the
// cursor of the following page ("" for none).
func (l lister) page(next string, ids ...string) string { return listPage(l.item, next, ids...) }

// threePages are three pages of five items, by cursor.
func (l lister) threePages() map[string]string {
	return map[string]string{
		"":   l.page("c2", "a1", "a2"),
		"c2": l.page("c3", "a3"),
		"c3": l.page("", "a4", "a5"),
	}
}

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
// one error matching target, and requests sent to ps in all.
func wantFailure(t *testing.T, ids []string, errs []error, target error, ps *pagedServer, requests int) {
	t.Helper()
	if len(ids) != 0 {
		t.Errorf("items %v, want none", ids)
	}
	wantOneError(t, errs, target)
	if n := ps.requests(); n != requests {
		t.Errorf("%d requests sent, want %d", n, requests)
	}
}

func TestListsFollowCursors(t *testing.T) {
	forEachList(t, func(t *testing.T, l lister) {
		ctx := context.Background()
		c, ps := newListServer(t, l.path, l.threePages())
		ids, errs := readAll.read(t, ctx, l.open(c, "", 0))
		if errs != nil {
			t.Fatalf("All: %v", errs)
		}
		if diff := cmp.Diff([]string{"a1", "a2", "a3", "a4", "a5"}, ids); diff != "" {
			t.Errorf("All's items (-want +got):\n%s", diff)
		}

		var pages []*idPage
		for p, err := range l.open(c, "", 0).pages(ctx) {
			if err != nil {
				t.Fatalf("Pages: %v", err)
			}
			pages = append(pages, p)
		}
		wantPages := []*idPage{
			{Next: "c2", IDs: []string{"a1", "a2"}},
			{Next: "c3", IDs: []string{"a3"}},
			{IDs: []string{"a4", "a5"}},
		}
		if diff := cmp.Diff(wantPages, pages); diff != "" {
			t.Errorf("Pages (-want +got):\n%s", diff)
		}

		page, err := l.open(c, "c2", 0).list(ctx)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if diff := cmp.Diff(wantPages[1], page); diff != "" {
			t.Errorf("List at c2 (-want +got):\n%s", diff)
		}

		// Every request carries the filters, and the server's cursor.
		want := []url.Values{
			l.request("1000", ""), l.request("1000", "c2"), l.request("1000", "c3"), // All
			l.request("", ""), l.request("", "c2"), l.request("", "c3"), // Pages
			l.request("", "c2"), // List
		}
		if diff := cmp.Diff(want, ps.queries); diff != "" {
			t.Errorf("queries (-want +got):\n%s", diff)
		}
	})
}

// TestListsSendPageSize: All asks for pages of 1000 when the caller sets no
// page size, Pages and List send none; a set page size is sent by all three,
// as "limit" too where the reference declares only that.
func TestListsSendPageSize(t *testing.T) {
	forEachWay(t, ways, func(t *testing.T, l lister, w way) {
		for _, pageSize := range []int{0, 2, 1000} {
			want := w.defaultPageSize
			if pageSize != 0 {
				want = strconv.Itoa(pageSize)
			}
			c, ps := newListServer(t, l.path, l.threePages())
			if _, errs := w.read(t, context.Background(), l.open(c, "", pageSize)); errs != nil {
				t.Fatalf("PageSize %d: %v", pageSize, errs)
			}
			wantLimit := ""
			if l.limitToo {
				wantLimit = want
			}
			for _, q := range ps.queries {
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
		c, ps := newListServer(t, l.path, l.threePages())
		calls := l.open(c, "", 0)
		_ = calls.all(context.Background())
		_ = calls.pages(context.Background())
		if n := ps.requests(); n != 0 {
			t.Errorf("%d requests sent before ranging, want none", n)
		}
	})
}

// TestListsStartOverWhenRangedAgain: one sequence, ranged twice, walks
// twice from the caller's cursor.
func TestListsStartOverWhenRangedAgain(t *testing.T) {
	forEachList(t, func(t *testing.T, l lister) {
		c, ps := newListServer(t, l.path, l.threePages())
		calls := l.open(c, "c2", 0)
		all, pages := calls.all(context.Background()), calls.pages(context.Background())
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
			if diff := cmp.Diff([]string{"c3", ""}, nexts); diff != "" {
				t.Errorf("Pages' next cursors (-want +got):\n%s", diff)
			}
		}
		if diff := cmp.Diff([]string{"c2", "c3", "c2", "c3", "c2", "c3", "c2", "c3"}, ps.cursors()); diff != "" {
			t.Errorf("cursors sent (-want +got):\n%s", diff)
		}
	})
}

// TestListsNeverModifyOptions: not the cursor as the walk goes on, not the
// page size that All asks for.
func TestListsNeverModifyOptions(t *testing.T) {
	forEachWay(t, ways, func(t *testing.T, l lister, w way) {
		c, _ := newListServer(t, l.path, l.threePages())
		calls := l.open(c, "c2", 0)
		if _, errs := w.read(t, context.Background(), calls); errs != nil {
			t.Fatal(errs)
		}
		if diff := cmp.Diff(l.open(c, "c2", 0).opts, calls.opts); diff != "" {
			t.Errorf("options changed (-want +got):\n%s", diff)
		}
	})
}

// TestListsStopAtABreak: a caller who stops after the last item of the
// first page costs one request; no page is fetched ahead.
func TestListsStopAtABreak(t *testing.T) {
	forEachList(t, func(t *testing.T, l lister) {
		c, ps := newListServer(t, l.path, l.threePages())
		for id, err := range l.open(c, "", 0).all(context.Background()) {
			if err != nil {
				t.Fatal(err)
			}
			if id == "a2" {
				break
			}
		}
		if n := ps.requests(); n != 1 {
			t.Errorf("All: %d requests sent, want 1", n)
		}
		for range l.open(c, "", 0).pages(context.Background()) {
			break
		}
		if n := ps.requests(); n != 2 {
			t.Errorf("Pages: %d requests sent in all, want 2", n)
		}
	})
}

// TestListsYieldOneErrorThenStop: a failure after two pages ends the walk
// with the server's error, once; Pages yields it with a nil page.
func TestListsYieldOneErrorThenStop(t *testing.T) {
	forEachWay(t, walks, func(t *testing.T, l lister, w way) {
		c, ps := newListServer(t, l.path, map[string]string{
			"":   l.page("c2", "a1", "a2"),
			"c2": l.page("gone", "a3"),
			// "gone" is not served: 404
		})
		ids, errs := w.read(t, context.Background(), l.open(c, "", 0))
		if diff := cmp.Diff([]string{"a1", "a2", "a3"}, ids); diff != "" {
			t.Errorf("items (-want +got):\n%s", diff)
		}
		wantOneError(t, errs, ErrNotFound)
		var apiErr *APIError
		if len(errs) == 1 && (!errors.As(errs[0], &apiErr) || apiErr.StatusCode != http.StatusNotFound) {
			t.Errorf("error %v is not the server's *APIError", errs[0])
		}
		if n := ps.requests(); n != 3 {
			t.Errorf("%d requests sent, want 3", n)
		}
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
				wantOneError(t, errs, ErrCursorLoop)
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

// TestListsRefuseASuccessThatIsNotAPage: a 2xx without "results" is an
// error, never an empty page, and is not retried.
func TestListsRefuseASuccessThatIsNotAPage(t *testing.T) {
	bodies := []string{`{}`, `null`, `[]`, `{"message":"not found"}`, `{"results":{}}`, `{"data":[],"cursor":null}`}
	forEachWay(t, ways, func(t *testing.T, l lister, w way) {
		for _, body := range bodies {
			t.Run(body, func(t *testing.T) {
				c, ps := newListServer(t, l.path, map[string]string{"": body})
				ids, errs := w.read(t, context.Background(), l.open(c, "", 0))
				wantFailure(t, ids, errs, ErrInvalidResponse, ps, 1)
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
		{2, 3, "more than 2 results"},
		{2, 2, ""},
		{0, 1001, "more than 1000 results"},
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
				wantFailure(t, got, errs, ErrInvalidResponse, ps, 1)
				if len(errs) == 1 && !strings.Contains(errs[0].Error(), tt.want) {
					t.Errorf("error %q does not say %q", errs[0], tt.want)
				}
			})
		}
	})
}

func TestListsRejectABadPageSize(t *testing.T) {
	forEachWay(t, ways, func(t *testing.T, l lister, w way) {
		for _, pageSize := range []int{-1, 1001} {
			t.Run(fmt.Sprint("PageSize ", pageSize), func(t *testing.T) {
				c, ps := newListServer(t, l.path, l.threePages())
				ids, errs := w.read(t, context.Background(), l.open(c, "", pageSize))
				wantFailure(t, ids, errs, ErrInvalidArgument, ps, 0)
			})
		}
	})
}

func TestListsRetryAnOutage(t *testing.T) {
	forEachWay(t, ways, func(t *testing.T, l lister, w way) {
		c, ps := newListServer(t, l.path, map[string]string{"": l.page("", "a1")})
		ps.fail = []int{http.StatusServiceUnavailable}
		ids, errs := w.read(t, context.Background(), l.open(c, "", 0))
		if errs != nil {
			t.Fatal(errs)
		}
		if diff := cmp.Diff([]string{"a1"}, ids); diff != "" {
			t.Errorf("items (-want +got):\n%s", diff)
		}
		if n := ps.requests(); n != 2 {
			t.Errorf("%d requests sent, want 2 (the 503, then the retry)", n)
		}
	})
}

// TestListsDecodeLeniently: null or absent cursors and results, and fields
// the client does not know, are fine.
func TestListsDecodeLeniently(t *testing.T) {
	forEachList(t, func(t *testing.T, l lister) {
		// An item with a field added since, as Opal adds them.
		newer := `{"added_later":{"a":[1,null]},` + strings.TrimPrefix(l.item("a1"), "{")
		tests := []struct {
			body string
			want *idPage
		}{
			{`{"next":null,"previous":null,"results":null}`, &idPage{IDs: []string{}}},
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

// TestListsKeepTheTokenOutOfErrors: a server that echoes the request's
// Authorization header into an error body or a cursor does not get the token
// into an error. Failures never print the errors, which would print it.
func TestListsKeepTheTokenOutOfErrors(t *testing.T) {
	forEachWay(t, walks, func(t *testing.T, l lister, w way) {
		for _, status := range []int{http.StatusOK, http.StatusBadRequest} {
			c, mux, _ := setup(t)
			mux.HandleFunc(l.path, func(w http.ResponseWriter, r *http.Request) {
				auth := r.Header.Get("Authorization")
				if status != http.StatusOK {
					writeJSON(w, status, fmt.Sprintf(`{"message":"bad token %s"}`, auth))
					return
				}
				writeJSON(w, status, l.page(auth, "a1")) // a cursor that loops
			})
			_, errs := w.read(t, context.Background(), l.open(c, "", 0))
			if len(errs) != 1 {
				t.Fatalf("status %d: %d errors, want 1", status, len(errs))
			}
			checkNoTokenInChain(t, errs[0], testToken)
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
// resource, user, type or ID than the list was asked for is an error
// matching ErrInvalidResponse, found before any item of that page is
// yielded, not retried, and naming the field but not the server's value.
// IDs and types match in any letter case.
func TestListsRefuseItemsNotAskedFor(t *testing.T) {
	resourcesByID := resourcesMethods
	resourcesByID.opts = func(cursor string, pageSize int) *ListResourcesOptions {
		return &ListResourcesOptions{Cursor: cursor, PageSize: pageSize, Type: ResourceTypeAWSIAMRole, IDs: []string{"a1", "a2", "a3", "x9"}}
	}
	tests := []struct {
		name  string
		path  string
		open  func(c *Client, cursor string, pageSize int) listCalls
		item  func(id string) string // an item that is what was asked for
		cases []notAskedFor
	}{
		{
			name: "sessions", path: "/v1/sessions", open: sessionsMethods.open, // of r1, user u1
			item: func(id string) string {
				return fmt.Sprintf(`{"connection_id":%q,"user_id":"u1","resource_id":"r1"}`, id)
			},
			cases: []notAskedFor{
				{name: "another resource", item: `{"connection_id":"a4","user_id":"u1","resource_id":"OTHER-r9"}`, want: `results[1]: its "resource_id" is not the one asked for`},
				{name: "another user", item: `{"connection_id":"a4","user_id":"OTHER-u9","resource_id":"r1"}`, want: `results[1]: its "user_id" is not the one asked for`},
				{name: "no resource", item: `{"connection_id":"a4","user_id":"u1"}`, want: `results[1]: no "resource_id"`},
				{name: "no user", item: `{"connection_id":"a4","resource_id":"r1","user_id":null}`, want: `results[1]: no "user_id"`},
				{name: "upper-case IDs", item: `{"connection_id":"a4","user_id":"U1","resource_id":"R1"}`, id: "a4"},
			},
		},
		{
			name: "resources", path: "/v1/resources", open: resourcesByID.open, // AWS_IAM_ROLE, IDs a1 a2 a3 x9
			item: func(id string) string { return fmt.Sprintf(`{"resource_id":%q,"resource_type":"AWS_IAM_ROLE"}`, id) },
			cases: []notAskedFor{
				{name: "an ID not asked for", item: `{"resource_id":"OTHER-x8","resource_type":"AWS_IAM_ROLE"}`, want: `results[1]: its "resource_id" is not one of the IDs asked for`},
				{name: "another type", item: `{"resource_id":"x9","resource_type":"GCP_PROJECT"}`, want: `results[1]: its "resource_type" is not the one asked for`},
				{name: "no type", item: `{"resource_id":"x9"}`, want: `results[1]: no "resource_type"`},
				{name: "no ID", item: `{"resource_type":"AWS_IAM_ROLE"}`, want: `results[1]: no "resource_id"`},
				{name: "upper-case ID, lower-case type", item: `{"resource_id":"X9","resource_type":"aws_iam_role"}`, id: "X9"},
			},
		},
		{
			name: "access by resource", path: "/v1/resources/r1/users", open: accessMethods.open,
			item: func(id string) string { return fmt.Sprintf(`{"resource_id":"r1","user_id":%q}`, id) },
			cases: []notAskedFor{
				{name: "another resource", item: `{"resource_id":"OTHER-r9","user_id":"a4"}`, want: `results[1]: its "resource_id" is not the one asked for`},
				{name: "no resource", item: `{"resource_id":"","user_id":"a4"}`, want: `results[1]: no "resource_id"`},
				{name: "upper-case ID", item: `{"resource_id":"R1","user_id":"a4"}`, id: "a4"},
			},
		},
		{
			name: "access by user", path: "/v1/resources/users/u1", open: userAccessMethods.open,
			item: func(id string) string { return fmt.Sprintf(`{"resource_id":%q,"user_id":"u1"}`, id) },
			cases: []notAskedFor{
				{name: "another user", item: `{"resource_id":"a4","user_id":"OTHER-u9"}`, want: `results[1]: its "user_id" is not the one asked for`},
				{name: "no user", item: `{"resource_id":"a4"}`, want: `results[1]: no "user_id"`},
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
						wantOneError(t, errs, ErrInvalidResponse)
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
