package opal_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
	"golang.org/x/sync/errgroup"
)

// The sweep benchmarks measure a sweep of 300 resources of 20 sessions each,
// or of 20 grants each, against an opaltest server limited, as Opal is, for
// the whole organisation:
// 200 requests a second with a burst of 20, every answer 5 ms late. A
// neighbour, another integration of the organisation that does not adapt,
// sends 60 requests a second at a fixed pace meanwhile, so the sweep has
// 140 a second left: its ideal wall time is its requests divided by 140.
const (
	sweepResources   = 300
	sweepPerResource = 20
	sweepServerRate  = 200
	sweepServerBurst = 20
	sweepLatency     = 5 * time.Millisecond
	neighbourRate    = 60
)

// sweepServer starts the organisation: the server and its resources' IDs.
// Each resource has sweepPerResource sessions and as many grants.
func sweepServer(b *testing.B) (*opaltest.Server, []string) {
	b.Helper()
	ids := make([]string, sweepResources)
	var sessions []opal.Session
	var grants []opal.ResourceAccessUser
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	for r := range ids {
		ids[r] = fmt.Sprintf("00000000-0000-4000-8000-%012d", r)
		for u := range sweepPerResource {
			sessions = append(sessions, opal.Session{
				ConnectionID:   fmt.Sprintf("c-%d-%d", r, u),
				UserID:         fmt.Sprintf("u-%d", u),
				ResourceID:     ids[r],
				ExpirationDate: expires,
			})
			grants = append(grants, opal.ResourceAccessUser{
				ResourceID:      ids[r],
				UserID:          fmt.Sprintf("u-%d", u),
				HasDirectAccess: u%2 == 0,
				NumAccessPaths:  1,
			})
		}
	}
	srv := opaltest.NewServer(sessions...)
	srv.AddAccess(grants...)
	b.Cleanup(srv.Close)
	srv.SetLatency(sweepLatency)
	srv.SetRateLimit(sweepServerRate, sweepServerBurst)
	return srv, ids
}

// neighbour sends neighbourRate requests a second to srv, each on its own
// goroutine, without retries or client-side limit, until stop is called.
// succeeded counts the requests that were answered with a page.
func neighbour(b *testing.B, srv *opaltest.Server, resourceID string) (succeeded *atomic.Int32, stop func()) {
	client, err := srv.Client(opal.WithRateLimit(0), opal.WithRetryMax(0), opal.WithUserAgent("neighbour/1"))
	if err != nil {
		b.Fatal(err)
	}
	succeeded = new(atomic.Int32)
	var wg sync.WaitGroup
	done := make(chan struct{})
	ticker := time.NewTicker(time.Second / neighbourRate)
	wg.Go(func() {
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				wg.Go(func() {
					_, err := client.Sessions.List(context.Background(), resourceID, nil)
					switch {
					case err == nil:
						succeeded.Add(1)
					case !errors.Is(err, opal.ErrRateLimited):
						b.Error(err)
					}
				})
			}
		}
	})
	return succeeded, func() {
		close(done)
		wg.Wait()
	}
}

// A sweeper reads every item (session or grant) of ids through client, and
// returns a key for each that tells it from every other item of the
// organisation.
type sweeper func(client *opal.Client, ids []string) ([]string, error)

