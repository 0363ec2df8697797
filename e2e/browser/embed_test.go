package browser

import (
	"testing"

	"pollchat/internal/testsvc"
)

// TestDataAttributesAndOwnJQuery: a page with no jQuery and no init call,
// only data- attributes on the script tag (identity, language, a colour,
// jqueryUrl): the widget loads that jQuery, says so, starts by itself,
// and logout removes it.
func TestDataAttributesAndOwnJQuery(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	ada := e.newTab("ada")
	ada.navigate(e.pageURL(hostPage{User: "1", DataAttrs: true, Opts: map[string]any{
		"lang":            "fr",
		"open":            "true",
		"layout-launcher": "#ff0000",
		"jquery-url":      e.host.URL + "/jquery/1.js",
	}}))
	ada.waitTrue("online", `window.Pollchat && Pollchat.state() === 'online'`)
	if got := eval[string](ada, `jQuery.fn.jquery`); got != "1.12.4" {
		ada.fatalf("jQuery.fn.jquery = %q; want 1.12.4 from jqueryUrl", got)
	}
	if got := eval[string](ada, `jQuery('.pollchat-tab').first().text()`); got != "Personnes" {
		ada.fatalf("first tab = %q; want Personnes (data-lang=fr)", got)
	}
	if got := eval[string](ada, `getComputedStyle(document.querySelector('.pollchat-launcher')).backgroundColor`); got != "rgb(255, 0, 0)" {
		ada.fatalf("launcher colour = %q; want rgb(255, 0, 0) (data-layout-launcher)", got)
	}
	if !eval[bool](ada, `jQuery('.pollchat-root').hasClass('pollchat-open')`) {
		ada.fatalf("data-open=true did not open the panel")
	}
	// The reconnect waits: 1 s first, doubling with jitter, never past 30 s.
	backoff := eval[[]int](ada, `(function () { var out = []; for (var n = 1; n <= 12; n++) { for (var k = 0; k < 50; k++) { out.push(n * 100000 + Pollchat._backoff(n)); } } return out; })()`)
	for _, v := range backoff {
		n, d := v/100000, v%100000
		lo, hi := 1000, 30000
		if n == 1 {
			hi = 1000
		}
		if n >= 6 {
			lo = 15000
		}
		if d < lo || d > hi {
			ada.fatalf("backoff(%d) = %d ms; want %d..%d", n, d, lo, hi)
		}
	}
	ada.do(`Pollchat.logout()`)
	ada.waitTrue("gone", `!document.querySelector('.pollchat-root') && Pollchat.state() === 'idle'`)
}
