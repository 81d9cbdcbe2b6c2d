package opal

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// maxBody is the largest response body accepted. A page of 1000 sessions is
// about 250 KB; a body over 32 MiB is not a page of sessions.
const maxBody = 32 << 20

// bodyReadError is a response body that could not be read to its end: cut
// short, reset, timed out. It is retried like any transport fault.
type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string { return "reading response body: " + e.err.Error() }
func (e *bodyReadError) Unwrap() error { return e.err }

// decodeJSON decodes a 2xx response's JSON body into out straight from the
// connection: nothing is collected beyond the decoder's own buffer. The secret (the API token) is
// scrubbed from the server's text it quotes.
func decodeJSON(resp *http.Response, out any, secret string) error {
	if resp.ContentLength > maxBody {
		return fmt.Errorf("response body of %d bytes exceeds the %d MiB limit", resp.ContentLength, maxBody>>20)
	}
	var body io.Reader = http.MaxBytesReader(nil, resp.Body, maxBody)
	if ct := resp.Header.Get("Content-Type"); !isJSON(ct) {
		// Some servers label JSON as text (net/http's sniffing says
		// text/plain when a handler sets no type), so look at the body
		// before refusing it; a proxy's HTML page fails here.
		br := bufio.NewReader(body)
		object, err := startsWithObject(br)
		if err != nil {
			return decodeError(err)
		}
		if !object {
			return fmt.Errorf("%s response has content type %q and is not JSON", statusLine(resp.StatusCode), truncate(redactString(ct, secret), 100))
		}
		body = br
	}
	dec := json.NewDecoder(body)
	if err := dec.Decode(out); err != nil {
		return decodeError(err)
	}
	// Read the rest (normally one newline): a body cut short after the JSON
	// value shows here, and a fully read body lets the connection carry the
	// next page.
	if err := onlySpaceLeft(io.MultiReader(dec.Buffered(), body)); err != nil {
		return decodeError(err)
	}
	return nil
}

// errTrailingData is a body with more than white space after its JSON value,
// which json.Unmarshal would refuse too.
var errTrailingData = errors.New("data after the JSON value")

// onlySpaceLeft reads r to its end and fails if it holds more than white space.
func onlySpaceLeft(r io.Reader) error {
	var buf [512]byte
	for {
		n, err := r.Read(buf[:])
		for _, b := range buf[:n] {
			if !isSpace(b) {
				return errTrailingData
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// startsWithObject reports whether the first byte after white space is "{".
func startsWithObject(br *bufio.Reader) (bool, error) {
	for {
		b, err := br.Peek(1)
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if !isSpace(b[0]) {
			return b[0] == '{', nil
		}
		_, _ = br.Discard(1)
	}
}

// isSpace reports whether b is white space to JSON.
func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\r' || b == '\n'
}

func decodeError(err error) error {
	var (
		tooLarge  *http.MaxBytesError
		syntax    *json.SyntaxError
		wrongType *json.UnmarshalTypeError
	)
	switch {
	case err == io.EOF:
		// The body ended cleanly before any JSON: a cut body ends in
		// io.ErrUnexpectedEOF instead.
		return errors.New("empty response body")
	case errors.As(err, &tooLarge):
		return fmt.Errorf("response body exceeds the %d MiB limit", maxBody>>20)
	case errors.As(err, &syntax), errors.As(err, &wrongType), errors.Is(err, errBadTime), errors.Is(err, errTrailingData):
		return fmt.Errorf("decoding response: %w", err)
	}
	return &bodyReadError{err}
}

// isJSON reports whether a Content-Type names JSON.
func isJSON(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mediaType == "application/json" || mediaType == "text/json" || strings.HasSuffix(mediaType, "+json")
}
