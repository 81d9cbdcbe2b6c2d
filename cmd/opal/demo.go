package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// The demo data: Acme Corp, a small organisation with its people, its
// resources (an AWS account and a role in it, two databases, a repository,
// a SaaS app), the grants that give people access to them, and the
// sessions made under some of those grants. It shows at a glance why
// grants matter: direct and group grants, permanent and expiring ones, a
// permanent admin grant through a group, a SaaS app with grants and no
// sessions, a deprovisioned and a suspended user both still holding
// access, a grant whose last change did not propagate, one listed past its
// expiry, and grants and sessions ending within the hour. The IDs are
// fixed, so that -resource-id and -user-id can be tried on them.

// The groups that own the resources, as Opal's admin owners are.
const (
	platformTeam = "7c86c85d-0651-43e2-a748-d69d658418e8"
	paymentsTeam = "2b5e8f1c-4d7a-4c90-9e36-5a1b7d3f8c02"
	itTeam       = "e91a3c6d-8b24-4f7e-a5d1-3c6b9e2f0a47"
	dataTeam     = "5d4b1e8a-2f6c-4a93-8b7e-0c9f3a6d2e15"
)

// Durations in minutes, as Resource.MaxDuration and RecommendedDuration are.
const (
	hours = 60
	days  = 24 * hours
)

// demoCatalogue holds the resources. A session's connection is its
// resource's app, so the AWS account and its role share one.
var demoCatalogue = []opal.Resource{
	{
		ResourceID: "1b978423-db0a-4037-a4cf-f79c60cb67b3", AppID: "6e6b5597-bd36-4f4c-a629-01e3fa791932",
		Name: "production", Description: "The production AWS account; access is through its IAM roles.",
		AdminOwnerID: platformTeam, RemoteResourceID: "590304332660", RemoteResourceName: "production",
		ResourceType: opal.ResourceTypeAWSAccount, MaxDuration: 7 * days, RecommendedDuration: 1 * hours,
		RequireManagerApproval: true, IsRequestable: true,
	},
	{
		ResourceID: "77eb1ab7-2c27-4fc4-afdb-137e1265cddd", AppID: "0f3a8c21-7d4e-4b19-9a62-5e8d1c7b2f40",
		Name: "orders-prod", Description: "Orders database of the checkout service (PostgreSQL 16, eu-west-1).",
		AdminOwnerID: paymentsTeam, RemoteResourceID: "orders-prod.c3k8v1x9q2ta.eu-west-1.rds.amazonaws.com:5432",
		RemoteResourceName: "orders", ResourceType: opal.ResourceTypePostgresInstance,
		MaxDuration: 3 * days, RecommendedDuration: 4 * hours, RequireSupportTicket: true, IsRequestable: true,
	},
	{
		ResourceID: "a4c2e8f1-39b7-4d05-8e6a-2b1f7c9d0e53", AppID: "d81b4f6a-2c93-4e7d-b5a0-93f6e2c1a874",
		Name: "payments-api", Description: "Payments API service: card capture, refunds and payouts.",
		AdminOwnerID: paymentsTeam, RemoteResourceID: "acme-corp/payments-api", RemoteResourceName: "payments-api",
		ResourceType: opal.ResourceTypeGitHubRepo, MaxDuration: 7 * days, RecommendedDuration: 1 * days,
		IsRequestable: true,
	},
	{
		ResourceID: "5e9d1b37-8a24-4c6f-b0e3-7f2a4d8c1b96", AppID: "c27f5e90-4b1d-4a83-9e6c-1d0b8a3f5e27",
		Name: "Salesforce", Description: "Salesforce CRM, through Okta single sign-on.",
		AdminOwnerID: itTeam, RemoteResourceID: "0oa8f2k1x9LmQ3vT5d7", RemoteResourceName: "Salesforce",
		ResourceType: opal.ResourceTypeOktaApp, MaxDuration: 30 * days, RecommendedDuration: 7 * days,
		IsRequestable: true,
	},
	{
		ResourceID: "3f7c9e21-5b84-4d0a-9c6e-8a1d2b4f7e30", AppID: "6e6b5597-bd36-4f4c-a629-01e3fa791932",
		Name: "BillingAdmin", Description: "Billing, budgets and cost reports of the production AWS account.",
		AdminOwnerID: platformTeam, RemoteResourceID: "arn:aws:iam::590304332660:role/BillingAdmin",
		RemoteResourceName: "BillingAdmin", ResourceType: opal.ResourceTypeAWSIAMRole,
		ParentResourceID: "1b978423-db0a-4037-a4cf-f79c60cb67b3", MaxDuration: 8 * hours, RecommendedDuration: 2 * hours,
		RequireManagerApproval: true, IsRequestable: true,
	},
	{
		ResourceID: "c84e2a6b-1d93-4f57-b0a2-6e9f3c7d1b58", AppID: "9a2d6f14-7c3b-4e85-a1f0-2b8e5d9c4a73",
		Name: "ANALYTICS", Description: "Snowflake warehouse of product and revenue data.",
		AdminOwnerID: dataTeam, RemoteResourceID: "ANALYTICS", RemoteResourceName: "ANALYTICS",
		ResourceType: opal.ResourceTypeSnowflakeDatabase, MaxDuration: 1 * days, RecommendedDuration: 8 * hours,
		IsRequestable: true,
	},
}

