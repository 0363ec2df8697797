package browser

import (
	"net/url"
	"testing"
	"time"

	"pollchat/internal/testsvc"
)

// TestChatExpectations: what chat users expect (issue 18 item 7): links,
// day lines, notifications asked on a user action, emoji, a searchable
// directory, block, the offline event, and a stuck send that can be
// cancelled while the unsent queue survives a reload.
func TestChatExpectations(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	linus := e.newTab("linus")
	linus.open(hostPage{User: "3", JQuery: "3"})
	ada := e.newTab("ada")
	page := hostPage{User: "1", JQuery: "3", Opts: map[string]any{"stuckAfter": 300}}
	ada.open(page)

	// Directory search.
	ada.do(`Pollchat.open()`)
	ada.waitTrue("Linus listed", `document.querySelector('.pollchat-people .pollchat-row[data-uid="3"]')`)
	ada.typeInto(`.pollchat-search`, "LIN")
	ada.waitTrue("search finds Linus only", `jQuery('.pollchat-people .pollchat-row').length === 1 && jQuery('.pollchat-people .pollchat-row').attr('data-uid') === '3'`)
	ada.typeInto(`.pollchat-search`, "zzz")
	ada.waitTrue("no match said", `jQuery('.pollchat-people .pollchat-row').length === 0 && jQuery('.pollchat-people .pollchat-empty').text() === 'Nobody by that name.'`)

	// Notifications are asked for on a send, not before.
	ada.do(`window.__asked = 0; window.Notification = function () {}; Notification.permission = 'default'; Notification.requestPermission = function () { window.__asked++; };`)
	ada.do(`Pollchat.openDialog('3')`)
	ada.waitTrue("window", `document.querySelector('`+win("3")+` .pollchat-input')`)
	if n := eval[int](ada, `window.__asked`); n != 0 {
		ada.fatalf("notification permission asked %d times before any user action", n)
	}

	// Emoji into the box, then a link.
	ada.click(win("3") + ` .pollchat-emoji-btn`)
	ada.click(win("3") + ` .pollchat-emoji`)
	if v := eval[string](ada, `jQuery('`+win("3")+` .pollchat-input').val()`); v != "😀" {
		ada.fatalf("emoji picker put %q in the box; want 😀", v)
	}
	msg := "Agenda: https://example.org/club?x=1&y=2, not javascript:alert(1) nor <b>bold</b>."
	ada.typeInto(win("3")+` .pollchat-input`, " "+msg+"\r")
	linus.waitTrue("message at Linus", countBubbles(win("1"), "😀 "+msg)+` === 1`)
	if n := eval[int](ada, `window.__asked`); n != 1 {
		ada.fatalf("notification permission asked %d times after a send; want 1", n)
	}
	links := eval[[]string](linus, `jQuery('`+win("1")+` .pollchat-bubble a').map(function () { return this.getAttribute('href') + ' ' + this.getAttribute('rel') + ' ' + this.getAttribute('target'); }).get()`)
	if len(links) != 1 || links[0] != "https://example.org/club?x=1&y=2 noopener nofollow ugc _blank" {
		linus.fatalf("links = %q; want the https link only, with rel noopener nofollow ugc", links)
	}
	if n := eval[int](linus, `jQuery('`+win("1")+` .pollchat-bubble b').length`); n != 0 {
		linus.fatalf("message text became HTML")
	}
	want := eval[string](linus, `new Date().toLocaleDateString('en', {weekday: 'long', day: 'numeric', month: 'long'})`)
	if got := eval[[]string](linus, `jQuery('`+win("1")+` .pollchat-day').map(function () { return jQuery(this).text(); }).get()`); len(got) != 1 || got[0] != want {
		linus.fatalf("day lines = %q; want [%q]", got, want)
	}

	// Block: the server's list says so, and still does after a reload.
	ada.click(win("3") + ` .pollchat-block-btn`)
	ada.waitTrue("blocked", `jQuery('`+win("3")+` .pollchat-block-btn').attr('aria-pressed') === 'true'`)
	ada.click(win("3") + ` .pollchat-block-btn`)
	ada.waitTrue("unblocked", `jQuery('`+win("3")+` .pollchat-block-btn').attr('aria-pressed') === 'false'`)
	ada.click(win("3") + ` .pollchat-block-btn`)
	ada.waitTrue("blocked again", `jQuery('`+win("3")+` .pollchat-block-btn').attr('aria-pressed') === 'true'`)
	ada.open(page)
	ada.do(`Pollchat.openDialog('3')`)
	ada.waitTrue("still blocked after a reload", `jQuery('`+win("3")+` .pollchat-block-btn').attr('aria-pressed') === 'true'`)
	ada.click(win("3") + ` .pollchat-block-btn`)
	ada.waitTrue("unblocked", `jQuery('`+win("3")+` .pollchat-block-btn').attr('aria-pressed') === 'false'`)

	// The browser's offline event is noticed at once.
	ada.do(`window.dispatchEvent(new Event('offline'))`)
	if s := eval[string](ada, `Pollchat.state()`); s != "reconnecting" {
		ada.fatalf("state right after the offline event = %q; want reconnecting", s)
	}
	ada.do(`window.dispatchEvent(new Event('online'))`)
	ada.waitTrue("online again", `Pollchat.state() === 'online'`)

	// A stuck send can be cancelled; an unsent one survives a reload.
	ada.block(true)
	ada.typeInto(win("3")+` .pollchat-input`, "Never mind this one.\r")
	ada.waitTrue("stuck send offers Cancel", `jQuery('`+win("3")+` .pollchat-stuck button.pollchat-cancel').length === 1 && jQuery('`+win("3")+` .pollchat-stuck button.pollchat-retry').length === 1`)
	ada.click(win("3") + ` .pollchat-stuck button.pollchat-cancel`)
	ada.waitTrue("cancelled bubble gone", countBubbles(win("3"), "Never mind this one.")+` === 0`)
	ada.typeInto(win("3")+` .pollchat-input`, "Sent across a reload.\r")
	ada.waitTrue("kept unsent", `(localStorage.getItem('pollchat:unsent:' + `+js(e.pc.URL)+` + '|1') || '').indexOf('Sent across a reload.') >= 0`)
	ada.navigate(e.pageURL(page))
	ada.block(false)
	ada.waitTrue("widget online", `window.Pollchat && Pollchat.state() === 'online'`)
	linus.waitTrue("the unsent message arrived", countBubbles(win("1"), "Sent across a reload.")+` === 1`)
	ada.waitTrue("confirmed and forgotten", `jQuery('`+win("3")+` .pollchat-out:not(.pollchat-pending)').filter(function () { return jQuery(this).find('.pollchat-bubble').text() === 'Sent across a reload.'; }).length === 1 && !localStorage.getItem('pollchat:unsent:' + `+js(e.pc.URL)+` + '|1')`)
	if n := eval[int](linus, countBubbles(win("1"), "Never mind this one.")); n != 0 {
		linus.fatalf("the cancelled message arrived")
	}
}

