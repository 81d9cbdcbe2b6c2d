package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/internal/ascii"
)

// cli is what a subcommand's run works with.
type cli struct {
	client *opal.Client
	stdout io.Writer // the rows
	prog   *progress // the status line, and stderr's warnings
	cut    bool      // stdout is a terminal: table cells wider than maxCell are cut
	demo   bool
}

// conn is where the command's requests go: Opal, with a token and maybe a
// base URL, or the demo.
type conn struct {
	demo    bool
	token   string
	baseURL string // "" for opal.DefaultBaseURL
	exact   bool   // OPAL_BASE_URL_EXACT: the base URL as given, with no /v1 filled in
}

// connection reads OPAL_AUTH_TOKEN, OPAL_BASE_URL and OPAL_BASE_URL_EXACT
// (which takes OPAL_BASE_URL as given, for a mock that serves the API at a
// host's root, where the library would fill in /v1). The demo runs only
// when none is set: a token set but empty (a CI secret that failed to
// arrive expands so), or a base URL without a token, would otherwise file a
// report about fictional people. No value that holds the token is quoted;
// OPAL_BASE_URL's refusals are the opal package's, which quote no piece of
// it.
func connection(lookup func(string) (string, bool)) (conn, error) {
	token, hasToken := apiToken(lookup)
	baseURL, hasBaseURL := lookup("OPAL_BASE_URL")
	exact := false
	if v, ok := lookup("OPAL_BASE_URL_EXACT"); ok {
		switch ascii.Lower(v) {
		case "1", "true", "yes":
			exact = true
		case "0", "false", "no":
		default:
			if holdsPieceOfToken(v, token) {
				return conn{}, usagef("OPAL_BASE_URL_EXACT holds the API token of OPAL_AUTH_TOKEN, or part of it (were two values swapped?): set it to 1 to use OPAL_BASE_URL as given, with no /v1 filled in, or unset it")
			}
			return conn{}, usagef("OPAL_BASE_URL_EXACT is %s: set it to 1 to use OPAL_BASE_URL as given, with no /v1 filled in, or unset it", quote(v))
		}
		if exact && !hasBaseURL {
			return conn{}, usagef("OPAL_BASE_URL_EXACT is set but OPAL_BASE_URL is not: set OPAL_BASE_URL to the URL of the server, such as http://127.0.0.1:4010 for a mock")
		}
	}
	switch {
	case !hasToken && !hasBaseURL:
		return conn{demo: true}, nil
	case !hasToken:
		return conn{}, usagef("OPAL_BASE_URL is set but OPAL_AUTH_TOKEN is not: set OPAL_AUTH_TOKEN to an API token of that Opal (or unset OPAL_BASE_URL to see the demo)")
	case token == "":
		return conn{}, usagef("OPAL_AUTH_TOKEN is set but empty: set it to an Opal API token (or unset it, and OPAL_BASE_URL, to see the demo)")
	case hasBaseURL && baseURL == "":
		return conn{}, usagef("OPAL_BASE_URL is set but empty: set it to your Opal's API URL, such as https://opal.example.com/v1, or unset it for %s", opal.DefaultBaseURL)
	}
	return conn{token: token, baseURL: baseURL, exact: exact}, nil
}

// apiToken is OPAL_AUTH_TOKEN without the white space around it, and
// whether it is set. A token holds no white space, and a secret file
// written with echo ends in a newline: the opal package would refuse the
// token with it, and the arguments that hold the token without it would
// not be found to (tokenInArguments), and be shown.
func apiToken(lookup func(string) (string, bool)) (string, bool) {
	token, ok := lookup("OPAL_AUTH_TOKEN")
	return strings.TrimSpace(token), ok
}

