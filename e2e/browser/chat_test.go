package browser

import (
	"strings"
	"testing"

	"pollchat/internal/testsvc"
)

// TestTwoUsersChatBothWays: Ada and Linus, each in their own browser
// context on a host site without WebSocket, chat both ways through the
// widget's UI; the unread badge counts Linus's unread message until he
// looks, and Ada's message then shows "Seen". Once with jQuery 1.12, once
// with jQuery 3.
func TestTwoUsersChatBothWays(t *testing.T) {
	for _, tc := range []struct {
		jquery, version string
	}{
		{"1", "1.12.4"},
		{"3", "3."},
	} {
		t.Run("jquery"+tc.jquery, func(t *testing.T) {
			e := newEnv(t, testsvc.Options{})
			linus := e.newTab("linus")
			// Short polls: when his tab closes, the server sees him gone soon.
			linus.open(hostPage{User: "3", JQuery: tc.jquery, Opts: map[string]any{"pollTimeout": 3}})
			ada := e.newTab("ada")
			ada.open(hostPage{User: "1", JQuery: tc.jquery, Opts: map[string]any{"open": true}})

			for _, b := range []*tab{ada, linus} {
				if got := eval[string](b, `typeof WebSocket + ' ' + typeof EventSource`); got != "undefined undefined" {
					b.fatalf("typeof WebSocket, EventSource = %q; want both undefined", got)
				}
				if got := eval[string](b, `jQuery.fn.jquery`); !strings.HasPrefix(got, tc.version) {
					b.fatalf("jQuery.fn.jquery = %q; want %s…", got, tc.version)
				}
			}

			// Ada sees Linus online in her list and starts a conversation from it.
			ada.waitTrue("Linus in Ada's online list", `document.querySelector('.pollchat-people .pollchat-row[data-uid="3"]')`)
			ada.click(`.pollchat-people .pollchat-row[data-uid="3"]`)
			ada.waitTrue("window with Linus", `document.querySelector('`+win("3")+`')`)
			ada.typeInto(win("3")+` .pollchat-input`, "Hello Linus, are you coming on Thursday?\r")

			// Linus gets it in a window of its own, unread until he looks.
			linus.waitTrue("Ada's message at Linus", countBubbles(win("1"), "Hello Linus, are you coming on Thursday?")+` === 1`)
			linus.waitTrue("unread badge 1", `jQuery('.pollchat-launcher .pollchat-badge').is(':visible') && jQuery('.pollchat-launcher .pollchat-badge').text() === '1'`)
			if got := eval[int](linus, `Pollchat.unread()`); got != 1 {
				linus.fatalf("Pollchat.unread() = %d; want 1", got)
			}
			if got := eval[string](ada, `document.querySelector('`+win("3")+` .pollchat-out .pollchat-state').textContent`); got == "Seen" {
				ada.fatalf("Ada's message is marked Seen before Linus looked")
			}

			// Linus clicks into the conversation: read; Ada sees the mark.
			linus.click(win("1") + ` .pollchat-input`)
			linus.waitTrue("badge cleared", `!jQuery('.pollchat-launcher .pollchat-badge').is(':visible') && Pollchat.unread() === 0`)
			ada.waitTrue("Seen mark at Ada", `jQuery('`+win("3")+` .pollchat-out.pollchat-seen .pollchat-state').text() === 'Seen'`)

			// And back.
			linus.typeInto(win("1")+` .pollchat-input`, "Yes! I'll bring the book.\r")
			ada.waitTrue("Linus's reply at Ada", countBubbles(win("3"), "Yes! I'll bring the book.")+` === 1`)
			linus.waitTrue("Linus's reply Seen", `jQuery('`+win("1")+` .pollchat-out.pollchat-seen').length === 1`)

			// Each message is shown once on each side, and the events fired once.
			for _, c := range []struct {
				b    *tab
				sel  string
				text string
			}{
				{ada, win("3"), "Hello Linus, are you coming on Thursday?"},
				{ada, win("3"), "Yes! I'll bring the book."},
				{linus, win("1"), "Hello Linus, are you coming on Thursday?"},
				{linus, win("1"), "Yes! I'll bring the book."},
			} {
				if n := eval[int](c.b, countBubbles(c.sel, c.text)); n != 1 {
					c.b.fatalf("bubbles with %q = %d; want 1", c.text, n)
				}
			}
			if n := eval[int](ada, `__rec.events.message_sent.length`); n != 1 {
				ada.fatalf("message_sent events = %d; want 1", n)
			}
			if n := eval[int](linus, `__rec.events.message_received.length`); n != 1 {
				linus.fatalf("message_received events = %d; want 1", n)
			}
			if got := eval[string](linus, `JSON.stringify(__rec.events.unread_changed)`); !strings.Contains(got, "1") || !strings.HasSuffix(got, "0]") {
				linus.fatalf("unread_changed events = %s; want a 1, then 0 last", got)
			}
			for _, b := range []*tab{ada, linus} {
				if n := eval[int](b, `Pollchat.stats().maxInFlight`); n != 1 {
					b.fatalf("polls in flight at once = %d; want 1", n)
				}
				if errs := eval[string](b, `__rec.errors.join('\n')`); errs != "" {
					b.fatalf("page errors: %s", errs)
				}
			}
			ada.screenshot("chat-ada-jquery" + tc.jquery)

			// Linus leaves: Ada, his contact now, is told.
			linus.close()
			ada.waitTrue("user_disconnected", `(__rec.events.user_disconnected || []).some(function (e) { return e.user_id === '3'; })`)
			ada.waitTrue("shown offline", `jQuery('`+win("3")+` .pollchat-head-sub').text() === 'Not online' && !jQuery('`+win("3")+` .pollchat-avatar').hasClass('pollchat-is-online')`)
		})
	}
}
