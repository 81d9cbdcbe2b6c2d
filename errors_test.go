package opal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestAPIErrorFromResponses(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		header      map[string]string
		want        *APIError
		wantText    string
	}{
		{
			name: "JSON message", status: 404, contentType: "application/json",
			body:     `{"message":"resource not found"}`,
			want:     &APIError{StatusCode: 404, Message: "resource not found", Body: []byte(`{"message":"resource not found"}`)},
			wantText: "opal: GET /v1/sessions: 404 Not Found: resource not found",
		},
		{
			name: "JSON Message in another case", status: 400, contentType: "application/json",
			body:     `{"Message":"invalid resource_id","code":7}`,
			want:     &APIError{StatusCode: 400, Message: "invalid resource_id", Body: []byte(`{"Message":"invalid resource_id","code":7}`)},
			wantText: "opal: GET /v1/sessions: 400 Bad Request: invalid resource_id",
		},
		{
			name: "plain text body", status: 403, contentType: "text/plain",
			body:     "token lacks\n  read access\n",
			want:     &APIError{StatusCode: 403, Message: "token lacks read access", Body: []byte("token lacks\n  read access\n")},
			wantText: "opal: GET /v1/sessions: 403 Forbidden: token lacks read access",
		},
		{
			name: "HTML page from a proxy", status: 502, contentType: "text/html",
			body:     "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
			want:     &APIError{StatusCode: 502, Message: "502 Bad Gateway 502 Bad Gateway nginx"},
			wantText: "opal: GET /v1/sessions: 502 Bad Gateway: 502 Bad Gateway 502 Bad Gateway nginx",
		},
		{
			name: "empty body", status: 401,
			want:     &APIError{StatusCode: 401, Message: "Unauthorized"},
			wantText: "opal: GET /v1/sessions: 401 Unauthorized",
		},
		{
			name: "empty JSON object", status: 404, contentType: "application/json",
			body:     `{}`,
			want:     &APIError{StatusCode: 404, Message: "Not Found", Body: []byte(`{}`)},
			wantText: "opal: GET /v1/sessions: 404 Not Found",
		},
		{
			name: "JSON without a message", status: 409, contentType: "application/json",
			body:     `{"error":"conflict"}`,
			want:     &APIError{StatusCode: 409, Message: `{"error":"conflict"}`, Body: []byte(`{"error":"conflict"}`)},
			wantText: `opal: GET /v1/sessions: 409 Conflict: {"error":"conflict"}`,
		},
		{
			name: "rate limited with Retry-After and request ID", status: 429, contentType: "application/json",
			body:     `{"message":"slow down"}`,
			header:   map[string]string{"Retry-After": "120", "X-Request-Id": "req-42"},
			want:     &APIError{StatusCode: 429, Message: "slow down", Body: []byte(`{"message":"slow down"}`), RetryAfter: 2 * time.Minute, RequestID: "req-42"},
			wantText: "opal: GET /v1/sessions: 429 Too Many Requests: slow down",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, _ := setup(t, WithRetryMax(0))
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
			var got *APIError
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
	sentinels := []error{ErrUnauthorized, ErrForbidden, ErrNotFound, ErrRateLimited, ErrInvalidArgument}
	tests := []struct {
		status int
		want   error // the one sentinel it matches, or nil
	}{
		{401, ErrUnauthorized},
		{403, ErrForbidden},
		{404, ErrNotFound},
		{429, ErrRateLimited},
		{400, nil},
		{500, nil},
		{503, nil},
	}
	for _, tt := range tests {
		err := error(&APIError{StatusCode: tt.status})
		for _, s := range sentinels {
			if got := errors.Is(err, s); got != (s == tt.want) {
				t.Errorf("errors.Is(status %d, %v) = %v", tt.status, s, got)
			}
		}
	}
}

func TestAPIErrorBodyIsBounded(t *testing.T) {
	body := []byte(strings.Repeat("x", 100<<10))
	e := newAPIError("GET", "/v1/sessions", 500, http.Header{}, body, testToken)
	if len(e.Body) != maxKeptBody {
		t.Errorf("len(Body) = %d, want %d", len(e.Body), maxKeptBody)
	}
	if len(e.Message) > maxMessageLen+len("…") {
		t.Errorf("len(Message) = %d, want at most %d", len(e.Message), maxMessageLen)
	}
}

// TestAPIErrorNeverHoldsTheToken covers servers that echo the request, the
// token included, back in an error: raw, escaped in JSON (as encoders do, or
// by hand), Go-quoted, URL-escaped, in a header, and where the kept parts of
// a body are cut.
func TestAPIErrorNeverHoldsTheToken(t *testing.T) {
	jsonMessage := func(token string) string {
		b, _ := json.Marshal(map[string]string{"message": "token " + token + " is revoked"})
		return string(b)
	}
	tests := []struct {
		name   string
		body   func(token string) string
		header func(token string) http.Header
	}{
		{"raw in text", func(tok string) string { return "invalid token " + tok }, nil},
		{"in a JSON message", func(tok string) string { return `{"message":"token ` + tok + ` is revoked"}` }, nil},
		{"escaped by a JSON encoder", jsonMessage, nil},
		{"escaped by hand in a JSON message", func(tok string) string {
			return strings.ReplaceAll(jsonMessage(tok), "-", `\u002d`)
		}, nil},
		{"JSON-escaped without HTML escaping", func(tok string) string {
			var b strings.Builder
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(map[string]string{"echo": tok})
			return b.String()
		}, nil},
		{"Go-quoted", func(tok string) string { return fmt.Sprintf("request: %q", "Bearer "+tok) }, nil},
		{"query-escaped in a URL", func(tok string) string { return "GET /v1/sessions?token=" + url.QueryEscape(tok) }, nil},
		{"path-escaped in a URL", func(tok string) string { return "GET /v1/" + url.PathEscape(tok) + "/sessions" }, nil},
		{"in the request ID header", nil, func(tok string) http.Header { return http.Header{"X-Request-Id": {tok}} }},
		{"JSON-escaped in the request ID header", nil, func(tok string) http.Header { return http.Header{"X-Request-Id": {jsonMessage(tok)}} }},
		{"across the cut of the kept body", func(tok string) string { return strings.Repeat("a", maxKeptBody-12) + " " + tok }, nil},
		{"across the cut of the message", func(tok string) string { return strings.Repeat("a ", (maxMessageLen-12)/2) + tok }, nil},
	}
	for tokenName, token := range map[string]string{"token": testToken, "hostile token": hostileToken} {
		for _, tt := range tests {
			t.Run(tt.name+"/"+tokenName, func(t *testing.T) {
				header, body := http.Header{}, ""
				if tt.header != nil {
					header = tt.header(token)
				}
				if tt.body != nil {
					body = tt.body(token)
				}
				e := newAPIError("GET", "/v1/sessions", 400, header, []byte(body), token)
				for what, text := range map[string]string{"Error()": e.Error(), "Body": string(e.Body), "Message": e.Message, "RequestID": e.RequestID} {
					if leaksToken(text, token) || strings.Contains(text, token[:10]) {
						t.Errorf("%s holds the token or a prefix of it: %s", what, maskToken(text, token))
					}
				}
			})
		}
	}
}

// TestATokenCutByALimitIsRedacted: a token that straddles a limit on what an
// error keeps (the first 64 KiB of a body, which are all that is read, the
// 4 KiB of Body, the 300 bytes of Message) reaches neither Message, Body nor
// Error() of any endpoint's error, in full or as a start of minCutStart
// bytes or more, raw or escaped, wherever the limit cuts it.
func TestATokenCutByALimitIsRedacted(t *testing.T) {
	limits := []struct {
		name string
		body func(form string, inside int) string // form, with inside bytes of it within the limit
	}{
		// Spaces, which Message collapses, so that it shows what ends the body.
		{"the 64 KiB read", func(form string, inside int) string {
			return strings.Repeat(" ", maxErrorBody-inside) + form + " and on"
		}},
		{"the 4 KiB kept", func(form string, inside int) string {
			return strings.Repeat("x", maxKeptBody-inside) + form + " and on"
		}},
		{"the message", func(form string, inside int) string {
			return strings.Repeat("y", maxMessageLen-inside) + form + " and on"
		}},
	}
	for _, token := range []string{hostileToken, "Zq7vXw3mNb8tLp2kRj5h"} {
		forms := tokenForms(token)
		for _, form := range []string{forms["raw"], forms["JSON"]} {
			for _, inside := range []int{minCutStart, len(form) / 2, len(form) - 1} {
				for _, limit := range limits {
					body := limit.body(form, inside)
					forEachEndpoint(t, body, token, func(endpoint string, err error) {
						var apiErr *APIError
						if !errors.As(err, &apiErr) {
							t.Fatalf("%s: error = %s, want *APIError", endpoint, maskToken(fmt.Sprint(err), token))
						}
						for what, text := range map[string]string{"Error()": err.Error(), "Message": apiErr.Message, "Body": string(apiErr.Body)} {
							if leaksToken(text, token) || leaksToken(text, token[:minCutStart]) {
								t.Errorf("%s: %s, with %d bytes of the token's form %q within %s, holds its start: ...%q",
									endpoint, what, inside, maskToken(form, token), limit.name, maskToken(text[max(0, len(text)-60):], token))
							}
						}
					})
				}
			}
		}
	}
}

// forEachEndpoint calls check with the error that each getter and each list
// gets when the server answers 400 with body to a client of token.
func forEachEndpoint(t *testing.T, body, token string, check func(endpoint string, err error)) {
	t.Helper()
	c, mux, _ := setupWithToken(t, token, WithRetryMax(0))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, body)
	})
	ctx := context.Background()
	for _, g := range getters {
		_, err := g.get(c, ctx, g.arg)
		check(g.name, err)
	}
	for _, l := range listers {
		_, err := l.open(c, "", 0).list(ctx)
		check(l.name, err)
	}
}
