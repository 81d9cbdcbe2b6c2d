package main

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// The access organisation: users of every status, grants of every kind on
// three resources, and sessions on some of them.
const (
	userC    = "c0000000-0000-4000-8000-00000000000c" // suspended
	userD    = "d0000000-0000-4000-8000-00000000000d" // deleted
	userE    = "e0000000-0000-4000-8000-00000000000e" // not found in the HR system
	userF    = "f0000000-0000-4000-8000-00000000000f" // a status the API may add
	userG    = "a0000000-0000-4000-8000-00000000000a" // no status
	stranger = "ffffffff-0000-4000-8000-000000000000" // unknown to Opal
)

var (
	adminRoleLevel = opal.ResourceAccessLevel{Name: "AdminRole", RemoteID: "arn:aws:iam::590304332660:role/AdministratorAccess"}
	readOnlyRole   = opal.ResourceAccessLevel{Name: "ReadOnlyRole", RemoteID: "arn:aws:iam::590304332660:role/ReadOnlyAccess"}
)

func grant(resourceID, userID, email string, level opal.ResourceAccessLevel, expires *time.Time, direct bool, paths int, propagation string) opal.ResourceAccessUser {
	return opal.ResourceAccessUser{ResourceID: resourceID, UserID: userID, Email: email, AccessLevel: level, ExpirationDate: expires,
		HasDirectAccess: direct, NumAccessPaths: paths, PropagationStatus: propagation}
}

func ptr(t time.Time) *time.Time { return &t }

// accessOrg starts the access organisation, with expiries relative to now.
func accessOrg(t *testing.T, now time.Time) (*opaltest.Server, []opal.ResourceAccessUser, []opal.Session) {
	t.Helper()
	grants := []opal.ResourceAccessUser{
		grant(resource, userA, emailA, adminRoleLevel, nil, false, 1, ""),                                            // 0
		grant(resource, userA, emailA, readOnlyRole, ptr(in(now, 3*time.Hour+12*time.Minute)), true, 1, ""),          // 1
		grant(resource, userB, emailB, adminRoleLevel, nil, true, 2, "SUCCESS"),                                      // 2
		grant(orders, userC, "c@company.dev", opal.ResourceAccessLevel{}, ptr(in(now, 45*time.Minute)), true, 1, ""), // 3
		grant(orders, userD, "d@company.dev", opal.ResourceAccessLevel{}, ptr(in(now, -time.Hour)), true, 1, ""),     // 4
		grant(okta, userE, "e@company.dev", opal.ResourceAccessLevel{}, nil, false, 1, "ERR_REMOTE_THROTTLE"),        // 5
		grant(okta, stranger, "", opal.ResourceAccessLevel{}, ptr(in(now, 52*time.Hour)), true, 1, "SUCCESS"),        // 6
		grant(okta, userF, "f@company.dev", opal.ResourceAccessLevel{}, nil, false, 3, ""),                           // 7
		grant(okta, userG, "g@company.dev", opal.ResourceAccessLevel{}, nil, true, 1, ""),                            // 8
	}
	sessions := []opal.Session{
		{UserID: userA, ResourceID: resource, AccessLevel: adminRoleLevel, ExpirationDate: in(now, 2*time.Hour)},     // on grant 0
		{UserID: userA, ResourceID: resource, AccessLevel: adminRoleLevel, ExpirationDate: in(now, time.Hour)},       // an earlier one: the later wins
		{UserID: userB, ResourceID: resource, AccessLevel: adminRoleLevel, ExpirationDate: in(now, -30*time.Minute)}, // over
		{UserID: userA, ResourceID: orders, AccessLevel: readOnlyRole, ExpirationDate: in(now, time.Hour)},           // under no grant
		{UserID: userC, ResourceID: orders, ExpirationDate: in(now, 40*time.Minute)},                                 // on grant 3
	}
	srv := newOrg(t, sessions)
	srv.AddUsers(
		opal.User{UserID: userC, Email: "c@company.dev", HRIDPStatus: opal.HRIDPStatusSuspended},
		opal.User{UserID: userD, Email: "d@company.dev", HRIDPStatus: opal.HRIDPStatusDeleted},
		opal.User{UserID: userE, Email: "e@company.dev", HRIDPStatus: opal.HRIDPStatusNotFound},
		opal.User{UserID: userF, Email: "f@company.dev", HRIDPStatus: "ON_LEAVE"},
		opal.User{UserID: userG, Email: "g@company.dev"},
	)
	srv.AddAccess(grants...)
	return srv, grants, sessions
}

