package opal

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"strconv"
	"time"

	"github.com/opalclient/opal-go/internal/ascii"
)

// AccessService lists standing access: who can reach a resource, directly
// or through groups, and what a user can reach. Use it as Client.Access.
//
// Access is not sessions. A grant is what a user holds on a resource,
// permanently or until it expires, used or not; a session (see
// [SessionsService]) is a live connection of a few hours made under a grant,
// on the resources that have them (databases, cloud roles, clusters). SaaS
// apps have grants and never sessions. An access review needs the grants:
// that a resource has no session never means that nobody holds access.
type AccessService service

// ResourceAccessUser is one user's access to one resource, held directly or
// through groups. A user who holds a resource at two access levels is two
// ResourceAccessUsers, never one.
//
// It marshals to, and unmarshals from, the API's own JSON shape
// ("resource_id", "expiration_date", "propagation_status", ...), with null
// for an access that does not expire and for a propagation status that is
// not set. Unmarshalling is lenient where the API is loose: a missing access
// level is the default level, absent fields are zero, IDs are taken as they
// come, and the expiration date may be any RFC 3339 time.
type ResourceAccessUser struct {
	ResourceID string
	UserID     string
	Email      string
	FullName   string
	// AccessLevel is the level the user holds, such as a database role;
	// both its fields are empty for resources without levels.
	AccessLevel ResourceAccessLevel
	// ExpirationDate is when the access ends; nil when it does not expire.
	ExpirationDate *time.Time
	// HasDirectAccess reports whether the user holds the access directly,
	// rather than only through groups.
	HasDirectAccess bool
	// NumAccessPaths is the number of ways the user holds it: directly,
	// and through each group.
	NumAccessPaths int
	// PropagationStatus is whether Opal's last change of this access reached
	// the remote system: "SUCCESS", "PENDING", "ERR_..." (the API's
	// PropagationStatusEnum); "" when the API sends none, which it does for
	// access synced from the remote system.
	PropagationStatus string
}

// ResourceAccessUserList is one page of access: users who can reach a
// resource, or resources a user can reach.
type ResourceAccessUserList = Page[ResourceAccessUser]

// wireAccess is the API's JSON shape of a ResourceAccessUser, which the
// client decodes a page into, as fast as encoding/json's plain struct
// decoding, and encodes one from.
type wireAccess struct {
	ResourceID        string              `json:"resource_id"`
	UserID            string              `json:"user_id"`
	Email             string              `json:"email"`
	FullName          string              `json:"full_name"`
	AccessLevel       ResourceAccessLevel `json:"access_level"`
	ExpirationDate    *rfc3339Time        `json:"expiration_date"` // null or absent: nil
	HasDirectAccess   bool                `json:"has_direct_access"`
	NumAccessPaths    int                 `json:"num_access_paths"`
	PropagationStatus propagationStatus   `json:"propagation_status"`
}

// propagationStatus is the API's PropagationStatus object: null, or a
// status. Null, which leaves it empty, is written back as null.
type propagationStatus struct {
	Status string `json:"status"`
}

func (p propagationStatus) MarshalJSON() ([]byte, error) {
	if p.Status == "" {
		return []byte("null"), nil
	}
	type plain propagationStatus // without this method
	return json.Marshal(plain(p))
}

func (w wireAccess) access() ResourceAccessUser {
	return ResourceAccessUser{
		ResourceID:      w.ResourceID,
		UserID:          w.UserID,
		Email:           w.Email,
		FullName:        w.FullName,
		AccessLevel:     w.AccessLevel,
		ExpirationDate:  (*time.Time)(w.ExpirationDate),
		HasDirectAccess: w.HasDirectAccess,
		NumAccessPaths:  w.NumAccessPaths,
		// A status object without its status says nothing more than null.
		PropagationStatus: w.PropagationStatus.Status,
	}
}

