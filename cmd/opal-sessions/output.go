package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/opalclient/opal-go"
)

// printer writes sessions in one output format.
type printer interface {
	// print writes, or buffers, one session.
	print(opal.Session) error
	// flush writes what is buffered; it is called before each request.
	flush() error
	// close writes the rest; it is called once, at the end.
	close() error
}

func newPrinter(format string, w io.Writer) printer {
	if format == "json" {
		return jsonPrinter{json.NewEncoder(w)}
	}
	return &tablePrinter{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0), now: time.Now}
}

// jsonPrinter writes one JSON object per line, unbuffered, so each session
// is out as soon as it is read.
type jsonPrinter struct{ enc *json.Encoder }

func (p jsonPrinter) print(s opal.Session) error { return p.enc.Encode(s) }
func (jsonPrinter) flush() error                 { return nil }
func (jsonPrinter) close() error                 { return nil }

// tablePrinter writes aligned columns. A tabwriter aligns only what it
// holds, so the table is aligned page by page: each page's rows are held
// until the request for the next page, then written.
type tablePrinter struct {
	tw   *tabwriter.Writer
	now  func() time.Time
	rows int   // rows printed so far
	err  error // the first write error, after which nothing more is written
}

const tableHeader = "USER\tACCESS LEVEL\tEXPIRES AT\tEXPIRES IN\n"

func (p *tablePrinter) print(s opal.Session) error {
	if p.rows == 0 {
		fmt.Fprint(p.tw, tableHeader)
	}
	p.rows++
	fmt.Fprintf(p.tw, "%s\t%s\t%s\t%s\n", s.UserID, accessLevel(s.AccessLevel),
		s.ExpirationDate.Local().Format("2006-01-02 15:04 MST"), expiresIn(s.ExpirationDate.Sub(p.now())))
	return p.err
}

// flush writes the rows held. Before the first row it writes nothing, not
// even the header, which must be aligned with the first page's rows.
func (p *tablePrinter) flush() error {
	if p.err == nil {
		p.err = p.tw.Flush()
	}
	return p.err
}

// close writes the rest, and the header alone when there were no rows.
func (p *tablePrinter) close() error {
	if p.rows == 0 {
		fmt.Fprint(p.tw, tableHeader)
	}
	return p.flush()
}

// accessLevel names a level for people: the default level, whose fields
// are empty, as "(default)".
func accessLevel(l opal.ResourceAccessLevel) string {
	switch {
	case l.IsDefault():
		return "(default)"
	case l.Name == "":
		return l.RemoteID
	}
	return l.Name
}

// expiresIn says how long until expiry, to the nearest minute, in its
// largest unit and the next one: "2d4h", "3h12m", "45m", "2d", "<1m", or
// "expired".
func expiresIn(d time.Duration) string {
	if d <= 0 {
		return "expired"
	}
	d = d.Round(time.Minute)
	units := []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}}
	for i, u := range units {
		if n := d / u.size; n > 0 {
			s := fmt.Sprintf("%d%s", n, u.name)
			if i+1 < len(units) {
				if r := d % u.size / units[i+1].size; r > 0 {
					s += fmt.Sprintf("%d%s", r, units[i+1].name)
				}
			}
			return s
		}
	}
	return "<1m"
}

// flushingTransport calls flush before each request it sends. The opal
// client fetches the next page only when the rows of the current one have
// all been printed, so flushing here writes every page out, aligned, as
// soon as it is complete, while SessionsService.All hides where pages end.
// The client calls RoundTrip on the goroutine that ranges over All, the one
// that prints, so flush needs no lock.
type flushingTransport struct {
	next  http.RoundTripper
	flush func() error
}

func (t flushingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	_ = t.flush() // a write error is sticky: the printer reports it at the end
	return t.next.RoundTrip(req)
}
