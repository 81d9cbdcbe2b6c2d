package opal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opalclient/opal-go"
)

// TestFmtNeverPrintsTheToken prints a client and its service with every verb,
// as values and pointers.
func TestFmtNeverPrintsTheToken(t *testing.T) {
	c, err := opal.NewClient(testToken, opal.WithUserAgent("bot/1"))
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{
		"*Client":          c,
		"Client":           *c,
		"*SessionsService": c.Sessions,
		"SessionsService":  *c.Sessions,
		"[]*Client":        []*opal.Client{c},
		"map of *Client":   map[string]*opal.Client{"c": c},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T", "%p"} {
			if out := fmt.Sprintf(verb, v); leaks(out) {
				t.Errorf("fmt.Sprintf(%q, %s) prints the token", verb, name)
			}
		}
	}
}

// TestServerEchoingTheTokenDoesNotLeakIt: some servers and proxies echo the
// request, Authorization header included, in an error body.
func TestServerEchoingTheTokenDoesNotLeakIt(t *testing.T) {
	for tokenName, token := range map[string]string{"token": testToken, "hostile token": hostileToken} {
		t.Run(tokenName, func(t *testing.T) {
			c, mux, _ := setupWithToken(t, token, opal.WithRetryMax(1))
			mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
				auth := r.Header.Get("Authorization")
				w.Header().Set("X-Request-Id", auth)
				// Escaped as JSON encoders do, HTML included, and Go-quoted.
				body, _ := json.Marshal(map[string]any{"message": "upstream rejected " + auth, "request": r.Header})
				writeJSON(w, http.StatusBadGateway, string(body)+fmt.Sprintf("\n%q", auth))
			})
			_, err := c.Sessions.List(context.Background(), "r", nil)
			var apiErr *opal.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("List error = %s, want *APIError", maskToken(fmt.Sprint(err), token))
			}
			for what, text := range map[string]string{
				"Error()": err.Error(), "Message": apiErr.Message, "Body": string(apiErr.Body),
				"RequestID": apiErr.RequestID, "%+v": fmt.Sprintf("%+v", apiErr), "%#v": fmt.Sprintf("%#v", err),
			} {
				if leaksToken(text, token) {
					t.Errorf("%s holds the token: %s", what, maskToken(text, token))
				}
			}
			checkNoTokenInChain(t, err, token)
			if !strings.Contains(string(apiErr.Body), "upstream rejected Bearer [REDACTED]") {
				t.Errorf("Body = %s, want the server's message with the token redacted", maskToken(string(apiErr.Body), token))
			}
		})
	}
}

// TestCallerHTTPClientIsNotModified: WithHTTPClient copies the client.
func TestCallerHTTPClientIsNotModified(t *testing.T) {
	hc := &http.Client{}
	if _, err := opal.NewClient(testToken, opal.WithHTTPClient(hc)); err != nil {
		t.Fatal(err)
	}
	if hc.Transport != nil || hc.CheckRedirect != nil {
		t.Errorf("NewClient modified the caller's http.Client: %+v", hc)
	}
}

// TestEchoedTokenNeverReachesAnError: a server that echoes the request's
// Authorization header into the text an error quotes (a date, a content
// type, a cursor) does not get the token into any error in the chain. (A
// cursor that loops: TestListsKeepTheTokenOutOfTheLoopError.)
func TestEchoedTokenNeverReachesAnError(t *testing.T) {
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request, auth string)
	}{
		{"as an expiration date", func(w http.ResponseWriter, r *http.Request, auth string) {
			writeJSON(w, http.StatusOK, `{"results":[{"expiration_date":"`+auth+`"}]}`)
		}},
		{"as a content type", func(w http.ResponseWriter, r *http.Request, auth string) {
			w.Header().Set("Content-Type", "text/x-"+strings.TrimPrefix(auth, "Bearer "))
			fmt.Fprint(w, "<html></html>")
		}},
		{"as a cursor, then a dropped connection", func(w http.ResponseWriter, r *http.Request, auth string) {
			if r.URL.Query().Get("cursor") == "" {
				writeJSON(w, http.StatusOK, fmt.Sprintf(`{"next":%q,"results":[]}`, auth))
				return
			}
			if conn := hijack(t, w); conn != nil {
				conn.Close()
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs strings.Builder
			c, mux, _ := setup(t, opal.WithRetryMax(1), opal.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
				tt.handler(w, r, r.Header.Get("Authorization"))
			})
			var err error
			for _, err = range c.Sessions.All(context.Background(), "r", nil) {
				if err != nil {
					break
				}
			}
			if err == nil {
				t.Fatal("the walk succeeded, want an error")
			}
			checkNoTokenInChain(t, err, testToken)
			if leaks(logs.String()) {
				t.Errorf("the log holds the token")
			}
		})
	}
}

