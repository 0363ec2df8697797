package chat

import (
	"context"
	"time"
)

// The hub in cluster mode: waiters and presence bookkeeping stay local, the
// events and their cursors live in the Remote. A poll registers its waiter
// before it reads, so a wake between the read and the park is not lost.

// remoteReadMax bounds the events one poll answer carries.
const remoteReadMax = 256

func (h *Hub) pollRemote(user, cursor string, timeout time.Duration, scoped bool, done <-chan struct{}) PollResult {
	s := h.get(user, true)
	s.mu.Lock()
	s.lastSeen = h.now().UnixNano()
	s.online = true
	s.parked++
	s.mu.Unlock()
	h.parked.Add(1)
	defer func() {
		h.parked.Add(-1)
		s.mu.Lock()
		s.parked--
		s.lastSeen = h.now().UnixNano()
		s.mu.Unlock()
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if cursor == "" {
		c, err := h.remote.Head(ctx, user)
		if err != nil {
			return h.remoteDown(cursor, done)
		}
		return PollResult{Cursor: c}
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		w := &waiter{ch: make(chan struct{}, 1), scoped: scoped}
		s.mu.Lock()
		s.addWaiter(w)
		s.parked-- // counted once for the whole poll, above
		s.mu.Unlock()

		rctx, rcancel := context.WithTimeout(context.Background(), 3*time.Second)
		evs, next, reset, err := h.remote.Read(rctx, user, cursor, remoteReadMax)
		rcancel()
		if err != nil || reset || len(evs) > 0 || timeout <= 0 {
			h.unwait(s, w)
			switch {
			case err != nil:
				return h.remoteDown(cursor, done)
			case reset:
				hctx, hcancel := context.WithTimeout(context.Background(), 3*time.Second)
				head, herr := h.remote.Head(hctx, user)
				hcancel()
				if herr != nil {
					return h.remoteDown(cursor, done)
				}
				return PollResult{Cursor: head, Reset: true}
			default:
				return PollResult{Cursor: next, Events: evs}
			}
		}
		select {
		case <-w.ch:
			s.mu.Lock()
			evicted := w.evicted
			s.mu.Unlock()
			if evicted {
				return PollResult{Cursor: cursor, Evicted: true}
			}
			continue // woken: read again
		case <-t.C:
		case <-done:
		case <-h.closed:
		}
		h.unwait(s, w)
		return PollResult{Cursor: cursor}
	}
}

// remoteDown answers a poll when the broker fails: after a short pause (so
// clients do not spin) with no events and the same cursor; nothing is lost,
// the events wait in the broker.
func (h *Hub) remoteDown(cursor string, done <-chan struct{}) PollResult {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-t.C:
	case <-done:
	case <-h.closed:
	}
	return PollResult{Cursor: cursor}
}

func (h *Hub) unwait(s *stream, w *waiter) {
	s.mu.Lock()
	for i, x := range s.waiters {
		if x == w {
			s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
}

// Wake wakes the polls parked here for user, which then read their stream;
// "" wakes every parked poll (after the broker reconnected). The broker's
// listener calls it.
func (h *Hub) Wake(user string) {
	if user != "" {
		if s := h.get(user, false); s != nil {
			h.wakeStream(s)
		}
		return
	}
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for _, s := range sh.m {
			h.wakeStream(s)
		}
		sh.mu.RUnlock()
	}
}

func (h *Hub) wakeStream(s *stream) {
	s.mu.Lock()
	ws := s.waiters
	s.waiters = nil
	s.mu.Unlock()
	for _, w := range ws {
		w.wake()
	}
}

func (h *Hub) onlineRemote(except string, first []string, limit int) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	out := make([]string, 0, min(limit, 64))
	seen := map[string]bool{except: true}
	if len(first) > 0 {
		on, err := h.remote.Online(ctx, first)
		if err != nil {
			return nil, err
		}
		for i, u := range first {
			if on[i] && !seen[u] && len(out) < limit {
				out = append(out, u)
				seen[u] = true
			}
		}
	}
	all, err := h.remote.OnlineList(ctx, limit+len(out)+1)
	if err != nil {
		return nil, err
	}
	for _, u := range all {
		if !seen[u] && len(out) < limit {
			out = append(out, u)
			seen[u] = true
		}
	}
	return out, nil
}

// reapRemote reports the users active here to the broker, emits the
// presence changes it decides, and drops idle local streams.
func (h *Hub) reapRemote() {
	now, grace, idle := h.now().UnixNano(), int64(h.grace), int64(h.idle)
	var active []string
	h.sweep(now, func(u string, s *stream) bool {
		if s.parked > 0 || now-s.lastSeen <= grace {
			active = append(active, u)
			return false
		}
		return now-s.lastSeen > grace+idle
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	online, offline, err := h.remote.Touch(ctx, active)
	if err != nil {
		return
	}
	for _, u := range online {
		h.notify(u, true)
	}
	for _, u := range offline {
		h.notify(u, false)
	}
}
