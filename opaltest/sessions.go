package opaltest

import (
	"net/http"
	"net/url"

	"github.com/opalclient/opal-go"
)

// AddSessions adds sessions after those the server already holds. A walk
// through the pages that is under way when they are added still returns
// every session exactly once; it returns the new ones too if they match its
// query and it has not yet reached its last page.
//
// The server returns sessions as given: it does not check that their IDs
// are UUIDs, nor drop expired ones.
func (s *Server) AddSessions(sessions ...opal.Session) {
	add(s, &s.sessions, sessions)
}

// listSessions answers GET /sessions: the sessions on resource_id, of
// user_id if given. A resource with no sessions, or one the server has
// never heard of, has an empty list, not a 404.
func (s *Server) listSessions(query url.Values) response {
	resourceID := query.Get("resource_id")
	if resourceID == "" {
		return errorResponse(http.StatusBadRequest, "resource_id is required")
	}
	userID := query.Get("user_id")
	return listPage(s, query, []string{"sessions", resourceID, userID}, func() ([]opal.Session, func(opal.Session) bool) {
		return s.sessions, func(x opal.Session) bool {
			return x.ResourceID == resourceID && (userID == "" || x.UserID == userID)
		}
	})
}