// TestPopupsPollTheirOwnConversation (issue 13 item 7): two popups of one
// user for different conversations, in one browser, each get their own
// conversation: tab sharing is keyed by the popup's scope.
func TestPopupsPollTheirOwnConversation(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", JQuery: "3"})
	margaret := e.newTab("margaret")
	margaret.open(hostPage{User: "4", JQuery: "3"})

	link := func(target string) string {
		ts := time.Now().UTC().Format("060102150405")
		q := url.Values{"id": {"3"}, "target": {target}, "timestamp": {ts}, "hash": {sha1hex("3" + target + ts + testsvc.LinkSecret)}}
		return e.pc.URL + "/chat?" + q.Encode()
	}
	withAda := e.newTab("popup-ada")
	withAda.navigate(link("1"))
	withAda.waitTrue("popup with Ada online", `window.Pollchat && Pollchat.state() === 'online' && document.querySelector('`+win("1")+` .pollchat-input')`)
	withMargaret := e.newTabBeside(withAda, "popup-margaret")
	withMargaret.navigate(link("4"))
	withMargaret.waitTrue("popup with Margaret online", `window.Pollchat && Pollchat.state() === 'online' && document.querySelector('`+win("4")+` .pollchat-input')`)

	ada.do(`Pollchat.composeMessage('3', 'From Ada to her popup.', true)`)
	margaret.do(`Pollchat.composeMessage('3', 'From Margaret to hers.', true)`)
	withAda.waitTrue("Ada's message in her popup", countBubbles(win("1"), "From Ada to her popup.")+` === 1`)
	withMargaret.waitTrue("Margaret's message in hers", countBubbles(win("4"), "From Margaret to hers.")+` === 1`)
	if !eval[bool](withAda, `Pollchat.stats().leader`) || !eval[bool](withMargaret, `Pollchat.stats().leader`) {
		withAda.fatalf("one popup follows the other's poll")
	}
}

// TestProfileLinks (issue 14 item 4): a user's profile_url links their name
// and avatar, in a new tab without opener; other schemes never link.
func TestProfileLinks(t *testing.T) {
	users := "[users]\nsource = \"static\"\n" +
		"[[users.static]]\nuser_id = \"1\"\nname = \"Ada\"\nrole = \"admin\"\n" +
		"[[users.static]]\nuser_id = \"3\"\nname = \"Linus\"\nrole = \"member\"\nprofile_url = \"https://club.example/members/linus\"\n" +
		"[[users.static]]\nuser_id = \"4\"\nname = \"Margaret\"\nrole = \"member\"\nprofile_url = \"javascript:alert(1)\"\n"
	e := newEnv(t, testsvc.Options{Users: users})
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", JQuery: "3"})
	ada.do(`Pollchat.openDialog('3'); Pollchat.openDialog('4')`)
	ada.waitTrue("Linus's name links to his profile", `jQuery('`+win("3")+` .pollchat-head-title a.pollchat-profile-link').attr('href') === 'https://club.example/members/linus'`)
	got := eval[[]string](ada, `jQuery('`+win("3")+` .pollchat-win-head a').map(function () { return this.getAttribute('href') + ' ' + this.getAttribute('target') + ' ' + this.getAttribute('rel') + ' ' + (this.querySelector('.pollchat-avatar') ? 'avatar' : 'name'); }).get()`)
	if len(got) != 2 || got[0] != "https://club.example/members/linus _blank noopener avatar" || got[1] != "https://club.example/members/linus _blank noopener name" {
		ada.fatalf("profile links = %q; want the avatar and the name, _blank, noopener", got)
	}
	ada.waitTrue("Margaret's name shown", `jQuery('`+win("4")+` .pollchat-head-title').text() === 'Margaret'`)
	if n := eval[int](ada, `jQuery('`+win("4")+` a').length`); n != 0 {
		ada.fatalf("a javascript: profile_url became %d links", n)
	}
}
