package browser

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"pollchat/internal/testsvc"
)

// chromiumPath is Debian's chromium; scripts/deps.sh installs it.
const chromiumPath = "/usr/bin/chromium"

// wait bounds every wait for something to show up in a page.
const wait = 45 * time.Second

var (
	npmOnce sync.Once
	npmErr  error

	artifactsOnce sync.Once
	artifactsDir  string
)

// nodeModules returns e2e/browser/node_modules, running scripts/npm.sh once
// when the packages are missing.
func nodeModules(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(testsvc.RepoRoot(), "e2e", "browser", "node_modules")
	npmOnce.Do(func() {
		need := []string{"jquery1/dist/jquery.min.js", "jquery3/dist/jquery.min.js", "acorn/dist/acorn.js", "axe-core/axe.min.js",
			"terser/package.json", "clean-css/package.json"}
		for _, f := range need {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				cmd := exec.Command("bash", filepath.Join(testsvc.RepoRoot(), "scripts", "npm.sh"))
				out, err := cmd.CombinedOutput()
				if err != nil {
					npmErr = fmt.Errorf("scripts/npm.sh: %v\n%s", err, out)
				}
				return
			}
		}
	})
	if npmErr != nil {
		t.Fatal(npmErr)
	}
	return dir
}

// artifacts is where screenshots go: $POLLCHAT_ARTIFACTS (the Makefile sets
// it) or a temp dir kept after the test.
func artifacts(t testing.TB) string {
	t.Helper()
	artifactsOnce.Do(func() {
		artifactsDir = os.Getenv("POLLCHAT_ARTIFACTS")
		if artifactsDir == "" {
			artifactsDir, _ = os.MkdirTemp("", "pollchat-artifacts-")
		}
		_ = os.MkdirAll(artifactsDir, 0o755)
	})
	return artifactsDir
}

// sign returns a fresh legacy identity for id: timestamp and SHA1(id+timestamp+secret).
func sign(id string) (timestamp, hash string) {
	timestamp = time.Now().UTC().Format("060102150405")
	return timestamp, sha1hex(id + timestamp + testsvc.Secret)
}

func sha1hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// env is one test's pollchat server, host site and browser.
type env struct {
	t       *testing.T
	pc      *testsvc.Pollchat
	host    *httptest.Server
	browser context.Context
	modules string
}

func newEnv(t *testing.T, o testsvc.Options) *env {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium missing at %s (run scripts/deps.sh): %v", chromiumPath, err)
	}
	e := &env{t: t, modules: nodeModules(t)}
	e.pc = testsvc.StartPollchat(t, o)
	e.host = httptest.NewServer(http.HandlerFunc(e.serveHost))
	t.Cleanup(e.host.Close)
	e.browser = newBrowser(t)
	return e
}

func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// page describes a host page: who is logged in, which jQuery the site has,
// and more widget options.
type hostPage struct {
	User      string         // legacy identity, signed now ("" with Opts guest: none)
	Token     string         // or a JWT
	JQuery    string         // "1" (1.12.4), "3" (3.x) or "" (none: the widget loads one)
	Opts      map[string]any // more Pollchat.init options
	Messenger bool           // embed /messenger.js with Messenger.initialize instead
	DataAttrs bool           // put identity and Opts (strings) on the script tag as data- attributes, no init call
	Lang, Dir string         // the page's <html lang> (default en) and dir
}

func (e *env) pageURL(p hostPage) string {
	b, err := json.Marshal(p)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.host.URL + "/page?p=" + url.QueryEscape(string(b))
}

// serveHost is the host site: another origin than pollchat. It removes
// WebSocket and EventSource before anything else runs and serves jQuery
// from npm.
func (e *env) serveHost(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/jquery/1.js":
		http.ServeFile(w, r, filepath.Join(e.modules, "jquery1", "dist", "jquery.min.js"))
		return
	case "/jquery/3.js":
		http.ServeFile(w, r, filepath.Join(e.modules, "jquery3", "dist", "jquery.min.js"))
		return
	case "/page":
	default:
		http.NotFound(w, r)
		return
	}
	var p hostPage
	if err := json.Unmarshal([]byte(r.URL.Query().Get("p")), &p); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	opts := map[string]any{"server": e.pc.URL}
	for k, v := range p.Opts {
		opts[k] = v
	}
	ts, hash := sign(p.User)
	if p.Token != "" {
		opts["token"] = p.Token
	} else if p.User == "" && opts["guest"] == true {
		// A guest page ({guest: true}) carries no identity at all.
	} else {
		opts["id"], opts["timestamp"], opts["hash"] = p.User, ts, hash
	}
	optsJSON, _ := json.Marshal(opts)
	jq := ""
	if p.JQuery != "" {
		jq = fmt.Sprintf(`<script src="/jquery/%s.js"></script>`, url.PathEscape(p.JQuery))
	}
	embed := fmt.Sprintf(`<script src="%s/widget.js"></script>
<script>
recordEvents(Pollchat);
Pollchat.init(%s);
</script>`, e.pc.URL, optsJSON)
	if p.DataAttrs {
		var attrs strings.Builder
		for k, v := range opts {
			if k == "server" {
				continue
			}
			fmt.Fprintf(&attrs, ` data-%s="%s"`, html.EscapeString(k), html.EscapeString(fmt.Sprint(v)))
		}
		embed = fmt.Sprintf(`<script src="%s/widget.js"%s></script>
<script>recordEvents(Pollchat);</script>`, e.pc.URL, attrs.String())
	}
	if p.Messenger {
		id, _ := json.Marshal(p.User)
		embed = fmt.Sprintf(`<script src="%s/messenger.js"></script>
<script>
Messenger.initialize(%q, %s, %q, %q, 5000);
Messenger.on('ready', function () { recordEvents(Pollchat); });
</script>`, e.pc.URL, e.pc.URL+"/", id, ts, hash)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	lang := p.Lang
	if lang == "" {
		lang = "en"
	}
	htmlAttrs := fmt.Sprintf(`lang="%s"`, html.EscapeString(lang))
	if p.Dir != "" {
		htmlAttrs += fmt.Sprintf(` dir="%s"`, html.EscapeString(p.Dir))
	}
	fmt.Fprintf(w, hostHTML, htmlAttrs, jq, embed)
}

