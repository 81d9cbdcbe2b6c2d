package opal

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"sync"
)

// Bounds on what a 2xx body may make the client hold. A page of 1000
// sessions is about 250 KB; a body over 32 MiB is not a page of anything,
// and no single item, cursor or other value of a page comes near 4 MiB. The
// decoder holds one value at a time, so these bound the heap one call can
// take, whatever the body: about the largest value, twice, while it grows.
const (
	maxBody  = 32 << 20
	maxValue = 4 << 20
)

// bodyReadError is a response body that could not be read to its end: cut
// short, reset, timed out. It is retried like any transport fault; every
// other fault of a 2xx body is the server's answer, and is not.
type bodyReadError struct {
	err     error
	timeout bool // the attempt's own timeout cut it short
}

func (e *bodyReadError) Error() string   { return "reading response body: " + e.err.Error() }
func (e *bodyReadError) Unwrap() error   { return e.err }
func (e *bodyReadError) retryable() bool { return true }

// Timeout reports whether the body was cut short by a timeout, as net's
// errors do.
func (e *bodyReadError) Timeout() bool { return e.timeout || isTimeout(e.err) }

// responseError is a 2xx response that is not what was asked for: not JSON,
// not a page of the list, an item that does not decode. It is not retried.
type responseError struct{ msg string }

func (e *responseError) Error() string        { return e.msg }
func (e *responseError) Is(target error) bool { return target == ErrInvalidResponse }
func (e *responseError) retryable() bool      { return false }

// corruptError is a body that arrived but does not decompress: the server
// sent it so, and a new attempt would get the same.
type corruptError struct{ err error }

func (e *corruptError) Error() string   { return "the body does not decompress: " + e.err.Error() }
func (e *corruptError) Unwrap() error   { return e.err }
func (e *corruptError) retryable() bool { return false }

// Reasons that a body is refused, wrapped in its responseError.
var (
	errTooLarge     = fmt.Errorf("body exceeds the %d MiB limit", maxBody>>20)
	errValueTooBig  = fmt.Errorf("a single JSON value exceeds %d MiB", maxValue>>20)
	errTrailingData = errors.New("data after the JSON value")
)

// decodeBody reads a 2xx response: a JSON object, decoded by read straight
// from the connection, then nothing but white space. what names what was
// asked for, as in "the page of sessions asked for", for the errors; the
// secret (the API token) is scrubbed from the server's text that they quote.
func decodeBody(resp *http.Response, what, secret string, read func(*json.Decoder) error) error {
	invalid := func(err error) error {
		var cut *bodyReadError
		if errors.As(err, &cut) {
			return cut
		}
		return &responseError{fmt.Sprintf("%s response is not %s: %v", statusLine(resp.StatusCode), what, err)}
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNonAuthoritativeInfo: // the latter from a proxy that rewrote it
	default:
		// A 204 holds nothing, a 206 a part that no one asked for, a 201
		// or a 202 something else than what a GET asks for.
		return invalid(errors.New("a GET is answered with 200 OK"))
	}
	if resp.ContentLength > maxBody {
		return invalid(errTooLarge)
	}
	body := &bodyReader{r: resp.Body}
	br := readBuffers.Get().(*bufio.Reader)
	br.Reset(body)
	defer func() {
		br.Reset(nil) // let go of the body
		readBuffers.Put(br)
	}()
	first, err := firstByte(br)
	if err != nil {
		return invalid(err)
	}
	if first != '{' {
		if ct := resp.Header.Get("Content-Type"); !isJSON(ct) {
			// A proxy's sign-in page, say. JSON labelled as text (net/http
			// labels a body text/plain when its handler sets no type) gets
			// here only if it is not an object either.
			return invalid(fmt.Errorf("content type %q, not JSON", truncate(ct, 100, secret)))
		}
		return invalid(fmt.Errorf("the body is %s, not a JSON object", jsonKind(first)))
	}
	dec := json.NewDecoder(br)
	body.dec = dec
	if err := read(dec); err != nil {
		return invalid(err)
	}
	// Read the rest (normally one newline): a body cut short after the JSON
	// value shows here, and a fully read body lets the connection carry the
	// next page.
	if err := onlySpaceLeft(io.MultiReader(dec.Buffered(), br)); err != nil {
		return invalid(err)
	}
	return nil
}

