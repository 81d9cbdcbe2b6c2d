package opaltest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// Every list endpoint pages, and every endpoint of one item finds it, with
// the code in this file. A list is a slice the server only ever appends
// to; a page is the next items of it that match the request, from an
// index; and a cursor is that index, signed together with the list's name
// and the request's filters.

// listPage answers a request for one page of a list. scope names the list
// and holds the request's filter values, in a fixed order: a cursor is
// valid only for the scope it was made for. source is called with the
// server's lock held, and returns the list and which of its items the
// request wants.
func listPage[T any](s *Server, query url.Values, scope []string, source func() (items []T, match func(T) bool)) response {
	size, ok := s.requestedPageSize(query)
	if !ok {
		return errorResponse(http.StatusBadRequest, fmt.Sprintf("page_size must be an integer from 1 to %d", maxPageSize))
	}
	cursor := query.Get("cursor")
	start := 0
	if cursor != "" {
		if start, ok = s.parseCursor(cursor, scope); !ok {
			return errorResponse(http.StatusBadRequest, "invalid cursor")
		}
	}

	s.mu.Lock()
	items, match := source()
	results, next := page(items, match, start, size)
	s.mu.Unlock()

	body := listBody[T]{Previous: nullable(cursor), Results: results}
	if next >= 0 {
		body.Next = nullable(s.makeCursor(next, scope))
	}
	return jsonResponse(body)
}

// add appends items to one of the server's lists.
func add[T any](s *Server, list *[]T, items []T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	*list = append(*list, items...)
}

// getItem answers a request for one item: the first of the list that
// matches, or a 404 with the message notFound. source is as for listPage.
func getItem[T any](s *Server, notFound string, source func() (items []T, match func(T) bool)) response {
	s.mu.Lock()
	items, match := source()
	i := slices.IndexFunc(items, match)
	var item T
	if i >= 0 {
		item = items[i]
	}
	s.mu.Unlock()
	if i < 0 {
		return errorResponse(http.StatusNotFound, notFound)
	}
	return jsonResponse(item)
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

// requestedPageSize returns the request's page_size, or the server's when
// it sent none, and false when it sent one out of bounds.
func (s *Server) requestedPageSize(query url.Values) (int, bool) {
	v := query.Get("page_size")
	if v == "" {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.pageSize, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 1 && n <= maxPageSize
}

// page returns up to size items that match, scanning from index start, and
// the index of the first match after them, or -1 if there is none yet.
// Because lists are only appended to, an index stays the place of the same
// item forever, so a walk that resumes from it neither skips nor repeats an
// item, however many are added meanwhile.
func page[T any](items []T, match func(T) bool, start, size int) ([]T, int) {
	// Not nil: an empty page has "results": [], as Opal sends.
	results := []T{}
	for i := start; i < len(items); i++ {
		if !match(items[i]) {
			continue
		}
		if len(results) == size {
			return results, i
		}
		results = append(results, items[i])
	}
	return results, -1
}

// A cursor is the unpadded URL-safe base64 of an index into a list (8
// bytes, big-endian) followed by the first 16 bytes of its HMAC-SHA256,
// keyed by the server's random key, over the index and the scope it belongs
// to. So it is opaque, as Opal's are, a client cannot make one up, and one
// taken from another server, another list or other filters is refused
// rather than silently giving the wrong page.
const (
	cursorIndexLen = 8
	cursorMACLen   = 16
)

func (s *Server) makeCursor(index int, scope []string) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(index))
	b = append(b, s.cursorMAC(b, scope)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseCursor returns the index a cursor made by makeCursor for the same
// scope holds, and false for anything else.
func (s *Server) parseCursor(cursor string, scope []string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) != cursorIndexLen+cursorMACLen {
		return 0, false
	}
	index, mac := b[:cursorIndexLen], b[cursorIndexLen:]
	if !hmac.Equal(mac, s.cursorMAC(index, scope)) {
		return 0, false
	}
	return int(binary.BigEndian.Uint64(index)), true
}

func (s *Server) cursorMAC(index []byte, scope []string) []byte {
	m := hmac.New(sha256.New, s.cursorKey)
	m.Write(index)
	// Length prefixes keep ("ab", "c") and ("a", "bc") apart.
	for _, field := range scope {
		m.Write(binary.BigEndian.AppendUint64(nil, uint64(len(field))))
		m.Write([]byte(field))
	}
	return m.Sum(nil)[:cursorMACLen]
}
