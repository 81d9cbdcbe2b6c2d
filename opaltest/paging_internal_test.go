package opaltest

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opalclient/opal-go"
)

// TestPageLooksOnlyAtItsCandidates: a page looks at no item before its
// start, none outside its positions, and none after the first match past
// a full page, so it costs what it returns, not what the list holds.
func TestPageLooksOnlyAtItsCandidates(t *testing.T) {
	items := make([]int, 1_000_000)
	for i := range items {
		items[i] = i
	}
	positions := []int{3, 7, 500_000, 600_000, 700_000, 999_999}
	tests := []struct {
		name      string
		positions []int
		start     int
		wantItems []int
		wantNext  int
		wantSeen  []int
	}{
		{"from the start", positions, 0, []int{3, 7}, 500_000, []int{3, 7, 500_000}},
		{"from a cursor", positions, 500_000, []int{500_000, 600_000}, 700_000, []int{500_000, 600_000, 700_000}},
		{"between positions", positions, 8, []int{500_000, 600_000}, 700_000, []int{500_000, 600_000, 700_000}},
		{"the last page", positions, 999_999, []int{999_999}, -1, []int{999_999}},
		{"past the end", positions, 1_000_000, []int{}, -1, nil},
		{"no positions", []int{}, 0, []int{}, -1, nil},
		{"every item, from a cursor", nil, 999_997, []int{999_997, 999_998}, 999_999, []int{999_997, 999_998, 999_999}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []int
			match := func(i int) bool { seen = append(seen, i); return true }
			got, next := pageOf(selection[int]{items: items, positions: tt.positions, match: match}, tt.start, 2)
			if diff := cmp.Diff(tt.wantItems, got); diff != "" || next != tt.wantNext {
				t.Errorf("page = %v, next %d; want %v, next %d", got, next, tt.wantItems, tt.wantNext)
			}
			if diff := cmp.Diff(tt.wantSeen, seen); diff != "" {
				t.Errorf("items looked at (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIndexesFollowAdds: each list's index holds the positions of each
// key's items, in the order they were added.
func TestIndexesFollowAdds(t *testing.T) {
	s := newServer(nil)
	s.AddSessions(opal.Session{ResourceID: "r1", UserID: "u1"}, opal.Session{ResourceID: "r2", UserID: "u1"})
	s.AddSessions(opal.Session{ResourceID: "r1", UserID: "u2"}, opal.Session{ResourceID: "r1", UserID: "u1"})
	s.AddAccess(opal.ResourceAccessUser{ResourceID: "r2", UserID: "u2"}, opal.ResourceAccessUser{ResourceID: "r1", UserID: "u2"})
	s.AddUsers(opal.User{UserID: "u1"}, opal.User{UserID: "u1"})
	s.AddResources(opal.Resource{ResourceID: "r9"})
	got := map[string][]int{
		"sessions of r1":    s.sessionsByResource.of("r1"),
		"sessions of r1 u1": s.sessionsByResourceUser.of([2]string{"r1", "u1"}),
		"sessions of r3":    s.sessionsByResource.of("r3"),
		"grants of r1":      s.grantsByResource.of("r1"),
		"grants of u2":      s.grantsByUser.of("u2"),
		"users u1":          s.usersByID.of("u1"),
		"resources r9":      s.resourcesByID.of("r9"),
	}
	want := map[string][]int{
		"sessions of r1":    {0, 2, 3},
		"sessions of r1 u1": {0, 3},
		"sessions of r3":    {},
		"grants of r1":      {1},
		"grants of u2":      {0, 1},
		"users u1":          {0, 1},
		"resources r9":      {0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("indexes (-want +got):\n%s", diff)
	}
}

// BenchmarkPageOfOneResource answers a page of one resource's sessions and
// of its grants on servers of 500 and 5,000 resources of 2 each: the time
// per page does not grow with the server's size.
func BenchmarkPageOfOneResource(b *testing.B) {
	for _, resources := range []int{500, 5000} {
		s := newServer(nil)
		for r := range resources {
			id := fmt.Sprintf("r%05d", r)
			for u := range 2 {
				s.AddSessions(opal.Session{ResourceID: id, UserID: fmt.Sprint("u", u)})
				s.AddAccess(opal.ResourceAccessUser{ResourceID: id, UserID: fmt.Sprint("u", u)})
			}
		}
		middle := fmt.Sprintf("r%05d", resources/2)
		b.Run(fmt.Sprintf("sessions/resources=%d", resources), func(b *testing.B) {
			for b.Loop() {
				if resp := s.listSessions(url.Values{"resource_id": {middle}}); resp.status != 200 {
					b.Fatal(string(resp.body))
				}
			}
		})
		b.Run(fmt.Sprintf("access/resources=%d", resources), func(b *testing.B) {
			for b.Loop() {
				if resp := s.listResourceUsers(middle, url.Values{}); resp.status != 200 {
					b.Fatal(string(resp.body))
				}
			}
		})
	}
}