// readBuffers hold what was read of a body ahead of the decoder. The decoder
// reads one item at a time, in small reads; without a buffer each would be
// a read from the connection. Pooled, as a walk reads page after page.
var readBuffers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}

// bodyReader reads a 2xx body for the decoder, holding it to maxBody in all
// and maxValue for the value being decoded, and marking read errors as
// such, so that they can be told from a body that ended early: the decoder
// reports both as io.ErrUnexpectedEOF.
type bodyReader struct {
	r   io.Reader
	n   int64         // bytes read so far
	dec *json.Decoder // the decoder reading, once there is one
}

func (b *bodyReader) Read(p []byte) (int, error) {
	room := maxBody + 1 - b.n
	if b.dec != nil {
		// What was read but not yet decoded is the value the decoder is
		// gathering: it reads more only when that value is incomplete.
		// Reading no more than the value may still take keeps the
		// decoder's buffer, which doubles as it fills, near maxValue.
		room = min(room, maxValue+1-(b.n-b.dec.InputOffset()))
		if room <= 0 {
			return 0, errValueTooBig
		}
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	switch {
	case b.n > maxBody:
		return 0, errTooLarge
	case err == nil || err == io.EOF:
	case isCorrupt(err):
		return n, &corruptError{err}
	default:
		return n, &bodyReadError{err: err}
	}
	return n, err
}

// isCorrupt reports whether err is a compressed body's own fault, which
// net/http's transparent gzip reports as it reads: a bad checksum or header,
// or corrupt data. (A compressed body that ends early is told from one cut
// short on the wire by nothing, and is retried.)
func isCorrupt(err error) bool {
	var corrupt flate.CorruptInputError
	return errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.As(err, &corrupt)
}

// utf8BOM is a byte-order mark, which some servers put before JSON.
const utf8BOM = "\xEF\xBB\xBF"

// firstByte skips a byte-order mark and white space and returns the first
// byte of the body, leaving it unread.
func firstByte(br *bufio.Reader) (byte, error) {
	if start, _ := br.Peek(len(utf8BOM)); string(start) == utf8BOM {
		_, _ = br.Discard(len(utf8BOM))
	}
	for {
		b, err := br.Peek(1)
		if err == io.EOF {
			return 0, errors.New("the body is empty")
		}
		if err != nil {
			return 0, err
		}
		if !isSpace(b[0]) {
			return b[0], nil
		}
		_, _ = br.Discard(1)
	}
}

// jsonKind names the JSON value that starts with b.
func jsonKind(b byte) string {
	switch {
	case b == '{':
		return "an object"
	case b == '[':
		return "an array"
	case b == '"':
		return "a string"
	case b == 'n':
		return "null"
	case b == 't' || b == 'f':
		return "a boolean"
	case b == '-' || b >= '0' && b <= '9':
		return "a number"
	}
	return "not JSON"
}

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

// isSpace reports whether b is white space to JSON.
func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\r' || b == '\n'
}

// maxMembers bounds the members of a page. Opal's pages have three; a body
// of millions of small unknown members would cost seconds of decoding.
const maxMembers = 100

// decodePage reads a page of a list: a JSON object whose "results" member
// is null or an array of at most limit items, and whose "next" and
// "previous" members are cursors, null or absent on the last page. A page
// without "results" is an error, never an empty page: for an access review,
// no sessions means that nobody holds access. Members are matched by name
// in any letter case, as encoding/json matches them; others are skipped
// unread.
func decodePage[W any](dec *json.Decoder, limit int) (*Page[W], error) {
	if _, err := dec.Token(); err != nil { // the "{" that decodeBody saw
		return nil, decodeError("", err)
	}
	p := &Page[W]{}
	found := false
	for members := 1; dec.More(); members++ {
		if members > maxMembers {
			return nil, fmt.Errorf("more than %d members", maxMembers)
		}
		key, err := dec.Token()
		if err != nil {
			return nil, decodeError("", err)
		}
		name, _ := key.(string)
		switch {
		case strings.EqualFold(name, "results"):
			if found {
				return nil, errors.New(`"results" appears twice`)
			}
			found = true
			p.Results, err = decodeItems[W](dec, limit)
		case strings.EqualFold(name, "next"):
			err = decodeError("next", dec.Decode(&p.Next))
		case strings.EqualFold(name, "previous"):
			err = decodeError("previous", dec.Decode(&p.Previous))
		default:
			err = decodeError("", dec.Decode(&skipValue{}))
		}
		if err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // "}"
		return nil, decodeError("", err)
	}
	if !found {
		return nil, errors.New(`no "results" member`)
	}
	return p, nil
}

