package browser

import (
	"strings"
	"testing"
	"time"

	"pollchat/internal/testsvc"
)

// The widget API Bandyer-style integrations call (issue 15 item 5): events,
// methods, layout colour objects, hidden mode and Italian, each in Chromium.

// TestWidgetAPIReadsAndRemovesChats: chat_loaded, isAuthenticated, getUser,
// getChats, getUnreadMessages (callback and Promise), getUsersStatusList,
// removeChat kept across a reload until a newer message, and message_read.
func TestWidgetAPIReadsAndRemovesChats(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	c := testsvc.NewClient(e.pc.URL)
	linus := e.newTab("linus")
	linus.open(hostPage{User: "3", JQuery: "3"})
	c.MustCall(t, "3", "send", "to", "1", "text", "Linus one")
	c.MustCall(t, "3", "send", "to", "1", "text", "Linus two")
	c.MustCall(t, "4", "send", "to", "1", "text", "Margaret one")

	ada := e.newTab("ada")
	page := hostPage{User: "1", JQuery: "1", Opts: map[string]any{"autoOpen": false}}
	ada.open(page)
	ada.waitTrue("chat_loaded", `__rec.events.chat_loaded && __rec.events.chat_loaded.length === 1`)
	if got := eval[string](ada, `(function () { var d = __rec.events.chat_loaded[0]; return d.me.user_id + ' ' + d.me.name + ' ' + d.chats.length; })()`); got != "1 Ada 2" {
		ada.fatalf("chat_loaded = %q; want me Ada and 2 chats", got)
	}
	if got := eval[string](ada, `Pollchat.isAuthenticated() + ' ' + Pollchat.getUser().user_id + ' ' + Pollchat.getUser().name`); got != "true 1 Ada" {
		ada.fatalf("isAuthenticated, getUser = %q; want \"true 1 Ada\"", got)
	}

	chats := `Pollchat.getChats().map(function (c) { return c.type + ':' + c.user_id + ':' + c.user.name + ':' + c.unread + ':' + c.last_message.text; }).join('|')`
	// Names come from a users call after hello: wait for them.
	ada.waitTrue("getChats: Margaret (newest, 1 unread) then Linus (2 unread)", chats+` === 'user:4:Margaret:1:Margaret one|user:3:Linus:2:Linus two'`)

	ada.do(`window.__unread = null; window.__unreadP = null;
		Pollchat.getUnreadMessages(function (l) { window.__unread = l; }).then(function (l) { window.__unreadP = l; });`)
	ada.waitTrue("unread messages by callback and Promise", `window.__unread && window.__unreadP`)
	unread := `(function (l) { return l.map(function (m) { return m.from + ':' + m.text; }).join('|'); })`
	for _, v := range []string{"__unread", "__unreadP"} {
		if got := eval[string](ada, unread+`(window.`+v+`)`); got != "3:Linus one|3:Linus two|4:Margaret one" {
			ada.fatalf("getUnreadMessages (%s) = %q; want the three unread messages, oldest first", v, got)
		}
	}

	ada.waitTrue("Linus online in the status list", `Pollchat.getUsersStatusList().some(function (u) { return u.user_id === '3' && u.status === 'online' && u.name === 'Linus'; })`)
	ada.waitTrue("Margaret offline in the status list, Ada not in it", `Pollchat.getUsersStatusList().filter(function (u) { return u.user_id === '4' || u.user_id === '1'; }).map(function (u) { return u.user_id + ':' + u.name + ':' + u.status; }).join('|') === '4:Margaret:offline'`)

	// removeChat: gone from the list, the API and the unread total, and
	// still gone after a reload; the server has no /v1/hide yet, so the
	// widget keeps it in localStorage.
	ada.do(`Pollchat.open(); window.__removed = null; Pollchat.removeChat('4', function (r) { window.__removed = r; });`)
	ada.waitTrue("removeChat answered", `window.__removed !== null`)
	kept := eval[string](ada, `window.__removed.user_id + ' ' + window.__removed.kept`)
	if kept != "4 local" && kept != "4 server" {
		ada.fatalf("removeChat answered %q; want user 4 kept local or server", kept)
	}
	hiddenKey := js("pollchat:hidden:" + e.pc.URL + "|1")
	if kept == "4 local" && !eval[bool](ada, `JSON.parse(localStorage.getItem(`+hiddenKey+`) || '{}').hasOwnProperty('4')`) {
		ada.fatalf("removed locally but nothing in localStorage")
	}
	removed := `Pollchat.getChats().map(function (c) { return c.user_id; }).join(',') === '3' && !document.querySelector('.pollchat-people .pollchat-row[data-uid="4"]') && Pollchat.unread() === 2`
	ada.waitTrue("Margaret's chat removed", removed)
	if n := eval[int](ada, `__rec.events.chat_removed.length`); n != 1 {
		ada.fatalf("chat_removed fired %d times; want 1", n)
	}
	ada.open(page)
	ada.waitTrue("still removed after a reload", removed)

	c.MustCall(t, "4", "send", "to", "1", "text", "Margaret two")
	ada.waitTrue("a newer message brings it back", `Pollchat.getChats().map(function (c) { return c.user_id + ':' + c.last_message.text; }).join('|') === '4:Margaret two|3:Linus two' && document.querySelector('.pollchat-people .pollchat-row[data-uid="4"]')`)
	if eval[bool](ada, `!!localStorage.getItem(`+hiddenKey+`)`) {
		ada.fatalf("the local removal outlived the newer message")
	}

	// message_read: Linus reads what Ada wrote.
	ada.do(`Pollchat.composeMessage('3', 'Read me, Linus.', true)`)
	ada.waitTrue("sent", `__rec.events.message_sent && __rec.events.message_sent.length === 1`)
	id := eval[int](ada, `__rec.events.message_sent[0].id`)
	linus.do(`Pollchat.openDialog('1')`)
	ada.waitTrue("message_read", `(__rec.events.message_read || []).some(function (r) { return r.by === '3' && r['with'] === '3' && r.upto >= `+itoa(id)+` && r.message_ids.indexOf(`+itoa(id)+`) >= 0; })`)
	if !eval[bool](ada, `__rec.events.read.length >= 1`) {
		ada.fatalf("the read event no longer fires beside message_read")
	}
}

