package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/internal/ascii"
)

var accessCommand = &subcommand{
	name:    "access",
	summary: "who can reach each resource: grants, how they were given, until when, and what needs a look",
	synopsis: `opal access (-resource-id ID[,ID...] | -all [-resource-type TYPE] [-resource-name NAME] | -user EMAIL | -user-id ID)
                   [-flagged] [-permanent | -expiring-within DURATION] [-no-sessions]
                   [-format table|json|csv] [-sort expires|user|resource] [-ids] [-page-size N] [-v]`,
	about: `Lists who can reach each resource: every grant, held directly or through
groups, permanent or until it expires, used or not, with whether the user is
connected right now and what a reviewer must look at. A resource without
sessions is not a resource nobody can reach: SaaS apps have grants only.

Which grants: exactly one of -resource-id, -all (narrowed by -resource-type
and -resource-name), and -user or -user-id, which lists one person's whole
reach in one walk (the offboarding question), on resources Opal does not
manage too. With a token one of them is required; in the demo, no
selection shows the whole organisation, sorted by resource. Each
-resource-id is checked to exist first, and a -user or -user-id too: an
unknown one is an error, not an empty table.

Columns:
  USER          the user's email (-ids: the user's ID)
  RESOURCE      the resource's name; left out only for one -resource-id
  ACCESS LEVEL  the level granted, "(default)" on resources without levels
  HOW           direct, group (through groups only), direct+group, or
                unknown (not direct, and Opal counts no path to it)
  EXPIRES       never, or when the grant ends and how long from now
  SESSION       "until 14:05 UTC" when the user holds a live session on that
                resource at that level; "unknown" when the resource's
                sessions could not be read (they answered 404, and a
                warning says so); none with -no-sessions
  FLAGS         what needs a look: suspended, deprovisioned or deleted (the
                user's status in the HR system or identity provider),
                not-in-idp (that system does not know the user), unknown-user
                (Opal has no such user), another status that is not ACTIVE
                in lower case, not-propagated (the grant's last change did
                not reach the remote system: an ERR_ status), expired (listed
                past its expiry, not yet revoked)
-flagged keeps the rows with a flag: who still holds access after leaving,
in one command.

Sessions are joined with one sweep of the live sessions of the same
resources (of the one user, with -user), before the grants are listed;
-no-sessions skips it. A resource whose grants could not be read (a 404
during the sweep: deleted since it was listed) is warned about and skipped,
and the run fails when that is every resource swept. Users are looked up
for their status one request per user until more than 10 need one, then in
one walk of every user; -ids shows IDs and skips those lookups, so it
cannot go with -flagged but for one user.

Without -sort, rows come in the order answers arrive, which differs between
runs, and the table is written in blocks as they come: each column keeps
the widest width it has had. On a terminal, cells wider than 60 columns are
cut with "…"; a file or a pipe gets them whole.

json is one grant per line in the API's field names, plus user_email,
user_status, resource_name, session_expires_at (when there is one),
session_unknown (true when SESSION is unknown) and flags; csv has a header
row and user, resource, access_level, how, expires_at, expires_in,
session_expires_at ("unknown" when SESSION is), flags, user_status,
user_id, resource_id.
`,
	examples: `  # Who still holds access after leaving: every flagged grant of the organisation
  opal access -all -flagged

  # One person's whole reach, soonest expiry first
  opal access -user alice@example.com -sort expires

  # The grants on two resources that never expire, as csv for a spreadsheet
  opal access -resource-id 1b978423-db0a-4037-a4cf-f79c60cb67b3,77eb1ab7-2c27-4fc4-afdb-137e1265cddd -permanent -format csv
`,
	newOptions: func() options { return &accessOptions{} },
}

// accessOptions are the flags of opal access.
type accessOptions struct {
	sweepFlags
	flagged    bool
	permanent  bool
	noSessions bool
}

