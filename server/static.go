package server

import (
	"bytes"
	"fmt"
	"io/fs"
	"mime"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"pollchat/assets"
)

// asset is a served file, compressed once at start-up: its body as built,
// its gzip and brotli encodings when they are smaller, and its version (the
// content hash that versioned URLs carry, assets.Version).
type asset struct {
	body, gz, br []byte
	version      string
	ctype        string
}

type assetSet struct {
	files map[string]*asset
}

// placeholder is replaced in the HTML pages by a JSON config object.
var placeholder = []byte("/*POLLCHAT_CONFIG*/null")

// Cache lifetimes of served files: a URL that carries the file's version
// (?v=<hash>) names bytes that never change, so browsers and proxies keep it
// a year without asking again; the bare names (/widget.js on host pages) are
// kept briefly so a new release reaches visitors soon.
const (
	cacheVersioned   = "public, max-age=31536000, immutable"
	cacheUnversioned = "public, max-age=300"
)

// loadAssets prepares the served files once per process (compressing them
// takes about half a second) and shares them, read-only, between servers.
var loadAssets = sync.OnceValues(func() (*assetSet, error) {
	a := &assetSet{files: map[string]*asset{}}
	err := fs.WalkDir(assets.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets.FS, p)
		if err != nil {
			return err
		}
		ctype := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) {
		case ".js":
			ctype = "application/javascript; charset=utf-8"
		case ".css":
			ctype = "text/css; charset=utf-8"
		case ".html":
			ctype = "text/html; charset=utf-8"
		}
		a.files[p] = newAsset(b, ctype)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("server: assets: %w", err)
	}
	// The pages load the widget by its versioned URL: they are never
	// cached themselves (no-store), so they always name the current build.
	if w := a.files["widget.js"]; w != nil {
		for name, f := range a.files {
			if path.Ext(name) == ".html" {
				f.body = bytes.ReplaceAll(f.body, []byte(`src="/widget.js"`), []byte(`src="/widget.js?v=`+w.version+`"`))
			}
		}
	}
	if jq := loadJQuery(); jq != nil {
		a.files["jquery.js"] = jq
	}
	return a, nil
})

// newAsset prepares a served file: its version and, when smaller, its gzip
// and brotli encodings at the best compression (done once per process).
func newAsset(b []byte, ctype string) *asset {
	f := &asset{body: b, version: assets.Version(b), ctype: ctype}
	if strings.HasPrefix(ctype, "text/html") {
		return f // pages are filled in per request and sent whole
	}
	if gz := fasthttp.AppendGzipBytesLevel(nil, b, fasthttp.CompressBestCompression); len(gz) < len(b) {
		f.gz = gz
	}
	if br := fasthttp.AppendBrotliBytesLevel(nil, b, fasthttp.CompressBrotliBestCompression); len(br) < len(b) {
		f.br = br
	}
	return f
}

// encoded picks the body for an Accept-Encoding header: brotli, then gzip,
// then the identity, each only when offered and accepted. It returns the
// Content-Encoding ("" for the identity) and the ETag, which differs per
// encoding (RFC 9110 8.8.3: the encodings are different representations).
func (f *asset) encoded(acceptEncoding []byte) (body []byte, encoding, etag string) {
	switch {
	case f.br != nil && acceptsEncoding(acceptEncoding, "br"):
		return f.br, "br", `"` + f.version + `-br"`
	case f.gz != nil && acceptsEncoding(acceptEncoding, "gzip"):
		return f.gz, "gzip", `"` + f.version + `-gzip"`
	}
	return f.body, "", `"` + f.version + `"`
}

// acceptsEncoding reports whether an Accept-Encoding header accepts coding:
// named, or covered by "*", with a q-value above 0 (RFC 9110 12.5.3). Names
// are case-insensitive; a malformed q counts as 1, as browsers send none.
func acceptsEncoding(header []byte, coding string) bool {
	named, star := -1.0, -1.0
	for _, item := range strings.Split(string(header), ",") {
		name, params, _ := strings.Cut(item, ";")
		name = strings.TrimSpace(name)
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if x, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && x >= 0 && x <= 1 {
					q = x
				}
			}
		}
		switch {
		case strings.EqualFold(name, coding):
			named = max(named, q)
		case name == "*":
			star = max(star, q)
		}
	}
	if named >= 0 {
		return named > 0
	}
	return star > 0
}

// etagMatches reports whether an If-None-Match header names etag (weak
// comparison, RFC 9110 13.1.2) or is "*".
func etagMatches(header []byte, etag string) bool {
	for _, t := range strings.Split(string(header), ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// asset serves an embedded file, precompressed by Accept-Encoding, with an
// ETag per encoding and revalidation. A request whose ?v= is the file's
// version is cached for a year; any other (no v, an old v) briefly.
func (s *Server) asset(name string) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		f := s.assets.files[name]
		if f == nil {
			ctx.Error("not found", fasthttp.StatusNotFound)
			return
		}
		body, encoding, etag := f.encoded(ctx.Request.Header.Peek("Accept-Encoding"))
		h := &ctx.Response.Header
		h.Set("ETag", etag)
		if string(ctx.QueryArgs().Peek("v")) == f.version {
			h.Set("Cache-Control", cacheVersioned)
		} else {
			h.Set("Cache-Control", cacheUnversioned)
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Vary", "Accept-Encoding")
		h.SetContentType(f.ctype)
		if etagMatches(ctx.Request.Header.Peek("If-None-Match"), etag) {
			ctx.SetStatusCode(fasthttp.StatusNotModified)
			return
		}
		if encoding != "" {
			h.Set("Content-Encoding", encoding)
		}
		ctx.SetBody(body)
	}
}

// page serves an HTML page with its config placeholder filled.
func (s *Server) page(ctx *fasthttp.RequestCtx, name string, cfg []byte) {
	f := s.assets.files[name]
	if f == nil {
		ctx.Error("not found", fasthttp.StatusNotFound)
		return
	}
	h := &ctx.Response.Header
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.SetContentType(f.ctype)
	ctx.SetBody(bytes.Replace(f.body, placeholder, cfg, 1))
}

// JQueryPaths are where Debian's libjs-jquery (and similar packages) put
// jQuery. pollchat ships no jQuery of its own (third-party code stays out
// of the tree); it serves the system's copy at /jquery.js so the widget
// works on pages without jQuery, offline too.
var JQueryPaths = []string{"/usr/share/javascript/jquery/jquery.min.js", "/usr/share/nodejs/jquery/dist/jquery.min.js"}

// JQueryFallback is where /jquery.js redirects when no local copy exists.
const JQueryFallback = "https://code.jquery.com/jquery-3.7.1.min.js"

func loadJQuery() *asset {
	for _, p := range JQueryPaths {
		if b, err := os.ReadFile(p); err == nil && len(b) > 0 {
			return newAsset(b, "application/javascript; charset=utf-8")
		}
	}
	return nil
}

// jquery serves the system's jQuery, or redirects to a public copy.
func (s *Server) jquery(ctx *fasthttp.RequestCtx) {
	if s.assets.files["jquery.js"] == nil {
		ctx.Response.Header.Set("Cache-Control", "public, max-age=300")
		ctx.Redirect(JQueryFallback, fasthttp.StatusFound)
		return
	}
	s.asset("jquery.js")(ctx)
}
