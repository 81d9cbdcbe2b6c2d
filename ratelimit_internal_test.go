package opal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestWithRateLimitRejectsBadValues(t *testing.T) {
	for _, v := range []float64{-1, -5e-324, math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := NewClient(testToken, WithRateLimit(v)); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("WithRateLimit(%v): error %v, want ErrInvalidArgument", v, err)
		}
	}
	for _, v := range []float64{0, 0.5, 100, 1e6} {
		if _, err := NewClient(testToken, WithRateLimit(v)); err != nil {
			t.Errorf("WithRateLimit(%v): %v", v, err)
		}
	}
}

// recordingLogger keeps the messages of the records written to it.
type recordingLogger struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recordingLogger) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		line := string(p)
		if i := strings.Index(line, `msg="`); i >= 0 {
			line = line[i+5:]
			line = line[:strings.Index(line, `"`)]
		}
		r.msgs = append(r.msgs, line)
		return len(p), nil
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (r *recordingLogger) count(msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

// rateNow is the limiter's rate now, worked out under its lock.
func (l *limiter) rateNow() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bucket != nil {
		l.climb(time.Now())
	}
	return l.current
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// busy takes turns from l, one after another, as a sweep does, until ctx
// is done; stop ends it and waits for it.
func busy(ctx context.Context, l *limiter) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			l.waitTurn(ctx)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// listUntil lists sessions, one call after another, until ctx's deadline
// stops them. It does not loop on ctx.Err(): a call that fails at once,
// its turn past the deadline, would spin without letting the bubble's
// clock move.
func listUntil(ctx context.Context, c *Client) {
	for {
		if _, err := c.Sessions.List(ctx, "r", nil); errors.Is(err, context.DeadlineExceeded) {
			return
		}
	}
}

// later is a turn given now, long after the Client's first burst.
func later() turn { return turn{at: time.Now(), before: 1 << 20} }

// TestSlowStart: a limiter starts at an eighth of its configured rate and,
// while it is kept busy, doubles every 100 ms until it reaches it. Idle, it
// keeps its rate: the slow start begins with the work, not with NewClient.
func TestSlowStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(800, nil)
		time.Sleep(time.Second)
		if got := l.rateNow(); got != 100 {
			t.Errorf("rate after a second without requests = %v, want 100, where it started", got)
		}
		stop := busy(t.Context(), l)
		defer stop()
		var rates []float64
		for range 5 {
			rates = append(rates, l.rateNow())
			time.Sleep(100 * time.Millisecond)
		}
		want := []float64{100, 200, 400, 800, 800}
		if diff := cmp.Diff(want, rates, cmpopts.EquateApprox(0.01, 0)); diff != "" {
			t.Errorf("rate every 100 ms of work (-want +got):\n%s", diff)
		}
	})
}

// TestThrottledLowersOncePerWindow: the 429s of one burst lower the rate
// once; a 429 to an attempt sent after that lowers it again; it never goes
// below 1 a second.
func TestThrottledLowersOncePerWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs recordingLogger
		l := newLimiter(100, logs.logger())
		stop := busy(t.Context(), l)
		time.Sleep(time.Second) // past the slow start
		stop()
		var burst []turn
		for range 5 {
			sent, err := l.waitTurn(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			burst = append(burst, sent)
		}
		time.Sleep(5 * time.Millisecond) // the answers come back
		for _, sent := range burst {
			l.throttled(sent)
		}
		if got := l.rateNow(); math.Abs(got-70) > 0.5 {
			t.Errorf("rate after a burst of 429s = %.2f, want 70 (lowered once)", got)
		}
		sent, err := l.waitTurn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		before := l.rateNow() // a little above 70: it grew while the turn was waited for
		l.throttled(sent)
		if got := l.rateNow(); math.Abs(got-before*decrease) > 1e-9 {
			t.Errorf("rate after a later 429 = %.2f, want %.2f", got, before*decrease)
		}
		for range 30 {
			time.Sleep(time.Millisecond)
			l.throttled(later())
		}
		if l.rateNow() != minRate {
			t.Errorf("rate after 30 more 429s = %v, want the floor of %v", l.rateNow(), minRate)
		}
		if n := logs.count("opal: rate lowered after a 429"); n != 32 {
			t.Errorf("%d records of a lowered rate, want 32, one per decrease", n)
		}
	})
}

