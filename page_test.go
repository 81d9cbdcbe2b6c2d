package opal_test

import (
	"testing"

	"github.com/opalclient/opal-go"
)

// TestPageJSON: every list's page encodes in the API's shape, null for a
// missing cursor, nil results as null and empty ones as [], and decodes
// back to the same value.
func TestPageJSON(t *testing.T) {
	checkJSON(t, opal.SessionsList{}, `{"next":null,"previous":null,"results":null}`)
	checkJSON(t, opal.SessionsList{Results: []opal.Session{}}, `{"next":null,"previous":null,"results":[]}`)
	checkJSON(t, opal.UsersList{Next: "n", Previous: "p", Results: []opal.User{{UserID: "u1"}}},
		`{"next":"n","previous":"p","results":[{"user_id":"u1","email":"","full_name":"","first_name":"","last_name":"","position":""}]}`)
	checkJSON(t, opal.ResourcesList{Previous: "p", Results: []opal.Resource{{ResourceID: "r1"}}}, `{"next":null,"previous":"p","results":[{"resource_id":"r1"}]}`)
	checkJSON(t, opal.Page[string]{Next: "c2", Results: []string{"a"}}, `{"next":"c2","previous":null,"results":["a"]}`)
}
