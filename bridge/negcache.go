package bridge

import (
	"sync"
	"time"
)

// negCache remembers ids the source does not know, at most max of them:
// anyone signed in can ask for made-up ids, so the oldest entry is evicted
// when it is full. Each id holds one slot of a ring in insertion order,
// so adding and evicting are O(1) and memory is bounded by max.
type negCache struct {
	mu   sync.Mutex
	max  int
	m    map[string]negEntry
	ring []string
	next int // the slot the next new id takes (and whose id it evicts)
}

type negEntry struct {
	fresh, stale int64 // unix nanos: answered until fresh, served on failure until stale
}

func newNegCache(max int) *negCache {
	return &negCache{max: max, m: make(map[string]negEntry, min(max, 1024)), ring: make([]string, 0, min(max, 1024))}
}

// add records id as unknown, fresh for ttl and kept for staleFor more.
func (c *negCache) add(id string, now time.Time, ttl, staleFor time.Duration) {
	e := negEntry{fresh: now.Add(ttl).UnixNano(), stale: now.Add(ttl + staleFor).UnixNano()}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id]; ok {
		c.m[id] = e
		return
	}
	if len(c.ring) < c.max {
		c.ring = append(c.ring, id)
	} else {
		delete(c.m, c.ring[c.next])
		c.ring[c.next] = id
		c.next = (c.next + 1) % c.max
	}
	c.m[id] = e
}

// get says whether id is known to be unknown: fresh, or (stale true) kept
// for answering while the source fails.
func (c *negCache) get(id string, stale bool) bool {
	now := time.Now().UnixNano()
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if !ok {
		return false
	}
	if stale {
		return now < e.stale
	}
	return now < e.fresh
}

// drop forgets id (its ring slot is reused when it comes round).
func (c *negCache) drop(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}

func (c *negCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// lookupLimiter is a token bucket over Source.Lookup calls: reserve takes
// the next token and says how long to wait for it.
type lookupLimiter struct {
	mu     sync.Mutex
	every  time.Duration // one token per every
	burst  int
	tokens float64
	last   time.Time
	clock  func() time.Time // nil: time.Now (tests freeze it)
}

// refill adds the tokens earned since the last call; l.mu is held.
func (l *lookupLimiter) refill() {
	now := time.Now()
	if l.clock != nil {
		now = l.clock()
	}
	if !l.last.IsZero() {
		l.tokens += float64(now.Sub(l.last)) / float64(l.every)
		if l.tokens > float64(l.burst) {
			l.tokens = float64(l.burst)
		}
	} else {
		l.tokens = float64(l.burst)
	}
	l.last = now
}

// take takes a token only if more than floor tokens stay after it, and
// says whether it did; it never goes into debt (reserve may).
func (l *lookupLimiter) take(floor float64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refill()
	if l.tokens-1 < floor {
		return false
	}
	l.tokens--
	return true
}

func (l *lookupLimiter) reserve() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refill()
	l.tokens--
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens * float64(l.every))
}