// TestFirstBurstThrottledLowersNothing: a 429 to one of a Client's first
// requests, its first burst, says that Opal's bucket was empty when it
// started, not that its pace is too high: the slow start goes on. After
// them, a 429 lowers the rate.
func TestFirstBurstThrottledLowersNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(100, nil) // a burst of 10
		for range 10 {
			sent, err := l.waitTurn(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			l.throttled(sent)
		}
		stop := busy(t.Context(), l)
		time.Sleep(300 * time.Millisecond)
		stop()
		if got := l.rateNow(); math.Abs(got-100) > 1e-9 {
			t.Errorf("rate 300 ms after 429s to the first burst = %v, want 100: the slow start went on", got)
		}
		sent, err := l.waitTurn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		l.throttled(sent)
		if got := l.rateNow(); math.Abs(got-70) > 0.5 {
			t.Errorf("rate after a 429 past the first burst = %v, want 70", got)
		}
	})
}

// TestSteadyClientBelowItsLimitAdapts: a Client that sends fewer requests
// than its limit allows, one at a time, still slows down when Opal refuses
// them: it does not go on spending the organisation's quota on 429s.
func TestSteadyClientBelowItsLimitAdapts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		served := map[int64]int{}  // requests served in each second
		refused := map[int64]int{} // requests refused in each second
		start := time.Now()
		c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(15 * time.Millisecond) // a round trip
			mu.Lock()
			defer mu.Unlock()
			second := int64(time.Since(start) / time.Second)
			if served[second] >= 20 { // Opal leaves this Client 20 a second
				refused[second]++
				writeJSON(w, http.StatusTooManyRequests, `{"message":"rate limit exceeded"}`)
				return
			}
			served[second]++
			writeJSON(w, http.StatusOK, `{"results":[]}`)
		}, WithRateLimit(100), WithRetryMax(0))
		ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
		defer cancel()
		listUntil(ctx, c) // about 60 a second at most: below the limit
		mu.Lock()
		defer mu.Unlock()
		late := refused[5] + refused[6] + refused[7]
		if total := late + served[5] + served[6] + served[7]; late*5 > total {
			t.Errorf("%d of %d requests refused in the last 3 s, want at most a fifth: the Client did not slow down", late, total)
		}
	})
}

// TestRateClimbsBackAdditively: while the Client keeps asking and no 429
// comes, the rate climbs back by increasePerSecond every second, to the
// configured rate, which is logged once.
func TestRateClimbsBackAdditively(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs recordingLogger
		l := newLimiter(200, logs.logger())
		stop := busy(t.Context(), l)
		defer stop()
		time.Sleep(time.Second) // past the slow start
		l.throttled(later())
		var rates []float64
		for range 4 {
			time.Sleep(time.Second)
			rates = append(rates, l.rateNow())
		}
		want := []float64{140 + increasePerSecond, 140 + 2*increasePerSecond, 200, 200}
		if diff := cmp.Diff(want, rates, cmpopts.EquateApprox(0.01, 0)); diff != "" {
			t.Errorf("rate every second after a 429 (-want +got):\n%s", diff)
		}
		if n := logs.count("opal: rate back at its limit"); n != 1 {
			t.Errorf("%d records of the rate back at its limit, want 1", n)
		}
	})
}