func (o *accessOptions) flags(fs *flag.FlagSet) {
	o.defineSweep(fs, "grants", "list every grant", "show user and resource IDs instead of names, and look no names or statuses up")
	fs.BoolVar(&o.flagged, "flagged", false, "only grants with a flag: users who left, grants not propagated, grants past their expiry")
	fs.BoolVar(&o.permanent, "permanent", false, "only grants that never expire")
	fs.BoolVar(&o.noSessions, "no-sessions", false, "do not look for live sessions: no SESSION column, one sweep fewer")
}

func (o *accessOptions) check(map[string]bool) error {
	if err := o.checkSweep(); err != nil {
		return err
	}
	switch {
	case o.user.selected() && o.resources.selected():
		return usagef("-user or -user-id lists one person's grants on every resource: pass it without -resource-id or -all")
	case o.permanent && o.expiringWithin > 0:
		return usagef("-permanent keeps grants that never expire, -expiring-within grants that do: pass one of them")
	case o.flagged && o.ids && !o.user.selected():
		return usagef("-flagged needs each user's status, which -ids does not look up: drop -ids")
	}
	return nil
}

func (o *accessOptions) prepare(demo bool) error {
	if o.resources.selected() || o.user.selected() {
		return nil
	}
	return o.resources.selectForDemo(demo, &o.sort, o.commonFlags.format,
		"pass -resource-id ID[,ID...] for some resources, -all for the whole organisation, or -user EMAIL for one person's grants")
}

func (o *accessOptions) describe() string {
	s := "opal access: the grants on " + o.resources.describe()
	if o.user.selected() {
		s = "opal access: the grants of " + o.user.describe()
	}
	var only []string
	if o.flagged {
		only = append(only, "flagged")
	}
	if o.permanent {
		only = append(only, "permanent")
	}
	return o.describeRun(s, only...)
}

// accessRow is a grant as opal access shows it.
type accessRow struct {
	opal.ResourceAccessUser
	user     *opal.User // nil when not looked up, or unknown to Opal
	resource string     // the resource's name; "" when not looked up, or unknown
	session  time.Time  // the end of the user's live session at this level; zero for none
	// sessionUnknown says that the sessions of the grant's resource could
	// not be read (gone during their sweep): no session is no proof of none.
	sessionUnknown bool
	flags          []string
	ids            bool // -ids: the user is shown by ID
}

func (r accessRow) userText() string {
	switch {
	case r.ids:
		return r.UserID
	case r.Email != "":
		return r.Email
	}
	return userText(r.user, r.UserID)
}

func (r accessRow) resourceText() string { return cmp.Or(r.resource, r.ResourceID) }

// sessionText is the SESSION of a row: when its live session ends, ""
// for none, or "unknown" when its resource's sessions could not be read.
func (r accessRow) sessionText(now time.Time) string {
	if r.sessionUnknown {
		return "unknown"
	}
	return until(r.session, now)
}

func (r accessRow) status() string {
	if r.user == nil {
		return ""
	}
	return r.user.HRIDPStatus
}

// sessionKey is what a session must share with a grant to be made under
// it: resource, user and access level. The IDs are folded (ascii.Lower), as
// Opal takes them in any letter case and may write them so.
type sessionKey struct {
	resourceID, userID, level string
}

func keyOf(resourceID, userID string, l opal.ResourceAccessLevel) sessionKey {
	return sessionKey{ascii.Lower(resourceID), ascii.Lower(userID), cmp.Or(l.RemoteID, l.Name)}
}

