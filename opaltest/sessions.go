package opaltest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/opalclient/opal-go"
)

const sessionsPath = "/v1/sessions"

// answer is what Opal would answer to r, checking in the order: endpoint,
// method, token, query.
func (s *Server) answer(r *http.Request) response {
	if r.URL.Path != sessionsPath {
		return errorResponse(http.StatusNotFound, "not found: "+r.URL.Path)
	}
	if r.Method != http.MethodGet {
		resp := errorResponse(http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use GET")
		resp.header = http.Header{"Allow": {http.MethodGet}}
		return resp
	}
	if !s.authorized(r) {
		resp := errorResponse(http.StatusUnauthorized, "missing or invalid API token")
		resp.header = http.Header{"Www-Authenticate": {"Bearer"}}
		return resp
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return errorResponse(http.StatusBadRequest, "malformed query string")
	}
	resourceID := query.Get("resource_id")
	if resourceID == "" {
		return errorResponse(http.StatusBadRequest, "resource_id is required")
	}
	userID := query.Get("user_id")

	s.mu.Lock()
	size := s.pageSize
	s.mu.Unlock()
	if v := query.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return errorResponse(http.StatusBadRequest, fmt.Sprintf("page_size must be an integer from 1 to %d", maxPageSize))
		}
		size = n
	}

	cursor := query.Get("cursor")
	start := 0
	if cursor != "" {
		var ok bool
		if start, ok = s.parseCursor(cursor, resourceID, userID); !ok {
			return errorResponse(http.StatusBadRequest, "invalid cursor")
		}
	}

	results, next := s.page(resourceID, userID, start, size)
	list := opal.SessionsList{Previous: cursor, Results: results}
	if next >= 0 {
		list.Next = s.makeCursor(next, resourceID, userID)
	}
	body, err := json.Marshal(list)
	if err != nil {
		// Only a session whose time cannot be written as RFC 3339 (a year
		// outside 0..9999) gets here: a bad fixture, which the test should hear of.
		return errorResponse(http.StatusInternalServerError, "opaltest: encoding page: "+err.Error())
	}
	return response{status: http.StatusOK, body: body}
}

func (s *Server) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") &&
		subtle.ConstantTimeCompare([]byte(token), []byte(s.Token)) == 1
}

// page returns up to size sessions matching the query, scanning from index
// start, and the index of the first match after them, or -1 if there is
// none yet. Because sessions are only appended, an index stays the place of
// the same session forever, so a walk that resumes from it neither skips nor
// repeats a session, however many are added meanwhile.
func (s *Server) page(resourceID, userID string, start, size int) ([]opal.Session, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Not nil: an empty page has "results": [], as Opal sends, and
	// SessionsList encodes a nil slice as null.
	results := []opal.Session{}
	for i := start; i < len(s.sessions); i++ {
		sess := s.sessions[i]
		if sess.ResourceID != resourceID || (userID != "" && sess.UserID != userID) {
			continue
		}
		if len(results) == size {
			return results, i
		}
		results = append(results, sess)
	}
	return results, -1
}

// A cursor is the unpadded URL-safe base64 of an index into the sessions
// (8 bytes, big-endian) followed by the first 16 bytes of its HMAC-SHA256,
// keyed by the server's random key, over the index and the query it
// belongs to. So it is opaque, as Opal's are, a client cannot make one up,
// and one taken from another server or another resource or user is refused
// rather than silently giving the wrong page.
const (
	cursorIndexLen = 8
	cursorMACLen   = 16
)

func (s *Server) makeCursor(index int, resourceID, userID string) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(index))
	b = append(b, s.cursorMAC(b, resourceID, userID)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseCursor returns the index a cursor made by makeCursor for the same
// query holds, and false for anything else.
func (s *Server) parseCursor(cursor, resourceID, userID string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) != cursorIndexLen+cursorMACLen {
		return 0, false
	}
	index, mac := b[:cursorIndexLen], b[cursorIndexLen:]
	if !hmac.Equal(mac, s.cursorMAC(index, resourceID, userID)) {
		return 0, false
	}
	return int(binary.BigEndian.Uint64(index)), true
}

func (s *Server) cursorMAC(index []byte, resourceID, userID string) []byte {
	m := hmac.New(sha256.New, s.cursorKey)
	m.Write(index)
	// Length prefixes keep ("ab", "c") and ("a", "bc") apart.
	for _, field := range []string{resourceID, userID} {
		m.Write(binary.BigEndian.AppendUint64(nil, uint64(len(field))))
		m.Write([]byte(field))
	}
	return m.Sum(nil)[:cursorMACLen]
}