// TestIdleRateStays: time in which no request waits for a turn raises
// nothing: a Client that asks for less than its rate keeps the rate it
// has, whether after the slow start began or after a 429.
func TestIdleRateStays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(200, nil)
		stop := busy(t.Context(), l)
		time.Sleep(100 * time.Millisecond) // one doubling of the slow start
		stop()
		slow := l.rateNow()
		time.Sleep(10 * time.Second)
		if got := l.rateNow(); got != slow {
			t.Errorf("rate after 10 s without a request waiting = %v, want %v, where it was", got, slow)
		}
		stop = busy(t.Context(), l)
		time.Sleep(time.Second)
		stop()
		l.throttled(later())
		lowered := l.rateNow()
		for range 10 { // a request a second, never waiting
			time.Sleep(time.Second)
			if _, err := l.waitTurn(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if got := l.rateNow(); got != lowered {
			t.Errorf("rate after 10 requests that never waited = %v, want %v, where it was", got, lowered)
		}
	})
}

// TestRateBelowOneIsACap: a limit under one request a second holds, the
// slow start and the floor of 429s included.
func TestRateBelowOneIsACap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		requests := 0
		c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
			requests++
			writeJSON(w, http.StatusOK, `{"results":[]}`)
		}, WithRateLimit(0.25))
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		listUntil(ctx, c)
		// One at once, then one every 4 s, the last at the deadline.
		if requests > 6 {
			t.Errorf("%d requests in 20 s at a limit of 0.25 a second, want at most 6", requests)
		}
		c.limiter.throttled(later())
		if got := c.limiter.rateNow(); got != 0.25 {
			t.Errorf("rate after a 429 = %v, want 0.25: never above the limit", got)
		}
	})
}

// TestRedirectsTakeTurns: a redirect that an attempt follows is a request
// of its own and waits for its own turn.
func TestRedirectsTakeTurns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var arrivals []time.Time
		c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
			arrivals = append(arrivals, time.Now())
			if r.URL.Path == "/v1/sessions" {
				http.Redirect(w, r, "/v1/sessions-moved?"+r.URL.RawQuery, http.StatusFound)
				return
			}
			writeJSON(w, http.StatusOK, `{"results":[]}`)
		}, WithRateLimit(1))
		for range 3 {
			if _, err := c.Sessions.List(t.Context(), "r", nil); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(arrivals); n != 6 || arrivals[5].Sub(arrivals[0]) < 5*time.Second {
			t.Errorf("%d requests in %v at a limit of 1 a second, want 6 in 5 s or more", n, arrivals[len(arrivals)-1].Sub(arrivals[0]))
		}
	})
}

// TestRateIsSharedByCallsAndRetries: every attempt of every call, retries
// included, takes its turn from one limiter: 8 goroutines whose requests
// fail every other time send no more than the rate allows, all together.
func TestRateIsSharedByCallsAndRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var arrivals []time.Time
		c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			arrivals = append(arrivals, time.Now())
			n := len(arrivals)
			mu.Unlock()
			if n%2 == 0 {
				writeJSON(w, http.StatusServiceUnavailable, `{"message":"try again"}`)
				return
			}
			writeJSON(w, http.StatusOK, `{"results":[]}`)
		}, WithRateLimit(20), WithRetryWait(0, 0))
		start := time.Now()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() { listUntil(ctx, c) })
		}
		wg.Wait()
		// After the slow start (300 ms), at most 20 a second plus the
		// burst of 2.
		steady := 0
		for _, at := range arrivals {
			if at.Sub(start) >= 2*time.Second && at.Sub(start) < 4*time.Second {
				steady++
			}
		}
		if steady > 2*20+2 || steady < 2*20-2 {
			t.Errorf("%d attempts in 2 s at a limit of 20 a second, want about 40", steady)
		}
	})
}

