package chat

import (
	"context"
	"testing"
	"time"

	"pollchat/store"
)

// TestNoticeWhenGoingOfflineWithUnread: a direct message read by nobody
// while its recipient was online goes into the outbox when they go
// offline, once; a read one does not.
func TestNoticeWhenGoingOfflineWithUnread(t *testing.T) {
	svc := newTestService(t, Config{NoticeDelay: time.Minute})
	ctx := context.Background()
	if svc.notices == nil {
		t.Fatal("no notice worker with NoticeDelay set on the embedded store")
	}
	svc.Seen(Caller{ID: "2"}) // online: the send itself queues no notice
	res, err := svc.Send(ctx, Caller{ID: "1"}, SendParams{To: "2", Text: "are you there?"})
	if err != nil {
		t.Fatal(err)
	}
	read, err := svc.Send(ctx, Caller{ID: "3"}, SendParams{To: "2", Text: "read this one"})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Read(ctx, Caller{ID: "2"}, "3", "", false, read.Message.ID); err != nil {
		t.Fatal(err)
	}
	svc.noticeUnread("2")
	svc.noticeUnread("2") // again: not twice
	pend, err := svc.outbox().Pending(ctx, "2")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, n := range pend {
		for _, it := range n.Items {
			ids = append(ids, it.MessageID)
		}
	}
	if len(ids) != 1 || ids[0] != res.Message.ID {
		t.Fatalf("notice items = %v; want only the unread message %d", ids, res.Message.ID)
	}
	if pend[0].Items[0].Conv != store.DirectConv("1", "2") || pend[0].Items[0].From != "1" {
		t.Fatalf("item = %+v", pend[0].Items[0])
	}
	// The sender's side of the conversation is never noticed to them.
	svc.noticeUnread("1")
	if p1, _ := svc.outbox().Pending(ctx, "1"); len(p1) != 0 {
		t.Fatalf("notices of the sender = %+v; want none", p1)
	}
}

// TestNoticeQueueBounded: jobs beyond the queue are dropped and counted,
// never block the caller.
func TestNoticeQueueBounded(t *testing.T) {
	svc := newTestService(t, Config{NoticeDelay: time.Minute})
	svc.Close() // the worker stops: nothing drains the queue
	for i := 0; i < noticeQueue+10; i++ {
		svc.queueNotice(noticeJob{offline: "2"})
	}
	if got := svc.NoticesDropped(); got != 10 {
		t.Fatalf("dropped = %d; want 10", got)
	}
}
