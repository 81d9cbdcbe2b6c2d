package opal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/opalclient/opal-go"
)

// review3Token is a token of the shape of Opal's, for the defects below.
const review3Token = "opal-review3-SECRET-7f3c9a1b2d4e"

// review3Pieces returns the runs of 8 bytes of the token that s holds: the
// pieces that NewClient's refusals promise never to quote.
func review3Pieces(s string) []string {
	var found []string
	for i := 0; i+8 <= len(review3Token); i++ {
		if piece := review3Token[i : i+8]; strings.Contains(s, piece) {
			found = append(found, piece)
		}
	}
	return found
}

// TestDefect_NewClientSwappedTokenAndBaseURLQuotesToken: NewClient's
// refusal of a base URL that holds the token asks "were the token and the
// URL swapped?", but a real swap, the URL given as the token and the
// token as the base URL, is refused with a message that quotes the token
// whole, since the library looks for the token argument (here the URL) in
// the base URL.
//
// Reproduction:
//
//	opal.NewClient("https://opal.example.com/v1", opal.WithBaseURL(token))
//
// Got: opal: invalid argument: base URL: "<token>" has no host (want a URL like https://api.opal.dev/v1)
// Expected: a refusal wrapping ErrInvalidArgument that quotes neither the
// base URL nor 8 bytes of it in a row: a base URL with no scheme and no
// host is no URL and may be the token (or the token, being an http(s) URL,
// is refused first as swapped). Fix: opal.go, checkBaseURL (do not quote a
// value with no host), or newClient (refuse a token that parses as an
// http(s) URL with a host before the options are checked).
func TestDefect_NewClientSwappedTokenAndBaseURLQuotesToken(t *testing.T) {
	for _, tt := range []struct {
		name string
		opt  opal.Option
	}{
		{"WithBaseURL", opal.WithBaseURL(review3Token)},
		{"WithExactBaseURL", opal.WithExactBaseURL(review3Token)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := opal.NewClient("https://opal.example.com/v1", tt.opt)
			if c != nil || !errors.Is(err, opal.ErrInvalidArgument) {
				t.Fatalf("NewClient = %v, %v; want an error matching ErrInvalidArgument", c, err)
			}
			if pieces := review3Pieces(err.Error()); len(pieces) > 0 {
				t.Errorf("the refusal %q quotes the token given as the base URL (%d runs of 8 of its bytes)", err, len(pieces))
			}
		})
	}
}

// TestDefect_BaseURLHoldingPieceOfTokenIsKept: NewClient refuses a base URL
// or a product (WithUserAgent) that holds the whole token, and its
// refusals never quote one that holds 8 bytes of it in a row ("not quoted:
// it holds part of the API token"). But such a value that is otherwise
// valid is accepted, and then quoted everywhere the refusal would not
// quote it: the base URL's path in every error, log record and Attempt,
// the product in the fmt output of the Client.
//
// Reproduction: token "opal-review3-SECRET-7f3c9a1b2d4e" (the token pasted
// into the URL and cut at a line's end);
//
//	c, _ := opal.NewClient(token, opal.WithBaseURL(srv.URL+"/"+token[:13]), opal.WithLogger(l), opal.WithObserver(o))
//	_, err := c.Users.List(ctx, nil)
//
// Got: err "opal: GET /opal-review3-/users: 404 Not Found: ...", and the
// same path in the log record and in Attempt.Path;
// NewClient(token, WithUserAgent("bot/"+token[5:20])) is accepted and
// fmt.Sprintf("%+v", *c) prints "bot/review3-SECRET-".
// Expected: NewClient refuses both, wrapping ErrInvalidArgument, saying
// that the value holds part of the API token (as the refusals do) without
// quoting it. Fix: opal.go newClient: check the base URL and the product
// with redactPieces (as quoted does), not holdsSecret alone.
func TestDefect_BaseURLHoldingPieceOfTokenIsKept(t *testing.T) {
	t.Run("base URL", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		defer srv.Close()
		var logs bytes.Buffer
		var mu sync.Mutex
		var paths []string
		c, err := opal.NewClient(review3Token,
			opal.WithBaseURL(srv.URL+"/"+review3Token[:13]),
			opal.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
			opal.WithObserver(func(_ context.Context, a opal.Attempt) {
				mu.Lock()
				defer mu.Unlock()
				paths = append(paths, a.Path, a.Route, fmt.Sprint(a.Err))
			}))
		if err != nil {
			if !errors.Is(err, opal.ErrInvalidArgument) || len(review3Pieces(err.Error())) > 0 {
				t.Errorf("NewClient refused with %q, want an error matching ErrInvalidArgument that quotes no piece of the token", err)
			}
			return // refused: the expected behaviour
		}
		_, err = c.Users.List(t.Context(), nil)
		mu.Lock()
		defer mu.Unlock()
		for _, out := range []struct{ where, text string }{
			{"the call's error", fmt.Sprint(err)},
			{"the log records", logs.String()},
			{"the Attempts", strings.Join(paths, " ")},
		} {
			if pieces := review3Pieces(out.text); len(pieces) > 0 {
				t.Errorf("NewClient accepted a base URL holding 13 bytes of the token, and %s quote(s) them: %q", out.where, out.text)
			}
		}
	})
	t.Run("user agent", func(t *testing.T) {
		c, err := opal.NewClient(review3Token, opal.WithUserAgent("bot/"+review3Token[5:20]))
		if err != nil {
			if !errors.Is(err, opal.ErrInvalidArgument) || len(review3Pieces(err.Error())) > 0 {
				t.Errorf("NewClient refused with %q, want an error matching ErrInvalidArgument that quotes no piece of the token", err)
			}
			return
		}
		for _, verb := range []string{"%v", "%+v", "%#v"} {
			if out := fmt.Sprintf(verb, *c); len(review3Pieces(out)) > 0 {
				t.Errorf("NewClient accepted a product holding 15 bytes of the token, and fmt %s of the Client prints them: %q", verb, out)
			}
		}
	})
}

