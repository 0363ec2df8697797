package browser

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"pollchat/internal/testsvc"
)

// apiMessage stores a message through the backend API, as a host site does
// (from "" sends a system notice).
func apiMessage(t *testing.T, e *env, from, to, text string) {
	t.Helper()
	msg := map[string]any{"to": to, "text": text}
	if from != "" {
		msg["from"] = from
	}
	body, _ := json.Marshal(msg)
	req, _ := http.NewRequest("POST", e.pc.URL+"/api/v1/messages", bytes.NewReader(body))
	req.SetBasicAuth(testsvc.APILogin, testsvc.APIPassword)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 {
		raw, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST /api/v1/messages = %d %s; want 201", resp.StatusCode, raw)
	}
}

// TestLoadEarlierHistory: a conversation longer than one page opens with
// the newest page and "Load earlier"; clicking it brings the rest in order
// and then says the conversation starts there.
func TestLoadEarlierHistory(t *testing.T) {
	e := newEnv(t, testsvc.Options{Chat: "rate = 0\n"})
	const total = 12
	for i := 1; i <= total; i++ {
		from, to := "3", "1"
		if i%3 == 0 {
			from, to = "1", "3"
		}
		apiMessage(t, e, from, to, fmt.Sprintf("message %02d", i))
	}
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", JQuery: "1", Opts: map[string]any{"historyPage": 5}})
	ada.waitTrue("unread from hello", `Pollchat.unread() === 8`)
	ada.do(`Pollchat.openDialog('3')`)
	texts := `jQuery.map(jQuery('` + win("3") + ` .pollchat-bubble'), function (e) { return jQuery(e).text(); }).join(',')`
	ada.waitTrue("newest page", texts+` === 'message 08,message 09,message 10,message 11,message 12'`)
	ada.waitTrue("load earlier button", `jQuery('`+win("3")+` .pollchat-earlier').is(':visible') && !jQuery('`+win("3")+` .pollchat-start').is(':visible')`)
	ada.click(win("3") + ` .pollchat-earlier`)
	ada.waitTrue("second page", texts+` === 'message 03,message 04,message 05,message 06,message 07,message 08,message 09,message 10,message 11,message 12'`)
	ada.click(win("3") + ` .pollchat-earlier`)
	ada.waitTrue("all of it", `jQuery('`+win("3")+` .pollchat-bubble').length === `+itoa(total))
	ada.waitTrue("start reached", `!jQuery('`+win("3")+` .pollchat-earlier').is(':visible') && jQuery('`+win("3")+` .pollchat-start').is(':visible')`)
	if got := eval[string](ada, texts); got != "message 01,message 02,message 03,message 04,message 05,message 06,message 07,message 08,message 09,message 10,message 11,message 12" {
		ada.fatalf("history = %s; want 01..12 in order", got)
	}
	ada.waitTrue("read after looking", `Pollchat.unread() === 0`)
}

// TestHiddenTabBlinksTitle: a message for a hidden tab makes the title
// blink with the sender's name; it stops when the tab is shown again.
func TestHiddenTabBlinksTitle(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", JQuery: "3"})
	// Headless tabs are always visible: let the page say it is hidden.
	ada.do(`window.__hidden = true; Object.defineProperty(document, 'hidden', {configurable: true, get: function () { return window.__hidden; }})`)
	linus := e.newTab("linus")
	linus.open(hostPage{User: "3", JQuery: "3"})
	linus.do(`Pollchat.composeMessage('1', 'Are you there?', true)`)
	ada.waitTrue("message", countBubbles(win("3"), "Are you there?")+` === 1`)

	ada.waitTrue("title blinks", `document.title === '(1) New message from Linus'`)
	ada.waitTrue("and back", `document.title === 'Riverside Book Club'`)
	ada.do(`window.__hidden = false; document.dispatchEvent(new Event('visibilitychange'))`)
	ada.waitTrue("title restored", `document.title === 'Riverside Book Club'`)
	for i := 0; i < 3; i++ {
		time.Sleep(600 * time.Millisecond)
		if got := eval[string](ada, `document.title`); got != "Riverside Book Club" {
			ada.fatalf("title = %q after the tab was shown; want it to stop blinking", got)
		}
	}
}

// TestBackendNotices: messages the site's backend sends without a sender
// show as a toast and as a Notifications conversation with its own unread
// count, history and read mark.
func TestBackendNotices(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	apiMessage(t, e, "", "1", "Welcome to the club, Ada!")
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", JQuery: "3", Opts: map[string]any{"open": true}})
	ada.waitTrue("notices row from hello", `jQuery('.pollchat-notices-row .pollchat-count').text() === '1' && Pollchat.unread() === 1`)
	apiMessage(t, e, "", "1", "Your membership was renewed.")
	ada.waitTrue("toast", `jQuery('.pollchat-toast').text().indexOf('Your membership was renewed.') >= 0`)
	ada.waitTrue("two unread", `jQuery('.pollchat-notices-row .pollchat-count').text() === '2' && Pollchat.unread() === 2`)
	ada.click(`.pollchat-notices-row`)
	notices := `.pollchat-window[data-notices="1"]`
	texts := `jQuery.map(jQuery('` + notices + ` .pollchat-bubble'), function (e) { return jQuery(e).text(); }).join('|')`
	ada.waitTrue("both notices in their window", texts+` === 'Welcome to the club, Ada!|Your membership was renewed.'`)
	ada.waitTrue("read", `Pollchat.unread() === 0 && !jQuery('.pollchat-notices-row .pollchat-count').length`)
	if jQueryVisible := eval[bool](ada, `jQuery('`+notices+` .pollchat-compose').is(':visible')`); jQueryVisible {
		ada.fatalf("the notices window has a message box; want none")
	}
	ada.screenshot("widget-notices")
	// Read on the server too: a reload starts at 0.
	ada.open(hostPage{User: "1", JQuery: "3"})
	ada.waitTrue("still read after a reload", `Pollchat.unread() === 0`)
}
