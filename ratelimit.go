package opal

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Opal's rate limit is organisation-wide: every token of the organisation,
// every Terraform run and sync, shares 100 requests per second per route,
// and Opal sends no header that says how much is left. So a Client adapts
// to the 429s it gets, as TCP does to lost packets: it starts well below
// its configured rate and doubles quickly until the first 429 (slow start),
// lowers its rate multiplicatively on a 429, and climbs back slowly,
// relative to where it is, while no 429 comes.
//
// As TCP's window grows only while it is used, the rate grows only while
// the Client asks for more than it allows: an idle Client keeps the rate it
// had, so a sweep that begins long after NewClient still begins with the
// slow start, and one after a quiet spell with the rate that was learnt.
const (
	// DefaultRateLimit is the rate, in requests per second, that a Client
	// sends at most when WithRateLimit is not given: Opal's documented
	// limit per route.
	DefaultRateLimit = 100

	// slowStartDivisor sets where a Client starts: at its configured rate
	// divided by this, doubling every slowStartDoubling.
	slowStartDivisor  = 8
	slowStartDoubling = 100 * time.Millisecond
	// decrease is what a 429 multiplies the rate by; never below minRate,
	// or the configured rate when that is lower.
	decrease = 0.7
	minRate  = 1.0
	// climbPerSecond is how much the rate grows in a second without a 429:
	// by a quarter of itself, so that a Client configured far above the real
	// limit approaches it gently rather than oscillating around it.
	climbPerSecond = 1.25
	// maxBurst bounds how many requests may go out at once after a quiet
	// spell: a tenth of the configured rate, at most 10. It is set by the
	// configured rate, not the current one, so that the slow start paces
	// a sweep without delaying the few requests of a single walk.
	maxBurst = 10
)

// limiter is a Client's shared, adaptive rate limit and its shared pause
// (a Retry-After that one call received holds back every call). It starts no
// goroutine: every change of rate is worked out, from the time elapsed, when
// a request asks for its turn.
//
// Turns are taken with AllowN, never reserved: a waiter sleeps for as long as
// the next token takes at the current rate, then asks again. A reservation
// would keep the rate it was made at, so after a 429 the attempts already
// queued would still go out at the old pace.
type limiter struct {
	configured float64 // requests per second; 0 means no limit
	floor      float64 // the lowest rate a 429 may bring it to
	logger     *slog.Logger

	mu        sync.Mutex
	given     int           // turns given so far
	bucket    *rate.Limiter // nil when there is no limit
	current   float64       // the rate now
	slowStart bool          // doubling until the first 429
	updated   time.Time     // when current was last worked out
	lowered   time.Time     // when current was last lowered
	pause     time.Time     // no turn before this time: a shared Retry-After

	// The Retry-After pauses that calls hold, each until its time: pause
	// is the latest of them.
	holds map[*time.Time]bool
}

func newLimiter(perSecond float64, logger *slog.Logger) *limiter {
	l := &limiter{configured: perSecond, floor: min(minRate, perSecond), logger: logger}
	if perSecond > 0 {
		now := time.Now()
		l.current = max(l.floor, perSecond/slowStartDivisor)
		l.slowStart = l.current < perSecond
		l.updated = now
		l.bucket = rate.NewLimiter(rate.Limit(l.current), int(min(maxBurst, max(1, perSecond/10))))
	}
	return l
}

// turnError is a turn that cannot come before the context's deadline. It
// matches context.DeadlineExceeded, since the caller's deadline is what
// cannot be met, and it is not retried.
type turnError struct{ wait time.Duration }

func (e *turnError) Error() string {
	return fmt.Sprintf("rate limit: the next turn, in %v, is past the context's deadline", e.wait.Round(time.Millisecond))
}
func (e *turnError) Is(target error) bool { return target == context.DeadlineExceeded }

// Timeout reports true, as context.DeadlineExceeded does.
func (e *turnError) Timeout() bool { return true }

func (e *turnError) retryable() bool { return false }

// A turn is when a request may be sent, and how many turns the limiter
// had given before it.
type turn struct {
	at     time.Time
	before int
}

