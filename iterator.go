package opal

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"maps"
	"net/url"
	"strconv"

	"github.com/opalclient/opal-go/internal/ascii"
	"golang.org/x/sync/errgroup"
)

// MaxPageSize is the largest page Opal serves: the most a list's PageSize
// option may ask for, and what All and AllOf ask for when it is 0.
const MaxPageSize = 1000

// list is one call's view of a cursor-paginated list of the API: which
// endpoint, with which filters, from which cursor, at which page size. A
// service builds one from its caller's options; List, Pages, All and AllOf
// are then the same code for every list. Items are decoded as W, checked,
// and given to the caller as T.
type list[W, T any] struct {
	client   *Client
	path     []string   // the endpoint under the base URL, such as {"sessions"}
	what     string     // what a page is, for errors: "the page of sessions asked for"
	query    url.Values // the filters, without cursor and page size
	cursor   string     // where to start; "" for the first page
	pageSize int        // 0 for the server's default
	// limitToo sends the page size as "limit" too, for endpoints whose
	// reference declares only that: a server that reads either of the two
	// then gives a full page.
	limitToo bool
	err      error     // a bad argument, returned before anything is sent
	item     func(W) T // the caller's form of an item
	// check says why an item is not about what the list was asked for (a
	// session of another resource, say), or returns nil. Nil checks nothing.
	check func(W) error

	// For observers: the path with its IDs as placeholders ("" when it has
	// none), and the resource whose list it is, if any.
	route      string
	resourceID string
}

// newList is the list at path, whose pages are what (as "the page of
// sessions asked for"), from cursor, in pages of pageSize, giving items to the caller
// as item makes them; the service adds its filters, its item check and any
// error in its arguments.
func newList[W, T any](c *Client, path []string, what, cursor string, pageSize int, item func(W) T) list[W, T] {
	return list[W, T]{
		client: c, path: path, what: what, query: url.Values{},
		cursor: cursor, pageSize: pageSize, err: checkPageSize(pageSize), item: item,
	}
}

// valueOf is a copy of the caller's options, the zero value for nil: what a
// call works with, so that the caller's are never modified.
func valueOf[T any](opts *T) T {
	if opts == nil {
		var zero T
		return zero
	}
	return *opts
}

// checkPageSize is the error for a page size the API does not take, or nil.
func checkPageSize(n int) error {
	if n < 0 || n > MaxPageSize {
		return fmt.Errorf("%w: page size %d is outside 0..%d", ErrInvalidArgument, n, MaxPageSize)
	}
	return nil
}

// one returns the page at the list's cursor.
func (l list[W, T]) one(ctx context.Context) (*Page[T], error) {
	if l.err != nil {
		return nil, l.err
	}
	p, err := l.fetch(ctx, l.cursor)
	if err != nil {
		return nil, err
	}
	return l.public(p), nil
}

// pages returns every page from the list's cursor on.
func (l list[W, T]) pages(ctx context.Context) iter.Seq2[*Page[T], error] {
	return mapPages(l.follow(ctx), l.public)
}

// all returns every item from the list's cursor on, in pages as bulk sets
// them.
func (l list[W, T]) all(ctx context.Context) iter.Seq2[T, error] {
	// Items are converted from the decoded page one at a time, as they are
	// yielded, so a walk allocates no second copy of each page.
	return flatten(l.bulk().follow(ctx), l.item)
}

// bulk is the list in pages of the API's largest size when none was set, as
// All and AllOf walk it: Opal's rate limit counts requests, and a walk then
// takes five times fewer than at the server's default of 200.
func (l list[W, T]) bulk() list[W, T] {
	if l.pageSize == 0 {
		l.pageSize = MaxPageSize
	}
	return l
}

// public is the caller's form of a decoded page. A page whose items are
// decoded in the caller's form is passed on as it is.
func (l list[W, T]) public(p *Page[W]) *Page[T] {
	if same, ok := any(p).(*Page[T]); ok {
		return same
	}
	out := &Page[T]{Next: p.Next, Previous: p.Previous}
	if p.Results != nil {
		out.Results = make([]T, len(p.Results))
		for i, w := range p.Results {
			out.Results[i] = l.item(w)
		}
	}
	return out
}

