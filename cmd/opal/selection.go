package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/internal/ascii"
)

// resourceSelection is the flags that say which resources a sweep covers:
// -resource-id, or -all narrowed by -resource-type and -resource-name.
type resourceSelection struct {
	ids          idList
	all          bool
	typeText     string // -resource-type as given
	resourceType opal.ResourceType
	name         string
}

// flags defines the selection's flags; what names what is swept on each
// resource ("sessions", "grants").
func (s *resourceSelection) flags(fs *flag.FlagSet, what string) {
	fs.Var(&s.ids, "resource-id", "list the "+what+" on the resources with these `IDs`, joined by commas; repeat the flag for more")
	fs.BoolVar(&s.all, "all", false, "list the "+what+" on every resource of the organisation")
	fs.StringVar(&s.typeText, "resource-type", "", "with -all, only resources of this `TYPE`, such as AWS_IAM_ROLE or OKTA_APP (any letter case)")
	fs.StringVar(&s.name, "resource-name", "", "with -all, only resources of this `NAME`")
}

// check completes the selection from the flags' text and returns what is
// wrong with it.
func (s *resourceSelection) check() error {
	switch {
	case len(s.ids.ids) > 0 && s.all:
		return usagef("-resource-id and -all both select resources: pass one of them")
	case s.typeText != "" && !s.all:
		return usagef("-resource-type narrows -all: pass -all too")
	case s.name != "" && !s.all:
		return usagef("-resource-name narrows -all: pass -all too")
	}
	if s.typeText != "" {
		t, err := resourceType("-resource-type", s.typeText)
		if err != nil {
			return err
		}
		s.resourceType = t
	}
	return nil
}

func (s *resourceSelection) selected() bool { return s.all || len(s.ids.ids) > 0 }

// oneNamed reports whether the selection is one -resource-id: the one
// selection whose rows need not say which resource they are on, as the
// command line does.
func (s *resourceSelection) oneNamed() bool { return !s.all && len(s.ids.ids) == 1 }

// selectForDemo completes a run that selects no resources. With a token
// that is a usage error, whose text is need; in the demo it selects the
// first thing a newcomer should see: the whole organisation, grouped by
// resource (sorted so, in the formats that sort).
func (s *resourceSelection) selectForDemo(demo bool, sort *string, format, need string) error {
	if !demo {
		return usageError(need)
	}
	s.all = true
	if *sort == "" && format != "json" {
		*sort = "resource"
	}
	return nil
}

// describe says in words which resources are selected.
func (s *resourceSelection) describe() string {
	switch n := len(s.ids.ids); {
	case n == 1:
		return "one resource (-resource-id)"
	case n > 1:
		return fmt.Sprintf("%d resources (-resource-id)", n)
	case s.resourceType == "" && s.name == "":
		return "the whole organisation (-all)"
	}
	d := "the organisation's resources"
	if s.resourceType != "" {
		d += " of type " + string(s.resourceType)
	}
	if s.name != "" {
		d += " named " + quote(s.name)
	}
	return d + " (-all)"
}

// resources returns the IDs of the resources selected. With -all they come
// from a walk of the organisation's resources, which also names them in n;
// -resource-id's are checked to exist, and named. A filter that matches no
// resource is said on stderr: an empty table alone would read as a
// resource nobody can reach.
func (s *resourceSelection) resources(ctx context.Context, c *cli, n *names) ([]string, error) {
	if !s.all {
		return existingResources(ctx, c.client, s.ids.ids, n, c.prog)
	}
	c.prog.begin("resources", 0)
	var ids []string
	for r, err := range c.client.Resources.All(ctx, &opal.ListResourcesOptions{Type: s.resourceType, Name: s.name}) {
		if err != nil {
			return nil, fmt.Errorf("listing the organisation's resources: %w", err)
		}
		ids = append(ids, r.ResourceID)
		n.addResource(r)
		c.prog.items.Add(1)
	}
	if len(ids) == 0 && (s.resourceType != "" || s.name != "") {
		c.prog.warn("opal: no resource matches %s", s.filters())
	}
	return ids, nil
}

// everyGone returns the error of a sweep of the resources ids that read
// none of them, each found gone (gone holds their IDs folded): an
// empty table would say that nobody holds access, where nothing was read.
// In practice that is rarely a resource deleted since it was listed, more
// often a proxy or gateway that does not serve the endpoint.
func everyGone(ids []string, gone map[string]bool) error {
	if len(ids) == 0 {
		return nil
	}
	for _, id := range ids {
		if !gone[ascii.Lower(id)] {
			return nil
		}
	}
	if len(ids) == 1 {
		return fmt.Errorf("resource %s could not be read: it answered 404 Not Found (deleted since it was listed, or a proxy that does not serve this part of the API?)", ids[0])
	}
	return fmt.Errorf("none of the %d resources could be read: each answered 404 Not Found (deleted since they were listed, or a proxy that does not serve this part of the API?)", len(ids))
}

// filters are the -all filters, as given.
func (s *resourceSelection) filters() string {
	return filterFlags("-resource-type", s.resourceType, "-resource-name", s.name)
}

// filterFlags are the filters of a resources walk as the flags that set
// them, such as `-type OKTA_APP -name "x"`; "" for none.
func filterFlags(typeFlag string, t opal.ResourceType, nameFlag, name string) string {
	var f []string
	if t != "" {
		f = append(f, typeFlag+" "+string(t))
	}
	if name != "" {
		f = append(f, nameFlag+" "+quote(name))
	}
	return strings.Join(f, " ")
}

// userSelection is -user EMAIL or -user-id ID.
type userSelection struct {
	email string
	id    string
}

func (u *userSelection) flags(fs *flag.FlagSet, what string) {
	fs.StringVar(&u.email, "user", "", what+" of the user with this `EMAIL`")
	fs.StringVar(&u.id, "user-id", "", what+" of the user with this `ID`")
}

func (u *userSelection) check() error {
	if u.email != "" && u.id != "" {
		return usagef("-user and -user-id both select a user: pass one of them")
	}
	return nil
}

func (u *userSelection) selected() bool { return u.email != "" || u.id != "" }

// describe says whose rows are shown.
func (u *userSelection) describe() string {
	if u.email != "" {
		return u.email
	}
	return "user " + u.id
}

// find returns the user selected, which must exist, and keeps it in n.
func (u *userSelection) find(ctx context.Context, client *opal.Client, n *names) (*opal.User, error) {
	var user *opal.User
	var err error
	if u.email != "" {
		user, err = userByEmail(ctx, client, "-user", u.email)
	} else {
		user, err = userByID(ctx, client, u.id)
	}
	if err != nil {
		return nil, err
	}
	n.addUser(user)
	return user, nil
}
