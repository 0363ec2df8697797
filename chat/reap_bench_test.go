package chat

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// BenchmarkReap is the reaper's second while 15,000 users sit parked on
// the memory engine (the bench parked scenario, idle): one op is one Reap,
// the clock a second later than the one before.
func BenchmarkReap(b *testing.B) {
	const users = 15000
	now := time.Unix(1_800_000_000, 0)
	var clock sync.Mutex
	h := NewHub(HubConfig{Now: func() time.Time { clock.Lock(); defer clock.Unlock(); return now }})
	defer h.Close()
	for i := range users {
		u := fmt.Sprint("u", i)
		c := open1(h, u)
		if _, parked := h.Park(u, c, time.Hour, func(PollResult) {}); !parked {
			b.Fatalf("%s not parked", u)
		}
	}
	h.Reap()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		clock.Lock()
		now = now.Add(time.Second)
		clock.Unlock()
		h.Reap()
	}
	b.StopTimer()
	if n := h.Parked(); n != users {
		b.Fatalf("parked = %d; want %d", n, users)
	}
}
