package main

import (
	"context"
	"errors"
	"slices"

	"github.com/opalclient/opal-go"
)

// The lookup rule, in requests: users are looked up one Users.Get per
// distinct user, while there are few; once more than maxUserGets distinct
// users have needed one, a single Users.All walk fetches them all instead,
// and no Get is sent after it. Resources need no lookup with -all (the
// Resources.All walk that selects them names them); -resource-id's are
// named by one Resources.List per idsPerList IDs, before the sweep, unless
// no name is shown (a table of one resource).
const (
	maxUserGets = 10
	idsPerList  = 100 // IDs in one resource_ids query, which stays well under URL length limits
	lookupPage  = 1000
)

// names turns the IDs of sessions into the email of their user and the name
// of their resource, for one run. Everything it learns is kept, so nothing
// is asked twice. A nil *names looks nothing up: that is -ids.
//
// It is used by one goroutine only, the one that prints, so it needs no
// lock.
type names struct {
	client    *opal.Client
	users     map[string]*opal.User // by ID; nil for a user Opal does not know
	gets      int                   // Users.Get calls so far
	walked    bool                  // users holds every user of the organisation
	resources map[string]string     // resource names by ID
}

func newNames(client *opal.Client) *names {
	return &names{client: client, users: map[string]*opal.User{}, resources: map[string]string{}}
}

// user returns the user with the given ID, or nil when it is unknown to
// Opal (a 404 is no failure: the row shows the ID), when the session names
// no user, or when n is nil.
func (n *names) user(ctx context.Context, id string) (*opal.User, error) {
	if n == nil || id == "" {
		return nil, nil
	}
	if u, ok := n.users[id]; ok || n.walked {
		return u, nil
	}
	if n.gets == maxUserGets {
		// Many users: one page of 1000 costs what one Get does.
		for u, err := range n.client.Users.All(ctx, &opal.ListUsersOptions{PageSize: lookupPage}) {
			if err != nil {
				return nil, err
			}
			n.addUser(&u)
		}
		n.walked = true
		return n.users[id], nil
	}
	n.gets++
	u, err := n.client.Users.Get(ctx, id)
	switch {
	case errors.Is(err, opal.ErrNotFound):
		n.users[id] = nil
	case err != nil:
		return nil, err
	default:
		n.addUser(u)
	}
	return u, nil
}

// addUser keeps a user that is already known, such as -user's.
func (n *names) addUser(u *opal.User) {
	if n != nil {
		n.users[u.UserID] = u
	}
}

// addResource keeps the name of a resource that is already known, such as
// one of the -all walk.
func (n *names) addResource(r opal.Resource) {
	if n != nil {
		n.resources[r.ResourceID] = r.Name
	}
}

// resource returns the name of a resource, or "" when it is not known.
func (n *names) resource(id string) string {
	if n == nil {
		return ""
	}
	return n.resources[id]
}

// listResources looks up the names of the resources with the given IDs.
// One that Opal does not know is simply not listed, and its rows show its
// ID.
func (n *names) listResources(ctx context.Context, ids []string) error {
	if n == nil {
		return nil
	}
	for chunk := range slices.Chunk(ids, idsPerList) {
		// A page of 1000 holds every resource of a chunk of 100 IDs.
		page, err := n.client.Resources.List(ctx, &opal.ListResourcesOptions{IDs: chunk, PageSize: lookupPage})
		if err != nil {
			return err
		}
		for _, r := range page.Results {
			n.addResource(r)
		}
	}
	return nil
}
