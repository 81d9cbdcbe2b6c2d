package main

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/opalclient/opal-go"
)

// row is a session as the access view shows it: with its user and the name
// of its resource, where they were looked up.
type row struct {
	opal.Session
	user     *opal.User // nil when not looked up, or unknown to Opal
	resource string     // the resource's name; "" when not looked up, or unknown
}

// userText is who holds the session: the user's email, else the ID.
func (r row) userText() string {
	if r.user != nil && r.user.Email != "" {
		return r.user.Email
	}
	return r.UserID
}

// resourceText is what the session is on: the resource's name, else the ID.
func (r row) resourceText() string {
	if r.resource != "" {
		return r.resource
	}
	return r.ResourceID
}

// sortRows sorts rows by a -sort key, then by the other keys, so that the
// order is the same on every run.
func sortRows(rows []row, key string) {
	slices.SortStableFunc(rows, func(a, b row) int {
		expires := a.ExpirationDate.Compare(b.ExpirationDate)
		user := compareText(a.userText(), b.userText())
		// Two resources may share a name: keep each one's rows together.
		resource := cmp.Or(compareText(a.resourceText(), b.resourceText()), strings.Compare(a.ResourceID, b.ResourceID))
		switch key {
		case "user":
			return cmp.Or(user, expires, resource)
		case "resource":
			return cmp.Or(resource, expires, user)
		}
		return cmp.Or(expires, user, resource)
	})
}

// compareText orders names as people do, without regard to letter case
// (Opal's resource names mix "ANALYTICS" and "orders-prod").
func compareText(a, b string) int {
	return cmp.Or(strings.Compare(strings.ToLower(a), strings.ToLower(b)), strings.Compare(a, b))
}

// printer writes rows in one output format.
type printer interface {
	// print writes, or holds, one row.
	print(row) error
	// flush writes the rows held.
	flush() error
	// close writes the rest; it is called once, at the end.
	close() error
}

// newPrinter returns the printer of a -format. several says whether rows of
// more than one resource are printed, which the table shows in a column of
// its own.
func newPrinter(format string, several bool, w io.Writer) printer {
	switch format {
	case "json":
		return jsonPrinter{json.NewEncoder(w)}
	case "csv":
		return &csvPrinter{w: csv.NewWriter(w), now: time.Now}
	}
	return &tablePrinter{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0), now: time.Now, several: several}
}

// jsonPrinter writes one JSON object per line, unbuffered, so each session
// is out as soon as it is read.
type jsonPrinter struct{ enc *json.Encoder }

// jsonRow is a session in the API's own field names, and the names looked
// up for it, left out when there are none.
type jsonRow struct {
	opal.Session
	UserEmail    string `json:"user_email,omitempty"`
	UserFullName string `json:"user_full_name,omitempty"`
	ResourceName string `json:"resource_name,omitempty"`
}

func (p jsonPrinter) print(r row) error {
	j := jsonRow{Session: r.Session, ResourceName: r.resource}
	if r.user != nil {
		j.UserEmail, j.UserFullName = r.user.Email, r.user.FullName
	}
	return p.enc.Encode(j)
}

func (jsonPrinter) flush() error { return nil }
func (jsonPrinter) close() error { return nil }

// csvPrinter writes a header row, then the table's columns and the IDs,
// with the expiry as an RFC 3339 time that spreadsheets and scripts read.
// The columns are always the same, whatever the flags.
type csvPrinter struct {
	w    *csv.Writer
	now  func() time.Time
	rows int
}

var csvHeader = []string{"user", "resource", "access_level", "expires_at", "expires_in", "user_id", "resource_id"}

func (p *csvPrinter) print(r row) error {
	if p.rows == 0 {
		_ = p.w.Write(csvHeader) // errors are kept by the csv.Writer, and returned by flush
	}
	p.rows++
	return p.w.Write([]string{r.userText(), r.resourceText(), accessLevel(r.AccessLevel),
		r.ExpirationDate.UTC().Format(time.RFC3339), expiresIn(r.ExpirationDate.Sub(p.now())), r.UserID, r.ResourceID})
}

func (p *csvPrinter) flush() error {
	p.w.Flush()
	return p.w.Error()
}

// close writes the rest, and the header alone when there were no rows.
func (p *csvPrinter) close() error {
	if p.rows == 0 {
		_ = p.w.Write(csvHeader)
	}
	return p.flush()
}

// tablePrinter writes aligned columns. A tabwriter aligns only what it
// holds, so the table is aligned block by block: the rows are held until
// flush writes them.
type tablePrinter struct {
	tw      *tabwriter.Writer
	now     func() time.Time
	several bool  // with a RESOURCE column
	rows    int   // rows printed so far
	err     error // the first write error, after which nothing more is written
}

func (p *tablePrinter) print(r row) error {
	if p.rows == 0 {
		p.header()
	}
	p.rows++
	cells := []string{r.userText()}
	if p.several {
		cells = append(cells, r.resourceText())
	}
	cells = append(cells, accessLevel(r.AccessLevel),
		r.ExpirationDate.Local().Format("2006-01-02 15:04 MST"), expiresIn(r.ExpirationDate.Sub(p.now())))
	for i, c := range cells {
		cells[i] = printable(c)
	}
	fmt.Fprintln(p.tw, strings.Join(cells, "\t"))
	return p.err
}

func (p *tablePrinter) header() {
	if p.several {
		fmt.Fprint(p.tw, "USER\tRESOURCE\tACCESS LEVEL\tEXPIRES AT\tEXPIRES IN\n")
	} else {
		fmt.Fprint(p.tw, "USER\tACCESS LEVEL\tEXPIRES AT\tEXPIRES IN\n")
	}
}

// flush writes the rows held. Before the first row it writes nothing, not
// even the header, which must be aligned with the first block's rows.
func (p *tablePrinter) flush() error {
	if p.err == nil {
		p.err = p.tw.Flush()
	}
	return p.err
}

// close writes the rest, and the header alone when there were no rows.
func (p *tablePrinter) close() error {
	if p.rows == 0 {
		p.header()
	}
	return p.flush()
}

// printable replaces the control characters of a cell: names come from
// Opal, and a tab, a newline or an escape sequence in one could forge a row
// of an access review, or drive the terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return unicode.ReplacementChar
		}
		return r
	}, s)
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
