package browser

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

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
