package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// These tests run the command with stdout or stderr on a terminal, a
// pseudo-terminal the test opens, to see what a person at a terminal sees.

// openTerminal opens a pseudo-terminal: the command gets tty; screen
// returns what has been written to it so far, and end, once the command
// has ended, closes tty and returns all that was written.
func openTerminal(t *testing.T) (tty *os.File, screen, end func() string) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	var unlock int32
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptmx.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Skipf("no pseudo-terminal: unlocking: %v", e)
	}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptmx.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Skipf("no pseudo-terminal: %v", e)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		ptmx.Close()
		t.Skipf("no pseudo-terminal: %v", err)
	}
	var mu sync.Mutex
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil { // EIO once every end of tty is closed
				return
			}
		}
	}()
	screen = func() string {
		mu.Lock()
		defer mu.Unlock()
		// The terminal turns each "\n" into "\r\n".
		return strings.ReplaceAll(out.String(), "\r\n", "\n")
	}
	end = func() string {
		tty.Close()
		<-done
		return screen()
	}
	t.Cleanup(func() {
		end()
		ptmx.Close()
	})
	return tty, screen, end
}

// visible is what a terminal shows of text: each line as its carriage
// returns overwrite it, without trailing spaces.
func visible(text string) []string {
	var lines []string
	for line := range strings.Lines(text) {
		var cells []rune
		col := 0
		for _, r := range strings.TrimSuffix(line, "\n") {
			if r == '\r' {
				col = 0
				continue
			}
			if col < len(cells) {
				cells[col] = r
			} else {
				cells = append(cells, r)
			}
			col++
		}
		lines = append(lines, strings.TrimRight(string(cells), " "))
	}
	return lines
}

// startOn starts the command with stdout and stderr on the given files
// (nil: a buffer), and returns what waits for it to end.
func startOn(t *testing.T, env []string, stdout, stderr *os.File, args ...string) (wait func() (stdout, stderr string, code int)) {
	t.Helper()
	cmd := command(t.Context(), env, args...)
	var outBuf, errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Writer(&outBuf), io.Writer(&errBuf)
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if stderr != nil {
		cmd.Stderr = stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() (string, string, int) {
		err := cmd.Wait()
		if _, exited := err.(*exec.ExitError); err != nil && !exited {
			t.Fatal(err)
		}
		return outBuf.String(), errBuf.String(), cmd.ProcessState.ExitCode()
	}
}

// TestCutOnTerminal: on a terminal, a table cell wider than 60 columns is
// cut with "…"; a pipe gets it whole, and so does csv on a terminal.
func TestCutOnTerminal(t *testing.T) {
	long := strings.Repeat("A description longer than sixty columns. ", 3)
	srv := opaltest.NewServer()
	defer srv.Close()
	srv.AddResources(opal.Resource{ResourceID: "r1", Name: "db", Description: long, ResourceType: opal.ResourceTypeMySQLInstance})

	tty, _, end := openTerminal(t)
	wait := startOn(t, serverEnv(srv), tty, nil, "resources")
	_, stderr, code := wait()
	lines := visible(end())
	if code != 0 || stderr != "" || len(lines) != 2 {
		t.Fatalf("exit %d, stderr %q, %d lines; want 0, nothing and 2:\n%s", code, stderr, len(lines), end())
	}
	if want := long[:59] + "…"; !strings.HasSuffix(lines[1], want) {
		t.Errorf("on a terminal the row is %q, want its description cut to %q", lines[1], want)
	}

	r := runCommand(t, serverEnv(srv), "resources")
	if !strings.Contains(r.stdout, strings.TrimSpace(long)) {
		t.Errorf("on a pipe the description is cut:\n%s", r.stdout)
	}

	tty2, _, end2 := openTerminal(t)
	wait = startOn(t, serverEnv(srv), tty2, nil, "resources", "-format", "csv")
	wait()
	if csv := end2(); !strings.Contains(csv, strings.TrimSpace(long)) {
		t.Errorf("csv on a terminal is cut:\n%s", csv)
	}
}

// heldOrg is an organisation whose sessions come one a page, the second
// page held until release is called, so that a status line has time to
// show.
func heldOrg(t *testing.T) (env []string, release func()) {
	s := testSessions(time.Now())
	srv := newOrg(t, s[:4])
	ch := make(chan struct{})
	release = sync.OnceFunc(func() { close(ch) })
	t.Cleanup(release) // before the proxy's Close, which waits for the held request
	env = proxyEnv(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v1/sessions" && r.URL.Query().Has("cursor") {
			<-ch
		}
		return false
	})
	return env, release
}

