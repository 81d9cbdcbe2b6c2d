package opal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"unicode"

	"github.com/opalclient/opal-go/internal/ascii"
)

// Resource is an Opal resource: something access is granted to, such as an
// AWS IAM role, a database or an app.
//
// It marshals to, and unmarshals from, the API's own JSON shape
// ("resource_id", "remote_resource_id", ...). Unmarshalling is lenient
// where the API is loose: absent fields are zero, unknown fields (the API
// has many more, and its own example says "remote_id" where its schema
// says "remote_resource_id") are ignored, and a resource type this package
// has no constant for is kept as sent.
type Resource struct {
	ResourceID   string `json:"resource_id"`
	AppID        string `json:"app_id,omitempty"`
	Name         string `json:"name,omitempty"`
	Description  string `json:"description,omitempty"`
	AdminOwnerID string `json:"admin_owner_id,omitempty"`
	// RemoteResourceID and RemoteResourceName identify the resource on the
	// system it lives in, such as an IAM role's ARN and name.
	RemoteResourceID   string       `json:"remote_resource_id,omitempty"`
	RemoteResourceName string       `json:"remote_resource_name,omitempty"`
	ResourceType       ResourceType `json:"resource_type,omitempty"`
	ParentResourceID   string       `json:"parent_resource_id,omitempty"`
	// MaxDuration and RecommendedDuration are in minutes; 0 when absent.
	// The API documents -1 as an indefinite recommended duration.
	MaxDuration            int  `json:"max_duration,omitempty"`
	RecommendedDuration    int  `json:"recommended_duration,omitempty"`
	RequireManagerApproval bool `json:"require_manager_approval,omitempty"`
	RequireSupportTicket   bool `json:"require_support_ticket,omitempty"`
	IsRequestable          bool `json:"is_requestable,omitempty"`
}

// UnmarshalJSON decodes a resource in the API's shape; see [Resource]. The
// remote ID may also be a JSON number (a GitHub repository's numeric ID,
// as the API's own example gives one, though under "remote_id", which is
// not decoded): it is kept as its digits.
func (r *Resource) UnmarshalJSON(data []byte) error {
	type plain Resource // without this method
	w := struct {
		*plain
		// The outer field wins over the embedded one of the same name.
		RemoteResourceID numberOrString `json:"remote_resource_id"`
	}{plain: (*plain)(r)}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	r.RemoteResourceID = string(w.RemoteResourceID)
	return nil
}

// numberOrString is a string that may come as a JSON number, kept as its
// literal text.
type numberOrString string

func (s *numberOrString) UnmarshalJSON(data []byte) error {
	var n json.Number
	if err := json.Unmarshal(data, &n); err == nil {
		*s = numberOrString(n)
		return nil
	}
	return json.Unmarshal(data, (*string)(s))
}

// ResourcesList is one page of resources.
type ResourcesList = Page[Resource]

// ResourcesService finds the resources of an Opal organisation: the names
// and types behind the resource IDs of sessions. Use it as
// Client.Resources.
type ResourcesService service

// ListResourcesOptions narrows and pages a listing of resources. The zero
// value, like a nil pointer, lists every resource of the organisation from
// the first page. Filters combine: a resource is listed when it passes all
// of those set.
type ListResourcesOptions struct {
	// Cursor starts at this page: a ResourcesList's Next or Previous.
	Cursor string
	// PageSize is how many resources a page holds: 0 for the server's
	// default (200), otherwise 1 to 1000.
	PageSize int
	// Type keeps resources of this type. It is sent as given, so that a
	// type Opal added after this package works; Opal refuses one it does
	// not know. A page holding a resource of another type, or of none, is
	// an error matching [ErrInvalidResponse].
	Type ResourceType
	// Name keeps resources of this name. The reference does not say whether
	// Opal matches it exactly or as a search, so a page holding a resource
	// whose name does not contain it, or that has no name, is an error
	// matching [ErrInvalidResponse]: that refuses a server that dropped the
	// filter, and no answer to either reading. Names are compared in any
	// letter case, Unicode's too, as strings.ToLower and strings.EqualFold
	// take letters ("Équipe" holds "ÉQUIPE", "ΠΩΛΗΣΕΙΣ" holds "πωλησεις",
	// "İSTANBUL" holds "istanbul"), and without the white space around
	// Name, which a server may trim: a name says what a resource is called,
	// not which one it is, unlike an ID. (A letter that folds to two, "ß"
	// to "SS", and an accent written apart from its letter, are not
	// matched: a server that matched them would have its answer refused.)
	// A Name of white space alone filters nothing, and is an error wrapping
	// [ErrInvalidArgument].
	Name string
	// IDs keeps the resources with these IDs. Nil is no filter; an empty,
	// non-nil slice is an error, rather than a filter that lets all through.
	// A page holding a resource whose ID is not among them (in any ASCII
	// letter case) is an error matching [ErrInvalidResponse].
	IDs []string
	// ParentID keeps the children of this resource. A page holding a
	// resource whose parent_resource_id is another resource's (in any
	// ASCII letter case), or that has none, is an error matching
	// [ErrInvalidResponse]: a server that dropped the filter answers with
	// top-level resources, which have no parent.
	ParentID string
	// AncestorID keeps every descendant of this resource. Unlike the other
	// filters it is not checked in the answer: the reference's example of a
	// page does not list its resources' ancestors (ancestor_resource_ids),
	// so a check could only refuse Opal's own answers or pass them all.
	AncestorID string
}

