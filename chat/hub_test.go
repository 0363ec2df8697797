package chat

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// open1 is Hub.Open for tests of the memory engine, which does not fail.
func open1(h *Hub, user string) string {
	c, _ := h.Open(user)
	return c
}

// epoch is the epoch part of a memory engine's cursor.
func epoch(cursor string) string { return cursor[:strings.LastIndexByte(cursor, '-')] }

func ev(s string) []byte { return []byte(`{"type":"t","n":"` + s + `"}`) }

func TestHubCursorSemantics(t *testing.T) {
	h := NewHub(HubConfig{Buffer: 8})
	c0 := open1(h, "u")
	// Nothing new: a zero timeout answers at once with the same cursor.
	if r := h.Poll("u", c0, 0, nil); len(r.Events) != 0 || r.Cursor != c0 || r.Reset {
		t.Fatalf("Poll(empty) = %+v; want no events, cursor %s", r, c0)
	}
	for i := 0; i < 3; i++ {
		h.Publish("u", "", ev(fmt.Sprint(i)))
	}
	r := h.Poll("u", c0, time.Second, nil)
	if len(r.Events) != 3 || string(r.Events[0]) != string(ev("0")) || string(r.Events[2]) != string(ev("2")) {
		t.Fatalf("Poll after 3 = %q", r.Events)
	}
	// The same cursor again sees the same events (a retried poll loses nothing).
	if again := h.Poll("u", c0, 0, nil); len(again.Events) != 3 || again.Cursor != r.Cursor {
		t.Fatalf("retried poll = %+v", again)
	}
	// The new cursor sees nothing.
	if n := h.Poll("u", r.Cursor, 0, nil); len(n.Events) != 0 {
		t.Fatalf("poll at head = %q", n.Events)
	}
	// Overflow the ring: the old cursor is reset, the head one still works.
	head := r.Cursor
	for i := 0; i < 8; i++ {
		h.Publish("u", "", ev(fmt.Sprint(i)))
	}
	if r := h.Poll("u", head, 0, nil); r.Reset || len(r.Events) != 8 {
		t.Fatalf("poll of exactly a full ring = reset %v, %d events; want 8", r.Reset, len(r.Events))
	}
	h.Publish("u", "", ev("x"))
	if r := h.Poll("u", head, 0, nil); !r.Reset {
		t.Fatalf("cursor older than the ring = %+v; want reset", r)
	}
	for _, bad := range []string{"junk", "other-5", epoch(c0) + "-abc", epoch(c0) + "-99999999999999999"} {
		if r := h.Poll("u", bad, 0, nil); !r.Reset {
			t.Errorf("Poll(%q) = %+v; want reset", bad, r)
		}
	}
	// Another hub (a restart) does not accept this hub's cursors.
	h2 := NewHub(HubConfig{})
	open1(h2, "u")
	if r := h2.Poll("u", head, 0, nil); !r.Reset {
		t.Fatalf("cursor of another epoch = %+v; want reset", r)
	}
}

func TestHubParkWakeTimeoutClose(t *testing.T) {
	h := NewHub(HubConfig{})
	c := open1(h, "u")
	got := make(chan PollResult)
	go func() { got <- h.Poll("u", c, 10*time.Second, nil) }()
	waitFor(t, func() bool { return h.Parked() == 1 })
	h.Publish("u", "", ev("a"))
	if r := <-got; len(r.Events) != 1 {
		t.Fatalf("woken poll = %+v", r)
	}
	if h.Parked() != 0 {
		t.Fatalf("Parked() = %d after wake", h.Parked())
	}
	// done closes: answered with nothing.
	c = open1(h, "u")
	done := make(chan struct{})
	go func() { got <- h.Poll("u", c, 10*time.Second, done) }()
	waitFor(t, func() bool { return h.Parked() == 1 })
	close(done)
	if r := <-got; len(r.Events) != 0 || r.Cursor != c {
		t.Fatalf("poll ended by done = %+v", r)
	}
	// Close answers parked polls and later ones at once.
	go func() { got <- h.Poll("u", c, 10*time.Second, nil) }()
	waitFor(t, func() bool { return h.Parked() == 1 })
	h.Close()
	h.Close() // idempotent
	<-got
	if r := h.Poll("u", c, 10*time.Second, nil); len(r.Events) != 0 {
		t.Fatalf("poll after close = %+v", r)
	}
}

