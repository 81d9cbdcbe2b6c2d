package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/opalclient/opal-go"
)

var sessionsCommand = &subcommand{
	name:    "sessions",
	summary: "who is connected right now: live sessions, at what access level, until when",
	synopsis: `opal sessions (-resource-id ID[,ID...] | -all [-resource-type TYPE] [-resource-name NAME])
                     [-user EMAIL | -user-id ID] [-expiring-within DURATION]
                     [-format table|json|csv] [-sort expires|user|resource] [-ids] [-page-size N] [-v]`,
	about: `Lists the live sessions on resources: who is connected to what right now, at
what access level, and until when, by name. A session is a time-bounded
connection started under a grant (opal access lists the grants); SaaS apps
have none.

Which resources: exactly one of -resource-id and -all. With a token one of
them is required; in the demo, no selection shows all of it, sorted by
resource. Each -resource-id is checked to exist first (one request per 100
IDs): an unknown one is warned about and skipped, and the run fails when
none exists. The resources are swept several at a time; one deleted during
the sweep is warned about and skipped.

Names: USER is the user's email and RESOURCE (shown when more than one
resource is selected) the resource's name, looked up once per run: one
request per user until more than 10 need one, then one walk of every user.
A user Opal does not know shows its ID. -ids shows IDs and skips lookups.

Without -sort, rows come in the order answers arrive, which differs between
runs, and the table is written in blocks as they come: each column keeps
the widest width it has had. On a terminal, cells wider than 60 columns are
cut with "…"; a file or a pipe gets them whole. Opal lists live sessions:
one past its expiry that Opal still lists has not been revoked, and shows as
"expired".

json is one session per line in the API's field names, plus user_email,
user_full_name and resource_name when looked up; csv has a header row and
user, resource, access_level, expires_at, expires_in, user_id, resource_id.
`,
	examples: `  # Every session of the organisation that ends within a week, soonest first
  opal sessions -all -expiring-within 7d -sort expires

  # One person's sessions on two resources, as csv for a spreadsheet
  opal sessions -resource-id 1b978423-db0a-4037-a4cf-f79c60cb67b3,77eb1ab7-2c27-4fc4-afdb-137e1265cddd -user alice@example.com -format csv
`,
	newOptions: func() options { return &sessionsOptions{} },
}

// sessionsOptions are the flags of opal sessions.
type sessionsOptions struct {
	flagsOf        common
	resources      resourceSelection
	user           userSelection
	expiringText   string        // -expiring-within as given
	expiringWithin time.Duration // 0: no limit
	sort           string        // "": rows as they come
	ids            bool
}

func (o *sessionsOptions) common() *common { return &o.flagsOf }

func (o *sessionsOptions) flags(fs *flag.FlagSet) {
	o.resources.flags(fs, "sessions")
	o.user.flags(fs, "only the sessions")
	fs.StringVar(&o.expiringText, "expiring-within", "", "only sessions that expire within this `DURATION` from now: 90m, 36h, 1.5d, 7d, 7d12h")
	fs.StringVar(&o.sort, "sort", "", "sort the rows by `KEY`: expires, user or resource (table and csv; default: in the order answers arrive)")
	fs.BoolVar(&o.ids, "ids", false, "show user and resource IDs instead of names, and look no names up")
	o.flagsOf.define(fs, "sessions")
}

func (o *sessionsOptions) check(map[string]bool) error {
	if err := checkSort(&o.sort, o.flagsOf.format); err != nil {
		return err
	}
	if err := o.resources.check(); err != nil {
		return err
	}
	if err := o.user.check(); err != nil {
		return err
	}
	return checkExpiring(o.expiringText, &o.expiringWithin)
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
		return usagef("-expiring-within %q: %v", text, err)
	}
	*d = parsed
	return nil
}

func (o *sessionsOptions) prepare(demo bool) error {
	switch {
	case o.resources.selected():
	case !demo:
		return usagef("pass -resource-id ID[,ID...] for some resources, or -all for the whole organisation")
	default:
		// The first thing a newcomer sees: the whole organisation, grouped
		// by resource.
		o.resources.all = true
		if o.sort == "" && o.flagsOf.format != "json" {
			o.sort = "resource"
		}
	}
	return nil
}

func (o *sessionsOptions) describe() string {
	s := "opal sessions: the live sessions of " + o.resources.describe()
	var only []string
	if o.user.selected() {
		only = append(only, "of "+o.user.describe())
	}
	if o.expiringText != "" {
		only = append(only, "ending within "+o.expiringText)
	}
	if len(only) > 0 {
		s += ", only those " + strings.Join(only, " ")
	}
	return s + ", " + sortedBy(o.sort)
}

// sortedBy says in words how the rows are ordered.
func sortedBy(key string) string {
	if key == "" {
		return "in the order answers arrive"
	}
	return map[string]string{"expires": "sorted by expiry", "user": "sorted by user", "resource": "sorted by resource"}[key]
}

