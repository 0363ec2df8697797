// Package browser holds the end-to-end tests of the widget: the built
// pollchat binary, a host site on another origin without WebSocket and
// EventSource, jQuery 1.12 and 3 from npm, and Debian's chromium driven
// headless by chromedp. The tests are in *_test.go; scripts/npm.sh installs
// the npm packages they use.
package browser