// Get returns the resource with the given ID; a 404 is an error matching
// [ErrNotFound]. The ID is sent as one segment of the path, escaped, so that
// no ID reaches another endpoint.
func (s *ResourcesService) Get(ctx context.Context, resourceID string) (*Resource, error) {
	if err := checkPathID("resource", resourceID); err != nil {
		return nil, err
	}
	r := request{path: []string{"resources", resourceID}, route: "/resources/{resource_id}", resourceID: resourceID, what: "the resource asked for"}
	return getObject(ctx, s.client, r, func(r *Resource) error { return askedFor("resource_id", r.ResourceID, resourceID) })
}

// List returns one page of the organisation's resources: the first page,
// or the one at opts.Cursor. To go through every page, use
// [ResourcesService.All] or [ResourcesService.Pages]. A page holding a
// resource without an ID is an error matching [ErrInvalidResponse].
func (s *ResourcesService) List(ctx context.Context, opts *ListResourcesOptions) (*ResourcesList, error) {
	return s.listing(opts).one(ctx)
}

// Pages returns every page of the organisation's resources, starting at
// opts.Cursor (or the first page), as [SessionsService.Pages] does.
func (s *ResourcesService) Pages(ctx context.Context, opts *ListResourcesOptions) iter.Seq2[*ResourcesList, error] {
	return s.listing(opts).pages(ctx)
}

// All returns every resource of the organisation that passes opts'
// filters, page after page, as [SessionsService.All] does: in pages of 1000
// when opts.PageSize is 0, and on an error the sequence yields it once, with
// a zero Resource, and stops.
func (s *ResourcesService) All(ctx context.Context, opts *ListResourcesOptions) iter.Seq2[Resource, error] {
	return s.listing(opts).all(ctx)
}

// listing checks a listing's arguments and builds its query. The caller's
// options are copied, never modified.
func (s *ResourcesService) listing(opts *ListResourcesOptions) list[Resource, Resource] {
	o := valueOf(opts)
	l := newList(s.client, []string{"resources"}, "the page of resources asked for", o.Cursor, o.PageSize, same[Resource])
	if o.IDs != nil && len(o.IDs) == 0 {
		// Meant as "these resources", it would list none; sent, it would
		// list them all. Nil is "no filter".
		l.err = fmt.Errorf("%w: IDs is empty but not nil; leave it nil to list every resource", ErrInvalidArgument)
	}
	if o.Name != "" && strings.TrimSpace(o.Name) == "" {
		// A server that trims it would take it for no filter, and list
		// every resource: a name built of unset variables, say.
		l.err = fmt.Errorf("%w: Name is white space alone, which would filter nothing; leave it empty to list every resource", ErrInvalidArgument)
	}
	for i, id := range o.IDs {
		if id == "" || strings.Contains(id, ",") {
			// The API takes the IDs joined by commas.
			l.err = fmt.Errorf("%w: IDs[%d] %q is empty or holds a comma", ErrInvalidArgument, i, s.client.redact(id))
		}
	}
	for name, value := range map[string]string{
		"resource_type_filter": string(o.Type),
		"resource_name":        o.Name,
		"resource_ids":         strings.Join(o.IDs, ","),
		"parent_resource_id":   o.ParentID,
		"ancestor_resource_id": o.AncestorID,
	} {
		if value != "" {
			l.query.Set(name, value)
		}
	}
	l.check = resourcesAskedFor(o)
	return l
}

// resourcesAskedFor is the check of a listing's items: each must have an
// ID, and be of the type, among the IDs, a child of the parent and of the
// name that the filters name. IDs and types compare in any ASCII letter
// case, as Opal may normalise them, and only ASCII's, so that no
// look-alike passes for the one asked for (see internal/ascii). A name
// compares in any letter case of Unicode: it identifies nothing, and a
// search that ignores case lowers every letter, not ASCII's alone. An item
// that does not say its type when a type was asked for, its parent when a
// parent was, or its name when a name was, is refused too: nothing shows
// it is one.
func resourcesAskedFor(o ListResourcesOptions) func(Resource) error {
	wanted := make(map[string]bool, len(o.IDs))
	for _, id := range o.IDs {
		wanted[ascii.Lower(id)] = true
	}
	name := foldName(strings.TrimSpace(o.Name))
	return func(r Resource) error {
		if err := present("resource_id", r.ResourceID != ""); err != nil {
			return err
		}
		if o.IDs != nil && !wanted[ascii.Lower(r.ResourceID)] {
			return errors.New(`its "resource_id" is not one of the IDs asked for`)
		}
		if o.Type != "" {
			if err := askedFor("resource_type", string(r.ResourceType), string(o.Type)); err != nil {
				return err
			}
		}
		if o.ParentID != "" {
			if err := askedFor("parent_resource_id", r.ParentResourceID, o.ParentID); err != nil {
				return err
			}
		}
		if o.Name != "" {
			if err := present("name", r.Name != ""); err != nil {
				return err
			}
			if !strings.Contains(foldName(r.Name), name) {
				return errors.New(`its "name" does not hold the name asked for`)
			}
		}
		return nil
	}
}

// foldName is s in lower case, with each letter then as the least of the
// letters that strings.EqualFold takes for it (unicode.SimpleFold's
// orbit), so that one name holds another in any letter case:
// strings.ToLower alone would keep a final sigma apart from the sigma a
// capital lowers to, and SimpleFold alone a capital İ, which lowers to i
// but folds to nothing, apart from i.
func foldName(s string) string {
	return strings.Map(func(r rune) rune {
		r = unicode.ToLower(r)
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}
