package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// TestHelp: the overview and every command's help go to stdout with exit
// 0, however asked for, whatever the environment (a bad one too), and tell
// the examples, the environment and the exit statuses.
func TestHelp(t *testing.T) {
	overview := []string{"Usage: opal <command> [flags]", "Commands:", "OPAL_AUTH_TOKEN", "Exit status:", "130"}
	for _, c := range commands {
		overview = append(overview, "\n  "+c.name+" ")
	}
	tests := []struct {
		args []string
		want []string
	}{
		{nil, overview},
		{[]string{"help"}, overview},
		{[]string{"-h"}, overview},
		{[]string{"--help"}, overview},
		{[]string{"help", "help"}, overview},
		{[]string{"version", "-h"}, []string{"Usage: opal version"}},
		{[]string{"help", "version"}, []string{"Usage: opal version"}},
	}
	for _, c := range commands {
		want := []string{"Usage: opal " + c.name, "Flags:", "\n  -format format", "\n  -version", "Examples:", "Environment:", "OPAL_BASE_URL", "Exit status:", "130", "143"}
		for _, args := range [][]string{{"help", c.name}, {c.name, "-h"}, {c.name, "--help"}, {c.name, "-help"}, {c.name, "-format", "csv", "-h"}} {
			tests = append(tests, struct {
				args []string
				want []string
			}{args, want})
		}
	}
	for _, env := range [][]string{nil, {"OPAL_AUTH_TOKEN="}} {
		for _, tt := range tests {
			t.Run(strings.Join(env, " ")+" "+strings.Join(tt.args, " "), func(t *testing.T) {
				r := runCommand(t, env, tt.args...)
				checkOK(t, r)
				for _, w := range tt.want {
					if !strings.Contains(r.stdout, w) {
						t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
					}
				}
			})
		}
	}
}

// TestHelpExamples: every command's help has at least two examples, each
// a command line of that command after a line saying what it shows.
func TestHelpExamples(t *testing.T) {
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			r := runCommand(t, nil, "help", c.name)
			_, examples, _ := strings.Cut(r.stdout, "\nExamples:\n")
			examples, _, _ = strings.Cut(examples, "\n\nEnvironment:")
			if n := strings.Count(examples, "\n  opal "+c.name); n < 2 || strings.Count(examples, "  # ") != n {
				t.Errorf("%d examples, want 2 or more, each after a comment:\n%s", n, examples)
			}
		})
	}
}

// TestRowOrderIsDocumented: the help of every command that sweeps says
// that without -sort rows come in the order answers arrive.
func TestRowOrderIsDocumented(t *testing.T) {
	for _, name := range []string{"access", "sessions"} {
		r := runCommand(t, nil, "help", name)
		if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), "Without -sort, rows come in the order answers arrive, which differs between runs") {
			t.Errorf("opal help %s does not say in what order rows come:\n%s", name, r.stdout)
		}
	}
}

