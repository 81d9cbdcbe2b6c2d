package opaltest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

var query = url.Values{"resource_id": {resourceA}}

// TestStatusFaultRaw checks what a plain http.Client sees of a Status fault,
// and that the request after it is served normally.
func TestStatusFaultRaw(t *testing.T) {
	type answer struct {
		Status      int
		ContentType string
		RetryAfter  string
		Message     string
	}
	tests := []struct {
		name  string
		fault opaltest.Fault
		want  answer
	}{
		{"503", opaltest.Fault{Status: 503},
			answer{503, "application/json", "", "injected fault"}},
		{"429 with Retry-After rounded up", opaltest.Fault{Status: 429, RetryAfter: 1500 * time.Millisecond},
			answer{429, "application/json", "2", "injected fault"}},
		{"503 with Retry-After", opaltest.Fault{Status: 503, RetryAfter: 3 * time.Second},
			answer{503, "application/json", "3", "injected fault"}},
		{"404", opaltest.Fault{Status: 404},
			answer{404, "application/json", "", "injected fault"}},
		{"Retry-After without status is ignored", opaltest.Fault{RetryAfter: time.Second},
			answer{200, "application/json", "", ""}},
		{"status out of range", opaltest.Fault{Status: 42},
			answer{500, "application/json", "", "opaltest: Fault.Status 42 is not an HTTP status from 200 to 599"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := opaltest.NewServer(makeSessions(0, 1, resourceA)...)
			defer srv.Close()
			srv.Inject(tt.fault)

			resp, body, err := rawGet(t, srv, "/sessions", query)
			if err != nil {
				t.Fatal(err)
			}
			var msg struct{ Message string }
			if err := json.Unmarshal(body, &msg); err != nil {
				t.Fatalf("body is not JSON: %q", body)
			}
			got := answer{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), msg.Message}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("faulted answer (-want +got):\n%s", diff)
			}
			if p := getPage(t, srv, query); len(p.Results) != 1 {
				t.Errorf("after the fault: %d sessions, want 1", len(p.Results))
			}
		})
	}
}

