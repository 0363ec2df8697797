package files

import (
	"strings"
	"testing"
)

func TestSafeName(t *testing.T) {
	long := strings.Repeat("é", 300) + ".pdf"
	for _, tt := range []struct {
		in   string
		t    Type
		want string
	}{
		{"report.pdf", PDF, "report.pdf"},
		{"REPORT.PDF", PDF, "REPORT.pdf"},
		{"../../etc/passwd", TXT, "passwd.txt"},
		{`C:\Users\me\evil.html`, PDF, "evil.html.pdf"},
		{"photo.webp", JPEG, "photo.jpg"},
		{"photo.jpeg", JPEG, "photo.jpg"},
		{"scan.png", JPEG, "scan.jpg"},
		{"invoice\u202Efdp.exe", PDF, "invoicefdp.exe.pdf"},
		{`a"b'c<d>.txt`, TXT, "a_b_c_d_.txt"},
		{"line\r\nbreak\x00.txt", TXT, "linebreak.txt"},
		{"", PNG, "file.png"},
		{"...", ZIP, "file.zip"},
		{".bashrc", TXT, "bashrc.txt"},
		{"bad\xffutf8.txt", TXT, "badutf8.txt"},
		{"x", "", "x.bin"},
	} {
		if got := SafeName(tt.in, tt.t); got != tt.want {
			t.Errorf("SafeName(%q, %s) = %q; want %q", tt.in, tt.t, got, tt.want)
		}
	}
	if got := SafeName(long, PDF); len([]rune(got)) > maxNameRunes || !strings.HasSuffix(got, ".pdf") {
		t.Fatalf("SafeName(long) = %d runes %q; want <= %d ending .pdf", len([]rune(got)), got, maxNameRunes)
	}
}

func TestHeaders(t *testing.T) {
	get := func(hs []Header, k string) string {
		for _, h := range hs {
			if h.Key == k {
				return h.Value
			}
		}
		return ""
	}
	for _, tt := range []struct {
		t        Type
		name     string
		ctype    string
		inline   bool
		filename string
	}{
		{JPEG, "Grüße.jpg", "image/jpeg", true, "filename*=UTF-8''Gr%C3%BC%C3%9Fe.jpg"},
		{PNG, "a.png", "image/png", true, "filename*=UTF-8''a.png"},
		{PDF, `x"; filename=evil.html`, "application/pdf", false, `filename="x_; filename=evil.html.pdf"`},
		{TXT, "notes.txt", "text/plain; charset=utf-8", false, "filename*=UTF-8''notes.txt"},
		{Type("svg"), "a.svg", "application/octet-stream", false, "a.svg.bin"},
		{Type("html"), "a.html", "application/octet-stream", false, "a.html.bin"},
	} {
		hs := Headers(tt.t, tt.name)
		if got := get(hs, "Content-Type"); got != tt.ctype {
			t.Errorf("%s: Content-Type = %q; want %q", tt.t, got, tt.ctype)
		}
		if get(hs, "X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", tt.t)
		}
		csp := get(hs, "Content-Security-Policy")
		if !strings.Contains(csp, "sandbox") || !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script") {
			t.Errorf("%s: Content-Security-Policy = %q", tt.t, csp)
		}
		cd := get(hs, "Content-Disposition")
		if strings.HasPrefix(cd, "inline") != tt.inline || strings.HasPrefix(cd, "attachment") == tt.inline {
			t.Errorf("%s: Content-Disposition = %q; inline %v", tt.t, cd, tt.inline)
		}
		if !strings.Contains(cd, tt.filename) || strings.Count(cd, `"`) != 2 || strings.ContainsAny(cd, "\r\n") {
			t.Errorf("%s: Content-Disposition = %q; want it to hold %q, one quoted name", tt.t, cd, tt.filename)
		}
	}
}
