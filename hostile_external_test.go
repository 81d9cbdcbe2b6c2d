package opal_test

// Black-box tests written by an outside review, as a hostile server and a
// careless caller would use the library: only the public API, opaltest and
// servers written here. A test named TestDefect_... shows a defect and fails
// until it is fixed; the others record behaviour that was checked and holds.

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
	"go.uber.org/goleak"
)

// reviewToken holds characters that every escaping changes ('+', '/', '=').
const reviewToken = "Qz7+hUNTER2/XyZ=0123456789abcdefVWk"

const (
	hResource = "res-a"
	hUser     = "usr-a"
	hEmail    = "a@corp.example"
)

// hostileServer serves h on loopback, with room for huge request lines.
func hostileServer(t testing.TB, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.MaxHeaderBytes = 16 << 20
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// hostileClient is a Client of baseURL with its own connection pool, fast
// retries and no rate limit, unless opts say otherwise.
func hostileClient(t testing.TB, baseURL string, opts ...opal.Option) *opal.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	base := []opal.Option{
		opal.WithBaseURL(baseURL),
		opal.WithHTTPClient(&http.Client{Transport: tr}),
		opal.WithRetryWait(0, time.Millisecond),
		opal.WithRetryMax(2),
		opal.WithRateLimit(0),
	}
	c, err := opal.NewClient(reviewToken, append(base, opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// drain ranges over seq to its end, counting the items before the first
// error, and reports any yield after that error as a test failure.
func hDrain[T any](t testing.TB, seq iter.Seq2[T, error]) (int, error) {
	t.Helper()
	n, after := 0, 0
	var first error
	for _, err := range seq {
		switch {
		case first != nil:
			after++
		case err != nil:
			first = err
		default:
			n++
		}
	}
	if after > 0 {
		t.Errorf("%d yields after the error %v", after, first)
	}
	return n, first
}

// hSweep ranges over an AllOf sweep to its end: a not-found resource's error
// lets it go on, any other error must end it. It returns the items and every
// error yielded, joined.
func hSweep[T any](t testing.TB, seq iter.Seq2[T, error]) (int, error) {
	t.Helper()
	n, after := 0, 0
	var errs []error
	var final error
	for _, err := range seq {
		switch {
		case final != nil:
			after++
		case err != nil:
			errs = append(errs, err)
			var re *opal.ResourceError
			if !errors.As(err, &re) && !errors.Is(err, opal.ErrInvalidArgument) {
				t.Errorf("sweep error %v is not a *ResourceError", err)
			}
			if !errors.Is(err, opal.ErrNotFound) {
				final = err
			}
		default:
			n++
		}
	}
	if after > 0 {
		t.Errorf("%d yields after the error %v", after, final)
	}
	return n, errors.Join(errs...)
}

func pageLen[T any](p *opal.Page[T], err error) (int, error) {
	if p == nil {
		return 0, err
	}
	return len(p.Results), err
}

func objLen[T any](p *T, err error) (int, error) {
	if p == nil {
		return 0, err
	}
	return 1, err
}

// hostileCall is one list or getter of the public API, asked about
// hResource, hUser or hEmail.
type hostileCall struct {
	name string
	run  func(ctx context.Context, t testing.TB, c *opal.Client) (int, error)
	// wrong are items (for a list) or objects (for a getter) that are not
	// what was asked for; a list's are wrapped in a page.
	wrong []string
	list  bool
}

const (
	hSession      = `{"connection_id":"c1","user_id":"usr-a","resource_id":"res-a","expiration_date":"2030-01-01T00:00:00Z"}`
	hGrant        = `{"resource_id":"res-a","user_id":"usr-a","email":"a@corp.example","full_name":"A","expiration_date":null,"has_direct_access":true,"num_access_paths":1}`
	hUserObj      = `{"user_id":"usr-a","email":"a@corp.example","full_name":"A"}`
	hResourceObj  = `{"resource_id":"res-a","name":"A","resource_type":"AWS_IAM_ROLE"}`
	hSessionOther = `{"connection_id":"c1","user_id":"usr-a","resource_id":"res-b","expiration_date":"2030-01-01T00:00:00Z"}`
)

func hostileCalls() []hostileCall {
	userOpts := &opal.ListSessionsOptions{UserID: hUser}
	return []hostileCall{
		{name: "Sessions.List", list: true, run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return pageLen(c.Sessions.List(ctx, hResource, nil))
		}, wrong: []string{hSessionOther,
			`{"connection_id":"c1","user_id":"usr-a","expiration_date":"2030-01-01T00:00:00Z"}`,
			`null`, `{}`}},
		{name: "Sessions.List/UserID", list: true, run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return pageLen(c.Sessions.List(ctx, hResource, userOpts))
		}, wrong: []string{`{"connection_id":"c1","user_id":"usr-b","resource_id":"res-a","expiration_date":"2030-01-01T00:00:00Z"}`}},
		{name: "Sessions.All", list: true, run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return hDrain(t, c.Sessions.All(ctx, hResource, nil))
		}, wrong: []string{hSessionOther}},
		{name: "Sessions.Pages", list: true, run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return hDrain(t, c.Sessions.Pages(ctx, hResource, nil))
		}, wrong: []string{hSessionOther}},
		{name: "Sessions.AllOf", list: true, run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return hSweep(t, c.Sessions.AllOf(ctx, []string{hResource}, userOpts))
		}, wrong: []string{hSessionOther, `{"connection_id":"c1","user_id":"usr-b","resource_id":"res-a","expiration_date":"2030-01-01T00:00:00Z"}`}},
		{name: "Users.List", list: true, run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return pageLen(c.Users.List(ctx, nil))
		}},
		{name: "Users.All", list: true, run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return hDrain(t, c.Users.All(ctx, nil))
		}},
		{name: "Users.Pages", list: true, run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return hDrain(t, c.Users.Pages(ctx, nil))
		}},
		{name: "Users.Get", run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return objLen(c.Users.Get(ctx, hUser))
		}, wrong: []string{`{"user_id":"usr-b","email":"a@corp.example"}`, `{"email":"a@corp.example"}`, `{"user_id":null}`,
			`{"results":[` + hUserObj + `]}`, `{"user":` + hUserObj + `}`, `[` + hUserObj + `]`}},
		{name: "Users.GetByEmail", run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return objLen(c.Users.GetByEmail(ctx, hEmail))
		}, wrong: []string{`{"user_id":"usr-a","email":"b@corp.example"}`, `{"user_id":"usr-a"}`,
			`{"results":[` + hUserObj + `]}`, `[` + hUserObj + `]`}},
		{name: "Resources.List", list: true, run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return pageLen(c.Resources.List(ctx, nil))
		}},
		{name: "Resources.List/IDs", list: true, run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return pageLen(c.Resources.List(ctx, &opal.ListResourcesOptions{IDs: []string{hResource}}))
		}, wrong: []string{`{"resource_id":"res-b","resource_type":"AWS_IAM_ROLE"}`, `{"resource_type":"AWS_IAM_ROLE"}`, `null`}},
		{name: "Resources.All/Type", list: true, run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return hDrain(t, c.Resources.All(ctx, &opal.ListResourcesOptions{Type: opal.ResourceTypeAWSIAMRole}))
		}, wrong: []string{`{"resource_id":"res-a","resource_type":"OKTA_APP"}`, `{"resource_id":"res-a"}`}},
		{name: "Resources.Pages/IDs", list: true, run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return hDrain(t, c.Resources.Pages(ctx, &opal.ListResourcesOptions{IDs: []string{hResource}}))
		}, wrong: []string{`{"resource_id":"res-b","resource_type":"AWS_IAM_ROLE"}`}},
		{name: "Resources.Get", run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return objLen(c.Resources.Get(ctx, hResource))
		}, wrong: []string{`{"resource_id":"res-b"}`, `{"name":"A"}`, `{"results":[` + hResourceObj + `]}`, `[` + hResourceObj + `]`}},
		{name: "Access.List", list: true, run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return pageLen(c.Access.List(ctx, hResource, nil))
		}, wrong: []string{`{"resource_id":"res-b","user_id":"usr-a"}`, `{"user_id":"usr-a"}`, `null`, `{}`}},
		{name: "Access.All", list: true, run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return hDrain(t, c.Access.All(ctx, hResource, nil))
		}, wrong: []string{`{"resource_id":"res-b","user_id":"usr-a"}`}},
		{name: "Access.Pages", list: true, run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return hDrain(t, c.Access.Pages(ctx, hResource, nil))
		}, wrong: []string{`{"resource_id":"res-b","user_id":"usr-a"}`}},
		{name: "Access.AllOf", list: true, run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return hSweep(t, c.Access.AllOf(ctx, []string{hResource}, nil))
		}, wrong: []string{`{"resource_id":"res-b","user_id":"usr-a"}`, `{"user_id":"usr-a"}`}},
		{name: "Access.ListForUser", list: true, run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return pageLen(c.Access.ListForUser(ctx, hUser, nil))
		}, wrong: []string{`{"resource_id":"res-a","user_id":"usr-b"}`, `{"resource_id":"res-a"}`, `null`}},
		{name: "Access.AllForUser", list: true, run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return hDrain(t, c.Access.AllForUser(ctx, hUser, nil))
		}, wrong: []string{`{"resource_id":"res-a","user_id":"usr-b"}`}},
		{name: "Access.PagesForUser", list: true, run: func(ctx context.Context, t testing.TB, c *opal.Client) (int, error) {
			return hDrain(t, c.Access.PagesForUser(ctx, hUser, &opal.ListUserAccessOptions{IncludeUnmanaged: true}))
		}, wrong: []string{`{"resource_id":"res-a","user_id":"usr-b"}`}},
	}
}

// fixedAnswer serves the same answer to every request.
type fixedAnswer struct {
	name        string
	status      int
	contentType string
	body        string
}

