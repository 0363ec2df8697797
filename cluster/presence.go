package cluster

import (
	"sync"
	"time"
)

// Presence writes, per process.
//
// The hub tells Touch every second who is active here: every user with a
// parked poll, so with 15,000 parked polls 15,000 ZADDs a second, almost
// all of them moving a score that still had most of the grace to run
// (bench parked-cluster: most of Redis's CPU per re-poll, and a 15,000
// command pipeline built and parsed by this process every second). A
// score only has to stay within the grace of now for the user to stay
// online (Online, OnlineList and Expire compare it with now − Grace). So
// Touch remembers the score it last wrote for each user and writes again
// only when the new one is at least Grace/4 later, or when the one
// written is older than Grace/2 (then it may be near expiry, or gone:
// another process's Expire removes it after the grace, and the next write
// must find that out and report the user online again). A score in
// Redis thus lags the truth by less than Grace/4 and is never within
// Grace/2 of expiring while this process sees the user, with a margin of
// Grace/2 for the processes' clocks. Touch's "went online" answer is
// unchanged: a skipped user has a score written less than Grace/2 ago,
// so they are in the set and did not go online.
//
// When the subscription is (re)made the record is dropped with the
// holder registrations (Redis may have restarted empty), so the next
// Touch writes every user again.
type touched struct {
	mu sync.Mutex
	m  map[string]int64 // user → the score (ms) this process last wrote
}

// skip says whether a write of user at ms can be left out; grace is in ms.
// Caller holds t.mu.
func (t *touched) skip(user string, ms, now, grace int64) bool {
	last, ok := t.m[user]
	return ok && ms-last < grace/4 && now-last < grace/2
}

// forget drops every record: the next Touch writes every user.
func (t *touched) forget() {
	t.mu.Lock()
	t.m = make(map[string]int64)
	t.mu.Unlock()
}

// sweep drops the records older than the grace (their users expire or
// are written again anyway).
func (t *touched) sweep(now time.Time, grace time.Duration) {
	cutoff := now.Add(-grace).UnixMilli()
	t.mu.Lock()
	for u, ms := range t.m {
		if ms < cutoff {
			delete(t.m, u)
		}
	}
	t.mu.Unlock()
}
