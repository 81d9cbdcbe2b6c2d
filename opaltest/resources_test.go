package opaltest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// An organisation's resources, by name: an AWS account with two roles, a
// policy below one of them, databases, a repository, and two oddities a
// test's data may hold: a cycle of parents and a resource that is its own
// parent.
var (
	account  = opal.Resource{ResourceID: "acct", Name: "production", ResourceType: opal.ResourceTypeAWSAccount}
	admin    = opal.Resource{ResourceID: "admin", Name: "AdminRole", ResourceType: opal.ResourceTypeAWSIAMRole, ParentResourceID: "acct"}
	readOnly = opal.Resource{ResourceID: "readonly", Name: "ReadOnly", ResourceType: opal.ResourceTypeAWSIAMRole, ParentResourceID: "acct"}
	policy   = opal.Resource{ResourceID: "policy", Name: "AdminRole", ResourceType: opal.ResourceTypeCustom, ParentResourceID: "admin"}
	orders   = opal.Resource{ResourceID: "orders", Name: "orders-prod", ResourceType: opal.ResourceTypePostgresInstance}
	billing  = opal.Resource{ResourceID: "billing", Name: "billing-prod", ResourceType: opal.ResourceTypePostgresInstance}
	repo     = opal.Resource{ResourceID: "repo", Name: "payments-api", ResourceType: opal.ResourceTypeGitHubRepo}
	cycleA   = opal.Resource{ResourceID: "cycle-a", Name: "cycle", ResourceType: opal.ResourceTypeCustom, ParentResourceID: "cycle-b"}
	cycleB   = opal.Resource{ResourceID: "cycle-b", Name: "cycle", ResourceType: opal.ResourceTypeCustom, ParentResourceID: "cycle-a"}
	loop     = opal.Resource{ResourceID: "loop", Name: "loop", ResourceType: opal.ResourceTypeCustom, ParentResourceID: "loop"}

	organisation = []opal.Resource{account, admin, readOnly, policy, orders, billing, repo, cycleA, cycleB, loop}
)

func TestResourceFilters(t *testing.T) {
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.AddResources(organisation...)

	var none []opal.Resource // slices.Concat of one empty page
	tests := []struct {
		name  string
		query url.Values
		want  []opal.Resource
	}{
		{"no filter", nil, organisation},
		{"type", url.Values{"resource_type_filter": {"AWS_IAM_ROLE"}}, []opal.Resource{admin, readOnly}},
		{"type with none", url.Values{"resource_type_filter": {"OKTA_APP"}}, none},
		{"empty type is no filter", url.Values{"resource_type_filter": {""}}, organisation},
		{"name", url.Values{"resource_name": {"AdminRole"}}, []opal.Resource{admin, policy}},
		{"name is exact", url.Values{"resource_name": {"adminrole"}}, none},
		{"name is whole", url.Values{"resource_name": {"Admin"}}, none},
		{"type and name", url.Values{"resource_type_filter": {"AWS_IAM_ROLE"}, "resource_name": {"AdminRole"}}, []opal.Resource{admin}},
		{"ids, in the server's order", url.Values{"resource_ids": {"repo,admin"}}, []opal.Resource{admin, repo}},
		{"one id", url.Values{"resource_ids": {"orders"}}, []opal.Resource{orders}},
		{"ids with an unknown one", url.Values{"resource_ids": {"nope,orders"}}, []opal.Resource{orders}},
		{"ids and type", url.Values{"resource_ids": {"orders,repo,billing"}, "resource_type_filter": {"POSTGRES_INSTANCE"}}, []opal.Resource{orders, billing}},
		{"parent: children only", url.Values{"parent_resource_id": {"acct"}}, []opal.Resource{admin, readOnly}},
		{"parent without children", url.Values{"parent_resource_id": {"repo"}}, none},
		{"ancestor: every depth", url.Values{"ancestor_resource_id": {"acct"}}, []opal.Resource{admin, readOnly, policy}},
		{"ancestor one level up", url.Values{"ancestor_resource_id": {"admin"}}, []opal.Resource{policy}},
		{"ancestor in a cycle is not its own descendant", url.Values{"ancestor_resource_id": {"cycle-a"}}, []opal.Resource{cycleB}},
		{"ancestor that is its own parent", url.Values{"ancestor_resource_id": {"loop"}}, none},
		{"unknown ancestor", url.Values{"ancestor_resource_id": {"nope"}}, none},
		{"ancestor and type", url.Values{"ancestor_resource_id": {"acct"}, "resource_type_filter": {"CUSTOM"}}, []opal.Resource{policy}},
		{"ancestor and parent", url.Values{"ancestor_resource_id": {"acct"}, "parent_resource_id": {"admin"}}, []opal.Resource{policy}},
		{"every filter", url.Values{"resource_type_filter": {"AWS_IAM_ROLE"}, "resource_name": {"ReadOnly"},
			"resource_ids": {"readonly,admin"}, "parent_resource_id": {"acct"}, "ancestor_resource_id": {"acct"}}, []opal.Resource{readOnly}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Pages of 2, so that filters and cursors meet.
			query := url.Values{"page_size": {"2"}}
			for k, v := range tt.query {
				query[k] = v
			}
			pages, _ := walk[opal.Resource](t, srv, "/resources", query, nil)
			if diff := cmp.Diff(tt.want, slices.Concat(pages...)); diff != "" {
				t.Errorf("GET /resources?%s (-want +got):\n%s", query.Encode(), diff)
			}
		})
	}
}

