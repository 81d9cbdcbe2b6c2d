package opal

import "encoding/json"

// Page is one page of a cursor-paginated list of the API, whatever the list:
// items of type T and the cursors around them. [SessionsList], [UsersList],
// [ResourcesList] and [ResourceAccessUserList] are its instances.
//
// It marshals to, and unmarshals from, the API's own JSON shape ("next",
// "previous", "results").
type Page[T any] struct {
	// Next is the cursor of the following page, "" on the last page (the API
	// sends null or leaves it out). Pass it as the list's options' Cursor to
	// resume, even from another process.
	Next string `json:"next"`
	// Previous is the cursor the API gave for going back, "" when it sent none.
	Previous string `json:"previous"`
	// Results are the items on this page.
	Results []T `json:"results"`
}

// MarshalJSON encodes the page in the API's shape, with null for a missing
// cursor. Results are encoded as they are: nil as null, empty as [], so that
// a decoded page encodes back to the same value.
func (p Page[T]) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Next     *string `json:"next"`
		Previous *string `json:"previous"`
		Results  []T     `json:"results"`
	}{nullable(p.Next), nullable(p.Previous), p.Results})
}

// nullable is s, or nil for "", which JSON writes as null.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
