package browser

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"pollchat/internal/testsvc"
)

// The widget for every visitor (issue 18): phones, keyboards, screen
// readers, right-to-left pages. Each test drives real Chromium.

// key presses one key (kb.Enter, kb.Tab, " ", …) in the focused element.
func (b *tab) key(k string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.KeyEvent(k)); err != nil {
		b.fatalf("key %q: %v", k, err)
	}
}

// phone makes the tab a 375×667 touch phone.
func (b *tab) phone() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(375, 667, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2))); err != nil {
		b.fatalf("phone emulation: %v", err)
	}
	if _, err := chromedp.Call(ctx, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: true, MaxTouchPoints: 5}); err != nil {
		b.fatalf("touch emulation: %v", err)
	}
}

// tap taps the centre of the first element matching sel, as a finger would:
// whatever is on top there gets it.
func (b *tab) tap(sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)); err != nil {
		b.fatalf("tap %s: %v", sel, err)
	}
}

// onTop is an expression: the element at the centre of sel is sel or inside it.
func onTop(sel string) string {
	return `(function () { var e = document.querySelector(` + js(sel) + `); if (!e) { return false; } var r = e.getBoundingClientRect();
		var h = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2); return !!h && (h === e || e.contains(h)); })()`
}

// axe runs axe-core (from npm) on the widget and fails on any serious or
// critical violation.
func (b *tab) axe(what string) {
	b.t.Helper()
	src, err := os.ReadFile(filepath.Join(b.e.modules, "axe-core", "axe.min.js"))
	if err != nil {
		b.t.Fatal(err)
	}
	// Contrast is judged on what the visitor reads, not on a frame of a
	// fade-in: wait until every finite animation has finished.
	b.waitTrue("animations settled before auditing "+what, `!document.getAnimations || document.getAnimations().filter(function (a) {
		return a.playState === 'running' && isFinite(a.effect.getComputedTiming().endTime); }).length === 0`)
	b.do(`if (!window.axe) { (0, eval)(` + js(string(src)) + `); } window.__axe = null;
		axe.run(document.getElementById('pollchat-root'), {resultTypes: ['violations']}).then(function (r) {
			window.__axe = r.violations.filter(function (v) { return v.impact === 'serious' || v.impact === 'critical'; }).map(function (v) {
				return v.id + ' (' + v.impact + '): ' + v.help + ' at ' + v.nodes.map(function (n) { return n.target.join(' ') + ' ' + (n.failureSummary || '').replace(/\s+/g, ' '); }).join(' | ');
			});
		}, function (e) { window.__axe = ['axe failed: ' + e]; });`)
	b.waitTrue("axe done on "+what, `window.__axe !== null`)
	if v := eval[[]string](b, `window.__axe`); len(v) != 0 {
		b.fatalf("axe on %s: %d serious or critical violations:\n%s", what, len(v), strings.Join(v, "\n"))
	}
}

