package opaltest

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// serveInBubble answers one GET of the server's sessions, without a
// network, so that a test in a synctest bubble sees the rate limit and the
// latency on the bubble's clock.
func serveInBubble(s *Server) int {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/v1/sessions?resource_id=r", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	s.serve(rec, req)
	return rec.Code
}

// TestRateLimitRefills: after a refusal, a request passes again once the
// bucket has had time to refill, and not before.
func TestRateLimitRefills(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newServer(nil)
		s.SetRateLimit(50, 1) // a turn every 20 ms
		var got []int
		got = append(got, serveInBubble(s), serveInBubble(s))
		time.Sleep(19 * time.Millisecond)
		got = append(got, serveInBubble(s))
		time.Sleep(time.Millisecond)
		got = append(got, serveInBubble(s), serveInBubble(s))
		if diff := cmp.Diff([]int{200, 429, 429, 200, 429}, got); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
		if n := s.RateLimited(); n != 3 {
			t.Errorf("RateLimited() = %d, want 3", n)
		}
	})
}

// TestDrainedBucketHoldsNoAnswer: the server's own rate limit and latency
// never hold an answer back beyond the latency, however many requests
// arrive at once and however many are refused: 40 requests at once drain a
// bucket of 20, and every answer, refusal or not, comes exactly 5 ms after
// its request; once the bucket has refilled, the next 20 pass, as promptly.
// (No request waits for another's latency, as it would if the wait were
// taken under the server's lock.)
func TestDrainedBucketHoldsNoAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const latency = 5 * time.Millisecond
		s := newServer(nil)
		s.SetRateLimit(200, 20)
		s.SetLatency(latency)
		burst := func(n int) map[int]int {
			var mu sync.Mutex
			statuses := map[int]int{}
			asked := time.Now()
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					status := serveInBubble(s)
					if took := time.Since(asked); took != latency {
						t.Errorf("answered after %v, want %v", took, latency)
					}
					mu.Lock()
					statuses[status]++
					mu.Unlock()
				})
			}
			wg.Wait()
			return statuses
		}
		if diff := cmp.Diff(map[int]int{200: 20, 429: 20}, burst(40)); diff != "" {
			t.Errorf("statuses of 40 requests at once (-want +got):\n%s", diff)
		}
		time.Sleep(100 * time.Millisecond) // 20 turns at 200 a second
		if diff := cmp.Diff(map[int]int{200: 20}, burst(20)); diff != "" {
			t.Errorf("statuses of 20 requests once the bucket refilled (-want +got):\n%s", diff)
		}
	})
}