// sweepFigures runs sweep once per iteration, on a new server each time, with
// the neighbour, and reports the sweep's wall time against the ideal (one
// request per resource, at the 140 a second the neighbour leaves), the
// sweep's requests, the 429s the server sent to either client during the
// sweep, and the neighbour's answered requests a second meanwhile. The
// sweep's client is made before the neighbour's first second, as a job makes
// its client at start-up. With drained, another integration empties the
// server's bucket just before the sweep starts.
func sweepFigures(b *testing.B, opts []opal.Option, sweep sweeper, drained bool) {
	var elapsed time.Duration
	var sweepRequests, limited, neighbourOK int
	for b.Loop() {
		b.StopTimer()
		srv, ids := sweepServer(b)
		client, err := srv.Client(append([]opal.Option{opal.WithUserAgent("sweep/1")}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		succeeded, stop := neighbour(b, srv, ids[0])
		time.Sleep(time.Second) // the neighbour's steady pace first
		if drained {
			drain(b, srv, ids[1])
		}
		limitedBefore, okBefore := srv.RateLimited(), succeeded.Load()
		b.StartTimer()

		start := time.Now()
		items, err := sweep(client, ids)
		took := time.Since(start)

		b.StopTimer()
		limited += srv.RateLimited() - limitedBefore
		neighbourOK += int(succeeded.Load() - okBefore)
		stop()
		if err != nil {
			b.Fatal(err)
		}
		checkEveryItemOnce(b, items)
		for _, r := range srv.Requests() {
			if r.Header.Get("User-Agent") != "" && strings.HasPrefix(r.Header.Get("User-Agent"), "sweep/") {
				sweepRequests++
			}
		}
		elapsed += took
		b.StartTimer()
	}
	n := float64(b.N)
	ideal := sweepResources / float64(sweepServerRate-neighbourRate)
	b.ReportMetric(elapsed.Seconds()/n, "s/sweep")
	b.ReportMetric(elapsed.Seconds()/n/ideal, "x-ideal")
	b.ReportMetric(float64(sweepRequests)/n, "requests/sweep")
	b.ReportMetric(float64(limited)/n, "429s/sweep")
	b.ReportMetric(100*float64(limited)/float64(sweepRequests), "429s-%-of-requests")
	b.ReportMetric(float64(neighbourOK)/elapsed.Seconds(), "neighbour-ok/s")
}

// drain empties the server's bucket, as another integration's burst does,
// with requests that are not the sweep's.
func drain(b *testing.B, srv *opaltest.Server, resourceID string) {
	client, err := srv.Client(opal.WithRetryMax(0), opal.WithUserAgent("drain/1"))
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 2 * sweepServerBurst {
		wg.Go(func() { _, _ = client.Sessions.List(context.Background(), resourceID, nil) })
	}
	wg.Wait()
}

// checkEveryItemOnce fails unless keys holds every item of the sweep's
// organisation exactly once.
func checkEveryItemOnce(b *testing.B, keys []string) {
	seen := make(map[string]bool, len(keys))
	for _, key := range keys {
		if seen[key] {
			b.Fatalf("item %s came twice", key)
		}
		seen[key] = true
	}
	if len(seen) != sweepResources*sweepPerResource {
		b.Fatalf("%d items, want %d", len(seen), sweepResources*sweepPerResource)
	}
}

func sweepLog() opal.Option {
	if os.Getenv("SWEEP_LOG") == "" {
		return nil
	}
	start := time.Now()
	return opal.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == "time" {
			return slog.Duration("t", time.Since(start).Round(time.Millisecond))
		}
		return a
	}})))
}

// BenchmarkSweep compares three ways of reading every session of 300
// resources under a shared rate limit: AllOf with the adaptive limiter
// configured far above the real limit (1000 a second), AllOf with the
// default limit (100 a second), and what users write without the library's
// help: 16 goroutines over All, with no client-side limit. The two AllOf
// sweeps run again just after another integration emptied the server's
// bucket. Retry waits are opaltest's, a few milliseconds.
func BenchmarkSweep(b *testing.B) {
	allOf := func(client *opal.Client, ids []string) ([]string, error) {
		var sessions []string
		for s, err := range client.Sessions.AllOf(context.Background(), ids, nil) {
			if err != nil {
				return sessions, err
			}
			sessions = append(sessions, s.ConnectionID)
		}
		return sessions, nil
	}
	goroutinesOverAll := func(client *opal.Client, ids []string) ([]string, error) {
		var mu sync.Mutex
		var sessions []string
		var g errgroup.Group
		g.SetLimit(16)
		for _, id := range ids {
			g.Go(func() error {
				for s, err := range client.Sessions.All(context.Background(), id, nil) {
					if err != nil {
						return err
					}
					mu.Lock()
					sessions = append(sessions, s.ConnectionID)
					mu.Unlock()
				}
				return nil
			})
		}
		err := g.Wait()
		return sessions, err
	}
	adaptive := []opal.Option{opal.WithRateLimit(1000), sweepLog()}
	defaultLimit := []opal.Option{opal.WithRateLimit(opal.DefaultRateLimit)}
	// Retries enough to finish: at opaltest's waits of a few milliseconds,
	// the default four run out under this limit.
	noLimit := []opal.Option{opal.WithRateLimit(0), opal.WithRetryMax(1000)}
	b.Run("AllOf/adaptive-1000", func(b *testing.B) { sweepFigures(b, adaptive, allOf, false) })
	b.Run("AllOf/default-100", func(b *testing.B) { sweepFigures(b, defaultLimit, allOf, false) })
	b.Run("16-goroutines-over-All/no-limit", func(b *testing.B) { sweepFigures(b, noLimit, goroutinesOverAll, false) })
	b.Run("after-a-drained-bucket/AllOf/adaptive-1000", func(b *testing.B) { sweepFigures(b, adaptive, allOf, true) })
	b.Run("after-a-drained-bucket/AllOf/default-100", func(b *testing.B) { sweepFigures(b, defaultLimit, allOf, true) })
}

