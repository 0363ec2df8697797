package chat

import (
	"context"

	"pollchat/store"
)

// Missed-message notices (issue 15.3): with Config.NoticeDelay set, a
// direct message goes into the store's outbox (notices.go at the top of
// the tree sends it to the site) when its recipient is offline as it is
// sent, or when they go offline with it still unread. One worker owned by
// the service does the store work, off the send and presence paths, from
// a bounded queue: a full queue drops the job (counted, logged), Close
// stops the worker after the job in hand.

// noticeQueue bounds the jobs waiting for the notice worker.
const noticeQueue = 4096

// noticeJob is one message sent (msg) or one user gone offline (offline).
type noticeJob struct {
	msg     *store.Message
	offline string
}

// queueNotice hands a job to the worker; without one (no NoticeDelay, or a
// store without records) it does nothing.
func (s *Service) queueNotice(j noticeJob) {
	if s.notices == nil {
		return
	}
	if j.msg != nil && j.msg.To == "" {
		return
	}
	select {
	case s.notices <- j:
	default:
		if s.dropped.Add(1)%1000 == 1 {
			s.log.Warn("chat: missed-message notice queue full; notices dropped", "dropped", s.dropped.Load())
		}
	}
}

// NoticesDropped is how many notice jobs a full queue dropped.
func (s *Service) NoticesDropped() uint64 { return s.dropped.Load() }

func (s *Service) runNotices() {
	defer s.workers.Done()
	for {
		select {
		case <-s.stop:
			return
		case j := <-s.notices:
			if j.msg != nil {
				s.noticeIfOffline(j.msg)
			} else {
				s.noticeUnread(j.offline)
			}
		}
	}
}

func (s *Service) outbox() *store.Outbox {
	return store.NewOutbox(s.store.(store.Records))
}

// noticeIfOffline puts m into the outbox when its recipient is offline;
// the sender checks again at send time that it is still unread and the
// recipient still offline.
func (s *Service) noticeIfOffline(m *store.Message) {
	if s.hub.Online(m.To) {
		return
	}
	s.enqueueNotice(m.To, m)
}

// noticeUnread puts the newest unread direct message of each of user's
// conversations into the outbox as they go offline, unless a pending
// notice has it or this process noticed it (or a newer one) already.
func (s *Service) noticeUnread(user string) {
	ctx, cancel := s.storeCtx(context.Background())
	defer cancel()
	convs, err := s.store.Conversations(ctx, user, nil, 200)
	if err != nil {
		s.log.Warn("chat: unread messages of a user gone offline", "user", user, "err", err)
		return
	}
	pend, err := s.outbox().Pending(ctx, user)
	if err != nil {
		s.log.Warn("chat: pending notices", "user", user, "err", err)
		return
	}
	queued := map[int64]bool{}
	for _, n := range pend {
		for _, it := range n.Items {
			queued[it.MessageID] = true
		}
	}
	var upto int64
	if v, ok := s.noticed.Load(user); ok {
		upto = v.(int64)
	}
	for _, cv := range convs {
		m := cv.Last
		if cv.With == "" || cv.Unread == 0 || m == nil || m.From == user || m.ID <= upto || queued[m.ID] {
			continue
		}
		s.enqueueNotice(user, m)
	}
}

func (s *Service) enqueueNotice(to string, m *store.Message) {
	ctx, cancel := s.storeCtx(context.Background())
	defer cancel()
	it := store.NoticeItem{MessageID: m.ID, From: m.From, Conv: store.DirectConv(m.From, m.To), Excerpt: m.Text, TS: m.TS}
	if _, err := s.outbox().Enqueue(ctx, to, it, s.cfg.NoticeDelay); err != nil {
		s.log.Warn("chat: missed-message notice not queued", "to", to, "id", m.ID, "err", err)
		return
	}
	for {
		v, loaded := s.noticed.LoadOrStore(to, m.ID)
		if !loaded || v.(int64) >= m.ID || s.noticed.CompareAndSwap(to, v, m.ID) {
			return
		}
	}
}
