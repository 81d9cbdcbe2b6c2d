package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/internal/ascii"
)

// The lookup rule, in requests: users are looked up one Users.Get per
// distinct user, while there are few; once more than maxUserGets distinct
// users have needed one, a single Users.All walk (pages of 1000) fetches
// them all instead, and no Get is sent after it. Resources need no lookup
// with -all (the Resources.All walk that selects them names them);
// -resource-id's are checked to exist, and named, by one Resources.All walk
// per idsPerList IDs, before the sweep.
const (
	maxUserGets = 10
	idsPerList  = 100 // IDs in one resource_ids query, which stays well under URL length limits
)

// names turns the IDs of rows into the user behind them (email, status)
// and the name of their resource, for one run. Everything it learns is
// kept, so nothing is asked twice. A nil *names looks nothing up: that is
// -ids.
//
// Both maps are keyed by folded ID (ascii.Lower), as the opal package takes
// IDs in any letter case of ASCII: a server that writes an ID in another
// case than the rows that name it must not blank a name or make a user
// unknown, and an ID that only displays like another is another.
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
// Opal (a 404 is no failure: the row shows the ID), when the row names no
// user, or when n is nil.
func (n *names) user(ctx context.Context, id string) (*opal.User, error) {
	if n == nil || id == "" {
		return nil, nil
	}
	if u, ok := n.users[ascii.Lower(id)]; ok || n.walked {
		return u, nil
	}
	if n.gets == maxUserGets {
		// Many users: one page of the walk costs what one Get does.
		for u, err := range n.client.Users.All(ctx, nil) {
			if err != nil {
				return nil, fmt.Errorf("looking up users' emails in a walk of every user, as more than %d needed one (-ids shows IDs and skips lookups): %w", maxUserGets, err)
			}
			n.addUser(&u)
		}
		n.walked = true
		return n.users[ascii.Lower(id)], nil
	}
	n.gets++
	u, err := n.client.Users.Get(ctx, id)
	switch {
	case errors.Is(err, opal.ErrNotFound):
		n.users[ascii.Lower(id)] = nil
	case err != nil:
		return nil, fmt.Errorf("looking up the email of user %s (-ids shows IDs and skips lookups): %w", id, err)
	default:
		n.addUser(u)
	}
	return u, nil
}

// addUser keeps a user that is already known, such as -user's.
func (n *names) addUser(u *opal.User) {
	if n != nil {
		n.users[ascii.Lower(u.UserID)] = u
	}
}

// addResource keeps the name of a resource that is already known, such as
// one of the -all walk.
func (n *names) addResource(r opal.Resource) {
	if n != nil {
		n.resources[ascii.Lower(r.ResourceID)] = r.Name
	}
}

// resource returns the name of a resource, or "" when it is not known.
func (n *names) resource(id string) string {
	if n == nil {
		return ""
	}
	return n.resources[ascii.Lower(id)]
}

// listResources looks up the names of the resources with the given IDs,
// one walk per 100 IDs. One that Opal does not know is simply
// not listed, and its rows show its ID.
func (n *names) listResources(ctx context.Context, ids []string) error {
	if n == nil {
		return nil
	}
	_, err := n.lookUpResources(ctx, ids)
	if err != nil {
		return fmt.Errorf("looking up resources' names (-ids shows IDs and skips lookups): %w", err)
	}
	return nil
}

// lookUpResources lists the resources with the given IDs, one walk of
// Resources.All per 100 IDs (one request, unless the server's pages are
// shorter than asked for), names them in n, and returns them.
func (n *names) lookUpResources(ctx context.Context, ids []string) ([]opal.Resource, error) {
	var found []opal.Resource
	for chunk := range slices.Chunk(ids, idsPerList) {
		for r, err := range n.client.Resources.All(ctx, &opal.ListResourcesOptions{IDs: chunk}) {
			if err != nil {
				return nil, err
			}
			n.addResource(r)
			found = append(found, r)
		}
	}
	return found, nil
}

// existingResources checks that the resources with the given IDs exist,
// with the lookups that name them (made even with -ids, when n names
// nothing: a mistyped ID must not read as a resource nobody can reach).
// It warns about each that does not, and returns the IDs of those that
// do, as Opal writes them (an ID given in upper case is found in any
// letter case). When none exists, the error says so.
func existingResources(ctx context.Context, client *opal.Client, ids []string, n *names, prog *progress) ([]string, error) {
	lookup := n
	if lookup == nil {
		lookup = newNames(client) // the names are not shown
	}
	found, err := lookup.lookUpResources(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("checking that the resources of -resource-id exist: %w", err)
	}
	var exist, missing []string
	for _, id := range ids {
		i := slices.IndexFunc(found, func(r opal.Resource) bool { return ascii.Lower(r.ResourceID) == ascii.Lower(id) })
		if i < 0 {
			missing = append(missing, id)
			continue
		}
		if !slices.Contains(exist, found[i].ResourceID) {
			exist = append(exist, found[i].ResourceID)
		}
	}
	if len(ids) == 1 && len(exist) == 0 {
		return nil, fmt.Errorf("no resource with ID %s in this Opal organisation; check the ID (opal resources lists them)", ids[0])
	}
	for _, id := range missing {
		prog.warn("opal: no resource with ID %s in this Opal organisation; skipped", id)
	}
	if len(exist) == 0 {
		return nil, fmt.Errorf("none of the %d resources of -resource-id exists in this Opal organisation; check the IDs (opal resources lists them)", len(ids))
	}
	return exist, nil
}

// userByID returns the user with the given ID; one that Opal does not know
// is an error saying so.
func userByID(ctx context.Context, client *opal.Client, id string) (*opal.User, error) {
	u, err := client.Users.Get(ctx, id)
	switch {
	case errors.Is(err, opal.ErrNotFound):
		return nil, fmt.Errorf("no user with ID %s in this Opal organisation; check the ID (opal users lists them)", id)
	case err != nil:
		return nil, fmt.Errorf("looking up the user of -user-id %s: %w", id, err)
	}
	return u, nil
}

// userByEmail returns the user with the given email, given by the flag
// flagName (-user, -email); one that Opal does not know is an error saying
// so.
func userByEmail(ctx context.Context, client *opal.Client, flagName, email string) (*opal.User, error) {
	u, err := client.Users.GetByEmail(ctx, email)
	switch {
	case errors.Is(err, opal.ErrNotFound):
		return nil, fmt.Errorf("no user with email %s in this Opal organisation", quote(email))
	case err != nil:
		return nil, fmt.Errorf("looking up the user of %s %s: %w", flagName, email, err)
	}
	return u, nil
}
