package main

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/opalclient/opal-go"
)

// maxCell is the widest a table cell is shown on a terminal, in columns:
// wider ones are cut with "…", so that one long description or hostile
// name cannot push every other column off the screen. A file or a pipe
// gets every cell whole.
const maxCell = 60

// printer writes rows in one output format.
type printer[R any] interface {
	// print writes, or holds, one row.
	print(R) error
	// flush writes the rows held.
	flush() error
	// close writes the rest, and a table's or csv's header when there were
	// no rows; it is called once, at the end.
	close() error
}

// layout says how a subcommand's rows look in each format.
type layout[R any] struct {
	header []string         // the table's column names
	cells  func(R) []string // a row's table cells, in the order of header
	csv    []string         // the csv's header row
	record func(R) []string // a row's csv cells, in the order of csv
	json   func(R) any      // a row as a JSON object
}

// newPrinter returns the printer of a -format, writing to w. cut is
// whether table cells wider than maxCell are cut (stdout is a terminal).
func newPrinter[R any](format string, l layout[R], w io.Writer, cut bool) printer[R] {
	switch format {
	case "json":
		return &jsonPrinter[R]{w: w, value: l.json}
	case "csv":
		return &csvPrinter[R]{w: csv.NewWriter(w), header: l.csv, record: l.record}
	}
	p := &tablePrinter[R]{w: w, header: l.header, cells: l.cells}
	if cut {
		p.cut = maxCell
	}
	return p
}

// jsonPrinter writes one JSON object per line, each as soon as it comes.
type jsonPrinter[R any] struct {
	w     io.Writer
	value func(R) any
}

func (p *jsonPrinter[R]) print(r R) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "R&D" reads as itself; nothing here is HTML
	if err := enc.Encode(p.value(r)); err != nil {
		return err
	}
	_, err := p.w.Write(escapeJSON(b.Bytes()))
	return err
}

func (*jsonPrinter[R]) flush() error { return nil }
func (*jsonPrinter[R]) close() error { return nil }

// csvPrinter writes a header row, then one record per row (RFC 4180),
// every cell through csvCell.
type csvPrinter[R any] struct {
	w      *csv.Writer
	header []string
	record func(R) []string
	rows   int
}

func (p *csvPrinter[R]) print(r R) error {
	if p.rows == 0 {
		_ = p.w.Write(p.header) // the csv.Writer keeps its errors, and flush returns them
	}
	p.rows++
	cells := p.record(r)
	for i, c := range cells {
		cells[i] = csvCell(c)
	}
	return p.w.Write(cells)
}

func (p *csvPrinter[R]) flush() error {
	p.w.Flush()
	return p.w.Error()
}

func (p *csvPrinter[R]) close() error {
	if p.rows == 0 {
		_ = p.w.Write(p.header)
	}
	return p.flush()
}

// tablePrinter writes aligned columns, block by block: the rows are held
// until flush writes them. Each column is as wide as its widest cell so far,
// in this block and every one before, so that no block comes out narrower
// than the header: the columns of a streamed table line up, unless a later
// cell is wider than all before it.
type tablePrinter[R any] struct {
	w       io.Writer
	header  []string
	cells   func(R) []string
	cut     int        // cells wider than this many columns are cut; 0: none
	widths  []int      // the columns' widths so far
	held    [][]string // rows not yet written, cleaned and cut
	started bool       // the header is written
	err     error      // the first write error, after which nothing more is written
}

func (p *tablePrinter[R]) print(r R) error {
	cells := p.cells(r)
	for i, c := range cells {
		if c == "" && i < len(cells)-1 {
			// An empty cell would read as a wider gap between its
			// neighbours; at the end of a line it reads as nothing.
			c = "-"
		}
		c = clean(c)
		if p.cut > 0 && width(c) > p.cut {
			c = cutTo(c, p.cut)
		}
		cells[i] = c
	}
	p.held = append(p.held, cells)
	return p.err
}

// flush writes the rows held, the header before the first. Before the first
// row it writes nothing: the header is aligned with the first block.
func (p *tablePrinter[R]) flush() error {
	if p.err != nil || len(p.held) == 0 {
		return p.err
	}
	lines := p.held
	if !p.started {
		lines = append([][]string{p.header}, lines...)
	}
	p.write(lines)
	p.held = p.held[:0]
	return p.err
}

