package opal_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
)

// TestUndecodableBodiesAreRefused: a 2xx whose body is not JSON, not whole
// JSON, or JSON whose fields are not of their types, is an error that says
// what was wrong, in the API's words, and no retry can mend it. (A body that
// is JSON but not a page: TestListsRefuseASuccessThatIsNotAPage.)
func TestUndecodableBodiesAreRefused(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		want        string
	}{
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
			if !errors.Is(err, opal.ErrInvalidResponse) {
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
				fmt.Fprint(w, "\uFEFF"+` {"results":[{"user_id":"u1","resource_id":"r","expiration_date":"2030-01-01T00:00:00Z"}]}`)
			})
			got, err := c.Sessions.List(context.Background(), "r", nil)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if diff := cmp.Diff(&opal.SessionsList{Results: []opal.Session{{UserID: "u1", ResourceID: "r", ExpirationDate: in2030}}}, got); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOnlyA200AnswersAGet: a 2xx other than 200 (or a proxy's 203) is not
// the answer to a GET, even when its body is a page.
func TestOnlyA200AnswersAGet(t *testing.T) {
	const page = `{"results":[{"user_id":"u1","resource_id":"r","expiration_date":"2030-01-01T00:00:00Z"}]}`
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
			case !tt.ok && !errors.Is(err, opal.ErrInvalidResponse):
				t.Errorf("List error = %v, want one matching ErrInvalidResponse", err)
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("%d requests sent, want 1 (no retries)", n)
			}
		})
	}
}

// gzipped is body compressed with gzip, as a server sends it with
// Content-Encoding: gzip.
func gzipped(body string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(body))
	zw.Close()
	return b.Bytes()
}

// TestCompressedBodies: a gzip'd page decodes; one that arrived whole but
// does not decompress is the server's answer, not retried.
func TestCompressedBodies(t *testing.T) {
	page := gzipped(`{"results":[{"user_id":"u1","resource_id":"r","expiration_date":"2030-01-01T00:00:00Z"}]}`)
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
				if diff := cmp.Diff(&opal.SessionsList{Results: []opal.Session{{UserID: "u1", ResourceID: "r", ExpirationDate: in2030}}}, got); diff != "" {
					t.Errorf("List (-want +got):\n%s", diff)
				}
			case err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, opal.ErrInvalidResponse):
				t.Errorf("List error = %v, want one saying %q", err, tt.want)
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("%d requests sent, want 1 (no retries)", n)
			}
		})
	}
}