// TestDefect_NameFilterRefusesUnicodeCaseMatch: ListResourcesOptions.Name
// is checked in every answer: a resource whose name does not contain the
// name asked for "in any ASCII letter case" is an ErrInvalidResponse that
// ends the listing. The README says this "refuses a server that dropped
// the filter and neither reading's answer" (an exact match or a search).
// But a case-insensitive search, the reading that the ASCII folding
// itself assumes, folds every letter, not ASCII's alone (SQL's ILIKE or
// lower(), a search index, strings.EqualFold): asked for "équipe", it
// answers "Équipe-Finance", which the library refuses, and `opal resources
// -name équipe` or `opal access -all -resource-name équipe` fail on
// Opal's own answer. Refusing it guards nothing: a dropped filter is
// caught all the same by any resource whose name does not hold the name
// in any folding.
//
// Reproduction: a server answering GET /v1/resources?resource_name=%C3%A9quipe
// with {"results":[{"resource_id":"r1","name":"Équipe-Finance"}],"next":null}.
// Got: opal: GET /v1/resources: 200 OK response is not the page of
// resources asked for: results[0]: its "name" does not hold the name asked for.
// Expected: the resource is listed. Fix: resources.go resourcesAskedFor:
// compare names for containment under Unicode case folding (the look-alike
// concern of fold.go is about telling IDs and emails apart, not about a
// filter's sanity check), and say so in the README's decision.
func TestDefect_NameFilterRefusesUnicodeCaseMatch(t *testing.T) {
	for _, tt := range []struct{ asked, name string }{
		{"équipe", "Équipe-Finance"},
		{"ÉQUIPE", "équipe-finance"},
		{"ОТЧЁТЫ", "отчёты-prod"},
	} {
		t.Run(tt.asked, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// A case-insensitive search, as a SQL ILIKE does it.
				if !strings.Contains(strings.ToLower(tt.name), strings.ToLower(r.URL.Query().Get("resource_name"))) {
					t.Errorf("the test's server does not match %q to %q", tt.name, r.URL.Query().Get("resource_name"))
				}
				body, _ := json.Marshal(map[string]any{"next": nil, "results": []map[string]string{{"resource_id": "r1", "name": tt.name}}})
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(body)
			}))
			defer srv.Close()
			c, err := opal.NewClient(review3Token, opal.WithBaseURL(srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			page, err := c.Resources.List(t.Context(), &opal.ListResourcesOptions{Name: tt.asked})
			if err != nil {
				t.Fatalf("List(Name %q) of a resource named %q: %v", tt.asked, tt.name, err)
			}
			if len(page.Results) != 1 || page.Results[0].Name != tt.name {
				t.Errorf("List(Name %q) = %+v, want the resource named %q", tt.asked, page.Results, tt.name)
			}
		})
	}
}
