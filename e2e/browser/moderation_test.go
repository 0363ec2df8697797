package browser

import (
	"strings"
	"testing"

	"pollchat/internal/testsvc"
)

// Moderation seen live (issue 16.2): the console in one tab, Linus's widget
// in another. Deleting a room message, clearing the room and banning Linus
// each show in his widget without a reload.
func TestModerationLive(t *testing.T) {
	e := newEnv(t, testsvc.Options{Chat: "rate = 0"})
	c := testsvc.NewClient(e.pc.URL)
	room := `.pollchat-window[data-room="lobby"]`

	widget := e.newTab("widget")
	widget.open(hostPage{User: "3", Opts: map[string]any{"open": true}})
	widget.do(`Pollchat.openRoom('lobby')`)
	widget.waitTrue("room window", `document.querySelector('`+room+` .pollchat-input')`)

	console := e.newTab("console")
	console.navigate(moderatorLink(t, e.pc.URL, `{"user_id":"2","name":"Grace"}`))
	console.waitTrue("on the console", `location.pathname === '/admin' && !!document.getElementById('feed')`)
	// The console asks for a reason (and a ban's length) with prompt.
	console.do(`window.prompt = function (q) { return q.indexOf('how long') >= 0 ? '' : 'by the test' }`)

	c.MustCall(t, "4", "join", "room", "lobby")
	sent := c.MustCall(t, "4", "send", "room", "lobby", "text", "buy pills now")
	id := itoa(int(sent["message"].(map[string]any)["id"].(float64)))
	widget.waitTrue("message in the widget", countBubbles(room, "buy pills now")+` === 1`)

	// Delete, from the live feed.
	del := `#feed li.msg[data-id="` + id + `"] button.action`
	console.waitTrue("delete button in the feed", `!!document.querySelector('`+del+`')`)
	console.do(`document.querySelector('` + del + `').click()`)
	widget.waitTrue("message deleted in the widget", countBubbles(room, "buy pills now")+` === 0 && jQuery('`+room+` .pollchat-msg[data-id="`+id+`"] .pollchat-bubble').text() === 'message deleted'`)

	// Clear the room, from the rooms list.
	c.MustCall(t, "4", "send", "room", "lobby", "text", "more spam")
	widget.waitTrue("second message", countBubbles(room, "more spam")+` === 1`)
	console.waitTrue("clear button", `!!document.querySelector('#rooms li.room button.action')`)
	console.do(`(function () { var rs = document.querySelectorAll('#rooms li.room'); for (var i = 0; i < rs.length; i++) { if (rs[i].querySelector('strong').textContent === '#lobby') { rs[i].querySelector('button.action').click(); } } })()`)
	widget.waitTrue("room emptied", `jQuery('`+room+` .pollchat-msg').not('.pollchat-sys').length === 0 && jQuery('`+room+` .pollchat-sys-text').text().indexOf('cleared') >= 0`)

	// Ban Linus, from his user view.
	console.do(`document.getElementById('user-id').value = '3'; document.getElementById('user-form').onsubmit()`)
	console.waitTrue("ban button", `!!document.querySelector('#user-view button.ban')`)
	console.do(`document.querySelector('#user-view button.ban').click()`)
	widget.waitTrue("banned notice", `jQuery('`+room+` .pollchat-sys-text').text().indexOf('You are banned from the chat') >= 0`)
	widget.typeInto(room+` .pollchat-input`, "let me talk\r")
	widget.waitTrue("send refused", `jQuery('`+room+` .pollchat-error').is(':visible')`)
	if r := c.Call(t, "3", "send", "room", "lobby", "text", "x"); r.ErrorCode() != "FORBIDDEN" {
		t.Errorf("send as banned Linus = %s; want FORBIDDEN", r.Body)
	}
	console.waitTrue("audit shows all three", `(function(){ var t = document.getElementById('audit').textContent; return t.indexOf('delete_message') >= 0 && t.indexOf('clear_room') >= 0 && t.indexOf('ban') >= 0 && t.indexOf('Grace (2)') >= 0; })()`)
	console.waitTrue("bans list", `document.getElementById('bans-count').textContent === '1'`)
	for name, tab := range map[string]*tab{"console": console, "widget": widget} {
		if logs := tab.logs.String(); containsException(logs) {
			t.Errorf("%s page threw:\n%s", name, logs)
		}
	}
}

func containsException(logs string) bool { return strings.Contains(logs, "exception") }
