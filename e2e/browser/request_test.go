package browser

import (
	"testing"

	"pollchat/internal/testsvc"
)

// TestChatRequestAcceptedThenRejected: Ada invites Linus from her people
// list; Linus accepts in the dialog and both get a window; a second
// invitation is rejected and Ada is told so.
func TestChatRequestAcceptedThenRejected(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	linus := e.newTab("linus")
	linus.open(hostPage{User: "3", JQuery: "3"})
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", JQuery: "1", Opts: map[string]any{"open": true}})

	// Ada invites through the UI.
	ada.waitTrue("Linus in Ada's online list", `document.querySelector('.pollchat-people .pollchat-row[data-uid="3"] .pollchat-row-invite')`)
	ada.click(`.pollchat-people .pollchat-row[data-uid="3"] .pollchat-row-invite`)
	ada.waitTrue("request sent toast", `jQuery('.pollchat-toast').text().indexOf('Chat request sent to Linus') >= 0`)

	linus.waitTrue("request dialog", `jQuery('.pollchat-request[data-uid="1"] .pollchat-request-text').text() === 'Hi! Do you have a minute to chat?'`)
	if got := eval[string](linus, `jQuery('.pollchat-request[data-uid="1"] .pollchat-request-from').text()`); got != "Ada" {
		linus.fatalf("request from = %q; want Ada", got)
	}
	if got := eval[string](linus, `__rec.events.chat_request[0].from + '|' + __rec.events.chat_request[0].text`); got != "1|Hi! Do you have a minute to chat?" {
		linus.fatalf("chat_request event = %q", got)
	}
	linus.screenshot("widget-request")
	linus.click(`.pollchat-request[data-uid="1"] .pollchat-accept`)
	linus.waitTrue("dialog gone and window open", `!document.querySelector('.pollchat-request') && document.querySelector('`+win("1")+`')`)
	ada.waitTrue("accepted at Ada", `__rec.events.chat_answer && __rec.events.chat_answer[0].accepted === true && document.querySelector('`+win("3")+`')`)
	ada.waitTrue("accepted toast", `jQuery('.pollchat-toast').text().indexOf('Linus accepted your chat request') >= 0`)

	// Second request, by the API this time, with text of Ada's own.
	ada.do(`Pollchat.request('3', 'One more thing about Thursday?')`)
	linus.waitTrue("second dialog", `jQuery('.pollchat-request[data-uid="1"] .pollchat-request-text').text() === 'One more thing about Thursday?'`)
	linus.click(`.pollchat-request[data-uid="1"] .pollchat-reject`)
	linus.waitTrue("dialog gone", `!document.querySelector('.pollchat-request')`)
	ada.waitTrue("rejected at Ada", `__rec.events.chat_answer.length === 2 && __rec.events.chat_answer[1].accepted === false`)
	ada.waitTrue("declined toast", `jQuery('.pollchat-toast').text().indexOf('Linus declined your chat request') >= 0`)
	if n := eval[int](linus, `__rec.events.chat_request.length`); n != 2 {
		linus.fatalf("chat_request events = %d; want 2", n)
	}
}
