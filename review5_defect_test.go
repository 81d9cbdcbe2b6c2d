package opal_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/opalclient/opal-go"
)

// TestDefect_NameFilterRefusesDottedCapitalI: the name filter's check now
// folds names as strings.EqualFold does (each rune to the least of its
// unicode.SimpleFold orbit), where it lowered them with strings.ToLower.
// The orbits keep what ToLower joined in one case: the dotted capital İ
// (U+0130), which ToLower takes to 'i' but which has no fold partner. (An
// exhaustive check over every rune finds that foldName agrees with
// strings.EqualFold on every pair, and that U+0130 is the only rune whose
// ToLower it sets apart.) A server whose search ignores case by lowering
// both sides (SQL lower(), or ILIKE, in most locales: "İ" lowers to "i")
// answers "istanbul" with "İSTANBUL Office", and the client, which took
// that answer before, now refuses the whole page as an invalid response: a
// legitimate Name now fails.
//
// Reproduction: a server answering GET /v1/resources?resource_name=istanbul
// with one resource named "İSTANBUL Office"; Resources.List with
// Name "istanbul".
// Got: an error matching ErrInvalidResponse (its "name" does not hold the
// name asked for). Expected: the resource, as before the change.
// Suggested fix: fold what ToLower gives, foldName(strings.ToLower(s)), for
// both the name and the resource's name: the final sigma still matches
// (ToLower keeps ς, the fold joins it with σ), İ matches i again, and a
// dotless ı still is no i.
func TestDefect_NameFilterRefusesDottedCapitalI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"next":null,"previous":null,"results":[{"resource_id":"r1","name":"İSTANBUL Office","resource_type":"OKTA_APP"}]}`))
	}))
	defer srv.Close()
	c, err := opal.NewClient("review5-token-Zk81mQ", opal.WithBaseURL(srv.URL+"/v1"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.Resources.List(t.Context(), &opal.ListResourcesOptions{Name: "istanbul"})
	if err != nil {
		t.Fatalf("Name %q, resource named %q: %v", "istanbul", "İSTANBUL Office", err)
	}
	if len(page.Results) != 1 {
		t.Errorf("%d resources, want 1", len(page.Results))
	}
}
