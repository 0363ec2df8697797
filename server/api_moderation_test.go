package server

import (
	"encoding/json"
	"testing"
	"time"

	"pollchat/moderation"
)

func TestBanDuration(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want time.Duration
		ok   bool
	}{
		{nil, 0, true},
		{"", 0, true},
		{"1h", time.Hour, true},
		{" 90m ", 90 * time.Minute, true},
		{"3600", time.Hour, true},
		{json.Number("60"), time.Minute, true},
		{json.Number("1.5"), 0, false},
		{json.Number("0"), 0, false},
		{json.Number("-5"), 0, false},
		{json.Number("1e30"), 0, false},
		{"-1h", 0, false},
		{"500ms", 0, false},
		{"100000h", 0, false},
		{"soon", 0, false},
		{true, 0, false},
		{[]any{}, 0, false},
	} {
		got, ok := banDuration(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("banDuration(%#v) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzBanDuration: whatever a body's duration holds, an accepted one is for
// ever or within 1 s..MaxBan.
func FuzzBanDuration(f *testing.F) {
	for _, s := range []string{"", "1h", "3600", "-1", "9223372036854775807", "1e300", "NaN", "2562047h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, v := range []any{s, json.Number(s)} {
			d, ok := banDuration(v)
			if ok && d != 0 && (d < time.Second || d > moderation.MaxBan) {
				t.Fatalf("banDuration(%#v) = %v accepted", v, d)
			}
			if !ok && d != 0 {
				t.Fatalf("banDuration(%#v) refused but returned %v", v, d)
			}
		}
	})
}
