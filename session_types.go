package opal

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Session is a user's time-bounded access to a resource.
//
// It marshals to, and unmarshals from, the API's own JSON shape
// ("connection_id", "expiration_date", ...). Unmarshalling is lenient where
// the API is loose: a missing access level is the default level, IDs are taken
// as they come (the API's own example has a connection ID that is not a UUID),
// and the expiration date may be any RFC 3339 time. (json.Unmarshal leaves a
// field that is absent or null zero; the sessions list refuses a session
// without its resource, its user or its expiration date, which the API
// requires: see [SessionsService.List].)
type Session struct {
	ConnectionID   string              `json:"connection_id"`
	UserID         string              `json:"user_id"`
	ResourceID     string              `json:"resource_id"`
	AccessLevel    ResourceAccessLevel `json:"access_level"`
	ExpirationDate time.Time           `json:"expiration_date"`
}

// UnmarshalJSON decodes a session in the API's shape; see [Session].
func (s *Session) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	var w wireSession
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*s = w.session()
	return nil
}

// SessionsList is one page of sessions.
type SessionsList = Page[Session]

// wireSession is what the client decodes a session into. It differs from
// Session in its expiration date only: an expiry, which takes every RFC
// 3339 time and remembers whether the answer gave one. Decoding into it
// needs no UnmarshalJSON per session, only per date, which keeps a page's
// decoding close to encoding/json's plain struct decoding.
type wireSession struct {
	ConnectionID   string              `json:"connection_id"`
	UserID         string              `json:"user_id"`
	ResourceID     string              `json:"resource_id"`
	AccessLevel    ResourceAccessLevel `json:"access_level"`
	ExpirationDate expiry              `json:"expiration_date"`
}

func (w wireSession) session() Session {
	return Session{
		ConnectionID:   w.ConnectionID,
		UserID:         w.UserID,
		ResourceID:     w.ResourceID,
		AccessLevel:    w.AccessLevel,
		ExpirationDate: time.Time(w.ExpirationDate.at),
	}
}

// expiry is a session's expiration date, which the API requires, and
// whether the answer gave one: a session whose date is null or left out
// does not say when it ends, and must not pass for one that ended in the
// year 1, which a caller dropping expired sessions would drop.
type expiry struct {
	at    rfc3339Time
	given bool
}

// UnmarshalJSON reads a date, or null, which is none: where the key is
// given twice, the last value is the one read, as for any other field, so
// a date followed by null is no date.
func (e *expiry) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*e = expiry{}
		return nil
	}
	if err := e.at.UnmarshalJSON(data); err != nil {
		return err
	}
	e.given = true
	return nil
}

// errBadTime is wrapped by the error for an expiration date that is not an
// RFC 3339 time.
var errBadTime = errors.New("not an RFC 3339 time")

// rfc3339Time accepts every RFC 3339 time, which is more than time.Time does:
// RFC 3339's grammar lets "T" and "Z" be lower case, allows a space between
// date and time (its section 5.6), and has leap seconds (second 60), which
// time.Time cannot hold and which become the following second.
type rfc3339Time time.Time

func (t *rfc3339Time) UnmarshalJSON(data []byte) error {
	// The common case, "2022-01-23T04:56:07.000Z", takes time.Time's own
	// allocation-free path.
	if (*time.Time)(t).UnmarshalJSON(data) == nil {
		return nil
	}
	// The errors do not quote the value: it is the server's text, and a
	// server may echo anything, the token included.
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("expiration_date: %w (not a string)", errBadTime)
	}
	parsed, err := parseRFC3339(s)
	if err != nil {
		return fmt.Errorf("expiration_date: %w", errBadTime)
	}
	*t = rfc3339Time(parsed)
	return nil
}

// MarshalJSON writes the time as time.Time does, in RFC 3339.
func (t rfc3339Time) MarshalJSON() ([]byte, error) { return time.Time(t).MarshalJSON() }

func parseRFC3339(s string) (time.Time, error) {
	s = strings.ToUpper(s)
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	leap := len(s) > 19 && s[16] == ':' && s[17:19] == "60"
	if leap {
		s = s[:17] + "59" + s[19:]
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, err
	}
	if leap {
		t = t.Add(time.Second)
		// The last second of 9999 becomes the first of 10000, which
		// RFC 3339, and so json.Marshal, cannot write: a session that
		// decodes must encode back.
		if t.Year() > 9999 {
			return time.Time{}, errors.New("year out of range")
		}
	}
	return t, nil
}