// follow returns the decoded pages from the list's cursor on, one request
// per page, only as far as the caller ranges. A bad argument is all it
// yields, and nothing is sent.
//
// A page whose next cursor this walk has already seen (the cursor it
// started from, or one it followed, the one that fetched this page
// included) is refused before it is yielded: the server would hand out the
// same pages forever, and the caller would count their items twice. The
// walk keeps a fingerprint of each cursor, not the cursor, whose size the
// server chooses.
func (l list[W, T]) follow(ctx context.Context) iter.Seq2[*Page[W], error] {
	if l.err != nil {
		return onlyError[*Page[W]](l.err)
	}
	return func(yield func(*Page[W], error) bool) {
		seen := map[cursorPrint]bool{}
		cursor := l.cursor
		for n := 1; ; n++ {
			if cursor != "" {
				seen[fingerprint(cursor)] = true
			}
			p, err := l.fetch(ctx, cursor)
			if err != nil {
				yield(nil, err)
				return
			}
			next := p.Next // before the caller, who may change the page, has it
			if next != "" && seen[fingerprint(next)] {
				yield(nil, l.loopError(n))
				return
			}
			if !yield(p, nil) || next == "" {
				return
			}
			cursor = next
		}
	}
}

// cursorPrint is a cursor's fingerprint: the first 16 bytes of its SHA-256.
// Two cursors of one walk share one by chance with odds far below those of
// a hardware fault.
type cursorPrint [16]byte

func fingerprint(cursor string) cursorPrint {
	sum := sha256.Sum256([]byte(cursor))
	return cursorPrint(sum[:16])
}

// loopError is the error that ends a walk whose server repeated a cursor
// after the given number of pages. It names the request, without the
// token, which a caller may have passed as an ID by mistake.
func (l list[W, T]) loopError(pages int) error {
	path := l.client.redact(l.client.endpoint(l.path).EscapedPath())
	return &cursorLoopError{request: "GET " + path, pages: pages}
}

// fetch gets the page at cursor. A page may hold no more items than the
// page size asked for (the API's maximum when none was), and only items
// that pass the list's check.
func (l list[W, T]) fetch(ctx context.Context, cursor string) (*Page[W], error) {
	query := maps.Clone(l.query)
	if cursor != "" {
		query.Set("cursor", cursor)
	}
	limit := MaxPageSize
	if l.pageSize != 0 {
		size := strconv.Itoa(l.pageSize)
		query.Set("page_size", size)
		if l.limitToo {
			query.Set("limit", size)
		}
		limit = l.pageSize
	}
	var p *Page[W]
	r := request{path: l.path, route: l.route, resourceID: l.resourceID, query: query, what: l.what}
	err := l.client.get(ctx, r, func(dec *json.Decoder) (err error) {
		if p, err = decodePage[W](dec, limit); err != nil {
			return err
		}
		return l.checkItems(p)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// checkItems refuses a page that holds an item not about what the list
// was asked for: the server, or a mock or proxy on the way, answered
// another question, and its items must not pass for the answer. The whole
// page is checked before any of it is yielded.
func (l list[W, T]) checkItems(p *Page[W]) error {
	if l.check == nil {
		return nil
	}
	for i, item := range p.Results {
		if err := l.check(item); err != nil {
			return fmt.Errorf("results[%d]: %w", i, err)
		}
	}
	return nil
}

// onlyError is a sequence that yields err, a bad argument, and nothing else.
func onlyError[T any](err error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		yield(zero, err)
	}
}

// mapPages converts each page of a walk, passing its error through.
func mapPages[P, Q any](pages iter.Seq2[P, error], convert func(P) Q) iter.Seq2[Q, error] {
	return func(yield func(Q, error) bool) {
		for p, err := range pages {
			if err != nil {
				var zero Q
				yield(zero, err)
				return
			}
			if !yield(convert(p), nil) {
				return
			}
		}
	}
}

// flatten turns a walk over pages into a walk over their items, each
// converted as it is yielded.
func flatten[W, T any](pages iter.Seq2[*Page[W], error], convert func(W) T) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for p, err := range pages {
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, item := range p.Results {
				if !yield(convert(item), nil) {
					return
				}
			}
		}
	}
}

// same is the conversion of an item whose wire form is its public form.
func same[T any](item T) T { return item }