// TestTokenInATransportFaultIsInNoError: a server can put the token into
// net/http's own error texts, which quote what it sent: a status line, or a
// Location that does not parse. No error reachable from the call's error
// holds it, nor a piece of it (net/url quotes the port it found in such a
// Location, up to the token's first '/'), and the unparsable Location,
// which would fail the same way again, is not retried.
func TestTokenInATransportFaultIsInNoError(t *testing.T) {
	raw := func(response string) func(w http.ResponseWriter, token string) {
		return func(w http.ResponseWriter, token string) {
			if conn := hijack(t, w); conn != nil {
				fmt.Fprint(conn, strings.ReplaceAll(response, "TOKEN", token))
				conn.Close()
			}
		}
	}
	tests := []struct {
		name         string
		answer       func(w http.ResponseWriter, token string)
		want         string // in Error()
		wantRequests int32
	}{
		{"token as the status code", raw("HTTP/1.1 TOKEN garbage\r\n\r\n"), "malformed HTTP status code", 1}, // deterministic: not retried
		{"token as the status line", raw("TOKEN\r\n\r\n"), "malformed HTTP response", 1},
		{"token in an unparsable Location", func(w http.ResponseWriter, token string) {
			w.Header().Set("Location", "/%zz"+token)
			w.WriteHeader(http.StatusFound)
		}, "failed to parse Location header", 1},
		{"token query-escaped in an unparsable Location", func(w http.ResponseWriter, token string) {
			w.Header().Set("Location", "/%zz?token="+url.QueryEscape(token))
			w.WriteHeader(http.StatusFound)
		}, "failed to parse Location header", 1},
		{"token as the port of a Location", func(w http.ResponseWriter, token string) {
			w.Header().Set("Location", "http://127.0.0.1:"+token+"/")
			w.WriteHeader(http.StatusFound)
		}, "failed to parse Location header", 1},
	}
	tokens := map[string]string{
		"token": testToken, "hostile token": hostileToken,
		"token with a slash": "Qz7+hUNTER2/XyZ=0123456789abcdefVWk", // a base64 token
	}
	for tokenName, token := range tokens {
		for _, tt := range tests {
			t.Run(tt.name+"/"+tokenName, func(t *testing.T) {
				c, mux, _ := setupWithToken(t, token, opal.WithRetryMax(1))
				var requests atomic.Int32
				mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
					tt.answer(w, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
				}))
				_, err := c.Sessions.List(context.Background(), "r", nil)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("List error = %s, want one saying %q", maskToken(fmt.Sprint(err), token), tt.want)
				}
				checkNoTokenInChain(t, err, token)
				if n := requests.Load(); n != tt.wantRequests {
					t.Errorf("%d requests, want %d", n, tt.wantRequests)
				}
			})
		}
	}
}

// TestATokenPassedAsAnIDIsRedacted: the token passed by mistake as an ID or
// an email, in a path, a query or an argument that is refused, reaches no
// error (its Path, its text, a ResourceError) and no log record.
func TestATokenPassedAsAnIDIsRedacted(t *testing.T) {
	tests := []struct {
		name string
		call func(ctx context.Context, c *opal.Client) error
	}{
		{"Users.Get", func(ctx context.Context, c *opal.Client) error { _, err := c.Users.Get(ctx, testToken); return err }},
		{"Users.GetByEmail", func(ctx context.Context, c *opal.Client) error {
			_, err := c.Users.GetByEmail(ctx, testToken)
			return err
		}},
		{"Resources.Get", func(ctx context.Context, c *opal.Client) error { _, err := c.Resources.Get(ctx, testToken); return err }},
		{"Resources.List with the token among IDs", func(ctx context.Context, c *opal.Client) error {
			_, err := c.Resources.List(ctx, &opal.ListResourcesOptions{IDs: []string{"r1", testToken + ",r2"}})
			return err
		}},
		{"Sessions.All", func(ctx context.Context, c *opal.Client) error {
			for _, err := range c.Sessions.All(ctx, testToken, nil) {
				return err
			}
			return nil
		}},
		{"Sessions.AllOf with the token among IDs", func(ctx context.Context, c *opal.Client) error {
			for _, err := range c.Sessions.AllOf(ctx, []string{testToken}, nil) {
				var resourceErr *opal.ResourceError
				if !errors.As(err, &resourceErr) {
					t.Errorf("AllOf error = %T, want *ResourceError", err)
				} else if resourceErr.ResourceID != "[REDACTED]" {
					t.Errorf("ResourceError.ResourceID is not [REDACTED]")
				}
				return err
			}
			return nil
		}},
		{"Access.List", func(ctx context.Context, c *opal.Client) error {
			_, err := c.Access.List(ctx, testToken, nil)
			return err
		}},
		{"Access.ListForUser", func(ctx context.Context, c *opal.Client) error {
			_, err := c.Access.ListForUser(ctx, testToken, nil)
			return err
		}},
		{"Access.AllOf with the token among IDs", func(ctx context.Context, c *opal.Client) error {
			for _, err := range c.Access.AllOf(ctx, []string{testToken}, nil) {
				var resourceErr *opal.ResourceError
				if !errors.As(err, &resourceErr) {
					t.Errorf("AllOf error = %T, want *ResourceError", err)
				} else if resourceErr.ResourceID != "[REDACTED]" {
					t.Errorf("ResourceError.ResourceID is not [REDACTED]")
				}
				return err
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs strings.Builder
			c, mux, _ := setup(t, opal.WithRetryMax(1), opal.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			var requests atomic.Int32
			mux.HandleFunc("/", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
				if requests.Load() == 1 { // retried, so that every record is written
					writeJSON(w, http.StatusServiceUnavailable, `{"message":"try again"}`)
					return
				}
				writeJSON(w, http.StatusNotFound, `{"message":"not found"}`)
			}))
			err := tt.call(context.Background(), c)
			if err == nil {
				t.Fatal("the call succeeded, want an error")
			}
			checkNoTokenInChain(t, err, testToken)
			var apiErr *opal.APIError
			if errors.As(err, &apiErr) && leaks(apiErr.Path) {
				t.Errorf("APIError.Path holds the token: %s", maskToken(apiErr.Path, testToken))
			}
			if leaks(logs.String()) {
				t.Errorf("the log holds the token:\n%s", maskToken(logs.String(), testToken))
			}
		})
	}
}
