package opal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opalclient/opal-go"
)

// benchResource is the resource of the benchmarks' sessions.
const benchResource = "1b978423-db0a-4037-a4cf-f79c60cb67b3"

// benchSessions makes n realistic sessions on one resource.
func benchSessions(n int) []opal.Session {
	levels := []opal.ResourceAccessLevel{
		{Name: "AdminRole", RemoteID: "arn:aws:iam::590304332660:role/AdministratorAccess"},
		{Name: "ReadOnly", RemoteID: "arn:aws:iam::590304332660:role/ReadOnlyAccess"},
		{},
	}
	start := time.Date(2026, 11, 26, 17, 0, 0, 0, time.UTC)
	sessions := make([]opal.Session, n)
	for i := range sessions {
		sessions[i] = opal.Session{
			ConnectionID:   fmt.Sprintf("6e6b5597-bd36-4f4c-a629-%012d", i),
			UserID:         fmt.Sprintf("b031c922-b84f-4424-9f4f-%012d", i%977),
			ResourceID:     benchResource,
			AccessLevel:    levels[i%len(levels)],
			ExpirationDate: start.Add(time.Duration(i) * time.Minute).Add(123 * time.Millisecond),
		}
	}
	return sessions
}

// newPageServer serves pages of pre-encoded sessions (see pagesHandler)
// until the test ends.
func newPageServer(tb testing.TB, pages, perPage int) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(pagesHandler(tb, pages, perPage))
	tb.Cleanup(srv.Close)
	return srv
}

