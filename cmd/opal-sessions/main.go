// Command opal-sessions shows who holds access to what in an Opal
// organisation, at what access level, and until when, by name: for one
// resource, a few, or every resource of the organisation.
//
// Usage:
//
//	opal-sessions (-resource-id ID[,ID...] | -all [-resource-type TYPE] [-resource-name NAME])
//	              [-user EMAIL | -user-id ID] [-expiring-within DURATION]
//	              [-format table|json|csv] [-sort expires|user|resource] [-ids] [-page-size N]
//
// It reads the API token from OPAL_AUTH_TOKEN and the API's base URL from
// OPAL_BASE_URL (default https://api.opal.dev/v1; for self-hosted Opal,
// https://<host>/v1), the names Opal's own tooling uses. It uses the opal
// package's public API only, with its default retries and rate limit.
//
// Which resources: exactly one of -resource-id, one or more IDs joined by
// commas, and -all, every resource of the organisation, which
// -resource-type (a value of Opal's ResourceTypeEnum, such as AWS_IAM_ROLE,
// in any letter case) and -resource-name narrow. With OPAL_AUTH_TOKEN set,
// one of the two is required. Either way the resources are swept with
// Sessions.AllOf, several at a time. A resource that is not found while it
// is swept (deleted since it was listed) gets one line on stderr,
// "opal-sessions: resource ID not found (deleted?); skipped", and the run
// goes on, and exits 0 if nothing else fails. When every resource of
// -resource-id is not found, the IDs or OPAL_BASE_URL are wrong rather than
// resources deleted, and the run exits 1; with -all, which has just listed
// them, it still exits 0.
//
// Which sessions: -user-id keeps one user's; -user does the same by email,
// resolved once with Users.GetByEmail (an email Opal does not know fails the
// run). -expiring-within keeps the sessions that expire within a duration
// from now: a Go duration (90m, 36h), whole days (7d), or both (7d12h).
// Opal lists live sessions: one whose expiry has passed but that Opal still
// lists has not been revoked yet, so it is kept, as "expired".
//
// Names: USER is the user's email, and a RESOURCE column, shown when more
// than one resource is selected (several IDs, or -all when its walk lists
// more than one), is the resource's name. Lookups are cached for the run
// and cost few requests: one Users.Get per distinct user while there are
// few; once more than 10 users have needed one, a single Users.All walk
// (pages of 1000) names them all, and no Get follows. Resource names come
// from the -all walk itself, or from one Resources.List per 100 IDs of
// -resource-id, before the sweep; a table of a single ID shows no resource
// and looks none up. A user or resource that Opal does not know (a 404, or
// missing from the list) shows its ID and never fails the run; any other
// failed lookup does. -ids shows IDs and looks nothing up.
//
// Formats: table, the default; json, one session per line in the API's own
// field names, for tools such as jq, plus user_email, user_full_name and
// resource_name when they were looked up; csv (RFC 4180), a header row,
// then user, resource, access_level, expires_at (RFC 3339, UTC),
// expires_in, user_id and resource_id, the same columns whatever the
// flags. -sort expires, user or resource (table and csv only) orders the
// rows, once all have come. Without it rows stream as they arrive, and the
// table is written in blocks, each aligned in itself: a block goes out when
// 100 rows are held, when no row has come for 200 ms, or when its first row
// has waited half a second, so no row waits longer than that.
//
// Progress: when stderr is a terminal and the work has taken about a
// second, one status line on stderr, rewritten in place, gives the
// resources answered out of the total (those whose first page of sessions
// has come back, or that were not found: one with more than a page of
// sessions goes on after it is counted), the sessions so far and the
// requests per second. It is cleared before a warning, before rows written
// to the same terminal, and at the end. It is never written when stderr is
// not a terminal (a pipe, a file, a CI log).
//
// Without OPAL_AUTH_TOKEN it shows a demo organisation served by a
// built-in test server instead, and says so on stderr, so that trying it
// needs no account and no network. When no flag selects resources, the
// demo shows all of it (-all, sorted by resource unless -sort or -format
// json says otherwise). Whatever the flags, stderr says what the view shows
// and lists how to get the other views.
//
// Exit status: 0 on success, resources not found during a sweep included;
// 1 when the API or the network fails; 2 on a usage error (an unknown flag,
// a bad value, conflicting flags, extra arguments, no -resource-id or -all
// with a token, a malformed OPAL_BASE_URL or token), reported before any
// request is sent; 130 when interrupted with Ctrl-C (SIGINT), and 143 when
// stopped with SIGTERM, as shells report a command killed by those signals.
// Either signal stops the listing at once; rows already printed stay.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/opalclient/opal-go"
	"golang.org/x/term"
)

