package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/internal/ascii"
)

// How the status line behaves: it appears only once the work has taken
// progressDelay, so that a quick run shows none, and is redrawn every
// progressEvery.
const (
	progressDelay = time.Second
	progressEvery = 200 * time.Millisecond
)

// progress keeps the counts of a run and, when shown, draws them as one
// status line on stderr, rewritten in place with \r: what is being listed
// and how many so far, the resources answered out of those to sweep, the
// requests per second, and a call waiting to retry. It draws on a
// goroutine of its own, so that the line moves while a lookup or a slow
// page holds up the printing goroutine; mu orders its drawing with
// everything else written to stderr, and to stdout when that is the same
// terminal.
type progress struct {
	w     io.Writer
	show  bool // stderr is a terminal
	same  bool // stdout is that same terminal
	start time.Time

	items    atomic.Int64 // items of the current listing so far
	requests atomic.Int64 // attempts sent, retries included
	// observed says that the client reports its attempts to the progress,
	// which alone knows requests and the resources answered: without it
	// the line shows neither, rather than zeros. It is set before the
	// drawing goroutine starts, and never changes.
	observed bool

	stop    chan struct{}
	stopped chan struct{}

	mu       sync.Mutex // guards w, and what follows
	what     string     // what is being listed: "sessions", "grants", "users", "resources"
	total    int        // resources to sweep; 0 for a listing that is no sweep
	answered map[string]bool
	waiting  map[string]string // by call, what the line says of a call waiting to retry
	last     string            // the call that last began to wait
	gone     map[string]bool   // resources found gone, and warned about, by lower-cased ID
	shown    int               // the width of the status line on screen; 0 when none
}

// newProgress returns the progress of a run that starts now. Only when
// show is true (stderr is a terminal) does it draw; otherwise nothing but
// warnings and log records is ever written to w. same says that stdout is
// that terminal too, so that the line must be cleared before rows.
// observed says that the client reports its attempts to observe.
func newProgress(w io.Writer, show, same, observed bool) *progress {
	p := &progress{w: w, show: show, same: show && same, observed: observed, start: time.Now(),
		stop: make(chan struct{}), stopped: make(chan struct{}),
		answered: map[string]bool{}, waiting: map[string]string{}, gone: map[string]bool{}}
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

// begin starts counting a listing of what ("sessions", "users"); total is
// the number of resources it sweeps, 0 for a listing that is no sweep.
func (p *progress) begin(what string, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.what, p.total, p.answered = what, total, map[string]bool{}
	p.items.Store(0)
}

// status is the text of the status line. p.mu must be held.
func (p *progress) status() string {
	var b strings.Builder
	if p.what != "" {
		fmt.Fprintf(&b, "%s: %d so far", p.what, p.items.Load())
		if p.total > 0 && p.observed {
			fmt.Fprintf(&b, ", resources %d/%d answered", len(p.answered), p.total)
		}
	}
	if p.observed {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%.0f requests/s", float64(p.requests.Load())/time.Since(p.start).Seconds())
	}
	if retrying := p.retrying(); retrying != "" {
		b.WriteString("; " + retrying)
	}
	return b.String()
}

// retrying says what the line says of a call waiting to retry: the one
// that began to wait last, while it waits, else any other. p.mu must be
// held.
func (p *progress) retrying() string {
	if r, ok := p.waiting[p.last]; ok {
		return r
	}
	if calls := slices.Sorted(maps.Keys(p.waiting)); len(calls) > 0 {
		return p.waiting[calls[0]]
	}
	return ""
}

// observe is the client's observer (opal.WithObserver): it counts every
// attempt, the resources answered (a 2xx or a 404 to a call about one
// resource), and keeps what to say while a call waits to retry, until its
// next attempt ends.
func (p *progress) observe(_ context.Context, a opal.Attempt) {
	p.requests.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.ResourceID != "" && (a.Status/100 == 2 || a.Status == http.StatusNotFound) {
		p.answered[a.ResourceID] = true
	}
	call := a.Method + " " + a.Path + " " + a.ResourceID
	if !a.Retrying {
		delete(p.waiting, call)
		return
	}
	p.waiting[call] = fmt.Sprintf("retrying: %s, attempt %d of %d", why(a), a.N+1, a.MaxAttempts)
	p.last = call
}

// why says shortly why an attempt failed: its status, or the innermost
// error ("connection refused", "i/o timeout").
func why(a opal.Attempt) string {
	if a.Status != 0 {
		return strings.TrimSpace(fmt.Sprintf("%d %s", a.Status, http.StatusText(a.Status)))
	}
	if a.Err == nil {
		return "no answer"
	}
	err := a.Err
	for next := errors.Unwrap(err); next != nil; next = errors.Unwrap(err) {
		err = next
	}
	return err.Error()
}

// draw writes the status line over the one on screen. p.mu must be held.
func (p *progress) draw() {
	line := clean(p.status())
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", max(0, p.shown-width(line))))
	p.shown = width(line)
}

// clear removes the status line, if one is on screen. p.mu must be held.
func (p *progress) clear() {
	if p.shown > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.shown))
		p.shown = 0
	}
}

