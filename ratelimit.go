package opal

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Opal's rate limit is organisation-wide: every token of the organisation,
// every Terraform run and sync, shares 100 requests per second per route,
// and Opal sends no header that says how much is left. So a Client adapts
// to the 429s it gets, as TCP's congestion control does to lost packets: it
// starts well below its configured rate and doubles quickly until the first
// 429 (slow start); after that it climbs by a fixed step a second and, on a
// 429, falls to a fraction of its rate (additive increase, multiplicative
// decrease). Clients that all do so converge to equal shares of what Opal
// allows, wherever they start: a decrease takes more from the faster, an
// increase gives each the same.
//
// The rate is a ceiling, never a brake below it: it grows only while a
// request waits for it, and then until none waits, the configured rate or
// a 429. So a Client that asks for less keeps the rate it has (a sweep that
// begins long after NewClient still begins with the slow start, and one
// after a quiet spell with the rate that was learnt), and one that asks for
// more gets it within a second or so.
const (
	// DefaultRateLimit is the rate, in requests per second, that a Client
	// sends at most when WithRateLimit is not given: Opal's documented
	// limit per route.
	DefaultRateLimit = 100

	// slowStartDivisor sets where a Client starts: at its configured rate
	// divided by this, doubling every slowStartDoubling that a request
	// waits, so a sweep reaches the default limit in 300 ms.
	slowStartDivisor  = 8
	slowStartDoubling = 100 * time.Millisecond

	// increasePerSecond is what the rate gains, in requests a second, for
	// every second that a request waits for it after the slow start, and
	// decrease what a 429 multiplies it by. They were measured with
	// BenchmarkSweepFairness (two default Clients sharing Opal's 100 a
	// second; targets: fairness at least 0.95, within 1.15 of the ideal
	// time, under 5% of requests refused), six runs each of 20, 30 and 40
	// a second with 0.5, 0.7 and 0.8. The share of 429s grows with both:
	// 1.1 to 1.4% at 20 and 0.5, 2.6% at 30 and 0.7, 4.7 to 5.2% at 40 and
	// 0.8. Fairness was lowest with 0.5 (0.85 to 0.97, against 0.93 to
	// 0.99), the slower Client taking longest to climb back after halving;
	// the wall time, 1.02 to 1.18 of the ideal, did not tell them apart
	// beyond its noise. 30 and 0.7, the middle, met the three targets on
	// average with room to spare for the 429s. From the floor, 30 a second
	// brings a Client back to the default limit in about 3 s.
	increasePerSecond = 30
	decrease          = 0.7
	// minRate is the lowest rate a 429 brings a Client to (or its
	// configured rate, when that is lower): at one a second, a hundred
	// Clients at the floor still fit in Opal's 100 a second.
	minRate = 1.0

	// maxBurst bounds how many requests may go out at once after a quiet
	// spell: a tenth of the configured rate, at most 10. It is set by the
	// configured rate, not the current one, so that the slow start paces
	// a sweep without delaying the few requests of a single walk.
	maxBurst = 10

	// recheck bounds how long the first waiter sleeps before it works out
	// its turn again, while the rate may grow or a pause may end meanwhile.
	recheck = slowStartDoubling / 4
)

// limiter is a Client's shared, adaptive rate limit and its shared pause
// (a Retry-After that one call received holds back every call). It starts no
// goroutine: every change of rate is worked out, from the time elapsed, when
// a request asks for its turn or an answer comes.
//
// Turns go in order of arrival. Callers that find no turn free queue up;
// only the first of the queue watches the clock, and when it has its turn,
// the next becomes first. The first takes its turn from the bucket only
// when the bucket holds one at the rate of that moment, rather than by
// reservation: a reservation keeps the rate it was made at, so after a 429
// the queued turns would still go at the old pace.
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
	// queue holds the callers waiting for a turn, in order of arrival: a
	// caller's channel is closed when it becomes the first.
	queue []chan struct{}
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

// limits reports whether the Client has a rate limit.
func (l *limiter) limits() bool { return l.bucket != nil }

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

