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

// decodePageAs runs a body through the client's own decoding of a 200 page
// of at most 1000 items, made public by public as List makes it.
func decodePageAs[W, T any](body []byte, public func(*Page[W]) *Page[T]) (*Page[T], error) {
	resp := &http.Response{
		StatusCode:    http.StatusOK,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
	}
	var p *Page[W]
	err := decodeBody(resp, "a page", testToken, func(dec *json.Decoder) (err error) {
		p, err = decodePage[W](dec, MaxPageSize)
		return err
	})
	if err != nil {
		return nil, err
	}
	return public(p), nil
}

// fuzzDecodeList fuzzes the decoding of a page of a list, whose items'
// public type is T, seeded with the published example in the file example and with
// seeds: decoding any body never panics; json.Unmarshal into Page[T] agrees with
// what the client decodes; and that re-encodes and decodes to the same value.
func fuzzDecodeList[W, T any](f *testing.F, example string, public func(*Page[W]) *Page[T], seeds ...string) {
	body, err := os.ReadFile(example)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(body)
	for _, seed := range seeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodePageAs(body, public)
		if err != nil {
			return
		}
		direct := new(Page[T])
		// The client skips a byte-order mark, which json.Unmarshal refuses.
		if err := json.Unmarshal(bytes.TrimPrefix(body, []byte(utf8BOM)), direct); err != nil {
			t.Fatalf("the client decoded %q but json.Unmarshal failed: %v", body, err)
		}
		if diff := cmp.Diff(got, direct); diff != "" {
			t.Fatalf("json.Unmarshal disagrees with the client on %q (-client +Unmarshal):\n%s", body, diff)
		}
		encoded, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", got, err)
		}
		again, err := decodePageAs(encoded, public)
		if err != nil {
			t.Fatalf("decoding the re-encoded %q: %v", encoded, err)
		}
		if diff := cmp.Diff(got, again); diff != "" {
			t.Fatalf("round trip of %q changed the value (-first +second):\n%s", body, diff)
		}
	})
}

// FuzzDecodeSessionsList, FuzzDecodeUsersList, FuzzDecodeResourcesList,
// FuzzDecodeAccessList: see fuzzDecodeList.
func FuzzDecodeSessionsList(f *testing.F) {
	fuzzDecodeList(f, "testdata/reference_example.json", new(SessionsService).byResource("r", nil).public,
		`{"next":null,"previous":null,"results":[]}`,
		`{"results":[{"connection_id":"c","access_level":{"access_level_name":"AdminRole","access_level_remote_id":"arn:aws:iam::1:role/A"},"expiration_date":"2016-12-31t23:59:60.5+05:30"}]}`,
	)
}

func FuzzDecodeUsersList(f *testing.F) {
	fuzzDecodeList(f, "testdata/users_example.json", new(UsersService).listing(nil).public,
		`{"next":null,"previous":null,"results":null}`,
		`{"results":[{"user_id":"u","email":"Jane@Company.dev","first_name":"Jane","last_name":null,"hr_idp_status":"ACTIVE","scim":{"id":1}}]}`,
	)
}

func FuzzDecodeResourcesList(f *testing.F) {
	fuzzDecodeList(f, "testdata/resources_example.json", new(ResourcesService).listing(nil).public,
		`{"next":"n","results":[]}`,
		`{"results":[{"resource_id":"r","resource_type":"AWS_IAM_ROLE","max_duration":-1,"recommended_duration":0,"is_requestable":true,"remote_id":5,"ancestor_resource_ids":["p"]}]}`,
	)
}

func FuzzDecodeAccessList(f *testing.F) {
	fuzzDecodeList(f, "testdata/access_example.json", new(AccessService).byResource("r", nil).public,
		`{"next":"n","previous":null,"results":[]}`,
		`{"results":[{"resource_id":"r","user_id":"u","access_level":{"access_level_name":"Reader","access_level_remote_id":"reader"},"expiration_date":null,"has_direct_access":false,"num_access_paths":2,"propagation_status":{"status":"ERR_REMOTE_THROTTLE"}}]}`,
		`{"results":[{"user_id":"u","expiration_date":"2016-12-31t23:59:60.5+05:30","propagation_status":null},{"user_id":"u","propagation_status":{}}]}`,
	)
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

// FuzzRedact: whatever text holds, redacting the token leaves no form of it
// that redaction would find again, and redacts nothing when the text holds
// no escape and not the token; redacting it as a cut text also leaves no
// start of the token of minCutStart bytes or more at its end, and redacting
// its pieces leaves none of minFreeSecret bytes, nor its start, anywhere.
func FuzzRedact(f *testing.F) {
	for _, seed := range []string{
		testToken, `{"message":"bad token ` + testToken + `"}`, `\u006fpal-test-token-7Yq2Lw9Zx4`,
		"opal%2Dtest-token-7Yq2Lw9Zx4", "&#111;pal-test-token-7Yq2Lw9Zx4", `\\\"` + testToken, "resource not found",
		"cut at opal-test-tok", `cut at \u006fpal-te\u00`,
		"opal&#45test&#x2Dtoken-7Yq2Lw9Zx4", "&ampopal-test-token-7Yq2Lw9Zx4&#4", "&DiacriticalGrave;&plus;&#x2B1&QUOT",
		"cut at opal&#45test&DiacriticalGr", `invalid port ":opal-test" after host`, "7Yq2Lw9Zx4 and token-7Y",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := redactString(s, testToken)
		if holdsSecret(r, testToken) {
			t.Fatalf("redacting %q left a form of the token: %q", s, r)
		}
		if !strings.ContainsAny(s, `\%&`) && !strings.Contains(s, testToken) && r != s {
			t.Fatalf("redacting %q, which holds neither the token nor an escape, changed it to %q", s, r)
		}
		cut := redactCut(s, testToken)
		if holdsSecret(cut, testToken) {
			t.Fatalf("redacting %q as a cut text left a form of the token: %q", s, cut)
		}
		for n := minCutStart; n < len(testToken); n++ {
			if strings.HasSuffix(cut, testToken[:n]) {
				t.Fatalf("redacting %q as a cut text left the token's start %q at its end: %q", s, testToken[:n], cut)
			}
		}
		p := redactPieces(s, testToken)
		holdsPiece := false
		for i := 0; i+minFreeSecret <= len(testToken); i++ {
			piece := testToken[i : i+minFreeSecret]
			if strings.Contains(p, piece) {
				t.Fatalf("redacting the pieces of the token in %q left %q: %q", s, piece, p)
			}
			holdsPiece = holdsPiece || strings.Contains(s, piece)
		}
		// Shorter pieces, such as the token's start "opal", are words too.
		if !strings.ContainsAny(s, `\%&`) && !holdsPiece && p != s {
			t.Fatalf("redacting the pieces of the token in %q, which holds no escape and no %d bytes of it in a row, changed it to %q", s, minFreeSecret, p)
		}
	})
}