const hostHTML = `<!DOCTYPE html>
<html %s>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Riverside Book Club</title>
<script>
  // This site's visitors have no WebSocket and no EventSource.
  delete window.WebSocket;
  delete window.EventSource;
  window.__rec = {events: {}, errors: []};
  window.onerror = function (m) { __rec.errors.push(String(m)); };
  function recordEvents(P) {
    if (window.__recording) { return; }
    window.__recording = true;
    var names = ['ready', 'message_sent', 'message_received', 'chat_request', 'chat_answer', 'user_connected',
      'user_disconnected', 'typing_started', 'unread_changed', 'access_token_is_about_to_expire', 'connection_changed', 'read',
      'chat_loaded', 'access_token_expired', 'message_read', 'auth_error', 'chat_removed', 'show'];
    for (var i = 0; i < names.length; i++) {
      (function (n) {
        P.on(n, function (d) { (__rec.events[n] = __rec.events[n] || []).push(d === undefined ? null : d); });
      }(names[i]));
    }
  }
</script>
%s
<style>
  body { margin: 0; font: 16px/1.6 Georgia, "DejaVu Serif", serif; background: #f7f4ee; color: #2b2620; }
  .masthead { background: #7a2e1f; color: #fbf4e8; padding: 18px 40px; }
  .masthead h1 { margin: 0; font-size: 26px; font-weight: normal; letter-spacing: .02em; }
  .masthead nav { font: 14px Arial, sans-serif; opacity: .85; margin-top: 4px; }
  main { max-width: 720px; padding: 24px 40px; }
  h2 { font-weight: normal; font-size: 22px; margin: 0 0 8px; }
  p { margin: 0 0 14px; }
  .card { background: #fff; border: 1px solid #e6dfd2; border-radius: 4px; padding: 14px 18px; margin: 16px 0; }
  ul { padding-left: 22px; }
  button, input, textarea, img { border: 3px dashed red; }
  * { line-height: 2; }
</style>
</head>
<body>
<div class="masthead"><h1>Riverside Book Club</h1><nav>Home · Reading list · Meetings · Members</nav></div>
<main>
  <h2>This month: The Left Hand of Darkness</h2>
  <p>We meet on Thursday at seven in the back room of the library. Bring your copy and one question for the group.</p>
  <div class="card"><b>Next up</b><ul><li>Piranesi</li><li>The Dispossessed</li><li>Station Eleven</li></ul></div>
  <p>New members are welcome. Say hello in the chat in the corner.</p>
</main>
%s
</body>
</html>`

// tab is one browser user: its own browser context (cookies, storage).
type tab struct {
	t      *testing.T
	e      *env
	name   string
	ctx    context.Context
	cancel context.CancelFunc
	logs   *logBuffer
}

// close closes the tab (its browser context goes with it).
func (b *tab) close() { b.cancel() }

type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuffer) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) < 400 {
		l.lines = append(l.lines, s)
	}
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// newTab opens a tab in a fresh browser context, records its console, and
// answers requests for jQuery's CDN from npm (no internet here).
func (e *env) newTab(name string) *tab {
	e.t.Helper()
	ctx, cancel := chromedp.NewContext(e.browser, chromedp.WithNewBrowserContext())
	return e.setupTab(name, ctx, cancel)
}

// newTabBeside opens another tab in the browser context of b: the same
// cookies and localStorage, as a second tab of the same visitor.
func (e *env) newTabBeside(b *tab, name string) *tab {
	e.t.Helper()
	// A child of the browser, not of b: closing b must not close this one.
	ctx, cancel := chromedp.NewContext(e.browser, chromedp.WithExistingBrowserContext(chromedp.FromContext(b.ctx).BrowserContextID))
	return e.setupTab(name, ctx, cancel)
}

