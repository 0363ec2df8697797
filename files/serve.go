package files

import (
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Header is one response header.
type Header struct{ Key, Value string }

// Headers returns the headers to serve a stored file of type t under the
// stored (already safe) name with. Every file gets nosniff and a sandboxing
// Content-Security-Policy with nothing allowed, so that even a file a browser
// did render could run nothing; images of the accepted types are served
// inline, everything else (and any type this package does not know) as an
// attachment. The caller adds Content-Length and caching.
func Headers(t Type, name string) []Header {
	name = SafeName(name, t)
	mime := t.MIME()
	disp := "attachment"
	csp := "default-src 'none'; sandbox"
	if t.IsImage() {
		disp = "inline"
		// Opened in a tab of its own, an image is shown by a document the
		// browser makes; let it load the image itself, and nothing else.
		csp = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
	}
	if mime == "" {
		mime = "application/octet-stream"
	}
	return []Header{
		{"Content-Type", mime},
		{"Content-Disposition", disp + `; filename="` + asciiName(name) + `"; filename*=UTF-8''` + pctEncode(name)},
		{"X-Content-Type-Options", "nosniff"},
		{"Content-Security-Policy", csp},
		{"Referrer-Policy", "no-referrer"},
	}
}

// maxNameRunes bounds a safe name's length, extension included.
const maxNameRunes = 100

// SafeName makes a client's file name safe to store, show and send in
// Content-Disposition: it keeps the last path element (either slash), drops
// control and format characters (including bidirectional overrides that
// disguise an extension), quotes, backslashes and characters Windows
// refuses, trims dots and spaces at the ends, bounds the length, and makes
// the extension match t (a PDF named "a.html" is "a.html.pdf", a WebP
// re-encoded as JPEG is "a.jpg"). An empty result becomes "file.EXT".
func SafeName(name string, t Type) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == utf8.RuneError:
			return -1
		case strings.ContainsRune(`"'<>:|?*`+"`", r):
			return '_'
		case unicode.IsSpace(r):
			return ' '
		}
		return r
	}, name)
	name = strings.Trim(name, ". ")
	ext := t.Ext()
	if ext == "" {
		ext = "bin"
	}
	base := name
	if e := path.Ext(name); strings.EqualFold(strings.TrimPrefix(e, "."), ext) ||
		(ext == "jpg" && strings.EqualFold(e, ".jpeg")) {
		base = strings.TrimSuffix(name, e)
	} else if t.IsImage() && isImageExt(e) {
		base = strings.TrimSuffix(name, e) // photo.webp re-encoded: photo.jpg
	}
	base = strings.Trim(base, ". ")
	if base == "" {
		base = "file"
	}
	if r := []rune(base); len(r) > maxNameRunes-1-len(ext) {
		base = strings.TrimRight(string(r[:maxNameRunes-1-len(ext)]), ". ")
	}
	return base + "." + ext
}

func isImageExt(e string) bool {
	switch strings.ToLower(e) {
	case ".jpg", ".jpeg", ".png", ".gif", ".webp":
		return true
	}
	return false
}

func asciiName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '%' {
			b.WriteByte('_')
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// pctEncode encodes s as RFC 8187 ext-value characters (attr-char kept).
func pctEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
