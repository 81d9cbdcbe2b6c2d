package opaltest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/opalclient/opal-go"
)

// Every list endpoint pages, and every endpoint of one item finds it, with
// the code in this file. A list is a slice the server only ever appends
// to, with indexes of where in it the items of each resource or user are;
// a page is the next items of it that the request wants, from a position;
// and a cursor is that position, signed together with the list's name and
// the request's filters.

// index holds, for each key (a resource's or a user's ID, say), the
// positions in one of the server's lists of the items with that key. The
// positions ascend, since lists are only appended to.
type index[K comparable] map[K][]int

// add records that the item at position has key.
func (ix index[K]) add(key K, position int) {
	ix[key] = append(ix[key], position)
}

// of returns the positions of the items with key, never nil: an unknown
// key selects no item, where nil would select every item.
func (ix index[K]) of(key K) []int {
	if positions, ok := ix[key]; ok {
		return positions
	}
	return []int{}
}

// has reports whether any item has key.
func (ix index[K]) has(key K) bool {
	_, ok := ix[key]
	return ok
}

// selection is the part of one of the server's lists that a request may
// want: the list, the positions of its candidate items in ascending order
// (nil for every item), and which of those it wants (nil for all). A
// source returns it, with the server's lock held.
type selection[T any] struct {
	items     []T
	positions []int
	match     func(T) bool
}

// Page size parameters: every list takes page_size; the access lists, whose
// reference declares only limit, take limit when page_size is not given.
var (
	pageSizeOnly    = []string{"page_size"}
	pageSizeOrLimit = []string{"page_size", "limit"}
)

// listPage answers a request for one page of a list. sizes are the
// parameters that set the page size, the first one given winning. scope
// names the list and holds the request's filter values, in a fixed order:
// a cursor is valid only for the scope it was made for.
func listPage[T any](s *Server, query url.Values, sizes, scope []string, source func() selection[T]) response {
	size, err := s.requestedPageSize(query, sizes)
	if err != nil {
		return errorResponse(http.StatusBadRequest, err.Error())
	}
	cursor, err := param(query, "cursor")
	if err != nil {
		return errorResponse(http.StatusBadRequest, err.Error())
	}
	start := 0
	if cursor != "" {
		var ok bool
		if start, ok = s.parseCursor(cursor, scope); !ok {
			return errorResponse(http.StatusBadRequest, "invalid cursor")
		}
	}

	s.mu.Lock()
	results, next := pageOf(source(), start, size)
	s.mu.Unlock()

	body := listBody[T]{Previous: nullable(cursor), Results: results}
	if next >= 0 {
		body.Next = nullable(s.makeCursor(next, scope))
	}
	return jsonResponse(body)
}

// getItem answers a request for one item: the first of the selection, or
// a 404 with the message notFound.
func getItem[T any](s *Server, notFound string, source func() selection[T]) response {
	s.mu.Lock()
	found, _ := pageOf(source(), 0, 1)
	s.mu.Unlock()
	if len(found) == 0 {
		return errorResponse(http.StatusNotFound, notFound)
	}
	return jsonResponse(found[0])
}

// listBody is a page as Opal sends it, whatever the list: null for a
// missing cursor, and [] for no results.
type listBody[T any] struct {
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// requestedPageSize returns the page size the request asks for in the
// first of sizes it gives, or the server's when it gives none; an error
// says what is wrong with a parameter. Every one of sizes is read and
// checked before one is chosen: a repeated or malformed one is refused
// whether or not an earlier one was given, since a server may read either
// (Opal's reference declares only limit on some lists that take both).
func (s *Server) requestedPageSize(query url.Values, sizes []string) (int, error) {
	size := 0
	for _, name := range sizes {
		v, err := param(query, name)
		if err != nil {
			return 0, err
		}
		if v == "" { // as for every parameter of the server, no value is none
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > opal.MaxPageSize {
			return 0, fmt.Errorf("%s must be an integer from 1 to %d", name, opal.MaxPageSize)
		}
		if size == 0 {
			size = n
		}
	}
	if size != 0 {
		return size, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pageSize, nil
}

// pageOf returns up to size items of the selection that it wants, from
// position start on, and the position of the first one after them, or -1
// if there is none yet. It looks at no item before start, nor outside the
// selection's positions, so a page of one resource's items costs the same
// however many other items the server holds. Because lists are only
// appended to, a position stays the place of the same item forever, so a
// walk that resumes from it neither skips nor repeats an item, however many
// are added meanwhile.
func pageOf[T any](sel selection[T], start, size int) ([]T, int) {
	candidates := func(yield func(int) bool) {
		if sel.positions == nil {
			for i := start; i < len(sel.items); i++ {
				if !yield(i) {
					return
				}
			}
			return
		}
		for _, i := range sel.positions[sort.SearchInts(sel.positions, start):] {
			if !yield(i) {
				return
			}
		}
	}
	// Not nil: an empty page has "results": [], as Opal sends.
	results := []T{}
	for i := range candidates {
		if sel.match != nil && !sel.match(sel.items[i]) {
			continue
		}
		if len(results) == size {
			return results, i
		}
		results = append(results, sel.items[i])
	}
	return results, -1
}

// A cursor is the unpadded URL-safe base64 of a position in a list (8
// bytes, big-endian) followed by the first 16 bytes of its HMAC-SHA256,
// keyed by the server's random key, over the position and the scope it
// belongs to. So it is opaque, as Opal's are, a client cannot make one up,
// and one taken from another server, another list or other filters is
// refused rather than silently giving the wrong page.
const (
	cursorPositionLen = 8
	cursorMACLen      = 16
)

func (s *Server) makeCursor(position int, scope []string) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(position))
	b = append(b, s.cursorMAC(b, scope)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseCursor returns the position a cursor made by makeCursor for the same
// scope holds, and false for anything else.
func (s *Server) parseCursor(cursor string, scope []string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) != cursorPositionLen+cursorMACLen {
		return 0, false
	}
	position, mac := b[:cursorPositionLen], b[cursorPositionLen:]
	if !hmac.Equal(mac, s.cursorMAC(position, scope)) {
		return 0, false
	}
	return int(binary.BigEndian.Uint64(position)), true
}

func (s *Server) cursorMAC(position []byte, scope []string) []byte {
	m := hmac.New(sha256.New, s.cursorKey)
	m.Write(position)
	// Length prefixes keep ("ab", "c") and ("a", "bc") apart.
	for _, field := range scope {
		m.Write(binary.BigEndian.AppendUint64(nil, uint64(len(field))))
		m.Write([]byte(field))
	}
	return m.Sum(nil)[:cursorMACLen]
}