// TestRateChangeReachesWaitersAtOnce: goroutines already waiting for a turn
// go at the lowered pace at once, not at the pace of the rate they began
// waiting at.
func TestRateChangeReachesWaitersAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(200, nil)
		ctx, cancel := context.WithCancel(t.Context())
		var mu sync.Mutex
		var turns []turn
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for {
					at, err := l.waitTurn(ctx)
					if err != nil {
						return
					}
					mu.Lock()
					turns = append(turns, at)
					mu.Unlock()
				}
			})
		}
		time.Sleep(time.Second) // past the slow start
		drop := time.Now()
		for l.rateNow() > 10 { // 429s, each to an attempt sent after the last decrease
			l.throttled(later())
			time.Sleep(time.Microsecond)
		}
		rate := l.rateNow()
		time.Sleep(time.Second)
		cancel()
		wg.Wait()
		after := 0
		for _, at := range turns {
			if at.at.After(drop) && !at.at.After(drop.Add(time.Second)) {
				after++
			}
		}
		// The rate climbs back by increasePerSecond within the second, and
		// the bucket's burst is spent at the decrease.
		if limit := int(rate+increasePerSecond/2) + 1; after > limit {
			t.Errorf("%d turns in the second after the rate fell to %.1f a second, want at most %d", after, rate, limit)
		}
	})
}

// TestRetryAfterPausesEveryCall: a 429 with a Retry-After that its call
// waits out holds back the other calls of the Client too.
func TestRetryAfterPausesEveryCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs recordingLogger
		var mu sync.Mutex
		var arrivals []time.Time
		first := true
		c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			arrivals = append(arrivals, time.Now())
			pause := first
			first = false
			mu.Unlock()
			if pause {
				w.Header().Set("Retry-After", "2")
				writeJSON(w, http.StatusTooManyRequests, `{"message":"slow down"}`)
				return
			}
			writeJSON(w, http.StatusOK, `{"results":[]}`)
		}, WithLogger(logs.logger()))
		start := time.Now()
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, err := c.Sessions.List(t.Context(), "r", nil); err != nil {
				t.Error(err)
			}
		})
		time.Sleep(500 * time.Millisecond)
		if _, err := c.Sessions.List(t.Context(), "r", nil); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		var offsets []time.Duration
		for _, at := range arrivals {
			offsets = append(offsets, at.Sub(start))
		}
		// The 429 at 0; the other call and the retry both at 2 s.
		if diff := cmp.Diff([]time.Duration{0, 2 * time.Second, 2 * time.Second}, offsets); diff != "" {
			t.Errorf("arrivals (-want +got):\n%s", diff)
		}
		if n := logs.count("opal: pausing every request"); n != 1 {
			t.Errorf("%d records of the pause, want 1", n)
		}
	})
}

// TestTurnPastTheDeadlineFailsAtOnce: a call whose turn cannot come before
// its context's deadline fails at once, with an error that matches
// context.DeadlineExceeded and says it is a timeout, and is not retried.
func TestTurnPastTheDeadlineFailsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		requests := 0
		c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
			requests++
			writeJSON(w, http.StatusOK, `{"results":[]}`)
		}, WithRateLimit(1))
		if _, err := c.Sessions.List(t.Context(), "r", nil); err != nil { // the one token
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Sessions.List(ctx, "r", nil)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("List error = %v, want one matching context.DeadlineExceeded", err)
		}
		var timeout interface{ Timeout() bool }
		if !errors.As(err, &timeout) || !timeout.Timeout() {
			t.Errorf("List error = %v, want Timeout() true", err)
		}
		if waited := time.Since(start); waited != 0 {
			t.Errorf("List waited %v for a turn that could not come in time", waited)
		}
		if requests != 1 {
			t.Errorf("%d requests, want 1: the second call sends nothing", requests)
		}
	})
}

// TestTurnWaitHonoursCancel: a call waiting for its turn ends when its
// context is cancelled, with the context's error.
func TestTurnWaitHonoursCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, `{"results":[]}`)
		}, WithRateLimit(1))
		if _, err := c.Sessions.List(t.Context(), "r", nil); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		if _, err := c.Sessions.List(ctx, "r", nil); !errors.Is(err, context.Canceled) {
			t.Errorf("List error = %v, want context.Canceled", err)
		}
		if waited := time.Since(start); waited != 50*time.Millisecond {
			t.Errorf("List returned %v after the cancel, want at once", waited-50*time.Millisecond)
		}
	})
}