func (a fixedAnswer) serve(w http.ResponseWriter, _ *http.Request) {
	if a.contentType != "" {
		w.Header().Set("Content-Type", a.contentType)
	}
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

// notAnAnswer are 2xx answers that are neither a page of any list nor an
// object of any getter.
func notAnAnswer() []fixedAnswer {
	const js = "application/json"
	return []fixedAnswer{
		{"{}", 200, js, `{}`},
		{"null", 200, js, `null`},
		{"[]", 200, js, `[]`},
		{"string", 200, js, `"ok"`},
		{"number", 200, js, `0`},
		{"true", 200, js, `true`},
		{"empty body", 200, js, ``},
		{"whitespace", 200, js, " \n "},
		{"message", 200, js, `{"message":"ok"}`},
		{"wrapped page", 200, js, `{"data":{"results":[]}}`},
		{"results object", 200, js, `{"results":{}}`},
		{"results string", 200, js, `{"results":"none"}`},
		{"results number", 200, js, `{"results":0}`},
		{"results of numbers", 200, js, `{"results":[1]}`},
		{"results of strings", 200, js, `{"results":["x"]}`},
		{"results of arrays", 200, js, `{"results":[[]]}`},
		{"html", 200, "text/html; charset=utf-8", `<!doctype html><html><body><form>Sign in</form></body></html>`},
		{"html without type", 200, "", `<html><body>Sign in</body></html>`},
		{"xml", 200, "application/xml", `<?xml version="1.0"?><results/>`},
		{"page then garbage", 200, js, `{"results":[]}<html>`},
		{"two pages", 200, js, `{"results":[]}{"results":[]}`},
		{"results twice", 200, js, `{"results":[],"results":[]}`},
		{"results twice, other case", 200, js, `{"results":[],"RESULTS":[]}`},
		{"next a number", 200, js, `{"results":[],"next":5}`},
		{"next an object", 200, js, `{"results":[],"next":{"cursor":"x"}}`},
		{"next true", 200, js, `{"results":[],"next":true}`},
		{"unterminated", 200, js, `{"results":[`},
		{"206 page", 206, js, `{"results":[]}`},
		{"201 page", 201, js, `{"results":[]}`},
		{"202 page", 202, js, `{"results":[]}`},
		{"204", 204, js, ``},
		{"205", 205, js, ``},
	}
}

// pagedAnswer serves a page of n copies of item, whatever the request.
func pagedAnswer(item string, n int) http.HandlerFunc {
	items := make([]string, n)
	for i := range items {
		items[i] = item
	}
	body := `{"next":null,"results":[` + strings.Join(items, ",") + `]}`
	return fixedAnswer{status: 200, contentType: "application/json", body: body}.serve
}

// keys maps a sequence of items to a key of each, so that walks of every
// list can be compared.
func keys[T any](seq iter.Seq2[T, error], key func(T) string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for v, err := range seq {
			if err != nil {
				if !yield("", err) {
					return
				}
				continue // a sweep may go on; the sequence says when it ends
			}
			if !yield(key(v), nil) {
				return
			}
		}
	}
}

// pageKeys flattens a sequence of pages into the keys of their items.
func pageKeys[T any](seq iter.Seq2[*opal.Page[T], error], key func(T) string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for p, err := range seq {
			if err != nil {
				if !yield("", err) {
					return
				}
				continue
			}
			for _, v := range p.Results {
				if !yield(key(v), nil) {
					return
				}
			}
		}
	}
}

// hostileWalk is one way to walk a list's pages, with items keyed by the
// server's numbering of them.
type hostileWalk struct {
	name  string
	route string             // as the error names it
	item  func(i int) string // the i-th item the server serves
	walk  func(ctx context.Context, c *opal.Client, cursor string) iter.Seq2[string, error]
}

func hostileWalks() []hostileWalk {
	session := func(i int) string {
		return fmt.Sprintf(`{"connection_id":"c%d","user_id":"u%d","resource_id":"res-a","expiration_date":"2030-01-01T00:00:00Z"}`, i, i)
	}
	user := func(i int) string { return fmt.Sprintf(`{"user_id":"u%d","email":"u%d@corp.example"}`, i, i) }
	resource := func(i int) string { return fmt.Sprintf(`{"resource_id":"r%d","resource_type":"AWS_IAM_ROLE"}`, i) }
	grant := func(i int) string { return fmt.Sprintf(`{"resource_id":"res-a","user_id":"u%d"}`, i) }
	grantOf := func(i int) string { return fmt.Sprintf(`{"resource_id":"r%d","user_id":"usr-a"}`, i) }
	sk := func(s opal.Session) string { return s.UserID }
	uk := func(u opal.User) string { return u.UserID }
	rk := func(r opal.Resource) string { return r.ResourceID }
	gk := func(a opal.ResourceAccessUser) string { return a.UserID }
	gok := func(a opal.ResourceAccessUser) string { return a.ResourceID }
	return []hostileWalk{
		{"Sessions.All", "GET /v1/sessions", session, func(ctx context.Context, c *opal.Client, cur string) iter.Seq2[string, error] {
			return keys(c.Sessions.All(ctx, hResource, &opal.ListSessionsOptions{Cursor: cur}), sk)
		}},
		{"Sessions.Pages", "GET /v1/sessions", session, func(ctx context.Context, c *opal.Client, cur string) iter.Seq2[string, error] {
			return pageKeys(c.Sessions.Pages(ctx, hResource, &opal.ListSessionsOptions{Cursor: cur}), sk)
		}},
		{"Users.All", "GET /v1/users", user, func(ctx context.Context, c *opal.Client, cur string) iter.Seq2[string, error] {
			return keys(c.Users.All(ctx, &opal.ListUsersOptions{Cursor: cur}), uk)
		}},
		{"Users.Pages", "GET /v1/users", user, func(ctx context.Context, c *opal.Client, cur string) iter.Seq2[string, error] {
			return pageKeys(c.Users.Pages(ctx, &opal.ListUsersOptions{Cursor: cur}), uk)
		}},
		{"Resources.All", "GET /v1/resources", resource, func(ctx context.Context, c *opal.Client, cur string) iter.Seq2[string, error] {
			return keys(c.Resources.All(ctx, &opal.ListResourcesOptions{Cursor: cur, Type: opal.ResourceTypeAWSIAMRole}), rk)
		}},
		{"Resources.Pages", "GET /v1/resources", resource, func(ctx context.Context, c *opal.Client, cur string) iter.Seq2[string, error] {
			return pageKeys(c.Resources.Pages(ctx, &opal.ListResourcesOptions{Cursor: cur}), rk)
		}},
		{"Access.All", "GET /v1/resources/res-a/users", grant, func(ctx context.Context, c *opal.Client, cur string) iter.Seq2[string, error] {
			return keys(c.Access.All(ctx, hResource, &opal.ListAccessOptions{Cursor: cur}), gk)
		}},
		{"Access.Pages", "GET /v1/resources/res-a/users", grant, func(ctx context.Context, c *opal.Client, cur string) iter.Seq2[string, error] {
			return pageKeys(c.Access.Pages(ctx, hResource, &opal.ListAccessOptions{Cursor: cur}), gk)
		}},
		{"Access.AllForUser", "GET /v1/resources/users/usr-a", grantOf, func(ctx context.Context, c *opal.Client, cur string) iter.Seq2[string, error] {
			return keys(c.Access.AllForUser(ctx, hUser, &opal.ListUserAccessOptions{Cursor: cur}), gok)
		}},
		{"Access.PagesForUser", "GET /v1/resources/users/usr-a", grantOf, func(ctx context.Context, c *opal.Client, cur string) iter.Seq2[string, error] {
			return pageKeys(c.Access.PagesForUser(ctx, hUser, &opal.ListUserAccessOptions{Cursor: cur}), gok)
		}},
		{"Sessions.AllOf", "GET /v1/sessions", session, func(ctx context.Context, c *opal.Client, cur string) iter.Seq2[string, error] {
			if cur != "" {
				return func(yield func(string, error) bool) {} // AllOf takes no cursor
			}
			return keys(c.Sessions.AllOf(ctx, []string{hResource}, nil), sk)
		}},
		{"Access.AllOf", "GET /v1/resources/res-a/users", grant, func(ctx context.Context, c *opal.Client, cur string) iter.Seq2[string, error] {
			if cur != "" {
				return func(yield func(string, error) bool) {}
			}
			return keys(c.Access.AllOf(ctx, []string{hResource}, nil), gk)
		}},
	}
}

// cursorPages serves pages by the cursor sent: pages[cursor] is the next
// cursor ("" for none) and the numbers of the items.
type cursorPage struct {
	next  string
	items []int
}

func cursorServer(t testing.TB, w hostileWalk, pages map[string]cursorPage, requests *atomic.Int32) *httptest.Server {
	return hostileServer(t, func(rw http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		p, ok := pages[r.URL.Query().Get("cursor")]
		if !ok {
			rw.WriteHeader(http.StatusBadRequest)
			io.WriteString(rw, `{"message":"unknown cursor"}`)
			return
		}
		items := make([]string, len(p.items))
		for i, n := range p.items {
			items[i] = w.item(n)
		}
		next, _ := json.Marshal(p.next)
		if p.next == "" {
			next = []byte("null")
		}
		rw.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(rw, `{"next":%s,"previous":null,"results":[%s]}`, next, strings.Join(items, ","))
	})
}