// maxInFlight is how many lists a sweep walks at once. The Client's rate
// limiter, not this number, normally sets the pace.
const maxInFlight = 16

// allOf is the AllOf of every service: it walks the list that listOf builds
// for each resource in resourceIDs, as All walks one, several at a time, as
// one sequence (see sweep).
//
// It checks its arguments before anything is sent, and a bad one is all it
// yields: a cursor, which belongs to one resource's list, a page size out of
// bounds, an ID that the service's list refuses. A repeated ID (in any ASCII
// letter case) is walked once; an empty list yields nothing.
func allOf[W, T any](ctx context.Context, resourceIDs []string, cursor string, pageSize int, listOf func(resourceID string) list[W, T]) iter.Seq2[T, error] {
	ids, err := sweepArguments(ctx, resourceIDs, cursor, pageSize, listOf)
	if err != nil {
		return onlyError[T](err)
	}
	return sweep(ctx, ids, listOf)
}

// sweepArguments checks allOf's arguments and returns the IDs to walk, each
// once (in any ASCII letter case; the first spelling given is kept), in the
// order given.
func sweepArguments[W, T any](ctx context.Context, resourceIDs []string, cursor string, pageSize int, listOf func(string) list[W, T]) ([]string, error) {
	switch {
	case ctx == nil:
		return nil, fmt.Errorf("%w: nil context", ErrInvalidArgument)
	case cursor != "":
		return nil, fmt.Errorf("%w: AllOf takes no Cursor: a cursor belongs to one resource", ErrInvalidArgument)
	}
	if err := checkPageSize(pageSize); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(resourceIDs))
	seen := make(map[string]bool, len(resourceIDs))
	for i, id := range resourceIDs {
		// In any ASCII letter case, as a page's items are checked against
		// it: a resource given twice would otherwise have its items yielded
		// twice.
		key := ascii.Lower(id)
		if seen[key] {
			continue
		}
		seen[key] = true
		if err := listOf(id).err; err != nil {
			return nil, fmt.Errorf("%w (resourceIDs[%d])", err, i)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// sweptPage is a page of one of a sweep's lists, with the conversion of its
// items, or the error that ended that list.
type sweptPage[W, T any] struct {
	resourceID string
	page       *Page[W]
	item       func(W) T
	err        error
}

// sweep walks the list of each resource, up to maxInFlight at once, as one
// sequence: within a list, pages come in order, and each page's items stay
// together. An error is yielded as a *ResourceError; it ends the sweep,
// unless the resource was not found (deleted since it was listed), which
// the sweep goes on without.
//
// The sweep owns its goroutines: when it ends, by completion, error or the
// caller's break, it cancels their requests and waits for them, so none is
// left once the range loop has returned. A walker holds its page until the
// caller takes it and fetches the next only then: about one page per list
// in flight is held.
func sweep[W, T any](ctx context.Context, resourceIDs []string, listOf func(resourceID string) list[W, T]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		results := make(chan sweptPage[W, T])
		stop := make(chan struct{}) // closed when the caller stops taking
		done := make(chan struct{}) // closed when every goroutine has ended
		defer func() {
			cancel()
			close(stop)
			<-done
		}()
		go func() {
			defer close(done)
			defer close(results)
			var g errgroup.Group
			g.SetLimit(maxInFlight)
		feed:
			for _, id := range resourceIDs {
				select {
				case <-stop: // the caller stopped taking: start no more
					break feed
				default:
				}
				// A cancelled ctx still starts the walkers, which report it:
				// the caller hears why the sweep ended early.
				g.Go(func() error {
					l := listOf(id)
					for p, err := range l.bulk().follow(ctx) {
						key := id
						if err != nil {
							key = l.client.redact(id) // the caller's text, in an error
						}
						select {
						case results <- sweptPage[W, T]{key, p, l.item, err}:
						case <-stop:
							return nil
						}
					}
					return nil
				})
			}
			_ = g.Wait() // the walkers report their errors on results
		}()
		for r := range results {
			if r.err != nil {
				var zero T
				if !yield(zero, &ResourceError{ResourceID: r.resourceID, Err: r.err}) || !errors.Is(r.err, ErrNotFound) {
					return
				}
				continue
			}
			for _, item := range r.page.Results {
				if !yield(r.item(item), nil) {
					return
				}
			}
		}
	}
}
