package server

import (
	"sync"
	"time"

	"pollchat/chat"
)

// Bounds on uploads that hold before a file is processed (issue 17: uploads
// draw on the rate limit). chat's per-user limiter is charged only by the
// send after processing, and the server cannot reach it without changing
// chat; so uploads have a bucket of their own.
const (
	// uploadEvery and uploadBurst: a user starts one upload per 2 s, up to
	// 5 in a row.
	uploadEvery = 2 * time.Second
	uploadBurst = 5
	// uploadReads is how many upload bodies are parsed at once; one more
	// is answered UNAVAILABLE with a retry_after instead of queueing.
	uploadReads = 8
	// uploadUsers is how many users' buckets are kept before full buckets
	// are dropped (a full bucket is the same as none).
	uploadUsers = 10000
)

// uploadLimiter is a token bucket per user: one token every every, at
// most burst; an upload takes one.
type uploadLimiter struct {
	every time.Duration
	burst float64
	mu    sync.Mutex
	users map[string]*uploadBucket
}

type uploadBucket struct {
	tokens float64
	at     time.Time
}

func newUploadLimiter(every time.Duration, burst int) *uploadLimiter {
	return &uploadLimiter{every: every, burst: float64(burst), users: map[string]*uploadBucket{}}
}

// allow takes a token for user at now; when none is left it says in how
// many seconds one will be.
func (l *uploadLimiter) allow(user string, now time.Time) (ok bool, retryAfter int) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.users[user]
	if b == nil {
		if len(l.users) >= uploadUsers {
			l.prune(now)
		}
		b = &uploadBucket{tokens: l.burst, at: now}
		l.users[user] = b
	}
	l.fill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) * float64(l.every))
	return false, int((wait + time.Second - 1) / time.Second)
}

func (l *uploadLimiter) fill(b *uploadBucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.burst, b.tokens+float64(d)/float64(l.every))
		b.at = now
	}
}

// prune drops the buckets that are full again.
func (l *uploadLimiter) prune(now time.Time) {
	for u, b := range l.users {
		if l.fill(b, now); b.tokens >= l.burst {
			delete(l.users, u)
		}
	}
}

func errUploadRate(secs int) *chat.Error {
	return &chat.Error{Code: chat.CodeRateLimited, RetryAfter: max(1, secs),
		Message: "too many uploads; wait " + itoa(int64(max(1, secs))) + " s"}
}

// errUploadBusy answers an upload when uploadReads bodies are being read.
var errUploadBusy = &chat.Error{Code: chat.CodeUnavailable, RetryAfter: 2,
	Message: "the server is receiving too many uploads; try again shortly"}

// tryRead takes one of the body-read slots without waiting; release gives
// it back.
func (f *fileSvc) tryRead() (release func(), ok bool) {
	select {
	case f.reads <- struct{}{}:
		return func() { <-f.reads }, true
	default:
		return nil, false
	}
}
