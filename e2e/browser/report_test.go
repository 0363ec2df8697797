package browser

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"pollchat/internal/testsvc"
)

// Report from the widget and the member directory (issue 18 item 7).

// shiftTab presses Shift+Tab in the focused element.
func (b *tab) shiftTab() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift))); err != nil {
		b.fatalf("Shift+Tab: %v", err)
	}
}

// backendReports is GET /api/v1/reports with the backend's credentials.
func backendReports(t *testing.T, base string) []struct {
	MessageID int64  `json:"message_id"`
	Reporter  string `json:"reporter"`
	Reason    string `json:"reason"`
	Status    string `json:"status"`
	Message   struct {
		From string `json:"from"`
		Text string `json:"text"`
	} `json:"message"`
} {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v1/reports", nil)
	req.SetBasicAuth(testsvc.APILogin, testsvc.APIPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /api/v1/reports: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /api/v1/reports = %d %s", resp.StatusCode, b)
	}
	var out struct {
		Reports []struct {
			MessageID int64  `json:"message_id"`
			Reporter  string `json:"reporter"`
			Reason    string `json:"reason"`
			Status    string `json:"status"`
			Message   struct {
				From string `json:"from"`
				Text string `json:"text"`
			} `json:"message"`
		} `json:"reports"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("GET /api/v1/reports: %v in %s", err, b)
	}
	return out.Reports
}

// reportBtn is the report button of the message with text in a window.
func reportBtn(winSel, text string) string {
	return `(function () { var m = Array.prototype.filter.call(document.querySelectorAll(` + js(winSel+` .pollchat-msg`) + `), function (e) {
		var b = e.querySelector('.pollchat-bubble'); return b && b.textContent === ` + js(text) + `; })[0]; return m && m.querySelector('.pollchat-report-btn'); })()`
}

// TestReportFromWidget: Linus reports Ada's message with the mouse; the
// report with its reason reaches the backend; his own messages have no
// report button; the dialog passes axe; an empty reason is refused in the
// dialog; Cancel sends nothing.
func TestReportFromWidget(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	c := testsvc.NewClient(e.pc.URL)
	linus := e.newTab("linus")
	linus.open(hostPage{User: "3", JQuery: "3"})
	c.MustCall(t, "1", "send", "to", "3", "text", "Buy cheap pills at my shop.")
	linus.waitTrue("Ada's message", countBubbles(win("1"), "Buy cheap pills at my shop.")+` === 1`)
	linus.do(`Pollchat.composeMessage('1', 'Please stop.', true)`)
	linus.waitTrue("own message confirmed", `jQuery('`+win("1")+` .pollchat-out:not(.pollchat-pending)').length === 1`)
	if n := eval[int](linus, `jQuery('`+win("1")+` .pollchat-out .pollchat-report-btn').length`); n != 0 {
		linus.fatalf("own messages have %d report buttons; want none", n)
	}
	name := eval[string](linus, reportBtn(win("1"), "Buy cheap pills at my shop.")+`.getAttribute('aria-label') + '|' + `+reportBtn(win("1"), "Buy cheap pills at my shop.")+`.tagName`)
	if name != "Report message from Ada|BUTTON" {
		linus.fatalf("report action = %q; want a button named \"Report message from Ada\"", name)
	}

	// Cancel sends nothing and gives the focus back.
	linus.do(reportBtn(win("1"), "Buy cheap pills at my shop.") + `.click()`)
	linus.waitTrue("dialog open, focus in its reason box", `document.activeElement === document.querySelector('.pollchat-report textarea')`)
	linus.click(`.pollchat-report-cancel`)
	linus.waitTrue("dialog closed, focus back on the button", `!document.querySelector('.pollchat-report') && document.activeElement === `+reportBtn(win("1"), "Buy cheap pills at my shop."))

	linus.do(reportBtn(win("1"), "Buy cheap pills at my shop.") + `.click()`)
	linus.waitTrue("dialog open", `document.querySelector('.pollchat-report[role="dialog"][aria-modal="true"]')`)
	if got := eval[string](linus, `(function () { var d = document.querySelector('.pollchat-report'); return document.getElementById(d.getAttribute('aria-labelledby')).textContent + '|' + document.querySelector('label[for="' + d.querySelector('textarea').id + '"]').textContent + '|' + d.querySelector('textarea').maxLength; })()`); got != "Report message|Why are you reporting it?|500" {
		linus.fatalf("dialog name, label, maxlength = %q", got)
	}
	linus.axe("the report dialog")
	linus.click(`.pollchat-report-send`)
	linus.waitTrue("empty reason refused in the dialog", `jQuery('.pollchat-report-error').text() === 'Write a reason first.'`)
	if n := len(backendReports(t, e.pc.URL)); n != 0 {
		t.Fatalf("%d reports filed before one was sent (Cancel or an empty reason filed one)", n)
	}
	linus.typeInto(`.pollchat-report-reason`, "Spam: advertising pills.")
	linus.click(`.pollchat-report-send`)
	linus.waitTrue("thanked", `!document.querySelector('.pollchat-report') && jQuery('.pollchat-toast').filter(function () { return jQuery(this).text() === 'Thank you. The moderators will look at it.'; }).length === 1`)
	linus.waitTrue("marked reported", reportBtn(win("1"), "Buy cheap pills at my shop.")+`.getAttribute('aria-label') === 'Reported'`)

	reps := backendReports(t, e.pc.URL)
	if len(reps) != 1 || reps[0].Reporter != "3" || reps[0].Reason != "Spam: advertising pills." || reps[0].Message.From != "1" ||
		reps[0].Message.Text != "Buy cheap pills at my shop." || reps[0].Status != "open" || reps[0].MessageID == 0 {
		t.Fatalf("backend reports = %+v; want Linus's one report of Ada's message with its reason", reps)
	}
}

// TestReportKeyboardOnly: the whole report flow with keys: Shift+Tab from
// the message box to the report button, Enter, Escape closes and returns
// focus, Enter again, type, Tab to Send, Enter. Errors show in the dialog:
// RATE_LIMITED after the day's 20 reports.
func TestReportKeyboardOnly(t *testing.T) {
	e := newEnv(t, testsvc.Options{Chat: "rate = 0"})
	c := testsvc.NewClient(e.pc.URL)
	linus := e.newTab("linus")
	linus.open(hostPage{User: "3", JQuery: "3"})
	const text = "Nobody reads the newsletter anyway."
	c.MustCall(t, "1", "send", "to", "3", "text", text)
	linus.waitTrue("Ada's message", countBubbles(win("1"), text)+` === 1`)
	linus.do(`jQuery('` + win("1") + ` .pollchat-input').focus()`)

	toButton := func() {
		for i := 0; i < 12 && !eval[bool](linus, `document.activeElement === `+reportBtn(win("1"), text)); i++ {
			linus.shiftTab()
		}
		if !eval[bool](linus, `document.activeElement === `+reportBtn(win("1"), text)) {
			linus.fatalf("Shift+Tab from the message box never reached the report button")
		}
		if op := eval[string](linus, `getComputedStyle(`+reportBtn(win("1"), text)+`).opacity`); op != "1" {
			linus.fatalf("focused report button has opacity %s; want it shown", op)
		}
	}
	toButton()
	linus.key(kb.Enter)
	linus.waitTrue("dialog open with focus in the reason", `document.activeElement && document.activeElement.className === 'pollchat-report-reason'`)
	linus.key(kb.Escape)
	linus.waitTrue("Escape closed the dialog only, focus back on the button", `!document.querySelector('.pollchat-report') && document.querySelector('`+win("1")+`') && document.activeElement === `+reportBtn(win("1"), text))

	linus.key(kb.Enter)
	linus.waitTrue("dialog open again", `document.activeElement && document.activeElement.className === 'pollchat-report-reason'`)
	linus.key("Insulting the editors.")
	// Tab: Cancel, Send; Tab again wraps to the reason box (focus stays in the dialog).
	linus.key(kb.Tab)
	linus.key(kb.Tab)
	if cls := eval[string](linus, `document.activeElement.className`); !strings.Contains(cls, "pollchat-report-send") {
		linus.fatalf("two Tabs from the reason reached %q; want Send", cls)
	}
	linus.key(kb.Tab)
	if cls := eval[string](linus, `document.activeElement.className`); cls != "pollchat-report-reason" {
		linus.fatalf("Tab from Send went to %q; want the focus kept in the dialog", cls)
	}
	linus.shiftTab()
	linus.key(kb.Enter)
	linus.waitTrue("sent and thanked", `!document.querySelector('.pollchat-report') && jQuery('.pollchat-toast').text().indexOf('Thank you.') >= 0`)
	reps := backendReports(t, e.pc.URL)
	if len(reps) != 1 || reps[0].Reason != "Insulting the editors." || reps[0].Reporter != "3" || reps[0].Message.Text != text {
		t.Fatalf("backend reports = %+v; want the keyboard report", reps)
	}

	// The day's limit: 19 more through the API, then the widget's is refused.
	id := reps[0].MessageID
	for i := 0; i < 19; i++ {
		c.MustCall(t, "3", "report", "message_id", itoa(int(id)), "with", "1", "reason", "again "+itoa(i))
	}
	linus.do(reportBtn(win("1"), text) + `.focus()`)
	linus.key(kb.Enter)
	linus.waitTrue("dialog open", `document.activeElement && document.activeElement.className === 'pollchat-report-reason'`)
	linus.key("One more.")
	linus.key(kb.Tab)
	linus.key(kb.Tab)
	linus.key(kb.Enter)
	linus.waitTrue("limit said in the dialog", `jQuery('.pollchat-report [role="alert"]').text() === 'You reported too many messages today.'`)
	if n := len(backendReports(t, e.pc.URL)); n != 20 {
		t.Fatalf("%d reports stored; want 20", n)
	}
}

// TestDirectorySearch: with the static source, "mar" finds Margaret, who
// has never been online nor in a conversation; nothing is asked under 2
// characters; Enter opens her conversation, and she gets the message.
func TestDirectorySearch(t *testing.T) {
	e := newEnv(t, testsvc.Options{})
	ada := e.newTab("ada")
	ada.open(hostPage{User: "1", JQuery: "3"})
	ada.do(`Pollchat.open()`)
	if eval[bool](ada, `!!Pollchat.getUsersStatusList().filter(function (u) { return u.user_id === '4'; }).length`) {
		ada.fatalf("Ada's widget knows Margaret before any search; the test proves nothing")
	}
	ada.typeInto(`.pollchat-search`, "m")
	ada.waitTrue("one letter: local search only", `jQuery('.pollchat-people .pollchat-empty').text() === 'Nobody by that name.'`)
	ada.typeInto(`.pollchat-search`, "ar")
	ada.waitTrue("Margaret found", `jQuery('.pollchat-people .pollchat-row[data-uid="4"] .pollchat-row-name').text() === 'Margaret'`)
	asked := eval[[]string](ada, `performance.getEntriesByType('resource').map(function (r) { return r.name; }).filter(function (n) { return n.indexOf('/v1/directory?') >= 0; }).map(function (n) { return decodeURIComponent((/[?&]q=([^&]*)/.exec(n) || [])[1] || ''); })`)
	if len(asked) != 1 || asked[0] != "mar" {
		ada.fatalf("directory asked for %q; want only \"mar\" (nothing under 2 characters, one debounced call)", asked)
	}
	ada.key(kb.Enter)
	ada.waitTrue("Margaret's window open", `document.querySelector('`+win("4")+` .pollchat-input')`)

	margaret := e.newTab("margaret")
	margaret.open(hostPage{User: "4", JQuery: "3"})
	ada.do(`document.querySelector('` + win("4") + ` .pollchat-input').focus()`)
	ada.typeInto(win("4")+` .pollchat-input`, "Welcome to the club, Margaret!\r")
	margaret.waitTrue("Margaret receives it", countBubbles(win("1"), "Welcome to the club, Margaret!")+` === 1`)
}