// MarshalJSON encodes the access in the API's shape; see [ResourceAccessUser].
func (a ResourceAccessUser) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireAccess{
		ResourceID:        a.ResourceID,
		UserID:            a.UserID,
		Email:             a.Email,
		FullName:          a.FullName,
		AccessLevel:       a.AccessLevel,
		ExpirationDate:    (*rfc3339Time)(a.ExpirationDate),
		HasDirectAccess:   a.HasDirectAccess,
		NumAccessPaths:    a.NumAccessPaths,
		PropagationStatus: propagationStatus{Status: a.PropagationStatus},
	})
}

// UnmarshalJSON decodes an access in the API's shape; see [ResourceAccessUser].
func (a *ResourceAccessUser) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	var w wireAccess
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*a = w.access()
	return nil
}

// ListAccessOptions pages a listing of the users who can reach a resource.
// The zero value, like a nil pointer, lists all of them from the first page.
type ListAccessOptions struct {
	// Cursor starts at this page: a ResourceAccessUserList's Next or
	// Previous.
	Cursor string
	// PageSize is how many rows a page holds: 0 for the server's default,
	// otherwise 1 to 1000. It is sent as both page_size and limit.
	PageSize int
}

// ListUserAccessOptions pages a listing of the resources a user can reach.
// The zero value, like a nil pointer, lists all of them from the first
// page, but for access to resources that Opal does not manage.
type ListUserAccessOptions struct {
	// Cursor starts at this page: a ResourceAccessUserList's Next or
	// Previous.
	Cursor string
	// PageSize is how many rows a page holds: 0 for the server's default,
	// otherwise 1 to 1000. It is sent as both page_size and limit.
	PageSize int
	// IncludeUnmanaged also lists the user's access to resources that Opal
	// does not manage. It is always sent, true or false, so that the answer
	// does not depend on a default the API reference does not state.
	IncludeUnmanaged bool
}

// List returns one page of the users who can reach a resource, directly or
// through groups, by GET /resources/{resource_id}/users: the first page, or
// the one at opts.Cursor. To go through every page, use [AccessService.All]
// or [AccessService.Pages].
//
// The resource ID is sent as one segment of the path, escaped; "", ".", ".."
// and "users" (whose path is that of another endpoint) are refused with an
// error matching [ErrInvalidArgument], and nothing is sent. A 404 matches
// [ErrNotFound]. A page holding a row of another resource, or one that does
// not say its resource and its user, is an error matching
// [ErrInvalidResponse].
func (s *AccessService) List(ctx context.Context, resourceID string, opts *ListAccessOptions) (*ResourceAccessUserList, error) {
	return s.byResource(resourceID, opts).one(ctx)
}

// Pages returns every page of the users who can reach a resource, starting
// at opts.Cursor (or the first page), as [SessionsService.Pages] does: it
// follows each page's Next for as long as there is one.
func (s *AccessService) Pages(ctx context.Context, resourceID string, opts *ListAccessOptions) iter.Seq2[*ResourceAccessUserList, error] {
	return s.byResource(resourceID, opts).pages(ctx)
}

// All returns every user who can reach a resource, with the access level
// and expiry of each grant, page after page, as [SessionsService.All] does:
// in pages of 1000 when opts.PageSize is 0, and on an error the sequence
// yields it once, with a zero ResourceAccessUser, and stops. A user who
// holds two access levels comes twice.
func (s *AccessService) All(ctx context.Context, resourceID string, opts *ListAccessOptions) iter.Seq2[ResourceAccessUser, error] {
	return s.byResource(resourceID, opts).all(ctx)
}

// AllOf walks the users who can reach each resource in resourceIDs,
// several resources at a time, as one sequence, exactly as
// [SessionsService.AllOf] walks sessions: each resource as
// [AccessService.All] walks it, a bounded number at once, at the pace of
// the Client's rate limit; a Cursor, or an ID that List refuses, is an
// error matching [ErrInvalidArgument] and nothing is sent; a repeated ID
// (in any ASCII letter case) is walked once.
//
// Errors are yielded as a [*ResourceError]. A resource that is not found
// (deleted since it was listed) yields its error and the sweep goes on;
// any other error is yielded once and ends the sweep. When the sweep ends,
// by completion, error or break, its requests in flight are cancelled, and
// no goroutine of it is left once the range loop has returned.
func (s *AccessService) AllOf(ctx context.Context, resourceIDs []string, opts *ListAccessOptions) iter.Seq2[ResourceAccessUser, error] {
	o := valueOf(opts)
	return allOf(ctx, resourceIDs, o.Cursor, o.PageSize, func(id string) list[wireAccess, ResourceAccessUser] { return s.byResource(id, &o) })
}

