package main

import (
	"testing"
	"time"

	"github.com/opalclient/opal-go"
)

func TestExpiresIn(t *testing.T) {
	const m, h, d = time.Minute, time.Hour, 24 * time.Hour
	tests := []struct {
		in   time.Duration
		want string
	}{
		{-time.Hour, "expired"},
		{0, "expired"},
		{time.Nanosecond, "<1m"},
		{29 * time.Second, "<1m"},
		{30 * time.Second, "1m"},
		{45 * m, "45m"},
		{45*m - time.Second, "45m"}, // a second of latency does not show
		{h, "1h"},
		{3*h + 12*m, "3h12m"},
		{23*h + 59*m + 50*time.Second, "1d"},
		{2*d + 4*h + 30*m, "2d4h"},
		{2*d + 59*m, "2d"}, // only the two largest units
		{400 * d, "400d"},
	}
	for _, tt := range tests {
		if got := expiresIn(tt.in); got != tt.want {
			t.Errorf("expiresIn(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAccessLevel(t *testing.T) {
	tests := []struct {
		in   opal.ResourceAccessLevel
		want string
	}{
		{opal.ResourceAccessLevel{}, "(default)"},
		{opal.ResourceAccessLevel{Name: "AdminRole", RemoteID: "arn:aws:iam::590304332660:role/AdministratorAccess"}, "AdminRole"},
		{opal.ResourceAccessLevel{RemoteID: "arn:aws:iam::590304332660:role/Billing"}, "arn:aws:iam::590304332660:role/Billing"},
	}
	for _, tt := range tests {
		if got := accessLevel(tt.in); got != tt.want {
			t.Errorf("accessLevel(%+v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
