// Command opal answers the questions of an access review of an Opal
// organisation: who can reach each resource, how (directly or through a
// group), until when or forever, whether they are connected right now, and
// which of those grants need a look.
//
// Usage:
//
//	opal <command> [flags]
//
// The commands:
//
//	access     who can reach each resource: grants, how they were given, until when, and what needs a look
//	sessions   who is connected right now: live sessions, until when
//	users      the organisation's users, with their IDs and HR status
//	resources  the organisation's resources, with their IDs and types
//	version    the versions of opal, the opal-go library and Go
//	help       an overview, or a command's help: opal help access
//
// "opal help <command>" (or "opal <command> -h") says what each command
// shows and what its flags do, with examples.
//
// It reads the API token from OPAL_AUTH_TOKEN and the API's base URL from
// OPAL_BASE_URL (default https://api.opal.dev/v1; for self-hosted Opal,
// https://<host>/v1), the names Opal's own tooling uses; with
// OPAL_BASE_URL_EXACT=1, OPAL_BASE_URL is used as given, for a mock that
// serves the API at a host's root. When none is set, every command shows a demo organisation served by a built-in test
// server, and says so on stderr; a token that is set but empty, or a base
// URL without a token, is a usage error, so that a job whose secret failed
// to arrive never reports on fictional people.
//
// Everything the server sends is shown cleaned: control and format
// characters (escape sequences, bidi overrides, zero-width characters, line
// separators) and the others Unicode draws as nothing (variation
// selectors, Hangul fillers) as visible escapes such as \u202e, and a
// backslash as \\, so that no text can pass for an escape, in the table,
// csv and messages on stderr; csv cells that a spreadsheet would read as a
// formula begin with a '; json escapes such characters as \u sequences,
// which decode back to the very same text.
//
// Exit status: 0 on success (a resource deleted during a sweep is warned
// about and skipped); 1 when the API or the network fails, when none of
// the resources or the user named exists, or when every resource swept
// answered 404; 2 on a usage error (an unknown command or flag, a bad
// value, a flag given an empty value as an unset variable expands,
// conflicting flags, a bad environment, an argument that holds the API
// token, which is never shown), reported before any request is sent; 130
// when interrupted with Ctrl-C (SIGINT) and 143 when stopped with SIGTERM,
// as shells report a command killed by those signals. Either signal stops
// the listing at once. When a failure or a signal ends a listing, the rows
// already printed stay and, with -sort, the rows received so far are
// printed, sorted, and stderr says the output is partial.
//
// The command uses the opal package's public API only, with its default
// retries and rate limit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

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
	os.Exit(run(ctx, os.Args[1:], processEnvironment(), os.Stdout, os.Stderr))
}

// environment is what the command learns of its surroundings, besides its
// arguments: only main and processEnvironment touch the os package, so that
// tests can run the rest.
type environment struct {
	lookup         func(string) (string, bool) // os.LookupEnv
	stdoutTerminal bool
	stderrTerminal bool
	sameTerminal   bool // stdout and stderr are one terminal
}

func processEnvironment() environment {
	e := environment{
		lookup:         os.LookupEnv,
		stdoutTerminal: term.IsTerminal(int(os.Stdout.Fd())),
		stderrTerminal: term.IsTerminal(int(os.Stderr.Fd())),
	}
	if e.stdoutTerminal && e.stderrTerminal {
		stdoutInfo, err1 := os.Stdout.Stat()
		stderrInfo, err2 := os.Stderr.Stat()
		e.sameTerminal = err1 == nil && err2 == nil && os.SameFile(stdoutInfo, stderrInfo)
	}
	return e
}

// stopSignal is the cause of the context's end when a signal stops the
// command, so that failure can report which one.
type stopSignal struct{ sig os.Signal }

func (s stopSignal) Error() string { return s.sig.String() + " received" }

