package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"time"

	"github.com/opalclient/opal-go"
)

// A streaming table or csv is written in blocks, each aligned in itself: a
// block goes out when blockRows rows are held, when no row has come for
// blockWait, or when its first row has been held for maxHold, so that rows
// show while a long sweep runs, even when they come steadily.
const (
	blockRows = 100
	blockWait = 200 * time.Millisecond
	maxHold   = 500 * time.Millisecond
)

// view writes to w the access view that opts select: the sessions of the
// selected resources, one row each, with names unless n is nil.
func view(ctx context.Context, client *opal.Client, opts options, n *names, w io.Writer, prog *progress) error {
	userID := opts.userID
	if opts.userEmail != "" {
		u, err := client.Users.GetByEmail(ctx, opts.userEmail)
		if errors.Is(err, opal.ErrNotFound) {
			return fmt.Errorf("no user with email %q in this Opal organisation", opts.userEmail)
		}
		if err != nil {
			return err
		}
		userID = u.UserID
		n.addUser(u)
	}
	ids, err := resourceIDs(ctx, client, opts, n, prog)
	if err != nil {
		return err
	}
	prog.total.Store(int64(len(ids)))

	// The table has a RESOURCE column when the rows may be of more than one
	// resource; with -all, that is known from the walk, before any row.
	out := newPrinter(opts.format, len(ids) > 1, w)
	if err := sweep(ctx, client, opts, userID, ids, n, out, prog); err != nil {
		_ = out.flush() // keep the rows already printed, without a header for none
		return err
	}
	return out.close()
}

// sweep prints the sessions of the resources with the given IDs, and of
// the given user if userID is not "".
func sweep(ctx context.Context, client *opal.Client, opts options, userID string, ids []string, n *names, out printer, prog *progress) error {
	// A failure of the printing goroutine (a lookup, a write) ends the
	// sweep: its requests in flight are cancelled, or stop would wait for
	// them.
	sweepCtx, cancel := context.WithCancel(ctx)
	sessions, stop := pump(client.Sessions.AllOf(sweepCtx, ids, &opal.ListSessionsOptions{UserID: userID, PageSize: opts.pageSize}))
	defer func() {
		cancel()
		stop()
	}()
	deadline := time.Now().Add(opts.expiringWithin)
	var sorted []row
	held, notFound := 0, 0
	var heldSince time.Time // when the first row held came
	idle := time.NewTimer(blockWait)
	idle.Stop()
	defer idle.Stop()
	for {
		select {
		case <-idle.C: // a pause, or a row held for maxHold
			if err := out.flush(); err != nil {
				return err
			}
			held = 0
			continue
		case next, ok := <-sessions:
			if !ok {
				if !opts.all && notFound > 0 && notFound == len(ids) {
					// Not one resource given by ID vanished, but all of them:
					// wrong IDs, or a base URL without /v1. With -all the
					// base URL has just listed them, so they were deleted.
					return fmt.Errorf("none of the %d resources was found; check the IDs, and that OPAL_BASE_URL ends in /v1", notFound)
				}
				return printSorted(out, sorted, opts.sort)
			}
			s, err := next.session, next.err
			var gone *opal.ResourceError
			switch {
			case errors.As(err, &gone) && errors.Is(err, opal.ErrNotFound):
				prog.warn("opal-sessions: resource %s not found (deleted?); skipped", printable(gone.ResourceID))
				notFound++
				continue
			case err != nil:
				return err
			}
			prog.sessions.Add(1)
			if opts.expiringWithin > 0 && s.ExpirationDate.After(deadline) {
				continue
			}
			u, err := n.user(ctx, s.UserID)
			if err != nil {
				return err
			}
			r := row{Session: s, user: u, resource: n.resource(s.ResourceID)}
			if opts.sort != "" {
				sorted = append(sorted, r)
				continue
			}
			if err := out.print(r); err != nil {
				return err
			}
			if held++; held < blockRows {
				if held == 1 {
					heldSince = time.Now()
				}
				idle.Reset(min(blockWait, time.Until(heldSince.Add(maxHold))))
				continue
			}
			idle.Stop()
			held = 0
			if err := out.flush(); err != nil {
				return err
			}
		}
	}
}

// resourceIDs returns the IDs of the resources that opts select. With -all
// they come from a walk of the organisation's resources, which also names
// them; -resource-id's are named by one lookup per 100 IDs, unless the
// names would not be shown: a table of one resource has no RESOURCE column
// (json has resource_name, and csv its resource column, whatever the
// selection).
func resourceIDs(ctx context.Context, client *opal.Client, opts options, n *names, prog *progress) ([]string, error) {
	if !opts.all {
		if len(opts.resourceIDs) == 1 && opts.format == "table" {
			return opts.resourceIDs, nil
		}
		return opts.resourceIDs, n.listResources(ctx, opts.resourceIDs)
	}
	var ids []string
	for r, err := range client.Resources.All(ctx, &opal.ListResourcesOptions{Type: opts.resourceType, Name: opts.resourceName}) {
		if err != nil {
			return nil, err
		}
		ids = append(ids, r.ResourceID)
		n.addResource(r)
		prog.listed.Add(1)
	}
	return ids, nil
}

// printSorted prints rows that were held to be sorted; with no sort key
// there are none.
func printSorted(out printer, rows []row, key string) error {
	sortRows(rows, key)
	for _, r := range rows {
		if err := out.print(r); err != nil {
			return err
		}
	}
	return nil
}

// yielded is one step of a sweep: a session, or an error.
type yielded struct {
	session opal.Session
	err     error
}

// pump ranges over seq on a goroutine of its own and hands over what it
// yields on the channel it returns, so that the printing goroutine can wait
// for the next session and for a timer at once. stop ends the range early
// (AllOf then cancels its requests) and returns once the goroutine has
// ended; it must be called.
func pump(seq iter.Seq2[opal.Session, error]) (sessions <-chan yielded, stop func()) {
	ch := make(chan yielded)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		for s, err := range seq {
			select {
			case ch <- yielded{s, err}:
			case <-quit:
				return
			}
		}
	}()
	return ch, func() {
		close(quit)
		<-done
	}
}
