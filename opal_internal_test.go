package opal

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseBaseURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://opal.example.com", "https://opal.example.com/v1"},
		{"https://opal.example.com/", "https://opal.example.com/v1"},
		{"https://opal.example.com/v1", "https://opal.example.com/v1"},
		{"https://opal.example.com/v1/", "https://opal.example.com/v1/"},
		{"https://opal.example.com/opal/api", "https://opal.example.com/opal/api"},
		{"HTTPS://opal.example.com:8443", "https://opal.example.com:8443/v1"},
		{"http://localhost:8080", "http://localhost:8080/v1"},
		{"http://LOCALHOST", "http://LOCALHOST/v1"},
		{"http://127.0.0.1:1234/v1", "http://127.0.0.1:1234/v1"},
		{"http://127.8.9.10", "http://127.8.9.10/v1"},
		{"http://[::1]:9000/", "http://[::1]:9000/v1"},
		{DefaultBaseURL, DefaultBaseURL},
	}
	for _, tt := range tests {
		u, err := parseBaseURL(tt.in)
		if err != nil {
			t.Errorf("parseBaseURL(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, u.String()); diff != "" {
			t.Errorf("parseBaseURL(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}
