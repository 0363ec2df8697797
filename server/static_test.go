package server

import (
	"strings"
	"testing"
)

func TestAcceptsEncoding(t *testing.T) {
	for _, c := range []struct {
		header, coding string
		want           bool
	}{
		{"gzip, deflate, br, zstd", "br", true},
		{"gzip, deflate, br, zstd", "gzip", true},
		{"gzip, deflate", "br", false},
		{"", "gzip", false},
		{"identity", "gzip", false},
		{"BR", "br", true},
		{"br;q=0", "br", false},
		{"br; q=0.0, gzip", "br", false},
		{"br;q=0.001", "br", true},
		{"*", "br", true},
		{"*;q=0", "gzip", false},
		{"*;q=0, gzip", "gzip", true},
		{"gzip;q=0, *", "gzip", false},
		{"brotli", "br", false},
		{"xbr, gzipx", "br", false},
		{"br;q=2", "br", true},     // out of range: ignored, so 1
		{"br;q=abc", "br", true},   // malformed: ignored, so 1
		{"br;q=-1", "br", true},    // out of range: ignored
		{"br;q=0, br", "br", true}, // the best listed weight wins
		{",,;;=,", "br", false},
	} {
		if got := acceptsEncoding([]byte(c.header), c.coding); got != c.want {
			t.Errorf("acceptsEncoding(%q, %q) = %v; want %v", c.header, c.coding, got, c.want)
		}
	}
}

func TestEtagMatches(t *testing.T) {
	for _, c := range []struct {
		header string
		want   bool
	}{
		{`"abc"`, true},
		{`W/"abc"`, true},
		{`"x", "abc"`, true},
		{`*`, true},
		{`"abc-gzip"`, false},
		{`abc`, false},
		{``, false},
	} {
		if got := etagMatches([]byte(c.header), `"abc"`); got != c.want {
			t.Errorf("etagMatches(%q) = %v; want %v", c.header, got, c.want)
		}
	}
}

// TestAssetEncodings: each built file has a gzip and a brotli encoding,
// smaller than the file, each with its own ETag.
func TestAssetEncodings(t *testing.T) {
	a, err := loadAssets()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"widget.js", "widget.css", "messenger.js"} {
		f := a.files[name]
		if f == nil || f.gz == nil || f.br == nil {
			t.Fatalf("%s: missing or without gzip and brotli", name)
		}
		seen := map[string]bool{}
		for _, ae := range []string{"br, gzip", "gzip", ""} {
			body, enc, etag := f.encoded([]byte(ae))
			if seen[etag] {
				t.Errorf("%s: ETag %s repeats across encodings", name, etag)
			}
			seen[etag] = true
			want := map[string]string{"br, gzip": "br", "gzip": "gzip", "": ""}[ae]
			if enc != want {
				t.Errorf("%s encoded(%q) = %q; want %q", name, ae, enc, want)
			}
			if enc != "" && len(body) >= len(f.body) {
				t.Errorf("%s: %s is %d bytes, not smaller than %d", name, enc, len(body), len(f.body))
			}
		}
	}
	// The pages load the widget by its versioned URL.
	want := `src="/widget.js?v=` + a.files["widget.js"].version + `"`
	for _, name := range []string{"chat.html", "demo-user.html"} {
		if !strings.Contains(string(a.files[name].body), want) {
			t.Errorf("%s does not contain %s", name, want)
		}
	}
}

func FuzzAcceptEncoding(f *testing.F) {
	for _, s := range []string{"gzip, deflate, br", "br;q=0, *;q=0.5", "*", ";q=1", "br;q=1e400", ",,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		br := acceptsEncoding([]byte(h), "br")
		// Adding a refusal of br after everything it said never makes br
		// acceptable where it was refused, and a refusal alone refuses it.
		if !br && acceptsEncoding([]byte(h+",br;q=0"), "br") {
			t.Errorf("acceptsEncoding(%q + br;q=0) accepts br", h)
		}
		if !strings.Contains(strings.ToLower(h), "br") && !strings.Contains(h, "*") && br {
			t.Errorf("acceptsEncoding(%q, br) = true without br or *", h)
		}
		etagMatches([]byte(h), `"x"`)
	})
}