// TestAccessTokenExpiredAndUpdated: a token runs out under an open
// conversation; access_token_expired fires once; a message written
// meanwhile waits; updateAccessToken carries on from the same cursor (no
// second hello), with the window open and the held message sent once.
func TestAccessTokenExpiredAndUpdated(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	c := testsvc.NewClient(e.pc.URL)
	linus := e.newTab("linus")
	linus.open(hostPage{User: "3", JQuery: "3"})
	ada := e.newTab("ada")
	// exp 30 s ago: the server's 60 s leeway accepts it for about 30 s more.
	// Polls of 5 s: the expiry is met within 5 s of it.
	ada.open(hostPage{Token: c.Token("1", -30*time.Second, nil), JQuery: "3", Opts: map[string]any{"pollTimeout": 5}})
	ada.do(`Pollchat.openDialog('3')`)
	linus.do(`Pollchat.composeMessage('1', 'Before the token ran out.', true)`)
	ada.waitTrue("first message", countBubbles(win("3"), "Before the token ran out.")+` === 1`)
	hellos := eval[int](ada, `Pollchat.stats().hellos`)

	ada.waitTrue("access_token_expired", `__rec.events.access_token_expired && __rec.events.access_token_expired.length === 1`)
	if got := eval[string](ada, `Pollchat.state() + ' ' + Pollchat.isAuthenticated()`); got != "auth false" {
		ada.fatalf("state, isAuthenticated with an expired token = %q; want \"auth false\"", got)
	}
	errs := eval[int](ada, `__rec.events.auth_error.length`)
	ada.do(`Pollchat.composeMessage('3', 'Written while expired.', true)`)
	ada.waitTrue("the send met the expired token", `__rec.events.auth_error.length > `+itoa(errs))
	if n := eval[int](ada, `document.querySelectorAll('`+win("3")+` .pollchat-msg.pollchat-failed').length`); n != 0 {
		ada.fatalf("a send refused for an expired token was dropped as failed; want it held")
	}
	linus.do(`Pollchat.composeMessage('1', 'Sent while Ada was away.', true)`)
	linus.waitTrue("Linus's message stored", `__rec.events.message_sent && __rec.events.message_sent.length === 2`)

	ada.do(`Pollchat.updateAccessToken(` + js(c.Token("1", 10*time.Minute, nil)) + `)`)
	linus.waitTrue("the held message arrives", countBubbles(win("1"), "Written while expired.")+` === 1`)
	ada.waitTrue("the missed message arrives in the open window", countBubbles(win("3"), "Sent while Ada was away.")+` === 1`)
	ada.waitTrue("held message confirmed", `document.querySelectorAll('`+win("3")+` .pollchat-msg.pollchat-pending').length === 0`)
	if got := eval[string](ada, `Pollchat.stats().hellos + ' ' + Pollchat.stats().resets + ' ' + Pollchat.isAuthenticated() + ' ' + __rec.events.access_token_expired.length`); got != itoa(hellos)+" 0 true 1" {
		ada.fatalf("hellos, resets, isAuthenticated, expired events = %q; want %d 0 true 1 (the cursor kept, no new hello)", got, hellos)
	}
	if n := eval[int](ada, countBubbles(win("3"), "Before the token ran out.")); n != 1 {
		ada.fatalf("the earlier message shows %d times; want 1", n)
	}
	if n := eval[int](linus, countBubbles(win("1"), "Written while expired.")); n != 1 {
		linus.fatalf("the held message arrived %d times; want 1", n)
	}
}

