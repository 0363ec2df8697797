package browser

import (
	"testing"

	"pollchat/internal/testsvc"
)

// TestServerRestartResetsAndResumes: pollchat restarts under two open
// widgets; they show "reconnecting", come back by themselves, get
// reset:true for their old cursors, say hello again, and chat on with
// nothing lost or doubled.
func TestServerRestartResetsAndResumes(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", JQuery: "3", Opts: map[string]any{"pollTimeout": 3}})
	linus := e.newTab("linus")
	linus.open(hostPage{User: "3", JQuery: "1", Opts: map[string]any{"pollTimeout": 3}})
	ada.do(`Pollchat.composeMessage('3', 'Before the restart', true)`)
	linus.waitTrue("first message", countBubbles(win("1"), "Before the restart")+` === 1`)

	e.pc.Stop()
	ada.waitTrue("reconnecting", `Pollchat.state() === 'reconnecting'`)
	e.pc.Start()
	for _, b := range []*tab{ada, linus} {
		b.waitTrue("back online after a reset and a new hello", `Pollchat.state() === 'online' && Pollchat.stats().hellos >= 2`)
	}
	if n := eval[int](ada, `Pollchat.stats().resets + Pollchat.stats().hellos`); n < 3 {
		ada.fatalf("resets + hellos = %d; want a reset or a second hello", n)
	}
	linus.do(`Pollchat.composeMessage('1', 'After the restart', true)`)
	ada.waitTrue("message after restart", countBubbles(win("3"), "After the restart")+` === 1`)
	for _, c := range []struct {
		b         *tab
		sel, text string
	}{
		{ada, win("3"), "Before the restart"},
		{linus, win("1"), "Before the restart"},
		{linus, win("1"), "After the restart"},
	} {
		if n := eval[int](c.b, countBubbles(c.sel, c.text)); n != 1 {
			c.b.fatalf("bubbles with %q = %d; want 1", c.text, n)
		}
	}
}
