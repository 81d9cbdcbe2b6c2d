package opal

import (
	"context"
	"errors"
	"fmt"
	"iter"
)

// ErrCursorLoop is wrapped by the error that ends a walk when the server hands
// back a cursor it already gave in the same walk, which would otherwise
// repeat pages forever.
var ErrCursorLoop = errors.New("opal: server repeated a pagination cursor")

// fetchFunc gets the page at cursor ("" for the first page) and returns it with
// the cursor of the page after it ("" after the last).
type fetchFunc[P any] func(ctx context.Context, cursor string) (page P, next string, err error)

// pages walks a cursor-paginated Opal list from start, one request per page,
// only as far as the caller ranges. Every Opal list endpoint pages this way;
// each needs only a fetchFunc.
func pages[P any](ctx context.Context, start string, fetch fetchFunc[P]) iter.Seq2[P, error] {
	return func(yield func(P, error) bool) {
		var zero P
		seen := map[string]bool{}
		cursor := start
		for n := 1; ; n++ {
			if cursor != "" {
				seen[cursor] = true
			}
			page, next, err := fetch(ctx, cursor)
			if err != nil {
				yield(zero, err)
				return
			}
			if !yield(page, nil) || next == "" {
				return
			}
			if seen[next] {
				// The cursor is not quoted: it is the server's text.
				yield(zero, fmt.Errorf("%w after %d pages", ErrCursorLoop, n))
				return
			}
			cursor = next
		}
	}
}

// mapPages converts each page of a walk, passing its error through.
func mapPages[P, Q any](pages iter.Seq2[P, error], convert func(P) Q) iter.Seq2[Q, error] {
	return func(yield func(Q, error) bool) {
		for page, err := range pages {
			if err != nil {
				var zero Q
				yield(zero, err)
				return
			}
			if !yield(convert(page), nil) {
				return
			}
		}
	}
}

// items flattens a walk over pages into a walk over their items.
func items[P, T any](pages iter.Seq2[P, error], each func(P) iter.Seq[T]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for page, err := range pages {
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for item := range each(page) {
				if !yield(item, nil) {
					return
				}
			}
		}
	}
}
