package opal_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opalclient/opal-go"
)

// review4PieceAt returns where in token the first run of 8 of its bytes
// that text holds starts, or -1 when text holds none: the pieces that
// NewClient refuses in a base URL, and that the suites of the library and
// the command look for. (A failure says where, never what.)
func review4PieceAt(text, token string) int {
	for i := 0; i+8 <= len(token); i++ {
		if strings.Contains(text, token[i:i+8]) {
			return i
		}
	}
	return -1
}

// review4ResourcesServer answers every GET /v1/resources with one page of
// the given resources, as a server that matched the filter would, and
// counts the requests.
func review4ResourcesServer(t *testing.T, names ...string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		items := make([]string, len(names))
		for i, name := range names {
			items[i] = fmt.Sprintf(`{"resource_id":"r%d","name":%q}`, i+1, name)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"next":null,"results":[%s]}`, strings.Join(items, ","))
	}))
	t.Cleanup(srv.Close)
	return srv, &requests
}

// TestDefect_NameFilterRefusesFinalSigma: ListResourcesOptions.Name is
// documented (resources.go, README "Items that are not what was asked
// for") to compare "in any letter case of Unicode ... as a search that
// ignores case does". It compares strings.ToLower of both, which maps a
// capital sigma to σ only, never to the final ς: a Greek name written in
// capitals, "ΠΩΛΗΣΕΙΣ" (sales), does not hold "πωλησεις" as anyone types it
// in lower case, though Go's own strings.EqualFold takes the two for the
// same, as does a search that folds case (an ICU collation, a search index)
// or that lowers with Unicode's full rules (Python's and JavaScript's
// lower(), which write the final ς). The whole listing then fails with
// ErrInvalidResponse on the server's right answer, and `opal resources
// -name πωλησεις` with it.
//
// Reproduction: a server answering GET /v1/resources?resource_name=... with
// the resource named as below; List(ctx, &ListResourcesOptions{Name: asked}).
// Got: `results[0]: its "name" does not hold the name asked for`
// (ErrInvalidResponse). Expected: the resource is listed.
// Suggested fix: compare names under Unicode case folding rather than
// strings.ToLower (fold each rune to one member of its unicode.SimpleFold
// orbit, so that σ, ς and Σ, or s, ſ and S, are one), and say in the
// README which foldings are not covered (ß and SS, canonically equivalent
// forms such as "é" written as e and U+0301).
func TestDefect_NameFilterRefusesFinalSigma(t *testing.T) {
	for _, tt := range []struct{ asked, name string }{
		{"πωλησεις", "ΠΩΛΗΣΕΙΣ"},
		{"ΠΩΛΗΣΕΙΣ", "πωλησεις"},
		{"λογαριασμος", "ΛΟΓΑΡΙΑΣΜΟΣ-prod"},
	} {
		t.Run(tt.asked, func(t *testing.T) {
			// The two are one name in another letter case, as Go says.
			if !strings.EqualFold(tt.asked, strings.TrimSuffix(tt.name, "-prod")) {
				t.Fatalf("the test's names %q and %q differ beyond letter case", tt.asked, tt.name)
			}
			srv, _ := review4ResourcesServer(t, tt.name)
			c, err := opal.NewClient("opal-review4-SECRET-5d1e8c2a9b7f", opal.WithBaseURL(srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			page, err := c.Resources.List(t.Context(), &opal.ListResourcesOptions{Name: tt.asked})
			if err != nil {
				t.Fatalf("List(Name %q) answered with a resource named %q: %v; want it listed", tt.asked, tt.name, err)
			}
			if len(page.Results) != 1 || page.Results[0].Name != tt.name {
				t.Errorf("List(Name %q) = %+v; want the resource named %q", tt.asked, page.Results, tt.name)
			}
		})
	}
}

// TestDefect_NameOfWhiteSpaceFiltersNothing: ListResourcesOptions.Name is
// now compared without the white space around it (strings.TrimSpace), so a
// Name of white space alone checks nothing: every resource with a name
// passes, whatever it is called. Before the change, " " had to be in the
// name. The library still sends resource_name=" ", which a server that
// trims the filter, as the library now says one may, takes as no filter
// and answers with every resource. So a name built from unset variables
// (`opal access -all -resource-name "$TEAM $ENV"`, which the command's
// empty-value check does not catch) lists, and sweeps, the whole
// organisation, silently: the case the IDs filter refuses for an empty,
// non-nil slice ("a filter that lets all through").
//
// Reproduction: List(ctx, &ListResourcesOptions{Name: " "}) against a
// server answering with every resource. Got: the resources listed, no
// error. Expected: an error matching ErrInvalidArgument before anything is
// sent, as for IDs: []string{} (the Name asked for is empty once trimmed).
// Suggested fix: resources.go listing: refuse a Name that is not empty but
// is white space alone, saying so; the command's -name and -resource-name
// then fail as a usage error.
func TestDefect_NameOfWhiteSpaceFiltersNothing(t *testing.T) {
	for _, name := range []string{" ", "\t", "  \n"} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			srv, requests := review4ResourcesServer(t, "prod-admin", "billing-reader", "everything-else")
			c, err := opal.NewClient("opal-review4-SECRET-5d1e8c2a9b7f", opal.WithBaseURL(srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			page, err := c.Resources.List(t.Context(), &opal.ListResourcesOptions{Name: name})
			if !errors.Is(err, opal.ErrInvalidArgument) {
				n := -1
				if page != nil {
					n = len(page.Results)
				}
				t.Errorf("List(Name %q) = %d resources, error %v; want ErrInvalidArgument: a name of white space alone filters nothing", name, n, err)
			}
			if n := requests.Load(); n != 0 {
				t.Errorf("%d requests sent; want none", n)
			}
		})
	}
}

// TestDefect_SevenBytesOfTheTokenInABaseURLBecomeEight: NewClient refuses a
// base URL holding 8 bytes of the token in a row, since "the base URL's
// path is in every error, log record and Attempt", and keeps one holding 7
// (TestNewClientRefusalsNeverQuoteTheToken, "7 bytes of the token are
// kept"). But the base URL is checked alone, and never appears alone: the
// client writes its path followed by "/" and the route. Where the token
// goes on after those 7 bytes with a "/" (any base64 token may), every
// Attempt.Path, APIError.Path and error holds 8 bytes of it in a row, and
// more where the token goes on with the route's letters, though NewClient's
// doc says its checks keep "any 8 bytes of it in a row" out of them.
//
// Reproduction: token "A1b2C3d4/users-E5f6G7h8I9j0" (printable ASCII, as
// Opal's are), base URL <server>/1b2C3d4 (7 bytes of it), Users.List
// answered with a 404. Got: Attempt.Path and the error hold
// "/1b2C3d4/users", 13 bytes of the token in a row. Expected: NewClient
// refuses the base URL, as it refuses one holding 8 bytes, or nothing the
// client writes holds 8 bytes of the token in a row.
// Suggested fix: opal.go newClient: check for pieces the paths the client
// writes (the base URL's path as parsed, "/v1" filled in, followed by "/"
// and each route), not the base URL alone; or redact pieces (redactPieces)
// of the base path where a path is written.
func TestDefect_SevenBytesOfTheTokenInABaseURLBecomeEight(t *testing.T) {
	const token = "A1b2C3d4/users-E5f6G7h8I9j0"
	const pasted = "1b2C3d4" // 7 bytes, which NewClient keeps
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"message":"not found"}`, http.StatusNotFound)
	}))
	defer srv.Close()
	var mu sync.Mutex
	var paths []string
	c, err := opal.NewClient(token, opal.WithBaseURL(srv.URL+"/"+pasted), opal.WithRetryMax(0),
		opal.WithObserver(func(_ context.Context, a opal.Attempt) {
			mu.Lock()
			defer mu.Unlock()
			paths = append(paths, a.Path)
		}))
	if errors.Is(err, opal.ErrInvalidArgument) {
		return // refused: nothing is written
	}
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Users.List(t.Context(), nil)
	if err == nil {
		t.Fatal("Users.List answered with a 404 succeeded")
	}
	var apiErr *opal.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("Users.List: %v; want an *APIError", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for what, text := range map[string]string{
		"the error":     err.Error(),
		"APIError.Path": apiErr.Path,
		"Attempt.Path":  strings.Join(paths, " "),
	} {
		if at := review4PieceAt(text, token); at >= 0 {
			t.Errorf("%s holds 8 bytes of the token in a row (from its byte %d), from a base URL that NewClient kept", what, at)
		}
	}
}
