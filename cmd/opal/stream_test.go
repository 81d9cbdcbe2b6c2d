package main

import (
	"cmp"
	"context"
	"errors"
	"iter"
	"testing"
	"testing/synctest"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
)

// recorder is a printer that notes when each row was written: a row is
// written when the block holding it is flushed.
type recorder struct {
	start   time.Time
	held    []int
	written map[int]time.Duration // row -> when, from start
	order   []int
	closed  bool
}

func (r *recorder) print(row int) error { r.held = append(r.held, row); return nil }
func (r *recorder) flush() error {
	for _, row := range r.held {
		r.written[row] = time.Since(r.start)
		r.order = append(r.order, row)
	}
	r.held = nil
	return nil
}
func (r *recorder) close() error { r.closed = true; return r.flush() }

// timed yields the rows at the given times from its start, then ends a
// minute later, so that only the block rules write rows before the end.
func timed(at ...time.Duration) func(context.Context) iter.Seq2[int, error] {
	return func(ctx context.Context) iter.Seq2[int, error] {
		return func(yield func(int, error) bool) {
			start := time.Now()
			for i, d := range at {
				time.Sleep(time.Until(start.Add(d)))
				if !yield(i, nil) {
					return
				}
			}
			time.Sleep(time.Minute)
		}
	}
}

func identity(i int) (int, bool, error) { return i, true, nil }

// TestBlocks: a streamed table is written in blocks, each when 100 rows are
// held, when no row has come for 200 ms, or when its first row has waited
// half a second: rows that come steadily still show.
func TestBlocks(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name string
		at   []time.Duration
		want map[int]time.Duration
	}{
		{"a pause ends a block", []time.Duration{0, 50 * ms, 400 * ms}, map[int]time.Duration{0: 250 * ms, 1: 250 * ms, 2: 600 * ms}},
		{"steady rows wait half a second at most", []time.Duration{0, 150 * ms, 300 * ms, 450 * ms, 600 * ms, 750 * ms},
			map[int]time.Duration{0: 500 * ms, 1: 500 * ms, 2: 500 * ms, 3: 500 * ms, 4: 950 * ms, 5: 950 * ms}},
	}
	hundred := make([]time.Duration, 101)
	want := map[int]time.Duration{100: 200 * ms}
	for i := range 100 {
		want[i] = 0
	}
	tests = append(tests, struct {
		name string
		at   []time.Duration
		want map[int]time.Duration
	}{"100 rows make a block", hundred, want})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := &recorder{start: time.Now(), written: map[int]time.Duration{}}
				p := rows[int, int]{out: rec, row: identity, skip: func(error) bool { return false }}
				n, err := p.print(t.Context(), timed(tt.at...))
				if n != len(tt.at) || err != nil || !rec.closed {
					t.Fatalf("print = %d, %v, closed %v; want %d, nil, closed", n, err, rec.closed, len(tt.at))
				}
				if diff := gocmp.Diff(tt.want, rec.written); diff != "" {
					t.Errorf("when rows were written (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestInterruptedSort: a signal during -sort prints the rows received so
// far, sorted, and says so in its error; without -sort the rows held are
// written, and the error says the output is partial too.
func TestInterruptedSort(t *testing.T) {
	for _, sorted := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(t.Context())
			list := func(ctx context.Context) iter.Seq2[int, error] {
				return func(yield func(int, error) bool) {
					for _, i := range []int{3, 1, 2} {
						if !yield(i, nil) {
							return
						}
					}
					<-ctx.Done()
					yield(0, ctx.Err())
				}
			}
			rec := &recorder{start: time.Now(), written: map[int]time.Duration{}}
			p := rows[int, int]{out: rec, row: identity, skip: func(error) bool { return false }}
			if sorted {
				p.order = cmp.Compare[int]
			}
			go func() {
				time.Sleep(time.Second)
				cancel(stopSignal{})
			}()
			n, err := p.print(ctx, list)
			var cut *partial
			if !errors.As(err, &cut) || cut.rows != 3 || cut.sorted != sorted || n != 3 || !errors.As(err, new(stopSignal)) {
				t.Fatalf("print = %d, %#v; want 3 and a *partial of 3 rows, sorted %v, caused by the signal", n, err, sorted)
			}
			want := []int{3, 1, 2}
			if sorted {
				want = []int{1, 2, 3}
			}
			if diff := gocmp.Diff(want, rec.order); diff != "" {
				t.Errorf("rows written (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSkippedErrors: an error that skip accepts is passed over; any other
// ends the listing with it, the rows before it written (sorted, with
// -sort), and says how many.
func TestSkippedErrors(t *testing.T) {
	gone, broken := errors.New("gone"), errors.New("broken")
	list := func(context.Context) iter.Seq2[int, error] {
		return func(yield func(int, error) bool) {
			_ = yield(2, nil) && yield(0, gone) && yield(1, nil) && yield(0, broken) && yield(3, nil)
		}
	}
	for _, sorted := range []bool{false, true} {
		rec := &recorder{start: time.Now(), written: map[int]time.Duration{}}
		p := rows[int, int]{out: rec, row: identity, skip: func(err error) bool { return err == gone }}
		want := []int{2, 1}
		if sorted {
			p.order = cmp.Compare[int]
			want = []int{1, 2}
		}
		n, err := p.print(t.Context(), list)
		var cut *partial
		if n != 2 || !errors.Is(err, broken) || !errors.As(err, &cut) || cut.rows != 2 || cut.sorted != sorted || rec.closed {
			t.Errorf("sorted %v: print = %d, %#v, closed %v; want 2, a *partial of 2 rows of broken, not closed", sorted, n, err, rec.closed)
		}
		if diff := gocmp.Diff(want, rec.order); diff != "" {
			t.Errorf("sorted %v: rows written (-want +got):\n%s", sorted, diff)
		}
	}
}