// waitTurn waits until a request may be sent: at once if no one is waiting and
// the rate allows it, otherwise after every caller that came before. It
// fails, with a *turnError, as soon as the turn would come after ctx's
// deadline at the rate of the moment, and with ctx's error when ctx is
// done first.
func (l *limiter) waitTurn(ctx context.Context) (turn, error) {
	l.mu.Lock()
	now := time.Now()
	if len(l.queue) == 0 {
		if t, ok := l.take(now); ok {
			l.mu.Unlock()
			return t, nil
		}
	}
	if wait := l.untilTurn(now, len(l.queue)); beyondDeadline(ctx, now, wait) {
		l.mu.Unlock()
		return turn{at: now}, &turnError{wait}
	}
	l.climb(now) // up to the moment the queue changes
	first := make(chan struct{})
	l.queue = append(l.queue, first)
	if len(l.queue) == 1 {
		close(first)
	}
	l.mu.Unlock()

	select {
	case <-first:
	case <-ctx.Done():
		l.leave(first)
		return turn{at: time.Now()}, ctx.Err()
	}
	for {
		l.mu.Lock()
		now := time.Now()
		if t, ok := l.take(now); ok {
			l.leaveLocked(now, first)
			l.mu.Unlock()
			return t, nil
		}
		wait := l.untilTurn(now, 0)
		if beyondDeadline(ctx, now, wait) {
			l.leaveLocked(now, first)
			l.mu.Unlock()
			return turn{at: now}, &turnError{wait}
		}
		if l.current < l.configured || l.pause.After(now) {
			wait = min(wait, recheck)
		}
		l.mu.Unlock()

		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			l.leave(first)
			return turn{at: time.Now()}, ctx.Err()
		}
	}
}

// take gives a turn now, if the pause is over and the bucket holds one.
// It takes no account of the queue.
func (l *limiter) take(now time.Time) (turn, bool) {
	if l.pause.After(now) {
		return turn{}, false
	}
	if l.bucket == nil {
		return turn{at: now}, true
	}
	l.climb(now)
	if !l.bucket.AllowN(now, 1) {
		return turn{}, false
	}
	l.given++
	return turn{at: now, before: l.given - 1}, true
}

// untilTurn is how long a caller with ahead callers before it waits for its
// turn, at the rate of the moment: after the pause, until the bucket has
// held a turn for each of them and one for it.
func (l *limiter) untilTurn(now time.Time, ahead int) time.Duration {
	start := now
	if l.pause.After(now) {
		start = l.pause
	}
	wait := start.Sub(now)
	if l.bucket == nil {
		return wait
	}
	missing := float64(ahead) + 1 - l.bucket.TokensAt(start)
	if missing <= 0 {
		return wait
	}
	if more := seconds(missing / l.current); more < math.MaxInt64-wait {
		return wait + more
	}
	return math.MaxInt64
}

// seconds converts seconds to a Duration, rounding up, saturating where a
// Duration ends: a rate as low as 5e-324 a second must not wrap a wait
// around to a negative one, which would let the request through (nor may
// the pause added to it, in untilTurn).
func seconds(s float64) time.Duration {
	const most = float64(math.MaxInt64)
	if ns := math.Ceil(s * float64(time.Second)); ns < most {
		return time.Duration(ns)
	}
	return math.MaxInt64
}

// beyondDeadline reports whether a turn that comes wait after now comes
// after ctx's deadline.
func beyondDeadline(ctx context.Context, now time.Time, wait time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return ok && wait > deadline.Sub(now)
}

// leave takes a caller out of the queue: it had its turn, or gave up.
func (l *limiter) leave(caller chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.leaveLocked(time.Now(), caller)
}

// leaveLocked is leave with l.mu held. When the first leaves, the next is
// first.
func (l *limiter) leaveLocked(now time.Time, caller chan struct{}) {
	i := slices.Index(l.queue, caller)
	if i < 0 {
		return
	}
	l.climb(now) // up to the moment the queue changes
	l.queue = slices.Delete(l.queue, i, i+1)
	if i == 0 && len(l.queue) > 0 {
		close(l.queue[0])
	}
}

// climb raises the rate for the time that requests waited for it since it
// was last worked out: doubling every slowStartDoubling in the slow start,
// otherwise by increasePerSecond a second, up to the configured rate. Time
// in which no request waited, or a Retry-After paused every request, says
// nothing about how much more Opal would take, and raises nothing.
//
// Every change of the queue is preceded by a climb, so that the queue was
// the same all the time since the last.
func (l *limiter) climb(now time.Time) {
	from := l.updated
	if l.pause.After(from) {
		from = l.pause
	}
	elapsed := now.Sub(from).Seconds()
	if len(l.queue) == 0 || l.current >= l.configured || elapsed <= 0 {
		if now.After(l.updated) {
			l.updated = now
		}
		return
	}
	grown := l.current + increasePerSecond*elapsed
	if l.slowStart {
		grown = l.current * math.Exp2(elapsed/slowStartDoubling.Seconds())
	}
	l.set(now, min(l.configured, grown))
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
// call: a later one, nor one already waiting, which the first of the queue
// finds at its next look, within recheck. Releasing a pause that has ended
// changes nothing.
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