func (o *accessOptions) run(ctx context.Context, c *cli) error {
	var n *names
	if !o.ids {
		n = newNames(c.client)
	}
	now := time.Now()
	src, err := o.source(ctx, c, n)
	if err != nil {
		return err
	}
	var live liveSessions
	if !o.noSessions {
		if live, err = o.sweepSessions(ctx, c, src.ids, src.user, now); err != nil {
			return err
		}
	}
	if src.user == nil { // -user's grants were counted as they came
		c.prog.begin("grants", len(src.ids))
	}
	deadline := now.Add(o.expiringWithin)
	gone := map[string]bool{}
	p := rows[opal.ResourceAccessUser, accessRow]{
		out: newPrinter(o.commonFlags.format, accessLayout(!o.resources.oneNamed(), !o.noSessions, now), c.stdout, c.cut),
		row: func(g opal.ResourceAccessUser) (accessRow, bool, error) {
			if src.user == nil {
				c.prog.items.Add(1)
			}
			switch {
			case o.permanent && g.ExpirationDate != nil:
				return accessRow{}, false, nil
			case o.expiringWithin > 0 && (g.ExpirationDate == nil || g.ExpirationDate.After(deadline)):
				return accessRow{}, false, nil
			}
			r := accessRow{ResourceAccessUser: g, resource: n.resource(g.ResourceID), ids: o.ids,
				session: live.ends[keyOf(g.ResourceID, g.UserID, g.AccessLevel)], sessionUnknown: live.unread[ascii.Lower(g.ResourceID)]}
			lookedUp := n != nil
			switch {
			case src.user != nil:
				r.user, lookedUp = src.user, true
			case n != nil:
				u, err := n.user(ctx, g.UserID)
				if err != nil {
					return accessRow{}, false, err
				}
				r.user = u
			}
			r.flags = grantFlags(g, r.user, lookedUp, now)
			return r, !o.flagged || len(r.flags) > 0, nil
		},
		skip:  c.prog.skipGone(gone),
		order: accessOrder(o.sort),
	}
	if src.user == nil {
		// A sweep that read none of its resources read no grant: that is
		// no empty table.
		p.ended = func() error { return everyGone(src.ids, gone) }
	}
	_, err = p.print(ctx, src.list)
	return err
}

// grantSource is where the grants of a run come from.
type grantSource struct {
	ids  []string   // the resources they are on
	user *opal.User // -user's or -user-id's, whose grants they are; nil for the grants on resources
	list func(context.Context) iter.Seq2[opal.ResourceAccessUser, error]
}

// source selects the grants: one user's, walked at once (they are few, and
// the resources they are on must be known before the sessions are), or
// those on the resources selected, swept as they are printed.
func (o *accessOptions) source(ctx context.Context, c *cli, n *names) (grantSource, error) {
	if !o.user.selected() {
		ids, err := o.resources.resources(ctx, c, n)
		return grantSource{ids: ids, list: func(ctx context.Context) iter.Seq2[opal.ResourceAccessUser, error] {
			return c.client.Access.AllOf(ctx, ids, &opal.ListAccessOptions{PageSize: o.commonFlags.pageSize})
		}}, err
	}
	user, err := o.user.find(ctx, c.client, n)
	if err != nil {
		return grantSource{}, err
	}
	grants, err := o.userGrants(ctx, c, user.UserID)
	if err != nil {
		return grantSource{}, err
	}
	var ids []string
	seen := map[string]bool{}
	for _, g := range grants {
		if key := ascii.Lower(g.ResourceID); !seen[key] {
			seen[key] = true
			ids = append(ids, g.ResourceID)
		}
	}
	if err := n.listResources(ctx, ids); err != nil {
		return grantSource{}, err
	}
	return grantSource{ids: ids, user: user, list: func(context.Context) iter.Seq2[opal.ResourceAccessUser, error] {
		return func(yield func(opal.ResourceAccessUser, error) bool) {
			for _, g := range grants {
				if !yield(g, nil) {
					return
				}
			}
		}
	}}, nil
}

// userGrants returns every grant of one user, in one walk: on the
// resources Opal does not manage too, since the offboarding question is
// everything the person can reach.
func (o *accessOptions) userGrants(ctx context.Context, c *cli, userID string) ([]opal.ResourceAccessUser, error) {
	c.prog.begin("grants", 0)
	var grants []opal.ResourceAccessUser
	for g, err := range c.client.Access.AllForUser(ctx, userID, &opal.ListUserAccessOptions{PageSize: o.commonFlags.pageSize, IncludeUnmanaged: true}) {
		if err != nil {
			return nil, fmt.Errorf("listing the grants of user %s: %w", userID, err)
		}
		grants = append(grants, g)
		c.prog.items.Add(1)
	}
	return grants, nil
}

