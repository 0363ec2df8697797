package browser

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"pollchat/assets"
	"pollchat/internal/testsvc"
)

// builtFiles are the files scripts/widget.sh writes into assets/dist.
var builtFiles = []string{"widget.min.js", "widget.min.css", "messenger.min.js"}

// TestBuiltWidgetIsFresh rebuilds the served widget from the readable
// sources into a temporary directory and compares it with the committed
// assets/dist: an edit of widget.js, widget.css or messenger.js without
// `make widget` fails here, so what is served cannot go stale.
func TestBuiltWidgetIsFresh(t *testing.T) {
	nodeModules(t)
	dir := t.TempDir()
	cmd := exec.Command("node", filepath.Join(testsvc.RepoRoot(), "scripts", "build-widget.js"), dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/build-widget.js: %v\n%s", err, out)
	}
	t.Logf("fresh build:\n%s", out)
	for _, name := range builtFiles {
		fresh, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(filepath.Join(testsvc.RepoRoot(), "assets", "dist", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fresh, committed) {
			t.Errorf("assets/dist/%s (%d bytes) differs from a fresh build (%d bytes): run make widget and commit assets/dist", name, len(committed), len(fresh))
		}
	}
}

// get fetches a URL with the given Accept-Encoding (Go's client then leaves
// the body as sent) and returns the response and its raw body.
func get(t *testing.T, u, acceptEncoding string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", acceptEncoding)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestServedWidgetIsTheBuild: /widget.js, /widget.css and /messenger.js
// answer with the committed build, not the readable source.
func TestServedWidgetIsTheBuild(t *testing.T) {
	pc := testsvc.StartPollchat(t, testsvc.Options{})
	for name, p := range assets.Built {
		built, err := os.ReadFile(filepath.Join(testsvc.RepoRoot(), "assets", p))
		if err != nil {
			t.Fatal(err)
		}
		resp, body := get(t, pc.URL+"/"+name, "identity")
		if resp.StatusCode != 200 || !bytes.Equal(body, built) {
			t.Errorf("GET /%s = %d with %d bytes; want 200 and assets/%s (%d bytes)", name, resp.StatusCode, len(body), p, len(built))
		}
	}
}

// TestMinifiedWidgetWorks: a host page loads the served (minified) widget;
// the code the browser runs is the build, its stylesheet comes from the
// versioned URL and applies, and two users chat both ways. A page that
// embeds messenger.js gets widget.js from its versioned URL too.
func TestMinifiedWidgetWorks(t *testing.T) {
	css, err := os.ReadFile(filepath.Join(testsvc.RepoRoot(), "assets", "dist", "widget.min.css"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(testsvc.RepoRoot(), "assets", "dist", "widget.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, testsvc.Options{})
	linus := e.newTab("linus")
	linus.open(hostPage{User: "3", Opts: map[string]any{"pollTimeout": 3}})
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", Opts: map[string]any{"open": true}})

	// The readable source has line breaks inside every function; terser's
	// output has none.
	if eval[bool](ada, `String(Pollchat.init).indexOf('\n') >= 0`) {
		ada.fatalf("Pollchat.init has line breaks: the page runs the readable source, not the build")
	}
	wantCSS := e.pc.URL + "/widget.css?v=" + assets.Version(css)
	ada.waitTrue("stylesheet loaded", `(function () { var l = document.querySelector('link[data-pollchat=css]'); return !!l && !!l.sheet; })()`)
	if got := eval[string](ada, `document.querySelector('link[data-pollchat=css]').href`); got != wantCSS {
		ada.fatalf("stylesheet URL = %q; want %q", got, wantCSS)
	}
	if got := eval[string](ada, `getComputedStyle(document.querySelector('.pollchat-root')).position`); got != "fixed" {
		ada.fatalf("root position = %q; want fixed from the minified widget.css", got)
	}

	ada.waitTrue("Linus in Ada's online list", `document.querySelector('.pollchat-people .pollchat-row[data-uid="3"]')`)
	ada.click(`.pollchat-people .pollchat-row[data-uid="3"]`)
	ada.waitTrue("window with Linus", `document.querySelector('`+win("3")+`')`)
	ada.typeInto(win("3")+` .pollchat-input`, "Minified and still talking?\r")
	linus.waitTrue("Ada's message at Linus", countBubbles(win("1"), "Minified and still talking?")+` === 1`)
	linus.click(win("1") + ` .pollchat-input`)
	linus.typeInto(win("1")+` .pollchat-input`, "Loud and clear.\r")
	ada.waitTrue("Linus's reply at Ada", countBubbles(win("3"), "Loud and clear.")+` === 1`)

	grace := e.newTab("grace")
	grace.navigate(e.pageURL(hostPage{User: "2", Messenger: true}))
	grace.waitTrue("widget online through messenger.js", `window.Pollchat && Pollchat.state() === 'online'`)
	wantJS := e.pc.URL + "/widget.js?v=" + assets.Version(js)
	if n := eval[int](grace, `document.querySelectorAll('script[src="`+wantJS+`"]').length`); n != 1 {
		grace.fatalf("scripts loading %s = %d; want 1 (messenger.js asks for the versioned widget)", wantJS, n)
	}
}

// TestWidgetWeightAndCaching measures what a visitor downloads (source,
// minified, gzip, brotli) and checks the headers that make each encoding
// and URL cache correctly: Content-Encoding and Content-Length per
// encoding, Vary, an ETag per encoding that revalidates to 304, a year
// and immutable on the versioned URL, five minutes on the bare name.
func TestWidgetWeightAndCaching(t *testing.T) {
	pc := testsvc.StartPollchat(t, testsvc.Options{})
	var report strings.Builder
	fmt.Fprintf(&report, "%-13s %8s %8s %8s %8s\n", "file", "source", "minified", "gzip", "brotli")
	for _, c := range []struct {
		name   string
		margin float64 // the build is at most this share of the source
	}{
		{"widget.js", 0.75},
		{"widget.css", 0.90},
		{"messenger.js", 0.60},
	} {
		src, err := os.ReadFile(filepath.Join(testsvc.RepoRoot(), "assets", c.name))
		if err != nil {
			t.Fatal(err)
		}
		sizes := map[string]int{}
		etags := map[string]string{}
		var version string
		for _, enc := range []string{"identity", "gzip", "br"} {
			resp, body := get(t, pc.URL+"/"+c.name, enc)
			h := resp.Header
			if resp.StatusCode != 200 {
				t.Fatalf("GET /%s (%s) = %d", c.name, enc, resp.StatusCode)
			}
			wantEnc := enc
			if enc == "identity" {
				wantEnc = ""
			}
			if got := h.Get("Content-Encoding"); got != wantEnc {
				t.Errorf("GET /%s Accept-Encoding %s: Content-Encoding = %q; want %q", c.name, enc, got, wantEnc)
			}
			if got := h.Get("Content-Length"); got != strconv.Itoa(len(body)) {
				t.Errorf("GET /%s (%s): Content-Length = %q; body has %d bytes", c.name, enc, got, len(body))
			}
			if got := h.Get("Vary"); got != "Accept-Encoding" {
				t.Errorf("GET /%s (%s): Vary = %q; want Accept-Encoding", c.name, enc, got)
			}
			if got := h.Get("Cache-Control"); got != "public, max-age=300" {
				t.Errorf("GET /%s (%s): Cache-Control = %q; want public, max-age=300 on the bare name", c.name, enc, got)
			}
			plain := decode(t, enc, body)
			if enc == "identity" {
				version = assets.Version(plain)
			} else if assets.Version(plain) != version {
				t.Errorf("GET /%s (%s) decodes to other bytes than the identity", c.name, enc)
			}
			sizes[enc] = len(body)
			etag := h.Get("ETag")
			for e, other := range etags {
				if other == etag {
					t.Errorf("/%s: %s and %s share ETag %s", c.name, e, enc, etag)
				}
			}
			etags[enc] = etag

			// Revalidation: the ETag of this encoding answers 304.
			req, _ := http.NewRequest("GET", pc.URL+"/"+c.name, nil)
			req.Header.Set("Accept-Encoding", enc)
			req.Header.Set("If-None-Match", etag)
			r304, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			r304.Body.Close()
			if r304.StatusCode != 304 || r304.Header.Get("ETag") != etag {
				t.Errorf("GET /%s (%s) If-None-Match %s = %d ETag %q; want 304 with the same ETag", c.name, enc, etag, r304.StatusCode, r304.Header.Get("ETag"))
			}
		}

		// The versioned URL is kept a year; an old version, briefly.
		for _, v := range []struct{ q, want string }{
			{"?v=" + version, "public, max-age=31536000, immutable"},
			{"?v=0000000000000000", "public, max-age=300"},
			{"?v=", "public, max-age=300"},
		} {
			resp, body := get(t, pc.URL+"/"+c.name+v.q, "br")
			if got := resp.Header.Get("Cache-Control"); resp.StatusCode != 200 || got != v.want {
				t.Errorf("GET /%s%s = %d, Cache-Control %q; want 200, %q", c.name, v.q, resp.StatusCode, got, v.want)
			}
			if assets.Version(decode(t, "br", body)) != version {
				t.Errorf("GET /%s%s is not the current build", c.name, v.q)
			}
		}

		src0, mini, gz, br := len(src), sizes["identity"], sizes["gzip"], sizes["br"]
		fmt.Fprintf(&report, "%-13s %8d %8d %8d %8d\n", c.name, src0, mini, gz, br)
		if float64(mini) > c.margin*float64(src0) {
			t.Errorf("/%s minified is %d bytes, %.0f%% of the %d-byte source; want at most %.0f%%", c.name, mini, 100*float64(mini)/float64(src0), src0, 100*c.margin)
		}
		if gz >= mini || br >= gz {
			t.Errorf("/%s: minified %d, gzip %d, brotli %d; want each smaller than the one before", c.name, mini, gz, br)
		}
	}
	t.Logf("bytes sent for each file:\n%s", report.String())
}

// decode undoes a Content-Encoding (with fasthttp's decoders).
func decode(t *testing.T, enc string, body []byte) []byte {
	t.Helper()
	var out []byte
	var err error
	switch enc {
	case "gzip":
		out, err = fasthttp.AppendGunzipBytes(nil, body)
	case "br":
		out, err = fasthttp.AppendUnbrotliBytes(nil, body)
	default:
		return body
	}
	if err != nil {
		t.Fatalf("decoding %s: %v", enc, err)
	}
	return out
}
