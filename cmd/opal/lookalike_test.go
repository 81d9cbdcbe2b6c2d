package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
	"github.com/opalclient/opal-go/opaltest"
)

// lookAlikes are pairs of IDs that differ in one character only, which
// Unicode's case mapping or folding takes for an ASCII letter: strings.ToLower
// turns the Kelvin sign (U+212A) into k and the capital I with a dot above
// (U+0130) into i, and strings.EqualFold takes the Kelvin sign for k and the
// long s (U+017F) for s. Each pair is two users, or two resources, that the
// command must keep apart.
var lookAlikes = []struct {
	name         string
	ascii, alike string // the parts of the IDs that differ
}{
	{"Kelvin sign", "k", "\u212A"},
	{"long s", "s", "\u017F"},
	{"capital I with a dot", "i", "\u0130"},
}

// csvByID indexes the records of access's csv by the ID in column col
// (9: user_id, 10: resource_id), failing on one seen twice.
func csvByID(t *testing.T, out string, col int) map[string][]string {
	t.Helper()
	records := readCSV(t, out)
	byID := map[string][]string{}
	for _, rec := range records[1:] {
		if _, twice := byID[rec[col]]; twice {
			t.Errorf("two records of %q:\n%s", rec[col], out)
		}
		byID[rec[col]] = rec
	}
	return byID
}