// sessionRow is a session as opal sessions shows it: with its user and the
// name of its resource, where they were looked up.
type sessionRow struct {
	opal.Session
	user     *opal.User // nil when not looked up, or unknown to Opal
	resource string     // the resource's name; "" when not looked up, or unknown
}

func (r sessionRow) userText() string     { return userText(r.user, r.UserID) }
func (r sessionRow) resourceText() string { return cmp.Or(r.resource, r.ResourceID) }

// userText is who a row is of: the user's email, else the ID.
func userText(u *opal.User, id string) string {
	if u != nil && u.Email != "" {
		return u.Email
	}
	return id
}

func (o *sessionsOptions) run(ctx context.Context, c *cli) error {
	var n *names
	if !o.ids {
		n = newNames(c.client)
	}
	var userID string
	if o.user.selected() {
		u, err := o.user.find(ctx, c.client, n)
		if err != nil {
			return err
		}
		userID = u.UserID
	}
	ids, err := o.resources.resources(ctx, c, n)
	if err != nil {
		return err
	}

	now := time.Now()
	deadline := now.Add(o.expiringWithin)
	c.prog.begin("sessions", len(ids))
	p := rows[opal.Session, sessionRow]{
		out: newPrinter(o.flagsOf.format, sessionsLayout(len(ids) > 1, now), c.stdout, c.cut),
		row: func(s opal.Session) (sessionRow, bool, error) {
			c.prog.items.Add(1)
			if o.expiringWithin > 0 && s.ExpirationDate.After(deadline) {
				return sessionRow{}, false, nil
			}
			u, err := n.user(ctx, s.UserID)
			return sessionRow{Session: s, user: u, resource: n.resource(s.ResourceID)}, true, err
		},
		skip:  c.prog.skipGone,
		order: sessionOrder(o.sort),
	}
	_, err = p.print(ctx, func(ctx context.Context) iter.Seq2[opal.Session, error] {
		return c.client.Sessions.AllOf(ctx, ids, &opal.ListSessionsOptions{UserID: userID, PageSize: o.flagsOf.pageSize})
	})
	return err
}

// skipGone reports whether err is that of a resource not found during a
// sweep, deleted since it was listed, and warns about it, once however
// many sweeps find it gone: such a resource is skipped, and the sweep goes
// on.
func (p *progress) skipGone(err error) bool {
	var gone *opal.ResourceError
	if !errors.As(err, &gone) || !errors.Is(err, opal.ErrNotFound) {
		return false
	}
	p.mu.Lock()
	warned := p.gone[gone.ResourceID]
	p.gone[gone.ResourceID] = true
	p.mu.Unlock()
	if !warned {
		p.warn("opal: resource %s not found (deleted?); skipped", gone.ResourceID)
	}
	return true
}

// sessionOrder orders rows by a -sort key, then by the other keys, so that
// the order is the same on every run; nil for no key.
func sessionOrder(key string) func(a, b sessionRow) int {
	if key == "" {
		return nil
	}
	return func(a, b sessionRow) int {
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
	}
}

// compareText orders names as people do, without regard to letter case
// (Opal's resource names mix "ANALYTICS" and "orders-prod").
func compareText(a, b string) int {
	return cmp.Or(strings.Compare(strings.ToLower(a), strings.ToLower(b)), strings.Compare(a, b))
}

// sessionsLayout is how opal sessions shows its rows; several says
// whether the table has a RESOURCE column.
func sessionsLayout(several bool, now time.Time) layout[sessionRow] {
	header := []string{"USER", "ACCESS LEVEL", "EXPIRES AT", "EXPIRES IN"}
	if several {
		header = []string{"USER", "RESOURCE", "ACCESS LEVEL", "EXPIRES AT", "EXPIRES IN"}
	}
	return layout[sessionRow]{
		header: header,
		cells: func(r sessionRow) []string {
			cells := []string{r.userText()}
			if several {
				cells = append(cells, r.resourceText())
			}
			return append(cells, accessLevel(r.AccessLevel), localTime(r.ExpirationDate), expiresIn(r.ExpirationDate.Sub(now)))
		},
		csv: []string{"user", "resource", "access_level", "expires_at", "expires_in", "user_id", "resource_id"},
		record: func(r sessionRow) []string {
			return []string{r.userText(), r.resourceText(), accessLevel(r.AccessLevel),
				r.ExpirationDate.UTC().Format(time.RFC3339), expiresIn(r.ExpirationDate.Sub(now)), r.UserID, r.ResourceID}
		},
		json: func(r sessionRow) any {
			j := sessionJSON{Session: r.Session, ResourceName: r.resource}
			if r.user != nil {
				j.UserEmail, j.UserFullName = r.user.Email, r.user.FullName
			}
			return j
		},
	}
}

// sessionJSON is a session in the API's own field names, and the names
// looked up for it, left out when there are none.
type sessionJSON struct {
	opal.Session
	UserEmail    string `json:"user_email,omitempty"`
	UserFullName string `json:"user_full_name,omitempty"`
	ResourceName string `json:"resource_name,omitempty"`
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
