package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opalclient/opal-go/opaltest"
)

// TestResourceCheckFollowsPages: the check that -resource-id's resources
// exist, and the lookup that names the resources of -user's grants, read
// every page of their list: a server whose pages are shorter than asked
// for (a short page with a next is not the end) must not make a resource
// that exists read as unknown, its rows dropped or its name lost.
func TestResourceCheckFollowsPages(t *testing.T) {
	srv := newOrg(t, testSessions(time.Now()))
	srv.AddAccess(grant(resource, userA, emailA, adminRoleLevel, nil, true, 1, ""),
		grant(orders, userB, emailB, adminRoleLevel, nil, true, 1, ""),
		grant(orders, userA, emailA, readOnlyRole, nil, true, 1, ""))
	env := proxyEnv(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
		if q := r.URL.Query(); r.URL.Path == "/v1/resources" && q.Has("page_size") {
			q.Set("page_size", "1") // a server whose pages are shorter than asked
			r.URL.RawQuery = q.Encode()
		}
		return false
	})
	tests := []struct {
		args []string
		want []string // in stdout
	}{
		{[]string{"access", "-resource-id", resource + "," + orders, "-no-sessions", "-sort", "resource"}, []string{"production", "orders-prod"}},
		{[]string{"sessions", "-resource-id", resource + "," + orders, "-ids"}, []string{resource, orders}},
		{[]string{"access", "-user", emailA, "-no-sessions", "-sort", "resource"}, []string{"production", "orders-prod"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCommand(t, env, tt.args...)
			checkOK(t, r)
			for _, want := range tt.want {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout lacks %s, on the second page of the check:\n%s", want, r.stdout)
				}
			}
		})
	}
}

var idField = regexp.MustCompile(`"(user_id|resource_id)":\s*"[^"]*"`)

// upperIDsEnv points the command at a server that answers as srv does, but
// writes the user and resource IDs in upper case in its answers to the
// requests that rewrite selects, as a server that normalises IDs may; as
// Opal, it takes IDs in any letter case (srv's are in lower case).
func upperIDsEnv(t *testing.T, srv *opaltest.Server, rewrite func(*http.Request) bool) []string {
	t.Helper()
	target, _ := url.Parse(strings.TrimSuffix(srv.URL, "/v1"))
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		u := r.Out.URL
		u.Path, u.RawPath = strings.ToLower(u.Path), ""
		q := u.Query()
		for _, key := range []string{"resource_id", "resource_ids", "user_id"} {
			if q.Has(key) {
				q.Set(key, strings.ToLower(q.Get(key)))
			}
		}
		u.RawQuery = q.Encode()
	}}
	proxy.ModifyResponse = func(resp *http.Response) error {
		if !rewrite(resp.Request) || resp.Header.Get("Content-Encoding") != "" {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		body = idField.ReplaceAllFunc(body, func(m []byte) []byte {
			colon := bytes.IndexByte(m, ':')
			return append(m[:colon:colon], bytes.ToUpper(m[colon:])...)
		})
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)
	return []string{"OPAL_BASE_URL=" + front.URL + "/v1", "OPAL_AUTH_TOKEN=" + srv.Token}
}

// TestIDsInAnyLetterCase: the opal package takes IDs in any letter case,
// and so does the command: a server that writes the IDs of users,
// resources or sessions in another case than the grants that name them
// blanks no RESOURCE or SESSION, and makes no user unknown; an ID given in
// upper case is found and swept as Opal writes it.
func TestIDsInAnyLetterCase(t *testing.T) {
	t.Run("access", func(t *testing.T) {
		// More than 10 users: the names come from Users.Get, then from a
		// walk of every user.
		srv := gridOrg(t, 2, 12)
		env := upperIDsEnv(t, srv, func(r *http.Request) bool {
			return r.URL.Path == "/v1/resources" || r.URL.Path == "/v1/users" || r.URL.Path == "/v1/user" || r.URL.Path == "/v1/sessions"
		})
		r := runCommand(t, env, "access", "-all", "-sort", "user")
		checkOK(t, r)
		rows := parseTable(r.stdout)
		if len(rows) != 1+2*12 {
			t.Fatalf("%d lines, want the header and 24 rows:\n%s", len(rows), r.stdout)
		}
		for _, row := range rows[1:] {
			// USER, RESOURCE, ACCESS LEVEL, HOW, EXPIRES, SESSION; no FLAGS.
			if len(row) != 6 || !strings.HasSuffix(row[0], "@example.com") || !strings.HasPrefix(row[1], "name-r00") || !strings.HasPrefix(row[5], "until ") {
				t.Errorf("row %q, want the user's email, the resource's name, the live session, and no flag", row)
			}
		}
	})
	t.Run("sessions", func(t *testing.T) {
		srv := gridOrg(t, 2, 2)
		env := upperIDsEnv(t, srv, func(r *http.Request) bool { return r.URL.Path == "/v1/resources" })
		r := runCommand(t, env, "sessions", "-all", "-sort", "resource")
		checkOK(t, r)
		for _, row := range parseTable(r.stdout)[1:] {
			if !strings.HasPrefix(row[1], "name-r00") {
				t.Errorf("row %q, want the resource's name", row)
			}
		}
	})
	t.Run("-resource-id in upper case", func(t *testing.T) {
		srv := newOrg(t, testSessions(time.Now()))
		srv.AddAccess(grant(resource, userA, emailA, adminRoleLevel, nil, true, 1, ""))
		// A server that finds IDs in any letter case.
		env := proxyEnv(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
			q := r.URL.Query()
			if ids := q.Get("resource_ids"); ids != "" {
				q.Set("resource_ids", strings.ToLower(ids))
				r.URL.RawQuery = q.Encode()
			}
			return false
		})
		r := runCommand(t, env, "access", "-resource-id", strings.ToUpper(resource))
		checkOK(t, r)
		if rows := parseTable(r.stdout); len(rows) != 2 || rows[1][0] != emailA || !strings.HasPrefix(rows[1][4], "until ") {
			t.Errorf("rows %q, want A's grant with its session", rows)
		}
	})
}