// accessTable is the table of the grants at the indices given, with a
// RESOURCE column when several, a SESSION column when sessions.
func accessTable(g []opal.ResourceAccessUser, s []opal.Session, several, sessions bool, order ...int) [][]string {
	header := []string{"USER"}
	if several {
		header = append(header, "RESOURCE")
	}
	header = append(header, "ACCESS LEVEL", "HOW", "EXPIRES")
	if sessions {
		header = append(header, "SESSION")
	}
	header = append(header, "FLAGS")
	user := []string{emailA, emailA, emailB, "c@company.dev", "d@company.dev", "e@company.dev", stranger, "f@company.dev", "g@company.dev"}
	res := map[string]string{resource: "production", orders: "orders-prod", okta: "Salesforce"}
	how := []string{"group", "direct", "direct+group", "direct", "direct", "group", "direct", "group", "direct"}
	left := map[int]string{1: "3h12m", 3: "45m", 6: "2d4h"}
	session := map[int]string{0: untilText(s[0].ExpirationDate), 3: untilText(s[4].ExpirationDate)}
	flags := []string{"", "", "deprovisioned", "suspended", "deleted,expired", "not-in-idp,not-propagated", "unknown-user", "on-leave", ""}
	table := [][]string{header}
	for _, i := range order {
		row := []string{user[i]}
		if several {
			row = append(row, res[g[i].ResourceID])
		}
		expires := "never"
		switch {
		case i == 4:
			expires = at(*g[i].ExpirationDate) + " (expired)"
		case g[i].ExpirationDate != nil:
			expires = at(*g[i].ExpirationDate) + " (in " + left[i] + ")"
		}
		row = append(row, accessLevel(g[i].AccessLevel), how[i], expires)
		if sessions {
			row = append(row, cmpOr(session[i], "-"))
		}
		if flags[i] != "" {
			row = append(row, flags[i])
		}
		table = append(table, row)
	}
	return table
}

func cmpOr(s, or string) string {
	if s == "" {
		return or
	}
	return s
}

func TestAccessTable(t *testing.T) {
	tests := []struct {
		args     []string
		several  bool
		sessions bool
		order    []int
	}{
		{[]string{"-all", "-sort", "resource"}, true, true, []int{4, 3, 1, 0, 2, 6, 5, 7, 8}},
		// One -resource-id: in page order, no RESOURCE column.
		{[]string{"-resource-id", resource}, false, true, []int{0, 1, 2}},
		{[]string{"-resource-id", resource, "-no-sessions"}, false, false, []int{0, 1, 2}},
		{[]string{"-all", "-flagged", "-sort", "user"}, true, true, []int{3, 4, 5, 7, 6, 2}},
		{[]string{"-all", "-permanent", "-sort", "resource", "-no-sessions"}, true, false, []int{0, 2, 5, 7, 8}},
		{[]string{"-all", "-expiring-within", "46m", "-sort", "EXPIRES"}, true, true, []int{4, 3}},
		{[]string{"-all", "-expiring-within", "45m", "-sort", "expires"}, true, true, []int{4}},
		// -all that lists one resource still names it.
		{[]string{"-all", "-resource-type", "okta_app", "-sort", "expires"}, true, true, []int{6, 5, 7, 8}},
		{[]string{"-all", "-resource-name", "orders-prod", "-flagged"}, true, true, []int{3, 4}},
		{[]string{"-resource-id", okta, "-resource-id", orders, "-flagged", "-permanent", "-sort", "user"}, true, true, []int{5, 7}},
		// One person's reach names the resource, even when it is one.
		{[]string{"-user", emailA, "-sort", "expires"}, true, true, []int{1, 0}},
		{[]string{"-user-id", userC}, true, true, []int{3}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			srv, g, s := accessOrg(t, time.Now())
			r := runCommand(t, serverEnv(srv), append([]string{"access"}, tt.args...)...)
			checkOK(t, r)
			if diff := cmp.Diff(accessTable(g, s, tt.several, tt.sessions, tt.order...), parseTable(r.stdout)); diff != "" {
				t.Errorf("table (-want +got):\n%s", diff)
			}
			checkAligned(t, r.stdout)
		})
	}
}

