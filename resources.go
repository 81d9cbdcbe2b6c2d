package opal

// Resource is an Opal resource: something access is granted to, such as an
// AWS IAM role, a database or an app.
//
// It marshals to, and unmarshals from, the API's own JSON shape
// ("resource_id", "remote_resource_id", ...). Unmarshalling is lenient
// where the API is loose: absent fields are zero, unknown fields (the API
// has many more, and its own example says "remote_id" where its schema
// says "remote_resource_id") are ignored, and a resource type this package
// has no constant for is kept as sent.
type Resource struct {
	ResourceID   string `json:"resource_id"`
	AppID        string `json:"app_id,omitempty"`
	Name         string `json:"name,omitempty"`
	Description  string `json:"description,omitempty"`
	AdminOwnerID string `json:"admin_owner_id,omitempty"`
	// RemoteResourceID and RemoteResourceName identify the resource on the
	// system it lives in, such as an IAM role's ARN and name.
	RemoteResourceID   string       `json:"remote_resource_id,omitempty"`
	RemoteResourceName string       `json:"remote_resource_name,omitempty"`
	ResourceType       ResourceType `json:"resource_type,omitempty"`
	ParentResourceID   string       `json:"parent_resource_id,omitempty"`
	// MaxDuration and RecommendedDuration are in minutes; 0 when absent.
	// The API documents -1 as an indefinite recommended duration.
	MaxDuration            int  `json:"max_duration,omitempty"`
	RecommendedDuration    int  `json:"recommended_duration,omitempty"`
	RequireManagerApproval bool `json:"require_manager_approval,omitempty"`
	RequireSupportTicket   bool `json:"require_support_ticket,omitempty"`
	IsRequestable          bool `json:"is_requestable,omitempty"`
}

// ResourcesList is one page of resources.
type ResourcesList struct {
	// Next is the cursor of the following page, "" on the last page. Pass
	// it as ListResourcesOptions.Cursor to resume, even from another process.
	Next string `json:"next"`
	// Previous is the cursor the API gave for going back, "" when it sent none.
	Previous string `json:"previous"`
	// Results are the resources on this page.
	Results []Resource `json:"results"`
}

// MarshalJSON encodes the list in the API's shape, with null for a missing
// cursor.
func (l ResourcesList) MarshalJSON() ([]byte, error) {
	return marshalList(l.Next, l.Previous, l.Results)
}

// ResourcesService finds the resources of an Opal organisation: the names
// and types behind the resource IDs of sessions. Use it as
// Client.Resources.
type ResourcesService service
