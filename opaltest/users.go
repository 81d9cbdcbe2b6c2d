package opaltest

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/opalclient/opal-go"
)

// AddUsers adds users after those the server already holds, for GET /users
// and GET /user. As with AddSessions, a walk through the pages of /users
// that is under way when they are added still returns every user exactly
// once, and the new ones too if it has not yet reached its last page.
//
// The server returns users as given: it does not check that their IDs are
// UUIDs or unique. GET /user answers with the first user added that
// matches.
func (s *Server) AddUsers(users ...opal.User) {
	add(s, &s.users, users)
}

// listUsers answers GET /users: every user, in the order they were added.
func (s *Server) listUsers(query url.Values) response {
	return listPage(s, query, []string{"users"}, func() ([]opal.User, func(opal.User) bool) {
		return s.users, func(opal.User) bool { return true }
	})
}

// getUser answers GET /user: the user with user_id, or else the one with
// email. As on Opal, user_id wins when both are given, and an unknown
// user_id is a 404 even when the email would match: the two never fall
// back to each other. The email matches in any letter case, as email
// addresses do in practice.
func (s *Server) getUser(query url.Values) response {
	userID, email := query.Get("user_id"), query.Get("email")
	var match func(opal.User) bool
	switch {
	case userID != "":
		match = func(u opal.User) bool { return u.UserID == userID }
	case email != "":
		match = func(u opal.User) bool { return strings.EqualFold(u.Email, email) }
	default:
		return errorResponse(http.StatusBadRequest, "user_id or email is required")
	}
	return getItem(s, "user not found", func() ([]opal.User, func(opal.User) bool) {
		return s.users, match
	})
}
