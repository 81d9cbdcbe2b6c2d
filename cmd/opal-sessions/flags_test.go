package main

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	const h, d = time.Hour, 24 * time.Hour
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"90m", 90 * time.Minute, false},
		{"36h", 36 * h, false},
		{"1h30m", 90 * time.Minute, false},
		{"7d", 7 * d, false},
		{"7d12h", 7*d + 12*h, false},
		{"1d1s", d + time.Second, false},
		{"0d30m", 30 * time.Minute, false},
		{"106751d", 106751 * d, false}, // the longest time.Duration holds
		{"106752d", 0, true},
		{"106751d24h", 0, true},
		{"", 0, true},
		{"0", 0, true},
		{"0d", 0, true},
		{"-1h", 0, true},
		{"-7d", 0, true},
		{"7d-1h", 0, true},
		{"1.5d", 0, true},
		{"d", 0, true},
		{"7days", 0, true},
		{"1h7d", 0, true},
		{"7", 0, true},
		{"soon", 0, true},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("parseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestKnownType(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"AWS_IAM_ROLE", "AWS_IAM_ROLE", true},
		{"okta_app", "OKTA_APP", true},
		{"azure_user_assigned_managed_identity", "AZURE_USER_ASSIGNED_MANAGED_Identity", true},
		{"AWS_ROLE", "", false},
	}
	for _, tt := range tests {
		if got, ok := knownType(tt.in); string(got) != tt.want || ok != tt.ok {
			t.Errorf("knownType(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
