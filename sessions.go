package opal

import (
	"context"
	"fmt"
	"iter"
	"net/url"
)

// SessionsService lists the access sessions on Opal resources: who holds a
// resource, at what access level, until when. Use it as Client.Sessions.
type SessionsService service

// ListSessionsOptions narrows and pages a listing. The zero value, like a nil
// pointer, lists every session on the resource from the first page.
type ListSessionsOptions struct {
	// UserID keeps only this user's sessions.
	UserID string
	// Cursor starts at this page: a SessionsList's Next or Previous.
	Cursor string
	// PageSize is how many sessions a page holds: 0 for the server's default
	// (200), otherwise 1 to 1000.
	PageSize int
}

// List returns one page of the sessions on a resource: the first page, or the
// one at opts.Cursor. To go through every page, use [SessionsService.All] or
// [SessionsService.Pages].
func (s *SessionsService) List(ctx context.Context, resourceID string, opts *ListSessionsOptions) (*SessionsList, error) {
	return s.list(resourceID, opts).one(ctx)
}

// Pages returns every page of the sessions on a resource, starting at
// opts.Cursor (or the first page) and following each page's Next cursor.
// Nothing is sent until the sequence is ranged over, and ranging it again
// starts over.
//
// On an error the sequence yields it once, with a nil page, and stops.
// Each page's Next is the cursor to resume from later.
func (s *SessionsService) Pages(ctx context.Context, resourceID string, opts *ListSessionsOptions) iter.Seq2[*SessionsList, error] {
	return s.list(resourceID, opts).pages(ctx)
}

// All returns every session on a resource, page after page, as
// [SessionsService.Pages] does, holding one page in memory at a time.
//
// When opts.PageSize is 0, All asks for pages of 1000, the API's maximum:
// Opal's rate limit counts requests, and a walk then takes five times fewer
// than at the server's default of 200.
//
// On an error the sequence yields it once, with a zero Session, and stops.
func (s *SessionsService) All(ctx context.Context, resourceID string, opts *ListSessionsOptions) iter.Seq2[Session, error] {
	return s.list(resourceID, opts).all(ctx)
}

// list checks a listing's arguments and builds its query. The caller's
// options are copied, never modified.
func (s *SessionsService) list(resourceID string, opts *ListSessionsOptions) list[wireSession, Session, SessionsList] {
	var o ListSessionsOptions
	if opts != nil {
		o = *opts
	}
	l := list[wireSession, Session, SessionsList]{
		client: s.client, path: "sessions", noun: "sessions",
		cursor: o.Cursor, pageSize: o.PageSize, err: checkPageSize(o.PageSize),
		item: wireSession.session, public: sessionsList,
	}
	if resourceID == "" {
		l.err = fmt.Errorf("%w: empty resource ID", ErrInvalidArgument)
	}
	// The API reference leaves cursor and page_size out for this endpoint,
	// but Opal's pagination documentation gives them to every list.
	l.query = url.Values{"resource_id": {resourceID}}
	if o.UserID != "" {
		l.query.Set("user_id", o.UserID)
	}
	return l
}
