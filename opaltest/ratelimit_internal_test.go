package opaltest

import (
	"net/http"
	"net/http/httptest"
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
