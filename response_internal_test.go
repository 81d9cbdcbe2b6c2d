package opal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// TestOverfullPageIsRefusedBeforeTheRestIsRead: a body of endless empty
// sessions is refused once it holds one session more than the page size,
// without reading, let alone decoding, the rest.
func TestOverfullPageIsRefusedBeforeTheRestIsRead(t *testing.T) {
	c, mux, _ := setup(t)
	var written atomic.Int64
	chunk := []byte(strings.Repeat(`{},`, 16<<10))
	mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"results":[`)
		for written.Load() < maxBody {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	_, err := c.Sessions.List(context.Background(), "r", &ListSessionsOptions{PageSize: 10})
	if err == nil || !strings.Contains(err.Error(), "more than 10 results") {
		t.Fatalf("List error = %v, want one saying the page holds more than 10 results", err)
	}
	// The client read a few of the server's writes before it hung up;
	// the rest of the 32 MiB never left the server's socket buffers.
	if n := written.Load(); n > maxBody/4 {
		t.Errorf("the server wrote %d MiB before the client hung up, want well under the 32 MiB it had to send", n>>20)
	}
}

func TestOversizedBodyIsRefused(t *testing.T) {
	tests := []struct {
		name   string
		length bool // the body says its length
	}{
		{"declared by Content-Length", true},
		{"streamed without a length", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Members of 1 MiB, each of them fine: only the whole is too
			// large.
			const size = maxBody + 1<<20
			member := []byte(`"more":"` + strings.Repeat("a", 1<<20) + `",`)
			var body *stream
			length := int64(-1)
			if tt.length {
				length = size
			}
			var requests atomic.Int32
			c := answering(t, func() io.Reader {
				body = newStream(`{"results":[],`, member, size, "")
				return body
			}, length, &requests)
			_, err := c.Sessions.List(context.Background(), "r", nil)
			if err == nil || !strings.Contains(err.Error(), "exceeds the 32 MiB limit") || !errors.Is(err, ErrInvalidResponse) {
				t.Errorf("List error = %v, want one about the 32 MiB limit", err)
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("%d requests sent, want 1 (no retries)", n)
			}
			if tt.length && body.read.Load() > maxBody/2 {
				t.Errorf("the client read %d bytes before it gave up, want it refused on the header", body.read.Load())
			}
		})
	}
}

// stream is a body of prefix, then unit over and over up to size bytes in
// all, then suffix, made as it is read, so that a test of a body of tens of
// MiB allocates none of it; read counts the bytes read.
type stream struct {
	r    io.Reader
	read atomic.Int64
}

func newStream(prefix string, unit []byte, size int, suffix string) *stream {
	return &stream{r: io.MultiReader(strings.NewReader(prefix),
		io.LimitReader(&repeater{unit: unit}, int64(size-len(prefix))), strings.NewReader(suffix))}
}

func (s *stream) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.read.Add(int64(n))
	return n, err
}

// repeater reads unit over and over.
type repeater struct {
	unit []byte
	off  int
}

func (r *repeater) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.unit[r.off:])
		n += c
		r.off = (r.off + c) % len(r.unit)
	}
	return n, nil
}

// answering is a client whose every attempt gets a 200 of JSON with the
// body that body makes, of the given length (-1 for none), counted in
// requests; no attempt has a timeout, so the body is read until it is
// refused, however busy the machine.
func answering(t *testing.T, body func() io.Reader, length int64, requests *atomic.Int32) *Client {
	t.Helper()
	return clientOf(t, &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		requests.Add(1)
		return &http.Response{
			StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(body()), ContentLength: length, Request: r,
		}, nil
	})}, WithRetryMax(0))
}

// TestHostileBodiesTakeBoundedMemory: whatever a 2xx body holds, one call
// allocates less than the 32 MiB body limit, let alone twice it: the decoder
// holds one JSON value at a time, and no value may exceed 4 MiB.
func TestHostileBodiesTakeBoundedMemory(t *testing.T) {
	const size = maxBody - 1<<20
	a, open := bytes.Repeat([]byte("a"), 4096), bytes.Repeat([]byte("["), 4096)
	space := bytes.Repeat([]byte(" "), 4096)
	tests := []struct {
		name string
		body func() io.Reader
		want string
	}{
		{"an endless string", func() io.Reader { return newStream(`"`, a, size, "") }, "the body is a string, not a JSON object"},
		{"an endless user ID", func() io.Reader { return newStream(`{"results":[{"user_id":"`, a, size, "") }, "a single JSON value exceeds 4 MiB"},
		{"an endless cursor", func() io.Reader { return newStream(`{"next":"`, a, size, "") }, "a single JSON value exceeds 4 MiB"},
		{"an endless unknown member", func() io.Reader { return newStream(`{"results":[],"x":"`, a, size, "") }, "a single JSON value exceeds 4 MiB"},
		{"endless nesting", func() io.Reader { return newStream(`{"results":[{"x":`, open, size, "") }, "exceeded max depth"},
		{"endless white space", func() io.Reader { return newStream(`{"results":[`, space, size, "") }, "a single JSON value exceeds 4 MiB"},
		{"a whole user ID of 31 MiB", func() io.Reader { return newStream(`{"results":[{"user_id":"`, a, size, `"}]}`) }, "a single JSON value exceeds 4 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var requests atomic.Int32
			c := answering(t, tt.body, -1, &requests)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := c.Sessions.List(context.Background(), "r", nil)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalidResponse) {
				t.Errorf("List error = %v, want one saying %q", err, tt.want)
			}
			// Everything the call allocated, garbage included: an upper
			// bound on the heap it can have held.
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("allocated %.1f MiB", float64(allocated)/(1<<20))
			if allocated > maxBody {
				t.Errorf("the call allocated %d MiB, want under %d MiB", allocated>>20, maxBody>>20)
			}
		})
	}
}

// TestPageWithTooManyMembersIsRefused: Opal's pages have three members; a
// body of thousands of small unknown ones is refused rather than decoded
// for seconds.
func TestPageWithTooManyMembersIsRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"results":[]`)
	for i := range maxMembers {
		fmt.Fprintf(&b, `,"m%d":0`, i)
	}
	b.WriteString("}")
	full, tooMany := strings.Replace(b.String(), fmt.Sprintf(`,"m%d":0`, maxMembers-1), "", 1), b.String()
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"full": full, "too many": tooMany}[r.URL.Query().Get("resource_id")])
	})
	if got, err := c.Sessions.List(context.Background(), "full", nil); err != nil || got.Results == nil {
		t.Errorf("a page of %d members: %+v, %v; want its results", maxMembers, got, err)
	}
	_, err := c.Sessions.List(context.Background(), "too many", nil)
	if want := fmt.Sprintf("more than %d members", maxMembers); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("List error = %v, want one saying %q", err, want)
	}
}