// turn waits until a request may be sent. It fails, with a *turnError, as
// soon as the next turn would come after ctx's deadline, and with ctx's
// error when ctx is done first.
func (l *limiter) turn(ctx context.Context) (turn, error) {
	for {
		t, wait := l.tryTurn()
		if wait <= 0 {
			return t, nil
		}
		if deadline, ok := ctx.Deadline(); ok && t.at.Add(wait).After(deadline) {
			return t, &turnError{wait}
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return t, ctx.Err()
		}
	}
}

// tryTurn takes a turn if there is one now, and otherwise says how long the
// next one may take at the current rate. It is only a guess: a change of
// rate, or another goroutine taking the turn, is seen when the waiter asks
// again.
func (l *limiter) tryTurn() (turn, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if wait := l.pause.Sub(now); wait > 0 {
		return turn{at: now}, wait
	}
	if l.bucket == nil {
		return turn{at: now}, 0
	}
	l.climb(now)
	if l.bucket.AllowN(now, 1) {
		l.given++
		return turn{at: now, before: l.given - 1}, 0
	}
	missing := 1 - l.bucket.TokensAt(now)
	return turn{at: now}, time.Duration(math.Ceil(missing / l.current * float64(time.Second)))
}

// climb raises the rate for the time elapsed since it was last worked out:
// doubling every slowStartDoubling in the slow start, otherwise by
// climbPerSecond a second, up to the configured rate. It does not while the
// bucket is full: the Client is asking for less than the rate allows, and
// time spent so says nothing about how much more Opal would take.
func (l *limiter) climb(now time.Time) {
	if l.current >= l.configured {
		return
	}
	elapsed := now.Sub(l.updated)
	if elapsed <= 0 {
		return
	}
	if l.bucket.TokensAt(now) >= float64(l.bucket.Burst()) {
		l.updated = now
		return
	}
	growth := math.Pow(climbPerSecond, elapsed.Seconds())
	if l.slowStart {
		growth = math.Pow(2, elapsed.Seconds()/slowStartDoubling.Seconds())
	}
	l.set(now, min(l.configured, l.current*growth))
	if l.current == l.configured && !l.slowStart {
		l.log("opal: rate back at its limit", slog.Float64("per_second", l.current))
	}
	if l.current == l.configured {
		l.slowStart = false
	}
}

// throttled lowers the rate after a 429 to an attempt sent at the turn t.
// The 429s of one burst arrive together; only the first of those sent after
// the last decrease lowers the rate again, or a burst would collapse it.
//
// A 429 to one of the Client's very first requests, its first burst, says
// that Opal's bucket was empty when the Client started (another
// integration's burst, say), not that its pace, an eighth of its limit, is
// too high: it lowers nothing, or it would end the slow start at a crawl.
func (l *limiter) throttled(t turn) {
	if l.bucket == nil || t.before < l.bucket.Burst() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.at.Before(l.lowered) {
		return
	}
	now := time.Now()
	l.climb(now)
	l.slowStart = false
	l.lowered = now
	l.set(now, max(l.floor, l.current*decrease))
	// What the bucket saved up while the rate was too high would go out at
	// once: spend it.
	if saved := int(l.bucket.TokensAt(now)); saved > 0 {
		l.bucket.AllowN(now, saved)
	}
	l.log("opal: rate lowered after a 429", slog.Float64("per_second", l.current))
}

// pauseUntil holds back every turn until t, as a Retry-After asked, for
// as long as the pause is held: until the returned release is called. A
// call that asked for the pause releases it when it ends, so that a pause
// that no call waited out (its call gave up first) holds back no other
// call. Releasing a pause that has ended changes nothing.
func (l *limiter) pauseUntil(t time.Time) (release func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	hold := &t
	if l.holds == nil {
		l.holds = map[*time.Time]bool{}
	}
	l.holds[hold] = true
	if t.After(l.pause) {
		l.pause = t
		l.log("opal: pausing every request", slog.Duration("delay", time.Until(t).Round(time.Millisecond)))
	}
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.holds, hold)
		l.pause = time.Time{}
		for until := range l.holds {
			if until.After(l.pause) {
				l.pause = *until
			}
		}
	}
}

func (l *limiter) set(now time.Time, perSecond float64) {
	l.current = perSecond
	l.updated = now
	l.bucket.SetLimitAt(now, rate.Limit(perSecond))
}

func (l *limiter) log(msg string, attrs ...slog.Attr) {
	if l.logger == nil || !l.logger.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	l.logger.LogAttrs(context.Background(), slog.LevelDebug, msg, attrs...)
}
