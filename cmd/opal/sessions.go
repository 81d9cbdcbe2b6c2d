package main

import (
	"cmp"
	"context"
	"flag"
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
the sweep is warned about and skipped, and the run fails when that is every
resource swept.

Names: USER is the user's email and RESOURCE (left out only for one
-resource-id) the resource's name, looked up once per run: one request per
user until more than 10 need one, then one walk of every user. A user Opal
does not know shows its ID. -ids shows IDs and skips lookups.

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
	sweepFlags
}

func (o *sessionsOptions) flags(fs *flag.FlagSet) {
	o.defineSweep(fs, "sessions", "only the sessions", "show user and resource IDs instead of names, and look no names up")
}

func (o *sessionsOptions) check(map[string]bool) error { return o.checkSweep() }

func (o *sessionsOptions) prepare(demo bool) error {
	if o.resources.selected() {
		return nil
	}
	return o.resources.selectForDemo(demo, &o.sort, o.commonFlags.format,
		"pass -resource-id ID[,ID...] for some resources, or -all for the whole organisation")
}

func (o *sessionsOptions) describe() string {
	var only []string
	if o.user.selected() {
		only = append(only, "of "+o.user.describe())
	}
	return o.describeRun("opal sessions: the live sessions of "+o.resources.describe(), only...)
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
	gone := map[string]bool{}
	p := rows[opal.Session, sessionRow]{
		out: newPrinter(o.commonFlags.format, sessionsLayout(!o.resources.oneNamed(), now), c.stdout, c.cut),
		row: func(s opal.Session) (sessionRow, bool, error) {
			c.prog.items.Add(1)
			if o.expiringWithin > 0 && s.ExpirationDate.After(deadline) {
				return sessionRow{}, false, nil
			}
			u, err := n.user(ctx, s.UserID)
			return sessionRow{Session: s, user: u, resource: n.resource(s.ResourceID)}, true, err
		},
		skip:  c.prog.skipGone(gone),
		order: sessionOrder(o.sort),
		ended: func() error { return everyGone(ids, gone) },
	}
	_, err = p.print(ctx, func(ctx context.Context) iter.Seq2[opal.Session, error] {
		return c.client.Sessions.AllOf(ctx, ids, &opal.ListSessionsOptions{UserID: userID, PageSize: o.commonFlags.pageSize})
	})
	return err
}

// sessionOrder orders rows by a -sort key, then by the other keys, so that
// the order is the same on every run; nil for no key.
func sessionOrder(key string) func(a, b sessionRow) int {
	if key == "" {
		return nil
	}
	return func(a, b sessionRow) int {
		expiry := a.ExpirationDate.Compare(b.ExpirationDate)
		user := compareText(a.userText(), b.userText())
		// Two resources may share a name: keep each one's rows together.
		resource := cmp.Or(compareText(a.resourceText(), b.resourceText()), strings.Compare(a.ResourceID, b.ResourceID))
		switch key {
		case "user":
			return cmp.Or(user, expiry, resource)
		case "resource":
			return cmp.Or(resource, expiry, user)
		}
		return cmp.Or(expiry, user, resource)
	}
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
			return append(cells, accessLevel(r.AccessLevel), localTime(r.ExpirationDate), expiresIn(r.ExpirationDate, now))
		},
		csv: []string{"user", "resource", "access_level", "expires_at", "expires_in", "user_id", "resource_id"},
		record: func(r sessionRow) []string {
			return []string{r.userText(), r.resourceText(), accessLevel(r.AccessLevel),
				r.ExpirationDate.UTC().Format(time.RFC3339), expiresIn(r.ExpirationDate, now), r.UserID, r.ResourceID}
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
