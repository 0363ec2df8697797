package browser

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pollchat/internal/testsvc"
)

// es5Check parses each file with acorn (ecmaVersion 5) and rejects the
// globals an ES5 browser lacks (Promise, fetch, …) used as identifiers.
const es5Check = `
var acorn = require(process.argv[2]);
var fs = require('fs');
var banned = {Promise: 1, fetch: 1, Symbol: 1, Map: 1, Set: 1, WeakMap: 1, Proxy: 1, Reflect: 1};
var failed = 0;
process.argv.slice(3).forEach(function (file) {
  var src = fs.readFileSync(file, 'utf8');
  try {
    acorn.parse(src, {ecmaVersion: 5, sourceType: 'script'});
    var prev = null;
    var tokens = acorn.tokenizer(src, {ecmaVersion: 5});
    for (var tok = tokens.getToken(); tok.type !== acorn.tokTypes.eof; tok = tokens.getToken()) {
      if (tok.type === acorn.tokTypes.name && banned[tok.value] && !(prev && prev.type === acorn.tokTypes.dot)) {
        throw new Error('uses ' + tok.value + ' at offset ' + tok.start);
      }
      prev = tok;
    }
    console.log('ok ' + file);
  } catch (e) {
    console.log('FAIL ' + file + ': ' + e.message);
    failed++;
  }
});
process.exit(failed ? 1 : 0);
`

// TestServedScriptsAreES5 fetches every script the server serves to
// browsers (the minified build) and parses it as ES5, with the readable
// sources and the committed build beside them; a sample with newer syntax
// must fail.
func TestServedScriptsAreES5(t *testing.T) {
	modules := nodeModules(t)
	pc := testsvc.StartPollchat(t, testsvc.Options{})
	dir := t.TempDir()
	check := filepath.Join(dir, "es5check.js")
	if err := os.WriteFile(check, []byte(es5Check), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(files ...string) (string, error) {
		args := append([]string{check, filepath.Join(modules, "acorn")}, files...)
		out, err := exec.Command("node", args...).CombinedOutput()
		return string(out), err
	}
	var served []string
	for _, name := range []string{"widget.js", "messenger.js"} {
		resp, err := http.Get(pc.URL + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(body) < 1000 {
			t.Fatalf("GET /%s = %d with %d bytes; want 200 and the script", name, resp.StatusCode, len(body))
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		served = append(served, p)
	}
	for _, name := range []string{"widget.js", "messenger.js", "dist/widget.min.js", "dist/messenger.min.js"} {
		served = append(served, filepath.Join(testsvc.RepoRoot(), "assets", name))
	}
	if out, err := run(served...); err != nil {
		t.Fatalf("served scripts are not ES5: %v\n%s", err, out)
	}
	for _, c := range []struct{ name, src string }{
		{"let.js", "let x = 1;"},
		{"arrow.js", "var f = () => 1;"},
		{"template.js", "var s = `x${1}`;"},
		{"promise.js", "var p = new Promise(function (r) { r(1); });"},
		{"fetch.js", "fetch('/x');"},
	} {
		p := filepath.Join(dir, c.name)
		if err := os.WriteFile(p, []byte(c.src), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := run(p)
		if err == nil || !strings.Contains(out, "FAIL") {
			t.Errorf("es5check(%q) passed; want a failure\n%s", c.src, out)
		}
	}
}
