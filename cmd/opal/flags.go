package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/internal/ascii"
)

// usageError is a mistake in the command line or the environment: the run
// stops with exit status 2 before anything is sent.
type usageError string

func (e usageError) Error() string { return string(e) }

func usagef(format string, args ...any) error {
	return usageError(fmt.Sprintf(format, args...))
}

// common holds the flags every listing subcommand takes.
type common struct {
	format   string
	pageSize int
	verbose  bool
	version  bool
}

// define adds the common flags to fs; what says what a page holds, for
// -page-size's help.
func (c *common) define(fs *flag.FlagSet, what string) {
	fs.StringVar(&c.format, "format", "table", "output `format`: table, json (one object per line) or csv")
	fs.IntVar(&c.pageSize, "page-size", 0, fmt.Sprintf("ask for `N` %s per request, 1 to %d (default: the API's largest page, %[2]d)", what, opal.MaxPageSize))
	fs.BoolVar(&c.verbose, "v", false, "write the client's log records (each attempt, each wait before a retry) to stderr")
	fs.BoolVar(&c.version, "version", false, "print the versions of opal, the opal-go library and Go, and exit")
}

// check checks the common flags once parsed; set says which flags were
// given.
func (c *common) check(set map[string]bool) error {
	format, err := choice("-format", c.format, "table", "json", "csv")
	if err != nil {
		return err
	}
	c.format = format
	// 0 is the flag's default, meaning the API's largest page; given, it
	// is refused as any other number outside what the help says.
	if set["page-size"] && (c.pageSize < 1 || c.pageSize > opal.MaxPageSize) {
		return usagef("-page-size %d: want 1 to %d", c.pageSize, opal.MaxPageSize)
	}
	return nil
}

// sweepFlags are the flags that opal access and opal sessions share:
// which resources or user, how soon rows expire, their order, and -ids.
type sweepFlags struct {
	commonFlags    common
	resources      resourceSelection
	user           userSelection
	expiringText   string        // -expiring-within as given
	expiringWithin time.Duration // 0: no limit
	sort           string        // "": rows as they come
	ids            bool
}

func (s *sweepFlags) common() *common { return &s.commonFlags }

// defineSweep adds the shared flags to fs: what is listed ("grants"),
// what -user keeps of it, and what -ids does.
func (s *sweepFlags) defineSweep(fs *flag.FlagSet, what, userWhat, idsHelp string) {
	s.resources.flags(fs, what)
	s.user.flags(fs, userWhat)
	fs.StringVar(&s.expiringText, "expiring-within", "", "only "+what+" that expire within this `DURATION` from now: 90m, 36h, 1.5d, 7d, 7d12h (m is minutes, and M is refused: a month is 30d)")
	fs.StringVar(&s.sort, "sort", "", "sort the rows by `KEY`: expires, user or resource (table and csv; default: in the order answers arrive)")
	fs.BoolVar(&s.ids, "ids", false, idsHelp)
	s.commonFlags.define(fs, what)
}

// checkSweep checks the shared flags once parsed.
func (s *sweepFlags) checkSweep() error {
	if err := checkSort(&s.sort, s.commonFlags.format); err != nil {
		return err
	}
	if err := s.resources.check(); err != nil {
		return err
	}
	if err := s.user.check(); err != nil {
		return err
	}
	return checkExpiring(s.expiringText, &s.expiringWithin)
}

// describeRun says what a run shows, for the demo's tour: what, narrowed
// to only those the filters given keep (-expiring-within's last), in the
// order of -sort.
func (s *sweepFlags) describeRun(what string, only ...string) string {
	if s.expiringText != "" {
		only = append(only, "ending within "+s.expiringText)
	}
	if len(only) > 0 {
		what += ", only those " + strings.Join(only, " and ")
	}
	return what + ", " + sortedBy(s.sort)
}

// emptyFlag returns the usage error of a flag given an empty value, as
// -user "$EMAIL" is when EMAIL is unset: taken as no flag at all, it would
// widen the run, to everyone's rows where one person's were asked for.
func emptyFlag(fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		if err == nil && f.Value.String() == "" {
			err = usagef("-%s is given an empty value (an unset variable?): give it one, or leave the flag out", f.Name)
		}
	})
	return err
}

// parsed returns the names of the flags that the command line set.
func parsed(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// choice returns the one of allowed (in lower case) that value names, in
// any letter case of ASCII.
func choice(flagName, value string, allowed ...string) (string, error) {
	lower := ascii.Lower(value)
	if slices.Contains(allowed, lower) {
		return lower, nil
	}
	last := len(allowed) - 1
	return "", usagef("%s %s: want %s or %s", flagName, quote(value), strings.Join(allowed[:last], ", "), allowed[last])
}

// idList is a flag that takes IDs joined by commas, and accumulates when
// repeated, as -resource-id A -resource-id B,C. Each ID is kept once, in
// the order given.
type idList struct {
	ids []string
}

func (l *idList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(l.ids, ",")
}

func (l *idList) Set(value string) error {
	for id := range strings.SplitSeq(value, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			return errors.New("holds an empty ID: join IDs with single commas")
		}
		if !slices.Contains(l.ids, id) {
			l.ids = append(l.ids, id)
		}
	}
	return nil
}

