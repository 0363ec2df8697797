package browser

import (
	"testing"

	"pollchat/internal/testsvc"
)

// TestRoomMembersRolesAndMute: Ada (admin) and Linus join the lobby, see
// each other with roles, chat; Ada types /mute Linus 5 and Linus is told
// and cannot write there.
func TestRoomMembersRolesAndMute(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", JQuery: "3", Opts: map[string]any{"open": true}})
	linus := e.newTab("linus")
	linus.open(hostPage{User: "3", JQuery: "1", Opts: map[string]any{"open": true}})

	// Ada joins from the Rooms tab, Linus by the API.
	ada.click(`.pollchat-tab:nth-child(2)`)
	ada.waitTrue("lobby listed", `document.querySelector('.pollchat-roomlist .pollchat-row[data-room="lobby"]')`)
	ada.click(`.pollchat-roomlist .pollchat-row[data-room="lobby"]`)
	room := `.pollchat-window[data-room="lobby"]`
	ada.waitTrue("room window", `document.querySelector('`+room+` .pollchat-input')`)
	linus.do(`Pollchat.openRoom('lobby')`)
	linus.waitTrue("room window", `document.querySelector('`+room+` .pollchat-input')`)
	ada.waitTrue("Linus in Ada's member list", `document.querySelector('`+room+` .pollchat-member[data-uid="3"]')`)
	linus.waitTrue("Ada in the member list as admin", `jQuery('`+room+` .pollchat-member[data-uid="1"] .pollchat-role').text() === 'admin'`)

	linus.typeInto(room+` .pollchat-input`, "Hello, book club!\r")
	ada.waitTrue("room message", countBubbles(room, "Hello, book club!")+` === 1`)
	if got := eval[string](ada, `jQuery('`+room+` .pollchat-in .pollchat-author .pollchat-uname').first().text()`); got != "Linus" {
		ada.fatalf("room message author = %q; want Linus", got)
	}

	ada.typeInto(room+` .pollchat-input`, "/mute Linus 5\r")
	linus.waitTrue("mute notice", `jQuery('`+room+` .pollchat-sys-text').text().indexOf('You are muted in this room') >= 0`)
	ada.waitTrue("feedback to the moderator", `jQuery('`+room+` .pollchat-sys-text').length >= 1 && jQuery('`+room+` .pollchat-member[data-uid="3"]').hasClass('pollchat-member-muted')`)
	if n := eval[int](ada, countBubbles(room, "/mute Linus 5")); n != 0 {
		ada.fatalf("the command was shown as a message (%d bubbles)", n)
	}
	linus.typeInto(room+` .pollchat-input`, "Can anyone hear me?\r")
	linus.waitTrue("muted error", `jQuery('`+room+` .pollchat-error').is(':visible') && jQuery('`+room+` .pollchat-error').text() === 'You are muted in this room.'`)
	if n := eval[int](ada, countBubbles(room, "Can anyone hear me?")); n != 0 {
		ada.fatalf("a muted user's message arrived")
	}
	ada.do(`jQuery('` + room + `').addClass('pollchat-show-members')`)
	ada.screenshot("widget-room")
}