// ListForUser returns one page of the resources a user can reach, directly
// or through groups, by GET /resources/users/{user_id}: the first page, or
// the one at opts.Cursor. The user ID is sent as one path segment, as
// [AccessService.List] sends a resource ID; "", "." and ".." are refused. A
// page holding a row of another user, or one that does not say its user and
// its resource, is an error matching [ErrInvalidResponse].
func (s *AccessService) ListForUser(ctx context.Context, userID string, opts *ListUserAccessOptions) (*ResourceAccessUserList, error) {
	return s.byUser(userID, opts).one(ctx)
}

// PagesForUser returns every page of the resources a user can reach,
// starting at opts.Cursor (or the first page), as [AccessService.Pages]
// does.
func (s *AccessService) PagesForUser(ctx context.Context, userID string, opts *ListUserAccessOptions) iter.Seq2[*ResourceAccessUserList, error] {
	return s.byUser(userID, opts).pages(ctx)
}

// AllForUser returns every resource a user can reach, with the access
// level and expiry of each grant, page after page, as [AccessService.All]
// does.
func (s *AccessService) AllForUser(ctx context.Context, userID string, opts *ListUserAccessOptions) iter.Seq2[ResourceAccessUser, error] {
	return s.byUser(userID, opts).all(ctx)
}

// byResource checks a listing by resource and builds its query. The
// caller's options are copied, never modified.
func (s *AccessService) byResource(resourceID string, opts *ListAccessOptions) list[wireAccess, ResourceAccessUser] {
	o := valueOf(opts)
	l := newAccessList(s.client, []string{"resources", resourceID, "users"}, "the page of the resource's users asked for", o.Cursor, o.PageSize)
	l.route, l.resourceID = "/resources/{resource_id}/users", resourceID
	switch err := checkPathID("resource", resourceID); {
	case err != nil:
		l.err = err
	case ascii.EqualFold(resourceID, "users"):
		// Its path, /resources/users/users, is that of the user "users"'s
		// resources.
		l.err = fmt.Errorf("%w: resource ID %q would reach GET /resources/users/{user_id}, not this resource", ErrInvalidArgument, s.client.redact(resourceID))
	}
	l.check = func(w wireAccess) error {
		return cmp.Or(askedFor("resource_id", w.ResourceID, resourceID), present("user_id", w.UserID != ""))
	}
	return l
}

// byUser checks a listing by user and builds its query. The caller's
// options are copied, never modified.
func (s *AccessService) byUser(userID string, opts *ListUserAccessOptions) list[wireAccess, ResourceAccessUser] {
	o := valueOf(opts)
	l := newAccessList(s.client, []string{"resources", "users", userID}, "the page of the user's resources asked for", o.Cursor, o.PageSize)
	l.route = "/resources/users/{user_id}"
	if err := checkPathID("user", userID); err != nil {
		l.err = err
	}
	l.query.Set("include_unmanaged", strconv.FormatBool(o.IncludeUnmanaged))
	l.check = func(w wireAccess) error {
		return cmp.Or(askedFor("user_id", w.UserID, userID), present("resource_id", w.ResourceID != ""))
	}
	return l
}

// newAccessList is a list of access rows at path. The reference declares
// only "limit" on these endpoints, though they answer with cursors as every
// list does: the page size goes as both "page_size", Opal's paging rule for
// its lists, and "limit", so that a server reading either gives full pages,
// and the walk follows "next" for as long as there is one.
func newAccessList(c *Client, path []string, what, cursor string, pageSize int) list[wireAccess, ResourceAccessUser] {
	l := newList(c, path, what, cursor, pageSize, wireAccess.access)
	l.limitToo = true
	return l
}