// TestTurnWaitIsNotPartOfTheAttemptTimeout: http.Client.Timeout bounds an
// attempt, not the wait for its turn before it.
func TestTurnWaitIsNotPartOfTheAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, `{"results":[]}`)
		}, WithRateLimit(2), WithRetryMax(0))
		c.httpClient.Timeout = 100 * time.Millisecond
		for i := range 4 { // the burst of 1, then a turn every 500 ms or so
			if _, err := c.Sessions.List(t.Context(), "r", nil); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
	})
}

// TestLimiterStartsNoGoroutine: a Client has no Close, so its limiter must
// need none: taking turns, waiting included, leaves nothing running.
func TestLimiterStartsNoGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(50, nil)
		for range 20 {
			if _, err := l.waitTurn(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		l.throttled(later())
		l.pauseUntil(time.Now().Add(time.Second))
		if _, err := l.waitTurn(t.Context()); err != nil {
			t.Fatal(err)
		}
		// synctest.Test fails if a goroutine started in the bubble is
		// still running when this function returns.
	})
}

// TestLimitIsACeilingNotABrake: a Client that asks for fewer requests a
// second than its limit, and gets no 429, runs at the pace it asks for
// within two seconds, whatever its round trip; one that asks for more runs
// at its limit. Sequential callers with a burst of one (limits under 20) are
// the case that once stayed at the slow start's eighth of the limit.
func TestLimitIsACeilingNotABrake(t *testing.T) {
	tests := []struct {
		limit     float64
		callers   int
		roundTrip time.Duration
		want      float64 // requests a second, once settled
	}{
		{limit: 10, callers: 1, roundTrip: 0, want: 10},
		{limit: 10, callers: 1, roundTrip: time.Millisecond, want: 10},
		{limit: 10, callers: 1, roundTrip: 150 * time.Millisecond, want: 1 / 0.15},
		{limit: 2, callers: 1, roundTrip: 0, want: 2},
		{limit: 100, callers: 1, roundTrip: 0, want: 100},
		{limit: 100, callers: 1, roundTrip: 5 * time.Millisecond, want: 100},
		{limit: 100, callers: 1, roundTrip: 50 * time.Millisecond, want: 20},
		{limit: 100, callers: 4, roundTrip: 100 * time.Millisecond, want: 40},
		{limit: 100, callers: 16, roundTrip: 20 * time.Millisecond, want: 100},
		{limit: 1000, callers: 16, roundTrip: 20 * time.Millisecond, want: 800},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("limit %v, %d callers, round trip %v", tt.limit, tt.callers, tt.roundTrip)
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				var arrivals []time.Duration
				start := time.Now()
				c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					arrivals = append(arrivals, time.Since(start))
					mu.Unlock()
					time.Sleep(tt.roundTrip)
					writeJSON(w, http.StatusOK, `{"results":[]}`)
				}, WithRateLimit(tt.limit))
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				var wg sync.WaitGroup
				for range tt.callers {
					wg.Go(func() { listUntil(ctx, c) })
				}
				wg.Wait()
				settled := 0 // requests sent from 2 s to 5 s
				for _, at := range arrivals {
					if at >= 2*time.Second && at < 5*time.Second {
						settled++
					}
				}
				if got := float64(settled) / 3; math.Abs(got-tt.want) > max(1, tt.want/20) {
					t.Errorf("%.1f requests a second from 2 s to 5 s, want %.1f", got, tt.want)
				}
			})
		})
	}
}

// TestTurnsGoInOrderOfArrival: callers that find no turn free have their
// turns in the order they asked, however their wake-ups fall.
func TestTurnsGoInOrderOfArrival(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(100, nil)
		for range 10 { // the burst
			if _, err := l.waitTurn(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		const callers = 50
		var mu sync.Mutex
		var order []int
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				if _, err := l.waitTurn(t.Context()); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
			})
			synctest.Wait() // caller i is waiting before caller i+1 asks
		}
		wg.Wait()
		want := make([]int, callers)
		for i := range want {
			want[i] = i
		}
		if diff := cmp.Diff(want, order); diff != "" {
			t.Errorf("callers in the order they had their turns (-want +got):\n%s", diff)
		}
	})
}