func TestHubParkedCapReplacesOldest(t *testing.T) {
	h := NewHub(HubConfig{})
	c := open1(h, "u")
	results := make(chan int, MaxParkedPerUser+1)
	for i := 0; i < MaxParkedPerUser; i++ {
		go func(i int) { h.Poll("u", c, 20*time.Second, nil); results <- i }(i)
		waitFor(t, func() bool { return h.Parked() == int64(i+1) })
	}
	go func() { h.Poll("u", c, 20*time.Second, nil); results <- MaxParkedPerUser }()
	// The oldest (0) is answered to make room; the count stays at the cap.
	if first := <-results; first != 0 {
		t.Fatalf("poll %d answered first; want the oldest (0)", first)
	}
	waitFor(t, func() bool { return h.Parked() == MaxParkedPerUser })
	h.Close()
}

func TestHubPresence(t *testing.T) {
	var mu sync.Mutex
	var changes []string
	now := time.Unix(1_800_000_000, 0)
	var clock sync.Mutex
	h := NewHub(HubConfig{Grace: 40 * time.Second, Idle: time.Minute,
		Now: func() time.Time { clock.Lock(); defer clock.Unlock(); return now },
		Presence: func(u string, on bool) {
			mu.Lock()
			changes = append(changes, fmt.Sprintf("%s:%v", u, on))
			mu.Unlock()
		}})
	advance := func(d time.Duration) { clock.Lock(); now = now.Add(d); clock.Unlock() }
	c := open1(h, "u")
	if h.Online("u") {
		t.Fatal("online before any poll")
	}
	h.Poll("u", c, 0, nil)
	if !h.Online("u") {
		t.Fatal("not online after a poll")
	}
	advance(39 * time.Second)
	h.Reap()
	if !h.Online("u") {
		t.Fatal("offline inside the grace period")
	}
	advance(2 * time.Second)
	h.Reap()
	if h.Online("u") {
		t.Fatal("still online after the grace period")
	}
	advance(2 * time.Minute)
	h.Reap()
	if h.Streams() != 0 {
		t.Fatalf("idle stream kept: %d streams", h.Streams())
	}
	// Its cursor is now unknown: reset, never a silent gap.
	if r := h.Poll("u", c, 0, nil); !r.Reset {
		t.Fatalf("cursor of a dropped stream = %+v; want reset", r)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"u:true", "u:false", "u:true"}
	if fmt.Sprint(changes) != fmt.Sprint(want) {
		t.Fatalf("presence changes = %v; want %v", changes, want)
	}
}

func TestHubConcurrentPublishersExactlyOnce(t *testing.T) {
	h := NewHub(HubConfig{Buffer: 4096})
	c := open1(h, "u")
	const writers, per = 4, 500
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				h.Publish("u", "", []byte(fmt.Sprintf("%d:%d", w, i)))
			}
		}(w)
	}
	next := make([]int, writers)
	total := 0
	deadline := time.Now().Add(20 * time.Second)
	for total < writers*per && time.Now().Before(deadline) {
		r := h.Poll("u", c, time.Second, nil)
		if r.Reset {
			t.Fatal("reset")
		}
		c = r.Cursor
		for _, e := range r.Events {
			var w, i int
			fmt.Sscanf(string(e), "%d:%d", &w, &i)
			if i != next[w] {
				t.Fatalf("writer %d: got %d, want %d", w, i, next[w])
			}
			next[w]++
			total++
		}
	}
	wg.Wait()
	if total != writers*per {
		t.Fatalf("saw %d events; want %d", total, writers*per)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("condition not reached")
}

