package files

import (
	"fmt"
	"strings"
)

// Type is a recognised kind of content, named by its usual extension. It is
// what the store keeps and what Headers serves; the value is never taken from
// the client, only from Detect.
type Type string

// The types this package recognises. Images are always accepted; the others
// only when listed in Config.Types.
const (
	JPEG Type = "jpeg"
	PNG  Type = "png"
	GIF  Type = "gif"
	WebP Type = "webp"

	PDF  Type = "pdf"
	TXT  Type = "txt"
	ZIP  Type = "zip"
	DOCX Type = "docx"
	XLSX Type = "xlsx"
	PPTX Type = "pptx"
	ODT  Type = "odt"
	ODS  Type = "ods"
	ODP  Type = "odp"
	DOC  Type = "doc"
	XLS  Type = "xls"
	PPT  Type = "ppt"
)

type typeInfo struct {
	mime, ext string
	image     bool
}

var types = map[Type]typeInfo{
	JPEG: {"image/jpeg", "jpg", true},
	PNG:  {"image/png", "png", true},
	GIF:  {"image/gif", "gif", true},
	WebP: {"image/webp", "webp", true},
	PDF:  {"application/pdf", "pdf", false},
	TXT:  {"text/plain; charset=utf-8", "txt", false},
	ZIP:  {"application/zip", "zip", false},
	DOCX: {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", false},
	XLSX: {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx", false},
	PPTX: {"application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx", false},
	ODT:  {"application/vnd.oasis.opendocument.text", "odt", false},
	ODS:  {"application/vnd.oasis.opendocument.spreadsheet", "ods", false},
	ODP:  {"application/vnd.oasis.opendocument.presentation", "odp", false},
	DOC:  {"application/msword", "doc", false},
	XLS:  {"application/vnd.ms-excel", "xls", false},
	PPT:  {"application/vnd.ms-powerpoint", "ppt", false},
}

// DefaultTypes is the file types accepted when Config.Types is empty:
// pdf, txt, zip and office documents (ppt is known but not in the default).
var DefaultTypes = []Type{PDF, TXT, ZIP, DOCX, XLSX, PPTX, ODT, ODS, ODP, DOC, XLS}

// Valid reports whether t is a type this package knows.
func (t Type) Valid() bool { _, ok := types[t]; return ok }

// MIME is the Content-Type t is served with ("" for an unknown type).
func (t Type) MIME() string { return types[t].mime }

// Ext is the file name extension for t, without the dot ("jpg" for JPEG).
func (t Type) Ext() string { return types[t].ext }

// IsImage reports whether t is one of the image types (shown inline).
func (t Type) IsImage() bool { return types[t].image }

// ParseTypes turns a config list (files.types) into types. Names are the Type
// values, case-insensitive; "office" stands for docx, xlsx, pptx, odt, ods,
// odp, doc and xls; image names are accepted and ignored (images are always
// accepted). Every unknown name is reported in one error.
func ParseTypes(names []string) ([]Type, error) {
	var out []Type
	var bad []string
	for _, n := range names {
		t := Type(strings.ToLower(strings.TrimSpace(n)))
		switch {
		case t == "office":
			out = append(out, DOCX, XLSX, PPTX, ODT, ODS, ODP, DOC, XLS)
		case t == "jpg":
			// an image: always accepted
		case t.Valid():
			if !t.IsImage() {
				out = append(out, t)
			}
		default:
			bad = append(bad, fmt.Sprintf("%q", n))
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("files: unknown type %s (known: pdf, txt, zip, docx, xlsx, pptx, odt, ods, odp, doc, xls, ppt, office)", strings.Join(bad, ", "))
	}
	return out, nil
}