// TestBodyFault: a Status fault with a Body sends that body as it is, with a
// sniffed Content-Type, as a proxy's error page arrives.
func TestBodyFault(t *testing.T) {
	const page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
	srv := opaltest.NewServer(makeSessions(0, 1, resourceA)...)
	defer srv.Close()
	srv.Inject(opaltest.Fault{Status: http.StatusBadGateway, Body: page, RetryAfter: time.Second})

	resp, body, err := rawGet(t, srv, "/sessions", query)
	if err != nil {
		t.Fatal(err)
	}
	type answer struct{ Status, ContentType, RetryAfter, Body string }
	want := answer{"502 Bad Gateway", "text/html; charset=utf-8", "1", page}
	got := answer{resp.Status, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), string(body)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("faulted answer (-want +got):\n%s", diff)
	}

	// Through the client, with retries off: the page's text is the message.
	srv.Inject(opaltest.Fault{Status: http.StatusBadGateway, Body: page})
	client, err := srv.Client(opal.WithRetryMax(0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Sessions.List(t.Context(), resourceA, nil)
	var apiErr *opal.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadGateway || apiErr.Message != "502 Bad Gateway nginx" {
		t.Errorf("List error = %#v, want a 502 *APIError with the page's text", err)
	}
}

// TestFaultsThroughClient checks each fault kind as the opal client meets
// it: retried to success, or reported as the error it should be.
func TestFaultsThroughClient(t *testing.T) {
	sessions := makeSessions(0, 3, resourceA)
	tests := []struct {
		name         string
		faults       []opaltest.Fault
		opts         []opal.Option
		wantErr      *opal.APIError // nil: the list must come back whole
		wantRequests int
	}{
		{"503 is retried", []opaltest.Fault{{Status: 503}}, nil, nil, 2},
		{"500, 502, 504 are retried", []opaltest.Fault{{Status: 500}, {Status: 502}, {Status: 504}}, nil, nil, 4},
		{"429 is retried", []opaltest.Fault{{Status: 429}}, nil, nil, 2},
		{"403 is not retried", []opaltest.Fault{{Status: 403}}, nil,
			&opal.APIError{StatusCode: 403, Message: "injected fault", Attempts: 1}, 1},
		{"retries run out", []opaltest.Fault{{Status: 503}, {Status: 503}}, []opal.Option{opal.WithRetryMax(1)},
			&opal.APIError{StatusCode: 503, Message: "injected fault", Attempts: 2}, 2},
		// Retry-After beyond the client's longest wait (5ms) fails at once and says how long.
		{"Retry-After longer than the wait", []opaltest.Fault{{Status: 429, RetryAfter: time.Second}}, nil,
			&opal.APIError{StatusCode: 429, Message: "injected fault", RetryAfter: time.Second, Attempts: 1}, 1},
		{"Reset is retried", []opaltest.Fault{{Reset: true}}, nil, nil, 2},
		{"Truncate is retried", []opaltest.Fault{{Truncate: true}}, nil, nil, 2},
		{"Delay alone answers normally", []opaltest.Fault{{Delay: 20 * time.Millisecond}}, nil, nil, 1},
		{"Delay past the client's timeout is retried", []opaltest.Fault{{Delay: time.Hour}},
			[]opal.Option{opal.WithHTTPClient(&http.Client{Transport: &timesOutOnce{timeout: 20 * time.Millisecond}})}, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := opaltest.NewServer(sessions...)
			defer srv.Close()
			srv.Inject(tt.faults...)
			client, err := srv.Client(tt.opts...)
			if err != nil {
				t.Fatal(err)
			}

			list, err := client.Sessions.List(t.Context(), resourceA, nil)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("List: %v", err)
				}
				if diff := cmp.Diff(sessions, list.Results); diff != "" {
					t.Errorf("List (-want +got):\n%s", diff)
				}
			} else {
				var apiErr *opal.APIError
				if !errors.As(err, &apiErr) {
					t.Fatalf("List error = %v, want an *opal.APIError", err)
				}
				got := &opal.APIError{StatusCode: apiErr.StatusCode, Message: apiErr.Message, RetryAfter: apiErr.RetryAfter, Attempts: apiErr.Attempts}
				if diff := cmp.Diff(tt.wantErr, got); diff != "" {
					t.Errorf("List error (-want +got):\n%s", diff)
				}
			}
			if n := len(srv.Requests()); n != tt.wantRequests {
				t.Errorf("server saw %d requests, want %d", n, tt.wantRequests)
			}
		})
	}
}

// timesOutOnce is a transport whose first request ends timeout after it
// was sent, without an answer, as an http.Client's Timeout ends an attempt
// that gets none; its later requests take as long as they take. However
// slow the machine, only the first attempt times out, and only once the
// server has it: its bytes are sent before its connection is dropped.
type timesOutOnce struct {
	timeout time.Duration
	first   sync.Once
}

