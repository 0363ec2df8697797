package cluster

import (
	"sync"
	"time"
)

// marks is what this process wrote to Redis for each user it serves: the
// end of its holder registration (wake.go) and the presence score it last
// wrote (presence.go). Both are kept for every parked user, so they share
// one map of two words a user: as two maps (a time.Time and an int64 per
// user, each with its own copy of the key's header and its own table)
// they were 2.3 MB of the live heap at 15,000 parked polls.
type marks struct {
	mu sync.Mutex
	m  map[string]mark
	// gen is bumped by forget, so that a read in flight does not record
	// a registration made before it.
	gen uint64
	// base is the origin of held: a registration's end is measured on
	// this process's monotonic clock, so that a step of the wall clock
	// cannot make one look longer than it is.
	base time.Time
}

type mark struct {
	held    int64 // when the registration ends, ns after base; 0: none
	touched int64 // the presence score last written, ms; 0: none
}

func newMarks() marks { return marks{m: make(map[string]mark), base: time.Now()} }

// forget drops every record: the next read of each user registers again
// and the next Touch writes every user (Redis may have restarted empty).
func (m *marks) forget() {
	m.mu.Lock()
	m.m = make(map[string]mark)
	m.gen++
	m.mu.Unlock()
}

// sweep drops the registrations that ended and the scores older than the
// grace (their users expire or are written again anyway), and the users
// left with neither.
func (m *marks) sweep(now time.Time, grace time.Duration) {
	held := int64(now.Sub(m.base))
	cutoff := now.Add(-grace).UnixMilli()
	m.mu.Lock()
	for u, k := range m.m {
		c := k
		if c.held != 0 && c.held <= held {
			c.held = 0
		}
		if c.touched != 0 && c.touched < cutoff {
			c.touched = 0
		}
		switch {
		case c == mark{}:
			delete(m.m, u)
		case c != k:
			m.m[u] = c
		}
	}
	m.mu.Unlock()
}
