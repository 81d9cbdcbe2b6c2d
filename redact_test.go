package opal_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
)

// TestShortTokenDoesNotGarbleMessages: with a one-letter token, the server's
// words stay whole, and the token standing alone is still redacted.
func TestShortTokenDoesNotGarbleMessages(t *testing.T) {
	tests := []struct {
		body, want string
	}{
		{`{"message":"resource not found"}`, "resource not found"},
		{`{"message":"token o is revoked"}`, "token [REDACTED] is revoked"},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusNotFound, tt.body)
		}))
		c, err := opal.NewClient("o", opal.WithBaseURL(srv.URL))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Sessions.List(context.Background(), "r", nil)
		srv.Close()
		var apiErr *opal.APIError
		if !errors.As(err, &apiErr) {
			t.Fatalf("List error = %v, want *APIError", err)
		}
		if diff := cmp.Diff(tt.want, apiErr.Message); diff != "" {
			t.Errorf("Message (-want +got):\n%s", diff)
		}
	}
}
