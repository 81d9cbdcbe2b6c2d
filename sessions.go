package opal

import (
	"cmp"
	"context"
	"fmt"
	"iter"
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
//
// Every session of the page must be on that resource, and of opts.UserID
// when it is set, in any letter case of ASCII (only: a Unicode look-alike
// is another ID): a page holding another session is an error matching
// [ErrInvalidResponse], as is one holding a session that does not say whose
// it is, on what, or until when. So is it for Pages and All, before any
// session of that page is yielded.
func (s *SessionsService) List(ctx context.Context, resourceID string, opts *ListSessionsOptions) (*SessionsList, error) {
	return s.byResource(resourceID, opts).one(ctx)
}

// Pages returns every page of the sessions on a resource, starting at
// opts.Cursor (or the first page) and following each page's Next cursor.
// Nothing is sent until the sequence is ranged over, and ranging it again
// starts over.
//
// On an error the sequence yields it once, with a nil page, and stops.
// Each page's Next is the cursor to resume from later.
func (s *SessionsService) Pages(ctx context.Context, resourceID string, opts *ListSessionsOptions) iter.Seq2[*SessionsList, error] {
	return s.byResource(resourceID, opts).pages(ctx)
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
	return s.byResource(resourceID, opts).all(ctx)
}

// AllOf walks the sessions of every resource in resourceIDs, several resources
// at a time, as one sequence.
//
// Each resource is walked as [SessionsService.All] walks it: in pages of
// 1000 when opts.PageSize is 0, and keeping only opts.UserID's sessions when
// it is set. A Cursor belongs to one resource, so setting one, like an empty
// ID, is an error wrapping [ErrInvalidArgument], and nothing is sent. A
// repeated ID (in any ASCII letter case) is walked once; an empty list
// yields nothing.
//
// Every session of a page must be on its resource, and of opts.UserID when
// it is set: a page holding another is an error matching
// [ErrInvalidResponse], yielded before any session of that page.
//
// A bounded number of resources are walked at once, so that a sweep holds
// about a page per resource in flight, however many IDs it is given; the
// Client's rate limit (see [WithRateLimit]), not this bound, normally sets
// the pace. The sessions of
// one resource come in page order and each page's sessions stay together,
// but pages of different resources interleave.
//
// Errors are yielded as a [*ResourceError], which [errors.Is] and [errors.As]
// see through to the cause. A resource that is not found (deleted since it
// was listed) yields its error and the sweep goes on with the others; any
// other error is yielded once and ends the sweep. When the sweep ends, by
// completion, error or break, its requests in flight are cancelled, and no
// goroutine of it is left once the range loop has returned.
func (s *SessionsService) AllOf(ctx context.Context, resourceIDs []string, opts *ListSessionsOptions) iter.Seq2[Session, error] {
	o := valueOf(opts)
	return allOf(ctx, resourceIDs, o.Cursor, o.PageSize, func(id string) list[wireSession, Session] { return s.byResource(id, &o) })
}

// byResource checks a listing's arguments and builds its query. The caller's
// options are copied, never modified. Every session of a page must be on
// the resource asked for, of the user asked for when there is one (and of
// a user when there is none), and say when it ends.
func (s *SessionsService) byResource(resourceID string, opts *ListSessionsOptions) list[wireSession, Session] {
	o := valueOf(opts)
	l := newList(s.client, []string{"sessions"}, "the page of sessions asked for", o.Cursor, o.PageSize, wireSession.session)
	l.resourceID = resourceID
	if resourceID == "" {
		l.err = fmt.Errorf("%w: empty resource ID", ErrInvalidArgument)
	}
	// The API reference leaves cursor and page_size out for this endpoint,
	// but Opal's pagination documentation gives them to every list.
	l.query.Set("resource_id", resourceID)
	if o.UserID != "" {
		l.query.Set("user_id", o.UserID)
	}
	l.check = func(w wireSession) error {
		user := present("user_id", w.UserID != "")
		if o.UserID != "" {
			user = askedFor("user_id", w.UserID, o.UserID)
		}
		return cmp.Or(askedFor("resource_id", w.ResourceID, resourceID), user, present("expiration_date", w.ExpirationDate.given))
	}
	return l
}
