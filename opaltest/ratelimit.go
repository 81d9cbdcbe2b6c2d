package opaltest

import (
	"golang.org/x/time/rate"
)

// SetRateLimit makes the server refuse requests beyond perSecond a second,
// after a burst of up to burst, as Opal's own limit does: one bucket for
// the whole server, shared by every endpoint and every client, since Opal
// counts requests for the whole organisation. A refused request gets a 429
// with {"message":"rate limit exceeded"} and no Retry-After (Opal
// documents none); [Server.RateLimited] counts them.
//
// The limit is checked first, when a request arrives: every request counts,
// whatever its endpoint and token, and a refused one takes no fault from
// the queue of [Server.Inject]. So the faults a test injects meet the
// requests that pass the limit, in order, however many are refused
// meanwhile. A refused request is still kept in [Server.Requests], and its
// answer waits for [Server.SetLatency] as any other.
//
// Each call starts a full bucket. A perSecond of 0 or less turns the limit
// off, as it is until set; a burst below 1 is taken as 1.
func (s *Server) SetRateLimit(perSecond float64, burst int) {
	var limiter *rate.Limiter
	if perSecond > 0 {
		limiter = rate.NewLimiter(rate.Limit(perSecond), max(burst, 1))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limiter = limiter
}

// RateLimited returns how many requests the server has refused for its
// rate limit so far.
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rateLimited
}

// allow takes a turn from the rate limit, if there is one, and counts the
// request if it is refused. s.mu must be held.
func (s *Server) allow() bool {
	if s.limiter == nil || s.limiter.Allow() {
		return true
	}
	s.rateLimited++
	return false
}