// TestVersion: opal version and -version on every command print the
// module's and the library's versions and Go's, on stdout, whatever the
// environment (a bad one too), and send nothing.
func TestVersion(t *testing.T) {
	srv := newOrg(t, nil)
	argss := [][]string{{"version"}, {"-version"}, {"--version"}}
	for _, c := range commands {
		argss = append(argss, []string{c.name, "-version"}, []string{c.name, "-format", "CSV", "-version"})
	}
	for _, env := range [][]string{serverEnv(srv), {"OPAL_AUTH_TOKEN="}} {
		for _, args := range argss {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				r := runCommand(t, env, args...)
				checkOK(t, r)
				want := "(opal-go " + opal.Version + ", " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
				if !strings.HasPrefix(r.stdout, "opal ") || !strings.HasSuffix(r.stdout, want) || strings.Count(r.stdout, "\n") != 1 {
					t.Errorf("stdout %q, want one line: opal <module version> %s", r.stdout, want)
				}
			})
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

// TestEnvironment: the demo runs only when neither OPAL_AUTH_TOKEN nor
// OPAL_BASE_URL is set; a token set but empty (or only white space, which
// is trimmed), a base URL without a token,
// or an empty base URL with a token is a usage error that says what to
// set, for every command, in every format, and nothing is printed on
// stdout; the token is in no message about the environment.
func TestEnvironment(t *testing.T) {
	srv := newOrg(t, nil)
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"empty token", []string{"OPAL_AUTH_TOKEN="}, "OPAL_AUTH_TOKEN is set but empty: set it to an Opal API token (or unset it, and OPAL_BASE_URL, to see the demo)"},
		{"empty token and a base URL", []string{"OPAL_AUTH_TOKEN=", "OPAL_BASE_URL=" + srv.URL}, "OPAL_AUTH_TOKEN is set but empty"},
		{"a base URL without a token", []string{"OPAL_BASE_URL=https://opal.mycorp.example/v1"},
			"OPAL_BASE_URL is set but OPAL_AUTH_TOKEN is not: set OPAL_AUTH_TOKEN to an API token of that Opal (or unset OPAL_BASE_URL to see the demo)"},
		{"an empty base URL without a token", []string{"OPAL_BASE_URL="}, "OPAL_BASE_URL is set but OPAL_AUTH_TOKEN is not"},
		{"an empty base URL with a token", []string{"OPAL_BASE_URL=", "OPAL_AUTH_TOKEN=" + srv.Token}, "OPAL_BASE_URL is set but empty: set it to your Opal's API URL"},
		{"a token of white space", []string{"OPAL_AUTH_TOKEN= \t\r\n", "OPAL_BASE_URL=" + srv.URL}, "OPAL_AUTH_TOKEN is set but empty"},
		{"a token of white space alone", []string{"OPAL_AUTH_TOKEN=   "}, "OPAL_AUTH_TOKEN is set but empty"},
		{"an exact base URL without a base URL", []string{"OPAL_BASE_URL_EXACT=1"}, "OPAL_BASE_URL_EXACT is set but OPAL_BASE_URL is not"},
		{"an exact base URL of a typo", []string{"OPAL_AUTH_TOKEN=" + srv.Token, "OPAL_BASE_URL=" + srv.URL, "OPAL_BASE_URL_EXACT=ture"},
			`OPAL_BASE_URL_EXACT is "ture": set it to 1 to use OPAL_BASE_URL as given`},
		{"an empty exact base URL", []string{"OPAL_AUTH_TOKEN=" + srv.Token, "OPAL_BASE_URL=" + srv.URL, "OPAL_BASE_URL_EXACT="}, `OPAL_BASE_URL_EXACT is ""`},
		{"plain http to another host", []string{"OPAL_AUTH_TOKEN=" + srv.Token, "OPAL_BASE_URL=http://api.opal.dev/v1"}, "invalid argument: base URL: \"http://api.opal.dev/v1\" uses plain http, which is allowed only to loopback hosts"},
	}
	for _, tt := range tests {
		for _, c := range commands {
			for _, format := range []string{"table", "csv", "json"} {
				t.Run(tt.name+"/"+c.name+"/"+format, func(t *testing.T) {
					args := []string{c.name, "-format", format}
					if c == sessionsCommand || c == accessCommand {
						args = append(args, "-all")
					}
					r := runCommand(t, tt.env, args...)
					checkFailed(t, r, exitUsage, "opal: "+tt.want)
					if strings.Contains(r.stderr, "demo data") || strings.Contains(r.stderr, "demo") && !strings.Contains(r.stderr, "to see the demo") {
						t.Errorf("the demo ran, or stderr speaks of it as if it had: %s", r.stderr)
					}
					if strings.Contains(r.stderr, srv.Token) {
						t.Errorf("stderr holds the token: %q", r.stderr)
					}
				})
			}
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

// TestTokenAsArgumentIsRefused: the token, passed by mistake as an ID, an
// email, any flag's value, the base URL or OPAL_BASE_URL_EXACT (two
// variables swapped in a script), is a usage error that names the argument
// and never shows the token, nor 8 bytes of it, which CI logs would keep;
// nothing is sent. It is found in an argument with or without the white
// space that OPAL_AUTH_TOKEN holds around it (a secret file written with
// echo ends in a newline), which is trimmed.
func TestTokenAsArgumentIsRefused(t *testing.T) {
	srv := newOrg(t, testSessions(time.Now()))
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"access", "-resource-id", srv.Token}, "opal: the argument after -resource-id holds the API token of OPAL_AUTH_TOKEN, or part of it (were two values swapped?); nothing was sent\n"},
		{[]string{"access", "-resource-id", resource + "," + srv.Token}, "the argument after -resource-id holds the API token"},
		{[]string{"access", "-user", srv.Token}, "the argument after -user holds the API token"},
		{[]string{"access", "-user-id", srv.Token}, "the argument after -user-id holds the API token"},
		{[]string{"sessions", "-all", "-user", srv.Token}, "the argument after -user holds the API token"},
		{[]string{"users", "-email", srv.Token}, "the argument after -email holds the API token"},
		{[]string{"users", "-email=" + srv.Token}, "the value of -email holds the API token"},
		{[]string{"resources", "-type", "x" + srv.Token}, "the argument after -type holds the API token"},
		{[]string{"users", srv.Token}, "argument 2 holds the API token"},
		{[]string{"access", "-all", "-format", srv.Token}, "the argument after -format holds the API token"},
	}
	for _, tt := range tests {
		for _, around := range []struct{ name, before, after string }{
			{"as it is", "", ""},
			{"with a newline", "", "\n"},
			{"with CR LF", "", "\r\n"},
			{"after a space", " ", ""},
		} {
			t.Run(strings.Join(tt.args[:2], " ")+"/"+around.name, func(t *testing.T) {
				env := []string{"OPAL_BASE_URL=" + srv.URL, "OPAL_AUTH_TOKEN=" + around.before + srv.Token + around.after}
				r := runCommand(t, env, tt.args...)
				checkFailed(t, r, exitUsage, tt.want)
				checkNoToken(t, r, srv.Token)
			})
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
	for _, tt := range []struct {
		name string
		env  []string
		want string
	}{
		{"the token in OPAL_BASE_URL", []string{"OPAL_AUTH_TOKEN=" + srv.Token, "OPAL_BASE_URL=" + srv.Token}, "base URL holds the API token"},
		// The library finds no token in the base URL: the token it is
		// given is the URL.
		{"OPAL_AUTH_TOKEN and OPAL_BASE_URL swapped", []string{"OPAL_AUTH_TOKEN=" + srv.URL, "OPAL_BASE_URL=" + srv.Token},
			"opal: OPAL_AUTH_TOKEN is not an Opal API token (it is not shown): API token is a URL (were the token and the base URL swapped?)"},
		{"the token in OPAL_BASE_URL_EXACT", []string{"OPAL_AUTH_TOKEN=" + srv.Token, "OPAL_BASE_URL=" + srv.URL, "OPAL_BASE_URL_EXACT=" + srv.Token},
			"opal: OPAL_BASE_URL_EXACT holds the API token of OPAL_AUTH_TOKEN, or part of it (were two values swapped?)"},
		{"the token in OPAL_BASE_URL_EXACT, OPAL_AUTH_TOKEN with a newline", []string{"OPAL_AUTH_TOKEN=" + srv.Token + "\n", "OPAL_BASE_URL=" + srv.URL, "OPAL_BASE_URL_EXACT=" + srv.Token},
			"opal: OPAL_BASE_URL_EXACT holds the API token of OPAL_AUTH_TOKEN"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runCommand(t, tt.env, "users")
			checkFailed(t, r, exitUsage, tt.want)
			checkNoToken(t, r, srv.Token)
		})
	}
}

