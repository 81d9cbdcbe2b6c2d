package opal_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/opalclient/opal-go"
)

func TestAPIErrorFromResponses(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		header      map[string]string
		want        *opal.APIError
		wantText    string
	}{
		{
			name: "JSON message", status: 404, contentType: "application/json",
			body:     `{"message":"resource not found"}`,
			want:     &opal.APIError{StatusCode: 404, Message: "resource not found", Body: []byte(`{"message":"resource not found"}`)},
			wantText: "opal: GET /v1/sessions: 404 Not Found: resource not found",
		},
		{
			name: "JSON Message in another case", status: 400, contentType: "application/json",
			body:     `{"Message":"invalid resource_id","code":7}`,
			want:     &opal.APIError{StatusCode: 400, Message: "invalid resource_id", Body: []byte(`{"Message":"invalid resource_id","code":7}`)},
			wantText: "opal: GET /v1/sessions: 400 Bad Request: invalid resource_id",
		},
		{
			name: "plain text body", status: 403, contentType: "text/plain",
			body:     "token lacks\n  read access\n",
			want:     &opal.APIError{StatusCode: 403, Message: "token lacks read access", Body: []byte("token lacks\n  read access\n")},
			wantText: "opal: GET /v1/sessions: 403 Forbidden: token lacks read access",
		},
		{
			name: "HTML page from a proxy", status: 502, contentType: "text/html",
			body:     "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
			want:     &opal.APIError{StatusCode: 502, Message: "502 Bad Gateway 502 Bad Gateway nginx"},
			wantText: "opal: GET /v1/sessions: 502 Bad Gateway: 502 Bad Gateway 502 Bad Gateway nginx",
		},
		{
			name: "empty body", status: 401,
			want:     &opal.APIError{StatusCode: 401, Message: "Unauthorized"},
			wantText: "opal: GET /v1/sessions: 401 Unauthorized",
		},
		{
			name: "empty JSON object", status: 404, contentType: "application/json",
			body:     `{}`,
			want:     &opal.APIError{StatusCode: 404, Message: "Not Found", Body: []byte(`{}`)},
			wantText: "opal: GET /v1/sessions: 404 Not Found",
		},
		{
			name: "JSON without a message", status: 409, contentType: "application/json",
			body:     `{"error":"conflict"}`,
			want:     &opal.APIError{StatusCode: 409, Message: `{"error":"conflict"}`, Body: []byte(`{"error":"conflict"}`)},
			wantText: `opal: GET /v1/sessions: 409 Conflict: {"error":"conflict"}`,
		},
		{
			name: "rate limited with Retry-After and request ID", status: 429, contentType: "application/json",
			body:     `{"message":"slow down"}`,
			header:   map[string]string{"Retry-After": "120", "X-Request-Id": "req-42"},
			want:     &opal.APIError{StatusCode: 429, Message: "slow down", Body: []byte(`{"message":"slow down"}`), RetryAfter: 2 * time.Minute, RequestID: "req-42"},
			wantText: "opal: GET /v1/sessions: 429 Too Many Requests: slow down",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, _ := setup(t, opal.WithRetryMax(0))
			mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			})
			_, err := c.Sessions.List(context.Background(), "r", nil)
			var got *opal.APIError
			if !errors.As(err, &got) {
				t.Fatalf("List error = %v (%T), want *APIError", err, err)
			}
			want := *tt.want
			want.Method, want.Path, want.Attempts = "GET", "/v1/sessions", 1
			if tt.contentType == "text/html" {
				want.Body = []byte(tt.body)
			}
			if diff := cmp.Diff(&want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("APIError (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantText, err.Error()); diff != "" {
				t.Errorf("Error() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAPIErrorIsSentinels(t *testing.T) {
	sentinels := []error{opal.ErrUnauthorized, opal.ErrForbidden, opal.ErrNotFound, opal.ErrRateLimited, opal.ErrInvalidArgument}
	tests := []struct {
		status int
		want   error // the one sentinel it matches, or nil
	}{
		{401, opal.ErrUnauthorized},
		{403, opal.ErrForbidden},
		{404, opal.ErrNotFound},
		{429, opal.ErrRateLimited},
		{400, nil},
		{500, nil},
		{503, nil},
	}
	for _, tt := range tests {
		err := error(&opal.APIError{StatusCode: tt.status})
		for _, s := range sentinels {
			if got := errors.Is(err, s); got != (s == tt.want) {
				t.Errorf("errors.Is(status %d, %v) = %v", tt.status, s, got)
			}
		}
	}
}
