package opal

import (
	"math"
	"testing"
	"time"
)

func TestBackoffWait(t *testing.T) {
	tests := []struct {
		min, max   time.Duration
		retry      int
		lower, top time.Duration
	}{
		{time.Second, 30 * time.Second, 0, time.Second, 2 * time.Second},
		{time.Second, 30 * time.Second, 3, time.Second, 16 * time.Second},
		{time.Second, 30 * time.Second, 4, time.Second, 30 * time.Second},
		{time.Second, 30 * time.Second, 200, time.Second, 30 * time.Second},
		{0, 10 * time.Millisecond, 0, 0, 10 * time.Millisecond},
		{0, 0, 5, 0, 0},
		{time.Second, time.Second, 3, time.Second, time.Second},
		{time.Hour, 1<<63 - 1, 62, time.Hour, 1<<63 - 1},
		// No argument overflows or panics: the whole range of durations,
		// a retry count that overflows when incremented, negative values.
		{0, 1<<63 - 1, 0, 0, 1<<63 - 1},
		{0, 1<<63 - 1, 70, 0, 1<<63 - 1},
		{1, 1<<63 - 1, 61, 1, 1<<63 - 1},
		{time.Second, 30 * time.Second, math.MaxInt, time.Second, 30 * time.Second},
		{time.Second, 30 * time.Second, -1, time.Second, 30 * time.Second},
		{-time.Second, time.Second, 0, 0, time.Second},
		{time.Second, -time.Second, 0, time.Second, time.Second},
	}
	for _, tt := range tests {
		seen := map[time.Duration]bool{}
		for range 200 {
			w := backoffWait(tt.min, tt.max, tt.retry)
			if w < tt.lower || w > tt.top {
				t.Fatalf("backoffWait(%v, %v, %d) = %v, want within [%v, %v]", tt.min, tt.max, tt.retry, w, tt.lower, tt.top)
			}
			seen[w] = true
		}
		if tt.top-tt.lower > time.Millisecond && len(seen) < 10 {
			t.Errorf("backoffWait(%v, %v, %d) took only %d values in 200 draws: no jitter", tt.min, tt.max, tt.retry, len(seen))
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"99999999999999999999", 1<<63 - 1, true},
		{"9223372036", 9223372036 * time.Second, true}, // the most seconds a Duration holds
		{"9223372037", 1<<63 - 1, true},
		{"-3", 0, false},
		{"+5", 0, false},
		{"1.5", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
		{"soon", 0, false},
		{"Thu, 26 Nov 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Thu, 26 Nov 2026 11:59:00 GMT", 0, true},
		{"Fri, 31 Dec 9999 23:59:59 GMT", 1<<63 - 1, true},
		{"Mon, 01 Jan 0001 00:00:00 GMT", 0, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}
