package server

import (
	"sync"
	"time"

	"github.com/valyala/fasthttp"

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

// uploadBodyBudget is what the upload bodies being received may hold in
// memory together: fasthttp reads a whole body (and pre-parses its form)
// before any handler runs, so without this bound anybody, signed in or
// not, could open many connections that each announce files.max_size and
// hold that much memory until the read timeout.
const uploadBodyBudget = 64 << 20

// uploadGate bounds the upload bodies being read at once. A request takes
// a place when its header arrives (Server.headerReceived) and gives it
// back when its handler or the error handler runs; a place whose request
// never reached either expires at its read deadline. A request without a
// place keeps the 64 KiB body limit, so its body is refused before it is
// read.
//
// Places are few (the budget over files.max_size: 12 at 5 MiB) and a
// place is held while its body arrives, up to the read timeout (5 min),
// however slowly the body comes. So nobody may hold many of them:
//   - a request whose query string carries a valid identity holds one of
//     its user's uploadPlacesPerUser places: a user jams at most that many,
//     and only in their own name;
//   - every request without one (its identity, if any, in the form, which
//     is not read yet) shares uploadPlacesAnon places, so a client that
//     is nobody cannot take the others' places by opening connections.
//
// The widget puts the identity in the query string.
type uploadGate struct {
	max  int
	ttl  time.Duration
	mu   sync.Mutex
	held map[*fasthttp.RequestHeader]uploadPlace // per request (its header's address is the request's for its whole life)
}

// uploadPlace is a request's place: until when, and for whom ("" for a
// request whose identity was not in its query string).
type uploadPlace struct {
	until time.Time
	user  string
}

const (
	// uploadPlacesPerUser is how many upload bodies one user may be
	// sending at once: one, and one more begun while an aborted one's
	// place is not given back yet.
	uploadPlacesPerUser = 2
	// uploadPlacesAnon is how many upload bodies may arrive at once
	// without an identity in the query string.
	uploadPlacesAnon = 1
)

func newUploadGate(maxSize int64, ttl time.Duration) *uploadGate {
	n := int(uploadBodyBudget / (maxSize + uploadSlack))
	return &uploadGate{max: max(2, n), ttl: ttl, held: map[*fasthttp.RequestHeader]uploadPlace{}}
}

// take gives h a place for user ("" for nobody known yet) until now+ttl,
// or says there is none: every place is held, or as many as user (or
// nobody) may hold.
func (g *uploadGate) take(h *fasthttp.RequestHeader, user string, now time.Time) bool {
	if g == nil {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.held[h]; !ok {
		limit := uploadPlacesPerUser
		if user == "" {
			limit = uploadPlacesAnon
		}
		mine := 0
		for k, p := range g.held {
			if now.After(p.until) {
				delete(g.held, k)
			} else if p.user == user {
				mine++
			}
		}
		if len(g.held) >= g.max || mine >= limit {
			return false
		}
	}
	g.held[h] = uploadPlace{until: now.Add(g.ttl), user: user}
	return true
}

// release gives h's place back; it says whether h had one.
func (g *uploadGate) release(h *fasthttp.RequestHeader) bool {
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.held[h]
	delete(g.held, h)
	return ok
}

// errUploadsArriving answers an upload whose body could not be received
// because uploadBodyBudget was in use by others.
var errUploadsArriving = &chat.Error{Code: chat.CodeUnavailable, RetryAfter: 5,
	Message: "the server is receiving too many uploads; try again shortly"}