// decodeItems reads the value of "results": null, or an array of at most
// limit items, refused as soon as it holds one more, before that one is
// decoded, so that a hostile body cannot unfold into millions of items.
func decodeItems[W any](dec *json.Decoder, limit int) ([]W, error) {
	tok, err := dec.Token()
	switch {
	case err != nil:
		return nil, decodeError("results", err)
	case tok == nil:
		return nil, nil // an empty page, as "results": [] is
	case tok != json.Delim('['):
		return nil, fmt.Errorf(`"results" is %s, not an array`, tokenKind(tok))
	}
	results := []W{}
	for dec.More() {
		if len(results) == limit {
			noun := "results"
			if limit == 1 {
				noun = "result"
			}
			return nil, fmt.Errorf("more than %d %s, the page size asked for", limit, noun)
		}
		var zero W
		results = append(results, zero)
		// Decoding in place, rather than into a variable that is then
		// appended, costs no allocation per item.
		if err := dec.Decode(&results[len(results)-1]); err != nil {
			return nil, decodeError(fmt.Sprintf("results[%d]", len(results)-1), err)
		}
	}
	if _, err := dec.Token(); err != nil { // "]"
		return nil, decodeError("results", err)
	}
	return results, nil
}

// decodeObject reads one object, such as a user, into out.
func decodeObject[T any](dec *json.Decoder, out *T) error {
	return decodeError("", dec.Decode(out))
}

// skipValue is a JSON value decoded only to be passed over: encoding/json
// checks it without building anything.
type skipValue struct{}

func (*skipValue) UnmarshalJSON([]byte) error { return nil }

// tokenKind names the JSON value that a token starts.
func tokenKind(tok json.Token) string {
	switch tok := tok.(type) {
	case json.Delim:
		return jsonKind(byte(tok))
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, json.Number:
		return "a number"
	}
	return "null"
}

// decodeError says in the API's terms what encoding/json found wrong at
// path, such as "results[17]" ("" for the body as a whole). The server's
// text is never quoted: it may echo anything, the token included.
func decodeError(path string, err error) error {
	var (
		cut       *bodyReadError
		syntax    *json.SyntaxError
		wrongType *json.UnmarshalTypeError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &cut), errors.As(err, new(*corruptError)), errors.Is(err, errTooLarge), errors.Is(err, errValueTooBig):
		return err // about the body, not the value
	case errors.Is(err, io.ErrUnexpectedEOF), err == io.EOF:
		// Read errors are bodyReadErrors, and decodeBody has seen the body
		// start: it ended cleanly, mid-JSON.
		return errors.New("the JSON ends early")
	case errors.As(err, &syntax):
		return fmt.Errorf("invalid JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &wrongType):
		where := joinPath(path, wrongType.Field)
		if where == "" {
			where = "the body"
		}
		return fmt.Errorf("%s is %s, want %s", where, withArticle(wrongType.Value), goKind(wrongType.Type))
	}
	// An error of a type's own UnmarshalJSON, which names its field, as
	// "expiration_date: not an RFC 3339 time".
	return fmt.Errorf("%s%w", strings.TrimPrefix(path+".", "."), err)
}

// joinPath joins the parts of a path to a JSON value, such as "results[3]"
// and "access_level.access_level_name".
func joinPath(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "." + b
}

// withArticle puts "a" or "an" before the name of a JSON kind.
func withArticle(kind string) string {
	if strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}

// goKind names a Go type by the JSON that fits it.
func goKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// isJSON reports whether a Content-Type names JSON.
func isJSON(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mediaType == "application/json" || mediaType == "text/json" || strings.HasSuffix(mediaType, "+json")
}
