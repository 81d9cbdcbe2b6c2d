package opal

import (
	"context"
	"fmt"
	"iter"
	"net/url"
)

// User is a user of an Opal organisation.
//
// It marshals to, and unmarshals from, the API's own JSON shape ("user_id",
// "full_name", ...). Unmarshalling is lenient where the API is loose:
// absent fields are empty (the API's own example leaves out fields its
// schema requires), and IDs are taken as they come.
type User struct {
	UserID    string `json:"user_id"`
	Email     string `json:"email"`
	FullName  string `json:"full_name"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Position  string `json:"position"`
	// HRIDPStatus is the user's status in the HR system or identity
	// provider, such as HRIDPStatusActive; "" when the API sends none.
	HRIDPStatus string `json:"hr_idp_status,omitempty"`
}

// The values of User.HRIDPStatus that the API documents. Others may come
// and are kept as sent.
const (
	HRIDPStatusActive        = "ACTIVE"
	HRIDPStatusSuspended     = "SUSPENDED"
	HRIDPStatusDeprovisioned = "DEPROVISIONED"
	HRIDPStatusDeleted       = "DELETED"
	HRIDPStatusNotFound      = "NOT_FOUND"
)

// UsersList is one page of users.
type UsersList = Page[User]

// UsersService finds the users of an Opal organisation: the names and
// emails behind the user IDs of sessions. Use it as Client.Users.
type UsersService service

// ListUsersOptions pages a listing of users. The zero value, like a nil
// pointer, lists every user from the first page.
type ListUsersOptions struct {
	// Cursor starts at this page: a UsersList's Next or Previous.
	Cursor string
	// PageSize is how many users a page holds: 0 for the server's default
	// (200), otherwise 1 to 1000.
	PageSize int
}

// Get returns the user with the given ID. An unknown user is what the
// server says it is: a 404 is an error matching [ErrNotFound]. A 2xx holding
// another user, or none, is an error matching [ErrInvalidResponse].
func (s *UsersService) Get(ctx context.Context, userID string) (*User, error) {
	if userID == "" {
		return nil, fmt.Errorf("%w: empty user ID", ErrInvalidArgument)
	}
	r := request{path: []string{"user"}, query: url.Values{"user_id": {userID}}, what: "the user asked for"}
	return getObject(ctx, s.client, r, func(u *User) error { return askedFor("user_id", u.UserID, userID) })
}

// GetByEmail returns the user with the given email address, as Opal
// matches it. The answer must hold that email, in any letter case of ASCII
// (only: a Unicode look-alike is another address), or it is an error
// matching [ErrInvalidResponse]. It never falls back to
// [UsersService.Get], nor Get to it: an unknown email is a 404, an error
// matching [ErrNotFound].
func (s *UsersService) GetByEmail(ctx context.Context, email string) (*User, error) {
	if email == "" {
		return nil, fmt.Errorf("%w: empty email", ErrInvalidArgument)
	}
	r := request{path: []string{"user"}, query: url.Values{"email": {email}}, what: "the user asked for"}
	return getObject(ctx, s.client, r, func(u *User) error { return askedFor("email", u.Email, email) })
}

// List returns one page of the organisation's users: the first page, or
// the one at opts.Cursor. To go through every page, use [UsersService.All]
// or [UsersService.Pages]. A page holding a user without an ID is an error
// matching [ErrInvalidResponse].
func (s *UsersService) List(ctx context.Context, opts *ListUsersOptions) (*UsersList, error) {
	return s.listing(opts).one(ctx)
}

// Pages returns every page of the organisation's users, starting at
// opts.Cursor (or the first page), as [SessionsService.Pages] does.
func (s *UsersService) Pages(ctx context.Context, opts *ListUsersOptions) iter.Seq2[*UsersList, error] {
	return s.listing(opts).pages(ctx)
}

// All returns every user of the organisation, page after page, as
// [SessionsService.All] does: in pages of 1000 when opts.PageSize is 0, and
// on an error the sequence yields it once, with a zero User, and stops.
func (s *UsersService) All(ctx context.Context, opts *ListUsersOptions) iter.Seq2[User, error] {
	return s.listing(opts).all(ctx)
}

// listing checks a listing's arguments. The caller's options are copied,
// never modified. Every user of a page must have an ID.
func (s *UsersService) listing(opts *ListUsersOptions) list[User, User] {
	o := valueOf(opts)
	l := newList(s.client, []string{"users"}, "the page of users asked for", o.Cursor, o.PageSize, same[User])
	l.check = func(u User) error { return present("user_id", u.UserID != "") }
	return l
}
