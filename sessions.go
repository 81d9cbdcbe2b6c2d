package opal

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"strconv"
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

// maxPageSize is the largest page Opal serves.
const maxPageSize = 1000

// List returns one page of the sessions on a resource: the first page, or the
// one at opts.Cursor. To go through every page, use [SessionsService.All] or
// [SessionsService.Pages].
func (s *SessionsService) List(ctx context.Context, resourceID string, opts *ListSessionsOptions) (*SessionsList, error) {
	page, err := s.page(ctx, resourceID, opts)
	if err != nil {
		return nil, err
	}
	return page.list(), nil
}

// Pages returns every page of the sessions on a resource, starting at
// opts.Cursor (or the first page) and following each page's Next cursor.
// Nothing is sent until the sequence is ranged over, and ranging it again
// starts over.
//
// On an error the sequence yields it once, with a nil page, and stops.
// Each page's Next is the cursor to resume from later.
func (s *SessionsService) Pages(ctx context.Context, resourceID string, opts *ListSessionsOptions) iter.Seq2[*SessionsList, error] {
	var o ListSessionsOptions
	if opts != nil {
		o = *opts
	}
	return mapPages(s.walk(ctx, resourceID, o), (*sessionsPage).list)
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
	var o ListSessionsOptions
	if opts != nil {
		o = *opts
	}
	if o.PageSize == 0 {
		o.PageSize = maxPageSize
	}
	// Sessions are converted from the decoded page one at a time, as they
	// are yielded, rather than into a SessionsList first: a walk then
	// allocates no second copy of each page.
	return items(s.walk(ctx, resourceID, o), (*sessionsPage).sessions)
}

// walk returns the decoded pages of a resource's sessions from opts.Cursor on.
func (s *SessionsService) walk(ctx context.Context, resourceID string, opts ListSessionsOptions) iter.Seq2[*sessionsPage, error] {
	return pages(ctx, opts.Cursor, func(ctx context.Context, cursor string) (*sessionsPage, string, error) {
		o := opts
		o.Cursor = cursor
		page, err := s.page(ctx, resourceID, &o)
		if err != nil {
			return nil, "", err
		}
		return page, page.Next, nil
	})
}

// page fetches one page, as decoded.
func (s *SessionsService) page(ctx context.Context, resourceID string, opts *ListSessionsOptions) (*sessionsPage, error) {
	query, err := sessionsQuery(resourceID, opts)
	if err != nil {
		return nil, err
	}
	var page sessionsPage
	if err := s.client.get(ctx, "sessions", query, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// sessionsQuery checks a listing's arguments and builds its query string.
func sessionsQuery(resourceID string, opts *ListSessionsOptions) (url.Values, error) {
	if resourceID == "" {
		return nil, fmt.Errorf("%w: empty resource ID", ErrInvalidArgument)
	}
	var o ListSessionsOptions
	if opts != nil {
		o = *opts
	}
	if o.PageSize < 0 || o.PageSize > maxPageSize {
		return nil, fmt.Errorf("%w: page size %d is outside 0..%d", ErrInvalidArgument, o.PageSize, maxPageSize)
	}
	query := url.Values{"resource_id": {resourceID}}
	if o.UserID != "" {
		query.Set("user_id", o.UserID)
	}
	// The API reference leaves cursor and page_size out for this endpoint,
	// but Opal's pagination documentation gives them to every list.
	if o.Cursor != "" {
		query.Set("cursor", o.Cursor)
	}
	if o.PageSize != 0 {
		query.Set("page_size", strconv.Itoa(o.PageSize))
	}
	return query, nil
}