// columnsOrg is one resource whose grants show every way of holding
// access, every status, and sessions that must and must not be joined.
func columnsOrg(t *testing.T, now time.Time) (*opaltest.Server, map[string]time.Time) {
	t.Helper()
	x := opal.ResourceAccessLevel{Name: "X", RemoteID: "rx"}
	y := opal.ResourceAccessLevel{Name: "Y", RemoteID: "ry"}
	srv := opaltest.NewServer()
	t.Cleanup(srv.Close)
	srv.AddResources(opal.Resource{ResourceID: "r1", Name: "one", ResourceType: opal.ResourceTypeOktaApp})
	srv.AddUsers(
		opal.User{UserID: "u1", Email: "u1@x.dev", HRIDPStatus: opal.HRIDPStatusActive},
		opal.User{UserID: "u2", Email: "u2@x.dev", HRIDPStatus: "suspended"}, // any letter case
		opal.User{UserID: "u3", Email: "u3@x.dev", HRIDPStatus: opal.HRIDPStatusNotFound},
		opal.User{UserID: "u4", Email: "u4@x.dev", HRIDPStatus: opal.HRIDPStatusDeprovisioned},
		opal.User{UserID: "u5", Email: "u5@x.dev", HRIDPStatus: opal.HRIDPStatusDeleted},
	)
	sessions := map[string]time.Time{
		"u1 Y":       in(now, 2*time.Hour),
		"u2 X":       in(now, 3*time.Hour),
		"u5 default": in(now, 26*time.Hour),
	}
	srv.AddAccess(
		grant("r1", "u1", "u1@x.dev", x, nil, true, 0, ""),                                  // direct, though no path is counted
		grant("r1", "u1", "u1@x.dev", y, nil, false, 1, ""),                                 // group
		grant("r1", "u2", "u2@x.dev", x, ptr(in(now, -2*time.Hour)), true, 1, "SUCCESS"),    // expired, with a live session
		grant("r1", "u3", "u3@x.dev", x, nil, true, 2, "err_remote_throttle"),               // direct+group, not propagated
		grant("r1", "u4", "u4@x.dev", x, ptr(in(now, 90*time.Minute)), false, 3, "PENDING"), // group; pending is no error
		grant("r1", "u5", "", opal.ResourceAccessLevel{}, nil, false, 2, ""),                // no email in the grant
		grant("r1", "u9", "ghost@x.dev", x, nil, true, 1, ""),                               // unknown to Opal
	)
	srv.AddSessions(
		opal.Session{ResourceID: "r1", UserID: "u1", AccessLevel: y, ExpirationDate: sessions["u1 Y"]},
		opal.Session{ResourceID: "r1", UserID: "u1", AccessLevel: x, ExpirationDate: in(now, -time.Hour)},                         // over
		opal.Session{ResourceID: "r1", UserID: "u2", AccessLevel: x, ExpirationDate: in(now, time.Hour)},                          // an earlier one
		opal.Session{ResourceID: "r1", UserID: "u2", AccessLevel: x, ExpirationDate: sessions["u2 X"]},                            // the later wins
		opal.Session{ResourceID: "r1", UserID: "u3", AccessLevel: y, ExpirationDate: in(now, time.Hour)},                          // another level
		opal.Session{ResourceID: "r1", UserID: "u4", AccessLevel: opal.ResourceAccessLevel{}, ExpirationDate: in(now, time.Hour)}, // default level, granted X
		opal.Session{ResourceID: "r1", UserID: "u5", ExpirationDate: sessions["u5 default"]},
		opal.Session{ResourceID: "r1", UserID: "u5", AccessLevel: x, ExpirationDate: in(now, 5*time.Hour)}, // a level u5 is not granted
	)
	return srv, sessions
}

// TestAccessColumns: HOW, EXPIRES, SESSION and FLAGS of grants of every
// kind, and -flagged, -permanent and -expiring-within on them.
func TestAccessColumns(t *testing.T) {
	now := time.Now()
	srv, s := columnsOrg(t, now)
	header := []string{"USER", "ACCESS LEVEL", "HOW", "EXPIRES", "SESSION", "FLAGS"}
	rows := map[string][]string{
		"ghost":   {"ghost@x.dev", "X", "direct", "never", "-", "unknown-user"},
		"u1 X":    {"u1@x.dev", "X", "direct", "never", "-"},
		"u1 Y":    {"u1@x.dev", "Y", "group", "never", untilText(s["u1 Y"])},
		"u2":      {"u2@x.dev", "X", "direct", "(expired)", untilText(s["u2 X"]), "suspended,expired"},
		"u3":      {"u3@x.dev", "X", "direct+group", "never", "-", "not-in-idp,not-propagated"},
		"u4":      {"u4@x.dev", "X", "group", "(in 1h30m)", "-", "deprovisioned"},
		"u5":      {"u5@x.dev", "(default)", "group", "never", untilText(s["u5 default"]), "deleted"},
		"u1 X ns": {"u1@x.dev", "X", "direct", "never"},
	}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"-sort", "user"}, []string{"ghost", "u1 X", "u1 Y", "u2", "u3", "u4", "u5"}},
		{[]string{"-sort", "user", "-flagged"}, []string{"ghost", "u2", "u3", "u4", "u5"}},
		{[]string{"-sort", "user", "-permanent"}, []string{"ghost", "u1 X", "u1 Y", "u3", "u5"}},
		{[]string{"-sort", "expires", "-expiring-within", "91m"}, []string{"u2", "u4"}},
		{[]string{"-sort", "expires", "-expiring-within", "90m"}, []string{"u2"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCommand(t, serverEnv(srv), append([]string{"access", "-resource-id", "r1"}, tt.args...)...)
			checkOK(t, r)
			want := [][]string{header}
			for _, k := range tt.want {
				want = append(want, rows[k])
			}
			got := parseTable(r.stdout)
			for _, row := range got[1:] {
				if len(row) > 3 { // EXPIRES: keep what does not depend on the clock
					if i := strings.Index(row[3], " ("); i >= 0 {
						row[3] = row[3][i+1:]
					}
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("table (-want +got):\n%s", diff)
			}
			checkAligned(t, r.stdout)
		})
	}
}

