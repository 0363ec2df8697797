package files

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Detect recognises data by its content alone (never by a name or a client
// header) and checks it: size, allow-list, text that is really text, office
// documents that are what they claim, archives that are not bombs, files
// that are not polyglots. Images are only recognised here by their magic
// bytes; Accept decodes and re-encodes them, which is what makes them safe.
//
// Errors wrap ErrTooLarge, ErrType or ErrContent.
func (p *Processor) Detect(data []byte) (Type, error) {
	if len(data) == 0 {
		return "", fmt.Errorf("%w: empty file", ErrContent)
	}
	if int64(len(data)) > p.cfg.MaxSize {
		return "", fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(data), p.cfg.MaxSize)
	}
	t, err := p.sniff(data)
	if err != nil {
		return "", err
	}
	if !p.allowed[t] {
		return "", fmt.Errorf("%w: %s files are not accepted", ErrType, t)
	}
	return t, nil
}

var (
	magicPNG = []byte("\x89PNG\r\n\x1a\n")
	magicCFB = []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
	magicZIP = []byte("PK\x03\x04")
	magicPDF = []byte("%PDF-")
)

func (p *Processor) sniff(data []byte) (Type, error) {
	switch {
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return JPEG, nil
	case bytes.HasPrefix(data, magicPNG):
		return PNG, nil
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return GIF, nil
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return WebP, nil
	}
	// Files are served as they came, so none may be valid as a second
	// type: not a PDF unless it starts as one (readers look for %PDF-
	// anywhere in the first KiB), not a zip unless it starts as one (a
	// reader looks for the end record at the tail, whatever the head says).
	if !bytes.HasPrefix(data, magicPDF) && bytes.Contains(head(data, 1024), magicPDF) {
		return "", fmt.Errorf("%w: file is also a PDF (polyglot)", ErrContent)
	}
	if bytes.HasPrefix(data, magicZIP) {
		return p.checkZip(data)
	}
	if hasZipEnd(data) {
		return "", fmt.Errorf("%w: file is also a zip archive (polyglot)", ErrContent)
	}
	switch {
	case bytes.HasPrefix(data, magicPDF):
		return PDF, nil
	case bytes.HasPrefix(data, magicCFB):
		return checkCFB(data)
	}
	return checkText(data)
}

func head(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// hasZipEnd reports whether an end-of-central-directory record sits where a
// zip reader would look for one: in the last 64 KiB + 22 bytes.
func hasZipEnd(data []byte) bool {
	tail := data
	if len(tail) > 65535+22 {
		tail = tail[len(tail)-65535-22:]
	}
	return bytes.Contains(tail, []byte("PK\x05\x06")) || bytes.Contains(tail, []byte("PK\x06\x06"))
}

// markup are the openings that make browsers (old Internet Explorer sniffed
// the first 256 bytes whatever the Content-Type) and viewers treat text as
// HTML, SVG or XML.
var markup = []string{
	"<!doctype", "<html", "<head", "<body", "<script", "<svg", "<?xml",
	"<iframe", "<img", "<a ", "<a\t", "<a\n", "<title", "<table", "<pre",
	"<plaintext", "<style", "<object", "<embed", "<meta", "<link", "<form",
	"<!--", "<div", "<xml", "<x:", "<math",
}

func checkText(data []byte) (Type, error) {
	body := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(body) {
		return "", fmt.Errorf("%w: unrecognised content (not an accepted image, document or UTF-8 text)", ErrType)
	}
	for _, c := range body {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' || c == 0x7f {
			return "", fmt.Errorf("%w: text contains control character 0x%02x", ErrType, c)
		}
	}
	lower := strings.ToLower(string(head(body, 1024)))
	for _, m := range markup {
		if strings.Contains(lower, m) {
			return "", fmt.Errorf("%w: HTML, SVG and XML are not accepted", ErrType)
		}
	}
	return TXT, nil
}

// checkZip checks a zip (and the office formats built on it): entry count,
// declared and actual uncompressed sizes, compression ratio, entry names,
// compression methods; it reads each entry once through a budget so a lying
// central directory cannot make it read more. Nested archives are read as
// bytes, never opened.
func (p *Processor) checkZip(data []byte) (Type, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", fmt.Errorf("%w: broken zip archive: %v", ErrContent, err)
	}
	if len(zr.File) > p.cfg.MaxEntries {
		return "", fmt.Errorf("%w: archive has %d entries, at most %d", ErrContent, len(zr.File), p.cfg.MaxEntries)
	}
	var declared uint64
	names := make(map[string]bool, len(zr.File))
	for _, f := range zr.File {
		if f.Flags&1 != 0 || (f.Method != zip.Store && f.Method != zip.Deflate) {
			return "", fmt.Errorf("%w: archive entry %q is encrypted or compressed in a way that cannot be checked", ErrContent, f.Name)
		}
		if unsafeEntryName(f.Name) {
			return "", fmt.Errorf("%w: archive entry name %q points outside the archive", ErrContent, f.Name)
		}
		declared += f.UncompressedSize64
		if declared > uint64(p.cfg.MaxUnpacked) || declared < f.UncompressedSize64 {
			return "", fmt.Errorf("%w: archive unpacks to more than %d bytes (zip bomb)", ErrContent, p.cfg.MaxUnpacked)
		}
		names[f.Name] = true
	}
	if declared > uint64(p.cfg.MaxRatio)*uint64(len(data)) {
		return "", fmt.Errorf("%w: archive compression ratio above %d (zip bomb)", ErrContent, p.cfg.MaxRatio)
	}
	// Read every entry through one budget; archive/zip refuses an entry
	// whose data is longer than declared or whose CRC does not match.
	budget := p.cfg.MaxUnpacked
	var mimetype []byte
	for i, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return "", fmt.Errorf("%w: archive entry %q: %v", ErrContent, f.Name, err)
		}
		var sink io.Writer = io.Discard
		var mt bytes.Buffer
		if i == 0 && f.Name == "mimetype" {
			sink = &limitedBuffer{buf: &mt, n: 128}
		}
		n, err := io.Copy(sink, io.LimitReader(rc, budget+1))
		rc.Close()
		budget -= n
		if budget < 0 {
			return "", fmt.Errorf("%w: archive unpacks to more than %d bytes (zip bomb)", ErrContent, p.cfg.MaxUnpacked)
		}
		if err != nil {
			return "", fmt.Errorf("%w: archive entry %q: %v", ErrContent, f.Name, err)
		}
		if i == 0 && f.Name == "mimetype" {
			mimetype = mt.Bytes()
		}
	}
	return classifyZip(names, mimetype)
}