// checkNoToken checks that the run printed neither the token nor 8 bytes
// of it in a row, as the opal package finds pieces of it.
func checkNoToken(t *testing.T, r result, token string) {
	t.Helper()
	for i := 0; i+8 <= len(token); i++ {
		if strings.Contains(r.stdout+r.stderr, token[i:i+8]) {
			// Where, never what: a failure must not print it either.
			t.Errorf("the output holds 8 bytes of the token in a row, from its byte %d", i)
			return
		}
	}
}

// TestTokenThatIsNotOneWordIsRefused: an OPAL_AUTH_TOKEN that the opal
// package would refuse ("Bearer <token>" copied from a header, a secret
// file of two lines, one saved with a byte-order mark) is a usage error
// before any argument is read, so that an argument holding the token
// itself, which is not the whole value, is never shown by a flag's
// refusal; nothing is sent.
func TestTokenThatIsNotOneWordIsRefused(t *testing.T) {
	srv := newOrg(t, nil)
	for _, tt := range []struct {
		name  string
		token string // OPAL_AUTH_TOKEN
		env   []string
		args  []string
	}{
		{"Bearer in front, the token as -format", "Bearer " + srv.Token, nil, []string{"users", "-format", srv.Token}},
		{"Bearer in front, the token as -sort", "Bearer " + srv.Token, nil, []string{"access", "-all", "-sort", srv.Token}},
		{"two lines, the token as -format", srv.Token + "\nopal-old-token-Zr8mW2qP0v", nil, []string{"users", "-format", srv.Token}},
		{"a byte-order mark in front, the token as -format", "\uFEFF" + srv.Token + "\r\n", nil, []string{"users", "-format", srv.Token}},
		{"Bearer in front, the token as OPAL_BASE_URL_EXACT", "Bearer " + srv.Token, []string{"OPAL_BASE_URL_EXACT=" + srv.Token}, []string{"users"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := append([]string{"OPAL_BASE_URL=" + srv.URL, "OPAL_AUTH_TOKEN=" + tt.token}, tt.env...)
			r := runCommand(t, env, tt.args...)
			checkFailed(t, r, exitUsage, "opal: OPAL_AUTH_TOKEN is not an Opal API token (it is not shown)")
			checkNoToken(t, r, srv.Token)
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

// TestTokenIsTrimmed: OPAL_AUTH_TOKEN is used without the white space
// around it, which no token holds: a token read from a file written with
// echo, which ends in a newline, works.
func TestTokenIsTrimmed(t *testing.T) {
	srv := newOrg(t, nil)
	for _, token := range []string{srv.Token + "\n", srv.Token + "\r\n", " " + srv.Token + "\t"} {
		r := runCommand(t, []string{"OPAL_BASE_URL=" + srv.URL, "OPAL_AUTH_TOKEN=" + token}, "users", "-format", "csv")
		checkOK(t, r)
		if n := strings.Count(r.stdout, "\n"); n != len(testUsers)+1 {
			t.Errorf("%d lines, want a header and %d users:\n%s", n, len(testUsers), r.stdout)
		}
	}
}

// TestHoldsToken: a token of 8 bytes or more is found anywhere in an
// argument; a shorter one only where it stands alone; an empty one nowhere.
func TestHoldsToken(t *testing.T) {
	tests := []struct {
		s, token string
		want     bool
	}{
		{"opaltest-SECRET", "opaltest-SECRET", true},
		{"id1,opaltest-SECRET", "opaltest-SECRET", true},
		{"xopaltest-SECRETx", "opaltest-SECRET", true},
		{"opaltest-SECRE", "opaltest-SECRET", false},
		{"abc", "abc", true},
		{"id1,abc", "abc", true},
		{"-email=abc", "abc", true},
		{"abcd", "abc", false},
		{"cabc,abcd,abc1", "abc", false},
		{"abcd,abc", "abc", true},
		{"", "abc", false},
		{"-", "", false}, // OPAL_AUTH_TOKEN unset: no token to hold
	}
	for _, tt := range tests {
		if got := holdsToken(tt.s, tt.token); got != tt.want {
			t.Errorf("holdsToken(%q, %q) = %v, want %v", tt.s, tt.token, got, tt.want)
		}
	}
}

// TestExactBaseURL: OPAL_BASE_URL_EXACT=1 reaches a server that serves the
// API at its root, as a mock such as Prism does, where OPAL_BASE_URL alone
// would have /v1 filled in.
func TestExactBaseURL(t *testing.T) {
	srv := newOrg(t, nil)
	target, err := url.Parse(srv.URL) // .../v1
	if err != nil {
		t.Fatal(err)
	}
	atRoot := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target) // /users becomes /v1/users
	}})
	t.Cleanup(atRoot.Close)

	env := []string{"OPAL_AUTH_TOKEN=" + srv.Token, "OPAL_BASE_URL=" + atRoot.URL, "OPAL_BASE_URL_EXACT=1"}
	r := runCommand(t, env, "users", "-format", "csv")
	if r.code != exitOK || !strings.Contains(r.stdout, emailA) {
		t.Errorf("exit %d, stdout %q, stderr %q; want the users", r.code, r.stdout, r.stderr)
	}
	// Without it, /v1 is filled in, the mock has nothing there, and the
	// hint says what to set.
	r = runCommand(t, env[:2], "users")
	checkFailed(t, r, exitFailure, "set OPAL_BASE_URL_EXACT=1")

	// With it, against Opal at the host's root (no /v1), the hint does not
	// propose what is already set: it says the URL is used as given, and
	// that its path may lack /v1.
	origin := strings.TrimSuffix(srv.URL, "/v1")
	r = runCommand(t, []string{"OPAL_AUTH_TOKEN=" + srv.Token, "OPAL_BASE_URL=" + origin, "OPAL_BASE_URL_EXACT=1"}, "users")
	checkFailed(t, r, exitFailure, "opal: GET /users: 404 Not Found: not found: /users (the URL requested was "+origin+
		"/users: OPAL_BASE_URL_EXACT=1 uses OPAL_BASE_URL as given; check that it is the API's base URL, whose path may lack the /v1 that Opal serves the API under)\n")
	if strings.Contains(r.stderr, "set OPAL_BASE_URL_EXACT=1") {
		t.Errorf("stderr %q: the hint proposes what is already set", r.stderr)
	}
}