// TestAccessIDs: -ids shows IDs and looks no user up, so only the grants'
// own flags show; for one user, whose status is known, it shows too.
func TestAccessIDs(t *testing.T) {
	srv, _, _ := accessOrg(t, time.Now())
	r := runCommand(t, serverEnv(srv), "access", "-ids", "-resource-id", orders, "-no-sessions")
	checkOK(t, r)
	rows := parseTable(r.stdout)
	if len(rows) != 3 || rows[1][0] != userC || len(rows[1]) != 4 || rows[2][0] != userD || rows[2][4] != "expired" {
		t.Errorf("-ids: %q, want the IDs of C and D, and only D's grant flagged, as expired", rows)
	}
	if n := paths(srv)["/v1/user?user_id"]; n != 0 {
		t.Errorf("-ids looked %d users up", n)
	}
	r = runCommand(t, serverEnv(srv), "access", "-ids", "-user-id", userB, "-flagged")
	checkOK(t, r)
	if rows := parseTable(r.stdout); len(rows) != 2 || rows[1][0] != userB || rows[1][1] != resource || rows[1][6] != "deprovisioned" {
		t.Errorf("-ids -user-id: %q, want B's grant, on the resource named by its ID, flagged deprovisioned", rows)
	}
}

var idInPath = regexp.MustCompile(`^/v1/resources/(users/)?[^/]+(/users)?$`)

// accessPaths counts the requests srv received by path, with the IDs of
// the access endpoints' paths as placeholders.
func accessPaths(srv *opaltest.Server) map[string]int {
	n := paths(srv)
	for p, c := range n {
		if idInPath.MatchString(p) {
			delete(n, p)
			switch {
			case strings.HasPrefix(p, "/v1/resources/users/"):
				n["/v1/resources/users/{user_id}"] += c
			case strings.HasSuffix(p, "/users"):
				n["/v1/resources/{resource_id}/users"] += c
			}
		}
	}
	return n
}

// TestAccessRequests counts the requests of each kind: -user walks one
// user's grants and sweeps no resource's, nor looks another user up; the
// sessions are one sweep of the same resources (of that user's only, with
// -user), and none with -no-sessions.
func TestAccessRequests(t *testing.T) {
	// grid: 15 resources, each granted to 3 users, u001 among them.
	grid := func(t *testing.T) *opaltest.Server { return gridOrg(t, 15, 3) }
	tests := []struct {
		org     func(t *testing.T) *opaltest.Server // nil: the access organisation
		args    []string
		want    map[string]int
		user    string // the user of every sessions request; "" for any
		records int    // csv records, the header included; 0 for no csv
	}{
		{nil, []string{"-all"}, map[string]int{"/v1/resources": 1, "/v1/sessions": 3, "/v1/resources/{resource_id}/users": 3, "/v1/user?user_id": 8}, "", 0},
		{nil, []string{"-all", "-no-sessions", "-page-size", "2"}, map[string]int{"/v1/resources": 1, "/v1/resources/{resource_id}/users": 5, "/v1/user?user_id": 8}, "", 0},
		{nil, []string{"-resource-id", resource + "," + okta, "-permanent"}, map[string]int{"/v1/resources": 1, "/v1/sessions": 2, "/v1/resources/{resource_id}/users": 2, "/v1/user?user_id": 5}, "", 0},
		{nil, []string{"-user", emailA}, map[string]int{"/v1/user?email": 1, "/v1/resources/users/{user_id}": 1, "/v1/resources": 1, "/v1/sessions": 1}, userA, 0},
		{nil, []string{"-user", emailA, "-no-sessions", "-ids"}, map[string]int{"/v1/user?email": 1, "/v1/resources/users/{user_id}": 1}, userA, 0},
		{nil, []string{"-user-id", userA, "-page-size", "1"}, map[string]int{"/v1/user?user_id": 1, "/v1/resources/users/{user_id}": 2, "/v1/resources": 1, "/v1/sessions": 2}, userA, 0},
		// One walk of 4 pages for 15 grants, one check of the 15 resources.
		{grid, []string{"-user", "u001@example.com", "-page-size", "4", "-format", "csv"},
			map[string]int{"/v1/user?email": 1, "/v1/resources/users/{user_id}": 4, "/v1/resources": 1, "/v1/sessions": 15}, "u001", 16},
		{grid, []string{"-user", "u001@example.com", "-page-size", "4", "-format", "csv", "-no-sessions"},
			map[string]int{"/v1/user?email": 1, "/v1/resources/users/{user_id}": 4, "/v1/resources": 1}, "u001", 16},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var srv *opaltest.Server
			if tt.org != nil {
				srv = tt.org(t)
			} else {
				srv, _, _ = accessOrg(t, time.Now())
			}
			r := runCommand(t, serverEnv(srv), append([]string{"access"}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d; stderr: %s", r.code, r.stderr)
			}
			if diff := cmp.Diff(tt.want, accessPaths(srv)); diff != "" {
				t.Errorf("requests by path (-want +got):\n%s", diff)
			}
			if tt.records > 0 {
				if n := len(readCSV(t, r.stdout)); n != tt.records {
					t.Errorf("%d records, want %d", n, tt.records)
				}
			}
			for _, req := range srv.Requests() {
				if q := req.URL.Query(); req.URL.Path == "/v1/sessions" && tt.user != "" && q.Get("user_id") != tt.user {
					t.Errorf("a sessions request for -user asked for user_id %q, want %s", q.Get("user_id"), tt.user)
				}
				// One person's whole reach: the resources Opal does not
				// manage too.
				if q := req.URL.Query(); strings.HasPrefix(req.URL.Path, "/v1/resources/users/") && q.Get("include_unmanaged") != "true" {
					t.Errorf("%s asked for include_unmanaged=%q, want true", req.URL.Path, q.Get("include_unmanaged"))
				}
			}
		})
	}
}