// resourceType returns the type of Opal's ResourceTypeEnum that s names, in
// any letter case of ASCII: the API's values are upper case, but one is not
// (AZURE_USER_ASSIGNED_MANAGED_Identity), and nobody should have to guess.
// For a name that is no type, the error suggests the nearest, or lists them
// all.
func resourceType(flagName, s string) (opal.ResourceType, error) {
	names := make([]string, 0, len(opal.ResourceTypes()))
	for _, t := range opal.ResourceTypes() {
		if ascii.Lower(string(t)) == ascii.Lower(s) {
			return t, nil
		}
		names = append(names, string(t))
	}
	if near := nearest(s, names); near != "" {
		return "", usagef("%s %s is not a resource type of Opal; did you mean %s?", flagName, quote(s), near)
	}
	return "", usagef("%s %s is not a resource type of Opal; want one of: %s", flagName, quote(s), strings.Join(names, ", "))
}

// nearest returns the candidate closest to s in edit distance, ignoring
// letter case, when it is close enough to be what was meant (at most half
// of s's letters differ), or "".
func nearest(s string, candidates []string) string {
	best, bestDistance := "", len(s)/2+1
	for _, c := range candidates {
		if d := editDistance(ascii.Lower(s), ascii.Lower(c)); d < bestDistance {
			best, bestDistance = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	row := make([]int, len(b)+1)
	for j := range row {
		row[j] = j
	}
	for i := 1; i <= len(a); i++ {
		diagonal := row[0]
		row[0] = i
		for j := 1; j <= len(b); j++ {
			above := row[j]
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			row[j] = min(row[j]+1, row[j-1]+1, diagonal+cost)
			diagonal = above
		}
	}
	return row[len(b)]
}

// parseDuration reads a duration above zero: a Go duration (90m, 36h),
// days (7d, 1.5d), or both (7d12h), since access is granted for days and
// time.ParseDuration has no unit for them. Units take any letter case of
// ASCII but M, which reads as a month as much as a minute: 1M is refused,
// not taken for one minute where a month was meant (nor 1\u039cS, with a
// Greek capital mu, for a microsecond).
func parseDuration(s string) (time.Duration, error) {
	const bad = "want a duration such as 90m, 36h, 1.5d, 7d or 7d12h"
	const day = 24 * time.Hour
	if strings.Contains(s, "M") {
		return 0, errors.New("an M may mean a month or a minute: write m for minutes, or days for a month, such as 30d")
	}
	var d time.Duration
	rest := ascii.Lower(s)
	if days, after, found := strings.Cut(rest, "d"); found {
		n, ok := decimal(days)
		if !ok {
			return 0, errors.New(bad)
		}
		if n > float64(math.MaxInt64)/float64(day) {
			return 0, errors.New("too long")
		}
		d, rest = time.Duration(math.Round(n*float64(day))), after
	}
	if rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil || r < 0 {
			return 0, errors.New(bad)
		}
		if r > math.MaxInt64-d {
			return 0, errors.New("too long")
		}
		d += r
	}
	if d <= 0 {
		return 0, errors.New("want a duration above zero, such as 90m, 36h or 7d")
	}
	return d, nil
}

// decimal reads a number of digits with at most one decimal point, such as
// "7" or "1.5": no sign, exponent, "inf" or "nan", which strconv.ParseFloat
// would take.
func decimal(s string) (float64, bool) {
	digits := strings.Replace(s, ".", "", 1)
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseFloat(s, 64)
	return n, err == nil
}

// count says how many of a thing there are, in the right number: "1
// resource", "2 resources".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// checkSort checks -sort, in any letter case, against -format.
func checkSort(sort *string, format string) error {
	if *sort == "" {
		return nil
	}
	key, err := choice("-sort", *sort, "expires", "user", "resource")
	if err != nil {
		return err
	}
	if format == "json" {
		return usagef("-sort is for -format table and csv: json lines come as they arrive; sort them with jq -s, or use -format csv")
	}
	*sort = key
	return nil
}

// checkExpiring reads -expiring-within.
func checkExpiring(text string, d *time.Duration) error {
	if text == "" {
		return nil
	}
	parsed, err := parseDuration(text)
	if err != nil {
		return usagef("-expiring-within %s: %v", quote(text), err)
	}
	*d = parsed
	return nil
}

// sortedBy says in words how the rows are ordered.
func sortedBy(key string) string {
	if key == "" {
		return "in the order answers arrive"
	}
	return map[string]string{"expires": "sorted by expiry", "user": "sorted by user", "resource": "sorted by resource"}[key]
}