// TestCursorBoundToFilters: a cursor made for some filters is refused with
// others, with any one of them changed, and on another list.
func TestCursorBoundToFilters(t *testing.T) {
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.AddResources(organisation...)
	srv.AddUsers(makeUsers(0, 3)...)

	// A cursor of the whole list, and one of its AWS IAM roles.
	cursor := *fetch[opal.Resource](t, srv, "/resources", url.Values{"page_size": {"1"}}).Next
	typed := url.Values{"resource_type_filter": {"AWS_IAM_ROLE"}, "page_size": {"1"}}
	typedCursor := *fetch[opal.Resource](t, srv, "/resources", typed).Next

	tests := []struct {
		name  string
		path  string
		query url.Values
		want  int
	}{
		{"same query", "/resources", url.Values{"cursor": {cursor}}, 200},
		{"same filters, another page size", "/resources", url.Values{"cursor": {typedCursor}, "resource_type_filter": {"AWS_IAM_ROLE"}, "page_size": {"5"}}, 200},
		{"a filter added", "/resources", url.Values{"cursor": {cursor}, "resource_type_filter": {"AWS_IAM_ROLE"}}, 400},
		{"a filter removed", "/resources", url.Values{"cursor": {typedCursor}}, 400},
		{"another type", "/resources", url.Values{"cursor": {typedCursor}, "resource_type_filter": {"CUSTOM"}}, 400},
		{"a name", "/resources", url.Values{"cursor": {cursor}, "resource_name": {"AdminRole"}}, 400},
		{"ids", "/resources", url.Values{"cursor": {cursor}, "resource_ids": {"admin"}}, 400},
		{"a parent", "/resources", url.Values{"cursor": {cursor}, "parent_resource_id": {"acct"}}, 400},
		{"an ancestor", "/resources", url.Values{"cursor": {cursor}, "ancestor_resource_id": {"acct"}}, 400},
		{"another list", "/users", url.Values{"cursor": {cursor}}, 400},
		{"sessions", "/sessions", url.Values{"cursor": {cursor}, "resource_id": {"acct"}}, 400},
	}
	for _, tt := range tests {
		resp, body, err := rawGet(t, srv, tt.path, tt.query)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tt.want {
			t.Errorf("%s: GET %s?%s: %s %s; want %d", tt.name, tt.path, tt.query.Encode(), resp.Status, body, tt.want)
		}
	}
}

func TestGetResource(t *testing.T) {
	// IDs that a careless server would route elsewhere, each reached as
	// the one path segment it is sent as.
	odd := []opal.Resource{
		{ResourceID: "a/b", Name: "slash"},
		{ResourceID: "a%2Fb", Name: "escaped slash, kept as sent once unescaped"},
		{ResourceID: "../users", Name: "dot-dot"},
		{ResourceID: "?x#y", Name: "query and fragment"},
		{ResourceID: "orders", Name: "the second resource with this ID"},
	}
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.AddResources(organisation...)
	srv.AddResources(odd...)
	srv.AddUsers(makeUsers(0, 1)...)

	tests := []struct {
		segment string // as sent
		want    *opal.Resource
	}{
		{"admin", &admin},
		{"orders", &orders}, // the first added
		{"a%2Fb", &odd[0]},
		{"a%252Fb", &odd[1]},
		{"..%2Fusers", &odd[2]},
		{"%3Fx%23y", &odd[3]},
		{"nope", nil},
		{"ADMIN", nil},
		{"..", nil},
		{"%2E%2E", nil},
	}
	for _, tt := range tests {
		resp, body, err := rawGet(t, srv, "/resources/"+tt.segment, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tt.want == nil {
			var msg struct{ Message string }
			if resp.StatusCode != http.StatusNotFound || json.Unmarshal(body, &msg) != nil || msg.Message != "resource not found" {
				t.Errorf("GET /resources/%s: %s %s; want 404 resource not found", tt.segment, resp.Status, body)
			}
			continue
		}
		var got opal.Resource
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &got) != nil {
			t.Fatalf("GET /resources/%s: %s %s", tt.segment, resp.Status, body)
		}
		if diff := cmp.Diff(*tt.want, got); diff != "" {
			t.Errorf("GET /resources/%s (-want +got):\n%s", tt.segment, diff)
		}
	}
}

