package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
)

// textLayout is a layout whose rows are their cells.
var textLayout = layout[[]string]{
	header: []string{"USER", "RESOURCE", "FLAGS"},
	cells:  func(r []string) []string { return append([]string(nil), r...) },
}

// TestTableBlocks: a table streamed in blocks keeps each column as wide as
// it has ever been, so that a later block of short cells lines up with the
// header and the blocks before it.
func TestTableBlocks(t *testing.T) {
	var b bytes.Buffer
	p := newPrinter("table", textLayout, &b, false)
	for _, block := range [][][]string{
		{{"alexandra.konstantinopoulou@example.com", "production-eu-west-1", "deprovisioned"}},
		{{"bo@ex.com", "db", ""}, {"cy@ex.com", "db", "expired"}},
		{{"dee@ex.com", "a-much-longer-resource-name-than-before", ""}},
	} {
		for _, r := range block {
			if err := p.print(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	want := `USER                                     RESOURCE              FLAGS
alexandra.konstantinopoulou@example.com  production-eu-west-1  deprovisioned
bo@ex.com                                db
cy@ex.com                                db                    expired
dee@ex.com                               a-much-longer-resource-name-than-before
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

// TestTableCut: on a terminal a cell wider than 60 columns is cut with
// "…", counting wide characters as two columns; elsewhere it is whole.
func TestTableCut(t *testing.T) {
	long := strings.Repeat("abcdefghij", 7)             // 70 columns
	wide := strings.Repeat("李", 40)                     // 80 columns
	escaped := strings.Repeat("x", 55) + "\u202e123456" // cut inside its escape
	tests := []struct {
		cut  bool
		in   []string
		want string
	}{
		{false, []string{long, wide, escaped}, long + "  " + wide + "  " + strings.Repeat("x", 55) + `\u202e123456` + "\n"},
		{true, []string{long, wide, escaped}, long[:59] + "…  " + strings.Repeat("李", 29) + "…  " + strings.Repeat("x", 55) + `\u20…` + "\n"},
		{true, []string{"short", "李雷", "ok"}, "short  李雷      ok\n"}, // RESOURCE is 8 columns, 李雷 4
	}
	for _, tt := range tests {
		var b bytes.Buffer
		p := newPrinter("table", textLayout, &b, tt.cut)
		p.print(tt.in)
		p.close()
		_, rows, _ := strings.Cut(b.String(), "\n") // after the header
		if diff := cmp.Diff(tt.want, rows); diff != "" {
			t.Errorf("cut %v (-want +got):\n%s", tt.cut, diff)
		}
		for _, cell := range strings.Split(strings.TrimSuffix(rows, "\n"), "  ") {
			if tt.cut && width(cell) > maxCell {
				t.Errorf("cell %q is %d columns wide, want at most %d", cell, width(cell), maxCell)
			}
		}
	}
}

// TestTableHeaderAlone: a table of no rows is its header; a csv, its
// header row.
func TestTableHeaderAlone(t *testing.T) {
	for format, want := range map[string]string{"table": "USER  RESOURCE  FLAGS\n", "csv": "user,resource\n", "json": ""} {
		var b bytes.Buffer
		l := textLayout
		l.csv = []string{"user", "resource"}
		p := newPrinter(format, l, &b, false)
		p.flush()
		if err := p.close(); err != nil || b.String() != want {
			t.Errorf("%s: %q, %v; want %q", format, b.String(), err, want)
		}
	}
}

// TestColumnsLineUpAcrossBlocks runs a sweep whose first block holds a
// long email and a later block short ones, with stdout on a pipe: every
// line of the table lines up with the header. The second resource's page
// is held until the first block is out, so that the two are two blocks.
func TestColumnsLineUpAcrossBlocks(t *testing.T) {
	const slow = "3f7c9e21-5b84-4d0a-9c6e-8a1d2b4f7e30"
	const long = "alexandra.konstantinopoulou.long.name@company.dev"
	s := testSessions(time.Now())
	srv := newOrg(t, []opal.Session{
		{UserID: "long-user", ResourceID: orders, ExpirationDate: s[4].ExpirationDate},
		{UserID: userA, ResourceID: slow, ExpirationDate: s[0].ExpirationDate},
		{UserID: userB, ResourceID: slow, ExpirationDate: s[3].ExpirationDate},
	})
	srv.AddUsers(opal.User{UserID: "long-user", Email: long})
	srv.AddResources(opal.Resource{ResourceID: slow, Name: "billing"})
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	env := proxyEnv(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Query().Get("resource_id") == slow {
			<-release
		}
		return false
	})
	defer releaseOnce()
	cmd, sc, stderr := startCommand(t, env, "sessions", "-resource-id", orders+","+slow)
	var out strings.Builder
	for i := 0; i < 2 && sc.Scan(); i++ { // the header and the long row: the first block
		out.WriteString(sc.Text() + "\n")
	}
	releaseOnce()
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v; stderr: %s", err, stderr.String())
	}
	if n := strings.Count(out.String(), "\n"); n != 4 {
		t.Fatalf("%d lines, want the header and 3 rows:\n%s", n, out.String())
	}
	checkAligned(t, out.String())
}

// TestClosedPipe: a reader that goes away ends the command, at once and
// not in success, in every format.
func TestClosedPipe(t *testing.T) {
	srv := gridOrg(t, 30, 20)
	for _, format := range []string{"table", "csv", "json"} {
		t.Run(format, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
			defer cancel()
			cmd := command(ctx, serverEnv(srv), "access", "-all", "-format", format)
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			pr.Close()
			cmd.Stdout = pw
			err = cmd.Run()
			pw.Close()
			if ctx.Err() != nil {
				t.Fatalf("the command did not end")
			}
			if _, ok := err.(*exec.ExitError); !ok {
				t.Errorf("the command wrote to a closed pipe and ended with %v, want a failure", err)
			}
		})
	}
}

// TestFarExpiry: a grant or a session that ends in the year 9999 (a common
// stand-in for never) is shown millions of days away, in every view and
// format, not the "106751d23h" at which a time.Duration ends.
func TestFarExpiry(t *testing.T) {
	far := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	srv := newOrg(t, []opal.Session{{UserID: userA, ResourceID: resource, ExpirationDate: far}})
	srv.AddAccess(grant(resource, userA, emailA, adminRoleLevel, &far, true, 1, ""))
	days := regexp.MustCompile(`(^|[ ,(])29\d{5}d(\d+h)?([ ,)]|$)`)
	for _, args := range [][]string{
		{"access", "-resource-id", resource, "-no-sessions"},
		{"access", "-resource-id", resource, "-format", "csv"},
		{"sessions", "-resource-id", resource},
		{"sessions", "-resource-id", resource, "-format", "csv"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runCommand(t, serverEnv(srv), args...)
			checkOK(t, r)
			if strings.Contains(r.stdout, "106751d") || !days.MatchString(strings.Split(r.stdout, "\n")[1]) {
				t.Errorf("the time left is not the 2.9 million days it is:\n%s", r.stdout)
			}
		})
	}
}

func TestExpiresIn(t *testing.T) {
	const m, h, d = time.Minute, time.Hour, 24 * time.Hour
	// Half a second past a whole second, so that rounding is seen across
	// the seconds' boundary.
	now := time.Date(2026, 12, 7, 12, 0, 0, 5e8, time.UTC)
	tests := []struct {
		in   time.Duration
		want string
	}{
		{-time.Hour, "expired"},
		{0, "expired"},
		{time.Nanosecond, "<1m"},
		{29 * time.Second, "<1m"},
		{30*time.Second - time.Nanosecond, "<1m"},
		{30 * time.Second, "1m"},
		{45 * m, "45m"},
		{45*m - time.Second, "45m"}, // a second of latency does not show
		{h, "1h"},
		{3*h + 12*m, "3h12m"},
		{23*h + 59*m + 50*time.Second, "1d"},
		{2*d + 4*h + 30*m, "2d4h"},
		{2*d + 59*m, "2d"}, // only the two largest units
		{400 * d, "400d"},
	}
	for _, tt := range tests {
		if got := expiresIn(now.Add(tt.in), now); got != tt.want {
			t.Errorf("expiresIn(now + %v) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Beyond a time.Duration's 292 years, in days of the calendar.
	for _, tt := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), "2912101d12h"}, // 11h59m59.5s, to the nearest minute
		{time.Date(2326, 12, 7, 12, 0, 0, 5e8, time.UTC), "109572d"},
		{time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), "expired"},
	} {
		if got := expiresIn(tt.at, now); got != tt.want {
			t.Errorf("expiresIn(%v) = %q, want %q", tt.at, got, tt.want)
		}
	}
}

func TestAccessLevel(t *testing.T) {
	tests := []struct {
		in   opal.ResourceAccessLevel
		want string
	}{
		{opal.ResourceAccessLevel{}, "(default)"},
		{opal.ResourceAccessLevel{Name: "AdminRole", RemoteID: "arn:aws:iam::590304332660:role/AdministratorAccess"}, "AdminRole"},
		{opal.ResourceAccessLevel{RemoteID: "arn:aws:iam::590304332660:role/Billing"}, "arn:aws:iam::590304332660:role/Billing"},
	}
	for _, tt := range tests {
		if got := accessLevel(tt.in); got != tt.want {
			t.Errorf("accessLevel(%+v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
