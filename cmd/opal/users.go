package main

import (
	"context"
	"flag"
	"iter"

	"github.com/opalclient/opal-go"
)

var usersCommand = &subcommand{
	name:     "users",
	summary:  "the organisation's users, with their IDs and HR status",
	synopsis: `opal users [-email EMAIL] [-format table|json|csv] [-page-size N] [-v]`,
	about: `Lists the users of the organisation, with the IDs that -user-id takes, their
email, name, position and status in the HR system or identity provider
(HR STATUS: ACTIVE, SUSPENDED, DEPROVISIONED, DELETED, NOT_FOUND), in the
order Opal lists them. -email shows one user; an email Opal does not know
fails the run.

json is one user per line in the API's field names; csv has a header row
and user_id, email, full_name, first_name, last_name, position,
hr_idp_status.
`,
	examples: `  # Every user, to find the ID of one
  opal users

  # One user, as json
  opal users -email alice@example.com -format json
`,
	newOptions: func() options { return &usersOptions{} },
}

// usersOptions are the flags of opal users.
type usersOptions struct {
	commonFlags common
	email       string
}

func (o *usersOptions) common() *common { return &o.commonFlags }

func (o *usersOptions) flags(fs *flag.FlagSet) {
	fs.StringVar(&o.email, "email", "", "only the user with this `EMAIL`")
	o.commonFlags.define(fs, "users")
}

func (o *usersOptions) check(map[string]bool) error { return nil }
func (o *usersOptions) prepare(bool) error          { return nil }

func (o *usersOptions) describe() string {
	if o.email != "" {
		return "opal users: the user " + o.email
	}
	return "opal users: every user of the organisation"
}

func (o *usersOptions) run(ctx context.Context, c *cli) error {
	list := func(ctx context.Context) iter.Seq2[opal.User, error] {
		return c.client.Users.All(ctx, &opal.ListUsersOptions{PageSize: o.commonFlags.pageSize})
	}
	if o.email != "" {
		u, err := userByEmail(ctx, c.client, "-email", o.email)
		if err != nil {
			return err
		}
		list = func(context.Context) iter.Seq2[opal.User, error] {
			return func(yield func(opal.User, error) bool) { yield(*u, nil) }
		}
	}
	c.prog.begin("users", 0)
	_, err := plainRows(c, o.commonFlags.format, usersLayout).print(ctx, list)
	return err
}

var usersLayout = layout[opal.User]{
	header: []string{"USER ID", "EMAIL", "NAME", "POSITION", "HR STATUS"},
	cells: func(u opal.User) []string {
		return []string{u.UserID, u.Email, u.FullName, u.Position, u.HRIDPStatus}
	},
	csv: []string{"user_id", "email", "full_name", "first_name", "last_name", "position", "hr_idp_status"},
	record: func(u opal.User) []string {
		return []string{u.UserID, u.Email, u.FullName, u.FirstName, u.LastName, u.Position, u.HRIDPStatus}
	},
	json: func(u opal.User) any { return u },
}
