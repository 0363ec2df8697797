package files

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
	"time"
	"unicode"
)

func fuzzProc(t testing.TB) *Processor {
	// Small bounds keep each input cheap; the checks are the same.
	return newProc(t, Config{MaxSide: 2000, MaxPixels: 1 << 20, MaxUnpacked: 1 << 20, ThumbSize: 32})
}

func FuzzDetect(f *testing.F) {
	f.Add([]byte("hello"))
	f.Add([]byte("<html><script>alert(1)</script>"))
	f.Add([]byte("%PDF-1.4\n%%EOF"))
	f.Add(cfb("WordDocument"))
	f.Add(cfb("Workbook", "Macros"))
	f.Add(makeZip(f, zipEntry{name: "[Content_Types].xml", data: []byte("<T/>")}, zipEntry{name: "word/document.xml", data: []byte("<w/>")}))
	f.Add(makeZip(f, zipEntry{name: "mimetype", data: []byte("application/vnd.oasis.opendocument.text")}))
	f.Add(makeZip(f, zipEntry{name: "z", data: make([]byte, 1<<16)}))
	f.Add(encGIF(f, solid(3, 3, cRed)))
	f.Add(solidWebP(5, 5, cRed, true))
	f.Add(pngHeader(100000, 100000))
	p := fuzzProc(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := p.Accept(data, "x")
		if err != nil {
			if c := Code(err); c == "INTERNAL_ERROR" {
				t.Fatalf("unclassified refusal: %v", err)
			}
			return
		}
		checkUpload(t, p, u)
	})
}

func FuzzImage(f *testing.F) {
	for o := 1; o <= 8; o++ {
		f.Add(withAPP1(encJPEG(f, stored(o, 12, 8)), exifAPP1(uint16(o), "GPS")))
	}
	f.Add(encPNG(f, solid(6, 4, color.NRGBA{1, 2, 3, 4})))
	gray := image.NewGray(image.Rect(0, 0, 9, 5))
	f.Add(withAPP1(encJPEG(f, gray), exifAPP1(6, "")))
	p := fuzzProc(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := jpegOrientation(data); o < 1 || o > 8 {
			t.Fatalf("jpegOrientation = %d", o)
		}
		if len(data) > 0 && data[0] != 0xff && data[0] != 0x89 {
			return
		}
		u, err := p.Accept(data, "x.jpg")
		if err != nil {
			if Code(err) == "INTERNAL_ERROR" {
				t.Fatalf("unclassified refusal: %v", err)
			}
			return
		}
		checkUpload(t, p, u)
	})
}

func checkUpload(t *testing.T, p *Processor, u *Upload) {
	t.Helper()
	if !u.Type.Valid() || !strings.HasSuffix(u.Name, "."+u.Type.Ext()) {
		t.Fatalf("accepted as %q named %q", u.Type, u.Name)
	}
	if !u.IsImage() {
		if u.Thumb != nil || u.Width != 0 {
			t.Fatal("a file with image fields")
		}
		return
	}
	for _, part := range []struct {
		b    []byte
		t    Type
		w, h int
		box  int
	}{{u.Data, u.Type, u.Width, u.Height, p.cfg.MaxSide}, {u.Thumb, u.ThumbType, u.ThumbWidth, u.ThumbHeight, p.cfg.ThumbSize}} {
		var cfg image.Config
		var err error
		switch part.t {
		case JPEG:
			cfg, err = jpeg.DecodeConfig(bytes.NewReader(part.b))
		case PNG:
			cfg, err = png.DecodeConfig(bytes.NewReader(part.b))
		default:
			t.Fatalf("output type %s", part.t)
		}
		if err != nil || cfg.Width != part.w || cfg.Height != part.h || part.w > part.box || part.h > part.box {
			t.Fatalf("output %s %d×%d (box %d): %v, decodes as %d×%d", part.t, part.w, part.h, part.box, err, cfg.Width, cfg.Height)
		}
	}
}

func FuzzVerify(f *testing.F) {
	s, _ := NewSigner(bytes.Repeat([]byte("k"), 32))
	id := "aaaaaaaaaaaaaaaaaaaaaaaaaa"
	now := time.Unix(1_800_000_000, 0)
	f.Add(s.Sign(id, "with:1:3", now.Add(time.Hour)))
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		scope, err := s.Verify(id, tok, now)
		if err == nil && s.Sign(id, scope, time.Unix(expOf(tok), 0)) != tok {
			t.Fatalf("Verify accepted %q, which Sign does not produce", tok)
		}
	})
}

func expOf(tok string) int64 {
	var e int64
	for _, c := range strings.Split(tok, ".")[1] {
		e = e*10 + int64(c-'0')
	}
	return e
}

func FuzzSafeName(f *testing.F) {
	for _, s := range []string{"a.pdf", "../../x", "a\u202Eb.exe", `C:\a\b.html`, "\x00\r\n\"'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		for _, typ := range []Type{PDF, JPEG, ""} {
			got := SafeName(name, typ)
			if len([]rune(got)) > maxNameRunes || strings.ContainsAny(got, "/\\\"'<>") || strings.HasPrefix(got, ".") {
				t.Fatalf("SafeName(%q) = %q", name, got)
			}
			for _, r := range got {
				if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
					t.Fatalf("SafeName(%q) = %q holds %U", name, got, r)
				}
			}
			want := typ.Ext()
			if want == "" {
				want = "bin"
			}
			if !strings.HasSuffix(got, "."+want) {
				t.Fatalf("SafeName(%q, %s) = %q", name, typ, got)
			}
		}
	})
}
