package browser

import (
	"testing"

	"pollchat/internal/testsvc"
)

const evilName = `<img src=x onerror="window.__pwned='name'">`

// TestHostileTextRunsNothing: a user whose name is an <img onerror> tag
// sends such a tag as a message and as a chat request; every page shows
// the characters and runs nothing.
func TestHostileTextRunsNothing(t *testing.T) {
	users := "[users]\nsource = \"static\"\n" +
		"[[users.static]]\nuser_id = \"1\"\nname = \"Ada\"\nrole = \"admin\"\n" +
		"[[users.static]]\nuser_id = \"6\"\nname = " + tomlString(evilName) + "\nrole = \"member\"\n"
	e := newEnv(t, testsvc.Options{Users: users})
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", JQuery: "1", Opts: map[string]any{"open": true}})
	evil := e.newTab("evil")
	evil.open(hostPage{User: "6", JQuery: "3", Opts: map[string]any{"open": true}})

	const msg = `<img src=x onerror="window.__pwned='message'"><script>window.__pwned='script'</script>`
	const req = `<b>hi</b><img src=x onerror="window.__pwned='request'">`
	evil.do(`Pollchat.openDialog('1')`)
	evil.waitTrue("window", `document.querySelector('`+win("1")+` .pollchat-input')`)
	evil.typeInto(win("1")+` .pollchat-input`, msg+"\r")
	evil.do(`Pollchat.request('1', ` + js(req) + `)`)

	ada.waitTrue("hostile message shown as text", countBubbles(win("6"), msg)+` === 1`)
	ada.waitTrue("hostile request shown as text", `jQuery('.pollchat-request[data-uid="6"] .pollchat-request-text').text() === `+js(req))
	ada.waitTrue("hostile name shown as text", `jQuery('`+win("6")+` .pollchat-head-title').text() === `+js(evilName))
	if got := eval[string](ada, `jQuery('.pollchat-request[data-uid="6"] .pollchat-request-from').text()`); got != evilName {
		ada.fatalf("request from = %q; want %q", got, evilName)
	}
	ada.waitTrue("hostile name in the people list", `jQuery('.pollchat-row[data-uid="6"] .pollchat-uname').text() === `+js(evilName))
	evil.waitTrue("own message shown as text", countBubbles(win("1"), msg)+` === 1`)
	for _, b := range []*tab{ada, evil} {
		if got := eval[string](b, `String(window.__pwned)`); got != "undefined" {
			b.fatalf("window.__pwned = %q; want undefined (markup ran)", got)
		}
		if n := eval[int](b, `document.querySelectorAll('.pollchat-root img[src="x"], .pollchat-root script, .pollchat-root b').length`); n != 0 {
			b.fatalf("elements made from untrusted text = %d; want 0", n)
		}
	}
}

func tomlString(s string) string { return js(s) }