// pagesHandler serves pages of pre-encoded sessions: page i of n has cursor
// "p<i>" and, but for the last, a next cursor. All pages share one encoded
// results array, so that a walk of any length costs the server no memory.
func pagesHandler(tb testing.TB, pages, perPage int) http.HandlerFunc {
	tb.Helper()
	results, err := json.Marshal(benchSessions(perPage))
	if err != nil {
		tb.Fatal(err)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		i := 0
		if c := r.URL.Query().Get("cursor"); c != "" {
			i, _ = strconv.Atoi(strings.TrimPrefix(c, "p"))
		}
		next := "null"
		if i+1 < pages {
			next = fmt.Sprintf(`"p%d"`, i+1)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"next":%s,"previous":"p%d","results":`, next, i)
		w.Write(results)
		w.Write([]byte("}"))
	}
}

const (
	benchPages   = 20
	benchPerPage = 500
)

// BenchmarkAll walks 20 pages of 500 sessions with All. Like the other
// comparisons of CPU and memory here, it runs without the client-side rate
// limit, which would pace a loopback server; BenchmarkAllOverLatency shows
// that the limit costs a walk over a real network nothing.
func BenchmarkAll(b *testing.B) {
	srv := newPageServer(b, benchPages, benchPerPage)
	c, err := opal.NewClient(testToken, opal.WithBaseURL(srv.URL), opal.WithRateLimit(0))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, err := range c.Sessions.All(ctx, benchResource, &opal.ListSessionsOptions{PageSize: benchPerPage}) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != benchPages*benchPerPage {
			b.Fatalf("%d sessions, want %d", n, benchPages*benchPerPage)
		}
	}
	reportPerSession(b, benchPages*benchPerPage)
}

// baselineSession and baselinePage are what a hand-written loop would decode
// into: the same fields, no leniency.
type baselineSession struct {
	ConnectionID string `json:"connection_id"`
	UserID       string `json:"user_id"`
	ResourceID   string `json:"resource_id"`
	AccessLevel  struct {
		Name     string `json:"access_level_name"`
		RemoteID string `json:"access_level_remote_id"`
	} `json:"access_level"`
	ExpirationDate time.Time `json:"expiration_date"`
}

type baselinePage struct {
	Next    *string           `json:"next"`
	Results []baselineSession `json:"results"`
}

// BenchmarkBaseline walks the same pages with a bare net/http GET and an
// encoding/json decode per page: the floor that All is measured against.
func BenchmarkBaseline(b *testing.B) {
	srv := newPageServer(b, benchPages, benchPerPage)
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		cursor := ""
		for {
			url := srv.URL + "/v1/sessions?resource_id=1b978423-db0a-4037-a4cf-f79c60cb67b3&page_size=500"
			if cursor != "" {
				url += "&cursor=" + cursor
			}
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var page baselinePage
			err = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			if err != nil {
				b.Fatal(err)
			}
			n += len(page.Results)
			if page.Next == nil {
				break
			}
			cursor = *page.Next
		}
		if n != benchPages*benchPerPage {
			b.Fatalf("%d sessions, want %d", n, benchPages*benchPerPage)
		}
	}
	reportPerSession(b, benchPages*benchPerPage)
}

// reportPerSession adds the time per session to a walk's figures.
func reportPerSession(b *testing.B, sessions int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(sessions), "ns/session")
}

// liveHeap is the heap's live bytes, after a garbage collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// walkHeap walks pages×perPage sessions with All and returns the live heap
// after 10 pages and 10 pages before the end.
func walkHeap(tb testing.TB, pages, perPage int) (early, late uint64) {
	tb.Helper()
	srv := newPageServer(tb, pages, perPage)
	c, err := opal.NewClient(testToken, opal.WithBaseURL(srv.URL), opal.WithRateLimit(0))
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, err := range c.Sessions.All(context.Background(), benchResource, &opal.ListSessionsOptions{PageSize: perPage}) {
		if err != nil {
			tb.Fatal(err)
		}
		n++
		switch n {
		case 10*perPage + 1:
			early = liveHeap()
		case (pages-10)*perPage + 1:
			late = liveHeap()
		}
	}
	if n != pages*perPage {
		tb.Fatalf("%d sessions, want %d", n, pages*perPage)
	}
	return early, late
}

// TestAllHoldsAboutOnePage compares the live heap early and late in a walk
// of 100 pages: it must not grow with the number of pages. (Sized to stay
// quick under -race; BenchmarkAllMemory walks 200,000 sessions.)
func TestAllHoldsAboutOnePage(t *testing.T) {
	const pages = 100
	early, late := walkHeap(t, pages, 100)
	// On top of the page in hand, a walk keeps only a 16-byte fingerprint
	// of each cursor it has seen, to detect loops. Holding on to pages
	// would cost 30 KB each.
	const slack = 64 << 10
	t.Logf("live heap after 10 pages: %d KB; after %d: %d KB", early>>10, pages-10, late>>10)
	if late > early+slack {
		t.Errorf("live heap grew from %d KB to %d KB over %d pages", early>>10, late>>10, pages-20)
	}
}

// TestLoopGuardKeepsNoCursor: the loop guard remembers each cursor of a
// walk by a fixed-size fingerprint. A server whose cursors are 128 KiB long
// would otherwise grow the heap by 128 KiB a page: over 32 pages, the live
// heap grows by less than a quarter of that. (In memory: a server's reading
// of the cursors is no part of it.)
func TestLoopGuardKeepsNoCursor(t *testing.T) {
	const pages, cursorLen = 32, 128 << 10
	pad := strings.Repeat("x", cursorLen)
	cursor := func(i int) string { return fmt.Sprintf("c%d-%s", i, pad) }
	c := inMemoryClient(t, func(w http.ResponseWriter, r *http.Request) {
		i := 0
		if _, c, ok := strings.Cut(r.URL.RawQuery, "cursor=c"); ok {
			fmt.Sscanf(c, "%d", &i)
		}
		next := "null"
		if i+1 < pages {
			next = strconv.Quote(cursor(i + 1))
		}
		writeJSON(w, http.StatusOK, fmt.Sprintf(`{"next":%s,"results":[{"connection_id":"s%d","resource_id":"r1","user_id":"u1","expiration_date":"2030-01-01T00:00:00Z"}]}`, next, i))
	})
	var early, late uint64
	n := 0
	for _, err := range c.Sessions.All(context.Background(), "r1", nil) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		switch n {
		case 2:
			early = liveHeap()
		case pages:
			late = liveHeap()
		}
	}
	if n != pages {
		t.Fatalf("%d sessions, want %d", n, pages)
	}
	t.Logf("live heap after 2 pages: %d KiB; after %d: %d KiB", early>>10, pages, late>>10)
	if growth := int64(late) - int64(early); growth > (pages-2)*cursorLen/4 {
		t.Errorf("live heap grew by %d KiB over %d pages of %d KiB cursors", growth>>10, pages-2, cursorLen>>10)
	}
}

// BenchmarkAllMemory walks 200,000 sessions (400 pages of 500) and reports
// the live heap after 10 pages and how much it grew by page 390.
func BenchmarkAllMemory(b *testing.B) {
	for b.Loop() {
		early, late := walkHeap(b, 400, 500)
		b.ReportMetric(float64(early>>10), "live-KB@page10")
		b.ReportMetric(float64(int64(late)-int64(early))/1024, "growth-KB@page390")
	}
}

// TestAllReusesOneConnection: a full walk runs over one keep-alive
// connection, so every body is read to its end and closed. (On the fake
// clock, over a network in memory: see MemNet.)
func TestAllReusesOneConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet(t, pagesHandler(t, benchPages, 50))
		tr := n.Transport()
		defer tr.CloseIdleConnections()
		c := clientOf(t, &http.Client{Transport: tr})
		for range 2 {
			for _, err := range c.Sessions.All(t.Context(), benchResource, nil) {
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		if d := n.Dials(); d != 1 {
			t.Errorf("two walks of %d pages opened %d connections, want 1", benchPages, d)
		}
	})
}