// TestAccessibilityAudit: axe-core finds no serious or critical violation
// on the panel, a conversation, a room and the request card; the roles a
// screen reader needs are there.
func TestAccessibilityAudit(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	linus := e.newTab("linus")
	linus.open(hostPage{User: "3", JQuery: "3"})
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", JQuery: "3"})

	ada.do(`Pollchat.open()`)
	ada.waitTrue("Linus listed", `document.querySelector('.pollchat-people .pollchat-row[data-uid="3"]')`)
	if n := eval[int](ada, `document.querySelectorAll('.pollchat-root button button, .pollchat-root [role=button] button, .pollchat-root button [role=button]').length`); n != 0 {
		ada.fatalf("%d buttons nested in buttons; want none", n)
	}
	for _, c := range []struct{ what, expr string }{
		{"tablist", `document.querySelector('.pollchat-tabs').getAttribute('role') === 'tablist'`},
		{"tabs", `jQuery('.pollchat-tab[role=tab]').length === 2 && jQuery('.pollchat-tab').first().attr('aria-selected') === 'true'`},
		{"tab panels", `jQuery('#pollchat-people[role=tabpanel]').length === 1 && jQuery('#pollchat-roomlist[role=tabpanel]').length === 1`},
		{"named panel", `jQuery('.pollchat-panel').attr('aria-labelledby') && document.getElementById(jQuery('.pollchat-panel').attr('aria-labelledby')).textContent === 'Chat'`},
		{"launcher state", `jQuery('.pollchat-launcher').attr('aria-expanded') === 'true' && jQuery('.pollchat-launcher').attr('aria-label') === 'Close chat'`},
		{"live region", `jQuery('.pollchat-sr[aria-live=polite]').length === 1`},
	} {
		if !eval[bool](ada, c.expr) {
			ada.fatalf("%s: %s is false", c.what, c.expr)
		}
	}
	ada.axe("the panel")

	ada.do(`Pollchat.composeMessage('3', 'Accessible?', true)`)
	linus.waitTrue("message at Linus", countBubbles(win("1"), "Accessible?")+` === 1`)
	linus.do(`Pollchat.composeMessage('1', 'Yes: https://example.org/a11y.', true)`)
	ada.waitTrue("reply at Ada", `jQuery('`+win("3")+` .pollchat-in .pollchat-bubble a.pollchat-link').length === 1`)
	if !eval[bool](ada, `(function () { var w = jQuery('`+win("3")+`'); var t = document.getElementById(w.attr('aria-labelledby'));
		return w.attr('role') === 'dialog' && !!t && t.textContent === 'Linus' && w.find('.pollchat-msgs').attr('role') === 'log'; })()`) {
		ada.fatalf("conversation window is not a named dialog with a log")
	}
	ada.axe("a conversation")

	ada.do(`Pollchat.openRoom('lobby')`)
	ada.waitTrue("room joined", `jQuery('.pollchat-window[data-room="lobby"] .pollchat-member').length >= 1`)
	ada.do(`jQuery('.pollchat-window[data-room="lobby"] .pollchat-members-btn').click()`)
	ada.axe("a room")

	linus.do(`Pollchat.request('1', 'Got a minute?')`)
	ada.waitTrue("request card", `document.querySelector('.pollchat-request[data-uid="3"]')`)
	ada.waitTrue("request card has the focus", `document.activeElement === document.querySelector('.pollchat-request[data-uid="3"]')`)
	if !eval[bool](ada, `(function () { var c = jQuery('.pollchat-request'); var t = document.getElementById(c.attr('aria-labelledby')); return c.attr('role') === 'alertdialog' && !!t && t.textContent === 'Chat request'; })()`) {
		ada.fatalf("request card is not a named alertdialog")
	}
	ada.axe("the request card")
}

