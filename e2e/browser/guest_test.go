package browser

import (
	"strings"
	"testing"

	"pollchat/internal/testsvc"
)

// TestGuestReadsLobby: with rooms.guest_read, a page with
// Pollchat.init({server, guest: true}) reads the lobby's history and live
// messages, cannot write (composer disabled with the sign-in hint), and is
// never listed online to signed-in users (issue 15 item 4).
func TestGuestReadsLobby(t *testing.T) {
	e := newEnv(t, testsvc.Options{Extra: "[rooms]\nguest_read = true\n"})
	room := `.pollchat-window[data-room="lobby"]`
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", JQuery: "3", Opts: map[string]any{"open": true}})
	ada.do(`Pollchat.openRoom('lobby')`)
	ada.waitTrue("room window", `document.querySelector('`+room+` .pollchat-input')`)
	ada.typeInto(room+` .pollchat-input`, "Said before the guest came\r")
	ada.waitTrue("sent", countBubbles(room, "Said before the guest came")+` === 1`)

	guest := e.newTab("guest")
	guest.open(hostPage{JQuery: "3", Opts: map[string]any{"guest": true, "open": true}})
	guest.do(`Pollchat.openRoom('lobby')`)
	guest.waitTrue("history seen by the guest", countBubbles(room, "Said before the guest came")+` === 1`)
	if !eval[bool](guest, `jQuery('`+room+` .pollchat-input').prop('disabled') && jQuery('`+room+` .pollchat-sendbtn').prop('disabled') === true`) {
		guest.fatalf("the guest's composer is enabled")
	}
	if hint := eval[string](guest, `jQuery('`+room+` .pollchat-input').attr('placeholder')`); hint != "Sign in to write." {
		guest.fatalf("the guest's composer hint = %q; want the sign-in hint", hint)
	}

	ada.typeInto(room+` .pollchat-input`, "Live, for everyone\r")
	guest.waitTrue("live message seen by the guest", countBubbles(room, "Live, for everyone")+` === 1`)
	// A guest cannot report (the server refuses it): no report buttons.
	if n := eval[int](guest, `jQuery('`+room+` .pollchat-report-btn').length`); n != 0 {
		guest.fatalf("the guest sees %d report buttons; want none", n)
	}

	// Linus comes online and writes after the guest: once Ada has his
	// message, anything the guest's arrival announced is in her widget too.
	linus := e.newTab("linus")
	linus.open(hostPage{User: "3", JQuery: "1", Opts: map[string]any{"open": true}})
	linus.do(`Pollchat.openRoom('lobby')`)
	linus.waitTrue("room window", `document.querySelector('`+room+` .pollchat-input')`)
	linus.typeInto(room+` .pollchat-input`, "Linus here\r")
	ada.waitTrue("Linus's message", countBubbles(room, "Linus here")+` === 1`)
	guest.waitTrue("the guest sees Linus too", countBubbles(room, "Linus here")+` === 1`)
	ada.waitTrue("Linus online and a member", `document.querySelector('.pollchat-people .pollchat-row[data-uid="3"]') && document.querySelector('`+room+` .pollchat-member[data-uid="3"]')`)
	people := eval[[]string](ada, `jQuery('.pollchat-people .pollchat-row').map(function () { return this.getAttribute('data-uid') + ' ' + jQuery(this).text(); }).get()`)
	members := eval[[]string](ada, `jQuery('`+room+` .pollchat-member').map(function () { return this.getAttribute('data-uid'); }).get()`)
	for _, l := range [][]string{people, members} {
		for _, row := range l {
			if uid, _, _ := strings.Cut(row, " "); uid != "1" && uid != "3" {
				ada.fatalf("Ada's lists show someone who is neither Ada nor Linus (the guest?): people %q, members %q", people, members)
			}
		}
	}
}
