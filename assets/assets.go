// Package assets holds the browser side of pollchat: the drop-in widget
// (widget.js, widget.css), the eStreamChat-compatible messenger.js, and the
// HTML pages the server fills in (demo.html, demo-user.html, chat.html).
//
// widget.js, widget.css and messenger.js are written readable (ES5, as in
// STYLE.md) and served built: scripts/widget.sh (`make widget`) minifies
// them with terser and clean-css from npm into dist/, and dist/ is
// committed, so building the server needs no npm. A browser test rebuilds
// dist/ and fails when the committed files are stale.
//
// The HTML pages carry the literal placeholder /*POLLCHAT_CONFIG*/null which
// the server replaces with a JSON object before sending the page.
package assets

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io"
	"io/fs"
	"strings"
)

//go:embed *.js *.css *.html dist/*.js dist/*.css
var files embed.FS

// Source holds the files as written: the readable widget.js, widget.css and
// messenger.js, the pages, and the built files under dist/.
var Source fs.FS = files

// Built maps each public name that is served built to its file in Source.
var Built = map[string]string{
	"widget.js":    "dist/widget.min.js",
	"widget.css":   "dist/widget.min.css",
	"messenger.js": "dist/messenger.min.js",
}

// FS holds every served browser file under the name it is served by: the
// pages as written, and the names in Built with their built contents.
var FS fs.FS = served{}

// served is Source seen from a browser: dist/ is hidden and each name in
// Built opens its built file.
type served struct{}

var (
	_ fs.ReadDirFS = served{}
	_ fs.StatFS    = served{}
)

func (served) path(name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if name == "dist" || strings.HasPrefix(name, "dist/") {
		return "", &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	if p, ok := Built[name]; ok {
		return p, nil
	}
	return name, nil
}

func (s served) Open(name string) (fs.File, error) {
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	f, err := files.Open(p)
	switch {
	case err != nil:
		return nil, err
	case name == ".":
		ents, err := s.ReadDir(".")
		if err != nil {
			f.Close()
			return nil, err
		}
		return &rootDir{File: f, ents: ents}, nil
	case p != name:
		return renamedFile{f, name}, nil
	}
	return f, nil
}

func (s served) Stat(name string) (fs.FileInfo, error) {
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	fi, err := fs.Stat(files, p)
	if err != nil || p == name {
		return fi, err
	}
	return renamed{fi, name}, nil
}

func (s served) ReadDir(name string) ([]fs.DirEntry, error) {
	if _, err := s.path(name); err != nil {
		return nil, err
	}
	ents, err := files.ReadDir(name)
	if err != nil || name != "." {
		return ents, err
	}
	out := ents[:0:0]
	for _, e := range ents {
		if e.Name() == "dist" {
			continue
		}
		if _, ok := Built[e.Name()]; ok {
			fi, err := s.Stat(e.Name())
			if err != nil {
				return nil, err
			}
			e = fs.FileInfoToDirEntry(fi)
		}
		out = append(out, e)
	}
	return out, nil
}

// renamed is a built file's FileInfo under its public name.
type renamed struct {
	fs.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }

type renamedFile struct {
	fs.File
	name string
}

func (f renamedFile) Stat() (fs.FileInfo, error) {
	fi, err := f.File.Stat()
	if err != nil {
		return nil, err
	}
	return renamed{fi, f.name}, nil
}

// Version is the version of a served file in its URL (?v=…): the first 16
// hex digits of the SHA-256 of its bytes. scripts/build-widget.js computes
// the same to write widget.css's version into widget.js and widget.js's
// into messenger.js.
func Version(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// rootDir is the served root directory: its entries are served.ReadDir's.
type rootDir struct {
	fs.File
	ents []fs.DirEntry
}

func (d *rootDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if n <= 0 {
		ents := d.ents
		d.ents = nil
		return ents, nil
	}
	if len(d.ents) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.ents))
	ents := d.ents[:n:n]
	d.ents = d.ents[n:]
	return ents, nil
}
