package opal

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestSuccessThatIsNotAPageIsAnError: a 2xx that is not a page of the list
// is an error that says what was wrong, never an empty page, and no retry
// can mend it. For an access review, "no sessions" means "nobody holds
// access": a gateway's {} must not say that.
func TestSuccessThatIsNotAPageIsAnError(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		want        string
	}{
		{"empty object", "application/json", `{}`, `200 OK response is not a page of sessions: no "results" member`},
		{"null", "application/json", `null`, "the body is null, not a JSON object"},
		{"a message", "application/json", `{"message":"resource not found"}`, `no "results" member`},
		{"a gateway's error", "application/json", `{"error":"upstream timed out","status":504}`, `no "results" member`},
		{"an array", "application/json", `[{"user_id":"u1"}]`, "the body is an array, not a JSON object"},
		{"a string", "application/json", `"ok"`, "the body is a string, not a JSON object"},
		{"a number", "application/json", `0`, "the body is a number, not a JSON object"},
		{"results a string", "application/json", `{"results":"none"}`, `"results" is a string, not an array`},
		{"results an object", "application/json", `{"results":{"user_id":"u1"}}`, `"results" is an object, not an array`},
		{"results a number", "application/json", `{"results":0}`, `"results" is a number, not an array`},
		{"results twice", "application/json", `{"results":[],"Results":[{"user_id":"u1"}]}`, `"results" appears twice`},
		{"HTML page from a proxy", "text/html; charset=utf-8", "<html><body>Sign in</body></html>", `content type "text/html; charset=utf-8", not JSON`},
		{"XML", "application/xml", "<sessions/>", `content type "application/xml", not JSON`},
		{"no content type, not JSON", "", "sign in first", `content type "", not JSON`},
		{"invalid JSON", "application/json", `{"results":[}`, "invalid JSON at byte 12"},
		{"empty body", "application/json", "", "the body is empty"},
		{"only white space", "application/json", " \n", "the body is empty"},
		{"data after the JSON value", "application/json", `{"results":[]} {"results":[]}`, "data after the JSON value"},
		{"complete body, incomplete JSON", "application/json", `{"results":[{"user_id":"u`, "the JSON ends early"},
		{"complete body, open array", "application/json", `{"results":[`, "the JSON ends early"},
		{"a date that is not a time", "application/json", `{"results":[{},{"expiration_date":"tomorrow"}]}`, "results[1].expiration_date: not an RFC 3339 time"},
		{"a date that is a number", "application/json", `{"results":[{"expiration_date":1700000000}]}`, "results[0].expiration_date: not an RFC 3339 time (not a string)"},
		{"a date after 9999", "application/json", `{"results":[{"expiration_date":"9999-12-31T23:59:60Z"}]}`, "results[0].expiration_date: not an RFC 3339 time"},
		{"an ID that is a number", "application/json", `{"results":[{},{},{"user_id":7}]}`, "results[2].user_id is a number, want a string"},
		{"a nested field of the wrong type", "application/json", `{"results":[{"access_level":{"access_level_name":true}}]}`, "results[0].access_level.access_level_name is a bool, want a string"},
		{"an item that is not an object", "application/json", `{"results":["u1"]}`, "results[0] is a string, want an object"},
		{"a cursor that is a number", "application/json", `{"next":5,"results":[]}`, "next is a number, want a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, _ := setup(t)
			var requests atomic.Int32
			mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = []string{tt.contentType}
				fmt.Fprint(w, tt.body)
			}))
			got, err := c.Sessions.List(context.Background(), "r", nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("List = %+v, %v; want an error saying %s", got, err, tt.want)
			}
			if !errors.Is(err, ErrInvalidResponse) {
				t.Errorf("errors.Is(%v, ErrInvalidResponse) = false", err)
			}
			if err != nil && strings.Contains(err.Error(), "Go ") {
				t.Errorf("error %q names Go's types, not the API's fields", err)
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("%d requests sent, want 1 (no retries)", n)
			}
		})
	}
}