// run is the whole command: it returns the exit status, so that deferred
// clean-ups (the demo server's Close) run before os.Exit.
func run(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		overview(stdout)
		return exitOK
	}
	name, rest := args[0], args[1:]
	isHelp := name == "help" || name == "-h" || name == "-help" || name == "--help"
	isVersion := name == "version" || name == "-version" || name == "--version"
	// Help and the version read no token, and quote no argument but an
	// unknown command's name: they answer whatever OPAL_AUTH_TOKEN holds,
	// so that the help that a refusal of it points to can be read.
	helpFlag := len(rest) == 1 && (rest[0] == "-h" || rest[0] == "-help" || rest[0] == "--help")
	switch {
	case isVersion && (len(rest) == 0 || helpFlag):
		return versionCommand(rest, stdout, stderr)
	case isHelp && (len(rest) == 0 || len(rest) == 1 && knownCommand(rest[0])):
		return help(rest, stdout, stderr)
	case helpFlag && lookupCommand(name) != nil:
		return help([]string{name}, stdout, stderr) // what "opal <command> -h" prints
	}
	if err := checkToken(env.lookup); err != nil {
		return usage(stderr, "", err)
	}
	if err := tokenInArguments(args, env.lookup); err != nil {
		return usage(stderr, "", err)
	}
	switch {
	case isHelp:
		return help(rest, stdout, stderr)
	case isVersion:
		return versionCommand(rest, stdout, stderr)
	}
	cmd := lookupCommand(name)
	if cmd == nil {
		return usage(stderr, "", unknownCommand(name))
	}
	return cmd.run(ctx, rest, env, stdout, stderr)
}

// knownCommand reports whether name is a command that help can describe.
func knownCommand(name string) bool {
	return name == "help" || name == "version" || lookupCommand(name) != nil
}

// unknownCommand is the usage error for a first argument that names no
// command.
func unknownCommand(name string) error {
	if strings.HasPrefix(name, "-") {
		return usagef("flags come after a command, as in: opal access %s", name)
	}
	names := make([]string, 0, len(commands)+2)
	for _, c := range commands {
		names = append(names, c.name)
	}
	names = append(names, "version", "help")
	if near := nearest(name, names); near != "" {
		return usagef("unknown command %s; did you mean %s?", quote(name), near)
	}
	return usagef("unknown command %s", quote(name))
}

// usage reports a usage error and returns its exit status. command is the
// subcommand whose help to point to, "" for the overview.
func usage(stderr io.Writer, command string, err error) int {
	fmt.Fprintf(stderr, "opal: %s\n", clean(message(err.Error())))
	if command == "" {
		fmt.Fprintln(stderr, "Run 'opal help' for usage.")
	} else {
		fmt.Fprintf(stderr, "Run 'opal %s -h' for usage.\n", command)
	}
	return exitUsage
}

// help prints the overview, or the help of the command named.
func help(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		overview(stdout)
		return exitOK
	case len(args) > 1:
		return usage(stderr, "", usagef("help takes one command, not %d", len(args)))
	case args[0] == "version":
		return versionCommand([]string{"-h"}, stdout, stderr)
	case args[0] == "help":
		overview(stdout)
		return exitOK
	}
	cmd := lookupCommand(args[0])
	if cmd == nil {
		return usage(stderr, "", unknownCommand(args[0]))
	}
	cmd.help(stdout, cmd.flagSet(io.Discard, cmd.newOptions()))
	return exitOK
}

