package browser

import (
	"testing"

	"pollchat/internal/testsvc"
)

// TestWidgetScreenshot stages a busy moment (a conversation with a read
// mark and a typing indicator, the lobby with its members, the people
// list) and checks that every part of the widget stays inside the
// viewport. Saves widget.png (docs/widget.png is a copy of one).
func TestWidgetScreenshot(t *testing.T) {
	e := newEnv(t, testsvc.Options{Chat: "rate = 0\n"})
	linus := e.newTab("linus")
	linus.open(hostPage{User: "3", JQuery: "3"})
	grace := e.newTab("grace")
	grace.open(hostPage{User: "2", JQuery: "3"})
	margaret := e.newTab("margaret")
	margaret.open(hostPage{User: "4", JQuery: "3"})
	ada := e.newTab("ada")
	ada.setViewport(1280, 800)
	ada.open(hostPage{User: "1", JQuery: "3", Opts: map[string]any{"open": true}})

	// The lobby first, so that the conversation window sits nearest the panel.
	for _, b := range []*tab{grace, linus, ada} {
		b.do(`Pollchat.openRoom('lobby')`)
		b.waitTrue("lobby", `document.querySelector('.pollchat-window[data-room="lobby"] .pollchat-input')`)
	}
	room := `.pollchat-window[data-room="lobby"]`
	grace.do(`Pollchat.composeMessage && jQuery('` + room + ` .pollchat-input').val('Welcome to the lobby! Thursday’s meeting moves to the reading room.')`)
	grace.do(`jQuery('` + room + ` .pollchat-sendbtn').click()`)
	ada.waitTrue("Grace in the lobby", `jQuery('`+room+` .pollchat-in').length === 1`)
	linus.do(`jQuery('` + room + ` .pollchat-input').val('Thanks Grace, see you all there.'); jQuery('` + room + ` .pollchat-sendbtn').click()`)
	ada.waitTrue("Linus in the lobby", `jQuery('`+room+` .pollchat-in').length === 2`)
	ada.do(`jQuery('` + room + `').addClass('pollchat-show-members')`)

	ada.do(`Pollchat.openDialog('3')`)
	ada.waitTrue("window", `document.querySelector('`+win("3")+` .pollchat-input')`)
	lines := []struct {
		from *tab
		to   string
		text string
	}{
		{ada, "3", "Hi Linus! Are you coming on Thursday?"},
		{linus, "1", "Yes, I’m halfway through the book."},
		{linus, "1", "Can I bring a friend? She’s new in town."},
		{ada, "3", "Of course, the more the merrier."},
		{ada, "3", "I’ll save two seats by the window."},
	}
	for i, l := range lines {
		l.from.do(`Pollchat.composeMessage(` + js(l.to) + `, ` + js(l.text) + `, true)`)
		ada.waitTrue("line "+itoa(i), countBubbles(win("3"), l.text)+` === 1`)
	}
	ada.waitTrue("Ada's lines stored", `jQuery('`+win("3")+` .pollchat-pending').length === 0`)
	margaret.do(`Pollchat.composeMessage('1', 'Hello Ada, is there a reading list for next month?', true)`)
	ada.waitTrue("Margaret's message", `document.querySelector('`+win("4")+`')`)
	ada.do(`Pollchat.openDialog('3')`)
	linus.waitTrue("Linus has the window", `document.querySelector('`+win("1")+` .pollchat-input')`)
	linus.click(win("1") + ` .pollchat-input`)
	ada.waitTrue("Seen", `jQuery('`+win("3")+` .pollchat-seen').length === 1`)
	// Margaret's window goes away again (three windows do not fit beside
	// the panel on 1280 px); her conversation stays unread in the list.
	ada.do(`jQuery('` + win("4") + ` .pollchat-close-btn').click()`)
	ada.waitTrue("Margaret unread, first in the list", `jQuery('.pollchat-row[data-uid="4"] .pollchat-count').text() === '1' && jQuery('.pollchat-people .pollchat-row').first().attr('data-uid') === '4'`)
	linus.typeInto(win("1")+` .pollchat-input`, "Great")
	ada.waitTrue("typing indicator", `jQuery('`+win("3")+` .pollchat-typing').is(':visible')`)
	ada.do(`document.activeElement && document.activeElement.blur()`)

	inside := `(function () {
		var out = [];
		var els = document.querySelectorAll('.pollchat-window, .pollchat-panel, .pollchat-launcher');
		for (var i = 0; i < els.length; i++) {
			var r = els[i].getBoundingClientRect();
			if (r.left < 0 || r.top < 0 || r.right > innerWidth || r.bottom > innerHeight) { out.push(els[i].className); }
		}
		return out.join(', ');
	})()`
	if got := eval[string](ada, inside); got != "" {
		ada.fatalf("widget parts outside the viewport: %s", got)
	}
	ada.screenshot("widget")

	// On a phone the conversation takes the whole screen.
	ada.setViewport(390, 740)
	ada.do(`Pollchat.close(); Pollchat.openDialog('3')`)
	ada.waitTrue("full-screen window", `jQuery('`+win("3")+`').outerWidth() === 390 && !jQuery('.pollchat-launcher').is(':visible')`)
	ada.screenshot("widget-mobile")
	ada.do(`Pollchat.openRoom('lobby')`)
	ada.waitTrue("the room in front", `jQuery('.pollchat-window[data-room="lobby"]').is(':visible') && !jQuery('`+win("3")+`').is(':visible')`)
}
