package opal_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
)

// TestBaseURLPaths: every form of a base URL reaches the API's paths, with
// no "//" and its prefix kept. A mock that serves the API at a host's root,
// as Prism does, is reached with WithExactBaseURL, while WithBaseURL fills
// in the /v1 of self-hosted Opal; the last of the two options wins.
func TestBaseURLPaths(t *testing.T) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"results":[]}`))
	}))
	defer srv.Close()

	tests := []struct {
		name string
		opts []opal.Option
		want string
	}{
		{"exact, no path", []opal.Option{opal.WithExactBaseURL(srv.URL)}, "/users"},
		{"exact, a slash", []opal.Option{opal.WithExactBaseURL(srv.URL + "/")}, "/users"},
		{"exact, a path", []opal.Option{opal.WithExactBaseURL(srv.URL + "/api")}, "/api/users"},
		{"base URL, no path", []opal.Option{opal.WithBaseURL(srv.URL)}, "/v1/users"},
		{"base URL, a slash", []opal.Option{opal.WithBaseURL(srv.URL + "/")}, "/v1/users"},
		{"base URL, /v1", []opal.Option{opal.WithBaseURL(srv.URL + "/v1")}, "/v1/users"},
		{"base URL, /v1/", []opal.Option{opal.WithBaseURL(srv.URL + "/v1/")}, "/v1/users"},
		{"base URL, another path", []opal.Option{opal.WithBaseURL(srv.URL + "/opal/api/")}, "/opal/api/users"},
		{"base URL, localhost", []opal.Option{opal.WithBaseURL(strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/custom")}, "/custom/users"},
		{"exact, then base URL", []opal.Option{opal.WithExactBaseURL(srv.URL), opal.WithBaseURL(srv.URL)}, "/v1/users"},
		{"base URL, then exact", []opal.Option{opal.WithBaseURL(srv.URL), opal.WithExactBaseURL(srv.URL)}, "/users"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			paths = nil
			c, err := opal.NewClient("test-token", append(tt.opts, opal.WithRateLimit(0))...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Users.List(t.Context(), nil); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{tt.want}, paths); diff != "" {
				t.Errorf("paths requested (-want +got):\n%s", diff)
			}
		})
	}

	// The rules of scheme and host hold as for WithBaseURL.
	for _, bad := range []string{"http://opal.example.com", "ftp://127.0.0.1", "https://", "https://user:pw@opal.example.com"} {
		if _, err := opal.NewClient("test-token", opal.WithExactBaseURL(bad)); err == nil {
			t.Errorf("WithExactBaseURL(%q) was taken", bad)
		}
	}
}
