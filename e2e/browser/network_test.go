package browser

import (
	"testing"

	"pollchat/internal/testsvc"
)

// TestMessageDuringOutageArrivesOnce: Linus's requests to pollchat are
// blocked; the widget shows "reconnecting"; Ada writes; when the network
// returns the message arrives exactly once. Then the other way round: Ada
// sends while cut off, the send is retried with the same client_id, and
// Linus gets it once.
func TestMessageDuringOutageArrivesOnce(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	linus := e.newTab("linus")
	// Short polls, so that "two more polls" comes soon.
	linus.open(hostPage{User: "3", JQuery: "3", Opts: map[string]any{"open": true, "pollTimeout": 3}})
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", JQuery: "3"})
	ada.do(`Pollchat.openDialog('3')`)
	linus.do(`Pollchat.openDialog('1')`)
	ada.waitTrue("window", `document.querySelector('`+win("3")+` .pollchat-input')`)
	linus.waitTrue("window", `document.querySelector('`+win("1")+` .pollchat-input')`)

	// Cut Linus off and wait until the widget says so.
	linus.block(true)
	linus.waitTrue("reconnecting state", `Pollchat.state() === 'reconnecting' && jQuery('.pollchat-root').hasClass('pollchat-state-reconnecting')`)
	linus.waitTrue("reconnecting banner visible", `jQuery('`+win("1")+` .pollchat-conn').is(':visible') && jQuery('.pollchat-panel .pollchat-conn').is(':visible') && jQuery('.pollchat-launcher-dot').is(':visible')`)
	linus.screenshot("widget-reconnecting")

	const away = "Sent while you were offline"
	ada.typeInto(win("3")+` .pollchat-input`, away+"\r")
	ada.waitTrue("Ada's send confirmed", `__rec.events.message_sent && __rec.events.message_sent.length === 1`)
	if n := eval[int](linus, countBubbles(win("1"), away)); n != 0 {
		linus.fatalf("message arrived through a blocked network: %d bubbles", n)
	}

	linus.block(false)
	linus.waitTrue("online again", `Pollchat.state() === 'online'`)
	linus.waitTrue("message after outage", countBubbles(win("1"), away)+` === 1`)
	polls := eval[int](linus, `Pollchat.stats().polls`)
	// Two more polls go by: nothing is delivered twice.
	ada.do(`Pollchat.composeMessage('3', 'ping', true)`)
	linus.waitTrue("next message", countBubbles(win("1"), "ping")+` === 1`)
	linus.waitTrue("more polls", `Pollchat.stats().polls >= `+itoa(polls+2))
	if n := eval[int](linus, countBubbles(win("1"), away)); n != 1 {
		linus.fatalf("bubbles with %q = %d; want 1", away, n)
	}
	if n := eval[int](linus, `__rec.events.message_received.filter(function (m) { return m.text === `+js(away)+`; }).length`); n != 1 {
		linus.fatalf("message_received events for %q = %d; want 1", away, n)
	}

	// Now the sender is cut off: the send waits, retries, lands once.
	ada.block(true)
	const retried = "Written while my connection was down"
	ada.typeInto(win("3")+` .pollchat-input`, retried+"\r")
	ada.waitTrue("pending bubble", `jQuery('`+win("3")+` .pollchat-pending .pollchat-bubble').text() === `+js(retried))
	ada.waitTrue("reconnecting state", `Pollchat.state() === 'reconnecting'`)
	ada.block(false)
	linus.waitTrue("retried message arrives", countBubbles(win("1"), retried)+` === 1`)
	ada.waitTrue("confirmed at Ada", `jQuery('`+win("3")+` .pollchat-pending').length === 0 && `+countBubbles(win("3"), retried)+` === 1`)
	linus.waitTrue("more polls", `Pollchat.stats().polls >= `+itoa(eval[int](linus, `Pollchat.stats().polls`)+2))
	if n := eval[int](linus, countBubbles(win("1"), retried)); n != 1 {
		linus.fatalf("bubbles with %q = %d; want 1", retried, n)
	}
	for _, b := range []*tab{ada, linus} {
		if n := eval[int](b, `Pollchat.stats().maxInFlight`); n != 1 {
			b.fatalf("polls in flight at once = %d; want 1", n)
		}
	}
}