// close writes the rest, and the header alone when there were no rows.
func (p *tablePrinter[R]) close() error {
	if !p.started && len(p.held) == 0 && p.err == nil {
		p.write([][]string{p.header})
	}
	return p.flush()
}

func (p *tablePrinter[R]) write(lines [][]string) {
	for _, cells := range lines {
		for i, c := range cells {
			if i == len(p.widths) {
				p.widths = append(p.widths, 0)
			}
			p.widths[i] = max(p.widths[i], width(c))
		}
	}
	var b strings.Builder
	for _, cells := range lines {
		var line strings.Builder
		for i, c := range cells {
			line.WriteString(c)
			if i < len(cells)-1 {
				line.WriteString(strings.Repeat(" ", p.widths[i]-width(c)+2))
			}
		}
		// An empty last cell leaves the padding of the one before.
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	p.started = true
	_, p.err = io.WriteString(p.w, b.String())
}

// width is how many columns a terminal gives s, which clean has made free
// of control and format characters: none for a combining mark, two for a
// wide East Asian character or emoji, one for the rest.
func width(s string) int {
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}
	return n
}

func runeWidth(r rune) int {
	switch {
	case unicode.In(r, unicode.Mn, unicode.Me):
		return 0
	case wide(r):
		return 2
	}
	return 1
}

// wide reports whether r is in one of the main blocks of characters that
// terminals draw two columns wide (Unicode's East Asian Wide and Fullwidth,
// and emoji).
func wide(r rune) bool {
	for _, b := range [...][2]rune{
		{0x1100, 0x115f}, {0x2e80, 0x303e}, {0x3041, 0x33ff}, {0x3400, 0x4dbf}, {0x4e00, 0x9fff},
		{0xa000, 0xa4cf}, {0xac00, 0xd7a3}, {0xf900, 0xfaff}, {0xfe30, 0xfe4f}, {0xff00, 0xff60},
		{0xffe0, 0xffe6}, {0x1f300, 0x1f64f}, {0x1f900, 0x1f9ff}, {0x20000, 0x3fffd},
	} {
		if b[0] <= r && r <= b[1] {
			return true
		}
	}
	return false
}

// cutTo cuts s to n columns, the last of which is "…".
func cutTo(s string, n int) string {
	used := 0
	for i, r := range s {
		w := runeWidth(r)
		if used+w > n-1 {
			return s[:i] + "…"
		}
		used += w
	}
	return s
}

// userText is who a row is of: the user's email, else the ID.
func userText(u *opal.User, id string) string {
	if u != nil && u.Email != "" {
		return u.Email
	}
	return id
}

// compareText orders names as people do, without regard to letter case
// (Opal's resource names mix "ANALYTICS" and "orders-prod"). It only
// orders: two texts that differ are never equal to it, so Unicode's case
// mapping cannot make one name pass for another.
func compareText(a, b string) int {
	return cmp.Or(strings.Compare(strings.ToLower(a), strings.ToLower(b)), strings.Compare(a, b))
}

// localTime is a time as the table shows it: to the minute, in the local
// time zone, named.
func localTime(t time.Time) string {
	return t.Local().Format("2006-01-02 15:04 MST")
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

// expiresIn says how long from now until t, to the nearest minute, in its
// largest unit and the next one: "2d4h", "3h12m", "45m", "2d", "<1m", or
// "expired". It counts the seconds between the two, not a time.Duration,
// which ends at about 292 years: a grant that ends in 9999, a common
// stand-in for never, is nearly three million days away.
func expiresIn(t, now time.Time) string {
	if !t.After(now) {
		return "expired"
	}
	secs := t.Unix() - now.Unix()
	nanos := time.Duration(t.Nanosecond() - now.Nanosecond())
	if nanos < 0 {
		secs--
		nanos += time.Second
	}
	minutes := secs / 60
	if time.Duration(secs%60)*time.Second+nanos >= 30*time.Second {
		minutes++ // to the nearest minute, as time.Duration.Round
	}
	units := []struct {
		minutes int64
		name    string
	}{{24 * 60, "d"}, {60, "h"}, {1, "m"}}
	for i, u := range units {
		if n := minutes / u.minutes; n > 0 {
			s := fmt.Sprintf("%d%s", n, u.name)
			if i+1 < len(units) {
				if r := minutes % u.minutes / units[i+1].minutes; r > 0 {
					s += fmt.Sprintf("%d%s", r, units[i+1].name)
				}
			}
			return s
		}
	}
	return "<1m"
}
