package opaltest

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/opalclient/opal-go"
)

// AddAccess adds grants after those the server already holds, for
// GET /resources/{resource_id}/users and GET /resources/users/{user_id}. A
// grant is one user's access to one resource at one access level: a user
// who holds a resource at two levels is two grants, and the server lists
// them as given, never merged. As with AddSessions, a walk through the pages
// that is under way when they are added still returns every grant exactly
// once, and the new ones too if they match it and it has not yet reached
// its last page.
//
// A grant makes its resource and its user known, as AddResources and
// AddUsers do: the server answers 404 for a resource or a user that it was
// given by none of the three.
func (s *Server) AddAccess(grants ...opal.ResourceAccessUser) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range grants {
		at := len(s.grants)
		s.grants = append(s.grants, g)
		s.grantsByResource.add(g.ResourceID, at)
		s.grantsByUser.add(g.UserID, at)
	}
}

// listResourceUsers answers GET /resources/{resource_id}/users: every grant
// on the resource, in the order they were added.
func (s *Server) listResourceUsers(resourceID string, query url.Values) response {
	s.mu.Lock()
	known := s.resourcesByID.has(resourceID) || s.grantsByResource.has(resourceID)
	s.mu.Unlock()
	if !known {
		return errorResponse(http.StatusNotFound, "resource not found")
	}
	return listPage(s, query, pageSizeOrLimit, []string{"resource users", resourceID}, func() selection[opal.ResourceAccessUser] {
		return selection[opal.ResourceAccessUser]{items: s.grants, positions: s.grantsByResource.of(resourceID)}
	})
}

// listUserResources answers GET /resources/users/{user_id}: every grant of
// the user, in the order they were added. include_unmanaged is checked and
// changes nothing: every grant the server holds is on a resource Opal
// manages. Absent, it is false; given, it must be true or false: an empty
// value is refused, unlike other parameters', since a server could read it
// either way.
func (s *Server) listUserResources(userID string, query url.Values) response {
	v, err := param(query, "include_unmanaged")
	if err != nil {
		return errorResponse(http.StatusBadRequest, err.Error())
	}
	var includeUnmanaged bool
	switch {
	case v == "true":
		includeUnmanaged = true
	case v == "false", !query.Has("include_unmanaged"):
	default:
		return errorResponse(http.StatusBadRequest, "include_unmanaged must be true or false")
	}
	s.mu.Lock()
	known := s.usersByID.has(userID) || s.grantsByUser.has(userID)
	s.mu.Unlock()
	if !known {
		return errorResponse(http.StatusNotFound, "user not found")
	}
	scope := []string{"user resources", userID, strconv.FormatBool(includeUnmanaged)}
	return listPage(s, query, pageSizeOrLimit, scope, func() selection[opal.ResourceAccessUser] {
		return selection[opal.ResourceAccessUser]{items: s.grants, positions: s.grantsByUser.of(userID)}
	})
}