func (e *env) setupTab(name string, ctx context.Context, cancel context.CancelFunc) *tab {
	e.t.Helper()
	e.t.Cleanup(cancel)
	b := &tab{t: e.t, e: e, name: name, ctx: ctx, cancel: cancel, logs: &logBuffer{}}
	if err := chromedp.Do(ctx); err != nil {
		e.t.Fatalf("%s: open tab: %v", name, err)
	}
	consoleEvents := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	go func() {
		for ev, err := range consoleEvents {
			if err != nil {
				return
			}
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value))
			}
			b.logs.add("console." + string(ev.Type) + ": " + strings.Join(parts, " "))
		}
	}()
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			b.logs.add(fmt.Sprintf("exception: %s (%s:%d)", msg, d.URL, d.LineNumber))
		}
	}()
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			file := "jquery3"
			if strings.Contains(ev.Request.URL, "jquery-1.") {
				file = "jquery1"
			}
			body, rerr := os.ReadFile(filepath.Join(e.modules, file, "dist", "jquery.min.js"))
			if rerr != nil {
				b.logs.add("intercept: " + rerr.Error())
				continue
			}
			b.logs.add("intercept: served " + ev.Request.URL + " from npm " + file)
			_, _ = chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
				RequestID:       ev.RequestID,
				ResponseCode:    200,
				ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/javascript; charset=utf-8"}},
				Body:            body,
			})
		}
	}()
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*code.jquery.com/*"}}}); err != nil {
		e.t.Fatalf("%s: fetch.enable: %v", name, err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		e.t.Fatalf("%s: network.enable: %v", name, err)
	}
	return b
}

func (b *tab) fatalf(format string, args ...any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(function(){ try { return document.visibilityState + " focus=" + document.hasFocus() + " " + JSON.stringify(window.Pollchat && Pollchat.stats()) + '\n' + JSON.stringify(window.__rec) + '\n' + ((document.querySelector('.pollchat-root') || {}).outerHTML || 'no widget').slice(0, 4000); } catch (e) { return String(e); } })()`))
	b.t.Fatalf("%s: %s\n--- %s console ---\n%s\n--- %s state ---\n%s", b.name, fmt.Sprintf(format, args...), b.name, b.logs.String(), b.name, state)
}

func (b *tab) navigate(u string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		b.fatalf("navigate %s: %v", u, err)
	}
}

// open loads a host page and waits until the widget is online.
func (b *tab) open(p hostPage) {
	b.t.Helper()
	b.navigate(b.e.pageURL(p))
	b.waitTrue("widget online", `window.Pollchat && Pollchat.state() === 'online' && !!document.querySelector('.pollchat-root')`)
}

// eval evaluates expr and decodes its JSON value into T.
func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fatalf("eval %s: %v", expr, err)
	}
	return v
}

func (b *tab) do(expr string) {
	b.t.Helper()
	eval[chromedp.Void](b, expr)
}

// waitTrue polls expr until it is true, at most wait.
func (b *tab) waitTrue(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(wait)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`(function(){ try { return !!(`+expr+`); } catch (e) { return 'error: ' + e.message; } })()`))
		cancel()
		if err == nil && string(v) == "true" {
			return
		}
		last = string(v)
		if err != nil {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.fatalf("waited %v for %s (%s); last value %s", wait, what, expr, last)
}

func (b *tab) click(sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	for {
		err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel)))
		// The widget redraws lists (presence, unread counts): a node found
		// by the query can be replaced before the click lands on it. Click
		// the new one; anything else, or the deadline, fails the test.
		var cdp *cdproto.Error
		if err == nil || !errors.As(err, &cdp) || cdp.Code != -32000 || ctx.Err() != nil {
			if err != nil {
				b.fatalf("click %s: %v", sel, err)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *tab) typeInto(sel, text string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(sel), text)); err != nil {
		b.fatalf("type into %s: %v", sel, err)
	}
}

// block cuts (or with on=false restores) this tab's requests to pollchat.
func (b *tab) block(on bool) {
	b.t.Helper()
	var patterns []*network.BlockPattern
	if on {
		patterns = []*network.BlockPattern{{URLPattern: b.e.pc.URL + "/v1/*", Block: true}}
	}
	if _, err := chromedp.Call(b.ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: patterns}); err != nil {
		b.fatalf("setBlockedURLs: %v", err)
	}
}

// screenshot saves the viewport as NAME.png under the artifacts dir.
func (b *tab) screenshot(name string) string {
	b.t.Helper()
	time.Sleep(400 * time.Millisecond) // let the pop-in animations end
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.fatalf("screenshot: %v", err)
	}
	path := filepath.Join(artifacts(b.t), name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
	return path
}

func (b *tab) setViewport(w, h int64) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, h)); err != nil {
		b.fatalf("viewport: %v", err)
	}
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// sel helpers
func win(uid string) string { return `.pollchat-window[data-uid="` + uid + `"]` }

// countBubbles returns an expression counting message bubbles with exactly text in a window.
func countBubbles(winSel, text string) string {
	return `Array.prototype.filter.call(document.querySelectorAll(` + js(winSel+` .pollchat-msg .pollchat-bubble`) + `), function (e) { return e.textContent === ` + js(text) + `; }).length`
}

func itoa(n int) string { return fmt.Sprint(n) }