// liveSessions is what the sweep of live sessions found: the end of each
// live session, by what it shares with a grant, and the resources whose
// sessions could not be read, found gone during the sweep, by folded ID
// (ascii.Lower).
type liveSessions struct {
	ends   map[sessionKey]time.Time
	unread map[string]bool
}

// sweepSessions sweeps the sessions of the resources with the given IDs, of
// user if not nil, for those live at now.
func (o *accessOptions) sweepSessions(ctx context.Context, c *cli, ids []string, user *opal.User, now time.Time) (liveSessions, error) {
	c.prog.begin("sessions", len(ids))
	opts := &opal.ListSessionsOptions{PageSize: o.commonFlags.pageSize}
	if user != nil {
		opts.UserID = user.UserID
	}
	live := liveSessions{ends: map[sessionKey]time.Time{}, unread: map[string]bool{}}
	skip := c.prog.skipGone(live.unread)
	for s, err := range c.client.Sessions.AllOf(ctx, ids, opts) {
		if err != nil {
			if skip(err) {
				continue
			}
			return liveSessions{}, fmt.Errorf("looking for live sessions (-no-sessions skips this): %w", err)
		}
		c.prog.items.Add(1)
		if !s.ExpirationDate.After(now) {
			continue // listed, but over: no session to show
		}
		key := keyOf(s.ResourceID, s.UserID, s.AccessLevel)
		if s.ExpirationDate.After(live.ends[key]) {
			live.ends[key] = s.ExpirationDate
		}
	}
	return live, nil
}

// grantFlags names what a reviewer must look at in a grant: the user's status
// when it is not active (when the user was looked up: lookedUp), a grant
// whose last change did not reach the remote system, and a grant listed
// past its expiry.
func grantFlags(g opal.ResourceAccessUser, u *opal.User, lookedUp bool, now time.Time) []string {
	var flags []string
	if f := userFlag(u, lookedUp); f != "" {
		flags = append(flags, f)
	}
	if strings.HasPrefix(ascii.Lower(g.PropagationStatus), "err_") {
		flags = append(flags, "not-propagated")
	}
	if g.ExpirationDate != nil && !g.ExpirationDate.After(now) {
		flags = append(flags, "expired")
	}
	return flags
}

// userFlag is the flag of a user's status: "" for an active user, or one
// whose status the API does not send.
func userFlag(u *opal.User, lookedUp bool) string {
	switch {
	case !lookedUp:
		return ""
	case u == nil:
		return "unknown-user"
	}
	// Compared in any letter case of ASCII and without the spaces around
	// it, so that "ACTIVE " is active, not a status to flag, and
	// "act\u0131ve" (with a dotless i) is no ACTIVE, but a status to show.
	switch status := ascii.Lower(strings.TrimSpace(u.HRIDPStatus)); status {
	case "", ascii.Lower(opal.HRIDPStatusActive):
		return ""
	case ascii.Lower(opal.HRIDPStatusNotFound):
		return "not-in-idp"
	default: // SUSPENDED, DEPROVISIONED, DELETED, and any status added since
		return strings.ReplaceAll(status, "_", "-")
	}
}

// how says how a grant is held: "unknown" when it is not direct and no
// path to it is counted, which says nothing of a group.
func how(g opal.ResourceAccessUser) string {
	switch {
	case g.HasDirectAccess && g.NumAccessPaths > 1:
		return "direct+group"
	case g.HasDirectAccess:
		return "direct"
	case g.NumAccessPaths < 1:
		return "unknown"
	}
	return "group"
}

// accessOrder orders rows by a -sort key, then by the other keys; a grant
// that never expires comes after every one that does.
func accessOrder(key string) func(a, b accessRow) int {
	if key == "" {
		return nil
	}
	return func(a, b accessRow) int {
		expiry := compareExpiry(a.ExpirationDate, b.ExpirationDate)
		user := compareText(a.userText(), b.userText())
		resource := cmp.Or(compareText(a.resourceText(), b.resourceText()), strings.Compare(a.ResourceID, b.ResourceID))
		level := strings.Compare(accessLevel(a.AccessLevel), accessLevel(b.AccessLevel))
		switch key {
		case "user":
			return cmp.Or(user, expiry, resource, level)
		case "resource":
			return cmp.Or(resource, expiry, user, level)
		}
		return cmp.Or(expiry, user, resource, level)
	}
}

