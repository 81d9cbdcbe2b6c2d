package opal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
)

func TestResourcesListQuery(t *testing.T) {
	id1, id2 := "1b978423-db0a-4037-a4cf-f79c60cb67b3", "77eb1ab7-2c27-4fc4-afdb-137e1265cddd"
	tests := []struct {
		name string
		opts *opal.ListResourcesOptions
		want url.Values
	}{
		{"no options", nil, url.Values{}},
		{"zero options", &opal.ListResourcesOptions{}, url.Values{}},
		{"type", &opal.ListResourcesOptions{Type: opal.ResourceTypeAWSIAMRole}, url.Values{"resource_type_filter": {"AWS_IAM_ROLE"}}},
		{"a type added since, as given", &opal.ListResourcesOptions{Type: "QUANTUM_VAULT"}, url.Values{"resource_type_filter": {"QUANTUM_VAULT"}}},
		{"name", &opal.ListResourcesOptions{Name: "AdminRole & co"}, url.Values{"resource_name": {"AdminRole & co"}}},
		{"one ID", &opal.ListResourcesOptions{IDs: []string{id1}}, url.Values{"resource_ids": {id1}}},
		{"IDs, comma-joined", &opal.ListResourcesOptions{IDs: []string{id1, id2}}, url.Values{"resource_ids": {id1 + "," + id2}}},
		{"nil IDs", &opal.ListResourcesOptions{IDs: nil}, url.Values{}},
		{"parent", &opal.ListResourcesOptions{ParentID: id1}, url.Values{"parent_resource_id": {id1}}},
		{"ancestor", &opal.ListResourcesOptions{AncestorID: id2}, url.Values{"ancestor_resource_id": {id2}}},
		{"every option", &opal.ListResourcesOptions{
			Cursor: "cD0y", PageSize: 50, Type: opal.ResourceTypeGCPProject, Name: "app-demo",
			IDs: []string{id1, id2}, ParentID: id1, AncestorID: id2,
		}, url.Values{
			"cursor": {"cD0y"}, "page_size": {"50"}, "resource_type_filter": {"GCP_PROJECT"}, "resource_name": {"app-demo"},
			"resource_ids": {id1 + "," + id2}, "parent_resource_id": {id1}, "ancestor_resource_id": {id2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ps := newListServer(t, "/v1/resources", map[string]string{"": `{"results":[]}`, "cD0y": `{"results":[]}`})
			if _, err := c.Resources.List(context.Background(), tt.opts); err != nil {
				t.Fatalf("List: %v", err)
			}
			if diff := cmp.Diff([]url.Values{tt.want}, ps.queries); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
		})
	}
}

// TestResourcesListRejectsBadFilters: the API takes the IDs joined by
// commas, so an empty one or one holding a comma cannot be sent; and a
// filter that would let every resource through where it was meant to keep
// some is refused: an empty, non-nil IDs (meant as the resources of an
// empty set), a Name of white space alone (a server may trim it to no
// filter: a name built of unset variables, say). Nothing is sent.
func TestResourcesListRejectsBadFilters(t *testing.T) {
	tests := []opal.ListResourcesOptions{
		{IDs: []string{}}, {IDs: []string{""}}, {IDs: []string{"a,b"}}, {IDs: []string{","}},
		{IDs: []string{"a", ""}}, {IDs: []string{"a", "b,"}},
		{Name: " "}, {Name: "\t"}, {Name: "  \n"},
	}
	for _, opts := range tests {
		m := resourcesMethods
		m.opts = func(string, int) *opal.ListResourcesOptions { return &opts }
		for _, w := range ways {
			t.Run(fmt.Sprintf("%s of IDs %q, Name %q", w.name, opts.IDs, opts.Name), func(t *testing.T) {
				c, srv := listers[slices.IndexFunc(listers, func(l lister) bool { return l.name == "resources" })].fake(t)
				got, errs := w.read(t, t.Context(), m.open(c, "", 0))
				wantFailure(t, got, errs, opal.ErrInvalidArgument, len(srv.Requests()), 0)
			})
		}
	}
}

func TestResourceJSONHasTheAPIsFieldNames(t *testing.T) {
	checkJSON(t, opal.Resource{
		ResourceID: "r1", AppID: "app1", Name: "AdminRole", Description: "Admin role of production",
		AdminOwnerID: "o1", RemoteResourceID: "arn:aws:iam::590304332660:role/AdminRole", RemoteResourceName: "AdminRole",
		ResourceType: opal.ResourceTypeAWSIAMRole, ParentResourceID: "p1", MaxDuration: 480, RecommendedDuration: -1,
		RequireManagerApproval: true, RequireSupportTicket: true, IsRequestable: true,
	}, `{"resource_id":"r1","app_id":"app1","name":"AdminRole","description":"Admin role of production",`+
		`"admin_owner_id":"o1","remote_resource_id":"arn:aws:iam::590304332660:role/AdminRole","remote_resource_name":"AdminRole",`+
		`"resource_type":"AWS_IAM_ROLE","parent_resource_id":"p1","max_duration":480,"recommended_duration":-1,`+
		`"require_manager_approval":true,"require_support_ticket":true,"is_requestable":true}`)
	checkJSON(t, opal.Resource{ResourceID: "r1", ResourceType: "QUANTUM_VAULT"}, `{"resource_id":"r1","resource_type":"QUANTUM_VAULT"}`)
	checkJSON(t, opal.ResourcesList{Previous: "p", Results: []opal.Resource{{ResourceID: "r1"}}}, `{"next":null,"previous":"p","results":[{"resource_id":"r1"}]}`)
}

func TestResourceTypes(t *testing.T) {
	types := opal.ResourceTypes()
	if len(types) != 63 {
		t.Errorf("%d resource types, want the 63 of ResourceTypeEnum", len(types))
	}
	seen := map[opal.ResourceType]bool{}
	for _, rt := range types {
		if seen[rt] || !rt.IsKnown() {
			t.Errorf("%q: repeated, or not known", rt)
		}
		seen[rt] = true
	}
	if types[0] != opal.ResourceTypeAWSIAMRole || types[62] != opal.ResourceTypeCoupaRole {
		t.Errorf("first and last types %q, %q; want the API's order", types[0], types[62])
	}
	for _, rt := range []opal.ResourceType{"", "QUANTUM_VAULT", "aws_iam_role"} {
		if rt.IsKnown() {
			t.Errorf("%q.IsKnown() = true", rt)
		}
	}

	want := slices.Clone(types)
	types[0] = "CHANGED"
	if diff := cmp.Diff(want, opal.ResourceTypes()); diff != "" {
		t.Errorf("ResourceTypes after the caller changed its slice (-want +got):\n%s", diff)
	}
	if opal.ResourceType("CHANGED").IsKnown() {
		t.Error("a type the caller wrote into the slice is known")
	}
}

// TestResourceRemoteIDMayBeANumber: the API's own example writes a remote
// ID as a JSON number; it decodes as its digits, in a page and alone.
func TestResourceRemoteIDMayBeANumber(t *testing.T) {
	var r opal.Resource
	if err := json.Unmarshal([]byte(`{"resource_id":"r1","remote_resource_id":318038399,"name":"repo"}`), &r); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(opal.Resource{ResourceID: "r1", RemoteResourceID: "318038399", Name: "repo"}, r); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	for _, bad := range []string{`{"remote_resource_id":true}`, `{"remote_resource_id":{}}`} {
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("%s decoded, want an error", bad)
		}
	}
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/resources", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"results":[{"resource_id":"r1","remote_resource_id":318038399},{"resource_id":"r2","remote_resource_id":"arn:x"}]}`)
	})
	got, err := c.Resources.List(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []opal.Resource{{ResourceID: "r1", RemoteResourceID: "318038399"}, {ResourceID: "r2", RemoteResourceID: "arn:x"}}
	if diff := cmp.Diff(want, got.Results); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}