// TestUnknownCommand: a first argument that is no command is a usage
// error, with the nearest command suggested when one is near.
func TestUnknownCommand(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"acess"}, `opal: unknown command "acess"; did you mean access?`},
		{[]string{"sesions", "-all"}, `opal: unknown command "sesions"; did you mean sessions?`},
		{[]string{"frobnicate"}, `opal: unknown command "frobnicate"` + "\nRun 'opal help' for usage.\n"},
		{[]string{"-all"}, "opal: flags come after a command, as in: opal access -all"},
		{[]string{"help", "acess"}, `opal: unknown command "acess"; did you mean access?`},
		{[]string{"help", "nosuch"}, `opal: unknown command "nosuch"` + "\nRun 'opal help' for usage.\n"},
		{[]string{"-all", "access"}, "opal: flags come after a command, as in: opal access -all"},
		{[]string{"help", "access", "sessions"}, "opal: help takes one command, not 2"},
		{[]string{"version", "extra"}, "opal: version takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			checkFailed(t, runCommand(t, nil, tt.args...), exitUsage, tt.want)
		})
	}
}

// TestVerbose: -v writes the client's log records to stderr, one per
// attempt and per wait before a retry, without the token; stdout is as
// without it.
func TestVerbose(t *testing.T) {
	srv := newOrg(t, nil)
	srv.Inject(opaltest.Fault{Status: http.StatusServiceUnavailable})
	r := runCommand(t, serverEnv(srv), "users", "-v")
	if r.code != 0 || len(parseTable(r.stdout)) != 3 {
		t.Fatalf("exit %d, stdout %q; want 0 and the users; stderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		`level=DEBUG msg="opal: attempt" method=GET path=/v1/users attempt=1 status=503`,
		`level=DEBUG msg="opal: waiting to retry" method=GET path=/v1/users attempt=1 status=503 delay=`,
		`level=DEBUG msg="opal: attempt" method=GET path=/v1/users attempt=2 status=200`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, srv.Token) {
		t.Errorf("the token is on stderr:\n%s", r.stderr)
	}
	if r := runCommand(t, serverEnv(srv), "users"); r.stderr != "" {
		t.Errorf("without -v, stderr is %q; want nothing", r.stderr)
	}
}

// TestHelpAndVersionReadNoToken: help and the version answer whatever
// OPAL_AUTH_TOKEN holds, one that is not one word included, so that the
// help that its refusal points to can be read.
func TestHelpAndVersionReadNoToken(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"version"}, {"help", "access"}, {"access", "-h"}, {"users", "--help"}, {"version", "-h"}} {
		r := runCommand(t, []string{"OPAL_AUTH_TOKEN=Bearer abcdefghijk"}, args...)
		if r.code != exitOK || r.stdout == "" {
			t.Errorf("opal %s: exit %d, %d bytes on stdout; want exit 0 and its text", strings.Join(args, " "), r.code, len(r.stdout))
		}
		if cmd := args[0]; cmd != "help" && cmd != "-h" && len(args) == 2 && !strings.Contains(r.stdout, "Usage: opal "+cmd) {
			t.Errorf("opal %s: stdout %q; want its help", strings.Join(args, " "), r.stdout)
		}
	}
}

// TestPieceOfTokenAsArgumentIsRefused: an argument holding 8 bytes of the
// token in a row (a paste cut short) is refused as one holding the whole
// is, and quoted by no refusal, a command's name, help's argument or a
// flag's value alike.
func TestPieceOfTokenAsArgumentIsRefused(t *testing.T) {
	srv := newOrg(t, nil)
	cut := srv.Token[:len(srv.Token)-2]
	for _, args := range [][]string{{"help", cut}, {cut}, {"users", "-format", cut}} {
		t.Run(strings.Join(args[:len(args)-1], " "), func(t *testing.T) {
			r := runCommand(t, []string{"OPAL_BASE_URL=" + srv.URL, "OPAL_AUTH_TOKEN=" + srv.Token}, args...)
			checkFailed(t, r, exitUsage, "holds the API token of OPAL_AUTH_TOKEN, or part of it")
			checkNoToken(t, r, srv.Token)
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}