// demoResources returns the demo resources.
func demoResources() []opal.Resource {
	return slices.Clone(demoCatalogue)
}

var (
	adminRole  = opal.ResourceAccessLevel{Name: "AdminRole", RemoteID: "arn:aws:iam::590304332660:role/AdministratorAccess"}
	readOnly   = opal.ResourceAccessLevel{Name: "ReadOnlyRole", RemoteID: "arn:aws:iam::590304332660:role/ReadOnlyAccess"}
	powerUser  = opal.ResourceAccessLevel{Name: "PowerUserRole", RemoteID: "arn:aws:iam::590304332660:role/PowerUserAccess"}
	pgRead     = opal.ResourceAccessLevel{Name: "Read only", RemoteID: "orders_readonly"}
	pgWrite    = opal.ResourceAccessLevel{Name: "Read/write", RemoteID: "orders_readwrite"}
	ghWrite    = opal.ResourceAccessLevel{Name: "Write", RemoteID: "push"}
	ghAdmin    = opal.ResourceAccessLevel{Name: "Admin", RemoteID: "admin"}
	snowRead   = opal.ResourceAccessLevel{Name: "Reader", RemoteID: "ANALYTICS_READER"}
	snowWrite  = opal.ResourceAccessLevel{Name: "Writer", RemoteID: "ANALYTICS_WRITER"}
	defaultLvl = opal.ResourceAccessLevel{}
)

// Users, by the names a reader of the demo would give them.
const (
	alice = "29827fb8-f2dd-4e80-9576-28e31e9934ac"
	bob   = "b031c922-b84f-4424-9f4f-c49c05871bfe"
	carol = "32acc112-21ff-4669-91c2-21e27683eaa1"
	dave  = "8d3c6a51-0f4e-4b2a-b7c9-5e1f2a9d4c60"
	erin  = "e5b07d2c-94a1-4f38-a6d2-0c8e7b3f1a95"
	frank = "4a1f7d92-6c3e-4b58-8e0d-1f9a2c5b7e64"
	grace = "f2c8b5e1-0a7d-4936-b4e2-7d3c9a1f6b08"
	henry = "9e4d2b7a-3c18-4f65-a0b9-6d1e8c2f5a37"
)

// demoUsers returns the demo users: one of them suspended in the HR system
// and one deprovisioned, both still holding access, as an access review
// must see.
func demoUsers() []opal.User {
	user := func(id, first, last, position, status string) opal.User {
		return opal.User{
			UserID: id, FirstName: first, LastName: last, FullName: first + " " + last,
			Email:    strings.ToLower(first + "." + last + "@acme-corp.dev"),
			Position: position, HRIDPStatus: status,
		}
	}
	return []opal.User{
		user(alice, "Alice", "Moreau", "Staff Software Engineer", opal.HRIDPStatusActive),
		user(bob, "Bob", "Okafor", "Site Reliability Engineer", opal.HRIDPStatusActive),
		user(carol, "Carol", "Lindqvist", "Database Administrator", opal.HRIDPStatusActive),
		user(dave, "Dave", "Ramirez", "Engineering Manager, Payments", opal.HRIDPStatusActive),
		user(erin, "Erin", "Walsh", "Security Engineer", opal.HRIDPStatusActive),
		user(frank, "Frank", "Nakamura", "Data Analyst", opal.HRIDPStatusActive),
		user(grace, "Grace", "Adeyemi", "Contractor, Data Platform", opal.HRIDPStatusSuspended),
		user(henry, "Henry", "Fischer", "Site Reliability Engineer (left the company)", opal.HRIDPStatusDeprovisioned),
	}
}

// demoSessions returns the demo sessions, expiring at times relative to
// now. Salesforce, a SaaS app, has none: access to it is a grant only.
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
		{4, erin, defaultLvl, 10 * m},
		{4, dave, defaultLvl, 5 * h},
		{5, frank, snowRead, 50 * m},
		{5, grace, snowRead, 20 * h},
		{5, alice, snowWrite, 6 * h},
	}
	sessions := make([]opal.Session, len(grants))
	for i, g := range grants {
		r := demoCatalogue[g.resource]
		sessions[i] = opal.Session{
			ConnectionID:   r.AppID,
			UserID:         g.user,
			ResourceID:     r.ResourceID,
			AccessLevel:    g.level,
			ExpirationDate: now.Add(g.expires),
		}
	}
	return sessions
}

