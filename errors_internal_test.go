package opal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

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
// bytes or more, raw or in any escaped form, wherever the limit cuts it,
// inside an escape included. Every endpoint's error is made by newAPIError:
// each is checked with the raw token, and newAPIError itself with every
// form.
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
		// The message is cut once decoded from JSON, where an escaped form
		// is the token itself.
		{"the message of a JSON body", func(form string, inside int) string {
			return `{"message":"` + strings.Repeat("y", maxMessageLen-inside) + form + ` and on"}`
		}},
	}
	for _, token := range []string{hostileToken, "Zq7vXw3mNb8tLp2kRj5h"} {
		forms := tokenForms(token)
		delete(forms, "hex") // not an escaping a server writes text in
		forms["every byte \\u-escaped"] = everyRuneEscaped(token)
		forms["HTML numeric"] = htmlNumeric(token)
		forms["HTML named"] = htmlNamed(token)
		for name, form := range forms {
			// The cut falls at the token's first bytes, at its last, and at
			// every byte of an escape or two in its middle.
			insides := []int{minCutStart, len(form) - 1}
			for inside := len(form) / 2; inside < len(form)/2+7; inside++ {
				insides = append(insides, inside)
			}
			for _, inside := range insides {
				for _, limit := range limits {
					body := limit.body(form, inside)
					check := func(endpoint string, err error) {
						var apiErr *APIError
						if !errors.As(err, &apiErr) {
							t.Fatalf("%s: error = %s, want *APIError", endpoint, maskToken(fmt.Sprint(err), token))
						}
						for what, text := range map[string]string{"Error()": err.Error(), "Message": apiErr.Message, "Body": string(apiErr.Body)} {
							if leaksToken(text, token) || leaksToken(text, token[:minCutStart]) {
								t.Errorf("%s: %s, with %d bytes of the token's %s form %q within %s, holds its start: ...%q",
									endpoint, what, inside, name, maskToken(form, token), limit.name, maskToken(text[max(0, len(text)-60):], token))
							}
						}
					}
					check("newAPIError", newAPIError("GET", "/v1/sessions", 400, http.Header{}, []byte(body), token))
					if name == "raw" && (inside == minCutStart || inside == len(form)-1) {
						forEachEndpoint(t, body, token, check)
					}
				}
			}
		}
	}
}

// htmlNumeric writes every byte of s as an HTML decimal reference.
func htmlNumeric(s string) string {
	var b strings.Builder
	for i := range len(s) {
		fmt.Fprintf(&b, "&#%d;", s[i])
	}
	return b.String()
}

// forEachEndpoint calls check with the error that each endpoint, every
// getter and every list, gets when the server answers 400 with body to a
// client of token (in memory).
func forEachEndpoint(t *testing.T, body, token string, check func(endpoint string, err error)) {
	t.Helper()
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{
			StatusCode: http.StatusBadRequest, Header: http.Header{"Content-Type": {"text/plain"}},
			Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r,
		}, nil
	})
	c, err := NewClient(token, WithBaseURL("http://127.0.0.1/v1"), WithHTTPClient(&http.Client{Transport: rt}), WithRetryMax(0), WithRateLimit(0))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	endpoints := map[string]func() error{
		"Users.Get":          func() error { _, err := c.Users.Get(ctx, "u1"); return err },
		"Users.GetByEmail":   func() error { _, err := c.Users.GetByEmail(ctx, "jo@example.com"); return err },
		"Resources.Get":      func() error { _, err := c.Resources.Get(ctx, "r1"); return err },
		"Sessions.List":      func() error { _, err := c.Sessions.List(ctx, "r1", nil); return err },
		"Users.List":         func() error { _, err := c.Users.List(ctx, nil); return err },
		"Resources.List":     func() error { _, err := c.Resources.List(ctx, nil); return err },
		"Access.List":        func() error { _, err := c.Access.List(ctx, "r1", nil); return err },
		"Access.ListForUser": func() error { _, err := c.Access.ListForUser(ctx, "u1", nil); return err },
	}
	for name, call := range endpoints {
		check(name, call())
	}
}

// TestErrorMessageTakesTheExactKeyFirst: of the keys of an error body that
// spell "message" in some ASCII letter case, "message" wins, then the
// others in sorted order, the first holding a string; so a body holding
// two gives the same message on every run, where the order of a map's keys
// would vary. A key that spells it with a letter outside ASCII (a long s)
// is no "message".
func TestErrorMessageTakesTheExactKeyFirst(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"Message":"second","message":"first"}`, "first"},
		{`{"message":"first","Message":"second"}`, "first"},
		{`{"message":7,"Message":"second"}`, "second"},
		{`{"message":null,"Message":"second"}`, "second"},
		{`{"mESSAGE":"third","Message":"second","MESSAGE":"first"}`, "first"},
		{`{"me\u017F\u017Fage":"not it"}`, `{"me\u017F\u017Fage":"not it"}`},
	}
	for _, tt := range tests {
		// Map iteration changes from run to run: one run could pass by luck.
		for range 50 {
			if got := errorMessage([]byte(tt.body)); got != tt.want {
				t.Errorf("errorMessage(%s) = %q, want %q", tt.body, got, tt.want)
				break
			}
		}
	}
}