// checkToken returns the usage error of an OPAL_AUTH_TOKEN that the opal
// package would refuse as a token: one with white space or control
// characters inside ("Bearer <token>" copied from a header, a secret file
// of two lines), a byte-order mark in front, or a URL. It comes before the
// arguments are read: an argument that holds the token itself would not be
// found to (tokenInArguments looks for the whole value), and a flag's
// refusal would show it. The token is not quoted; an empty one is left to
// connection, which says it is set but empty.
func checkToken(lookup func(string) (string, bool)) error {
	token, _ := apiToken(lookup)
	if token == "" {
		return nil
	}
	if _, err := opal.NewClient(token); err != nil {
		// The opal package's refusals never quote the token.
		reason := strings.TrimPrefix(err.Error(), "opal: invalid argument: ")
		return usagef("OPAL_AUTH_TOKEN is not an Opal API token (it is not shown): %s; a token is one word, with no \"Bearer \" in front and no second line", reason)
	}
	return nil
}

// tokenInArguments returns the usage error of an argument that holds the
// API token of OPAL_AUTH_TOKEN, or 8 bytes of it in a row (a paste cut
// short), given by mistake as an ID or an email (two variables swapped in
// a script): it would be echoed on stderr, which CI logs keep, and sent to
// the server in a query. The error says which argument, never what it
// holds, and comes before anything is sent.
func tokenInArguments(args []string, lookup func(string) (string, bool)) error {
	token, _ := apiToken(lookup)
	if token == "" {
		return nil
	}
	for i, arg := range args {
		if !holdsPieceOfToken(arg, token) {
			continue
		}
		which := fmt.Sprintf("argument %d", i+1)
		switch name, _, found := strings.Cut(arg, "="); {
		case strings.HasPrefix(arg, "-") && found && !holdsPieceOfToken(name, token):
			which = "the value of " + name
		case i > 0 && strings.HasPrefix(args[i-1], "-") && !holdsPieceOfToken(args[i-1], token):
			which = "the argument after " + args[i-1]
		}
		return usagef("%s holds the API token of OPAL_AUTH_TOKEN, or part of it (were two values swapped?); nothing was sent", which)
	}
	return nil
}

// minFreeToken is the length from which a token is found anywhere in an
// argument, as the opal package redacts it; a shorter one only where it
// stands alone, so that a one-letter token does not refuse every argument
// that holds the letter.
const minFreeToken = 8

// holdsToken reports whether s holds the token; no s holds an empty one.
func holdsToken(s, token string) bool {
	if token == "" {
		return false
	}
	for from := 0; from < len(s); {
		i := strings.Index(s[from:], token)
		if i < 0 {
			return false
		}
		start, end := from+i, from+i+len(token)
		if len(token) >= minFreeToken || !wordByteAt(s, start-1) && !wordByteAt(s, end) {
			return true
		}
		from = start + 1
	}
	return false
}

// holdsPieceOfToken reports whether s holds minFreeToken bytes of the
// token in a row, as the opal package redacts pieces of it, or, for a
// shorter token, the token as holdsToken finds it.
func holdsPieceOfToken(s, token string) bool {
	if len(token) < minFreeToken {
		return holdsToken(s, token)
	}
	for i := 0; i+minFreeToken <= len(token); i++ {
		if strings.Contains(s, token[i:i+minFreeToken]) {
			return true
		}
	}
	return false
}

