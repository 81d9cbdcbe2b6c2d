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
// are UUIDs, nor drop expired ones. A session without its UserID or
// ResourceID is served without it, and an opal.Client refuses the page, as
// it would Opal's.
func (s *Server) AddSessions(sessions ...opal.Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range sessions {
		at := len(s.sessions)
		s.sessions = append(s.sessions, x)
		s.sessionsByResource.add(x.ResourceID, at)
		s.sessionsByResourceUser.add([2]string{x.ResourceID, x.UserID}, at)
	}
}

// listSessions answers GET /sessions: the sessions on resource_id, of
// user_id if given. A resource with no sessions, or one the server has
// never heard of, has an empty list, not a 404.
func (s *Server) listSessions(query url.Values) response {
	resourceID, err := param(query, "resource_id")
	if err != nil {
		return errorResponse(http.StatusBadRequest, err.Error())
	}
	if resourceID == "" {
		return errorResponse(http.StatusBadRequest, "resource_id is required")
	}
	userID, err := param(query, "user_id")
	if err != nil {
		return errorResponse(http.StatusBadRequest, err.Error())
	}
	return listPage(s, query, pageSizeOnly, []string{"sessions", resourceID, userID}, func() selection[opal.Session] {
		positions := s.sessionsByResource.of(resourceID)
		if userID != "" {
			positions = s.sessionsByResourceUser.of([2]string{resourceID, userID})
		}
		return selection[opal.Session]{items: s.sessions, positions: positions}
	})
}