// waitFor reads the screen until it shows want, which the command writes
// once its status line's delay has passed: a test that waits for the line
// to show needs no clock of its own.
func waitFor(t *testing.T, screen func() string, want string) {
	t.Helper()
	for !strings.Contains(screen(), want) {
		if t.Context().Err() != nil {
			t.Fatalf("the screen never showed %q:\n%q", want, screen())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStatusLineOnTerminal: with stderr on a terminal and stdout on a
// pipe, the status line shows on stderr while a page is awaited, and is
// cleared at the end; the rows on stdout hold no byte of it, and it is not
// cleared for each row written to the pipe.
func TestStatusLineOnTerminal(t *testing.T) {
	env, release := heldOrg(t)
	tty, screen, end := openTerminal(t)
	wait := startOn(t, env, nil, tty, "sessions", "-ids", "-resource-id", resource, "-page-size", "1")
	waitFor(t, screen, "sessions: 1 so far, resources 1/1 answered, ")
	release()
	stdout, _, code := wait()
	if code != 0 || strings.Contains(stdout, "\r") || len(parseTable(stdout)) != 5 {
		t.Errorf("exit %d, stdout %q; want 0, the header and 4 rows, no status line", code, stdout)
	}
	all := end()
	if got := visible(all); len(got) != 1 || got[0] != "" {
		t.Errorf("the terminal shows %q at the end, want the status line cleared", got)
	}
	if n := strings.Count(all, "\r"+strings.Repeat(" ", 10)); n != 1 {
		t.Errorf("the status line was cleared %d times, want once, at the end: %q", n, all)
	}
}

// TestStatusLineSameTerminal: with stdout and stderr on one terminal, the
// status line is cleared before rows are written, so that no row starts
// in its middle.
func TestStatusLineSameTerminal(t *testing.T) {
	env, release := heldOrg(t)
	tty, screen, end := openTerminal(t)
	wait := startOn(t, env, tty, tty, "sessions", "-ids", "-resource-id", resource, "-page-size", "1")
	waitFor(t, screen, "so far")
	release()
	_, _, code := wait()
	all := end()
	lines := visible(all)
	if code != 0 || len(lines) < 5 {
		t.Fatalf("exit %d, %d lines:\n%q", code, len(lines), all)
	}
	for _, line := range lines {
		if strings.Contains(line, "so far") {
			t.Errorf("the terminal shows %q: a status line left among the rows", line)
		}
	}
	rows := parseTable(strings.Join(lines, "\n"))
	if rows[0][0] != "USER" || len(rows) != 5 {
		t.Errorf("the terminal shows %q, want the header and 4 rows", lines)
	}
}

// TestStatusLineRetrying: while a call waits to retry, the status line
// says so, with why and which attempt comes next.
func TestStatusLineRetrying(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // connections to it are refused from now on
	tty, screen, end := openTerminal(t)
	cmd := command(t.Context(), []string{"OPAL_BASE_URL=http://" + addr + "/v1", "OPAL_AUTH_TOKEN=token"}, "users")
	cmd.Stderr = tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, screen, "retrying: connection refused, attempt 2 of 5")
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Errorf("exit %d, want %d:\n%q", code, exitInterrupted, end())
	}
}