// jsonGrant is a line of opal access -format json, decoded with the field
// names the command promises.
type jsonGrant struct {
	ResourceID  string `json:"resource_id"`
	UserID      string `json:"user_id"`
	Email       string `json:"email"`
	FullName    string `json:"full_name"`
	AccessLevel struct {
		Name     string `json:"access_level_name"`
		RemoteID string `json:"access_level_remote_id"`
	} `json:"access_level"`
	ExpirationDate    *time.Time `json:"expiration_date"`
	HasDirectAccess   bool       `json:"has_direct_access"`
	NumAccessPaths    int        `json:"num_access_paths"`
	PropagationStatus *struct {
		Status string `json:"status"`
	} `json:"propagation_status"`
	UserEmail        *string    `json:"user_email"`
	UserStatus       *string    `json:"user_status"`
	ResourceName     *string    `json:"resource_name"`
	SessionExpiresAt *time.Time `json:"session_expires_at"`
	Flags            []string   `json:"flags"`
}

func TestAccessJSON(t *testing.T) {
	srv, g, s := accessOrg(t, time.Now())
	r := runCommand(t, serverEnv(srv), "access", "-resource-id", resource+","+okta, "-format", "json")
	checkOK(t, r)
	got := map[string]jsonGrant{}
	for _, l := range decodeLines[jsonGrant](t, r.stdout) {
		got[l.UserID+" "+l.AccessLevel.Name] = l
	}
	str := func(s string) *string { return &s }
	want := map[string]jsonGrant{}
	add := func(i int, email, status, name *string, session *time.Time, propagation string, flags ...string) {
		j := jsonGrant{ResourceID: g[i].ResourceID, UserID: g[i].UserID, Email: g[i].Email, ExpirationDate: g[i].ExpirationDate,
			HasDirectAccess: g[i].HasDirectAccess, NumAccessPaths: g[i].NumAccessPaths, UserEmail: email, UserStatus: status,
			ResourceName: name, SessionExpiresAt: session, Flags: flags}
		j.AccessLevel.Name, j.AccessLevel.RemoteID = g[i].AccessLevel.Name, g[i].AccessLevel.RemoteID
		if propagation != "" {
			j.PropagationStatus = &struct {
				Status string `json:"status"`
			}{propagation}
		}
		if j.ExpirationDate != nil {
			j.ExpirationDate = ptr(j.ExpirationDate.UTC())
		}
		want[j.UserID+" "+j.AccessLevel.Name] = j
	}
	prod, sf := str("production"), str("Salesforce")
	add(0, str(emailA), str("ACTIVE"), prod, ptr(s[0].ExpirationDate), "")
	add(1, str(emailA), str("ACTIVE"), prod, nil, "")
	add(2, str(emailB), str("DEPROVISIONED"), prod, nil, "SUCCESS", "deprovisioned")
	add(5, str("e@company.dev"), str("NOT_FOUND"), sf, nil, "ERR_REMOTE_THROTTLE", "not-in-idp", "not-propagated")
	add(6, nil, nil, sf, nil, "SUCCESS", "unknown-user")
	add(7, str("f@company.dev"), str("ON_LEAVE"), sf, nil, "", "on-leave")
	add(8, str("g@company.dev"), nil, sf, nil, "")
	for k, j := range want {
		if j.Flags == nil {
			j.Flags = []string{}
			want[k] = j
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	if strings.Contains(r.stdout, `"flags":null`) {
		t.Errorf("a line has null flags:\n%s", r.stdout)
	}
	// Every member the command promises is on some line: the API's names
	// and the command's own.
	if n := strings.Count(r.stdout, "\n"); n != len(want) {
		t.Errorf("%d lines, want %d:\n%s", n, len(want), r.stdout)
	}
	seen := map[string]bool{}
	for line := range strings.Lines(r.stdout) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		for k := range m {
			seen[k] = true
		}
	}
	for _, k := range []string{"resource_id", "user_id", "email", "full_name", "access_level", "expiration_date", "has_direct_access",
		"num_access_paths", "propagation_status", "user_email", "user_status", "resource_name", "session_expires_at", "flags"} {
		if !seen[k] {
			t.Errorf("no line has %q", k)
		}
	}
}

func TestAccessCSV(t *testing.T) {
	now := time.Now()
	srv, g, s := accessOrg(t, now)
	r := runCommand(t, serverEnv(srv), "access", "-resource-id", orders, "-format", "csv", "-sort", "user")
	checkOK(t, r)
	got, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rfc := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	want := [][]string{
		{"user", "resource", "access_level", "how", "expires_at", "expires_in", "session_expires_at", "flags", "user_status", "user_id", "resource_id"},
		{"c@company.dev", "orders-prod", "(default)", "direct", rfc(*g[3].ExpirationDate), "45m", rfc(s[4].ExpirationDate), "suspended", "SUSPENDED", userC, orders},
		{"d@company.dev", "orders-prod", "(default)", "direct", rfc(*g[4].ExpirationDate), "expired", "", "deleted,expired", "DELETED", userD, orders},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	r = runCommand(t, serverEnv(srv), "access", "-resource-id", okta, "-format", "csv", "-permanent", "-no-sessions", "-sort", "user")
	got, _ = csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if len(got) != 4 || got[1][4] != "" || got[1][5] != "never" || got[1][6] != "" || got[1][7] != "not-in-idp,not-propagated" {
		t.Errorf("permanent grants in csv: %q; want no expires_at, expires_in never, no session", got)
	}
}

// TestExpiringWithinDays: -expiring-within takes days with a fraction and
// in any letter case, alone or with hours, as opal access filters on it.
func TestExpiringWithinDays(t *testing.T) {
	now := time.Now()
	srv := newOrg(t, nil)
	srv.AddAccess(grant(resource, userA, emailA, adminRoleLevel, ptr(in(now, 30*time.Hour)), true, 1, ""))
	for _, tt := range []struct {
		within string
		rows   int
	}{{"1.5d", 1}, {"1.5D", 1}, {"7D", 1}, {"1d", 0}, {"1d7h", 1}, {"1D5H", 0}, {"36h", 1}} {
		t.Run(tt.within, func(t *testing.T) {
			r := runCommand(t, serverEnv(srv), "access", "-resource-id", resource, "-no-sessions", "-expiring-within", tt.within)
			checkOK(t, r)
			if got := len(parseTable(r.stdout)) - 1; got != tt.rows {
				t.Errorf("%d rows, want %d:\n%s", got, tt.rows, r.stdout)
			}
		})
	}
}

// TestAccessUsageErrors: mistakes that need no request to see are usage
// errors, and nothing is sent.
func TestAccessUsageErrors(t *testing.T) {
	srv := newOrg(t, nil)
	tests := []struct {
		args []string
		want string
	}{
		{nil, "opal: pass -resource-id ID[,ID...] for some resources, -all for the whole organisation, or -user EMAIL for one person's grants"},
		{[]string{"-all", "-user", emailA}, "opal: -user or -user-id lists one person's grants on every resource: pass it without -resource-id or -all"},
		{[]string{"-resource-id", resource, "-user-id", userA}, "pass it without -resource-id or -all"},
		{[]string{"-all", "-permanent", "-expiring-within", "7d"}, "opal: -permanent keeps grants that never expire, -expiring-within grants that do: pass one of them"},
		{[]string{"-all", "-flagged", "-ids"}, "opal: -flagged needs each user's status, which -ids does not look up: drop -ids"},
		{[]string{"-all", "-sort", "flags"}, `opal: -sort "flags": want expires, user or resource`},
		{[]string{"-all", "-format", "json", "-sort", "user"}, "-sort is for -format table and csv"},
		{[]string{"-all", "-resource-type", "GITHUB_REPO"}, "did you mean GIT_HUB_REPO?"},
		{[]string{"-all", "-expiring-within", "1.5.5d"}, `-expiring-within "1.5.5d": want a duration`},
		{[]string{"-resource-id", resource, "-expiring-within", "1M"}, `opal: -expiring-within "1M": an M may mean a month or a minute: write m for minutes, or days for a month, such as 30d`},
		{[]string{"-all", "-page-size", "0"}, "-page-size 0: want 1 to 1000"},
		{[]string{"-all", "-expiring-within", "0"}, "want a duration above zero"},
		{[]string{"-all", "-expiring-within", "-1h"}, "want a duration"},
		{[]string{"-all", "-expiring-within", "1e9d"}, "want a duration"},
		{[]string{"-all", "-expiring-within", "1d-1h"}, "want a duration"},
		{[]string{"-all", "-expiring-within", "d"}, "want a duration"},
		{[]string{"-all", "-expiring-within", "999999999d"}, `-expiring-within "999999999d": too long`},
		{[]string{"-all", "-page-size", "1001"}, "-page-size 1001: want 1 to 1000"},
		{[]string{"-resource-id", resource + ",,"}, "holds an empty ID"},
		{[]string{"-resource-id", ""}, "holds an empty ID"},
		{[]string{"-all", "-resource-id", resource}, "-resource-id and -all both select resources"},
		{[]string{"-user", emailA, "-user-id", userA}, "-user and -user-id both select a user"},
		{[]string{"-resource-type", "okta_app"}, "-resource-type narrows -all"},
		{[]string{"-resource-name", "x"}, "-resource-name narrows -all"},
		{[]string{"-all", "-resource-type", "OKTA-APP"}, "did you mean OKTA_APP?"},
		{[]string{"-all", "-format", "xml"}, `-format "xml": want table, json or csv`},
		{[]string{"-all", "extra"}, `unexpected argument "extra"`},
		{[]string{"-all", "--", "-flagged"}, `unexpected argument "-flagged"`},
		{[]string{"-all", "-no-such"}, "flag provided but not defined: -no-such"},
		{[]string{"-user", ""}, "opal: -user is given an empty value (an unset variable?)"},
		{[]string{"-user-id="}, "opal: -user-id is given an empty value"},
		{[]string{"-all", "-sort", ""}, "opal: -sort is given an empty value"},
		{[]string{"-all", "-format", ""}, "opal: -format is given an empty value"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			checkFailed(t, runCommand(t, serverEnv(srv), append([]string{"access"}, tt.args...)...), exitUsage, tt.want)
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

// TestAccessUnknownUser: -user and -user-id name a user who must exist.
func TestAccessUnknownUser(t *testing.T) {
	srv, _, _ := accessOrg(t, time.Now())
	checkFailed(t, runCommand(t, serverEnv(srv), "access", "-user-id", stranger), exitFailure,
		"opal: no user with ID "+stranger+" in this Opal organisation; check the ID (opal users lists them)\n")
	checkFailed(t, runCommand(t, serverEnv(srv), "access", "-user", "nobody@company.dev"), exitFailure,
		"opal: no user with email \"nobody@company.dev\" in this Opal organisation\n")
}

// untilText is how SESSION shows a session that ends at t (the tests run
// with TZ=UTC): the time alone when that is today, else the date too.
func untilText(t time.Time) string {
	if t.UTC().Format("2006-01-02") == time.Now().UTC().Format("2006-01-02") {
		return "until " + t.UTC().Format("15:04 UTC")
	}
	return "until " + t.UTC().Format("2006-01-02 15:04 UTC")
}

// TestUntil: SESSION shows the date of a session that ends on another day,
// even within 24 hours, so that tomorrow's 04:00 does not read as a time
// already past today.
func TestUntil(t *testing.T) {
	now := time.Date(2026, 12, 7, 22, 0, 0, 0, time.Local)
	tests := []struct {
		end  time.Time
		want string
	}{
		{time.Time{}, ""},
		{now.Add(3 * time.Hour), "until " + now.Add(3*time.Hour).Format("2006-01-02 15:04 MST")}, // tomorrow, 01:00
		{now.Add(time.Hour), "until " + now.Add(time.Hour).Format("15:04 MST")},
		{now.Add(-time.Hour), "until " + now.Add(-time.Hour).Format("15:04 MST")},
		{now.Add(50 * time.Hour), "until " + now.Add(50*time.Hour).Format("2006-01-02 15:04 MST")},
	}
	for _, tt := range tests {
		if got := until(tt.end, now); got != tt.want {
			t.Errorf("until(%v) = %q, want %q", tt.end, got, tt.want)
		}
	}
}

// TestAccessSweepNotFound: a resource whose grants and sessions answer 404
// during the sweeps is warned about once and skipped, and every other row
// is there, with its session; when every resource's grants answer 404
// (resources checked to exist a moment before; in practice a proxy or
// gateway that does not serve the endpoint), the run fails rather than
// print an empty table, which would say nobody holds access.
func TestAccessSweepNotFound(t *testing.T) {
	t.Run("one resource gone", func(t *testing.T) {
		srv := gridOrg(t, 10, 3)
		env := proxyEnv(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == "/v1/resources/r003/users" || r.URL.Path == "/v1/sessions" && r.URL.Query().Get("resource_id") == "r003" {
				notFound(w)
				return true
			}
			return false
		})
		r := runCommand(t, env, "access", "-all", "-format", "csv", "-sort", "resource")
		if r.code != 0 || r.stderr != "opal: resource r003 not found (deleted?); skipped\n" {
			t.Errorf("exit %d, stderr %q; want 0 and one warning", r.code, r.stderr)
		}
		records := readCSV(t, r.stdout)
		if len(records) != 1+9*3 {
			t.Errorf("%d records, want the header and 27", len(records))
		}
		for _, rec := range records[1:] {
			if rec[10] == "r003" || rec[6] == "" {
				t.Errorf("record %q: of the resource gone, or without its session", rec)
			}
		}
	})
	srv := newOrg(t, testSessions(time.Now()))
	srv.AddAccess(grant(resource, userA, emailA, adminRoleLevel, nil, true, 1, ""),
		grant(orders, userB, emailB, adminRoleLevel, nil, true, 1, ""))
	env := proxyEnv(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/users") && strings.HasPrefix(r.URL.Path, "/v1/resources/") {
			notFound(w)
			return true
		}
		return false
	})
	for _, args := range [][]string{
		{"-resource-id", resource + "," + orders, "-no-sessions"},
		{"-all", "-sort", "user", "-format", "csv"},
	} {
		t.Run("every resource gone "+strings.Join(args, " "), func(t *testing.T) {
			r := runCommand(t, env, append([]string{"access"}, args...)...)
			checkFailed(t, r, exitFailure, "opal: none of the ")
			if !strings.HasSuffix(r.stderr, " resources could be read: each answered 404 Not Found (deleted since they were listed, or a proxy that does not serve this part of the API?)\n") {
				t.Errorf("stderr %q, want it to end saying that no resource could be read", r.stderr)
			}
		})
	}
}

// TestSessionUnknown: the grants on a resource whose sessions could not be
// read (a 404 during their sweep, warned about) show SESSION "unknown", not
// the "-" of no live session, in every format: here the user holds one,
// which was never read.
func TestSessionUnknown(t *testing.T) {
	s := testSessions(time.Now())
	srv := newOrg(t, s)
	srv.AddAccess(grant(orders, userA, emailA, opal.ResourceAccessLevel{}, nil, true, 1, ""),
		grant(resource, userA, emailA, adminRoleLevel, nil, true, 1, ""))
	env := proxyEnv(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v1/sessions" && r.URL.Query().Get("resource_id") == orders {
			notFound(w)
			return true
		}
		return false
	})
	args := []string{"access", "-resource-id", orders + "," + resource}
	warning := "opal: resource " + orders + " not found (deleted?); skipped\n"

	r := runCommand(t, env, append(args, "-sort", "resource")...)
	if r.code != 0 || r.stderr != warning {
		t.Fatalf("exit %d, stderr %q; want 0 and the warning", r.code, r.stderr)
	}
	want := [][]string{
		{"USER", "RESOURCE", "ACCESS LEVEL", "HOW", "EXPIRES", "SESSION", "FLAGS"},
		{emailA, "orders-prod", "(default)", "direct", "never", "unknown"},
		{emailA, "production", "AdminRole", "direct", "never", untilText(s[0].ExpirationDate)},
	}
	if diff := cmp.Diff(want, parseTable(r.stdout)); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}

	r = runCommand(t, env, append(args, "-sort", "resource", "-format", "csv")...)
	records := readCSV(t, r.stdout)
	if len(records) != 3 || records[1][6] != "unknown" || records[2][6] != s[0].ExpirationDate.UTC().Format(time.RFC3339) {
		t.Errorf("csv %q, want session_expires_at unknown on orders-prod, the session's end on production", records)
	}

	r = runCommand(t, env, append(args, "-format", "json")...)
	got := map[string]map[string]any{}
	for line := range strings.Lines(r.stdout) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		got[m["resource_id"].(string)] = m
	}
	if o := got[orders]; o == nil || o["session_unknown"] != true || o["session_expires_at"] != nil {
		t.Errorf("json of the grant on orders-prod: %v; want session_unknown true and no session_expires_at", o)
	}
	if p := got[resource]; p == nil || p["session_unknown"] != nil || p["session_expires_at"] == nil {
		t.Errorf("json of the grant on production: %v; want its session_expires_at and no session_unknown", p)
	}
}

