package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"pollchat/internal/testsvc"
	"pollchat/notify"
)

// Issue 15.3 through the built binary: a direct message to an offline
// user becomes one signed notice at notify.url.
func TestMissedMessageNotice(t *testing.T) {
	const secret = "notice-secret-e2e-0123456789"
	got := make(chan notify.Body, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get("X-Pollchat-Timestamp"), 10, 64)
		if r.Header.Get("X-Pollchat-Signature") != notify.Sign(secret, ts, body) {
			w.WriteHeader(http.StatusUnauthorized)
			t.Errorf("bad signature on %s", body)
			return
		}
		var b notify.Body
		if err := json.Unmarshal(body, &b); err != nil {
			t.Errorf("notice %s: %v", body, err)
		}
		got <- b
	}))
	defer recv.Close()
	p := testsvc.StartPollchat(t, testsvc.Options{Extra: "[notify]\nurl = \"" + recv.URL + "\"\nsecret = \"" + secret + "\"\ndelay = \"1s\"\n"})
	c := testsvc.NewClient(p.URL)
	c.MustCall(t, "4", "send", "to", "3", "text", "Are you coming tonight?")
	select {
	case b := <-got:
		if b.UserID != "3" || b.Count != 1 || b.Excerpt != "Are you coming tonight?" || len(b.Senders) != 1 || *b.Senders[0].UserID != "4" || b.Senders[0].Name != "Margaret" {
			t.Fatalf("notice = %+v", b)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no notice within 30 s\n%s", p.Log())
	}
}

// A message that reached its recipient online but stayed unread becomes a
// notice once they go offline (the presence grace after their last poll).
func TestNoticeWhenGoingOfflineUnread(t *testing.T) {
	const secret = "notice-secret-e2e-0123456789"
	got := make(chan notify.Body, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var b notify.Body
		if err := json.Unmarshal(body, &b); err != nil {
			t.Errorf("notice %s: %v", body, err)
		}
		got <- b
	}))
	defer recv.Close()
	p := testsvc.StartPollchat(t, testsvc.Options{Grace: "2s", Extra: "[notify]\nurl = \"" + recv.URL + "\"\nsecret = \"" + secret + "\"\ndelay = \"1s\"\n"})
	c := testsvc.NewClient(p.URL)
	p3 := c.NewPoller(t, "3")
	p3.Poll(t, 0) // online
	c.MustCall(t, "4", "send", "to", "3", "text", "Seen but not read")
	p3.WaitFor(t, 20*time.Second, func(e testsvc.Event) bool { return messageText(e) == "Seen but not read" })
	// 3 stops polling: offline after the grace, the message still unread.
	select {
	case b := <-got:
		if b.UserID != "3" || b.Count != 1 || b.Excerpt != "Seen but not read" {
			t.Fatalf("notice = %+v", b)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no notice within 30 s of going offline\n%s", p.Log())
	}
}
