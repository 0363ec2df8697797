package server

import (
	"regexp"
	"strings"
	"testing"
)

var callbackRE = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$`)

func TestValidCallback(t *testing.T) {
	cases := map[string]bool{
		"cb": true, "jQuery1124_123": true, "$": true, "_": true, "a.b.c": true, "$.x_1": true,
		"__proto__": true, strings.Repeat("a", 128): true,
		"": false, strings.Repeat("a", 129): false, "1a": false, "a.1": false, "a..b": false, ".a": false, "a.": false,
		"alert(1)//": false, "<script>": false, "a b": false, "a-b": false, "é": false, "a\x00": false, "a;b": false, "a[0]": false,
	}
	for in, want := range cases {
		if got := ValidCallback([]byte(in)); got != want {
			t.Errorf("ValidCallback(%q) = %v; want %v", in, got, want)
		}
	}
}

func FuzzCallback(f *testing.F) {
	for _, s := range []string{"cb", "a.b", "alert(1)//", "<script>", "__proto__", "a..b", "\u2028", strings.Repeat("x", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := len(s) <= MaxCallbackLen && callbackRE.MatchString(s)
		if got := ValidCallback([]byte(s)); got != want {
			t.Fatalf("ValidCallback(%q) = %v; want %v (the protocol's regexp)", s, got, want)
		}
	})
}