func (t *timesOutOnce) RoundTrip(r *http.Request) (*http.Response, error) {
	first := false
	t.first.Do(func() { first = true })
	if !first {
		return http.DefaultTransport.RoundTrip(r)
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) {
			time.AfterFunc(t.timeout, func() { cancel(context.DeadlineExceeded) })
		},
	})
	resp, err := http.DefaultTransport.RoundTrip(r.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	// An answer in time: read whole before ctx ends.
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func TestResetRaw(t *testing.T) {
	srv := opaltest.NewServer(makeSessions(0, 1, resourceA)...)
	defer srv.Close()
	srv.Inject(opaltest.Fault{Reset: true})

	if resp, _, err := rawGet(t, srv, "/sessions", query); err == nil {
		t.Fatalf("Reset: got %s, want a transport error", resp.Status)
	}
	if p := getPage(t, srv, query); len(p.Results) != 1 {
		t.Errorf("after the Reset: %d sessions, want 1", len(p.Results))
	}
}

func TestTruncateRaw(t *testing.T) {
	srv := opaltest.NewServer(makeSessions(0, 5, resourceA)...)
	defer srv.Close()
	srv.Inject(opaltest.Fault{Truncate: true})

	resp, cut, err := rawGet(t, srv, "/sessions", query)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("reading a truncated body: err = %v, want io.ErrUnexpectedEOF", err)
	}
	resp2, whole, err := rawGet(t, srv, "/sessions", query)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.ContentLength != resp2.ContentLength || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("truncated answer: %s, Content-Length %d, Content-Type %q; want 200, %d, application/json",
			resp.Status, resp.ContentLength, resp.Header.Get("Content-Type"), resp2.ContentLength)
	}
	if len(cut) == 0 || len(cut) >= len(whole) || !bytes.HasPrefix(whole, cut) {
		t.Errorf("truncated body is not a proper prefix of the page:\ncut:   %s\nwhole: %s", cut, whole)
	}
}

func TestDelayRaw(t *testing.T) {
	const delay = 50 * time.Millisecond
	tests := []struct {
		fault      opaltest.Fault
		wantStatus int
	}{
		{opaltest.Fault{Delay: delay}, 200},
		{opaltest.Fault{Delay: delay, Status: 503}, 503},
	}
	for _, tt := range tests {
		srv := opaltest.NewServer()
		srv.Inject(tt.fault)
		start := time.Now()
		resp, _, err := rawGet(t, srv, "/sessions", query)
		elapsed := time.Since(start)
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tt.wantStatus || elapsed < delay {
			t.Errorf("%+v: %s after %v; want %d after at least %v", tt.fault, resp.Status, elapsed, tt.wantStatus, delay)
		}
	}
}

// TestFaultOrder checks that faults are taken one per request, in order,
// whatever the request, and that normal service resumes after them.
func TestFaultOrder(t *testing.T) {
	srv := opaltest.NewServer(makeSessions(0, 1, resourceA)...)
	defer srv.Close()
	srv.Inject(opaltest.Fault{}, opaltest.Fault{Status: 503}, opaltest.Fault{Status: 502})
	srv.Inject(opaltest.Fault{Status: 429}) // a later Inject queues behind

	var got []int
	for _, token := range []string{srv.Token, "", "", srv.Token, "", srv.Token} {
		resp, _, err := rawGet(t, srv, "/sessions", query, token)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, resp.StatusCode)
	}
	// Requests without the token take their faults too, then get 401.
	want := []int{200, 503, 502, 429, 401, 200}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestFaultPrecedence(t *testing.T) {
	srv := opaltest.NewServer(makeSessions(0, 1, resourceA)...)
	defer srv.Close()
	srv.Inject(
		opaltest.Fault{Reset: true, Truncate: true, Status: 503},
		opaltest.Fault{Truncate: true, Status: 503},
	)
	if _, _, err := rawGet(t, srv, "/sessions", query); err == nil || errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Reset+Truncate+Status: err = %v, want a dropped connection before any answer", err)
	}
	if resp, _, err := rawGet(t, srv, "/sessions", query); !errors.Is(err, io.ErrUnexpectedEOF) || resp.StatusCode != 200 {
		t.Errorf("Truncate+Status: err = %v, want a 200 cut short", err)
	}
}

