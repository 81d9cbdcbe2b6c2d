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
		name          string
		contentLength bool
	}{
		{"declared by Content-Length", true},
		{"streamed without a length", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// No timeout for the attempt: reading 32 MiB under -race on a
			// busy machine takes what it takes, and a timeout, which is
			// retried, is not what is tested.
			c, mux, _ := setup(t, WithHTTPClient(&http.Client{}))
			var requests atomic.Int32
			var written atomic.Int64
			mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				size := maxBody + 1<<20
				if tt.contentLength {
					w.Header().Set("Content-Length", fmt.Sprint(size))
				}
				// Members of 1 MiB, each of them fine: only the whole is
				// too large.
				w.Write([]byte(`{"results":[],`))
				chunk := []byte(`"more":"` + strings.Repeat("a", 1<<20) + `",`)
				for written.Load() < int64(size) {
					n, err := w.Write(chunk)
					written.Add(int64(n))
					if err != nil {
						return
					}
				}
			}))
			_, err := c.Sessions.List(context.Background(), "r", nil)
			if err == nil || !strings.Contains(err.Error(), "exceeds the 32 MiB limit") || !errors.Is(err, ErrInvalidResponse) {
				t.Errorf("List error = %v, want one about the 32 MiB limit", err)
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("%d requests sent, want 1 (no retries)", n)
			}
			if tt.contentLength && written.Load() > maxBody/2 {
				t.Errorf("server wrote %d bytes before the client gave up, want it refused on the header", written.Load())
			}
		})
	}
}

// TestHostileBodiesTakeBoundedMemory: whatever a 2xx body holds, one call
// allocates less than the 32 MiB body limit, let alone twice it: the decoder
// holds one JSON value at a time, and no value may exceed 4 MiB.
func TestHostileBodiesTakeBoundedMemory(t *testing.T) {
	const size = maxBody - 1<<20
	fill := func(prefix string, b byte) []byte {
		body := bytes.Repeat([]byte{b}, size)
		copy(body, prefix)
		return body
	}
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"an endless string", fill(`"`, 'a'), "the body is a string, not a JSON object"},
		{"an endless user ID", fill(`{"results":[{"user_id":"`, 'a'), "a single JSON value exceeds 4 MiB"},
		{"an endless cursor", fill(`{"next":"`, 'a'), "a single JSON value exceeds 4 MiB"},
		{"an endless unknown member", fill(`{"results":[],"x":"`, 'a'), "a single JSON value exceeds 4 MiB"},
		{"endless nesting", fill(`{"results":[{"x":`, '['), "exceeded max depth"},
		{"endless white space", fill(`{"results":[`, ' '), "a single JSON value exceeds 4 MiB"},
		{"a whole user ID of 31 MiB", append(fill(`{"results":[{"user_id":"`, 'a'), `"}]}`...), "a single JSON value exceeds 4 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// In memory, and with no timeout for the attempt: whatever
			// the machine's load, the body is read until it is refused.
			rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				return &http.Response{
					StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
					Body: io.NopCloser(bytes.NewReader(tt.body)), ContentLength: -1, Request: r,
				}, nil
			})
			c := clientOf(t, &http.Client{Transport: rt}, WithRetryMax(0))
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
