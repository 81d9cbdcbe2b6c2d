package opal

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// decodeList runs a body through the client's own decoding of a 200 page
// of sessions, of at most 1000.
func decodeList(body []byte) (*SessionsList, error) {
	resp := &http.Response{
		StatusCode:    http.StatusOK,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
	}
	var p *page[wireSession]
	err := decodeBody(resp, "a page of sessions", testToken, func(dec *json.Decoder) (err error) {
		p, err = decodePage[wireSession](dec, maxPageSize)
		return err
	})
	if err != nil {
		return nil, err
	}
	return sessionsList(p), nil
}

// FuzzDecodeSessionsList: decoding any body never panics; what decodes
// re-encodes and decodes to the same value, and json.Unmarshal into the
// public types agrees with the client's decoding.
func FuzzDecodeSessionsList(f *testing.F) {
	example, err := os.ReadFile("testdata/reference_example.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(`{"next":null,"previous":null,"results":[]}`))
	f.Add([]byte(`{"results":[{"connection_id":"c","access_level":{"access_level_name":"AdminRole","access_level_remote_id":"arn:aws:iam::1:role/A"},"expiration_date":"2016-12-31t23:59:60.5+05:30"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodeList(body)
		if err != nil {
			return
		}
		var direct SessionsList
		// The client skips a byte-order mark, which json.Unmarshal refuses.
		if err := json.Unmarshal(bytes.TrimPrefix(body, []byte(utf8BOM)), &direct); err != nil {
			t.Fatalf("the client decoded %q but json.Unmarshal failed: %v", body, err)
		}
		if diff := cmp.Diff(got, &direct); diff != "" {
			t.Fatalf("json.Unmarshal disagrees with the client on %q (-client +Unmarshal):\n%s", body, diff)
		}
		encoded, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", got, err)
		}
		again, err := decodeList(encoded)
		if err != nil {
			t.Fatalf("decoding the re-encoded %q: %v", encoded, err)
		}
		if diff := cmp.Diff(got, again); diff != "" {
			t.Fatalf("round trip of %q changed the value (-first +second):\n%s", body, diff)
		}
	})
}

// FuzzAPIError: building an APIError from any status, body and headers never
// panics and never keeps the token, even when the body holds it.
func FuzzAPIError(f *testing.F) {
	f.Add(404, []byte(`{"message":"resource not found"}`), "", "")
	f.Add(429, []byte(`{"Message":"rate limited"}`), "120", "req-1")
	f.Add(502, []byte("<html><title>502 Bad Gateway</title></html>"), "", "")
	f.Add(400, []byte(`{"message":"bad token `+testToken+`"}`), "Thu, 26 Nov 2026 12:00:30 GMT", testToken)
	f.Add(0, []byte(nil), "-1", "")
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter, requestID string) {
		header := http.Header{"Retry-After": {retryAfter}, "X-Request-Id": {requestID}}
		e := newAPIError("GET", "/v1/sessions", status, header, body, testToken)
		for what, text := range map[string]string{"Error()": e.Error(), "Message": e.Message, "Body": string(e.Body), "RequestID": e.RequestID} {
			if strings.Contains(text, testToken) {
				t.Fatalf("%s holds the token", what)
			}
		}
		if len(e.Body) > maxKeptBody || e.RetryAfter < 0 || e.StatusCode != status {
			t.Fatalf("APIError out of bounds: %d body bytes, RetryAfter %v, status %d", len(e.Body), e.RetryAfter, e.StatusCode)
		}
	})
}

// FuzzBaseURL: NewClient never panics on a base URL, and what it accepts is
// https, or plain http to a loopback host, with a host and no credentials.
func FuzzBaseURL(f *testing.F) {
	for _, seed := range []string{
		DefaultBaseURL, "https://opal.example.com", "http://localhost:8080/", "http://127.0.0.1:1/v1",
		"http://[::1]/", "http://opal.example.com", "https://user:pw@opal.example.com", "ftp://x", "api.opal.dev/v1",
		"http://[::ffff:127.0.0.1]/", "http://0x7f.1/", "http://127.0.0.1.nip.io/", "https://exa mple.com",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := NewClient(testToken, WithBaseURL(raw))
		if err != nil {
			if c != nil {
				t.Fatalf("NewClient(%q) returned a client with its error", raw)
			}
			return
		}
		u := c.base
		if u.Hostname() == "" || u.User != nil || u.Path == "" {
			t.Fatalf("accepted %q as %q: no host, credentials or no path", raw, u)
		}
		switch u.Scheme {
		case "https":
		case "http":
			if !isLoopback(u.Hostname()) {
				t.Fatalf("accepted plain http to %q, not a loopback host", u.Hostname())
			}
		default:
			t.Fatalf("accepted scheme %q in %q", u.Scheme, raw)
		}
	})
}
