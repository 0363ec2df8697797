package browser

import (
	"testing"
	"time"

	"pollchat/internal/testsvc"
)

// TestTabsShareOnePoll: two tabs of the same visitor hold one poll between
// them (the leader's) and both show what arrives; when the leader's tab
// leaves, the other takes over and nothing is lost or doubled.
func TestTabsShareOnePoll(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	first := e.newTab("linus-1")
	first.open(hostPage{User: "3", JQuery: "3", Opts: map[string]any{"pollTimeout": 3}})
	second := e.newTabBeside(first, "linus-2")
	second.open(hostPage{User: "3", JQuery: "3", Opts: map[string]any{"pollTimeout": 3}})
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", JQuery: "1"})

	first.waitTrue("first tab leads", `Pollchat.stats().leader === true`)
	second.waitTrue("second tab follows", `Pollchat.stats().leader === false && Pollchat.stats().inFlight === 0`)
	idle := eval[int](second, `Pollchat.stats().polls`)
	busy := eval[int](first, `Pollchat.stats().polls`)
	first.waitTrue("the leader polls on", `Pollchat.stats().polls >= `+itoa(busy+2))
	if n := eval[int](second, `Pollchat.stats().polls`); n != idle {
		second.fatalf("the follower polled: %d polls, was %d", n, idle)
	}

	ada.do(`Pollchat.composeMessage('3', 'To both of your tabs', true)`)
	for _, b := range []*tab{first, second} {
		b.waitTrue("message in every tab", countBubbles(win("1"), "To both of your tabs")+` === 1`)
	}

	// The first tab leaves the site (closing it would close its browser
	// context, and the second tab with it).
	first.navigate("about:blank")
	second.waitTrue("second tab takes over", `Pollchat.stats().leader === true && Pollchat.stats().leads >= 1 && Pollchat.stats().polls > `+itoa(idle))
	ada.do(`Pollchat.composeMessage('3', 'After the first tab closed', true)`)
	second.waitTrue("message after the takeover", countBubbles(win("1"), "After the first tab closed")+` === 1`)
	time.Sleep(time.Second)
	for _, text := range []string{"To both of your tabs", "After the first tab closed"} {
		if n := eval[int](second, countBubbles(win("1"), text)); n != 1 {
			second.fatalf("bubbles with %q = %d; want 1", text, n)
		}
	}
	if n := eval[int](second, `__rec.events.message_received.length`); n != 2 {
		second.fatalf("message_received events = %d; want 2", n)
	}
}