// TestPhoneJourney: on a 375×667 touch phone an incoming message shows the
// badge (not a full-screen window), the invite button is visible, the
// launcher never covers Send, the targets are big enough, iOS would not
// zoom, and a chat goes both ways.
func TestPhoneJourney(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	linus := e.newTab("linus")
	linus.open(hostPage{User: "3", JQuery: "3"})
	ada := e.newTab("ada")
	ada.phone()
	ada.open(hostPage{User: "1", JQuery: "3"})

	linus.do(`Pollchat.composeMessage('1', 'Are you coming on Thursday?', true)`)
	ada.waitTrue("unread badge", `jQuery('.pollchat-launcher .pollchat-badge').is(':visible') && jQuery('.pollchat-launcher .pollchat-badge').text() === '1'`)
	if n := eval[int](ada, `jQuery('.pollchat-window:visible').length`); n != 0 {
		ada.fatalf("an incoming message opened %d full-screen windows on a phone; want the badge only", n)
	}

	ada.tap(`.pollchat-launcher`)
	ada.waitTrue("panel open", `jQuery('.pollchat-panel').is(':visible') && jQuery('.pollchat-people .pollchat-row[data-uid="3"]').length === 1`)
	if op := eval[string](ada, `getComputedStyle(document.querySelector('.pollchat-row[data-uid="3"] .pollchat-row-invite') || document.querySelector('.pollchat-row-invite') || document.body).opacity`); op != "1" {
		// Linus has an unread count instead of an invite: check any invite button.
		ada.fatalf("invite button opacity on touch = %s; want 1", op)
	}
	ada.tap(`.pollchat-people .pollchat-row[data-uid="3"] .pollchat-row-main`)
	ada.waitTrue("conversation full screen", `jQuery('`+win("3")+`').is(':visible') && jQuery('`+win("3")+`').outerHeight() === window.innerHeight`)
	ada.waitTrue("Linus's message shown", countBubbles(win("3"), "Are you coming on Thursday?")+` === 1`)
	if !eval[bool](ada, onTop(win("3")+` .pollchat-sendbtn`)) {
		ada.fatalf("something covers the Send button (the launcher?)")
	}
	if fs := eval[string](ada, `getComputedStyle(document.querySelector('`+win("3")+` .pollchat-input')).fontSize`); fs != "16px" {
		ada.fatalf("message box font-size = %s; want 16px (iOS zooms below)", fs)
	}
	small := eval[[]string](ada, `jQuery('`+win("3")+` button:visible, .pollchat-root .pollchat-row-main:visible').filter(function () {
		return this.offsetWidth < 44 || this.offsetHeight < 44; }).map(function () { return this.className; }).get()`)
	if len(small) != 0 {
		ada.fatalf("touch targets under 44px: %v %v", small, eval[any](ada, `[window.innerWidth, matchMedia("(max-width: 600px)").matches, matchMedia("(pointer: coarse)").matches, matchMedia("(hover: none)").matches, document.querySelector(".pollchat-sendbtn").getBoundingClientRect().width]`))
	}

	ada.tap(win("3") + ` .pollchat-input`)
	ada.typeInto(win("3")+` .pollchat-input`, "Yes, with two friends.")
	ada.tap(win("3") + ` .pollchat-sendbtn`)
	linus.waitTrue("Ada's reply at Linus", countBubbles(win("1"), "Yes, with two friends.")+` === 1`)
	if eval[bool](ada, `jQuery('.pollchat-panel').is(':visible')`) {
		ada.fatalf("tapping Send opened the people panel")
	}
	linus.do(`Pollchat.composeMessage('1', 'Great, see you.', true)`)
	ada.waitTrue("reply read on the phone", countBubbles(win("3"), "Great, see you.")+` === 1`)

	// A toast (here: a chat request sent) stays clear of the window header.
	ada.do(`Pollchat.request('4', 'Hello')`)
	ada.waitTrue("toast shown", `jQuery('.pollchat-toast').length === 1`)
	if !eval[bool](ada, `(function () { var a = document.querySelector('.pollchat-toast').getBoundingClientRect(), h = document.querySelector('`+win("3")+` .pollchat-win-head').getBoundingClientRect();
		return a.bottom <= h.top || a.top >= h.bottom; })()`) {
		ada.fatalf("the toast covers the window header")
	}
	ada.screenshot("widget-phone")
}

// TestDesktopPlacement: at 700px a second window stays on screen, and at
// 1366×620 with the panel open the request card's Accept is reachable.
func TestDesktopPlacement(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	linus := e.newTab("linus")
	linus.open(hostPage{User: "3", JQuery: "3"})
	ada := e.newTab("ada")
	ada.setViewport(700, 700)
	ada.open(hostPage{User: "1", JQuery: "3"})
	ada.do(`Pollchat.openDialog('3'); Pollchat.openDialog('4')`)
	ada.waitTrue("two windows", `jQuery('.pollchat-window').length === 2`)
	if off := eval[int](ada, `jQuery('.pollchat-window:visible').filter(function () { var r = this.getBoundingClientRect(); return r.left < 0 || r.right > window.innerWidth; }).length`); off != 0 {
		ada.fatalf("%d windows off screen at 700px", off)
	}
	if !eval[bool](ada, onTop(win("4")+` .pollchat-sendbtn`)) {
		ada.fatalf("the newest window's Send is covered at 700px")
	}

	ada.setViewport(1366, 620)
	ada.do(`jQuery('.pollchat-window .pollchat-close-btn').click(); Pollchat.open()`)
	linus.do(`Pollchat.request('1', 'Chat?')`)
	ada.waitTrue("request card", `document.querySelector('.pollchat-request .pollchat-accept')`)
	if !eval[bool](ada, onTop(`.pollchat-request .pollchat-accept`)) {
		ada.fatalf("Accept is off screen or covered at 1366×620: %v", eval[any](ada, `document.querySelector('.pollchat-request .pollchat-accept').getBoundingClientRect().toJSON()`))
	}
	ada.click(`.pollchat-request .pollchat-accept`)
	ada.waitTrue("conversation opened", `jQuery('`+win("3")+`').length === 1`)
}

