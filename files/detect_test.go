package files

import (
	"bytes"
	"errors"
	"image/color"
	"strings"
	"testing"
)

func TestDetect(t *testing.T) {
	p := newProc(t, Config{})
	red := color.NRGBA{255, 0, 0, 255}
	jpg := encJPEG(t, solid(8, 8, red))
	png := encPNG(t, solid(8, 8, red))
	docx := makeZip(t, zipEntry{name: "[Content_Types].xml", data: []byte("<Types/>")}, zipEntry{name: "word/document.xml", data: []byte("<w/>")})
	xlsx := makeZip(t, zipEntry{name: "[Content_Types].xml", data: []byte("<Types/>")}, zipEntry{name: "xl/workbook.xml", data: []byte("<w/>")})
	pptx := makeZip(t, zipEntry{name: "[Content_Types].xml", data: []byte("<Types/>")}, zipEntry{name: "ppt/presentation.xml", data: []byte("<p/>")})
	odf := func(kind string) []byte {
		return makeZip(t, zipEntry{name: "mimetype", data: []byte("application/vnd.oasis.opendocument." + kind)}, zipEntry{name: "content.xml", data: []byte("<c/>")})
	}
	pdf := []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
	html := []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>")
	svg := []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
	bareSVG := []byte(`  <svg onload="alert(1)"/>`)
	plainZip := makeZip(t, zipEntry{name: "notes/a.txt", data: []byte("hello")})

	tests := []struct {
		name string
		data []byte
		want Type
		err  error
	}{
		{"jpeg", jpg, JPEG, nil},
		{"png", png, PNG, nil},
		{"gif", encGIF(t, solid(8, 8, red)), GIF, nil},
		{"webp", solidWebP(8, 8, red, false), WebP, nil},
		{"pdf", pdf, PDF, nil},
		{"text", []byte("Grüße,\r\n\tworld\n"), TXT, nil},
		{"text with BOM", []byte("\xef\xbb\xbfhello"), TXT, nil},
		{"zip", plainZip, ZIP, nil},
		{"docx", docx, DOCX, nil},
		{"xlsx", xlsx, XLSX, nil},
		{"pptx", pptx, PPTX, nil},
		{"odt", odf("text"), ODT, nil},
		{"ods", odf("spreadsheet"), ODS, nil},
		{"odp", odf("presentation"), ODP, nil},
		{"doc", cfb("WordDocument", "SummaryInformation"), DOC, nil},
		{"xls", cfb("Workbook"), XLS, nil},
		{"ppt not in default list", cfb("PowerPoint Document"), "", ErrType},
		{"msi-like compound file", cfb("SomethingElse"), "", ErrType},
		{"doc with macros", cfb("WordDocument", "Macros"), "", ErrContent},
		{"docm renamed docx", makeZip(t, zipEntry{name: "[Content_Types].xml", data: []byte("<T/>")}, zipEntry{name: "word/document.xml", data: []byte("<w/>")}, zipEntry{name: "word/vbaProject.bin", data: []byte("x")}), "", ErrContent},
		{"empty", nil, "", ErrContent},
		{"html", html, "", ErrType},
		{"html after spaces", append([]byte("\n\n   "), html...), "", ErrType},
		{"svg with script", svg, "", ErrType},
		{"bare svg", bareSVG, "", ErrType},
		{"html deep in the first KiB", append(bytes.Repeat([]byte("a"), 600), []byte("<script>x</script>")...), "", ErrType},
		{"binary", []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0}, "", ErrType},
		{"latin-1 text", []byte("caf\xe9"), "", ErrType},
		{"text with NUL", []byte("a\x00b"), "", ErrType},
		{"text with escape", []byte("a\x1b[2Jb"), "", ErrType},
		{"pdf with a zip behind", append(append([]byte{}, pdf...), plainZip...), "", ErrContent},
		{"text with a zip behind", append([]byte("hello "), plainZip...), "", ErrContent},
		{"cfb with a zip behind", append(cfb("WordDocument"), plainZip...), "", ErrContent},
		{"zip that is also a pdf", makeZip(t, zipEntry{name: "a", data: []byte("%PDF-1.4 hello"), stored: true}), "", ErrContent},
		{"text that is also a pdf", []byte("hello\n%PDF-1.4\n"), "", ErrContent},
		{"zip slip", makeZip(t, zipEntry{name: "../../etc/cron.d/x", data: []byte("x")}), "", ErrContent},
		{"zip absolute", makeZip(t, zipEntry{name: "/etc/passwd", data: []byte("x")}), "", ErrContent},
		{"zip windows drive", makeZip(t, zipEntry{name: `C:\x.bat`, data: []byte("x")}), "", ErrContent},
		{"broken zip", []byte("PK\x03\x04garbage"), "", ErrContent},
		{"short cfb", magicCFB, "", ErrContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Detect(tt.data)
			if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("Detect = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestDetectAllowList(t *testing.T) {
	p := newProc(t, Config{Types: []Type{PDF}})
	if _, err := p.Detect([]byte("hello")); !errors.Is(err, ErrType) || !strings.Contains(err.Error(), "txt") {
		t.Fatalf("Detect(text) with only pdf = %v; want ErrType naming txt", err)
	}
	if got, err := p.Detect([]byte("%PDF-1.7\n")); got != PDF || err != nil {
		t.Fatalf("Detect(pdf) = %q, %v; want pdf", got, err)
	}
	if got, err := p.Detect(encPNG(t, solid(2, 2, color.Black))); got != PNG || err != nil {
		t.Fatalf("images are always accepted: Detect(png) = %q, %v", got, err)
	}
	none := newProc(t, Config{Types: []Type{}})
	if _, err := none.Detect([]byte("%PDF-1.7\n")); !errors.Is(err, ErrType) {
		t.Fatalf("images-only Detect(pdf) = %v; want ErrType", err)
	}
}

func TestDetectSize(t *testing.T) {
	p := newProc(t, Config{MaxSize: 100})
	_, err := p.Detect(bytes.Repeat([]byte("a"), 101))
	if !errors.Is(err, ErrTooLarge) || Code(err) != "TOO_LONG" {
		t.Fatalf("Detect(101 bytes, max 100) = %v (%s); want ErrTooLarge, TOO_LONG", err, Code(err))
	}
	if _, err := p.Detect(bytes.Repeat([]byte("a"), 100)); err != nil {
		t.Fatalf("Detect(100 bytes, max 100) = %v; want nil", err)
	}
	if d := newProc(t, Config{}).Config().MaxSize; d != 5<<20 {
		t.Fatalf("default MaxSize = %d; want 5 MiB", d)
	}
}

func TestZipBomb(t *testing.T) {
	p := newProc(t, Config{})
	// 50 MiB of zeros deflate to about 50 KiB: a ratio near 1000.
	bomb := makeZip(t, zipEntry{name: "zeros.bin", data: make([]byte, 50<<20)})
	if len(bomb) > 1<<20 {
		t.Fatalf("test bomb is %d bytes; expected a high ratio", len(bomb))
	}
	if _, err := p.Detect(bomb); !errors.Is(err, ErrContent) || !strings.Contains(err.Error(), "zip bomb") {
		t.Fatalf("Detect(zip bomb) = %v; want ErrContent zip bomb", err)
	}
	// Many entries, each small, whose sum is too large for MaxUnpacked.
	small := newProc(t, Config{MaxUnpacked: 1 << 20, MaxRatio: 1 << 20})
	var ents []zipEntry
	for i := 0; i < 20; i++ {
		ents = append(ents, zipEntry{name: "z" + string(rune('a'+i)), data: make([]byte, 100<<10)})
	}
	if _, err := small.Detect(makeZip(t, ents...)); !errors.Is(err, ErrContent) {
		t.Fatalf("Detect(2 MiB unpacked, limit 1 MiB) = %v; want ErrContent", err)
	}
	// Nested archives are not expanded: a zip holding a bomb is judged by
	// its own sizes (the inner bomb is ~50 KiB of bytes).
	nested := makeZip(t, zipEntry{name: "inner.zip", data: bomb, stored: true})
	if got, err := p.Detect(nested); got != ZIP || err != nil {
		t.Fatalf("Detect(zip holding a zip) = %q, %v; want zip, nil (not expanded)", got, err)
	}
	// Too many entries.
	few := newProc(t, Config{MaxEntries: 3})
	if _, err := few.Detect(makeZip(t, ents[:4]...)); !errors.Is(err, ErrContent) {
		t.Fatalf("Detect(4 entries, max 3) = %v; want ErrContent", err)
	}
}

// TestZipLyingDirectory: the central directory declares 10 bytes, the entry
// really inflates to 1 MiB. Reading stops at the declared size and refuses.
func TestZipLyingDirectory(t *testing.T) {
	real := makeZip(t, zipEntry{name: "big", data: bytes.Repeat([]byte("A"), 1<<20)})
	// Patch the uncompressed size in the local header (offset 22) and in
	// the central directory entry (offset 24 from its signature).
	lie := append([]byte{}, real...)
	lie[22], lie[23], lie[24], lie[25] = 10, 0, 0, 0
	cd := bytes.Index(lie, []byte("PK\x01\x02"))
	if cd < 0 {
		t.Fatal("no central directory")
	}
	lie[cd+24], lie[cd+25], lie[cd+26], lie[cd+27] = 10, 0, 0, 0
	p := newProc(t, Config{})
	if _, err := p.Detect(lie); !errors.Is(err, ErrContent) {
		t.Fatalf("Detect(lying directory) = %v; want ErrContent", err)
	}
}

func TestCFBLoop(t *testing.T) {
	c := cfb("WordDocument")
	// Make the directory chain point at itself.
	c[512+4], c[512+5], c[512+6], c[512+7] = 1, 0, 0, 0
	p := newProc(t, Config{})
	if _, err := p.Detect(c); !errors.Is(err, ErrContent) {
		t.Fatalf("Detect(looping compound file) = %v; want ErrContent", err)
	}
}
