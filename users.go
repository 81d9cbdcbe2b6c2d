package opal

// User is a user of an Opal organisation.
//
// It marshals to, and unmarshals from, the API's own JSON shape ("user_id",
// "full_name", ...). Unmarshalling is lenient where the API is loose:
// absent fields are empty (the API's own example leaves out fields its
// schema requires), and IDs are taken as they come.
type User struct {
	UserID    string `json:"user_id"`
	Email     string `json:"email"`
	FullName  string `json:"full_name"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Position  string `json:"position"`
	// HRIDPStatus is the user's status in the HR system or identity
	// provider, such as HRIDPStatusActive; "" when the API sends none.
	HRIDPStatus string `json:"hr_idp_status,omitempty"`
}

// The values of User.HRIDPStatus that the API documents. Others may come
// and are kept as sent.
const (
	HRIDPStatusActive        = "ACTIVE"
	HRIDPStatusSuspended     = "SUSPENDED"
	HRIDPStatusDeprovisioned = "DEPROVISIONED"
	HRIDPStatusDeleted       = "DELETED"
	HRIDPStatusNotFound      = "NOT_FOUND"
)

// UsersList is one page of users.
type UsersList struct {
	// Next is the cursor of the following page, "" on the last page. Pass
	// it as ListUsersOptions.Cursor to resume, even from another process.
	Next string `json:"next"`
	// Previous is the cursor the API gave for going back, "" when it sent none.
	Previous string `json:"previous"`
	// Results are the users on this page.
	Results []User `json:"results"`
}

// MarshalJSON encodes the list in the API's shape, with null for a missing
// cursor.
func (l UsersList) MarshalJSON() ([]byte, error) {
	return marshalList(l.Next, l.Previous, l.Results)
}

// UsersService finds the users of an Opal organisation: the names and
// emails behind the user IDs of sessions. Use it as Client.Users.
type UsersService service