func compareExpiry(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return a.Compare(*b)
}

// expires is the EXPIRES of a grant.
func expires(t *time.Time, now time.Time) string {
	if t == nil {
		return "never"
	}
	if t.After(now) {
		return localTime(*t) + " (in " + expiresIn(*t, now) + ")"
	}
	return localTime(*t) + " (expired)"
}

// until is the SESSION of a grant: when its live session ends, the time
// alone when that is today, "" for none. A session that ends tomorrow at
// 04:00 shows its date, or it would read as one that ended this morning.
func until(t, now time.Time) string {
	switch {
	case t.IsZero():
		return ""
	case sameDay(t.Local(), now.Local()):
		return "until " + t.Local().Format("15:04 MST")
	}
	return "until " + localTime(t)
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

// accessLayout is how opal access shows its rows; several says whether the
// table has a RESOURCE column (all but one -resource-id can list rows of
// several resources, and should one resource match, the reader must still
// see which), sessions whether it has a SESSION column.
func accessLayout(several, sessions bool, now time.Time) layout[accessRow] {
	header := []string{"USER"}
	if several {
		header = append(header, "RESOURCE")
	}
	header = append(header, "ACCESS LEVEL", "HOW", "EXPIRES")
	if sessions {
		header = append(header, "SESSION")
	}
	header = append(header, "FLAGS")
	rfc := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	return layout[accessRow]{
		header: header,
		cells: func(r accessRow) []string {
			cells := []string{r.userText()}
			if several {
				cells = append(cells, r.resourceText())
			}
			cells = append(cells, accessLevel(r.AccessLevel), how(r.ResourceAccessUser), expires(r.ExpirationDate, now))
			if sessions {
				cells = append(cells, r.sessionText(now))
			}
			return append(cells, strings.Join(r.flags, ","))
		},
		csv: []string{"user", "resource", "access_level", "how", "expires_at", "expires_in", "session_expires_at", "flags", "user_status", "user_id", "resource_id"},
		record: func(r accessRow) []string {
			expiresAt, left := "", "never"
			if r.ExpirationDate != nil {
				expiresAt, left = rfc(*r.ExpirationDate), expiresIn(*r.ExpirationDate, now)
			}
			session := rfc(r.session)
			if r.sessionUnknown {
				session = "unknown"
			}
			return []string{r.userText(), r.resourceText(), accessLevel(r.AccessLevel), how(r.ResourceAccessUser), expiresAt, left,
				session, strings.Join(r.flags, ","), r.status(), r.UserID, r.ResourceID}
		},
		json: func(r accessRow) any {
			extra := struct {
				UserEmail        string     `json:"user_email,omitempty"`
				UserStatus       string     `json:"user_status,omitempty"`
				ResourceName     string     `json:"resource_name,omitempty"`
				SessionExpiresAt *time.Time `json:"session_expires_at,omitempty"`
				SessionUnknown   bool       `json:"session_unknown,omitempty"`
				Flags            []string   `json:"flags"`
			}{ResourceName: r.resource, SessionUnknown: r.sessionUnknown, Flags: r.flags}
			if extra.Flags == nil {
				extra.Flags = []string{} // [], never null: no flag
			}
			if r.user != nil {
				extra.UserEmail, extra.UserStatus = r.user.Email, r.user.HRIDPStatus
			}
			if !r.session.IsZero() {
				extra.SessionExpiresAt = &r.session
			}
			return joined{r.ResourceAccessUser, extra}
		},
	}
}

// joined is the JSON object of a's members, then b's: a grant in the API's
// own shape (its MarshalJSON), with the command's fields after it.
type joined struct{ a, b any }

func (j joined) MarshalJSON() ([]byte, error) {
	a, err := json.Marshal(j.a)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(j.b)
	if err != nil {
		return nil, err
	}
	if len(b) <= len("{}") {
		return a, nil
	}
	return append(append(a[:len(a)-1], ','), b[1:]...), nil
}