// demoGrants returns the demo grants, expiring at times relative to now;
// every session is made under one of them, at its level, ending no later.
func demoGrants(now time.Time) []opal.ResourceAccessUser {
	now = now.UTC().Truncate(time.Second)
	const m, h, d = time.Minute, time.Hour, 24 * time.Hour
	const permanent = 0
	const direct, group, both = 1, 2, 3
	grants := []struct {
		resource    int
		user        string
		level       opal.ResourceAccessLevel
		expires     time.Duration // permanent, or from now
		how         int
		propagation string
	}{
		{0, alice, adminRole, permanent, group, ""}, // an admin for good, through the platform team
		{0, bob, readOnly, 30 * d, direct, ""},
		{0, bob, adminRole, permanent, both, ""},
		{0, carol, adminRole, 8 * h, direct, ""},
		{0, dave, powerUser, permanent, group, ""},
		{0, erin, readOnly, 3 * d, direct, ""},
		{0, henry, adminRole, permanent, group, ""}, // left the company, still an admin
		{1, carol, pgRead, 45 * m, direct, ""},
		{1, dave, pgWrite, 2 * h, direct, ""},
		{1, alice, pgRead, permanent, group, ""},
		{1, frank, pgRead, -2 * h, direct, "SUCCESS"}, // past its expiry, not yet revoked
		{2, erin, ghAdmin, permanent, direct, ""},
		{2, bob, ghWrite, 30 * d, group, ""},
		{2, alice, ghWrite, permanent, both, ""},
		{2, grace, ghWrite, 5 * d, direct, ""},
		{3, alice, defaultLvl, permanent, group, ""},
		{3, carol, defaultLvl, permanent, group, ""},
		{3, erin, defaultLvl, 14 * d, direct, "SUCCESS"},
		{3, henry, defaultLvl, permanent, group, ""},
		{3, dave, defaultLvl, permanent, direct, "ERR_REMOTE_USER_NOT_FOUND"},
		{4, erin, defaultLvl, 30 * m, direct, ""},
		{4, dave, defaultLvl, 6 * h, direct, ""},
		{5, frank, snowRead, permanent, group, ""},
		{5, grace, snowRead, 1 * d, direct, ""},
		{5, alice, snowWrite, 7 * h, direct, ""},
	}
	users := map[string]opal.User{}
	for _, u := range demoUsers() {
		users[u.UserID] = u
	}
	access := make([]opal.ResourceAccessUser, len(grants))
	for i, g := range grants {
		a := opal.ResourceAccessUser{
			ResourceID:        demoCatalogue[g.resource].ResourceID,
			UserID:            g.user,
			Email:             users[g.user].Email,
			FullName:          users[g.user].FullName,
			AccessLevel:       g.level,
			HasDirectAccess:   g.how != group,
			NumAccessPaths:    map[int]int{direct: 1, group: 1, both: 2}[g.how],
			PropagationStatus: g.propagation,
		}
		if g.expires != permanent {
			t := now.Add(g.expires)
			a.ExpirationDate = &t
		}
		access[i] = a
	}
	return access
}

// demoServer starts the built-in test server with the demo organisation:
// its grants and sessions, and the users and resources they name.
func demoServer(now time.Time) *opaltest.Server {
	srv := opaltest.NewServer(demoSessions(now)...)
	srv.AddUsers(demoUsers()...)
	srv.AddResources(demoResources()...)
	srv.AddAccess(demoGrants(now)...)
	return srv
}

// demoTour tells, on stderr, that the data is not real, why, and how to
// get real data; then what this run shows, and the other commands, each
// with an example to paste.
func demoTour(w io.Writer, view string) {
	fmt.Fprintf(w, `opal: OPAL_AUTH_TOKEN and OPAL_BASE_URL are not set, so this is demo data from a built-in test server, not from Opal.
To see your own organisation, set OPAL_AUTH_TOKEN to an Opal API token (and OPAL_BASE_URL for self-hosted Opal).
This is %s. Try also:
  opal access                      who can reach each resource, how, until when, and what needs a look
  opal access -flagged             only the grants that need a look: people who left, grants not propagated
  opal access -user EMAIL          one person's whole reach: -user %s
  opal access -permanent           the grants that never expire (-expiring-within 1h: those that end soon)
  opal sessions                    who is connected right now, until when
  opal users                       the people, with their IDs and HR status
  opal resources                   the resources, with their IDs and types
  -format json|csv, -v             on every command
  -sort KEY, -ids                  on access and sessions; opal help <command> tells every flag
`, view, demoEmail(henry))
}

// demoEmail is the email of the demo user with the given ID.
func demoEmail(id string) string {
	for _, u := range demoUsers() {
		if u.UserID == id {
			return u.Email
		}
	}
	return ""
}