// TestLayoutObjectsItalianAndLang: layout colours as {background, color}
// beside strings, Italian with every key, and the language sent on hello.
func TestLayoutObjectsItalianAndLang(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", JQuery: "3", Lang: "it", Opts: map[string]any{"open": true, "layout": map[string]any{
		"header":          map[string]any{"background": "#0a7c55", "color": "#ffeeaa"},
		"headerButton":    map[string]any{"color": "#ff00ff"},
		"launcher":        "#b00020",
		"messageReceived": map[string]any{"background": "red;} body{display:none", "color": "blue"},
	}}})
	style := func(sel, prop string) string {
		return eval[string](ada, `getComputedStyle(document.querySelector(`+js(sel)+`))[`+js(prop)+`]`)
	}
	for _, c := range []struct{ sel, prop, want string }{
		{"#pollchat-root .pollchat-panel > .pollchat-header", "backgroundColor", "rgb(10, 124, 85)"},
		{"#pollchat-root .pollchat-panel > .pollchat-header", "color", "rgb(255, 238, 170)"},
		{"#pollchat-root .pollchat-panel .pollchat-hbtn", "color", "rgb(255, 0, 255)"},
		{"#pollchat-root .pollchat-launcher", "backgroundColor", "rgb(176, 0, 32)"},
		{"#pollchat-root .pollchat-launcher", "color", "rgb(255, 255, 255)"},
		{"body", "display", "block"},
	} {
		if got := style(c.sel, c.prop); got != c.want {
			ada.fatalf("%s %s = %q; want %q", c.sel, c.prop, got, c.want)
		}
	}
	if css := eval[string](ada, `document.querySelector('style[data-pollchat="layout"]').textContent`); strings.Contains(css, "display:none") || !strings.Contains(css, ".pollchat-in .pollchat-bubble{color:blue}") {
		ada.fatalf("layout CSS = %q; want the hostile background dropped and its colour kept", css)
	}

	if got := eval[string](ada, `jQuery('#pollchat-tab-people').text() + '|' + jQuery('.pollchat-launcher').attr('aria-label') + '|' + jQuery('.pollchat-search').attr('placeholder')`); got != "Persone|Chiudi la chat|Cerca persone" {
		ada.fatalf("Italian texts = %q", got)
	}
	if got := eval[[]string](ada, `(function () { var out = [], l, k; for (l in Pollchat.i18n) { for (k in Pollchat.i18n.en) { if (!Pollchat.i18n[l].hasOwnProperty(k)) { out.push(l + '.' + k); } } } return out; })()`); len(got) != 0 {
		ada.fatalf("built-in languages miss keys: %q", got)
	}
	if !eval[bool](ada, `'it' in Pollchat.i18n`) {
		ada.fatalf("no Italian")
	}
	if !eval[bool](ada, `performance.getEntriesByType('resource').some(function (r) { return r.name.indexOf('/v1/hello?') >= 0 && /[?&]lang=it(&|$)/.test(r.name); })`) {
		ada.fatalf("hello did not carry lang=it")
	}
}

// TestHiddenModeShowsForConversations: started hidden there is no launcher;
// openDialog, composeMessage and an incoming message show the widget, the
// windows at the screen's edge, and still no launcher.
func TestHiddenModeShowsForConversations(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	c := testsvc.NewClient(e.pc.URL)
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", JQuery: "3", Opts: map[string]any{"hidden": true}})
	shown := `getComputedStyle(document.getElementById('pollchat-root')).display !== 'none'`
	noLauncher := `getComputedStyle(document.querySelector('.pollchat-launcher')).display === 'none'`
	if !eval[bool](ada, `!(`+shown+`) && `+noLauncher) {
		ada.fatalf("started hidden: the widget shows, or has a launcher")
	}

	ada.do(`Pollchat.openDialog('3')`)
	ada.waitTrue("openDialog shows the widget", shown+` && document.querySelector('`+win("3")+`') && `+noLauncher)
	if r := eval[float64](ada, `document.querySelector('`+win("3")+`').getBoundingClientRect().right`); r < 1240 || r > 1280 {
		ada.fatalf("window's right edge at %v; want it at the screen's edge (about 1260) where the launcher would be", r)
	}
	ada.click(win("3") + ` .pollchat-close-btn`)
	ada.do(`Pollchat.hide()`)
	if eval[bool](ada, shown) {
		ada.fatalf("hide() left it shown")
	}

	ada.do(`Pollchat.composeMessage('3', 'Draft for Linus', false)`)
	ada.waitTrue("composeMessage shows the widget", shown+` && jQuery('`+win("3")+` .pollchat-input').val() === 'Draft for Linus' && `+noLauncher)
	ada.click(win("3") + ` .pollchat-close-btn`)
	ada.do(`Pollchat.hide()`)

	c.MustCall(t, "4", "send", "to", "1", "text", "Are you there, Ada?")
	ada.waitTrue("an incoming message shows the widget", shown+` && `+countBubbles(win("4"), "Are you there, Ada?")+` === 1 && `+noLauncher)
	if n := eval[int](ada, `__rec.events.show.length`); n != 3 {
		ada.fatalf("show fired %d times; want 3", n)
	}
}
