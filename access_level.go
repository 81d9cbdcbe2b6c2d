package opal

// ResourceAccessLevel is the level of access a session grants on a resource,
// such as an AWS role or a database role.
//
// Resources without levels use the "default" access level, whose fields are
// both empty. The API omits the access level on some sessions; those decode
// to the default level too.
type ResourceAccessLevel struct {
	// Name is the human-readable name, such as "AdminRole".
	Name string `json:"access_level_name"`
	// RemoteID is the machine-readable identifier, such as an IAM role's ARN.
	RemoteID string `json:"access_level_remote_id"`
}

// IsDefault reports whether l is the default access level: both fields empty.
func (l ResourceAccessLevel) IsDefault() bool {
	return l.Name == "" && l.RemoteID == ""
}
