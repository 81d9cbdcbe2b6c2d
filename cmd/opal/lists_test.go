package main

import (
	"encoding/csv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
)

func TestUsers(t *testing.T) {
	srv := newOrg(t, nil)
	header := []string{"USER ID", "EMAIL", "NAME", "POSITION", "HR STATUS"}
	csvHeader := []string{"user_id", "email", "full_name", "first_name", "last_name", "position", "hr_idp_status"}
	tests := []struct {
		args  []string
		table [][]string // table or csv
		json  []opal.User
		reqs  map[string]int
	}{
		{nil, [][]string{header, {userA, emailA, "Jane Smith", "-", "ACTIVE"}, {userB, emailB, "Raj Patel", "-", "DEPROVISIONED"}}, nil,
			map[string]int{"/v1/users": 1}},
		{[]string{"-page-size", "1"}, [][]string{header, {userA, emailA, "Jane Smith", "-", "ACTIVE"}, {userB, emailB, "Raj Patel", "-", "DEPROVISIONED"}}, nil,
			map[string]int{"/v1/users": 2}},
		{[]string{"-email", strings.ToUpper(emailB)}, [][]string{header, {userB, emailB, "Raj Patel", "-", "DEPROVISIONED"}}, nil,
			map[string]int{"/v1/user?email": 1}},
		{[]string{"-format", "csv"}, [][]string{csvHeader, {userA, emailA, "Jane Smith", "Jane", "Smith", "", "ACTIVE"}, {userB, emailB, "Raj Patel", "Raj", "Patel", "", "DEPROVISIONED"}}, nil,
			map[string]int{"/v1/users": 1}},
		{[]string{"-format", "json"}, nil, testUsers, map[string]int{"/v1/users": 1}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			before := paths(srv)
			r := runCommand(t, serverEnv(srv), append([]string{"users"}, tt.args...)...)
			checkOK(t, r)
			checkListed(t, r.stdout, tt.table, tt.json, strings.Join(tt.args, " "))
			after := paths(srv)
			for p, n := range before {
				after[p] -= n
				if after[p] == 0 {
					delete(after, p)
				}
			}
			if diff := cmp.Diff(tt.reqs, after); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
	r := runCommand(t, serverEnv(srv), "users", "-email", "nobody@company.dev")
	checkFailed(t, r, exitFailure, "opal: no user with email \"nobody@company.dev\" in this Opal organisation\n")
}

// checkListed compares a table or csv with want, or json lines with
// wantJSON.
func checkListed[T any](t *testing.T, out string, want [][]string, wantJSON []T, args string) {
	t.Helper()
	switch {
	case strings.Contains(args, "json"):
		if diff := cmp.Diff(wantJSON, decodeLines[T](t, out)); diff != "" {
			t.Errorf("json (-want +got):\n%s", diff)
		}
	case strings.Contains(args, "csv"):
		got, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("csv (-want +got):\n%s", diff)
		}
	default:
		if diff := cmp.Diff(want, parseTable(out)); diff != "" {
			t.Errorf("table (-want +got):\n%s", diff)
		}
		checkAligned(t, out)
	}
}

func TestResources(t *testing.T) {
	srv := newOrg(t, nil)
	child := opal.Resource{ResourceID: "3f7c9e21-5b84-4d0a-9c6e-8a1d2b4f7e30", Name: "BillingAdmin", Description: "Billing, budgets and cost reports.",
		ResourceType: opal.ResourceTypeAWSIAMRole, ParentResourceID: resource, AppID: "app-1", RemoteResourceID: "arn:aws:iam::590304332660:role/BillingAdmin",
		RemoteResourceName: "BillingAdmin", AdminOwnerID: "owner-1"}
	srv.AddResources(child)
	header := []string{"RESOURCE ID", "TYPE", "NAME", "DESCRIPTION"}
	tests := []struct {
		args  []string
		table [][]string
		json  []opal.Resource
		warn  string
	}{
		{nil, [][]string{header, {resource, "AWS_ACCOUNT", "production"}, {orders, "POSTGRES_INSTANCE", "orders-prod"},
			{okta, "OKTA_APP", "Salesforce"}, {child.ResourceID, "AWS_IAM_ROLE", "BillingAdmin", child.Description}}, nil, ""},
		{[]string{"-type", "aws_iam_role"}, [][]string{header, {child.ResourceID, "AWS_IAM_ROLE", "BillingAdmin", child.Description}}, nil, ""},
		{[]string{"-name", "orders-prod", "-page-size", "1"}, [][]string{header, {orders, "POSTGRES_INSTANCE", "orders-prod"}}, nil, ""},
		{[]string{"-name", "orders"}, [][]string{header}, nil, "opal: no resource matches -name \"orders\"\n"},
		{[]string{"-type", "OKTA_APP", "-name", "production"}, [][]string{header}, nil, "opal: no resource matches -type OKTA_APP -name \"production\"\n"},
		{[]string{"-type", "aws_iam_role", "-format", "csv"}, [][]string{
			{"resource_id", "name", "resource_type", "app_id", "parent_resource_id", "remote_resource_id", "remote_resource_name", "admin_owner_id", "description"},
			{child.ResourceID, "BillingAdmin", "AWS_IAM_ROLE", "app-1", resource, "arn:aws:iam::590304332660:role/BillingAdmin", "BillingAdmin", "owner-1", child.Description}}, nil, ""},
		{[]string{"-type", "Aws_Iam_Role", "-format", "json"}, nil, []opal.Resource{child}, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCommand(t, serverEnv(srv), append([]string{"resources"}, tt.args...)...)
			if r.code != 0 || r.stderr != tt.warn {
				t.Fatalf("exit %d, stderr %q; want 0 and %q", r.code, r.stderr, tt.warn)
			}
			checkListed(t, r.stdout, tt.table, tt.json, strings.Join(tt.args, " "))
		})
	}
}

// TestListUsageErrors: the users and resources commands check their flags
// before sending anything.
func TestListUsageErrors(t *testing.T) {
	srv := newOrg(t, nil)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"resources", "-type", "GITHUB_REPO"}, `opal: -type "GITHUB_REPO" is not a resource type of Opal; did you mean GIT_HUB_REPO?`},
		{[]string{"resources", "-all"}, "flag provided but not defined: -all\nRun 'opal resources -h' for usage.\n"},
		{[]string{"users", "-page-size", "0"}, "opal: -page-size 0: want 1 to 1000\nRun 'opal users -h' for usage.\n"},
		{[]string{"users", "-page-size", "-1"}, "opal: -page-size -1: want 1 to 1000"},
		{[]string{"users", "-format", "yaml"}, `opal: -format "yaml": want table, json or csv`},
		{[]string{"users", "alice"}, `opal: unexpected argument "alice"`},
		{[]string{"users", "-email", ""}, "opal: -email is given an empty value (an unset variable?)"},
		{[]string{"resources", "-name", ""}, "opal: -name is given an empty value"},
		{[]string{"resources", "-type", ""}, "opal: -type is given an empty value"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			checkFailed(t, runCommand(t, serverEnv(srv), tt.args...), exitUsage, tt.want)
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}