// BenchmarkParkedPollMemory parks b.N polls on b.N users and reports the
// memory each costs (heap + goroutine stack as the runtime counts them).
func BenchmarkParkedPollMemory(b *testing.B) {
	n := max(b.N, 1000)
	h := NewHub(HubConfig{})
	users := make([]string, n)
	cursors := make([]string, n)
	for i := range users {
		users[i] = fmt.Sprintf("user-%d", i)
		cursors[i] = open1(h, users[i])
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	wg.Add(n)
	b.ResetTimer()
	for i := 0; i < n; i++ {
		go func(i int) {
			defer wg.Done()
			h.Poll(users[i], cursors[i], time.Hour, nil)
		}(i)
	}
	for h.Parked() < int64(n) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	used := float64((after.HeapInuse+after.StackInuse)-(before.HeapInuse+before.StackInuse)) / float64(n)
	b.ReportMetric(used, "bytes/parked")
	h.Close()
	wg.Wait()
}

// BenchmarkPublishWake measures one publish that wakes one parked poll.
func BenchmarkPublishWake(b *testing.B) {
	h := NewHub(HubConfig{Buffer: 256})
	c := open1(h, "u")
	data := ev("x")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		done := make(chan struct{})
		go func() {
			r := h.Poll("u", c, time.Minute, nil)
			c = r.Cursor
			close(done)
		}()
		for h.Parked() == 0 {
			runtime.Gosched()
		}
		h.Publish("u", "", data)
		<-done
	}
}

// BenchmarkFanout publishes one event to 2,000 streams.
func BenchmarkFanout(b *testing.B) {
	h := NewHub(HubConfig{Buffer: 64})
	users := make([]string, 2000)
	for i := range users {
		users[i] = fmt.Sprint(i)
		open1(h, users[i])
	}
	data := ev("x")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.PublishMany(users, "", data)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(users)), "ns/delivery")
}

func TestHubParkCallback(t *testing.T) {
	h := NewHub(HubConfig{Buffer: 16})
	c := open1(h, "u")
	// Behind the head: answered at once, not parked.
	h.Publish("u", "", ev("a"))
	res, parked := h.Park("u", c, time.Second, func(PollResult) { t.Fatal("fn ran for an answered poll") })
	if parked || len(res.Events) != 1 {
		t.Fatalf("Park behind head = %+v, parked %v", res, parked)
	}
	c = res.Cursor
	// Unknown cursor: reset at once.
	if res, parked := h.Park("u", "junk", time.Second, nil); parked || !res.Reset {
		t.Fatalf("Park(junk) = %+v, %v", res, parked)
	}
	// At the head: parked, woken by a publish, fn runs once.
	got := make(chan PollResult, 2)
	if _, parked := h.Park("u", c, 10*time.Second, func(r PollResult) { got <- r }); !parked {
		t.Fatal("Park at head did not park")
	}
	if h.Parked() != 1 {
		t.Fatalf("Parked() = %d", h.Parked())
	}
	h.Publish("u", "", ev("b"))
	h.Publish("u", "", ev("c"))
	r := <-got
	if len(r.Events) < 1 || string(r.Events[0]) != string(ev("b")) {
		t.Fatalf("woken park = %q", r.Events)
	}
	select {
	case extra := <-got:
		t.Fatalf("fn ran twice: %+v", extra)
	case <-time.After(50 * time.Millisecond):
	}
	waitFor(t, func() bool { return h.Parked() == 0 })
	// Timeout: no events, same cursor.
	c2 := open1(h, "u")
	h.Park("u", c2, 30*time.Millisecond, func(r PollResult) { got <- r })
	if r := <-got; len(r.Events) != 0 || r.Cursor != c2 {
		t.Fatalf("timed-out park = %+v; want no events, cursor %s", r, c2)
	}
	// Close answers parked callbacks.
	h.Park("u", c2, time.Hour, func(r PollResult) { got <- r })
	h.Close()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not answer a parked callback")
	}
	if res, parked := h.Park("u", c2, time.Hour, nil); parked || res.Cursor != c2 {
		t.Fatalf("Park after Close = %+v, %v", res, parked)
	}
}

// Publishes racing with short timers: every parked callback runs exactly
// once, and a client that always re-parks with its cursor sees every
// event once, in order.
func TestHubParkExactlyOnce(t *testing.T) {
	h := NewHub(HubConfig{Buffer: 4096})
	const n = 2000
	c := open1(h, "u")
	done := make(chan struct{})
	var seen []string
	var step func(cursor string)
	calls := 0
	var mu sync.Mutex
	step = func(cursor string) {
		for {
			res, parked := h.Park("u", cursor, time.Millisecond, func(r PollResult) {
				mu.Lock()
				calls++
				mu.Unlock()
				take(r, &seen, done, n, step)
			})
			if parked {
				return
			}
			if !take(res, &seen, done, n, nil) {
				return
			}
			cursor = res.Cursor
		}
	}
	go step(c)
	for i := 0; i < n; i++ {
		h.Publish("u", "", []byte(fmt.Sprint(i)))
		if i%100 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("saw %d of %d events", len(seen), n)
	}
	for i, e := range seen {
		if e != fmt.Sprint(i) {
			t.Fatalf("event %d = %s", i, e)
		}
	}
	h.Close()
}

