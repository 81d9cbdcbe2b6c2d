package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// How the status line behaves: it appears only once the work has taken
// progressDelay, so that a quick run shows none, and is redrawn every
// progressEvery.
const (
	progressDelay = time.Second
	progressEvery = 200 * time.Millisecond
)

// progress keeps the counts of a run and, when shown, draws them as one
// status line on stderr, rewritten in place with \r: resources answered
// out of the total, sessions so far, requests per second. It draws on a
// goroutine of its own, so that the line moves while a lookup or a slow
// page holds up the printing goroutine; mu orders its drawing with
// everything else written to the terminal.
//
// The counts are atomic: requests are counted by the client's transport,
// on the goroutines of the sweep.
type progress struct {
	w     io.Writer
	show  bool
	start time.Time

	listed   atomic.Int64 // resources found by the -all walk so far
	total    atomic.Int64 // resources to walk; 0 while they are being listed
	answered atomic.Int64 // resources whose first page has come back, or that were not found
	sessions atomic.Int64 // sessions received
	requests atomic.Int64 // requests sent, retries included

	firstPages sync.Map // the IDs of the resources answered, so that each counts once

	stop    chan struct{}
	stopped chan struct{}

	mu    sync.Mutex // guards w and what follows
	shown int        // the width of the status line on screen; 0 when none
}

// newProgress returns the progress of a run that starts now. Only when
// show is true (main passes whether stderr is a terminal) does it draw;
// otherwise nothing but warnings is ever written to w.
func newProgress(w io.Writer, show bool) *progress {
	p := &progress{w: w, show: show, start: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	if !show {
		close(p.stopped)
		return p
	}
	go p.run()
	return p
}

func (p *progress) run() {
	defer close(p.stopped)
	wait := time.NewTimer(progressDelay)
	defer wait.Stop()
	select {
	case <-p.stop:
		return
	case <-wait.C:
	}
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		p.mu.Lock()
		p.draw()
		p.mu.Unlock()
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
	}
}

// status is the text of the status line.
func (p *progress) status() string {
	rate := float64(p.requests.Load()) / time.Since(p.start).Seconds()
	total := p.total.Load()
	if total == 0 {
		return fmt.Sprintf("listing resources: %d so far, %.0f requests/s", p.listed.Load(), rate)
	}
	return fmt.Sprintf("resources %d/%d answered, %d sessions, %.0f requests/s", p.answered.Load(), total, p.sessions.Load(), rate)
}

// draw writes the status line over the one on screen. p.mu must be held.
func (p *progress) draw() {
	line := p.status()
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", max(0, p.shown-len(line))))
	p.shown = len(line)
}

// clear removes the status line, if one is on screen. p.mu must be held.
func (p *progress) clear() {
	if p.shown > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.shown))
		p.shown = 0
	}
}

// warn writes a line on stderr, below no status line: the status line is
// cleared first, and drawn again at the next tick.
func (p *progress) warn(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// finish stops drawing and clears the status line, before the command
// writes its last words.
func (p *progress) finish() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.stopped
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

// output returns w, for the rows, with the status line cleared before
// each write when one is shown: stdout and stderr are often the same
// terminal, and a row written after the status line would start in its
// middle. Rows are written whole lines at a time (every format ends its
// rows with a newline), since the status line may be drawn between two
// writes, and a row it interrupted would be wiped with it.
func (p *progress) output(w io.Writer) io.Writer {
	if !p.show {
		return w
	}
	return &lineWriter{p: p, w: w}
}

// lineWriter writes to w the complete lines it is given, holding the
// start of the last one until its end comes. Only the printing goroutine
// writes to it.
type lineWriter struct {
	p       *progress
	w       io.Writer
	partial []byte
}

func (l *lineWriter) Write(b []byte) (int, error) {
	l.partial = append(l.partial, b...)
	end := bytes.LastIndexByte(l.partial, '\n') + 1
	if end == 0 {
		return len(b), nil
	}
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	l.p.clear()
	_, err := l.w.Write(l.partial[:end])
	l.partial = slices.Delete(l.partial, 0, end)
	return len(b), err
}

// httpClient returns the client of a run whose status line is shown: its
// requests go through p.transport, to be counted, and otherwise as they
// would on the library's default client.
func (p *progress) httpClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Sessions.AllOf walks 16 resources at once, and the library's own pool
	// keeps 16 idle connections per host for them; http.DefaultTransport
	// keeps 2, and most pages of a sweep would then open a connection.
	tr.MaxIdleConnsPerHost = 16
	return &http.Client{
		Transport: p.transport(tr),
		Timeout:   30 * time.Second, // per attempt, as the library's default client
	}
}

// transport counts the requests sent through next, and the resources
// answered: those whose first page of sessions has come back, or that were
// not found. A first page is known from its request alone (it has no
// cursor), while the last is known only from its body's "next" member,
// which would have to be read a second time, beside the library's decoding;
// and most resources' sessions fit in one page of 1000, so the count is
// close to the resources done. A first page that is retried counts once.
func (p *progress) transport(next http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		p.requests.Add(1)
		resp, err := next.RoundTrip(req)
		q := req.URL.Query()
		if err == nil && strings.HasSuffix(req.URL.Path, "/sessions") && !q.Has("cursor") &&
			(resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusNotFound) {
			if _, seen := p.firstPages.LoadOrStore(q.Get("resource_id"), true); !seen {
				p.answered.Add(1)
			}
		}
		return resp, err
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