// TestLookAlikeUsers: two users whose IDs differ in a character that
// Unicode takes for an ASCII letter are two users. Each grant shows its
// own user's email and status, looked up by Users.Get or in the walk of
// every user (more than 10 users need a name); a look-alike that Opal does
// not know stays unknown, and the known one is not made unknown; and the
// live session of one is never shown as the other's SESSION.
func TestLookAlikeUsers(t *testing.T) {
	for _, la := range lookAlikes {
		for _, tt := range []struct {
			name         string
			others       int  // users granted the resource before the pair: more than 10 make the lookups a walk
			alikeUnknown bool // the look-alike user is unknown to Opal
		}{
			{name: "looked up by Get"},
			{name: "unknown to Opal", alikeUnknown: true},
			{name: "looked up in a walk", others: 11},
		} {
			t.Run(la.name+"/"+tt.name, func(t *testing.T) {
				now := time.Now()
				userID, alikeID := la.ascii+"ate-0001", la.alike+"ate-0001"
				srv := opaltest.NewServer()
				t.Cleanup(srv.Close)
				srv.AddResources(opal.Resource{ResourceID: "r1", Name: "one", ResourceType: opal.ResourceTypeOktaApp})
				for i := range tt.others {
					srv.AddUsers(opal.User{UserID: gridUser(i), Email: gridUser(i) + "@example.com", HRIDPStatus: opal.HRIDPStatusActive})
					srv.AddAccess(grant("r1", gridUser(i), "", opal.ResourceAccessLevel{}, nil, true, 1, ""))
				}
				srv.AddUsers(opal.User{UserID: userID, Email: "one@corp.example", HRIDPStatus: opal.HRIDPStatusActive})
				if !tt.alikeUnknown {
					srv.AddUsers(opal.User{UserID: alikeID, Email: "other@corp.example", HRIDPStatus: opal.HRIDPStatusDeprovisioned})
				}
				// The grants carry no email: USER comes from the lookup.
				srv.AddAccess(grant("r1", userID, "", adminRoleLevel, nil, true, 1, ""),
					grant("r1", alikeID, "", adminRoleLevel, nil, true, 1, ""))
				session := in(now, 2*time.Hour)
				srv.AddSessions(opal.Session{ResourceID: "r1", UserID: userID, AccessLevel: adminRoleLevel, ExpirationDate: session})

				r := runCommand(t, serverEnv(srv), "access", "-resource-id", "r1", "-format", "csv")
				checkOK(t, r)
				byID := csvByID(t, r.stdout, 9)
				// user, session_expires_at, flags, user_status
				want := map[string][]string{
					userID:  {"one@corp.example", session.UTC().Format(time.RFC3339), "", opal.HRIDPStatusActive},
					alikeID: {"other@corp.example", "", "deprovisioned", opal.HRIDPStatusDeprovisioned},
				}
				if tt.alikeUnknown {
					want[alikeID] = []string{alikeID, "", "unknown-user", ""}
				}
				got := map[string][]string{}
				for _, id := range []string{userID, alikeID} {
					if rec := byID[id]; rec != nil {
						got[id] = []string{rec[0], rec[6], rec[7], rec[8]}
					}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("the pair's user, session_expires_at, flags, user_status (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// lookAlikeOrg is an organisation of two resources whose IDs differ in a
// character that Unicode takes for an ASCII letter, both granted to user A,
// who holds a live session on the look-alike only. It returns the server,
// the two IDs and the end of the session.
func lookAlikeOrg(t *testing.T, ascii, alike string) (srv *opaltest.Server, id, alikeID string, session time.Time) {
	t.Helper()
	id, alikeID = "res-"+ascii+"1", "res-"+alike+"1"
	session = in(time.Now(), 2*time.Hour)
	srv = opaltest.NewServer()
	t.Cleanup(srv.Close)
	srv.AddUsers(testUsers...)
	srv.AddResources(opal.Resource{ResourceID: id, Name: "plain", ResourceType: opal.ResourceTypeOktaApp},
		opal.Resource{ResourceID: alikeID, Name: "look-alike", ResourceType: opal.ResourceTypeOktaApp})
	srv.AddAccess(grant(id, userA, emailA, adminRoleLevel, nil, true, 1, ""),
		grant(alikeID, userA, emailA, adminRoleLevel, nil, true, 1, ""))
	srv.AddSessions(opal.Session{ResourceID: alikeID, UserID: userA, AccessLevel: adminRoleLevel, ExpirationDate: session})
	return srv, id, alikeID, session
}

// TestLookAlikeResources: two resources whose IDs differ in a character
// that Unicode takes for an ASCII letter are two resources, however they
// are selected: each is swept, each grant shows its own resource's name,
// and a live session on one is the SESSION of the grant on it only.
func TestLookAlikeResources(t *testing.T) {
	for _, la := range lookAlikes {
		srv, id, alikeID, session := lookAlikeOrg(t, la.ascii, la.alike)
		for _, args := range [][]string{
			{"-all"},
			{"-resource-id", id + "," + alikeID},
			{"-user", emailA},
		} {
			t.Run(la.name+"/"+strings.Join(args, " "), func(t *testing.T) {
				r := runCommand(t, serverEnv(srv), append(append([]string{"access"}, args...), "-format", "csv")...)
				checkOK(t, r)
				got := map[string][]string{}
				for rid, rec := range csvByID(t, r.stdout, 10) {
					got[rid] = []string{rec[1], rec[6]} // resource, session_expires_at
				}
				want := map[string][]string{
					id:      {"plain", ""},
					alikeID: {"look-alike", session.UTC().Format(time.RFC3339)},
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("resource, session_expires_at by resource_id (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestLookAlikeResourceIDs: a -resource-id that Opal does not know is
// warned about and skipped, even when it differs from one that Opal knows
// only in a character that Unicode takes for an ASCII letter; it is not
// taken for that resource.
func TestLookAlikeResourceIDs(t *testing.T) {
	for _, la := range lookAlikes {
		t.Run(la.name, func(t *testing.T) {
			id, unknown := "res-"+la.ascii+"1", "res-"+la.alike+"1"
			srv := opaltest.NewServer()
			t.Cleanup(srv.Close)
			srv.AddUsers(testUsers...)
			srv.AddResources(opal.Resource{ResourceID: id, Name: "plain", ResourceType: opal.ResourceTypeOktaApp})
			srv.AddAccess(grant(id, userA, emailA, adminRoleLevel, nil, true, 1, ""))
			for _, sub := range []string{"access", "sessions"} {
				r := runCommand(t, serverEnv(srv), sub, "-resource-id", id+","+unknown, "-format", "csv")
				want := "opal: no resource with ID " + unknown + " in this Opal organisation; skipped\n"
				if r.code != 0 || r.stderr != want {
					t.Errorf("%s: exit %d, stderr %q; want 0 and %q", sub, r.code, r.stderr, want)
				}
			}
		})
	}
}

// TestLookAlikeResourcesGone: a resource found gone during a sweep (a 404)
// is that resource only, not another whose ID differs in a character that
// Unicode takes for an ASCII letter: each is warned about on its own, the
// other's sessions are shown, not "unknown", and a sweep that read the
// other did not read nothing.
func TestLookAlikeResourcesGone(t *testing.T) {
	for _, la := range lookAlikes {
		srv, id, alikeID, session := lookAlikeOrg(t, la.ascii, la.alike)
		goneSessions := func(ids ...string) []string {
			return proxyEnv(t, srv, func(w http.ResponseWriter, r *http.Request) bool {
				for _, gone := range ids {
					if r.URL.Path == "/v1/sessions" && r.URL.Query().Get("resource_id") == gone {
						notFound(w)
						return true
					}
				}
				return false
			})
		}
		warning := func(id string) string { return "opal: resource " + id + " not found (deleted?); skipped\n" }
		t.Run(la.name+"/access", func(t *testing.T) {
			r := runCommand(t, goneSessions(id), "access", "-resource-id", id+","+alikeID, "-format", "csv")
			if r.code != 0 || r.stderr != warning(id) {
				t.Fatalf("exit %d, stderr %q; want 0 and %q", r.code, r.stderr, warning(id))
			}
			got := map[string]string{}
			for rid, rec := range csvByID(t, r.stdout, 10) {
				got[rid] = rec[6] // session_expires_at
			}
			want := map[string]string{id: "unknown", alikeID: session.UTC().Format(time.RFC3339)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("session_expires_at by resource_id (-want +got):\n%s", diff)
			}
		})
		t.Run(la.name+"/sessions", func(t *testing.T) {
			r := runCommand(t, goneSessions(id), "sessions", "-resource-id", id+","+alikeID, "-format", "csv", "-ids")
			if r.code != 0 || r.stderr != warning(id) {
				t.Fatalf("exit %d, stderr %q; want 0 and %q", r.code, r.stderr, warning(id))
			}
			if records := readCSV(t, r.stdout); len(records) != 2 || records[1][6] != alikeID {
				t.Errorf("records %q, want the session on %s", records, alikeID)
			}
		})
		t.Run(la.name+"/sessions, both gone", func(t *testing.T) {
			r := runCommand(t, goneSessions(id, alikeID), "sessions", "-resource-id", id+","+alikeID, "-ids")
			if r.code != exitFailure || !strings.Contains(r.stderr, warning(id)) || !strings.Contains(r.stderr, warning(alikeID)) {
				t.Errorf("exit %d, stderr %q; want %d and a warning for each", r.code, r.stderr, exitFailure)
			}
		})
	}
}

// TestLookAlikeEmail: -user and -email, given an email that differs from a
// user's in a character that Unicode takes for an ASCII letter, find no
// user, even from a server that answers with the user whose email displays
// alike (one that folds emails as strings.EqualFold does): the run fails,
// and no row of that user is printed.
func TestLookAlikeEmail(t *testing.T) {
	srv := opaltest.NewServer()
	t.Cleanup(srv.Close)
	// opaltest matches emails in ASCII letter case only; in front of it, a
	// proxy folds the look-alikes' letters in the email asked for, so that
	// the server answers with the user whose email displays alike.
	target, _ := url.Parse(strings.TrimSuffix(srv.URL, "/v1"))
	unicodeFolding := strings.NewReplacer("\u212A", "k", "\u017F", "s")
	front := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		q := r.Out.URL.Query()
		if q.Has("email") {
			q.Set("email", unicodeFolding.Replace(q.Get("email")))
		}
		r.Out.URL.RawQuery = q.Encode()
	}})
	t.Cleanup(front.Close)
	env := []string{"OPAL_BASE_URL=" + front.URL + "/v1", "OPAL_AUTH_TOKEN=" + srv.Token}
	srv.AddUsers(opal.User{UserID: "u1", Email: "kate.sims@corp.example", HRIDPStatus: opal.HRIDPStatusActive})
	srv.AddResources(opal.Resource{ResourceID: "r1", Name: "one", ResourceType: opal.ResourceTypeOktaApp})
	srv.AddAccess(grant("r1", "u1", "kate.sims@corp.example", adminRoleLevel, nil, true, 1, ""))
	srv.AddSessions(opal.Session{ResourceID: "r1", UserID: "u1", AccessLevel: adminRoleLevel, ExpirationDate: in(time.Now(), time.Hour)})
	for _, email := range []string{"\u212Aate.sims@corp.example", "kate.\u017Fims@corp.example"} {
		for _, args := range [][]string{
			{"access", "-user", email},
			{"sessions", "-all", "-user", email},
			{"users", "-email", email},
		} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				r := runCommand(t, env, args...)
				flag := args[len(args)-2]
				checkFailed(t, r, exitFailure, "opal: looking up the user of "+flag+" "+email+": ")
				if !strings.Contains(r.stderr, "not the user asked for") {
					t.Errorf("stderr %q, want it to say that the answer is not the user asked for", r.stderr)
				}
			})
		}
	}
}