// unescapeOnce undoes one layer of the escapings a server may use: JSON and
// Go (\uXXXX, \xXX, \/), URLs (%XX) and HTML character references.
func unescapeOnce(s string) string {
	named := map[string]string{"amp": "&", "plus": "+", "sol": "/", "equals": "=", "quot": `"`, "lt": "<", "gt": ">"}
	hexAt := func(i, n int) (uint64, bool) {
		if i+n > len(s) {
			return 0, false
		}
		v, err := strconv.ParseUint(s[i:i+n], 16, 32)
		return v, err == nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] == 'u':
			if v, ok := hexAt(i+2, 4); ok {
				b.WriteRune(rune(v))
				i += 5
				continue
			}
		case c == '\\' && i+1 < len(s) && s[i+1] == 'x':
			if v, ok := hexAt(i+2, 2); ok {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		case c == '\\' && i+1 < len(s) && strings.IndexByte(`/"\`, s[i+1]) >= 0:
			b.WriteByte(s[i+1])
			i++
			continue
		case c == '%':
			if v, ok := hexAt(i+1, 2); ok {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		case c == '&':
			end := strings.IndexByte(s[i:min(len(s), i+12)], ';')
			if end > 1 {
				ref := s[i+1 : i+end]
				var v uint64
				var err error = errors.New("no")
				switch {
				case strings.HasPrefix(ref, "#x"), strings.HasPrefix(ref, "#X"):
					v, err = strconv.ParseUint(ref[2:], 16, 32)
				case strings.HasPrefix(ref, "#"):
					v, err = strconv.ParseUint(ref[1:], 10, 32)
				case named[ref] != "":
					b.WriteString(named[ref])
					i += end
					continue
				}
				if err == nil {
					b.WriteRune(rune(v))
					i += end
					continue
				}
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// leakOf returns what of reviewToken text shows, in any form up to three
// layers of escaping deep: its first minPrefix bytes, or any 8 bytes of it
// in a row; "" when none.
func leakOf(text string, minPrefix int) string {
	forms := []string{text}
	for range 3 {
		if !strings.ContainsAny(text, `\%&`) {
			break
		}
		text = unescapeOnce(text)
		forms = append(forms, text)
	}
	for _, f := range forms {
		if strings.Contains(f, reviewToken[:minPrefix]) {
			return fmt.Sprintf("%q in %q", reviewToken[:minPrefix], clip(f, reviewToken[:minPrefix]))
		}
		for i := 0; i+8 <= len(reviewToken); i++ {
			if strings.Contains(f, reviewToken[i:i+8]) {
				return fmt.Sprintf("%q in %q", reviewToken[i:i+8], clip(f, reviewToken[i:i+8]))
			}
		}
	}
	return ""
}

// clip is the part of text around the first sub, for a failure message
// that does not itself print a long token.
func clip(text, sub string) string {
	i := strings.Index(text, sub)
	lo, hi := max(0, i-30), min(len(text), i+len(sub)+10)
	return strings.ToValidUTF8(strings.ReplaceAll(text[lo:hi], sub, "<"+strconv.Itoa(len(sub))+" token bytes>"), "?")
}

// errorTexts is every text an error shows: each error of its tree, under
// every verb, and the fields of each *APIError and *ResourceError.
func errorTexts(err error) []string {
	var texts []string
	var walk func(e error, depth int)
	walk = func(e error, depth int) {
		if e == nil || depth > 20 {
			return
		}
		texts = append(texts, e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%q", e))
		switch x := e.(type) {
		case *opal.APIError:
			// %#v would print Body as numbers; its fields are read instead.
			texts = append(texts, x.Message, string(x.Body), x.RequestID, x.Path, x.Method)
		default:
			texts = append(texts, fmt.Sprintf("%#v", e))
		case *opal.ResourceError:
			texts = append(texts, x.ResourceID)
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap(), depth+1)
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c, depth+1)
			}
		}
	}
	walk(err, 0)
	return texts
}

// watched is a Client's logs and attempts, kept to look for the token in.
type watched struct {
	mu       sync.Mutex
	logs     bytes.Buffer
	attempts []opal.Attempt
}

func (w *watched) options() []opal.Option {
	text := slog.NewTextHandler(&lockedWriter{w}, &slog.HandlerOptions{Level: slog.LevelDebug - 8})
	js := slog.NewJSONHandler(&lockedWriter{w}, &slog.HandlerOptions{Level: slog.LevelDebug - 8})
	return []opal.Option{
		opal.WithLogger(slog.New(fanout{text, js})),
		opal.WithObserver(func(_ context.Context, a opal.Attempt) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.attempts = append(w.attempts, a)
		}),
	}
}

type lockedWriter struct{ w *watched }

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.w.mu.Lock()
	defer l.w.mu.Unlock()
	return l.w.logs.Write(p)
}

// fanout sends each record to every handler.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool { return true }
func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	for _, h := range f {
		if err := h.Handle(ctx, r.Clone()); err != nil {
			return err
		}
	}
	return nil
}
func (f fanout) WithAttrs(as []slog.Attr) slog.Handler {
	g := make(fanout, len(f))
	for i, h := range f {
		g[i] = h.WithAttrs(as)
	}
	return g
}
func (f fanout) WithGroup(name string) slog.Handler {
	g := make(fanout, len(f))
	for i, h := range f {
		g[i] = h.WithGroup(name)
	}
	return g
}

// texts is everything the logs and attempts show.
func (w *watched) texts() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	texts := []string{w.logs.String()}
	for _, a := range w.attempts {
		texts = append(texts, a.Method, a.Path, a.Route, a.ResourceID, a.RequestID, fmt.Sprintf("%+v", a))
		texts = append(texts, errorTexts(a.Err)...)
	}
	return texts
}

// noLeak fails t when err, the logs or the attempts show the token.
func noLeak(t testing.TB, what string, err error, w *watched, minPrefix int) bool {
	t.Helper()
	texts := errorTexts(err)
	if w != nil {
		texts = append(texts, w.texts()...)
	}
	seen := map[string]bool{}
	for _, text := range texts {
		if seen[text] {
			continue
		}
		seen[text] = true
		if leak := leakOf(text, minPrefix); leak != "" {
			t.Errorf("%s: the token shows: %s", what, leak)
			return false
		}
	}
	return true
}

// roundTripper answers every request in memory.
type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// memoryClient is a Client whose every attempt is answered by f, without a
// network.
func memoryClient(t testing.TB, f roundTripper, opts ...opal.Option) *opal.Client {
	t.Helper()
	base := []opal.Option{
		opal.WithBaseURL("http://127.0.0.1:9/v1"),
		opal.WithHTTPClient(&http.Client{Transport: f}),
		opal.WithRetryWait(0, 0),
		opal.WithRetryMax(1),
		opal.WithRateLimit(0),
	}
	c, err := opal.NewClient(reviewToken, append(base, opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func response(r *http.Request, status int, header http.Header, body string) *http.Response {
	if header == nil {
		header = http.Header{}
	}
	return &http.Response{
		StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: header, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r,
	}
}

// tokenForms are ways a server may write the token.
func tokenForms() map[string]string {
	all := func(f func(b byte) string) string {
		var sb strings.Builder
		for i := 0; i < len(reviewToken); i++ {
			sb.WriteString(f(reviewToken[i]))
		}
		return sb.String()
	}
	special := func(f func(b byte) string) string {
		return all(func(b byte) string {
			if b == '+' || b == '/' || b == '=' {
				return f(b)
			}
			return string(b)
		})
	}
	return map[string]string{
		"raw":           reviewToken,
		"json specials": special(func(b byte) string { return fmt.Sprintf(`\u%04X`, b) }),
		"json all":      all(func(b byte) string { return fmt.Sprintf(`\u%04x`, b) }),
		"json slash":    strings.ReplaceAll(reviewToken, "/", `\/`),
		"url upper":     special(func(b byte) string { return fmt.Sprintf("%%%02X", b) }),
		"url lower":     special(func(b byte) string { return fmt.Sprintf("%%%02x", b) }),
		"url all":       all(func(b byte) string { return fmt.Sprintf("%%%02X", b) }),
		"url twice":     special(func(b byte) string { return fmt.Sprintf("%%25%02X", b) }),
		"html decimal":  all(func(b byte) string { return fmt.Sprintf("&#%d;", b) }),
		"html hex":      special(func(b byte) string { return fmt.Sprintf("&#x%x;", b) }),
		"html named":    strings.NewReplacer("+", "&plus;", "/", "&sol;", "=", "&equals;").Replace(reviewToken),
		"json of url":   special(func(b byte) string { return fmt.Sprintf(`\u0025%02X`, b) }),
		"mixed":         strings.NewReplacer("+", "%2b", "/", `\u002f`, "=", "&#61;").Replace(reviewToken),
		"mixed all":     all(func(b byte) string { return fmt.Sprintf([]string{"%%%02X", `\u%04x`, "&#%d;"}[int(b)%3], b) }),
	}
}

// rawServer answers every connection with the bytes of answer, as a server
// that does not speak HTTP properly would, and closes it.
func rawServer(t testing.TB, answer string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 64<<10)
				n := 0
				for !bytes.Contains(buf[:n], []byte("\r\n\r\n")) && n < len(buf) {
					m, err := conn.Read(buf[n:])
					n += m
					if err != nil {
						return
					}
				}
				io.WriteString(conn, answer)
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// leakCalls are calls of every kind: a getter, a walk and a sweep.
func leakCalls() []struct {
	name string
	run  func(ctx context.Context, t testing.TB, c *opal.Client) error
} {
	return []struct {
		name string
		run  func(ctx context.Context, t testing.TB, c *opal.Client) error
	}{
		{"Users.Get", func(ctx context.Context, t testing.TB, c *opal.Client) error {
			_, err := c.Users.Get(ctx, hUser)
			return err
		}},
		{"Resources.Get", func(ctx context.Context, t testing.TB, c *opal.Client) error {
			_, err := c.Resources.Get(ctx, hResource)
			return err
		}},
		{"Sessions.All", func(ctx context.Context, t testing.TB, c *opal.Client) error {
			_, err := hDrain(t, c.Sessions.All(ctx, hResource, nil))
			return err
		}},
		{"Access.AllOf", func(ctx context.Context, t testing.TB, c *opal.Client) error {
			_, err := hSweep(t, c.Access.AllOf(ctx, []string{hResource}, nil))
			return err
		}},
		{"Access.ListForUser", func(ctx context.Context, t testing.TB, c *opal.Client) error {
			_, err := c.Access.ListForUser(ctx, hUser, nil)
			return err
		}},
	}
}

// org is an opaltest server holding, for resources r00..r09 and users
// u00..u09, a session and a grant of every user on every resource, and the
// users and resources themselves.
func org(t testing.TB) *opaltest.Server {
	t.Helper()
	srv := opaltest.NewServer()
	t.Cleanup(srv.Close)
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for r := range 10 {
		rid := fmt.Sprintf("r%02d", r)
		srv.AddResources(opal.Resource{ResourceID: rid, Name: "R" + rid, ResourceType: opal.ResourceTypeAWSIAMRole})
		for u := range 10 {
			uid := fmt.Sprintf("u%02d", u)
			srv.AddSessions(opal.Session{ConnectionID: rid + uid, UserID: uid, ResourceID: rid, ExpirationDate: exp})
			srv.AddAccess(opal.ResourceAccessUser{ResourceID: rid, UserID: uid, Email: uid + "@corp.example", HasDirectAccess: u%2 == 0, NumAccessPaths: 1})
		}
	}
	for u := range 10 {
		uid := fmt.Sprintf("u%02d", u)
		srv.AddUsers(opal.User{UserID: uid, Email: uid + "@corp.example"})
	}
	return srv
}

// orgWalk is a walk over org's data, in pages of 3, and the options it was
// given, to check they are left alone.
type orgWalk struct {
	name  string
	total int
	walk  func(ctx context.Context, c *opal.Client) iter.Seq2[string, error]
	opts  func() any // the options the walk was given, as they are now
	fresh any        // the same, as they were given
}

func orgWalks() []orgWalk {
	ids := []string{"r00", "r01", "r02", "r03", "r04", "r05", "r06", "r07", "r08", "r09"}
	so := &opal.ListSessionsOptions{PageSize: 3}
	ao := &opal.ListAccessOptions{PageSize: 3}
	uo := &opal.ListUserAccessOptions{PageSize: 3, IncludeUnmanaged: true}
	lo := &opal.ListUsersOptions{PageSize: 3}
	ro := &opal.ListResourcesOptions{PageSize: 3, IDs: []string{"r00", "r01", "r02", "r03", "r04", "r05", "r06"}}
	sk := func(s opal.Session) string { return s.ConnectionID }
	gk := func(a opal.ResourceAccessUser) string { return a.ResourceID + a.UserID }
	return []orgWalk{
		{"Sessions.All", 10, func(ctx context.Context, c *opal.Client) iter.Seq2[string, error] {
			return keys(c.Sessions.All(ctx, "r03", so), sk)
		}, func() any { return *so }, *so},
		{"Sessions.Pages", 10, func(ctx context.Context, c *opal.Client) iter.Seq2[string, error] {
			return pageKeys(c.Sessions.Pages(ctx, "r03", so), sk)
		}, func() any { return *so }, *so},
		{"Sessions.AllOf", 100, func(ctx context.Context, c *opal.Client) iter.Seq2[string, error] {
			return keys(c.Sessions.AllOf(ctx, ids, so), sk)
		}, func() any { return fmt.Sprint(*so, ids) }, fmt.Sprint(*so, ids)},
		{"Access.All", 10, func(ctx context.Context, c *opal.Client) iter.Seq2[string, error] {
			return keys(c.Access.All(ctx, "r03", ao), gk)
		}, func() any { return *ao }, *ao},
		{"Access.Pages", 10, func(ctx context.Context, c *opal.Client) iter.Seq2[string, error] {
			return pageKeys(c.Access.Pages(ctx, "r03", ao), gk)
		}, func() any { return *ao }, *ao},
		{"Access.AllOf", 100, func(ctx context.Context, c *opal.Client) iter.Seq2[string, error] {
			return keys(c.Access.AllOf(ctx, ids, ao), gk)
		}, func() any { return fmt.Sprint(*ao, ids) }, fmt.Sprint(*ao, ids)},
		{"Access.AllForUser", 10, func(ctx context.Context, c *opal.Client) iter.Seq2[string, error] {
			return keys(c.Access.AllForUser(ctx, "u04", uo), gk)
		}, func() any { return *uo }, *uo},
		{"Access.PagesForUser", 10, func(ctx context.Context, c *opal.Client) iter.Seq2[string, error] {
			return pageKeys(c.Access.PagesForUser(ctx, "u04", uo), gk)
		}, func() any { return *uo }, *uo},
		{"Users.All", 10, func(ctx context.Context, c *opal.Client) iter.Seq2[string, error] {
			return keys(c.Users.All(ctx, lo), func(u opal.User) string { return u.UserID })
		}, func() any { return *lo }, *lo},
		{"Resources.All", 7, func(ctx context.Context, c *opal.Client) iter.Seq2[string, error] {
			return keys(c.Resources.All(ctx, ro), func(r opal.Resource) string { return r.ResourceID })
		}, func() any { return fmt.Sprint(*ro) }, fmt.Sprint(*ro)},
	}
}

// Every walk sends nothing until ranged over, starts over when ranged again,
// yields every item once, leaves its options alone, and leaves no goroutine
// after a break or a cancelled context.
func TestHostile_IteratorsAreLazyRestartableAndTidy(t *testing.T) {
	for _, w := range orgWalks() {
		t.Run(w.name, func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			srv := org(t)
			c, err := srv.Client()
			if err != nil {
				t.Fatal(err)
			}
			seq := w.walk(t.Context(), c)
			if n := len(srv.Requests()); n != 0 {
				t.Errorf("%d requests before ranging", n)
			}
			var first []string
			for range 2 {
				var got []string
				for k, err := range seq {
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, k)
				}
				seen := map[string]bool{}
				for _, k := range got {
					if seen[k] {
						t.Errorf("%s yielded twice", k)
					}
					seen[k] = true
				}
				if len(got) != w.total {
					t.Errorf("%d items, want %d", len(got), w.total)
				}
				if first == nil {
					first = got
				} else if !strings.HasSuffix(w.name, "AllOf") && fmt.Sprint(first) != fmt.Sprint(got) {
					t.Errorf("second range gave %v, first %v", got, first)
				}
			}
			once := len(srv.Requests()) / 2
			if fmt.Sprint(w.opts()) != fmt.Sprint(w.fresh) {
				t.Errorf("options changed: %v, were %v", w.opts(), w.fresh)
			}

			// A break after the fourth item: no more requests than needed.
			n0 := len(srv.Requests())
			i := 0
			for _, err := range seq {
				if err != nil {
					t.Fatal(err)
				}
				if i++; i == 4 {
					break
				}
			}
			if n := len(srv.Requests()) - n0; !strings.HasSuffix(w.name, "AllOf") && n > 2 {
				t.Errorf("%d requests for 4 items in pages of 3", n)
			} else if n > once {
				t.Errorf("%d requests after a break, more than a whole walk's %d", n, once)
			}

			// A context cancelled mid-walk: its error once, then the end.
			ctx, cancel := context.WithCancel(t.Context())
			i = 0
			var errs []error
			for _, err := range w.walk(ctx, c) {
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if i++; i == 4 {
					cancel()
				}
			}
			cancel()
			if len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
				t.Errorf("after cancelling: errors %v, want context.Canceled once", errs)
			}
			srv.Close()
			goleak.VerifyNone(t, before)
		})
	}
}

// AllOf walks a repeated ID once, goes on past a resource that 404s (its
// *ResourceError names it), ends at a resource that keeps failing with 500,
// and leaves no goroutine either way.
func TestHostile_SweepsOnDuplicatesNotFoundAndFailure(t *testing.T) {
	type sweep struct {
		name string
		path func(id string) string
		run  func(ctx context.Context, c *opal.Client, ids []string) iter.Seq2[string, error]
	}
	sweeps := []sweep{
		{"Sessions.AllOf", func(id string) string { return "/v1/sessions?" + id }, func(ctx context.Context, c *opal.Client, ids []string) iter.Seq2[string, error] {
			return keys(c.Sessions.AllOf(ctx, ids, &opal.ListSessionsOptions{PageSize: 3}), func(s opal.Session) string { return s.ConnectionID })
		}},
		{"Access.AllOf", func(id string) string { return "/v1/resources/" + id + "/users" }, func(ctx context.Context, c *opal.Client, ids []string) iter.Seq2[string, error] {
			return keys(c.Access.AllOf(ctx, ids, &opal.ListAccessOptions{PageSize: 3}), func(a opal.ResourceAccessUser) string { return a.ResourceID + a.UserID })
		}},
	}
	resourceOf := func(r *http.Request) string {
		if id := r.URL.Query().Get("resource_id"); id != "" {
			return id
		}
		return strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/resources/"), "/users")
	}
	for _, sw := range sweeps {
		t.Run(sw.name+"/duplicates", func(t *testing.T) {
			srv := org(t)
			c, _ := srv.Client()
			n, err := hSweep(t, sw.run(t.Context(), c, []string{"r01", "r02", "r01", "r01", "r02"}))
			if err != nil || n != 20 {
				t.Errorf("%d items, err %v; want 20 (two resources), no error", n, err)
			}
			per := map[string]int{}
			for _, r := range srv.Requests() {
				per[resourceOf(r)]++
			}
			if per["r01"] != 4 || per["r02"] != 4 {
				t.Errorf("requests per resource %v, want 4 each (10 items in pages of 3)", per)
			}
		})
		t.Run(sw.name+"/not found goes on", func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			srv := org(t)
			c, _ := srv.Client()
			var got []string
			var notFound []string
			for k, err := range sw.run(t.Context(), c, []string{"r01", "gone", "r02", "also-gone", "r03"}) {
				var re *opal.ResourceError
				switch {
				case errors.As(err, &re) && errors.Is(err, opal.ErrNotFound):
					notFound = append(notFound, re.ResourceID)
				case err != nil:
					t.Fatalf("sweep ended: %v", err)
				default:
					got = append(got, k)
				}
			}
			if sw.name == "Sessions.AllOf" {
				// opaltest, as Opal, lists no sessions for an unknown resource.
				notFound = append(notFound, "gone", "also-gone")
			}
			if len(got) != 30 || len(notFound) != 2 {
				t.Errorf("%d items, not found %v; want 30 and the two gone resources", len(got), notFound)
			}
			srv.Close()
			goleak.VerifyNone(t, before)
		})
		t.Run(sw.name+"/500 ends it", func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			var served atomic.Int32
			inner := org(t)
			srv := hostileServer(t, func(w http.ResponseWriter, r *http.Request) {
				served.Add(1)
				if resourceOf(r) == "r05" {
					w.WriteHeader(500)
					io.WriteString(w, `{"message":"down"}`)
					return
				}
				r.Header.Set("Authorization", "Bearer "+inner.Token)
				proxyTo(w, r, inner.URL)
			})
			ids := []string{"r00", "r01", "r02", "r03", "r04", "r05", "r06", "r07", "r08", "r09"}
			c := hostileClient(t, srv.URL)
			var errs []error
			items := 0
			for _, err := range sw.run(t.Context(), c, ids) {
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if len(errs) > 0 {
					t.Errorf("an item after the sweep's error")
				}
				items++
			}
			var re *opal.ResourceError
			if len(errs) != 1 || !errors.As(errs[0], &re) || re.ResourceID != "r05" {
				t.Fatalf("errors %v, want one *ResourceError for r05", errs)
			}
			var ae *opal.APIError
			if !errors.As(errs[0], &ae) || ae.StatusCode != 500 || ae.Attempts != 3 {
				t.Errorf("cause %v, want the 500 after 3 attempts", errs[0])
			}
			if items >= 100 {
				t.Errorf("%d items: the sweep went on after its error", items)
			}
			srv.Close()
			inner.Close()
			goleak.VerifyNone(t, before)
		})
	}
}

// proxyTo forwards r to base (an opaltest URL ending in /v1) and copies the
// answer back.
func proxyTo(w http.ResponseWriter, r *http.Request, base string) {
	u := strings.TrimSuffix(base, "/v1") + r.URL.RequestURI()
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, u, nil)
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		w.WriteHeader(502)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// script answers the i-th request with steps[i] (the last one repeats), and
// counts the requests.
type script struct {
	n     atomic.Int32
	steps []func(w http.ResponseWriter, r *http.Request)
}

func (s *script) serve(w http.ResponseWriter, r *http.Request) {
	i := int(s.n.Add(1)) - 1
	s.steps[min(i, len(s.steps)-1)](w, r)
}

func status(code int, header ...string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		if code == 200 {
			io.WriteString(w, hUserObj)
			return
		}
		io.WriteString(w, `{"message":"x"}`)
	}
}

func reset(w http.ResponseWriter, r *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

// recorded is an observer that keeps every Attempt.
type recorded struct {
	mu sync.Mutex
	as []opal.Attempt
}

func (r *recorded) observe(_ context.Context, a opal.Attempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.as = append(r.as, a)
}

func (r *recorded) attempts() []opal.Attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]opal.Attempt(nil), r.as...)
}

// WithObserver hears exactly one Attempt per attempt, numbered, with the
// status that came (0 for none), Retrying true exactly when another attempt
// follows, and Err matching what the call returns.
func TestHostile_ObserverHearsEachAttemptOnce(t *testing.T) {
	other := hostileServer(t, status(200))
	cases := []struct {
		name      string
		steps     []func(w http.ResponseWriter, r *http.Request)
		redirects int // requests that are followed redirects, not attempts
		statuses  []int
		wantErr   error
	}{
		{"503s then 200", []func(http.ResponseWriter, *http.Request){status(503), status(503), status(503), status(200)}, 0, []int{503, 503, 503, 200}, nil},
		{"500 to the end", []func(http.ResponseWriter, *http.Request){status(500)}, 0, []int{500, 500, 500, 500, 500}, nil},
		{"reset then 200", []func(http.ResponseWriter, *http.Request){reset, status(200)}, 0, []int{0, 200}, nil},
		{"resets to the end", []func(http.ResponseWriter, *http.Request){reset}, 0, []int{0, 0, 0, 0, 0}, nil},
		{"429 with a long Retry-After", []func(http.ResponseWriter, *http.Request){status(429, "Retry-After", "3600")}, 0, []int{429}, opal.ErrRateLimited},
		{"404", []func(http.ResponseWriter, *http.Request){status(404)}, 0, []int{404}, opal.ErrNotFound},
		{"200 not a user", []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") }}, 0, []int{200}, opal.ErrInvalidResponse},
		{"same-origin redirect", []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/v1/user?user_id=usr-a&again=1", http.StatusFound)
		}, status(200)}, 1, []int{200}, nil},
		{"redirect away", []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/v1/user", http.StatusTemporaryRedirect)
		}}, 0, []int{307}, nil},
		{"503 redirected then 200", []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/v1/user?user_id=usr-a&again=1", http.StatusFound)
		}, status(503), status(200)}, 1, []int{503, 200}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := &script{steps: tc.steps}
			srv := hostileServer(t, sc.serve)
			rec := &recorded{}
			c := hostileClient(t, srv.URL, opal.WithRetryMax(4), opal.WithObserver(rec.observe))
			_, err := c.Users.Get(t.Context(), hUser)
			as := rec.attempts()
			if got, want := len(as), int(sc.n.Load())-tc.redirects; got != want {
				t.Errorf("%d attempts observed, %d requests answered (%d of them redirects followed)", got, sc.n.Load(), tc.redirects)
			}
			var statuses []int
			for i, a := range as {
				statuses = append(statuses, a.Status)
				if a.N != i+1 || a.MaxAttempts != 5 {
					t.Errorf("attempt %d: N %d, MaxAttempts %d; want %d, 5", i, a.N, a.MaxAttempts, i+1)
				}
				if a.Retrying != (i < len(as)-1) {
					t.Errorf("attempt %d of %d: Retrying %v", i+1, len(as), a.Retrying)
				}
				if (a.Err == nil) != (a.Status == 200 && tc.wantErr == nil) {
					t.Errorf("attempt %d: status %d, Err %v", i+1, a.Status, a.Err)
				}
				if a.Method != "GET" || a.Path != "/v1/user" || a.Route != "/v1/user" || a.ResourceID != "" {
					t.Errorf("attempt %d: %s %s route %s resource %q", i+1, a.Method, a.Path, a.Route, a.ResourceID)
				}
				if a.Duration < 0 || a.Waited < 0 || a.Start.IsZero() {
					t.Errorf("attempt %d: Start %v Duration %v Waited %v", i+1, a.Start, a.Duration, a.Waited)
				}
			}
			if fmt.Sprint(statuses) != fmt.Sprint(tc.statuses) {
				t.Errorf("statuses %v, want %v", statuses, tc.statuses)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("call error %v, want %v", err, tc.wantErr)
			}
			if last := as[len(as)-1]; (err == nil) != (last.Err == nil) || (err != nil && !strings.Contains(err.Error(), last.Err.Error()) && !strings.Contains(last.Err.Error(), strings.TrimPrefix(err.Error(), "opal: "))) {
				t.Errorf("call error %v, last attempt's Err %v", err, last.Err)
			}
		})
	}
}

// Each attempt of a walk and of a sweep is heard once, with the route and
// resource it is about.
func TestHostile_ObserverCountsMatchTheServer(t *testing.T) {
	srv := org(t)
	srv.Inject(opaltest.Fault{}, opaltest.Fault{Status: 503}, opaltest.Fault{}, opaltest.Fault{Status: 502}, opaltest.Fault{Status: 429})
	rec := &recorded{}
	c, err := srv.Client(opal.WithObserver(rec.observe))
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"r00", "r01", "r02", "r03", "r04", "r05", "r06", "r07", "r08", "r09"}
	if n, err := hSweep(t, c.Access.AllOf(t.Context(), ids, &opal.ListAccessOptions{PageSize: 3})); err != nil || n != 100 {
		t.Fatalf("%d, %v", n, err)
	}
	if n, err := hDrain(t, c.Access.AllForUser(t.Context(), "u01", &opal.ListUserAccessOptions{PageSize: 4})); err != nil || n != 10 {
		t.Fatalf("%d, %v", n, err)
	}
	as := rec.attempts()
	if len(as) != len(srv.Requests()) {
		t.Errorf("%d attempts observed, %d requests served", len(as), len(srv.Requests()))
	}
	routes := map[string]int{}
	for _, a := range as {
		routes[a.Route]++
		switch a.Route {
		case "/v1/resources/{resource_id}/users":
			if a.Path != "/v1/resources/"+a.ResourceID+"/users" {
				t.Errorf("path %s, resource %q", a.Path, a.ResourceID)
			}
		case "/v1/resources/users/{user_id}":
			if a.Path != "/v1/resources/users/u01" || a.ResourceID != "" {
				t.Errorf("path %s, resource %q", a.Path, a.ResourceID)
			}
		default:
			t.Errorf("route %q", a.Route)
		}
	}
	if routes["/v1/resources/users/{user_id}"] != 3 {
		t.Errorf("routes %v", routes)
	}
}

// A panicking observer unwinds the call, and leaves the Client usable: the
// next calls go through at once, the connection is not left busy, and no
// goroutine is left behind.
func TestHostile_PanickingObserverLeavesTheClientUsable(t *testing.T) {
	for _, first := range []string{"200", "500 retried", "reset", "404"} {
		t.Run(first, func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			var conns atomic.Int32
			sc := &script{steps: []func(http.ResponseWriter, *http.Request){map[string]func(http.ResponseWriter, *http.Request){
				"200": status(200), "500 retried": status(500), "reset": reset, "404": status(404),
			}[first], status(200)}}
			srv := httptest.NewUnstartedServer(http.HandlerFunc(sc.serve))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			srv.Start()
			var panics atomic.Int32
			tr := &http.Transport{}
			c, err := opal.NewClient(reviewToken, opal.WithBaseURL(srv.URL), opal.WithHTTPClient(&http.Client{Transport: tr}),
				opal.WithRetryWait(0, time.Millisecond), opal.WithRateLimit(1000),
				opal.WithObserver(func(context.Context, opal.Attempt) {
					if panics.Add(1) == 1 {
						panic("observer bug")
					}
				}))
			if err != nil {
				t.Fatal(err)
			}
			func() {
				defer func() {
					if r := recover(); r != "observer bug" {
						t.Errorf("recovered %v, want the observer's panic", r)
					}
				}()
				c.Users.Get(t.Context(), hUser)
			}()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			for i := range 3 {
				if _, err := c.Users.Get(ctx, hUser); err != nil {
					t.Fatalf("call %d after the panic: %v", i, err)
				}
			}
			// The panicked attempt's connection, read to its end, serves the
			// next calls, unless the server's answer closed it.
			if want := map[string]int32{"200": 1, "404": 1}[first]; want > 0 && conns.Load() != want {
				t.Errorf("%d connections for 4 sequential calls, want %d: the panicked attempt's body was left open", conns.Load(), want)
			}
			tr.CloseIdleConnections()
			srv.Close()
			goleak.VerifyNone(t, before)
		})
	}
}

// userAnswer answers GET /user with the user asked for, after rtt of the
// bubble's clock, and records the order of the requests.
type userAnswer struct {
	mu    sync.Mutex
	order []string
	rtt   time.Duration
	steps []func(r *http.Request) *http.Response // for the first requests
}

func (u *userAnswer) roundTrip(r *http.Request) (*http.Response, error) {
	if u.rtt > 0 {
		time.Sleep(u.rtt)
	}
	u.mu.Lock()
	i := len(u.order)
	u.order = append(u.order, r.URL.Query().Get("user_id"))
	u.mu.Unlock()
	if i < len(u.steps) && u.steps[i] != nil {
		return u.steps[i](r), nil
	}
	body, _ := json.Marshal(map[string]string{"user_id": r.URL.Query().Get("user_id"), "email": "x@corp.example"})
	return response(r, 200, http.Header{"Content-Type": {"application/json"}}, string(body)), nil
}

func (u *userAnswer) requests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.order...)
}

// WithRateLimit refuses NaN and negative values with ErrInvalidArgument, and
// honours a huge or infinite one as no practical limit, without a panic or a
// hang; a slow but sane limit (one call per 1000 s) limits.
func TestHostile_AbsurdRateLimits(t *testing.T) {
	absurdRateLimits(t, []float64{1e-3, 1e-9, math.NaN(), math.Inf(1), math.Inf(-1), -1, -5e-324, 1e300, math.MaxFloat64})
}

// WithRateLimit(1e-10), and any positive value below about 1.1e-10 (whose
// interval, 1/perSecond seconds, overflows a time.Duration), down to 5e-324,
// is accepted and then lets four concurrent calls through at once, where it
// should let at most one through in ten minutes (or be refused with
// ErrInvalidArgument). A configured limit does not limit.
func TestDefect_TinyRateLimitDoesNotLimit(t *testing.T) {
	absurdRateLimits(t, []float64{1e-10, 1e-300, 5e-324})
}

func absurdRateLimits(t *testing.T, values []float64) {
	for _, v := range values {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ua := &userAnswer{}
				c, err := opal.NewClient(reviewToken, opal.WithBaseURL("http://127.0.0.1:9"),
					opal.WithHTTPClient(&http.Client{Transport: roundTripper(ua.roundTrip)}), opal.WithRateLimit(v))
				if err != nil {
					if !errors.Is(err, opal.ErrInvalidArgument) {
						t.Errorf("refused with %v, want ErrInvalidArgument", err)
					}
					return
				}
				if math.IsNaN(v) || v < 0 {
					t.Errorf("WithRateLimit(%v) accepted", v)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
				defer cancel()
				var wg sync.WaitGroup
				var failed atomic.Int32
				for i := range 4 {
					wg.Go(func() {
						if _, err := c.Users.Get(ctx, fmt.Sprint("u", i)); err != nil {
							failed.Add(1)
						}
					})
				}
				wg.Wait()
				sent := len(ua.requests())
				switch {
				case v > 0 && v*600 < 1 && sent > 1:
					t.Errorf("WithRateLimit(%v) let %d calls through within 10 minutes", v, sent)
				case (v >= 1e300 || math.IsInf(v, 1)) && (sent != 4 || failed.Load() != 0):
					t.Errorf("WithRateLimit(%v): %d sent, %d failed", v, sent, failed.Load())
				}
			})
		})
	}
}

// A limit must be a ceiling: a Client that asks for less than its limit,
// and meets no 429, should run at the pace it asks for within a second or
// two, over any round trip. Under 20 a second it does not: 30 sequential
// calls with WithRateLimit(10) and no 429 take 23 s (1.3 a second; 8.6 s for
// 12 calls against a real loopback server), as the slow start's eighth of
// the limit never grows. The default of 100 a second is fine.
func TestDefect_RateLimitIsABrakeBelowTheCeiling(t *testing.T) {
	cases := []struct {
		limit float64
		calls int
		rtt   time.Duration
	}{
		{10, 30, 0},
		{10, 30, 20 * time.Millisecond},
		{5, 15, 0},
		{2, 8, 0},
		{100, 300, 0},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("limit %v, rtt %v", tc.limit, tc.rtt), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ua := &userAnswer{rtt: tc.rtt}
				c, err := opal.NewClient(reviewToken, opal.WithBaseURL("http://127.0.0.1:9"),
					opal.WithHTTPClient(&http.Client{Transport: roundTripper(ua.roundTrip)}), opal.WithRateLimit(tc.limit))
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				for i := range tc.calls {
					if _, err := c.Users.Get(t.Context(), fmt.Sprint("u", i)); err != nil {
						t.Fatal(err)
					}
				}
				took := time.Since(start)
				ideal := time.Duration(float64(tc.calls-1) / tc.limit * float64(time.Second))
				if took > ideal+2*time.Second {
					t.Errorf("%d sequential calls under WithRateLimit(%v) took %v (%.2f a second); the ceiling allows them in %v", tc.calls, tc.limit, took, float64(tc.calls)/took.Seconds(), ideal)
				}
			})
		})
	}
}

// A Retry-After that no call waited out (it was longer than the longest
// retry wait, or than the call's deadline) does not pause the Client's next
// call; one that a call waited out pauses the others until then.
func TestHostile_RetryAfterNotWaitedOutDoesNotPause(t *testing.T) {
	tooMany := func(after string) func(r *http.Request) *http.Response {
		return func(r *http.Request) *http.Response {
			return response(r, 429, http.Header{"Retry-After": {after}, "Content-Type": {"application/json"}}, `{"message":"slow down"}`)
		}
	}
	t.Run("longer than the longest wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ua := &userAnswer{steps: []func(*http.Request) *http.Response{tooMany("3")}}
			c, _ := opal.NewClient(reviewToken, opal.WithBaseURL("http://127.0.0.1:9"), opal.WithRateLimit(1000),
				opal.WithHTTPClient(&http.Client{Transport: roundTripper(ua.roundTrip)}), opal.WithRetryWait(time.Millisecond, time.Second))
			_, err := c.Users.Get(t.Context(), "u0")
			var ae *opal.APIError
			if !errors.As(err, &ae) || ae.RetryAfter != 3*time.Second {
				t.Fatalf("err %v, want the 429 with RetryAfter 3s", err)
			}
			start := time.Now()
			if _, err := c.Users.Get(t.Context(), "u1"); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > 500*time.Millisecond {
				t.Errorf("the next call waited %v for a Retry-After nobody waited out", took)
			}
		})
	})
	t.Run("past the deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ua := &userAnswer{steps: []func(*http.Request) *http.Response{tooMany("3")}}
			c, _ := opal.NewClient(reviewToken, opal.WithBaseURL("http://127.0.0.1:9"), opal.WithRateLimit(1000),
				opal.WithHTTPClient(&http.Client{Transport: roundTripper(ua.roundTrip)}))
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			_, err := c.Users.Get(ctx, "u0")
			cancel()
			if err == nil {
				t.Fatal("no error")
			}
			start := time.Now()
			if _, err := c.Users.Get(t.Context(), "u1"); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > 500*time.Millisecond {
				t.Errorf("the next call waited %v for a Retry-After nobody waited out", took)
			}
		})
	})
	t.Run("waited out", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ua := &userAnswer{steps: []func(*http.Request) *http.Response{tooMany("2")}}
			c, _ := opal.NewClient(reviewToken, opal.WithBaseURL("http://127.0.0.1:9"), opal.WithRateLimit(1000),
				opal.WithHTTPClient(&http.Client{Transport: roundTripper(ua.roundTrip)}))
			start := time.Now()
			done := make(chan error)
			go func() { _, err := c.Users.Get(t.Context(), "u0"); done <- err }()
			synctest.Wait() // the first call waits out its Retry-After
			if _, err := c.Users.Get(t.Context(), "u1"); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took < 2*time.Second {
				t.Errorf("a call during another's Retry-After went after %v, want the 2s pause", took)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	})
}

// Calls waiting for a turn of the rate limiter do not get it in the order
// they asked: 30 calls that queue one after the other, each already waiting
// when the next asks, are sent in a shuffled order, so that one caller can
// wait many turns longer than its place in the queue (seen in real time too:
// 16 calls 20 ms apart under WithRateLimit(20) went out as f00 f01 f09 f13
// f10 ...). The turn goes to whichever waiter wakes first.
func TestDefect_TurnsAreNotFirstComeFirstServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ua := &userAnswer{}
		c, _ := opal.NewClient(reviewToken, opal.WithBaseURL("http://127.0.0.1:9"), opal.WithRateLimit(10),
			opal.WithHTTPClient(&http.Client{Transport: roundTripper(ua.roundTrip)}))
		var wg sync.WaitGroup
		var want []string
		for i := range 30 {
			id := fmt.Sprintf("u%02d", i)
			want = append(want, id)
			wg.Go(func() {
				if _, err := c.Users.Get(t.Context(), id); err != nil {
					t.Error(err)
				}
			})
			synctest.Wait() // it is waiting for its turn before the next asks
		}
		wg.Wait()
		if got := ua.requests(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("turns went in the order %v, asked in %v", got, want)
		}
	})
}

// get sends a raw GET to an opaltest server, with its token, and decodes a
// page.
func get(t testing.TB, srv *opaltest.Server, path string) (int, opal.ResourceAccessUserList) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page opal.ResourceAccessUserList
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("%s: %v: %s", path, err, body)
		}
	} else if !json.Valid(body) {
		t.Errorf("%s: %d with a body that is not JSON: %q", path, resp.StatusCode, body)
	}
	return resp.StatusCode, page
}

// opaltest's two access endpoints: 404 for a resource or user it does not
// know, 200 and an empty page for one it knows without grants, page_size and
// limit, include_unmanaged true or false only, signed cursors that belong to
// their list.
func TestHostile_OpaltestAccessEndpoints(t *testing.T) {
	srv := org(t)
	srv.AddResources(opal.Resource{ResourceID: "bare", Name: "no grants"})
	srv.AddUsers(opal.User{UserID: "nobody", Email: "nobody@corp.example"})
	cases := []struct {
		path   string
		status int
		n      int
	}{
		{"/resources/r01/users", 200, 10},
		{"/resources/unknown/users", 404, 0},
		{"/resources/bare/users", 200, 0},
		{"/resources/users/u01", 200, 10},
		{"/resources/users/unknown", 404, 0},
		{"/resources/users/nobody", 200, 0},
		{"/resources/users/u01?include_unmanaged=true", 200, 10},
		{"/resources/users/u01?include_unmanaged=false", 200, 10},
		{"/resources/users/u01?include_unmanaged=maybe", 400, 0},
		{"/resources/r01/users?page_size=3", 200, 3},
		{"/resources/r01/users?limit=4", 200, 4},
		{"/resources/users/u01?limit=4", 200, 4},
		{"/resources/r01/users?page_size=3&limit=4", 200, 3},
		{"/resources/r01/users?page_size=0", 400, 0},
		{"/resources/r01/users?page_size=1001", 400, 0},
		{"/resources/r01/users?page_size=-1", 400, 0},
		{"/resources/r01/users?page_size=x", 400, 0},
		{"/resources/r01/users?limit=0", 400, 0},
		{"/resources/r01/users?limit=1001", 400, 0},
		{"/resources/r01/users?cursor=forged", 400, 0},
		{"/resources/r01/users?cursor=", 200, 10},
		{"/resources/R01/users", 404, 0},
	}
	for _, tc := range cases {
		code, page := get(t, srv, tc.path)
		if code != tc.status || len(page.Results) != tc.n {
			t.Errorf("GET %s: %d with %d grants, want %d with %d", tc.path, code, len(page.Results), tc.status, tc.n)
		}
		for _, g := range page.Results {
			if strings.HasPrefix(tc.path, "/resources/r01/") && g.ResourceID != "r01" || strings.HasPrefix(tc.path, "/resources/users/u01") && g.UserID != "u01" {
				t.Errorf("GET %s: a grant of %s on %s", tc.path, g.UserID, g.ResourceID)
			}
		}
	}
	// A cursor is good only for the list and the query it was made for.
	_, first := get(t, srv, "/resources/r01/users?page_size=3")
	cur := url.QueryEscape(first.Next)
	for _, path := range []string{
		"/resources/r02/users?page_size=3&cursor=" + cur,
		"/resources/users/u01?page_size=3&cursor=" + cur,
		"/sessions?resource_id=r01&page_size=3&cursor=" + cur,
		"/users?page_size=3&cursor=" + cur,
		"/resources/r01/users?page_size=3&cursor=" + url.QueryEscape(first.Next[:len(first.Next)-1]+"A"),
		"/resources/r01/users?page_size=3&cursor=" + url.QueryEscape(first.Next+"A"),
	} {
		if code, _ := get(t, srv, path); code != 400 {
			t.Errorf("GET %s: %d, want 400 for a cursor of another list or query, or forged", path, code)
		}
	}
	if code, page := get(t, srv, "/resources/r01/users?page_size=3&cursor="+cur); code != 200 || len(page.Results) != 3 || page.Results[0].UserID != "u03" {
		t.Errorf("the cursor on its own list: %d, %v", code, page.Results)
	}
	// The previous of a page is the cursor that fetched it.
	if _, second := get(t, srv, "/resources/r01/users?page_size=3&cursor="+cur); second.Previous != first.Next {
		t.Errorf("previous %q, want the cursor that fetched the page", second.Previous)
	}
	// The token is checked.
	req, _ := http.NewRequest("GET", srv.URL+"/resources/r01/users", nil)
	req.Header.Set("Authorization", "Bearer not-"+srv.Token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("a wrong token: %v, %v; want 401", resp.Status, err)
	} else {
		resp.Body.Close()
	}
}

// The same grant twice (two access levels) is two rows, in the order added,
// and a walk under way while grants are added from other goroutines returns
// each grant it started with exactly once (go test -race).
func TestHostile_OpaltestAccessUnderConcurrency(t *testing.T) {
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.AddAccess(
		opal.ResourceAccessUser{ResourceID: "db", UserID: "u1", AccessLevel: opal.ResourceAccessLevel{Name: "read"}},
		opal.ResourceAccessUser{ResourceID: "db", UserID: "u1", AccessLevel: opal.ResourceAccessLevel{Name: "write"}},
	)
	c, _ := srv.Client()
	var levels []string
	for a, err := range c.Access.All(t.Context(), "db", &opal.ListAccessOptions{PageSize: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		levels = append(levels, a.AccessLevel.Name)
	}
	if fmt.Sprint(levels) != "[read write]" {
		t.Errorf("levels %v, want [read write], never merged", levels)
	}

	const start = 200
	for i := range start {
		srv.AddAccess(opal.ResourceAccessUser{ResourceID: "big", UserID: fmt.Sprintf("u%04d", i)})
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := start; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			srv.AddAccess(opal.ResourceAccessUser{ResourceID: "big", UserID: fmt.Sprintf("u%04d", i)},
				opal.ResourceAccessUser{ResourceID: fmt.Sprintf("other%d", i), UserID: "u0001"})
		}
	})
	for range 4 {
		wg.Go(func() {
			seen := map[string]bool{}
			for a, err := range c.Access.All(t.Context(), "big", &opal.ListAccessOptions{PageSize: 7}) {
				if err != nil {
					t.Error(err)
					return
				}
				if seen[a.UserID] {
					t.Errorf("%s twice", a.UserID)
				}
				seen[a.UserID] = true
				if len(seen) > 5*start {
					break
				}
			}
			for i := range start {
				if !seen[fmt.Sprintf("u%04d", i)] {
					t.Errorf("u%04d, there from the start, was not walked", i)
					return
				}
			}
		})
		wg.Go(func() {
			seen := map[string]bool{}
			for a, err := range c.Access.AllForUser(t.Context(), "u0001", &opal.ListUserAccessOptions{PageSize: 5}) {
				if err != nil {
					t.Error(err)
					return
				}
				if seen[a.ResourceID] {
					t.Errorf("%s twice", a.ResourceID)
				}
				seen[a.ResourceID] = true
				if len(seen) > 200 {
					break
				}
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
}

// IDs go as one escaped path segment, exactly as given; "", ".", ".." (and
// "users" for Access.List) are refused with ErrInvalidArgument and nothing
// is sent; so are bad page sizes, an empty IDs filter and an ID holding a
// comma.
func TestHostile_IDsAreOnePathSegmentAndBadArgumentsSendNothing(t *testing.T) {
	var got []string
	var mu sync.Mutex
	srv := hostileServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL.EscapedPath())
		mu.Unlock()
		w.WriteHeader(404)
		io.WriteString(w, `{"message":"no"}`)
	})
	c := hostileClient(t, srv.URL)
	ctx := t.Context()
	odd := []string{"a/b", "a?b=c", "a#b", "%2F", "%2e%2e", "a b", "ü", "...", ".a", "a;b", "a\\b", "users", "\x00", "\n"}
	getters := []struct {
		name   string
		prefix string
		suffix string
		run    func(id string) error
	}{
		{"Resources.Get", "/v1/resources/", "", func(id string) error { _, err := c.Resources.Get(ctx, id); return err }},
		{"Access.List", "/v1/resources/", "/users", func(id string) error { _, err := c.Access.List(ctx, id, nil); return err }},
		{"Access.ListForUser", "/v1/resources/users/", "", func(id string) error { _, err := c.Access.ListForUser(ctx, id, nil); return err }},
	}
	for _, g := range getters {
		for _, id := range odd {
			if g.name == "Access.List" && id == "users" {
				continue
			}
			mu.Lock()
			got = nil
			mu.Unlock()
			if err := g.run(id); !errors.Is(err, opal.ErrNotFound) {
				t.Errorf("%s(%q): %v, want the server's 404", g.name, id, err)
				continue
			}
			mu.Lock()
			paths := got
			mu.Unlock()
			if len(paths) != 1 {
				t.Errorf("%s(%q): %d requests", g.name, id, len(paths))
				continue
			}
			seg, ok := strings.CutPrefix(paths[0], g.prefix)
			seg, ok2 := strings.CutSuffix(seg, g.suffix)
			dec, err := url.PathUnescape(seg)
			if !ok || !ok2 || strings.Contains(seg, "/") || err != nil || dec != id {
				t.Errorf("%s(%q) went to %s, want one segment holding the ID", g.name, id, paths[0])
			}
		}
	}
	mu.Lock()
	got = nil
	mu.Unlock()
	refused := map[string]func() error{
		`Resources.Get("")`:         func() error { _, err := c.Resources.Get(ctx, ""); return err },
		`Resources.Get("..")`:       func() error { _, err := c.Resources.Get(ctx, ".."); return err },
		`Access.List(".")`:          func() error { _, err := c.Access.List(ctx, ".", nil); return err },
		`Access.List("users")`:      func() error { _, err := c.Access.List(ctx, "users", nil); return err },
		`Access.ListForUser("..")`:  func() error { _, err := c.Access.ListForUser(ctx, "..", nil); return err },
		`Access.ListForUser("")`:    func() error { _, err := c.Access.ListForUser(ctx, "", nil); return err },
		`Users.Get("")`:             func() error { _, err := c.Users.Get(ctx, ""); return err },
		`Users.GetByEmail("")`:      func() error { _, err := c.Users.GetByEmail(ctx, ""); return err },
		`Sessions.List("")`:         func() error { _, err := c.Sessions.List(ctx, "", nil); return err },
		`Sessions.List PageSize -1`: func() error { _, err := c.Sessions.List(ctx, "r", &opal.ListSessionsOptions{PageSize: -1}); return err },
		`Sessions.List PageSize 1001`: func() error {
			_, err := c.Sessions.List(ctx, "r", &opal.ListSessionsOptions{PageSize: 1001})
			return err
		},
		`Access.List PageSize 1001`: func() error { _, err := c.Access.List(ctx, "r", &opal.ListAccessOptions{PageSize: 1001}); return err },
		`Access.ListForUser PageSize -5`: func() error {
			_, err := c.Access.ListForUser(ctx, "u", &opal.ListUserAccessOptions{PageSize: -5})
			return err
		},
		`Users.List PageSize 5000`: func() error { _, err := c.Users.List(ctx, &opal.ListUsersOptions{PageSize: 5000}); return err },
		`Resources.List IDs empty`: func() error { _, err := c.Resources.List(ctx, &opal.ListResourcesOptions{IDs: []string{}}); return err },
		`Resources.List IDs ""`: func() error {
			_, err := c.Resources.List(ctx, &opal.ListResourcesOptions{IDs: []string{""}})
			return err
		},
		`Resources.List IDs comma`: func() error {
			_, err := c.Resources.List(ctx, &opal.ListResourcesOptions{IDs: []string{"a,b"}})
			return err
		},
		`Access.AllOf ".."`:    func() error { _, err := hSweep(t, c.Access.AllOf(ctx, []string{"r", ".."}, nil)); return err },
		`Access.AllOf "users"`: func() error { _, err := hSweep(t, c.Access.AllOf(ctx, []string{"users"}, nil)); return err },
		`Access.AllOf Cursor`: func() error {
			_, err := hSweep(t, c.Access.AllOf(ctx, []string{"r"}, &opal.ListAccessOptions{Cursor: "c"}))
			return err
		},
		`Access.AllOf PageSize`: func() error {
			_, err := hSweep(t, c.Access.AllOf(ctx, []string{"r"}, &opal.ListAccessOptions{PageSize: 1001}))
			return err
		},
		`Sessions.AllOf ""`:       func() error { _, err := hSweep(t, c.Sessions.AllOf(ctx, []string{"r", ""}, nil)); return err },
		`Access.All ".."`:         func() error { _, err := hDrain(t, c.Access.All(ctx, "..", nil)); return err },
		`Access.PagesForUser "."`: func() error { _, err := hDrain(t, c.Access.PagesForUser(ctx, ".", nil)); return err },
	}
	for name, run := range refused {
		if err := run(); !errors.Is(err, opal.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
	if len(got) != 0 {
		t.Errorf("requests sent for refused arguments: %v", got)
	}
}

// A grant decodes leniently and round-trips in the API's names: a null or
// absent expiration_date is nil, and only then; a null propagation_status is
// "".
func TestHostile_GrantDecoding(t *testing.T) {
	cases := []struct {
		in      string
		expires bool
		status  string
		bad     bool
	}{
		{`{"resource_id":"r","user_id":"u","expiration_date":null}`, false, "", false},
		{`{"resource_id":"r","user_id":"u"}`, false, "", false},
		{`{"resource_id":"r","user_id":"u","expiration_date":"2030-01-01t00:00:00z"}`, true, "", false},
		{`{"resource_id":"r","user_id":"u","expiration_date":"2030-01-01 00:00:00+02:00"}`, true, "", false},
		{`{"resource_id":"r","user_id":"u","expiration_date":""}`, false, "", true},
		{`{"resource_id":"r","user_id":"u","expiration_date":0}`, false, "", true},
		{`{"resource_id":"r","user_id":"u","expiration_date":"tomorrow"}`, false, "", true},
		{`{"resource_id":"r","user_id":"u","propagation_status":{"status":"ERR_TIMEOUT"}}`, false, "ERR_TIMEOUT", false},
		{`{"resource_id":"r","user_id":"u","propagation_status":null}`, false, "", false},
		{`{"resource_id":"r","user_id":"u","num_access_paths":1e400}`, false, "", true},
		{`{"resource_id":"r","user_id":"u","num_access_paths":"2"}`, false, "", true},
		{`{"resource_id":"r","user_id":"u","has_direct_access":"false"}`, false, "", true},
	}
	for _, tc := range cases {
		var a opal.ResourceAccessUser
		err := json.Unmarshal([]byte(tc.in), &a)
		if (err != nil) != tc.bad {
			t.Errorf("%s: err %v, want bad=%v", tc.in, err, tc.bad)
			continue
		}
		if err != nil {
			continue
		}
		if (a.ExpirationDate != nil) != tc.expires || a.PropagationStatus != tc.status {
			t.Errorf("%s: expires %v, status %q", tc.in, a.ExpirationDate, a.PropagationStatus)
		}
		out, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		var back opal.ResourceAccessUser
		if err := json.Unmarshal(out, &back); err != nil || fmt.Sprint(back) != fmt.Sprint(a) && !(a.ExpirationDate != nil && back.ExpirationDate != nil && a.ExpirationDate.Equal(*back.ExpirationDate)) {
			t.Errorf("%s: round trip %s gave %+v, %v", tc.in, out, back, err)
		}
		if !tc.expires && !bytes.Contains(out, []byte(`"expiration_date":null`)) {
			t.Errorf("%s encodes as %s, want expiration_date null", tc.in, out)
		}
	}
}

// A plain-http request carrying the token never goes through a proxy that
// the caller's *http.Transport names: the call fails at once, naming the
// proxy and not the token, the proxy hears nothing, and the caller's
// transport still proxies as before.
func TestHostile_NoTokenThroughAProxyInClearText(t *testing.T) {
	var proxied atomic.Int32
	proxy := hostileServer(t, func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		w.WriteHeader(200)
		io.WriteString(w, hUserObj)
	})
	var served atomic.Int32
	target := hostileServer(t, func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.WriteString(w, hUserObj)
	})
	pu, _ := url.Parse(proxy.URL)
	tr := &http.Transport{Proxy: http.ProxyURL(pu)}
	w := &watched{}
	c, err := opal.NewClient(reviewToken, append(w.options(), opal.WithBaseURL(target.URL), opal.WithHTTPClient(&http.Client{Transport: tr}), opal.WithRetryWait(0, time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Users.Get(t.Context(), hUser)
	if err == nil {
		t.Fatal("the call went through the proxy, or around it")
	}
	if !strings.Contains(err.Error(), pu.Host) {
		t.Errorf("error %q does not name the proxy %s", err, pu.Host)
	}
	noLeak(t, "a refused proxy", err, w, 6)
	if proxied.Load() != 0 || served.Load() != 0 {
		t.Errorf("proxy heard %d requests, target %d", proxied.Load(), served.Load())
	}
	if a := w.attempts; len(a) != 1 {
		t.Errorf("%d attempts, want 1 (not retried)", len(a))
	}
	req, _ := http.NewRequest("GET", target.URL, nil)
	if u, err := tr.Proxy(req); err != nil || u == nil || u.Host != pu.Host {
		t.Errorf("the caller's transport was changed: its Proxy gives %v, %v", u, err)
	}
}

// A 2xx body that unfolds beyond the body limit (a gzip bomb, an endless
// stream) is an error matching ErrInvalidResponse, after bounded memory and
// time.
func TestHostile_EndlessAndBombBodies(t *testing.T) {
	bomb := func() []byte {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		io.WriteString(zw, `{"results":[`)
		chunk := bytes.Repeat([]byte(" "), 1<<20)
		for range 256 {
			zw.Write(chunk)
		}
		zw.Close()
		return b.Bytes()
	}()
	handlers := map[string]http.HandlerFunc{
		"gzip bomb": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Type", "application/json")
			w.Write(bomb)
		},
		"endless whitespace": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"results":[`)
			chunk := bytes.Repeat([]byte(" "), 64<<10)
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		},
		"endless string": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"results":[],"next":"`)
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		},
		"endless items": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"results":[`+hUserObj)
			chunk := []byte(strings.Repeat(","+hUserObj, 1000))
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		},
	}
	for name, h := range handlers {
		t.Run(name, func(t *testing.T) {
			srv := hostileServer(t, h)
			c := hostileClient(t, srv.URL)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := c.Users.List(ctx, &opal.ListUsersOptions{PageSize: 1000})
			runtime.ReadMemStats(&after)
			if !errors.Is(err, opal.ErrInvalidResponse) {
				t.Errorf("err %v, want ErrInvalidResponse", err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 80<<20 {
				t.Errorf("the call allocated %d MiB", alloc>>20)
			}
		})
	}
}

// A break in a sweep whose resources wait for turns of a slow rate limit
// ends it at once, with no goroutine left; so does a context deadline.
func TestHostile_SweepEndsAtOnceWhileWaitingForTurns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ids []string
		for i := range 40 {
			ids = append(ids, fmt.Sprintf("r%02d", i))
		}
		rt := roundTripper(func(r *http.Request) (*http.Response, error) {
			id := strings.Split(r.URL.Path, "/")[3]
			return response(r, 200, http.Header{"Content-Type": {"application/json"}}, `{"results":[{"resource_id":"`+id+`","user_id":"u"}]}`), nil
		})
		c, _ := opal.NewClient(reviewToken, opal.WithBaseURL("http://127.0.0.1:9"), opal.WithHTTPClient(&http.Client{Transport: rt}), opal.WithRateLimit(1))
		start := time.Now()
		for _, err := range c.Access.AllOf(t.Context(), ids, nil) {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("the break took %v", took)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		n, err := hSweep(t, c.Access.AllOf(ctx, ids, nil))
		if !errors.Is(err, context.DeadlineExceeded) || n >= 40 {
			t.Errorf("%d items, err %v; want the deadline", n, err)
		}
		if took := time.Since(start); took > 6*time.Second {
			t.Errorf("the sweep under a 5s deadline took %v", took)
		}
	})
}

// A Client and its services print nothing of the token, under any verb.
func TestHostile_ClientFmtHoldsNoToken(t *testing.T) {
	c := hostileClient(t, "http://127.0.0.1:9", opal.WithUserAgent("bot/1"))
	for _, v := range []any{c, *c, c.Sessions, c.Users, c.Resources, c.Access, *c.Access, *c.Sessions} {
		text := fmt.Sprintf("%v|%+v|%#v|%s|%q", v, v, v, v, v)
		if leak := leakOf(text, 6); leak != "" {
			t.Errorf("%T prints the token: %s", v, leak)
		}
	}
}

// A 429 without Retry-After, retried by a Client whose limiter is on (the
// default 100 a second, default retry waits), should wait for its next turn
// of the limiter, not the fixed backoff of at least a second on top of it:
// it takes 1.0 to 2.0 s, so every 429 costs its request over a second.
func TestDefect_A429WaitsTheFullBackoffOnTopOfItsTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tooMany := func(r *http.Request) *http.Response { return response(r, 429, nil, `{"message":"slow down"}`) }
		ua := &userAnswer{steps: []func(*http.Request) *http.Response{nil, nil, tooMany}}
		c, _ := opal.NewClient(reviewToken, opal.WithBaseURL("http://127.0.0.1:9"),
			opal.WithHTTPClient(&http.Client{Transport: roundTripper(ua.roundTrip)}))
		for i := range 2 { // past the Client's first burst, whose 429s are special
			if _, err := c.Users.Get(t.Context(), fmt.Sprint("w", i)); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		if _, err := c.Users.Get(t.Context(), "u0"); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 500*time.Millisecond {
			t.Errorf("a 429 then a 200 took %v under a limit of 100 a second; want the next turn (tens of ms), not a fixed second of backoff", took)
		}
	})
}

// Retry-After values of any shape neither panic nor overflow: huge ones
// saturate and fail at once with RetryAfter set, past dates and garbage are
// ignored, and no value pauses the next call.
func TestHostile_RetryAfterOfAnyShape(t *testing.T) {
	for _, ra := range []string{"9223372036", "9223372037", "99999999999999999999", "-1", "-9223372037", "1e3", "0", "1.5",
		"Wed, 21 Oct 2015 07:28:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT", "", "0x10", "+5", reviewToken} {
		t.Run(fmt.Sprintf("%q", ra), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := 0
				c := memoryClient(t, func(r *http.Request) (*http.Response, error) {
					n++
					if r.URL.Query().Get("user_id") == "next" {
						return response(r, 200, nil, `{"user_id":"next"}`), nil
					}
					return response(r, 429, http.Header{"Retry-After": {ra}}, `{"message":"x"}`), nil
				}, opal.WithRetryWait(0, 10*time.Millisecond), opal.WithRetryMax(2), opal.WithRateLimit(1000))
				_, err := c.Users.Get(t.Context(), "u")
				var ae *opal.APIError
				if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.RetryAfter < 0 {
					t.Fatalf("err %v", err)
				}
				noLeak(t, "Retry-After", err, nil, 6)
				start := time.Now()
				if _, err := c.Users.Get(t.Context(), "next"); err != nil {
					t.Fatal(err)
				}
				if took := time.Since(start); took > 100*time.Millisecond {
					t.Errorf("the next call waited %v", took)
				}
			})
		})
	}
}

// Both sweeps keep at most 16 resources in flight, and use that many.
func TestHostile_SweepsBoundTheRequestsInFlight(t *testing.T) {
	var ids []string
	for i := range 60 {
		ids = append(ids, fmt.Sprintf("r%02d", i))
	}
	for _, name := range []string{"Sessions.AllOf", "Access.AllOf"} {
		t.Run(name, func(t *testing.T) {
			var inFlight, most atomic.Int32
			srv := hostileServer(t, func(w http.ResponseWriter, r *http.Request) {
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(10 * time.Millisecond)
				id := r.URL.Query().Get("resource_id")
				if id == "" {
					id = strings.Split(r.URL.Path, "/")[3]
				}
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"results":[{"connection_id":"c","user_id":"u","resource_id":%q,"expiration_date":"2030-01-01T00:00:00Z"}]}`, id)
			})
			c := hostileClient(t, srv.URL)
			var n int
			var err error
			if name == "Sessions.AllOf" {
				n, err = hSweep(t, c.Sessions.AllOf(t.Context(), ids, nil))
			} else {
				n, err = hSweep(t, c.Access.AllOf(t.Context(), ids, nil))
			}
			if err != nil || n != 60 {
				t.Fatalf("%d items, %v", n, err)
			}
			if m := most.Load(); m > 16 || m < 2 {
				t.Errorf("at most %d requests in flight, want 2 to 16", m)
			}
		})
	}
}