// take records a result's events; it re-parks through next (when set) and
// reports whether the caller should continue.
func take(r PollResult, seen *[]string, done chan struct{}, n int, next func(string)) bool {
	if r.Reset {
		panic("reset")
	}
	for _, e := range r.Events {
		*seen = append(*seen, string(e))
	}
	if len(*seen) >= n {
		close(done)
		return false
	}
	if next != nil {
		go next(r.Cursor)
		return false
	}
	return true
}

func TestHubParkCap(t *testing.T) {
	h := NewHub(HubConfig{})
	c := open1(h, "u")
	got := make(chan int, MaxParkedPerUser+1)
	for i := 0; i <= MaxParkedPerUser; i++ {
		i := i
		if _, parked := h.Park("u", c, time.Hour, func(PollResult) { got <- i }); !parked {
			t.Fatal("not parked")
		}
	}
	if first := <-got; first != 0 {
		t.Fatalf("park %d answered first; want the oldest (0)", first)
	}
	if p := h.Parked(); p != MaxParkedPerUser {
		t.Fatalf("Parked() = %d; want %d", p, MaxParkedPerUser)
	}
	h.Close()
}

// BenchmarkParkMemory is BenchmarkParkedPollMemory for Park: no goroutine
// per parked poll.
func BenchmarkParkMemory(b *testing.B) {
	n := max(b.N, 1000)
	h := NewHub(HubConfig{})
	users := make([]string, n)
	cursors := make([]string, n)
	for i := range users {
		users[i] = fmt.Sprintf("user-%d", i)
		cursors[i] = open1(h, users[i])
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < n; i++ {
		h.Park(users[i], cursors[i], time.Hour, func(PollResult) {})
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	used := float64((after.HeapInuse+after.StackInuse)-(before.HeapInuse+before.StackInuse)) / float64(n)
	b.ReportMetric(used, "bytes/parked")
	h.Close()
}

// TestOnlineUsers: up to limit online users other than except, those of
// first that are online first, each once; never nil (hello's "online" is
// a list, [] when nobody else is online).
func TestOnlineUsers(t *testing.T) {
	h := NewHub(HubConfig{})
	defer h.Close()
	if got := h.OnlineUsers("a", nil, 200); got == nil || len(got) != 0 {
		t.Fatalf("nobody online: %#v; want an empty list", got)
	}
	h.Touch("a")
	if got := h.OnlineUsers("a", []string{"b"}, 200); got == nil || len(got) != 0 {
		t.Fatalf("only the caller online: %#v; want an empty list", got)
	}
	for _, u := range []string{"b", "c", "d", "e"} {
		h.Touch(u)
	}
	check := func(got []string, limit int, first ...string) {
		t.Helper()
		seen := map[string]bool{}
		for _, u := range got {
			if u == "a" || seen[u] || !strings.Contains("bcde", u) {
				t.Fatalf("%v: %q is the caller, twice or not online", got, u)
			}
			seen[u] = true
		}
		if len(got) != min(limit, 4) {
			t.Fatalf("%v: %d users; want %d", got, len(got), min(limit, 4))
		}
		for i, u := range first {
			if i >= len(got) || got[i] != u {
				t.Fatalf("%v; want %v first", got, first)
			}
		}
	}
	check(h.OnlineUsers("a", nil, 200), 200)
	check(h.OnlineUsers("a", nil, 2), 2)
	check(h.OnlineUsers("a", []string{"d", "x", "a", "d"}, 200), 200, "d")
	check(h.OnlineUsers("a", []string{"e", "c"}, 2), 2, "e", "c")
	check(h.OnlineUsers("a", []string{"e", "c"}, 3), 3, "e", "c")
	if got := h.OnlineUsers("a", nil, 0); got == nil || len(got) != 0 {
		t.Fatalf("limit 0: %#v; want an empty list", got)
	}
}