// TestKeyboardJourney: a visitor without a mouse opens the chat, picks a
// person, sends, reads the reply and finds the way back with Escape; focus
// is visible all along; rooms open with Space.
func TestKeyboardJourney(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	linus := e.newTab("linus")
	linus.open(hostPage{User: "3", JQuery: "3"})
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", JQuery: "3"})

	ada.key(kb.Tab)
	ada.waitTrue("launcher focused", `document.activeElement === document.querySelector('.pollchat-launcher')`)
	if o := eval[string](ada, `getComputedStyle(document.activeElement).outlineStyle`); o == "none" {
		ada.fatalf("no visible focus on the launcher")
	}
	if v := eval[string](ada, `jQuery('.pollchat-launcher').attr('aria-expanded')`); v != "false" {
		ada.fatalf("launcher aria-expanded = %q; want false", v)
	}
	ada.key(kb.Enter)
	ada.waitTrue("focus in the panel", `jQuery('.pollchat-panel').is(':visible') && document.activeElement === document.querySelector('.pollchat-tab')`)
	ada.waitTrue("Linus listed", `document.querySelector('.pollchat-people .pollchat-row[data-uid="3"] .pollchat-row-main')`)
	for i := 0; i < 10 && !eval[bool](ada, `document.activeElement === document.querySelector('.pollchat-people .pollchat-row[data-uid="3"] .pollchat-row-main')`); i++ {
		ada.key(kb.Tab)
	}
	if o := eval[string](ada, `getComputedStyle(document.activeElement).outlineStyle`); o == "none" {
		ada.fatalf("no visible focus on a person row")
	}
	ada.key(" ")
	ada.waitTrue("window open with the focus in its box", `document.activeElement === document.querySelector('`+win("3")+` .pollchat-input')`)
	ada.typeInto(win("3")+` .pollchat-input`, "Typed without a mouse.\r")
	linus.waitTrue("message at Linus", countBubbles(win("1"), "Typed without a mouse.")+` === 1`)
	linus.do(`Pollchat.composeMessage('1', 'Read without a mouse.', true)`)
	ada.waitTrue("reply at Ada", countBubbles(win("3"), "Read without a mouse.")+` === 1`)

	ada.key(kb.Escape)
	ada.waitTrue("window closed, focus back on Linus's row", `jQuery('`+win("3")+`').length === 0 && document.activeElement === document.querySelector('.pollchat-people .pollchat-row[data-uid="3"] .pollchat-row-main')`)

	// Rooms: the tabs answer arrow keys, a room opens with Space.
	ada.do(`document.querySelector('.pollchat-tab').focus()`)
	ada.key(kb.ArrowRight)
	ada.waitTrue("Rooms tab selected and focused", `document.activeElement === document.getElementById('pollchat-tab-rooms') && jQuery('#pollchat-tab-rooms').attr('aria-selected') === 'true'`)
	ada.key(kb.Tab)
	ada.waitTrue("a room row focused", `jQuery(document.activeElement).parent().attr('data-room') === 'lobby'`)
	ada.key(" ")
	ada.waitTrue("room open", `jQuery('.pollchat-window[data-room="lobby"]').length === 1 && document.activeElement === document.querySelector('.pollchat-window[data-room="lobby"] .pollchat-input')`)
	ada.key(kb.Escape)
	ada.waitTrue("room closed", `jQuery('.pollchat-window[data-room="lobby"]').length === 0`)
	ada.key(kb.Escape)
	ada.waitTrue("panel closed, focus on the launcher", `!jQuery('.pollchat-panel').is(':visible') && document.activeElement === document.querySelector('.pollchat-launcher') && jQuery('.pollchat-launcher').attr('aria-expanded') === 'false'`)

	// A failed message offers a real Retry button.
	ada.do(`Pollchat.composeMessage('99', 'To nobody.', true)`)
	ada.waitTrue("retry button", `jQuery('.pollchat-failed button.pollchat-retry').length === 1`)
}

