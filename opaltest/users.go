package opaltest

import (
	"net/http"
	"net/url"

	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/internal/ascii"
)

// AddUsers adds users after those the server already holds, for GET /users
// and GET /user, and makes them known to GET /resources/users/{user_id}. As
// with AddSessions, a walk through the pages of /users that is under way
// when they are added still returns every user exactly once, and the new
// ones too if it has not yet reached its last page.
//
// The server returns users as given: it does not check that their IDs are
// UUIDs or unique (an opal.Client refuses a page holding a user without
// one). GET /user answers with the first user added that
// matches.
func (s *Server) AddUsers(users ...opal.User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range users {
		s.usersByID.add(u.UserID, len(s.users))
		s.users = append(s.users, u)
	}
}

// listUsers answers GET /users: every user, in the order they were added.
func (s *Server) listUsers(query url.Values) response {
	return listPage(s, query, pageSizeOnly, []string{"users"}, func() selection[opal.User] {
		return selection[opal.User]{items: s.users}
	})
}

// getUser answers GET /user: the user with user_id, or else the one with
// email. As on Opal, user_id wins when both are given, and an unknown
// user_id is a 404 even when the email would match: the two never fall
// back to each other. The email matches in any letter case of ASCII, as
// email addresses do in practice, and only of ASCII, as the opal package
// compares them: Unicode's case folding would take
// "\u212Aate@corp.example", whose first letter is the Kelvin sign, for
// kate@corp.example.
func (s *Server) getUser(query url.Values) response {
	userID, err := param(query, "user_id")
	if err != nil {
		return errorResponse(http.StatusBadRequest, err.Error())
	}
	email, err := param(query, "email")
	if err != nil {
		return errorResponse(http.StatusBadRequest, err.Error())
	}
	var find func() selection[opal.User]
	switch {
	case userID != "":
		find = func() selection[opal.User] {
			return selection[opal.User]{items: s.users, positions: s.usersByID.of(userID)}
		}
	case email != "":
		find = func() selection[opal.User] {
			return selection[opal.User]{items: s.users, match: func(u opal.User) bool { return ascii.EqualFold(u.Email, email) }}
		}
	default:
		return errorResponse(http.StatusBadRequest, "user_id or email is required")
	}
	return getItem(s, "user not found", find)
}
