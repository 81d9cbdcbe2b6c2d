package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opalclient/opal-go"
)

// options are the command line's flags, checked.
type options struct {
	resourceIDs    []string // -resource-id, split at commas, each ID once
	all            bool
	resourceType   opal.ResourceType
	resourceName   string
	userID         string
	userEmail      string        // -user
	expiringWithin time.Duration // 0: no limit
	expiringText   string        // -expiring-within as given, to repeat it
	format         string
	sort           string // "": rows stream as they arrive
	ids            bool
	pageSize       int
}

// selected reports whether the flags say which resources to list.
func (o options) selected() bool { return o.all || len(o.resourceIDs) > 0 }

const usageText = `Usage: opal-sessions (-resource-id ID[,ID...] | -all [-resource-type TYPE] [-resource-name NAME])
                     [-user EMAIL | -user-id ID] [-expiring-within DURATION]
                     [-format table|json|csv] [-sort expires|user|resource] [-ids] [-page-size N]

Shows who holds access to what in an Opal organisation, at what access level,
and until when, by name.

Environment:
  OPAL_AUTH_TOKEN  an Opal API token; without it, a demo organisation is shown
  OPAL_BASE_URL    the API's base URL (default https://api.opal.dev/v1)

Flags:
`

// parseFlags returns the options, or the exit status and false when the
// command should stop: on a usage error, or after -h. Every check that
// needs no request is made here, so that a mistake costs no request.
func parseFlags(args []string, stderr io.Writer) (options, int, bool) {
	var opts options
	var resourceIDs, resourceType, expiringWithin string
	fs := flag.NewFlagSet("opal-sessions", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&resourceIDs, "resource-id", "", "list the sessions on the resources with these `IDs`, joined by commas")
	fs.BoolVar(&opts.all, "all", false, "list the sessions on every resource of the organisation")
	fs.StringVar(&resourceType, "resource-type", "", "with -all, only resources of this `TYPE`, such as AWS_IAM_ROLE or OKTA_APP")
	fs.StringVar(&opts.resourceName, "resource-name", "", "with -all, only resources of this `NAME`")
	fs.StringVar(&opts.userEmail, "user", "", "only the sessions of the user with this `EMAIL`")
	fs.StringVar(&opts.userID, "user-id", "", "only the sessions of the user with this `ID`")
	fs.StringVar(&expiringWithin, "expiring-within", "", "only sessions that expire within this `DURATION` from now: 90m, 36h, 7d, 7d12h")
	fs.StringVar(&opts.format, "format", "table", "output `format`: table; json, one session per line; or csv")
	fs.StringVar(&opts.sort, "sort", "", "sort the rows by `KEY`: expires, user or resource (table and csv; default: as they arrive)")
	fs.BoolVar(&opts.ids, "ids", false, "show user and resource IDs instead of names, and look no names up")
	fs.IntVar(&opts.pageSize, "page-size", 0, "ask for `N` sessions per request, 1 to 1000 (default 1000, the API's maximum)")
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return opts, exitOK, false
	case err != nil:
		return opts, exitUsage, false // the flag package has said why
	}
	if msg := opts.check(fs.Args(), resourceIDs, resourceType, expiringWithin); msg != "" {
		return opts, usageError(stderr, msg), false
	}
	return opts, exitOK, true
}

// check completes opts from the flags' text and returns what is wrong with
// them, or "".
func (o *options) check(extra []string, resourceIDs, resourceType, expiringWithin string) string {
	switch {
	case len(extra) > 0:
		return fmt.Sprintf("unexpected argument %q (all input is given by flags)", extra[0])
	case o.format != "table" && o.format != "json" && o.format != "csv":
		return fmt.Sprintf("-format %q: want table, json or csv", o.format)
	case o.sort != "" && o.sort != "expires" && o.sort != "user" && o.sort != "resource":
		return fmt.Sprintf("-sort %q: want expires, user or resource", o.sort)
	case o.sort != "" && o.format == "json":
		return "-sort is for -format table and csv: json lines come as they arrive; sort them with jq -s, or use -format csv"
	case o.pageSize < 0 || o.pageSize > 1000:
		return fmt.Sprintf("-page-size %d: want 1 to 1000", o.pageSize)
	case resourceIDs != "" && o.all:
		return "-resource-id and -all both select resources: pass one of them"
	case resourceType != "" && !o.all:
		return "-resource-type narrows -all: pass -all too"
	case o.resourceName != "" && !o.all:
		return "-resource-name narrows -all: pass -all too"
	case o.userEmail != "" && o.userID != "":
		return "-user and -user-id both select a user: pass one of them"
	}
	if resourceIDs != "" {
		for id := range strings.SplitSeq(resourceIDs, ",") {
			id = strings.TrimSpace(id)
			if id == "" {
				return fmt.Sprintf("-resource-id %q holds an empty ID: join IDs with single commas", resourceIDs)
			}
			if !slices.Contains(o.resourceIDs, id) {
				o.resourceIDs = append(o.resourceIDs, id)
			}
		}
	}
	if resourceType != "" {
		t, ok := knownType(resourceType)
		if !ok {
			return fmt.Sprintf("-resource-type %q is not a resource type of Opal; want one of: %s", resourceType, typeList())
		}
		o.resourceType = t
	}
	if expiringWithin != "" {
		d, err := parseDuration(expiringWithin)
		if err != nil {
			return fmt.Sprintf("-expiring-within %q: %v", expiringWithin, err)
		}
		o.expiringWithin, o.expiringText = d, expiringWithin
	}
	return ""
}

// knownType returns the type of Opal's ResourceTypeEnum that s names, in
// any letter case: the API's values are upper case, but one is not
// (AZURE_USER_ASSIGNED_MANAGED_Identity), and nobody should have to guess.
func knownType(s string) (opal.ResourceType, bool) {
	if t := opal.ResourceType(s); t.IsKnown() {
		return t, true
	}
	for _, t := range opal.ResourceTypes() {
		if strings.EqualFold(string(t), s) {
			return t, true
		}
	}
	return "", false
}

func typeList() string {
	names := make([]string, 0, len(opal.ResourceTypes()))
	for _, t := range opal.ResourceTypes() {
		names = append(names, string(t))
	}
	return strings.Join(names, ", ")
}

// parseDuration reads a duration above zero: a Go duration ("90m", "36h"),
// whole days ("7d"), or both ("7d12h"), since access is granted for days
// and time.ParseDuration has no unit for them.
func parseDuration(s string) (time.Duration, error) {
	const bad = "want a duration such as 90m, 36h, 7d or 7d12h"
	var d time.Duration
	rest := s
	if days, after, found := strings.Cut(s, "d"); found {
		n, err := strconv.ParseUint(days, 10, 64)
		if err != nil {
			return 0, errors.New(bad)
		}
		if n > math.MaxInt64/uint64(24*time.Hour) {
			return 0, errors.New("too long")
		}
		d, rest = time.Duration(n)*24*time.Hour, after
	}
	if rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil || r < 0 {
			return 0, errors.New(bad)
		}
		if r > math.MaxInt64-d {
			return 0, errors.New("too long")
		}
		d += r
	}
	if d <= 0 {
		return 0, errors.New("want a duration above zero, such as 90m, 36h or 7d")
	}
	return d, nil
}

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "opal-sessions: %s\nRun 'opal-sessions -h' for usage.\n", msg)
	return exitUsage
}
