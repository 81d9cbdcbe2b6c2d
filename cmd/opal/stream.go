package main

import (
	"context"
	"iter"
	"slices"
	"time"
)

// A streaming table or csv is written in blocks: a block goes out when
// blockRows rows are held, when no row has come for blockWait, or when its
// first row has been held for maxHold, so that rows show while a long
// sweep runs, even when they come steadily.
const (
	blockRows = 100
	blockWait = 200 * time.Millisecond
	maxHold   = 500 * time.Millisecond
)

// rows turns what a listing yields into rows and prints them.
type rows[T, R any] struct {
	out printer[R]
	// row makes the row of an item, or says to leave the item out; it runs
	// on the printing goroutine, the only one that looks names up.
	row func(T) (R, bool, error)
	// skip reports whether an error is to be warned about and passed over,
	// as a resource deleted during a sweep is; it has warned about it.
	skip func(error) bool
	// order sorts the rows once all have come; nil prints them as they
	// come.
	order func(a, b R) int
	// ended, if not nil, runs once the listing has ended without an
	// error; an error it returns ends the run as a failed listing does,
	// without a table's header for no rows.
	ended func() error
}

// plainRows are the rows of a listing that shows every item as it comes
// (opal users, opal resources): each item is its own row, counted on the
// status line, and no error is passed over.
func plainRows[T any](c *cli, format string, l layout[T]) rows[T, T] {
	return rows[T, T]{
		out: newPrinter(format, l, c.stdout, c.cut),
		row: func(item T) (T, bool, error) {
			c.prog.items.Add(1)
			return item, true, nil
		},
		skip: func(error) bool { return false },
	}
}

// partial is the error of a listing that a failure or a signal stopped.
// The rows printed are partial; with -sort, they are those that came
// before it, sorted.
type partial struct {
	err    error
	rows   int  // rows printed
	sorted bool // they were held to be sorted, and printed so
}

func (e *partial) Error() string { return e.err.Error() }
func (e *partial) Unwrap() error { return e.err }

// print prints the rows of what list yields and returns how many it
// printed. list is called once, with a context that ends when printing
// fails, so that its requests in flight are cancelled. When the listing
// fails, or ctx ends (a signal), the rows already printed stay, the rows
// held are written (sorted with -sort), and the error is a *partial, of
// the failure or of the context's cause.
func (p rows[T, R]) print(ctx context.Context, list func(context.Context) iter.Seq2[T, error]) (int, error) {
	listCtx, cancel := context.WithCancel(ctx)
	items, stop := pump(list(listCtx))
	defer func() {
		cancel()
		stop()
	}()
	var held []R // rows to sort
	printed, block := 0, 0
	var blockSince time.Time // when the first row of the block came
	idle := time.NewTimer(blockWait)
	idle.Stop()
	defer idle.Stop()

	end := func(err error) (int, error) {
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		// The rows printed stay, and those held to be sorted are printed,
		// sorted, without a header for none: a failure, like a signal,
		// keeps what was received before it.
		if p.printSorted(held) == nil && p.out.flush() == nil {
			printed += len(held)
		}
		return printed, &partial{err: err, rows: printed, sorted: p.order != nil}
	}
	for {
		select {
		case <-idle.C: // a pause, or a row held for maxHold
			if err := p.out.flush(); err != nil {
				return end(err)
			}
			block = 0
			continue
		case next, ok := <-items:
			if !ok {
				if ctx.Err() != nil {
					return end(ctx.Err())
				}
				if p.ended != nil {
					if err := p.ended(); err != nil {
						return end(err)
					}
				}
				if err := p.printSorted(held); err != nil {
					held = nil // not to be printed again
					return end(err)
				}
				return printed + len(held), p.out.close()
			}
			if next.err != nil && (ctx.Err() != nil || !p.skip(next.err)) {
				return end(next.err)
			}
			if next.err != nil {
				continue
			}
			r, keep, err := p.row(next.item)
			if err != nil {
				return end(err)
			}
			if !keep {
				continue
			}
			if p.order != nil {
				held = append(held, r)
				continue
			}
			if err := p.out.print(r); err != nil {
				return end(err)
			}
			printed++
			if block++; block < blockRows {
				if block == 1 {
					blockSince = time.Now()
				}
				idle.Reset(min(blockWait, time.Until(blockSince.Add(maxHold))))
				continue
			}
			idle.Stop()
			block = 0
			if err := p.out.flush(); err != nil {
				return end(err)
			}
		}
	}
}

// printSorted prints rows that were held to be sorted; without -sort there
// are none.
func (p rows[T, R]) printSorted(held []R) error {
	if p.order == nil {
		return nil
	}
	slices.SortStableFunc(held, p.order)
	for _, r := range held {
		if err := p.out.print(r); err != nil {
			return err
		}
	}
	return nil
}

// yielded is one step of a listing: an item, or an error.
type yielded[T any] struct {
	item T
	err  error
}

// pump ranges over seq on a goroutine of its own and hands over what it
// yields on the channel it returns, so that the printing goroutine can wait
// for the next item and for a timer at once. stop ends the range early
// (a sweep then cancels its requests) and returns once the goroutine has
// ended; it must be called.
func pump[T any](seq iter.Seq2[T, error]) (items <-chan yielded[T], stop func()) {
	ch := make(chan yielded[T])
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		for item, err := range seq {
			select {
			case ch <- yielded[T]{item, err}:
			case <-quit:
				return
			}
		}
	}()
	return ch, func() {
		close(quit)
		<-done
	}
}
