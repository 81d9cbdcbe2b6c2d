package opal_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// chaosFaults are the ways a request fails in the chaos test: each is
// retried by the client.
var chaosFaults = []struct {
	name  string
	fault opaltest.Fault
}{
	{"503", opaltest.Fault{Status: http.StatusServiceUnavailable}},
	{"504", opaltest.Fault{Status: http.StatusGatewayTimeout}},
	{"500", opaltest.Fault{Status: http.StatusInternalServerError}},
	{"429", opaltest.Fault{Status: http.StatusTooManyRequests}},
	{"502 HTML", opaltest.Fault{Status: http.StatusBadGateway, Body: "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"}},
	{"reset", opaltest.Fault{Reset: true}},
	{"truncated", opaltest.Fault{Truncate: true}},
	{"slow 503", opaltest.Fault{Status: http.StatusServiceUnavailable, Delay: 15 * time.Millisecond}},
}

const chaosRetryMax = 4

// chaosSchedule draws a fault plan from seed: about half the requests fail,
// never more than chaosRetryMax in a row, some good answers are slow, and one
// 429 asks for a real one-second wait through Retry-After. It holds enough
// good answers for all but the last page, so the walk meets every fault.
func chaosSchedule(seed uint64, pages int) (plan []opaltest.Fault, names []string) {
	rng := rand.New(rand.NewPCG(seed, seed))
	good, inARow, retryAfterAt := 0, 0, 1+rng.IntN(pages/2)
	for good < pages-1 {
		switch {
		case good == retryAfterAt && inARow == 0:
			plan = append(plan, opaltest.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second})
			names = append(names, "429 Retry-After: 1")
			inARow++
			retryAfterAt = -1
		case inARow < chaosRetryMax && rng.IntN(2) == 0:
			f := chaosFaults[rng.IntN(len(chaosFaults))]
			plan = append(plan, f.fault)
			names = append(names, f.name)
			inARow++
		case rng.IntN(4) == 0:
			plan = append(plan, opaltest.Fault{Delay: 10 * time.Millisecond})
			names = append(names, "slow")
			good, inARow = good+1, 0
		default:
			plan = append(plan, opaltest.Fault{})
			names = append(names, "ok")
			good, inARow = good+1, 0
		}
	}
	return plan, names
}

// TestChaos walks a resource of 3,000 sessions through All while the server
// fails about half of the requests in every way it can. Every session must
// arrive exactly once, in order. Each seed is a fixed fault plan, so a failure
// reproduces with: go test -run 'TestChaos/seed=N' .
func TestChaos(t *testing.T) {
	const total, pageSize = 3000, 100
	const resource = "1b978423-db0a-4037-a4cf-f79c60cb67b3"
	var sessions, want []opal.Session
	expires := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for i := range total {
		s := opal.Session{
			ConnectionID:   fmt.Sprintf("6e6b5597-bd36-4f4c-a629-%012d", i),
			UserID:         fmt.Sprintf("b031c922-b84f-4424-9f4f-%012d", i%97),
			ResourceID:     resource,
			AccessLevel:    opal.ResourceAccessLevel{Name: "AdminRole", RemoteID: "arn:aws:iam::590304332660:role/AdministratorAccess"},
			ExpirationDate: expires.Add(time.Duration(i) * time.Second),
		}
		if i%10 == 0 {
			s.ResourceID = "77eb1ab7-2c27-4fc4-afdb-137e1265cddd" // another resource, filtered out
		} else {
			want = append(want, s)
		}
		sessions = append(sessions, s)
	}
	pages := (len(want) + pageSize - 1) / pageSize

	for _, seed := range []uint64{1, 2, 3, 4, 5} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			srv := opaltest.NewServer(sessions...)
			defer srv.Close()
			plan, names := chaosSchedule(seed, pages)
			srv.Inject(plan...)
			client, err := srv.Client(opal.WithRetryMax(chaosRetryMax), opal.WithRetryWait(time.Millisecond, 2*time.Second))
			if err != nil {
				t.Fatal(err)
			}

			// No deadline: the walk's end depends on the fault plan, never
			// on how busy the machine is. (Nothing in it can hang: every
			// fault ends, and the retries are bounded.)
			var got []opal.Session
			for s, err := range client.Sessions.All(t.Context(), resource, &opal.ListSessionsOptions{PageSize: pageSize}) {
				if err != nil {
					t.Fatalf("walk failed after %d sessions: %v\nfault plan: %s", len(got), err, strings.Join(names, ", "))
				}
				got = append(got, s)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("sessions (-want +got):\n%s\nfault plan: %s", diff, strings.Join(names, ", "))
			}
			if n := len(srv.Requests()); n < len(plan) {
				t.Errorf("the walk made %d requests and met only part of the %d planned", n, len(plan))
			}
			t.Logf("%d sessions in %d pages through %d requests, %d of them failed on purpose", len(got), pages, len(srv.Requests()), failures(names))
		})
	}
}

func failures(names []string) int {
	n := 0
	for _, name := range names {
		if name != "ok" && name != "slow" {
			n++
		}
	}
	return n
}