// Each Attempt names its route and the resource it is about.
func TestHostile_AttemptRoutes(t *testing.T) {
	srv := org(t)
	rec := &recorded{}
	c, _ := srv.Client(opal.WithObserver(rec.observe))
	ctx := t.Context()
	calls := []struct {
		run                     func()
		path, route, resourceID string
	}{
		{func() { c.Sessions.List(ctx, "r01", nil) }, "/v1/sessions", "/v1/sessions", "r01"},
		{func() { c.Resources.Get(ctx, "r02") }, "/v1/resources/r02", "/v1/resources/{resource_id}", "r02"},
		{func() { c.Resources.List(ctx, nil) }, "/v1/resources", "/v1/resources", ""},
		{func() { c.Users.GetByEmail(ctx, "u01@corp.example") }, "/v1/user", "/v1/user", ""},
		{func() { c.Users.List(ctx, nil) }, "/v1/users", "/v1/users", ""},
		{func() { c.Access.List(ctx, "r03", nil) }, "/v1/resources/r03/users", "/v1/resources/{resource_id}/users", "r03"},
		{func() { c.Access.ListForUser(ctx, "u01", nil) }, "/v1/resources/users/u01", "/v1/resources/users/{user_id}", ""},
	}
	for _, call := range calls {
		before := len(rec.attempts())
		call.run()
		as := rec.attempts()[before:]
		if len(as) != 1 || as[0].Path != call.path || as[0].Route != call.route || as[0].ResourceID != call.resourceID || as[0].Status != 200 {
			t.Errorf("attempts %+v, want one of %s %s about %q", as, call.path, call.route, call.resourceID)
		}
	}
}