// TestResourceShape checks the wire format against the API reference.
func TestResourceShape(t *testing.T) {
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.AddResources(opal.Resource{
		ResourceID:             resourceA,
		AppID:                  "f454d283-ca87-4a8a-bdbb-df212eca5353",
		Name:                   "AdministratorAccess",
		Description:            "Full access to the production AWS account",
		AdminOwnerID:           "7c86c85d-0651-43e2-a748-d69d658418e8",
		RemoteResourceID:       "arn:aws:iam::590304332660:role/AdministratorAccess",
		RemoteResourceName:     "AdministratorAccess",
		ResourceType:           opal.ResourceTypeAWSIAMRole,
		ParentResourceID:       "e5b07d2c-94a1-4f38-a6d2-0c8e7b3f1a95",
		MaxDuration:            120,
		RecommendedDuration:    60,
		RequireManagerApproval: true,
		RequireSupportTicket:   true,
		IsRequestable:          true,
	})
	const want = `{
		"resource_id": "1b978423-db0a-4037-a4cf-f79c60cb67b3",
		"app_id": "f454d283-ca87-4a8a-bdbb-df212eca5353",
		"name": "AdministratorAccess",
		"description": "Full access to the production AWS account",
		"admin_owner_id": "7c86c85d-0651-43e2-a748-d69d658418e8",
		"remote_resource_id": "arn:aws:iam::590304332660:role/AdministratorAccess",
		"remote_resource_name": "AdministratorAccess",
		"resource_type": "AWS_IAM_ROLE",
		"parent_resource_id": "e5b07d2c-94a1-4f38-a6d2-0c8e7b3f1a95",
		"max_duration": 120,
		"recommended_duration": 60,
		"require_manager_approval": true,
		"require_support_ticket": true,
		"is_requestable": true
	}`
	checkJSON(t, srv, "/resources/"+resourceA, nil, want)
	checkJSON(t, srv, "/resources", nil, `{"next":null,"previous":null,"results":[`+want+`]}`)
	checkJSON(t, srv, "/resources", url.Values{"resource_type_filter": {"OKTA_APP"}}, `{"next":null,"previous":null,"results":[]}`)
}

// TestWalkResourcesWhileAdding adds resources between the pages of a
// filtered walk: each that matches must come back once, in insertion
// order, also one that matches through a parent added in the same walk.
func TestWalkResourcesWhileAdding(t *testing.T) {
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.AddResources(organisation...)

	later := [][]opal.Resource{
		{{ResourceID: "poweruser", ResourceType: opal.ResourceTypeAWSIAMRole, ParentResourceID: "acct"}, {ResourceID: "other", ResourceType: opal.ResourceTypeCustom}},
		{{ResourceID: "team", ResourceType: opal.ResourceTypeCustom, ParentResourceID: "readonly"}},
		{{ResourceID: "team-policy", ResourceType: opal.ResourceTypeCustom, ParentResourceID: "team"}},
	}
	want := []opal.Resource{admin, readOnly, policy, later[0][0], later[1][0], later[2][0]}
	added := 0
	pages, _ := walk[opal.Resource](t, srv, "/resources", url.Values{"ancestor_resource_id": {"acct"}, "page_size": {"1"}}, func() {
		if added < len(later) {
			srv.AddResources(later[added]...)
			added++
		}
	})
	if diff := cmp.Diff(want, slices.Concat(pages...)); diff != "" {
		t.Errorf("walk while adding (-want +got):\n%s", diff)
	}
}

// TestSessionsOfResources: adding a resource changes nothing for
// /sessions, which lists any resource's sessions, added or not.
func TestSessionsOfResources(t *testing.T) {
	sessions := makeSessions(0, 2, resourceB)
	srv := opaltest.NewServer(sessions...)
	defer srv.Close()
	srv.AddResources(opal.Resource{ResourceID: resourceA}, opal.Resource{ResourceID: resourceB})

	tests := []struct {
		resourceID string
		want       []opal.Session
	}{
		{resourceA, []opal.Session{}},     // added, no sessions
		{resourceB, sessions},             // added, with sessions
		{"never-added", []opal.Session{}}, // as before
	}
	for _, tt := range tests {
		p := getPage(t, srv, url.Values{"resource_id": {tt.resourceID}})
		if diff := cmp.Diff(tt.want, p.Results); diff != "" {
			t.Errorf("sessions of %s (-want +got):\n%s", tt.resourceID, diff)
		}
	}
	srv.AddSessions(makeSessions(10, 1, "never-added")...)
	if p := getPage(t, srv, url.Values{"resource_id": {"never-added"}}); len(p.Results) != 1 {
		t.Errorf("a session on a resource never added: %d sessions listed, want 1", len(p.Results))
	}
}