const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130 // 128 + SIGINT
	exitTerminated  = 143 // 128 + SIGTERM
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-signals
		// Restore the default, so that a second signal kills the command
		// even if it is slow to stop.
		signal.Stop(signals)
		cancel(stopSignal{sig})
	}()
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, term.IsTerminal(int(os.Stderr.Fd())))
	os.Exit(code)
}

// stopSignal is the cause of the context's end when a signal stops the
// command, so that failure can report which one.
type stopSignal struct{ sig os.Signal }

func (s stopSignal) Error() string { return s.sig.String() + " received" }

// run is the whole command. It is given the process's surroundings and
// returns the exit status, so that only main touches the os package, and
// deferred clean-ups (the demo server's Close) run before os.Exit.
// stderrTerminal says whether stderr is a terminal, the only place where a
// status line that rewrites itself makes sense.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, stderrTerminal bool) int {
	opts, code, ok := parseFlags(args, stderr)
	if !ok {
		return code
	}
	token := getenv("OPAL_AUTH_TOKEN")
	if token != "" && !opts.selected() {
		return usageError(stderr, "pass -resource-id ID[,ID...] for some resources, or -all for the whole organisation")
	}

	prog := newProgress(stderr, stderrTerminal)
	defer prog.finish()
	clientOpts := []opal.Option{opal.WithUserAgent("opal-sessions/" + opal.Version)}
	if stderrTerminal {
		// Only the status line needs to see the requests; without it the
		// command runs on the library's own default client.
		clientOpts = append(clientOpts, opal.WithHTTPClient(prog.httpClient()))
	}

	var client *opal.Client
	var err error
	if token != "" {
		baseURL := getenv("OPAL_BASE_URL")
		if baseURL == "" {
			baseURL = opal.DefaultBaseURL
		}
		client, err = opal.NewClient(token, append([]opal.Option{opal.WithBaseURL(baseURL)}, clientOpts...)...)
	} else {
		srv := demoServer(time.Now())
		defer srv.Close()
		if !opts.selected() {
			// The first thing a newcomer sees: the whole organisation,
			// grouped by resource.
			opts.all = true
			if opts.sort == "" && opts.format != "json" {
				opts.sort = "resource"
			}
		}
		demoNotice(stderr, opts)
		client, err = srv.Client(clientOpts...)
	}
	if err != nil {
		// Only the environment's values can be wrong here (NewClient sends
		// nothing), and its errors never contain the token.
		fmt.Fprintf(stderr, "opal-sessions: %v\n", err)
		return exitUsage
	}

	var n *names
	if !opts.ids {
		n = newNames(client)
	}
	err = view(ctx, client, opts, n, prog.output(stdout), prog)
	prog.finish()
	if err != nil {
		return failure(ctx, stderr, err)
	}
	return exitOK
}

// failure reports an error that ended the listing and returns the exit status.
func failure(ctx context.Context, stderr io.Writer, err error) int {
	if ctx.Err() != nil {
		var stop stopSignal
		if errors.As(context.Cause(ctx), &stop) && stop.sig == syscall.SIGTERM {
			fmt.Fprintln(stderr, "opal-sessions: terminated")
			return exitTerminated
		}
		fmt.Fprintln(stderr, "opal-sessions: interrupted")
		return exitInterrupted
	}
	msg := err.Error()
	switch {
	case errors.Is(err, opal.ErrUnauthorized):
		msg += " (is OPAL_AUTH_TOKEN a valid API token?)"
	case errors.Is(err, opal.ErrNotFound):
		msg += " (check that OPAL_BASE_URL ends in /v1)"
	}
	fmt.Fprintf(stderr, "opal-sessions: %s\n", msg)
	return exitFailure
}
