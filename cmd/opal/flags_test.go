package main

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
		{"36H", 36 * h, false},
		{"1h30m", 90 * time.Minute, false},
		{"7d", 7 * d, false},
		{"7D", 7 * d, false},
		{"1S", time.Second, false},
		{"1M", 0, true}, // a month, or a minute?
		{"90M", 0, true},
		{"1h30M", 0, true},
		{"1.5d", 36 * h, false},
		{"0.5D12h", d, false},
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
		{"1.5.1d", 0, true},
		{".d", 0, true},
		{"1e3d", 0, true},
		{"infd", 0, true},
		{"d", 0, true},
		{"7days", 0, true},
		{"1h7d", 0, true},
		{"7", 0, true},
		{"soon", 0, true},
		// Greek capital mu, which strings.ToLower would make the mu of
		// microseconds: "1ΜS" displays as 1MS, which is refused.
		{"1\u039cS", 0, true},
		{"1\u039c", 0, true},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("parseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestResourceType(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"AWS_IAM_ROLE", "AWS_IAM_ROLE", ""},
		{"okta_app", "OKTA_APP", ""},
		{"azure_user_assigned_managed_identity", "AZURE_USER_ASSIGNED_MANAGED_Identity", ""},
		{"GITHUB_REPO", "", `-resource-type "GITHUB_REPO" is not a resource type of Opal; did you mean GIT_HUB_REPO?`},
		{"aws_iam_rol", "", `did you mean AWS_IAM_ROLE?`},
		// A Kelvin sign or a long s is no letter of a type, though
		// strings.EqualFold takes them for k and s.
		{"O\u212aTA_APP", "", `did you mean OKTA_APP?`},
		{"AW\u017f_IAM_ROLE", "", `did you mean AWS_IAM_ROLE?`},
		{"BLOB", "", `-resource-type "BLOB" is not a resource type of Opal; want one of: AWS_IAM_ROLE, AWS_EC2_INSTANCE, `},
	}
	for _, tt := range tests {
		got, err := resourceType("-resource-type", tt.in)
		if string(got) != tt.want || (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("resourceType(%q) = %q, %v; want %q, an error with %q", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestNearest(t *testing.T) {
	names := []string{"access", "sessions", "users", "resources", "version", "help"}
	for in, want := range map[string]string{"acess": "access", "ACCESS": "access", "session": "sessions", "resorces": "resources", "user": "users", "xyz": "", "": ""} {
		if got := nearest(in, names); got != want {
			t.Errorf("nearest(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestResourceIDsAccumulate: -resource-id repeated adds to the IDs, as gh
// takes repeated flags, each once and in order; an empty ID is an error.
func TestResourceIDsAccumulate(t *testing.T) {
	tests := []struct {
		args    []string
		want    []string
		wantErr bool
	}{
		{[]string{"-resource-id", "a"}, []string{"a"}, false},
		{[]string{"-resource-id", "a,b", "-resource-id", "c"}, []string{"a", "b", "c"}, false},
		{[]string{"-resource-id", " a , b ", "-resource-id=b,a", "-resource-id", "d"}, []string{"a", "b", "d"}, false},
		{[]string{"-resource-id", "a,"}, nil, true},
		{[]string{"-resource-id", "a", "-resource-id", ""}, nil, true},
	}
	for _, tt := range tests {
		var l idList
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Var(&l, "resource-id", "")
		err := fs.Parse(tt.args)
		if (err != nil) != tt.wantErr || !tt.wantErr && !cmp.Equal(tt.want, l.ids) {
			t.Errorf("%q: %q, %v; want %q, error %v", tt.args, l.ids, err, tt.want, tt.wantErr)
		}
	}
}

func TestChoice(t *testing.T) {
	for _, in := range []string{"csv", "CSV", "Csv"} {
		if got, err := choice("-format", in, "table", "json", "csv"); got != "csv" || err != nil {
			t.Errorf("choice(%q) = %q, %v; want csv", in, got, err)
		}
	}
	if _, err := choice("-format", "xml", "table", "json", "csv"); err == nil || err.Error() != `-format "xml": want table, json or csv` {
		t.Errorf("choice(xml) error = %v", err)
	}
	// A capital I with a dot above is no i, though strings.ToLower makes
	// it one.
	if got, err := choice("-sort", "EXP\u0130RES", "expires", "user", "resource"); err == nil {
		t.Errorf("choice(EXP\u0130RES) = %q, want an error", got)
	}
}

// TestCount: messages agree in number.
func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 resources", 1: "1 resource", 2: "2 resources"} {
		if got := count(n, "resource", "resources"); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}