// TestTurnWaitsOfManyCallers: 80 goroutines sharing one Client, each making
// 8 calls one after another, 640 calls in all: at 100 a second each call's
// fair wait is 80 turns, 0.8 s, and first come first served, no call waits
// much longer than that. (Before turns were queued, the turn went to whoever
// woke first: p99 waited 3.3 s and one call 4.9 s.)
func TestTurnWaitsOfManyCallers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const callers, calls = 80, 8
		l := newLimiter(DefaultRateLimit, nil)
		var mu sync.Mutex
		var waits []time.Duration
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				for range calls {
					asked := time.Now()
					if _, err := l.waitTurn(t.Context()); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					waits = append(waits, time.Since(asked))
					mu.Unlock()
					time.Sleep(5 * time.Millisecond) // the request
				}
			})
		}
		wg.Wait()
		slices.Sort(waits)
		percentile := func(p float64) time.Duration { return waits[int(p*float64(len(waits)-1))] }
		p50, p99, most := percentile(0.5), percentile(0.99), waits[len(waits)-1]
		t.Logf("waits of %d calls: p50 %v, p99 %v, max %v", len(waits), p50, p99, most)
		fair := callers * time.Second / DefaultRateLimit
		// The first calls also wait out the slow start.
		if p99 > fair*5/4 || most > fair*3/2 {
			t.Errorf("p99 waited %v and the longest %v, want within a quarter more than the fair wait of %v, and the longest within a half more", p99, most, fair)
		}
	})
}

// TestTinyAndHugeRates: any positive limit limits, however small: no wait
// overflows into letting a call through, and a call whose turn is too far
// off for its deadline fails at once; a huge limit lets every call through
// within a millisecond.
func TestTinyAndHugeRates(t *testing.T) {
	tests := []struct {
		perSecond  float64
		within     time.Duration
		want       int  // requests sent within that time by 4 callers that keep calling
		nextTooFar bool // then the next turn is more than a minute away
	}{
		{5e-324, time.Hour, 1, true},
		{1e-300, time.Hour, 1, true},
		{1e-10, time.Hour, 1, true},
		{1e-3, time.Hour, 4, true}, // at 0, 1000, 2000 and 3000 s
		{0.5, 10 * time.Second, 6, false},
		{1e9, time.Millisecond, 4 * 100, false},
		{1e300, time.Millisecond, 4 * 100, false},
		{math.MaxFloat64, time.Millisecond, 4 * 100, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.perSecond), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var mu sync.Mutex
				requests := 0
				c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					if time.Since(start) <= tt.within {
						requests++
					}
					mu.Unlock()
					writeJSON(w, http.StatusOK, `{"results":[]}`)
				}, WithRateLimit(tt.perSecond))
				ctx, cancel := context.WithCancel(t.Context())
				var wg sync.WaitGroup
				for range 4 {
					wg.Go(func() {
						for range 100 {
							if _, err := c.Sessions.List(ctx, "r", nil); err != nil {
								return
							}
						}
					})
				}
				time.Sleep(tt.within)
				synctest.Wait()
				cancel()
				wg.Wait()
				mu.Lock()
				if requests != tt.want {
					t.Errorf("%d requests within %v at a limit of %v a second, want %d", requests, tt.within, tt.perSecond, tt.want)
				}
				mu.Unlock()

				ctx, cancel = context.WithTimeout(t.Context(), time.Minute)
				defer cancel()
				asked := time.Now()
				_, err := c.Sessions.List(ctx, "r", nil)
				switch {
				case tt.nextTooFar && (!errors.Is(err, context.DeadlineExceeded) || time.Since(asked) != 0):
					t.Errorf("a call with a minute to go, its turn further: %v after %v, want a deadline error at once", err, time.Since(asked))
				case !tt.nextTooFar && err != nil:
					t.Errorf("a call with a minute to go, its turn sooner: %v", err)
				}
			})
		})
	}
}