// warn writes a line on stderr, cleaned of anything a server could have
// put in it, below no status line: the status line is cleared first, and
// drawn again at the next tick.
func (p *progress) warn(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintln(p.w, clean(fmt.Sprintf(format, args...)))
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
// each write when stdout is the terminal it is drawn on: a row written
// after it would start in its middle. To another terminal, a file or a
// pipe, rows go straight.
//
// Rows are written whole lines at a time (every format ends its rows with
// a newline), since the status line may be drawn between two writes, and a
// row it interrupted would be wiped with it.
func (p *progress) output(w io.Writer) io.Writer {
	if !p.same {
		return w
	}
	return &lineWriter{mu: &p.mu, before: p.clear, w: w}
}

// logOutput returns stderr for log records: each line cleaned, below no
// status line.
func (p *progress) logOutput() io.Writer {
	return &lineWriter{mu: &p.mu, before: p.clear, w: p.w, clean: true}
}

// lineWriter writes to w the complete lines it is given, holding the
// start of the last one until its end comes, with mu held and before
// called first.
type lineWriter struct {
	mu      *sync.Mutex
	before  func()
	w       io.Writer
	clean   bool // each line is cleaned
	partial []byte
}

func (l *lineWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	end := bytes.LastIndexByte(l.partial, '\n') + 1
	if end == 0 {
		return len(b), nil
	}
	l.before()
	out := l.partial[:end]
	if l.clean {
		var c []byte
		for line := range bytes.Lines(out) {
			c = append(append(c, clean(string(bytes.TrimSuffix(line, []byte("\n"))))...), '\n')
		}
		out = c
	}
	_, err := l.w.Write(out)
	l.partial = slices.Delete(l.partial, 0, end)
	return len(b), err
}

// skipGone returns the skip function of one sweep (see rows.skip): it
// passes over the error of a resource not found during the sweep, deleted
// since it was listed, keeps its ID in gone, folded (ascii.Lower), and warns
// about it, once however many sweeps find it gone. gone is the sweep's
// own, so that it can tell a sweep that skipped some resources from one
// that read none; the sweep's goroutine alone uses it.
func (p *progress) skipGone(gone map[string]bool) func(error) bool {
	return func(err error) bool {
		var rerr *opal.ResourceError
		if !errors.As(err, &rerr) || !errors.Is(err, opal.ErrNotFound) {
			return false
		}
		id := ascii.Lower(rerr.ResourceID)
		gone[id] = true
		p.mu.Lock()
		warned := p.gone[id]
		p.gone[id] = true
		p.mu.Unlock()
		if !warned {
			p.warn("opal: resource %s not found (deleted?); skipped", rerr.ResourceID)
		}
		return true
	}
}