// TestEveryIteratorStopsOnANonPage: All and Pages end with the error rather
// than taking the body for the last page.
func TestEveryIteratorStopsOnANonPage(t *testing.T) {
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("cursor") == "" {
			writeJSON(w, http.StatusOK, pageBody("c2", "u1"))
			return
		}
		writeJSON(w, http.StatusOK, `{"message":"upstream timed out"}`)
	})
	users, errs := collect(c.Sessions.All(context.Background(), "r1", nil))
	if diff := cmp.Diff([]string{"u1"}, users); diff != "" {
		t.Errorf("All's sessions (-want +got):\n%s", diff)
	}
	if len(errs) != 1 || !errors.Is(errs[0], ErrInvalidResponse) {
		t.Errorf("All's errors = %v, want one ErrInvalidResponse", errs)
	}
	var pageErrs []error
	for _, err := range c.Sessions.Pages(context.Background(), "r1", nil) {
		if err != nil {
			pageErrs = append(pageErrs, err)
		}
	}
	if len(pageErrs) != 1 || !errors.Is(pageErrs[0], ErrInvalidResponse) {
		t.Errorf("Pages' errors = %v, want one ErrInvalidResponse", pageErrs)
	}
}

// TestIncompleteJSONInAProperlyEndedChunkedBodyIsNotRetried: a chunked body
// whose last chunk arrived holds all the server meant to send.
func TestIncompleteJSONInAProperlyEndedChunkedBodyIsNotRetried(t *testing.T) {
	c, mux, _ := setup(t)
	var requests atomic.Int32
	mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"results":[{"user_id":"u1"},`)
		w.(http.Flusher).Flush() // no Content-Length: chunked
		fmt.Fprint(w, `{"user_id":"u2"`)
	}))
	_, err := c.Sessions.List(context.Background(), "r", nil)
	if err == nil || !strings.Contains(err.Error(), "the JSON ends early") {
		t.Errorf("List error = %v, want one saying the JSON ends early", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests sent, want 1 (no retries)", n)
	}
}

// TestByteOrderMarkIsSkipped: some servers put a UTF-8 byte-order mark
// before their JSON, labelled JSON or not.
func TestByteOrderMarkIsSkipped(t *testing.T) {
	for _, contentType := range []string{"application/json", "text/plain; charset=utf-8"} {
		t.Run(contentType, func(t *testing.T) {
			c, mux, _ := setup(t)
			mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", contentType)
				fmt.Fprint(w, utf8BOM+` {"results":[{"user_id":"u1","resource_id":"r"}]}`)
			})
			got, err := c.Sessions.List(context.Background(), "r", nil)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if diff := cmp.Diff(&SessionsList{Results: []Session{{UserID: "u1", ResourceID: "r"}}}, got); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPageLargerThanAskedForIsRefused: a page may hold no more items than
// the page size the request sent, or 1000, the API's maximum, when it sent
// none.
func TestPageLargerThanAskedForIsRefused(t *testing.T) {
	items := func(n int) string {
		return `{"results":[` + strings.TrimSuffix(strings.Repeat(`{"user_id":"u","resource_id":"r"},`, n), ",") + `]}`
	}
	tests := []struct {
		name     string
		pageSize int
		body     string
		want     string
	}{
		{"one more than asked for", 2, items(3), "more than 2 results, the page size asked for"},
		{"one more than the maximum", 0, items(1001), "more than 1000 results, the page size asked for"},
		{"exactly as asked for", 2, items(2), ""},
		{"the maximum", 0, items(1000), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, _ := setup(t)
			mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, tt.body)
			})
			_, err := c.Sessions.List(context.Background(), "r", &ListSessionsOptions{PageSize: tt.pageSize})
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("List: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalidResponse)):
				t.Errorf("List error = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

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
			// Reading 32 MiB under -race on a busy machine may take longer
			// than an attempt's default 30 s; a timeout is not what is tested.
			c, mux, _ := setup(t, WithHTTPClient(&http.Client{Timeout: 10 * time.Minute}))
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
			c, mux, _ := setup(t, WithRetryMax(0))
			mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Write(tt.body)
			})
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := c.Sessions.List(context.Background(), "r", nil)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalidResponse) {
				t.Errorf("List error = %v, want one saying %q", err, tt.want)
			}
			// Everything the call (and the test server) allocated, garbage
			// included: an upper bound on the heap the call can have held.
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("allocated %.1f MiB", float64(allocated)/(1<<20))
			if allocated > maxBody {
				t.Errorf("the call allocated %d MiB, want under %d MiB", allocated>>20, maxBody>>20)
			}
		})
	}
}

// TestOnlyA200AnswersAGet: a 2xx other than 200 (or a proxy's 203) is not
// the answer to a GET, even when its body is a page.
func TestOnlyA200AnswersAGet(t *testing.T) {
	const page = `{"results":[{"user_id":"u1","resource_id":"r"}]}`
	tests := []struct {
		status int
		ok     bool
	}{
		{http.StatusOK, true},
		{http.StatusNonAuthoritativeInfo, true},
		{http.StatusCreated, false},
		{http.StatusAccepted, false},
		{http.StatusNoContent, false},
		{http.StatusResetContent, false},
		{http.StatusPartialContent, false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			c, mux, _ := setup(t)
			var requests atomic.Int32
			mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
				if tt.status == http.StatusPartialContent {
					w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/100", len(page)-1))
				}
				writeJSON(w, tt.status, page)
			}))
			_, err := c.Sessions.List(context.Background(), "r", nil)
			switch {
			case tt.ok && err != nil:
				t.Errorf("List: %v", err)
			case !tt.ok && !errors.Is(err, ErrInvalidResponse):
				t.Errorf("List error = %v, want one matching ErrInvalidResponse", err)
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("%d requests sent, want 1 (no retries)", n)
			}
		})
	}
}

// TestCompressedBodies: a gzip'd page decodes; one that arrived whole but
// does not decompress is the server's answer, not retried.
func TestCompressedBodies(t *testing.T) {
	gzipped := func(body string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(body))
		zw.Close()
		return b.Bytes()
	}
	page := gzipped(`{"results":[{"user_id":"u1","resource_id":"r"}]}`)
	badChecksum := bytes.Clone(page)
	badChecksum[len(badChecksum)-8] ^= 0xff // the CRC-32 in the trailer
	tests := []struct {
		name string
		body []byte
		want string // "" for the page
	}{
		{"a gzip'd page", page, ""},
		{"a bad checksum", badChecksum, "the body does not decompress: gzip: invalid checksum"},
		{"zeros after the stream", append(bytes.Clone(page), make([]byte, 16)...), "the body does not decompress: gzip: invalid header"},
		{"not gzip at all", []byte("{\"results\":[]}"), "the body does not decompress: gzip: invalid header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, _ := setup(t)
			var requests atomic.Int32
			mux.HandleFunc("/v1/sessions", countingHandler(&requests, func(w http.ResponseWriter, r *http.Request) {
				if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
					t.Error("the request does not accept gzip")
				}
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(tt.body)
			}))
			got, err := c.Sessions.List(context.Background(), "r", nil)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("List: %v", err)
			case tt.want == "":
				if diff := cmp.Diff(&SessionsList{Results: []Session{{UserID: "u1", ResourceID: "r"}}}, got); diff != "" {
					t.Errorf("List (-want +got):\n%s", diff)
				}
			case err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalidResponse):
				t.Errorf("List error = %v, want one saying %q", err, tt.want)
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("%d requests sent, want 1 (no retries)", n)
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
	got := listBody(t, strings.Replace(b.String(), fmt.Sprintf(`,"m%d":0`, maxMembers-1), "", 1))
	if got.Results == nil {
		t.Errorf("a page of %d members: %+v, want its results", maxMembers, got)
	}
	c, mux, _ := setup(t)
	mux.HandleFunc("/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.String())
	})
	_, err := c.Sessions.List(context.Background(), "r", nil)
	if want := fmt.Sprintf("more than %d members", maxMembers); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("List error = %v, want one saying %q", err, want)
	}
}
