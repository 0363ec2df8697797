// Builds the served widget from the readable sources in assets/: minified
// with terser (ES5 in, ES5 out) and clean-css, into the directory given as
// the first argument. Run it through scripts/widget.sh, which installs the
// npm packages first. The output is deterministic: the same sources and
// package versions give the same bytes (a browser test checks that the
// committed assets/dist matches a fresh build).
//
// Order matters: widget.css first, so its content hash can be written into
// widget.min.js (the widget then asks for /widget.css?v=<hash>, a URL the
// server lets browsers cache for a year); then widget.js, whose hash goes
// into messenger.min.js the same way.
'use strict';
var fs = require('fs');
var path = require('path');
var crypto = require('crypto');

var root = path.resolve(__dirname, '..');
var modules = path.join(root, 'e2e', 'browser', 'node_modules');
var terser = require(path.join(modules, 'terser'));
var CleanCSS = require(path.join(modules, 'clean-css'));

var out = path.resolve(process.argv[2] || path.join(root, 'assets', 'dist'));

// hash is the version the server gives each served file: the first 16 hex
// digits of the SHA-256 of its bytes (server/static.go computes the same).
function hash(b) {
  return crypto.createHash('sha256').update(b).digest('hex').slice(0, 16);
}

function read(name) {
  return fs.readFileSync(path.join(root, 'assets', name), 'utf8');
}

function banner(name) {
  return '/*! pollchat ' + name + ', minified; readable source: assets/' + name + ' */';
}

function css() {
  var res = new CleanCSS({level: 1, compatibility: 'ie9', inline: false, rebase: false}).minify(read('widget.css'));
  if (res.errors.length) { throw new Error('widget.css: ' + res.errors.join('; ')); }
  if (res.warnings.length) { throw new Error('widget.css: ' + res.warnings.join('; ')); }
  return banner('widget.css') + '\n' + res.styles + '\n';
}

function js(name, defs) {
  return terser.minify({[name]: read(name)}, {
    ecma: 5,
    ie8: false,
    safari10: true,
    compress: {ecma: 5, passes: 2, global_defs: defs},
    mangle: {toplevel: false},
    format: {ecma: 5, comments: false, preamble: banner(name), ascii_only: false}
  }).then(function (res) {
    return res.code + '\n';
  });
}

async function main() {
  fs.mkdirSync(out, {recursive: true});
  var c = css();
  var w = await js('widget.js', {POLLCHAT_CSS_HASH: hash(c)});
  var m = await js('messenger.js', {POLLCHAT_WIDGET_HASH: hash(w)});
  fs.writeFileSync(path.join(out, 'widget.min.css'), c);
  fs.writeFileSync(path.join(out, 'widget.min.js'), w);
  fs.writeFileSync(path.join(out, 'messenger.min.js'), m);
  [['widget.js', w], ['widget.css', c], ['messenger.js', m]].forEach(function (f) {
    var src = Buffer.byteLength(read(f[0]));
    console.log(f[0] + ': ' + src + ' -> ' + Buffer.byteLength(f[1]) + ' bytes (' + Math.round(100 * Buffer.byteLength(f[1]) / src) + '%), v=' + hash(f[1]));
  });
}

main().catch(function (e) {
  console.error('build-widget: ' + (e && e.stack || e));
  process.exit(1);
});