type limitedBuffer struct {
	buf *bytes.Buffer
	n   int
}

func (l *limitedBuffer) Write(b []byte) (int, error) {
	if room := l.n - l.buf.Len(); room > 0 {
		l.buf.Write(head(b, room))
	}
	return len(b), nil
}

func unsafeEntryName(name string) bool {
	n := strings.ReplaceAll(name, `\`, "/")
	if strings.HasPrefix(n, "/") || (len(n) >= 2 && n[1] == ':') || strings.ContainsRune(n, 0) {
		return true
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

func classifyZip(names map[string]bool, mimetype []byte) (Type, error) {
	for n := range names {
		l := strings.ToLower(n)
		if strings.HasSuffix(l, "vbaproject.bin") || strings.HasPrefix(l, "basic/") {
			return "", fmt.Errorf("%w: documents with macros are not accepted", ErrContent)
		}
	}
	if names["[Content_Types].xml"] {
		switch {
		case names["word/document.xml"]:
			return DOCX, nil
		case names["xl/workbook.xml"]:
			return XLSX, nil
		case names["ppt/presentation.xml"]:
			return PPTX, nil
		}
	}
	switch string(mimetype) {
	case ODT.MIME():
		return ODT, nil
	case ODS.MIME():
		return ODS, nil
	case ODP.MIME():
		return ODP, nil
	}
	return ZIP, nil
}

// checkCFB reads an OLE compound file's directory, following its sector
// chain with every index bounds-checked and the walk bounded by the file's
// sector count (so a cycle ends), and names the document by its streams.
func checkCFB(data []byte) (Type, error) {
	bad := func(why string) (Type, error) {
		return "", fmt.Errorf("%w: broken compound document: %s", ErrContent, why)
	}
	if len(data) < 512 {
		return bad("short header")
	}
	le := binary.LittleEndian
	shift := le.Uint16(data[30:])
	if shift != 9 && shift != 12 {
		return bad("sector size")
	}
	ssz := 1 << shift
	nsect := uint32((len(data) - ssz) / ssz) // sectors after the header sector
	if len(data) < ssz {
		return bad("short header")
	}
	sector := func(n uint32) []byte {
		if n >= nsect {
			return nil
		}
		off := (int(n) + 1) * ssz
		return data[off : off+ssz]
	}
	perFAT := uint32(ssz / 4)
	next := func(n uint32) (uint32, bool) {
		idx := n / perFAT
		if idx >= 109 {
			return 0, false // beyond the header's DIFAT: larger than we accept
		}
		fs := sector(le.Uint32(data[76+4*idx:]))
		if fs == nil {
			return 0, false
		}
		return le.Uint32(fs[4*(n%perFAT):]), true
	}
	found := map[string]bool{}
	const endOfChain = 0xfffffffe
	s := le.Uint32(data[48:])
	for steps := uint32(0); s != endOfChain; steps++ {
		if steps > nsect {
			return bad("directory chain loops")
		}
		sec := sector(s)
		if sec == nil {
			return bad("directory sector out of range")
		}
		for e := 0; e+128 <= len(sec); e += 128 {
			ent := sec[e : e+128]
			nlen := int(le.Uint16(ent[64:]))
			if ent[66] == 0 || nlen < 2 || nlen > 64 || nlen%2 != 0 {
				continue
			}
			u := make([]uint16, nlen/2-1)
			for i := range u {
				u[i] = le.Uint16(ent[2*i:])
			}
			found[string(utf16.Decode(u))] = true
		}
		var ok bool
		if s, ok = next(s); !ok {
			return bad("sector table out of range")
		}
	}
	for _, m := range []string{"_VBA_PROJECT_CUR", "_VBA_PROJECT", "VBA", "Macros"} {
		if found[m] {
			return "", fmt.Errorf("%w: documents with macros are not accepted", ErrContent)
		}
	}
	switch {
	case found["WordDocument"]:
		return DOC, nil
	case found["Workbook"], found["Book"]:
		return XLS, nil
	case found["PowerPoint Document"]:
		return PPT, nil
	}
	return "", fmt.Errorf("%w: compound document is not a Word, Excel or PowerPoint file", ErrType)
}