// BenchmarkAccessSweep is BenchmarkSweep's two AllOf sweeps, of every
// resource's grants rather than its sessions: the same server, limit,
// latency, neighbour and figures, and the same ideal of 2.14 s, since each
// resource's grants are one page too.
func BenchmarkAccessSweep(b *testing.B) {
	allOf := func(client *opal.Client, ids []string) ([]string, error) {
		var grants []string
		for a, err := range client.Access.AllOf(context.Background(), ids, nil) {
			if err != nil {
				return grants, err
			}
			grants = append(grants, a.ResourceID+"/"+a.UserID)
		}
		return grants, nil
	}
	adaptive := []opal.Option{opal.WithRateLimit(1000), sweepLog()}
	defaultLimit := []opal.Option{opal.WithRateLimit(opal.DefaultRateLimit)}
	b.Run("AllOf/adaptive-1000", func(b *testing.B) { sweepFigures(b, adaptive, allOf, false) })
	b.Run("AllOf/default-100", func(b *testing.B) { sweepFigures(b, defaultLimit, allOf, false) })
	b.Run("after-a-drained-bucket/AllOf/adaptive-1000", func(b *testing.B) { sweepFigures(b, adaptive, allOf, true) })
	b.Run("after-a-drained-bucket/AllOf/default-100", func(b *testing.B) { sweepFigures(b, defaultLimit, allOf, true) })
}

// BenchmarkAllOverLatency walks one resource of 20 pages over a realistic
// round trip of 50 ms, with the default rate limit and with none: a single
// walk sends a request only when it has read the last page, far below 100 a
// second, so the limiter, slow start included, must cost it nothing.
func BenchmarkAllOverLatency(b *testing.B) {
	const pages, perPage = 20, 100
	resourceID := "1b978423-db0a-4037-a4cf-f79c60cb67b3"
	sessions := make([]opal.Session, pages*perPage)
	for i := range sessions {
		sessions[i] = opal.Session{UserID: fmt.Sprintf("u-%d", i), ResourceID: resourceID, ExpirationDate: time.Now().Add(time.Hour)}
	}
	for _, tt := range []struct {
		name  string
		limit float64
	}{{"default-limit", opal.DefaultRateLimit}, {"no-limit", 0}} {
		b.Run(tt.name, func(b *testing.B) {
			srv := opaltest.NewServer(sessions...)
			defer srv.Close()
			srv.SetLatency(50 * time.Millisecond)
			for b.Loop() {
				b.StopTimer()
				client, err := srv.Client(opal.WithRateLimit(tt.limit)) // a new Client: its slow start included
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				n := 0
				for _, err := range client.Sessions.All(context.Background(), resourceID, &opal.ListSessionsOptions{PageSize: perPage}) {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != pages*perPage {
					b.Fatalf("%d sessions, want %d", n, pages*perPage)
				}
			}
		})
	}
}