// TestGrantFlags: FLAGS name the user's status when it is not active (in
// any letter case, spaces around it ignored), a user Opal does not know, a
// grant not propagated, and one past its expiry.
func TestGrantFlags(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	user := func(status string) *opal.User { return &opal.User{UserID: "u", HRIDPStatus: status} }
	tests := []struct {
		user       *opal.User
		lookedUp   bool
		status     string // propagation
		expiration *time.Time
		want       []string
	}{
		{user("ACTIVE"), true, "", nil, nil},
		{user("active"), true, "", nil, nil},
		{user("ACTIVE "), true, "", nil, nil},
		{user(" Active\t"), true, "SUCCESS", nil, nil},
		{user(""), true, "", nil, nil},
		{user("SUSPENDED"), true, "", nil, []string{"suspended"}},
		{user(" deprovisioned "), true, "", nil, []string{"deprovisioned"}},
		{user("NOT_FOUND"), true, "", nil, []string{"not-in-idp"}},
		{user("ON_LEAVE"), true, "", nil, []string{"on-leave"}},
		// A dotless i, which strings.ToUpper makes an I: no status of
		// Opal's, so shown, not taken for ACTIVE.
		{user("act\u0131ve"), true, "", nil, []string{"act\u0131ve"}},
		{nil, true, "", nil, []string{"unknown-user"}},
		{nil, false, "", nil, nil}, // -ids: not looked up
		{user("ACTIVE"), true, "err_remote_throttle", nil, []string{"not-propagated"}},
		{user("DELETED"), true, "ERR_X", ptr(now.Add(-time.Minute)), []string{"deleted", "not-propagated", "expired"}},
		{user("ACTIVE"), true, "", ptr(now.Add(time.Minute)), nil},
	}
	for _, tt := range tests {
		g := opal.ResourceAccessUser{UserID: "u", PropagationStatus: tt.status, ExpirationDate: tt.expiration}
		if got := grantFlags(g, tt.user, tt.lookedUp, now); !cmp.Equal(tt.want, got) {
			t.Errorf("grantFlags(%+v, user %+v, looked up %v) = %q, want %q", g, tt.user, tt.lookedUp, got, tt.want)
		}
	}
}

// TestHow: HOW from has_direct_access and num_access_paths; a grant that
// is not direct and has no path counted is not claimed to be a group's.
func TestHow(t *testing.T) {
	tests := []struct {
		direct bool
		paths  int
		want   string
	}{
		{true, 1, "direct"},
		{true, 0, "direct"}, // direct, though no path is counted
		{true, 2, "direct+group"},
		{false, 1, "group"},
		{false, 3, "group"},
		{false, 0, "unknown"},
		{false, -1, "unknown"},
	}
	for _, tt := range tests {
		if got := how(opal.ResourceAccessUser{HasDirectAccess: tt.direct, NumAccessPaths: tt.paths}); got != tt.want {
			t.Errorf("how(direct %v, %d paths) = %q, want %q", tt.direct, tt.paths, got, tt.want)
		}
	}
}
