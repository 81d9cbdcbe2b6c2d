package opaltest

import (
	"fmt"
	"net/url"
)

// param returns the value of the query parameter name, "" when it is not
// given; as for every parameter of the server, an empty value is none. A
// parameter given more than once is refused: a server could read the
// first value, the last or all of them, and a client that repeats one
// would pass or fail by that choice. (Read as its first value,
// user_id=&user_id=u2 would list every user's sessions.) Every endpoint
// reads every parameter with it.
func param(query url.Values, name string) (string, error) {
	switch values := query[name]; len(values) {
	case 0:
		return "", nil
	case 1:
		return values[0], nil
	}
	return "", fmt.Errorf("%s must be given at most once", name)
}