func overview(w io.Writer) {
	fmt.Fprint(w, `opal answers the questions of an access review of an Opal organisation:
who can reach each resource, how, until when, who is connected right now,
and which grants need a look.

Usage: opal <command> [flags]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `  version    the versions of opal, the opal-go library and Go
  help       this overview, or a command's help: opal help access

Start with:
  opal access                     the demo organisation's grants, without a token
  opal access -flagged            the grants that need a look: people who left, grants not propagated
  opal help access                every flag of the access view, with examples

`+environmentHelp+exitHelp)
}

// environmentHelp and exitHelp end every help text.
const environmentHelp = `Environment:
  OPAL_AUTH_TOKEN  an Opal API token (white space around it, such as the newline
                   of a file written with echo, is left out)
  OPAL_BASE_URL    the API's base URL (default https://api.opal.dev/v1; self-hosted
                   Opal: https://<host>/v1; a URL with no path means /v1 on that host)
  OPAL_BASE_URL_EXACT=1
                   OPAL_BASE_URL as given, /v1 not filled in: for a mock that serves
                   the API at its root, as Prism does (http://127.0.0.1:4010)
  When none is set, the command shows a demo organisation from a built-in
  test server, and says so on stderr. A token set but empty, or a base URL
  without a token, is a usage error.

`

const exitHelp = `Exit status:
  0    success (resources deleted during a sweep are warned about and skipped)
  1    the API or the network failed, none of the resources or the user named
       exists, or every resource swept answered 404; rows printed before a
       failure stay, with -sort those received are printed, sorted, and
       stderr says the output is partial
  2    usage error, reported before any request is sent
  130  interrupted with Ctrl-C; 143 stopped with SIGTERM: the rows printed stay,
       with -sort those received so far are printed, sorted, and stderr says the
       output is partial
`

// versionCommand is opal version, which takes no flags but -h.
func versionCommand(args []string, stdout, stderr io.Writer) int {
	fs := flagSetFor("version", stderr)
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, "Usage: opal version\n\nPrints the versions of opal, the opal-go library and Go.\n")
		return exitOK
	case err != nil:
		return usage(stderr, "version", usagef("%v", err))
	case fs.NArg() > 0:
		return usage(stderr, "", usagef("version takes no arguments"))
	}
	version(stdout)
	return exitOK
}

// version prints the versions of the command's module, of the opal
// package and of Go.
func version(w io.Writer) {
	module := "(unknown)"
	if info, ok := debug.ReadBuildInfo(); ok {
		module = info.Main.Version
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && module == "(devel)" {
				module += " " + s.Value
			}
		}
	}
	fmt.Fprintf(w, "opal %s (opal-go %s, %s %s/%s)\n", module, opal.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// failure reports an error that ended a run and returns the exit status.
func failure(ctx context.Context, stderr io.Writer, err error, hint func(error) string) int {
	if ctx.Err() != nil {
		code, what := exitInterrupted, "interrupted"
		var stop stopSignal
		if errors.As(context.Cause(ctx), &stop) && stop.sig == syscall.SIGTERM {
			code, what = exitTerminated, "terminated"
		}
		var cut *partial
		switch {
		case errors.As(err, &cut) && cut.sorted:
			fmt.Fprintf(stderr, "opal: %s; the output is partial: the %s received before it, sorted\n", what, count(cut.rows, "row", "rows"))
		default:
			fmt.Fprintf(stderr, "opal: %s; the output is partial\n", what)
		}
		return code
	}
	fmt.Fprintf(stderr, "opal: %s\n", clean(message(describe(err))+hint(err)))
	var cut *partial
	switch {
	case !errors.As(err, &cut) || cut.rows == 0:
	case cut.sorted:
		fmt.Fprintf(stderr, "opal: the output is partial: the %s received before the failure, sorted\n", count(cut.rows, "row", "rows"))
	default:
		fmt.Fprintf(stderr, "opal: the output is partial: the %s printed before the failure\n", count(cut.rows, "row", "rows"))
	}
	return exitFailure
}

// message is an error's text for stderr, after the command's "opal: ":
// without the "opal: " that starts the library's errors, also where the
// command has wrapped one ("looking up ...: opal: GET ...").
func message(text string) string {
	return strings.ReplaceAll(strings.TrimPrefix(text, "opal: "), ": opal: ", ": ")
}

// flagSetFor is the FlagSet of a command: errors go to w, and -h is
// handled by the command itself.
func flagSetFor(name string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("opal "+name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {} // -h prints the help to stdout; an error points to it
	return fs
}
