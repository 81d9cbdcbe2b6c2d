package main

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPrism runs the command against Stoplight Prism mocking Opal's
// published OpenAPI document (testdata/prism/opal-openapi.yaml at the
// module's root), at OPAL_PRISM_URL; .ci/prism starts one and runs it.
//
// Prism answers every request the document allows with the document's
// example, whatever was asked: a list with the same next cursor on every
// page, a user, resource or grant about other IDs than those asked for.
// The command must say so, exit 1, and keep what it printed before; never
// print rows about another resource or user as the answer. The IDs are the
// document's examples: the access example's rows are of prismResource, the
// resources list holds prismListed and prismGCP, the User example is
// prismJake's.
func TestPrism(t *testing.T) {
	prismURL := os.Getenv("OPAL_PRISM_URL")
	if prismURL == "" {
		t.Skip("OPAL_PRISM_URL is not set: run .ci/prism, or start `prism mock testdata/prism/opal-openapi.yaml` and set OPAL_PRISM_URL to its URL, such as http://127.0.0.1:4010")
	}
	const (
		prismResource = "1b978423-db0a-4037-a4cf-f79c60cb67b3"
		prismListed   = "f454d283-ca67-4a8a-bdbb-df212eca5353"
		prismGCP      = "99d0b81d-14be-4cf6-bd27-348b4af1d11b"
		prismJake     = "29827fb8-f2dd-4e80-9576-28e31e9934ac"
		prismBrett    = "7646aa9a-e2ee-4eb5-8c62-91f29038a373"
	)
	env := []string{"OPAL_AUTH_TOKEN=prism-check-token", "OPAL_BASE_URL=" + prismURL, "OPAL_BASE_URL_EXACT=1"}
	const (
		usersTable = "" +
			"USER ID                               EMAIL                   NAME        POSITION                HR STATUS\n" +
			"29827fb8-f2dd-4e80-9576-28e31e9934ac  john.doe@company.dev    John Doe    Senior Engineer\n" +
			"e8581682-04f7-473a-a419-472f0fb26d46  jane.smith@company.dev  Jane Smith  Product Marketing Lead\n"
		usersLoop      = "opal: GET /users: server repeated a pagination cursor after 2 pages\nopal: the output is partial: the 2 rows printed before the failure\n"
		resourcesLoop  = "opal: GET /resources: server repeated a pagination cursor after 2 pages\nopal: the output is partial: the 2 rows printed before the failure\n"
		resourcesTable = "" +
			"RESOURCE ID                           TYPE  NAME  DESCRIPTION\n" +
			"f454d283-ca67-4a8a-bdbb-df212eca5353  -     -     This resource represents AWS IAM role \"SupportUser\".\n" +
			"99d0b81d-14be-4cf6-bd27-348b4af1d11b  -     -     This resource represents GCP project \"app-demo\".\n"
		// -resource-id is checked against a walk of GET /resources
		// filtered by those IDs; Prism answers with its two resources.
		notAsked      = "opal: checking that the resources of -resource-id exist: GET /resources: 200 OK response is not the page of resources asked for: results[0]: its \"resource_id\" is not one of the IDs asked for\n"
		jakeResources = "opal: listing the grants of user " + prismJake + ": GET /resources/users/" + prismJake +
			": 200 OK response is not the page of the user's resources asked for: results[1]: its \"user_id\" is not the one asked for\n"
	)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		// The first page is printed, the second (the same, under the same
		// cursor) refused.
		{"users", []string{"users"}, 1, usersTable, usersLoop},
		{"users as json", []string{"users", "-format", "json"}, 1, "" +
			`{"user_id":"29827fb8-f2dd-4e80-9576-28e31e9934ac","email":"john.doe@company.dev","full_name":"John Doe","first_name":"","last_name":"","position":"Senior Engineer"}` + "\n" +
			`{"user_id":"e8581682-04f7-473a-a419-472f0fb26d46","email":"jane.smith@company.dev","full_name":"Jane Smith","first_name":"","last_name":"","position":"Product Marketing Lead"}` + "\n",
			usersLoop},
		{"users as csv", []string{"users", "-format", "csv", "-page-size", "2"}, 1, "" +
			"user_id,email,full_name,first_name,last_name,position,hr_idp_status\n" +
			"29827fb8-f2dd-4e80-9576-28e31e9934ac,john.doe@company.dev,John Doe,,,Senior Engineer,\n" +
			"e8581682-04f7-473a-a419-472f0fb26d46,jane.smith@company.dev,Jane Smith,,,Product Marketing Lead,\n",
			usersLoop},
		// The User example is the user of that email.
		{"one user", []string{"users", "-email", "john.doe@company.dev"}, 0, "" +
			"USER ID                               EMAIL                 NAME      POSITION  HR STATUS\n" +
			"29827fb8-f2dd-4e80-9576-28e31e9934ac  john.doe@company.dev  John Doe  Engineer\n", ""},
		{"resources", []string{"resources"}, 1, resourcesTable, resourcesLoop},
		// The example states no type.
		{"resources of a type", []string{"resources", "-type", "aws_iam_role"}, 1, "",
			"opal: GET /resources: 200 OK response is not the page of resources asked for: results[0]: no \"resource_type\"\n"},

		// The resources example holds neither the access example's
		// resource nor the path parameter's example: nothing is listed.
		{"access to the access example's resource", []string{"access", "-resource-id", prismResource}, 1, "", notAsked},
		{"access, -ids and no sessions", []string{"access", "-resource-id", prismResource, "-ids", "-no-sessions", "-format", "json"}, 1, "", notAsked},
		{"access to another resource", []string{"access", "-resource-id", "4baf8423-db0a-4037-a4cf-f79c60cb67a5"}, 1, "", notAsked},
		{"sessions", []string{"sessions", "-resource-id", prismResource}, 1, "", notAsked},
		// One of the example's resources: the page holds the other too.
		{"sessions of a listed resource", []string{"sessions", "-resource-id", prismListed}, 1, "",
			"opal: checking that the resources of -resource-id exist: GET /resources: 200 OK response is not the page of resources asked for: results[1]: its \"resource_id\" is not one of the IDs asked for\n"},
		// Both: the page passes, the next (the same) is refused.
		{"sessions of both listed resources", []string{"sessions", "-resource-id", prismListed + "," + prismGCP}, 1, "",
			"opal: checking that the resources of -resource-id exist: GET /resources: server repeated a pagination cursor after 2 pages\n"},
		{"access to every resource", []string{"access", "-all"}, 1, "",
			"opal: listing the organisation's resources: GET /resources: server repeated a pagination cursor after 2 pages\n"},

		// The User example is prismJake; the access example's rows are of
		// him and prismBrett.
		{"access of the example's user", []string{"access", "-user-id", prismJake}, 1, "", jakeResources},
		{"access of the example's user, by email", []string{"access", "-user", "john.doe@company.dev", "-no-sessions"}, 1, "", jakeResources},
		{"access of another user", []string{"access", "-user-id", prismBrett}, 1, "",
			"opal: looking up the user of -user-id " + prismBrett + ": GET /user: 200 OK response is not the user asked for: its \"user_id\" is not the one asked for\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCommand(t, env, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d", r.code, tt.code)
			}
			if diff := cmp.Diff(tt.stdout, r.stdout); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.stderr, r.stderr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}

	// Without OPAL_BASE_URL_EXACT, /v1 is filled in, which Prism does not
	// serve: the hint names the URL requested and the way out.
	t.Run("a base URL without /v1", func(t *testing.T) {
		r := runCommand(t, env[:2], "users")
		origin := strings.TrimSuffix(prismURL, "/")
		want := "opal: GET /v1/users: 404 Not Found: Route not resolved, no path matched: The route /v1/users hasn't been found in the specification file" +
			" (the URL requested was " + origin + "/v1/users: check that OPAL_BASE_URL is the API's base URL, such as https://api.opal.dev/v1 or https://<host>/v1;" +
			" for a mock that serves the API at its root, as Prism does, set OPAL_BASE_URL_EXACT=1)\n"
		if r.code != 1 || r.stdout != "" {
			t.Errorf("exit %d, stdout %q; want 1 and nothing", r.code, r.stdout)
		}
		if diff := cmp.Diff(want, r.stderr); diff != "" {
			t.Errorf("stderr (-want +got):\n%s", diff)
		}
	})
}
