package main

import (
	"context"
	"log/slog"
	"time"

	"pollchat/bridge"
	"pollchat/chat"
	"pollchat/config"
	"pollchat/notify"
	"pollchat/store"
)

// noticeState is the running chat as the notice sender asks it at send
// time: presence (the whole cluster's), unread counts, names.
type noticeState struct {
	svc *chat.Service
	dir *bridge.Directory
}

func (n noticeState) Online(user string) bool { return n.svc.UserOnline(user) }

func (n noticeState) Unread(ctx context.Context, user string) (map[store.Conv]int, error) {
	_, convs, err := n.svc.Unread(ctx, user)
	if err != nil {
		return nil, err
	}
	out := make(map[store.Conv]int, len(convs))
	for _, cv := range convs {
		switch {
		case cv.Room != "":
			out[store.RoomConv(cv.Room)] = cv.Unread
		case cv.With == "":
			out[store.DirectConv("", user)] = cv.Unread
		default:
			out[store.DirectConv(user, cv.With)] = cv.Unread
		}
	}
	return out, nil
}

func (n noticeState) Names(ctx context.Context, ids []string) map[string]string {
	users, _ := n.dir.GetMany(ctx, ids)
	out := make(map[string]string, len(users))
	for id, u := range users {
		out[id] = u.Name
	}
	return out
}

// startNotices runs the notice sender when notify.url is set and the store
// keeps the outbox; nil when off.
func startNotices(cfg *config.Config, st store.Store, svc *chat.Service, dir *bridge.Directory, log *slog.Logger) (*notify.Sender, error) {
	if !cfg.Notify.On() {
		return nil, nil
	}
	r, ok := st.(store.Records)
	if !ok {
		log.Warn("notify: the store keeps no outbox; notices are off")
		return nil, nil
	}
	s, err := notify.New(notify.Config{URL: cfg.Notify.URL, Secret: cfg.Notify.Secret, Window: cfg.Notify.Window.Duration, Version: version, Log: log},
		store.NewOutbox(r), noticeState{svc: svc, dir: dir}, notify.RecordsGate{R: r})
	if err != nil {
		return nil, err
	}
	go s.Run()
	return s, nil
}

// noticeDelay is chat's NoticeDelay: notify.delay when notices are on.
func noticeDelay(cfg *config.Config) time.Duration {
	if !cfg.Notify.On() {
		return 0
	}
	return cfg.Notify.Delay.Duration
}
