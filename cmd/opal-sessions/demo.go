package main

import (
	"fmt"
	"io"
	"time"

	"github.com/opalclient/opal-go"
)

// The demo data: a small organisation's resources, with sessions that
// expire from within the hour to a week from now, so that the table shows
// each form of EXPIRES IN. The IDs are fixed, so that -resource-id and
// -user-id can be tried on them.

type demoResource struct {
	id, connectionID, name string
}

var demoResources = []demoResource{
	{"1b978423-db0a-4037-a4cf-f79c60cb67b3", "6e6b5597-bd36-4f4c-a629-01e3fa791932", "AWS account production (590304332660), IAM roles"},
	{"77eb1ab7-2c27-4fc4-afdb-137e1265cddd", "0f3a8c21-7d4e-4b19-9a62-5e8d1c7b2f40", "PostgreSQL database orders-prod"},
	{"a4c2e8f1-39b7-4d05-8e6a-2b1f7c9d0e53", "d81b4f6a-2c93-4e7d-b5a0-93f6e2c1a874", "GitHub repository acme-corp/payments-api"},
	{"5e9d1b37-8a24-4c6f-b0e3-7f2a4d8c1b96", "c27f5e90-4b1d-4a83-9e6c-1d0b8a3f5e27", "Okta app Salesforce"},
}

var (
	adminRole  = opal.ResourceAccessLevel{Name: "AdminRole", RemoteID: "arn:aws:iam::590304332660:role/AdministratorAccess"}
	readOnly   = opal.ResourceAccessLevel{Name: "ReadOnlyRole", RemoteID: "arn:aws:iam::590304332660:role/ReadOnlyAccess"}
	powerUser  = opal.ResourceAccessLevel{Name: "PowerUserRole", RemoteID: "arn:aws:iam::590304332660:role/PowerUserAccess"}
	pgRead     = opal.ResourceAccessLevel{Name: "Read only", RemoteID: "orders_readonly"}
	pgWrite    = opal.ResourceAccessLevel{Name: "Read/write", RemoteID: "orders_readwrite"}
	ghWrite    = opal.ResourceAccessLevel{Name: "Write", RemoteID: "push"}
	ghAdmin    = opal.ResourceAccessLevel{Name: "Admin", RemoteID: "admin"}
	defaultLvl = opal.ResourceAccessLevel{}
)

// Users, by the names a reader of the demo would give them.
const (
	alice = "29827fb8-f2dd-4e80-9576-28e31e9934ac"
	bob   = "b031c922-b84f-4424-9f4f-c49c05871bfe"
	carol = "32acc112-21ff-4669-91c2-21e27683eaa1"
	dave  = "8d3c6a51-0f4e-4b2a-b7c9-5e1f2a9d4c60"
	erin  = "e5b07d2c-94a1-4f38-a6d2-0c8e7b3f1a95"
)

// demoSessions returns the demo sessions, expiring at times relative to now.
func demoSessions(now time.Time) []opal.Session {
	// Whole seconds, as Opal's own timestamps, so that the json format is
	// easy to read and EXPIRES IN shows the round figures below.
	now = now.UTC().Truncate(time.Second)
	const m, h, d = time.Minute, time.Hour, 24 * time.Hour
	grants := []struct {
		resource int
		user     string
		level    opal.ResourceAccessLevel
		expires  time.Duration
	}{
		{0, alice, adminRole, 45 * m},
		{0, bob, readOnly, 3*h + 12*m},
		{0, carol, adminRole, 7*h + 30*m},
		{0, dave, powerUser, 1*d + 2*h},
		{0, erin, readOnly, 2*d + 4*h},
		{0, bob, adminRole, 6*d + 23*h},
		{1, carol, pgRead, 20 * m},
		{1, dave, pgWrite, 1*h + 5*m},
		{1, alice, pgRead, 3 * d},
		{2, erin, ghAdmin, 2 * h},
		{2, bob, ghWrite, 4*d + 6*h},
		{3, alice, defaultLvl, 9 * h},
		{3, carol, defaultLvl, 5*d + 1*h},
		{3, erin, defaultLvl, 12*h + 40*m},
	}
	sessions := make([]opal.Session, len(grants))
	for i, g := range grants {
		r := demoResources[g.resource]
		sessions[i] = opal.Session{
			ConnectionID:   r.connectionID,
			UserID:         g.user,
			ResourceID:     r.id,
			AccessLevel:    g.level,
			ExpirationDate: now.Add(g.expires),
		}
	}
	return sessions
}

// demoNotice tells, on stderr, that the data is not real, why, and how to
// get real data; and which demo resources there are to try.
func demoNotice(w io.Writer, listed string) {
	fmt.Fprint(w, `opal-sessions: OPAL_AUTH_TOKEN is not set, so this is demo data from a built-in test server, not from Opal.
To list real sessions, set OPAL_AUTH_TOKEN to an Opal API token (and OPAL_BASE_URL for self-hosted Opal)
and pass -resource-id. Demo resources:
`)
	for _, r := range demoResources {
		mark := " "
		if r.id == listed {
			mark = "*"
		}
		fmt.Fprintf(w, "  %s %s  %s\n", mark, r.id, r.name)
	}
}
