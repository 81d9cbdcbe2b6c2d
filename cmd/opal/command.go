package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

// subcommand is one of opal's subcommands: its help, and the options it
// parses and runs.
type subcommand struct {
	name     string
	summary  string // one line, for the overview
	synopsis string // the usage lines, after "Usage: "
	about    string // what it shows, how, and what its flags mean beyond their one line
	examples string // two or more, each with a line saying what it shows
	// newOptions returns the options of one run, unparsed.
	newOptions func() options
}

// options are a subcommand's flags, and what it does with them.
type options interface {
	// flags defines the subcommand's flags on fs.
	flags(fs *flag.FlagSet)
	// common returns the flags every subcommand has.
	common() *common
	// check completes the options once parsed, and returns the usage error
	// of a mistake that needs no request to see; set holds the flags given.
	check(set map[string]bool) error
	// prepare completes the options for where they run: with a token, a
	// subcommand that needs a selection says so; in the demo, it selects
	// what a newcomer should see first.
	prepare(demo bool) error
	// describe says what the run shows, for the demo's tour.
	describe() string
	// run lists what the options select.
	run(ctx context.Context, c *cli) error
}

// commands are the subcommands, in the order the overview lists them.
var commands = []*subcommand{accessCommand, sessionsCommand, usersCommand, resourcesCommand}

func lookupCommand(name string) *subcommand {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// flagSet returns the command's FlagSet with opts' flags, its errors
// written to w.
func (c *subcommand) flagSet(w io.Writer, opts options) *flag.FlagSet {
	fs := flagSetFor(c.name, w)
	opts.flags(fs)
	return fs
}

// help prints the command's help, with fs's flags.
func (c *subcommand) help(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\nFlags:\n", c.synopsis, c.about)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintf(w, "\nExamples:\n%s\n%s%s", c.examples, environmentHelp, exitHelp)
}

// run parses the command's flags and runs it, and returns the exit status.
func (c *subcommand) run(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) int {
	opts := c.newOptions()
	fs := c.flagSet(stderr, opts)
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		c.help(stdout, fs)
		return exitOK
	case err != nil: // the flag package has said what
		fmt.Fprintf(stderr, "Run 'opal %s -h' for usage.\n", c.name)
		return exitUsage
	}
	if opts.common().version {
		version(stdout)
		return exitOK
	}
	if extra := fs.Args(); len(extra) > 0 {
		return usage(stderr, c.name, usagef("unexpected argument %s (all input is given by flags)", quote(extra[0])))
	}
	if err := emptyFlag(fs); err != nil {
		return usage(stderr, c.name, err)
	}
	if err := opts.common().check(parsed(fs)); err != nil {
		return usage(stderr, c.name, err)
	}
	if err := opts.check(parsed(fs)); err != nil {
		return usage(stderr, c.name, err)
	}
	conn, err := connection(env.lookup)
	if err != nil {
		return usage(stderr, c.name, err)
	}
	if err := opts.prepare(conn.demo); err != nil {
		return usage(stderr, c.name, err)
	}

	// The client conn.client builds reports its attempts to prog.
	prog := newProgress(stderr, env.stderrTerminal, env.sameTerminal, true)
	defer prog.finish()
	client, closeDemo, err := conn.client(c.name, prog, opts.common().verbose)
	if err != nil {
		// Only the environment's values can be wrong here (NewClient
		// sends nothing), and its errors never contain the token.
		return usage(stderr, c.name, err)
	}
	defer closeDemo()
	if conn.demo {
		demoTour(stderr, clean(opts.describe()))
	}
	err = opts.run(ctx, &cli{
		client: client,
		stdout: prog.output(stdout),
		prog:   prog,
		cut:    env.stdoutTerminal,
		demo:   conn.demo,
	})
	prog.finish()
	if err != nil {
		return failure(ctx, stderr, err, conn.hint)
	}
	return exitOK
}
