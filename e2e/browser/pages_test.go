package browser

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"pollchat/internal/testsvc"
)

// TestDemoPage: /demo shows two demo users side by side; a message written
// in the left pane arrives in the right one and back. Saves demo.png.
func TestDemoPage(t *testing.T) {
	e := newEnv(t, testsvc.Options{Demo: true})
	b := e.newTab("demo")
	b.setViewport(1400, 860)
	b.navigate(e.pc.URL + "/demo")
	left := `document.getElementById('left-frame').contentWindow`
	right := `document.getElementById('right-frame').contentWindow`
	b.waitTrue("both panes online", left+`.Pollchat && `+left+`.Pollchat.state() === 'online' && `+right+`.Pollchat && `+right+`.Pollchat.state() === 'online'`)
	leftUser := eval[string](b, left+`.PAGE.id`)
	rightUser := eval[string](b, right+`.PAGE.id`)
	if leftUser == rightUser {
		b.fatalf("both panes are user %s; want two users", leftUser)
	}
	b.do(left + `.Pollchat.composeMessage(` + js(rightUser) + `, 'Hi Linus! Did you finish the book?', true)`)
	rdoc := right + `.document`
	b.waitTrue("left to right", `Array.prototype.some.call(`+rdoc+`.querySelectorAll('.pollchat-bubble'), function (e) { return e.textContent === 'Hi Linus! Did you finish the book?'; })`)
	b.do(right + `.Pollchat.composeMessage(` + js(leftUser) + `, 'Almost, two chapters to go. See you Thursday!', true)`)
	b.waitTrue("right to left", `Array.prototype.some.call(`+left+`.document.querySelectorAll('.pollchat-bubble'), function (e) { return e.textContent === 'Almost, two chapters to go. See you Thursday!'; })`)
	b.do(right + `.jQuery('.pollchat-window .pollchat-input').first().focus()`)
	b.waitTrue("seen in left pane", left+`.document.querySelector('.pollchat-out.pollchat-seen')`)
	// The demo pages have no jQuery of their own: the widget loaded one
	// (the server's /jquery.js, or the CDN, answered here from npm).
	if v := eval[string](b, left+`.jQuery.fn.jquery`); v == "" {
		b.fatalf("no jQuery in the demo pane")
	}
	b.screenshot("demo")
}

// TestChatPopupPage: the eStreamChat popup (/chat?id&target&timestamp&hash)
// is one full-window conversation that talks with the widget; a bad hash
// gets 403.
func TestChatPopupPage(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", JQuery: "3"})

	ts := time.Now().UTC().Format("060102150405")
	q := url.Values{"id": {"3"}, "target": {"1"}, "timestamp": {ts}, "hash": {sha1hex("3" + "1" + ts + testsvc.LinkSecret)}, "name": {"Linus"}}
	bad := url.Values{"id": {"3"}, "target": {"1"}, "timestamp": {ts}, "hash": {sha1hex("3" + "2" + ts + testsvc.LinkSecret)}}
	resp, err := http.Get(e.pc.URL + "/chat?" + bad.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("GET /chat with a wrong hash = %d; want 403", resp.StatusCode)
	}

	popup := e.newTab("popup")
	popup.setViewport(720, 640)
	popup.navigate(e.pc.URL + "/chat?" + q.Encode())
	popup.waitTrue("popup online with its conversation", `window.Pollchat && Pollchat.state() === 'online' && document.querySelector('.pollchat-mode-page `+win("1")+` .pollchat-input')`)
	if n := eval[int](popup, `document.querySelectorAll('.pollchat-launcher, .pollchat-panel').length`); n != 0 {
		popup.fatalf("popup has %d launcher/panel elements; want a bare conversation", n)
	}
	popup.typeInto(win("1")+` .pollchat-input`, "Writing from the popup window.\r")
	ada.waitTrue("popup message at Ada", countBubbles(win("3"), "Writing from the popup window.")+` === 1`)
	ada.do(`Pollchat.composeMessage('3', 'Got it, thanks!', true)`)
	popup.waitTrue("reply in popup", countBubbles(win("1"), "Got it, thanks!")+` === 1`)
	popup.waitTrue("title names the partner", `document.title === 'Ada · Chat'`)
	popup.screenshot("chat-popup")
}

// TestMessengerJS: a page that followed eStreamChat's guide (no jQuery of
// its own) calls Messenger.initialize; it loads the widget and jQuery,
// and a chat request comes as the Accept/Reject dialog.
func TestMessengerJS(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	ada := e.newTab("ada")
	ada.navigate(e.pageURL(hostPage{User: "1", Messenger: true}))
	ada.waitTrue("messenger online", `window.Messenger && window.Pollchat && Pollchat.state() === 'online'`)
	if !strings.Contains(ada.logs.String(), "this page has no jQuery; loading") {
		ada.fatalf("no console note about loading jQuery")
	}
	linus := e.newTab("linus")
	linus.open(hostPage{User: "3", JQuery: "3"})
	linus.do(`Pollchat.request('1', 'Coffee after the meeting?')`)
	ada.waitTrue("request dialog", `jQuery('.pollchat-request[data-uid="3"] .pollchat-request-text').text() === 'Coffee after the meeting?'`)
	ada.click(`.pollchat-request[data-uid="3"] .pollchat-accept`)
	linus.waitTrue("accepted", `__rec.events.chat_answer && __rec.events.chat_answer[0].accepted === true`)
	ada.do(`Messenger.openChatWindow('3')`)
	ada.waitTrue("window", `document.querySelector('`+win("3")+`')`)
}

// TestTokenIdentityAndRenewal: a widget started with a JWT from the backend
// API warns before it expires; the site hands it a new one with setToken
// and the chat goes on.
func TestTokenIdentityAndRenewal(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	token := func(user string) string {
		body, _ := json.Marshal(map[string]any{"user_id": user, "expires_in": 360})
		req, _ := http.NewRequest("POST", e.pc.URL+"/api/v1/tokens", bytes.NewReader(body))
		req.SetBasicAuth(testsvc.APILogin, testsvc.APIPassword)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != 201 || out.AccessToken == "" {
			t.Fatalf("POST /api/v1/tokens = %d %s; want 201 with access_token", resp.StatusCode, raw)
		}
		return out.AccessToken
	}
	linus := e.newTab("linus")
	linus.open(hostPage{User: "3", JQuery: "3"})
	ada := e.newTab("ada")
	// tokenWarning 359 s: the 360 s token is "about to expire" at once.
	ada.open(hostPage{Token: token("1"), JQuery: "1", Opts: map[string]any{"tokenWarning": 359}})
	ada.waitTrue("expiry warning", `__rec.events.access_token_is_about_to_expire && __rec.events.access_token_is_about_to_expire.length === 1`)
	ada.do(`Pollchat.setToken(` + js(token("1")) + `)`)
	ada.do(`Pollchat.composeMessage('3', 'Still here with a fresh token.', true)`)
	linus.waitTrue("message after renewal", `Array.prototype.some.call(document.querySelectorAll('.pollchat-bubble'), function (e) { return e.textContent === 'Still here with a fresh token.'; })`)
	if got := eval[string](ada, `Pollchat.me().user_id + ' ' + Pollchat.state()`); got != "1 online" {
		ada.fatalf("me and state = %q; want \"1 online\"", got)
	}
}
