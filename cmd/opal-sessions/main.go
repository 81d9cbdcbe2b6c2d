// Command opal-sessions lists who holds a session on an Opal resource, at
// what access level, and until when.
//
// Usage:
//
//	opal-sessions [-resource-id ID] [-user-id ID] [-format table|json] [-page-size N]
//
// It reads the API token from OPAL_AUTH_TOKEN and the API's base URL from
// OPAL_BASE_URL (default https://api.opal.dev/v1; for self-hosted Opal,
// https://<host>/v1), the names Opal's own tooling uses.
//
// Without OPAL_AUTH_TOKEN it lists demo data from a built-in test server
// instead, and says so on stderr, so that trying it needs no account and no
// network.
//
// The table format aligns its columns within each page of results: it
// writes each page as soon as it has it, before asking for the next, so
// that rows appear while a long listing is still being fetched. The json
// format writes one session per line, in the API's own field names, for
// tools such as jq.
//
// Exit status: 0 on success; 1 when the API or the network fails; 2 on a
// usage error (an unknown flag, a bad value, extra arguments, a missing
// -resource-id, a malformed OPAL_BASE_URL or token); 130 when interrupted
// with Ctrl-C (SIGINT), and 143 when stopped with SIGTERM, as shells report
// a command killed by those signals. Either signal stops the listing at
// once; rows already printed stay.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
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
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	os.Exit(code)
}

// stopSignal is the cause of the context's end when a signal stops the
// command, so that failure can report which one.
type stopSignal struct{ sig os.Signal }

func (s stopSignal) Error() string { return s.sig.String() + " received" }

// options are the command line's flags.
type options struct {
	resourceID string
	userID     string
	format     string
	pageSize   int
}

// run is the whole command. It is given the process's surroundings and
// returns the exit status, so that only main touches the os package, and
// deferred clean-ups (the demo server's Close) run before os.Exit.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	opts, code, ok := parseFlags(args, stderr)
	if !ok {
		return code
	}
	out := newPrinter(opts.format, stdout)
	// Every page's request first writes the rows of the pages before it;
	// see flushingTransport.
	clientOpts := []opal.Option{
		opal.WithUserAgent("opal-sessions/" + opal.Version),
		opal.WithHTTPClient(&http.Client{
			Transport: flushingTransport{next: http.DefaultTransport, flush: out.flush},
			Timeout:   30 * time.Second, // per attempt, as the library's default client
		}),
	}

	var client *opal.Client
	var err error
	if token := getenv("OPAL_AUTH_TOKEN"); token != "" {
		if opts.resourceID == "" {
			return usageError(stderr, "-resource-id is required")
		}
		baseURL := getenv("OPAL_BASE_URL")
		if baseURL == "" {
			baseURL = opal.DefaultBaseURL
		}
		client, err = opal.NewClient(token, append([]opal.Option{opal.WithBaseURL(baseURL)}, clientOpts...)...)
	} else {
		srv := demoServer(time.Now())
		defer srv.Close()
		if opts.resourceID == "" {
			opts.resourceID = demoCatalogue[0].ResourceID
		}
		demoNotice(stderr, opts.resourceID)
		client, err = srv.Client(clientOpts...)
	}
	if err != nil {
		// Only the environment's values can be wrong here (NewClient sends
		// nothing), and its errors never contain the token.
		fmt.Fprintf(stderr, "opal-sessions: %v\n", err)
		return exitUsage
	}

	for s, err := range client.Sessions.All(ctx, opts.resourceID, &opal.ListSessionsOptions{UserID: opts.userID, PageSize: opts.pageSize}) {
		if err != nil {
			_ = out.flush() // keep the rows already fetched, without a header for none
			return failure(ctx, stderr, err)
		}
		if err := out.print(s); err != nil {
			return failure(ctx, stderr, err)
		}
	}
	if err := out.close(); err != nil {
		return failure(ctx, stderr, err)
	}
	return exitOK
}

// demoServer starts the built-in test server with the demo organisation:
// its sessions, and the users and resources they name.
func demoServer(now time.Time) *opaltest.Server {
	srv := opaltest.NewServer(demoSessions(now)...)
	srv.AddUsers(demoUsers()...)
	srv.AddResources(demoResources()...)
	return srv
}

// parseFlags returns the options, or the exit status and false when the
// command should stop: on a usage error, or after -h.
func parseFlags(args []string, stderr io.Writer) (options, int, bool) {
	var opts options
	fs := flag.NewFlagSet("opal-sessions", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&opts.resourceID, "resource-id", "", "list the sessions on the resource with this `ID` (required with OPAL_AUTH_TOKEN)")
	fs.StringVar(&opts.userID, "user-id", "", "list only the sessions of the user with this `ID`")
	fs.StringVar(&opts.format, "format", "table", "output `format`: table, or json for one session per line")
	fs.IntVar(&opts.pageSize, "page-size", 0, "ask for `N` sessions per request, 1 to 1000 (default 1000, the API's maximum)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: opal-sessions [-resource-id ID] [-user-id ID] [-format table|json] [-page-size N]

Lists who holds a session on an Opal resource, at what access level, until when.

Environment:
  OPAL_AUTH_TOKEN  an Opal API token; without it, demo data is shown
  OPAL_BASE_URL    the API's base URL (default https://api.opal.dev/v1)

Flags:
`)
		fs.PrintDefaults()
	}
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return opts, exitOK, false
	case err != nil:
		return opts, exitUsage, false // the flag package has said why
	case fs.NArg() > 0:
		return opts, usageError(stderr, fmt.Sprintf("unexpected argument %q (all input is given by flags)", fs.Arg(0))), false
	case opts.format != "table" && opts.format != "json":
		return opts, usageError(stderr, fmt.Sprintf("-format %q: want table or json", opts.format)), false
	case opts.pageSize < 0 || opts.pageSize > 1000:
		return opts, usageError(stderr, fmt.Sprintf("-page-size %d: want 1 to 1000", opts.pageSize)), false
	}
	return opts, exitOK, true
}

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "opal-sessions: %s\nRun 'opal-sessions -h' for usage.\n", msg)
	return exitUsage
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
		msg += " (check -resource-id, and that OPAL_BASE_URL ends in /v1)"
	}
	fmt.Fprintf(stderr, "opal-sessions: %s\n", msg)
	return exitFailure
}
