package chat

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// limiter draws every writing or fanning-out call from the caller's token
// bucket (see the Cost constants): rate tokens a second, up to burst.
// Enough for a fast typist, not for a flood. The buckets are the engine's:
// shared by every process in a cluster.
type limiter struct {
	engine Engine
	errs   *engineErrors
	rate   float64
	burst  int
}

// What each kind of call costs, in tokens of the caller's bucket
// (chat.rate tokens a second, chat.burst at most).
const (
	// CostSend is a message, a room command, a chat request, a block, a
	// join or a leave: each writes to the store or fans out to a room.
	CostSend = 1.0
	// CostRead is a read mark: a store write and an event to the peer.
	CostRead = 1.0
	// CostTyping is a typing call; on top of it, one typing event per
	// second per sender and conversation reaches a recipient.
	CostTyping = 0.5
	// CostUnknownID is charged per id a users call asked for that nobody
	// knows (each is a lookup at the host site and a negative cache entry).
	// A caller in debt gets RATE_LIMITED until the bucket refills.
	CostUnknownID = 0.1
)

// allow takes a token for user or answers RATE_LIMITED.
func (l *limiter) allow(user string) error { return l.take(user, CostSend) }

// Take draws cost from c's token bucket (RATE_LIMITED when it is empty):
// for the writing calls the server answers itself, such as /v1/hide, so
// that they share the one bucket every writing call draws from.
func (s *Service) Take(c Caller, cost float64) error { return s.limits.take(c.ID, cost) }

// take takes cost tokens for user or answers RATE_LIMITED.
func (l *limiter) take(user string, cost float64) error {
	if l.rate <= 0 {
		return nil
	}
	ctx, cancel := engineCtx()
	defer cancel()
	wait, err := l.engine.Allow(ctx, user, cost, l.rate, l.burst)
	l.errs.count(err) // answered from this process's bucket meanwhile
	if wait <= 0 {
		return nil
	}
	secs := max(int(wait.Seconds()+0.999), 1)
	return &Error{Code: CodeRateLimited, RetryAfter: secs, Message: "too many requests; wait " + humanSeconds(secs)}
}

// charge takes cost tokens from user after the fact (see Engine.Charge).
func (l *limiter) charge(user string, cost float64) {
	if l.rate <= 0 || cost <= 0 {
		return
	}
	l.engine.Charge(user, cost, l.rate, l.burst)
}

// Buckets are token buckets, one per user, in this process: the memory
// engine's rate limits, and the Redis engine's for what it keeps local.
// The zero value is ready to use.
type Buckets struct {
	init   sync.Once
	seed   maphash.Seed
	shards [16]limitShard
	full   atomic.Int64 // the longest refill from -burst seen, in ns
}

type limitShard struct {
	mu sync.Mutex
	m  map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// get returns user's bucket refilled to now, its shard locked.
func (b *Buckets) get(user string, rate, burst float64, now time.Time) (*bucket, *limitShard) {
	b.init.Do(func() {
		b.seed = maphash.MakeSeed()
		for i := range b.shards {
			b.shards[i].m = make(map[string]*bucket)
		}
	})
	if full := int64(2 * burst / rate * float64(time.Second)); full > b.full.Load() {
		b.full.Store(full)
	}
	sh := &b.shards[maphash.String(b.seed, user)%uint64(len(b.shards))]
	sh.mu.Lock()
	k := sh.m[user]
	if k == nil {
		k = &bucket{tokens: burst, last: now}
		sh.m[user] = k
	}
	if el := now.Sub(k.last).Seconds(); el > 0 {
		k.tokens = min(burst, k.tokens+el*rate)
		k.last = now
	}
	return k, sh
}

// Take takes cost tokens from user's bucket and returns 0, or how long
// until there are enough.
func (b *Buckets) Take(user string, cost, rate, burst float64, now time.Time) time.Duration {
	if rate <= 0 {
		return 0
	}
	k, sh := b.get(user, rate, burst, now)
	defer sh.mu.Unlock()
	if k.tokens < cost {
		return time.Duration((cost - k.tokens) / rate * float64(time.Second))
	}
	k.tokens -= cost
	return 0
}

// Charge takes cost tokens after the fact, into debt down to -burst.
func (b *Buckets) Charge(user string, cost, rate, burst float64, now time.Time) {
	if rate <= 0 || cost <= 0 {
		return
	}
	k, sh := b.get(user, rate, burst, now)
	k.tokens = max(k.tokens-cost, -burst)
	sh.mu.Unlock()
}

// Sweep forgets buckets that have refilled.
func (b *Buckets) Sweep(now time.Time) {
	full := time.Duration(b.full.Load())
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		for u, k := range sh.m {
			if now.Sub(k.last) > full {
				delete(sh.m, u)
			}
		}
		sh.mu.Unlock()
	}
}

// size is how many buckets there are (for tests).
func (b *Buckets) size() int {
	n := 0
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}