// TestFaultsOnEveryEndpoint: faults are taken by requests to any endpoint,
// and a Truncate cuts the answer that endpoint would have given.
func TestFaultsOnEveryEndpoint(t *testing.T) {
	srv := opaltest.NewServer(makeSessions(0, 3, resourceA)...)
	defer srv.Close()
	srv.AddUsers(makeUsers(0, 3)...)
	srv.AddResources(organisation...)
	srv.AddAccess(grants...)

	tests := []struct {
		path  string
		query url.Values
	}{
		{"/sessions", query},
		{"/users", nil},
		{"/user", url.Values{"email": {"user1@acme-corp.dev"}}},
		{"/resources", url.Values{"resource_type_filter": {"AWS_IAM_ROLE"}}},
		{"/resources/admin", nil},
		{"/resources/" + resourceA + "/users", nil},
		{"/resources/users/" + userA, url.Values{"include_unmanaged": {"false"}}},
	}
	for _, tt := range tests {
		srv.Inject(opaltest.Fault{Status: http.StatusServiceUnavailable}, opaltest.Fault{Truncate: true})
		if resp, _, err := rawGet(t, srv, tt.path, tt.query); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("GET %s with a 503 fault: %v, %v; want 503", tt.path, resp, err)
		}
		_, cut, err := rawGet(t, srv, tt.path, tt.query)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("GET %s with a Truncate fault: err = %v, want io.ErrUnexpectedEOF", tt.path, err)
		}
		resp, whole, err := rawGet(t, srv, tt.path, tt.query)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s after the faults: %v, %v; want 200", tt.path, resp, err)
		}
		if len(cut) == 0 || !bytes.HasPrefix(whole, cut) {
			t.Errorf("GET %s: truncated body %q is not a prefix of %q", tt.path, cut, whole)
		}
	}
}

// TestSuccessFaultIsNotAnEmptyPage: Fault{Status: 200} answers a 200 that
// is not a page; every list and lookup of an opal.Client reports it as an
// error matching opal.ErrInvalidResponse, without retrying, and All and
// AllOf do not end as if the list were complete.
func TestSuccessFaultIsNotAnEmptyPage(t *testing.T) {
	srv := opaltest.NewServer(makeSessions(0, 3, resourceA)...)
	defer srv.Close()
	srv.AddUsers(opal.User{UserID: "u1", Email: "u1@acme-corp.dev"})
	srv.AddResources(opal.Resource{ResourceID: resourceA, Name: "prod"})
	srv.AddAccess(grants...)
	client, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"Sessions.List":  func() error { _, err := client.Sessions.List(t.Context(), resourceA, nil); return err },
		"Sessions.All":   func() error { return firstError(client.Sessions.All(t.Context(), resourceA, nil)) },
		"Sessions.AllOf": func() error { return firstError(client.Sessions.AllOf(t.Context(), []string{resourceA}, nil)) },
		"Users.List":     func() error { _, err := client.Users.List(t.Context(), nil); return err },
		"Users.Get":      func() error { _, err := client.Users.Get(t.Context(), "u1"); return err },
		"Resources.List": func() error { _, err := client.Resources.List(t.Context(), nil); return err },
		"Resources.Get":  func() error { _, err := client.Resources.Get(t.Context(), resourceA); return err },
		"Access.List":    func() error { _, err := client.Access.List(t.Context(), resourceA, nil); return err },
		"Access.All":     func() error { return firstError(client.Access.All(t.Context(), resourceA, nil)) },
		"Access.AllOf":   func() error { return firstError(client.Access.AllOf(t.Context(), []string{resourceA}, nil)) },
		"Access.AllForUser": func() error {
			return firstError(client.Access.AllForUser(t.Context(), userA, nil))
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			before := len(srv.Requests())
			srv.Inject(opaltest.Fault{Status: http.StatusOK})
			if err := call(); !errors.Is(err, opal.ErrInvalidResponse) {
				t.Errorf("error = %v, want one matching opal.ErrInvalidResponse", err)
			}
			if n := len(srv.Requests()) - before; n != 1 {
				t.Errorf("%d requests, want 1 (no retries)", n)
			}
		})
	}
}

// firstError ranges over seq and returns its first error, if any.
func firstError[T any](seq iter.Seq2[T, error]) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return nil
}
