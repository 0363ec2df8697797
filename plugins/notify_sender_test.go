package plugins

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pollchat/notify"
	"pollchat/store"
)

// senderState is the chat as pollchat's notice sender sees it: the
// recipient offline, their messages unread, user 2 named Eve.
type senderState struct {
	mu     sync.Mutex
	unread map[store.Conv]int
}

func (s *senderState) Online(string) bool { return false }
func (s *senderState) Unread(context.Context, string) (map[store.Conv]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[store.Conv]int{}
	for k, v := range s.unread {
		out[k] = v
	}
	return out, nil
}
func (s *senderState) Names(_ context.Context, ids []string) map[string]string {
	out := map[string]string{}
	for _, id := range ids {
		if id == "2" {
			out[id] = "Eve"
		}
	}
	return out
}

// TestWordPressReceivesPollchatNotices runs pollchat's own notice sender
// (notify, on a real outbox in the embedded store) against the plugin's
// route on a real WordPress: the signed notice becomes one mail, and the
// acked notice is never sent again, even by a second process.
func TestWordPressReceivesPollchatNotices(t *testing.T) {
	n := setupNoticeSite(t)
	st, err := store.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ob := store.NewOutbox(st.(store.Records))
	var skew time.Duration // the outbox's clock runs ahead: the delay passes at once
	var mu sync.Mutex
	ob.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(skew) }
	sam := strconv.Itoa(n.subscriber)
	conv := store.DirectConv("2", sam)
	state := &senderState{unread: map[store.Conv]int{conv: 2}}
	ctx := context.Background()
	for i, text := range []string{"Hello Sam", "Are you coming tonight?"} {
		if _, err := ob.Enqueue(ctx, sam, store.NoticeItem{MessageID: int64(40 + i), From: "2", Conv: conv, Excerpt: text, TS: time.Now()}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	skew = 61 * time.Second
	mu.Unlock()
	newSender := func(owner string) *notify.Sender {
		s, err := notify.New(notify.Config{URL: n.url, Secret: n.notifySecret, Owner: owner, Version: "test"}, ob, state, notify.RecordsGate{R: st.(store.Records)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := newSender("a"), newSender("b")
	if sent := a.Work(ctx) + b.Work(ctx); sent != 1 {
		t.Fatalf("two senders sent %d notices; want 1\n%s", sent, n.web.Log())
	}
	m := n.oneMail(t, "pollchat's notice")
	if len(m.To) != 1 || m.To[0] != "sam@example.com" || m.Subject != "2 unread messages from Eve" ||
		!strings.Contains(m.Body, "Eve: Are you coming tonight?") {
		t.Fatalf("mail to %v %q:\n%s", m.To, m.Subject, m.Body)
	}
	mu.Lock()
	skew = time.Hour
	mu.Unlock()
	if sent := a.Work(ctx) + b.Work(ctx); sent != 0 {
		t.Fatalf("an acked notice was sent again: %d", sent)
	}
	n.noMail(t, "after the ack")
}
