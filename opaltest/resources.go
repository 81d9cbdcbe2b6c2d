package opaltest

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/opalclient/opal-go"
)

// AddResources adds resources after those the server already holds, for
// GET /resources and GET /resources/{resource_id}. As with AddSessions, a
// walk through the pages of /resources that is under way when they are
// added still returns every resource exactly once, and the new ones too if
// they match its filters and it has not yet reached its last page.
//
// Adding a resource changes nothing for /sessions, which lists the
// sessions on any resource ID, added or not, as Opal lists an empty page
// for a resource without sessions. It makes the resource known to
// GET /resources/{resource_id}/users, which lists no one for it until
// [Server.AddAccess] gives it grants.
//
// The server returns resources as given: it does not check that their IDs
// are UUIDs or unique (GET /resources/{resource_id} answers with the first
// added), nor that their parents exist. An opal.Client refuses a page
// holding a resource without an ID.
func (s *Server) AddResources(resources ...opal.Resource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range resources {
		s.resourcesByID.add(r.ResourceID, len(s.resources))
		s.resources = append(s.resources, r)
	}
}

// listResources answers GET /resources: the resources that pass every
// filter the request gives, in the order they were added.
func (s *Server) listResources(query url.Values) response {
	f, err := parseResourceFilter(query)
	if err != nil {
		return errorResponse(http.StatusBadRequest, err.Error())
	}
	scope := []string{"resources", string(f.resourceType), f.name, f.idsParam, f.parentID, f.ancestorID}
	return listPage(s, query, pageSizeOnly, scope, func() selection[opal.Resource] {
		return selection[opal.Resource]{items: s.resources, match: f.matcher(s.resources)}
	})
}

// getResource answers GET /resources/{resource_id}.
func (s *Server) getResource(id string) response {
	return getItem(s, "resource not found", func() selection[opal.Resource] {
		return selection[opal.Resource]{items: s.resources, positions: s.resourcesByID.of(id)}
	})
}

// resourceFilter holds the filters of GET /resources; an empty one does not
// filter.
type resourceFilter struct {
	resourceType opal.ResourceType // resource_type_filter
	name         string            // resource_name: the whole name, letter case included
	idsParam     string            // resource_ids, as given
	ids          map[string]bool   // resource_ids; nil: any
	parentID     string            // parent_resource_id
	ancestorID   string            // ancestor_resource_id: any depth below it
}

// parseResourceFilter reads the filters of GET /resources. An empty value
// is no filter, as for every parameter of the server.
func parseResourceFilter(query url.Values) (resourceFilter, error) {
	var f resourceFilter
	var resourceType string
	// The API declares resource_ids with explode: false, one parameter of
	// comma-joined IDs: a repeated parameter is the other style, which Opal
	// does not promise to read, and param refuses it as it refuses any.
	for _, p := range []struct {
		name string
		to   *string
	}{
		{"resource_type_filter", &resourceType},
		{"resource_name", &f.name},
		{"resource_ids", &f.idsParam},
		{"parent_resource_id", &f.parentID},
		{"ancestor_resource_id", &f.ancestorID},
	} {
		v, err := param(query, p.name)
		if err != nil {
			return f, err
		}
		*p.to = v
	}
	f.resourceType = opal.ResourceType(resourceType)
	if f.resourceType != "" && !f.resourceType.IsKnown() {
		return f, errors.New("resource_type_filter must be a value of ResourceTypeEnum")
	}
	if f.idsParam != "" {
		f.ids = map[string]bool{}
		for id := range strings.SplitSeq(f.idsParam, ",") {
			if id == "" {
				return f, errors.New("resource_ids holds an empty ID")
			}
			f.ids[id] = true
		}
	}
	return f, nil
}

// matcher returns whether a resource of all passes every filter.
func (f resourceFilter) matcher(all []opal.Resource) func(opal.Resource) bool {
	var below map[string]bool
	if f.ancestorID != "" {
		below = descendants(all, f.ancestorID)
	}
	return func(r opal.Resource) bool {
		return (f.resourceType == "" || r.ResourceType == f.resourceType) &&
			(f.name == "" || r.Name == f.name) &&
			(f.ids == nil || f.ids[r.ResourceID]) &&
			(f.parentID == "" || r.ParentResourceID == f.parentID) &&
			(f.ancestorID == "" || below[r.ResourceID])
	}
}

// descendants returns the IDs of the resources below ancestor: its
// children, their children, and so on. Opal's resources form a tree, but a
// test's may hold a cycle of parents: each resource is visited once, so
// the search ends, and ancestor is never its own descendant.
func descendants(all []opal.Resource, ancestor string) map[string]bool {
	children := map[string][]string{}
	for _, r := range all {
		if r.ParentResourceID != "" {
			children[r.ParentResourceID] = append(children[r.ParentResourceID], r.ResourceID)
		}
	}
	below := map[string]bool{}
	queue := []string{ancestor}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, child := range children[id] {
			if child != ancestor && !below[child] {
				below[child] = true
				queue = append(queue, child)
			}
		}
	}
	return below
}