// wordByteAt reports whether s has a letter or a digit at byte i.
func wordByteAt(s string, i int) bool {
	if i < 0 || i >= len(s) {
		return false
	}
	c := s[i]
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// client returns the client of a run of the named command, and what ends
// the demo server when there is one.
func (c conn) client(command string, prog *progress, verbose bool) (*opal.Client, func(), error) {
	// The status line learns of requests from the client itself.
	opts := []opal.Option{opal.WithUserAgent("opal/" + opal.Version), opal.WithObserver(prog.observe)}
	if verbose {
		opts = append(opts, opal.WithLogger(slog.New(slog.NewTextHandler(prog.logOutput(), &slog.HandlerOptions{Level: slog.LevelDebug}))))
	}
	if c.demo {
		srv := demoServer(time.Now())
		client, err := srv.Client(opts...)
		return client, srv.Close, err
	}
	switch {
	case c.exact:
		opts = append(opts, opal.WithExactBaseURL(c.baseURL))
	case c.baseURL != "":
		opts = append(opts, opal.WithBaseURL(c.baseURL))
	}
	client, err := opal.NewClient(c.token, opts...)
	return client, func() {}, err
}

// origin is the scheme and host the requests go to, such as
// "https://api.opal.dev", to name the URL of a request in a hint.
func (c conn) origin() string {
	u, err := url.Parse(c.baseURL)
	if c.baseURL == "" || err != nil {
		u, _ = url.Parse(opal.DefaultBaseURL)
	}
	return u.Scheme + "://" + u.Host
}

// hint is what to add to the report of an error to say what to check.
func (c conn) hint(err error) string {
	var apiErr *opal.APIError
	if !errors.As(err, &apiErr) {
		return ""
	}
	switch {
	case errors.Is(err, opal.ErrUnauthorized):
		return " (is OPAL_AUTH_TOKEN a valid API token of this Opal?)"
	case errors.Is(err, opal.ErrForbidden):
		return " (OPAL_AUTH_TOKEN is not allowed to read this: an Opal admin can give its API token read access, or issue one that has it)"
	case errors.Is(err, opal.ErrNotFound) && c.exact:
		return " (" + c.requested(apiErr.Path) +
			": OPAL_BASE_URL_EXACT=1 uses OPAL_BASE_URL as given; check that it is the API's base URL, whose path may lack the /v1 that Opal serves the API under)"
	case errors.Is(err, opal.ErrNotFound):
		return " (" + c.requested(apiErr.Path) +
			": check that OPAL_BASE_URL is the API's base URL, such as " + opal.DefaultBaseURL +
			" or https://<host>/v1; for a mock that serves the API at its root, as Prism does, set OPAL_BASE_URL_EXACT=1)"
	}
	return ""
}

// requested says which URL was requested at path. The opal package keeps
// pieces of the token out of the base URL and the path, each alone, but
// the two joined may hold one (a host ending in 7 bytes of the token, and
// the path's '/' after them): the URL is then not shown.
func (c conn) requested(path string) string {
	u := c.origin() + path
	if holdsPieceOfToken(u, c.token) {
		return "the URL requested is not shown: it holds part of OPAL_AUTH_TOKEN"
	}
	return "the URL requested was " + u
}

// describe is an error's text, with the message of an RFC 7807 problem
// (application/problem+json) shown by its title and detail rather than as
// raw JSON.
func describe(err error) string {
	msg := err.Error()
	var apiErr *opal.APIError
	if !errors.As(err, &apiErr) || apiErr.Message == "" {
		return msg
	}
	if problem := problemText(apiErr.Body); problem != "" {
		return strings.Replace(msg, apiErr.Message, problem, 1)
	}
	return msg
}

// problemText is "title: detail" of an RFC 7807 problem body, or "" when
// the body is not one, or is Opal's own shape: one with a member that the
// opal package takes as the message, which the error then shows. That is
// the package's rule (APIError.Message): a member named "message" in any
// ASCII letter case, whose value is a string, null not being one. A body
// with none, such as a problem with "message": null, has its raw text as
// the error's message, which the title and the detail read better as.
func problemText(body []byte) string {
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) != nil {
		return ""
	}
	text := func(raw json.RawMessage) (string, bool) {
		var s string
		if string(raw) == "null" || json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return strings.Join(strings.Fields(s), " "), true
	}
	for name, raw := range members {
		if _, isString := text(raw); isString && ascii.EqualFold(name, "message") {
			return ""
		}
	}
	title, _ := text(members["title"])
	detail, _ := text(members["detail"])
	switch {
	case title != "" && detail != "":
		return title + ": " + detail
	case title != "":
		return title
	default:
		return detail
	}
}