// TestRTLJourney: on an Arabic right-to-left page the widget speaks Arabic,
// own messages sit on the left, bubbles take their own direction and the
// send arrow points the other way.
func TestRTLJourney(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	linus := e.newTab("linus")
	linus.open(hostPage{User: "3", JQuery: "3"})
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", JQuery: "3", Lang: "ar", Dir: "rtl"})
	if d := eval[string](ada, `jQuery('.pollchat-root').attr('dir')`); d != "rtl" {
		ada.fatalf("widget dir = %q; want rtl", d)
	}
	if got := eval[string](ada, `jQuery('.pollchat-tab').first().text()`); got != "الأشخاص" {
		ada.fatalf("first tab = %q; want the Arabic string", got)
	}
	ada.do(`Pollchat.openDialog('3')`)
	ada.waitTrue("window", `document.querySelector('`+win("3")+` .pollchat-input')`)
	ada.typeInto(win("3")+` .pollchat-input`, "مرحبا (Linus)!\r")
	linus.waitTrue("message at Linus", countBubbles(win("1"), "مرحبا (Linus)!")+` === 1`)
	linus.do(`Pollchat.composeMessage('1', 'Hello back.', true)`)
	ada.waitTrue("reply at Ada", countBubbles(win("3"), "Hello back.")+` === 1`)
	if !eval[bool](ada, `(function () { var o = document.querySelector('`+win("3")+` .pollchat-out .pollchat-bubble').getBoundingClientRect(),
		i = document.querySelector('`+win("3")+` .pollchat-in .pollchat-bubble').getBoundingClientRect(); return o.left < i.left && o.right < i.right; })()`) {
		ada.fatalf("own bubble is not on the left on an RTL page")
	}
	if n := eval[int](ada, `jQuery('.pollchat-bubble').not('[dir=auto]').length`); n != 0 {
		ada.fatalf("%d bubbles without dir=auto", n)
	}
	if tr := eval[string](ada, `getComputedStyle(document.querySelector('`+win("3")+` .pollchat-sendbtn .pollchat-icon')).transform`); !strings.HasPrefix(tr, "matrix(-1") {
		ada.fatalf("send arrow transform = %q; want mirrored", tr)
	}
	ada.screenshot("widget-rtl")
}

// TestReducedMotionAndContrast: prefers-reduced-motion stops the animations
// and the typing dots; the small grey texts meet 4.5:1.
func TestReducedMotionAndContrast(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	ada := e.newTab("ada")
	ctx, cancel := context.WithTimeout(ada.ctx, wait)
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}}}); err != nil {
		t.Fatal(err)
	}
	ada.open(hostPage{User: "1", JQuery: "3", Opts: map[string]any{"open": true}})
	ada.do(`Pollchat.openDialog('3')`)
	ada.waitTrue("window", `document.querySelector('`+win("3")+` .pollchat-dots i')`)
	for _, sel := range []string{".pollchat-panel", win("3"), win("3") + " .pollchat-dots i"} {
		if a := eval[string](ada, `getComputedStyle(document.querySelector(`+js(sel)+`)).animationName`); a != "none" {
			ada.fatalf("%s animation = %q with reduced motion; want none", sel, a)
		}
	}
	ada.do(`Pollchat.composeMessage('3', 'Contrast.', true)`)
	ada.waitTrue("sent", `jQuery('`+win("3")+` .pollchat-out:not(.pollchat-pending)').length === 1`)
	// contrast of the element's colour on white (the window's background).
	ratio := func(sel, prop string) float64 {
		return eval[float64](ada, `(function () { var c = getComputedStyle(document.querySelector(`+js(sel)+`)).getPropertyValue(`+js(prop)+`).match(/\d+/g).map(Number);
			function l(v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }
			var L = 0.2126 * l(c[0]) + 0.7152 * l(c[1]) + 0.0722 * l(c[2]); return 1.05 / (L + 0.05); })()`)
	}
	for _, c := range []struct {
		sel, prop string
		min       float64
	}{
		{win("3") + " .pollchat-time", "color", 4.5},
		{win("3") + " .pollchat-input", "border-top-color", 3},
	} {
		if r := ratio(c.sel, c.prop); r < c.min {
			ada.fatalf("%s %s contrast %.2f; want at least %.1f", c.sel, c.prop, r, c.min)
		}
	}
	ph := eval[string](ada, `getComputedStyle(document.querySelector('`+win("3")+` .pollchat-input'), '::placeholder').color`)
	if ph != "rgb(107, 114, 128)" {
		ada.fatalf("placeholder colour = %s; want rgb(107, 114, 128) (4.6:1)", ph)
	}
}