// TestWaitsSaturate: a pause and a tiny rate that add up to more than a
// Duration holds make the longest wait there is, not one wrapped around to
// a negative wait, which would let the turn through at once.
func TestWaitsSaturate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(1e-300, nil)
		if _, err := l.waitTurn(t.Context()); err != nil { // the burst of one
			t.Fatal(err)
		}
		l.pauseUntil(time.Now().Add(time.Hour))
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Hour)
		defer cancel()
		asked := time.Now()
		_, err := l.waitTurn(ctx)
		var turnErr *turnError
		if !errors.As(err, &turnErr) || turnErr.wait != math.MaxInt64 || time.Since(asked) != 0 {
			t.Errorf("turn after %v: %v, want at once a turn error for the longest wait", time.Since(asked), err)
		}
	})
}

// TestThrottledRetryWaitsForItsTurn: with the limiter on, a call's first
// 429 is retried at its next turn, the limiter having lowered the rate, not
// after a backoff of WithRetryWait's minimum second; refused again, the call
// backs off as from any other failure. With no limiter, a 429 backs off.
func TestThrottledRetryWaitsForItsTurn(t *testing.T) {
	tests := []struct {
		name  string
		limit float64
		first func(gap time.Duration) bool // the wait before the first retry
	}{
		{"limiter on", DefaultRateLimit, func(gap time.Duration) bool { return gap == 0 }},
		{"no limiter", 0, func(gap time.Duration) bool { return gap >= time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var arrivals attemptTimes
				c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
					if arrivals.record() <= 2 {
						writeJSON(w, http.StatusTooManyRequests, `{"message":"rate limit exceeded"}`)
						return
					}
					writeJSON(w, http.StatusOK, `{"results":[]}`)
				}, WithRateLimit(tt.limit), WithRetryWait(defaultRetryWaitMin, defaultRetryWaitMax))
				if _, err := c.Sessions.List(t.Context(), "r", nil); err != nil {
					t.Fatal(err)
				}
				gaps := arrivals.gaps()
				if len(gaps) != 2 || !tt.first(gaps[0]) || gaps[1] < defaultRetryWaitMin {
					t.Errorf("waits before the retries: %v", gaps)
				}
			})
		})
	}
}

// TestClientsConvergeToEqualShares: two Clients that share Opal's limit,
// one cut to a quarter of the other's rate, both always asking for more,
// both refused whenever together they ask for more than Opal's 100 a
// second: additive increase and multiplicative decrease bring them to
// equal shares. (Growing by a share of itself instead, the faster would
// keep its lead for ever.)
func TestClientsConvergeToEqualShares(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := newLimiter(DefaultRateLimit, nil), newLimiter(DefaultRateLimit, nil)
		defer busy(t.Context(), a)()
		defer busy(t.Context(), b)()
		time.Sleep(time.Second) // past the slow start, both at 100
		for range 4 {
			b.throttled(later())
			time.Sleep(time.Millisecond)
		}
		if ra, rb := a.rateNow(), b.rateNow(); rb > ra/4 {
			t.Fatalf("rates %.1f and %.1f, want the second a quarter of the first or less", ra, rb)
		}
		for range 2000 { // 20 s
			time.Sleep(10 * time.Millisecond)
			if a.rateNow()+b.rateNow() > 100 {
				a.throttled(later())
				b.throttled(later())
			}
		}
		if ra, rb := a.rateNow(), b.rateNow(); math.Abs(ra-rb) > 0.05*(ra+rb) {
			t.Errorf("rates after 20 s of sharing: %.1f and %.1f, want within a tenth of their mean", ra, rb)
		}
	})
}
