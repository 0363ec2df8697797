package chat

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// touchLog is a MemoryEngine that records the users each Touch got.
type touchLog struct {
	*MemoryEngine
	mu    sync.Mutex
	users []string
}

func (e *touchLog) Touch(ctx context.Context, seen []Seen) ([]string, error) {
	e.mu.Lock()
	for _, s := range seen {
		e.users = append(e.users, s.User)
	}
	e.mu.Unlock()
	return e.MemoryEngine.Touch(ctx, seen)
}

// take returns the users touched since the last take.
func (e *touchLog) take() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.users
	e.users = nil
	return u
}

// TestReapTouchesOnlyWhatChanged: a user with a parked poll is touched
// again only when their record is Grace/2 old, yet stays online for as long
// as the poll is parked; when it ends they go offline a grace after its
// end, as when every reap touched them; a reconnect of the engine (wake
// "") makes the next reap touch everyone again.
func TestReapTouchesOnlyWhatChanged(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var clock sync.Mutex
	tick := func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
	advance := func(d time.Duration) { clock.Lock(); now = now.Add(d); clock.Unlock() }
	eng := &touchLog{MemoryEngine: NewMemoryEngine(MemoryConfig{Grace: 40 * time.Second, Idle: time.Minute, Now: tick})}
	var mu sync.Mutex
	var changes []string
	h := NewHub(HubConfig{Engine: eng, Grace: 40 * time.Second, Idle: time.Minute, Now: tick,
		Presence: func(u string, on bool) {
			mu.Lock()
			changes = append(changes, fmt.Sprintf("%s:%v", u, on))
			mu.Unlock()
		}})
	defer h.Close()

	c := open1(h, "p")
	answered := make(chan PollResult, 1)
	if _, parked := h.Park("p", c, time.Hour, func(r PollResult) { answered <- r }); !parked {
		t.Fatal("p not parked")
	}
	if got := eng.take(); fmt.Sprint(got) != "[p]" {
		t.Fatalf("touched on the first poll: %v; want [p]", got)
	}
	// 100 reaps a second apart: p is touched at 20s, 40s, 60s, 80s, 100s
	// (each Grace/2 after the one before), and is online throughout.
	for i := 1; i <= 100; i++ {
		advance(time.Second)
		h.Reap()
		if !h.Online("p") {
			t.Fatalf("p offline %ds into a parked poll", i)
		}
	}
	if got := eng.take(); len(got) != 5 {
		t.Fatalf("touched during 100s parked: %v; want p 5 times", got)
	}

	// The engine reconnected: the next reap touches p whatever its age.
	h.Wake("")
	<-answered
	for h.Parked() != 0 {
		time.Sleep(time.Millisecond) // the worker unparks after answering
	}
	advance(time.Second)
	h.Reap()
	if got := eng.take(); fmt.Sprint(got) != "[p]" {
		t.Fatalf("touched after the poll ended: %v; want [p]", got)
	}
	// The poll ended at end: p is online until end + grace, then offline.
	advance(38 * time.Second) // 39s after the poll ended
	h.Reap()
	if got := eng.take(); len(got) != 0 {
		t.Fatalf("touched with nothing new: %v", got)
	}
	if !h.Online("p") {
		t.Fatal("p offline inside the grace after their poll ended")
	}
	advance(2 * time.Second) // 41s after
	h.Reap()
	if h.Online("p") {
		t.Fatal("p online after the grace")
	}
	mu.Lock()
	defer mu.Unlock()
	if want := "[p:true p:false]"; fmt.Sprint(changes) != want {
		t.Fatalf("presence changes = %v; want %s", changes, want)
	}
}

// TestMemoryExpireWalksOnlyWhenDue: Expire ends exactly the users last
// seen more than the grace ago, also after reaps that skipped the walk.
func TestMemoryExpireWalksOnlyWhenDue(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	e := NewMemoryEngine(MemoryConfig{Grace: 10 * time.Second, Idle: time.Minute, Now: func() time.Time { return now }})
	ctx := context.Background()
	e.Touch(ctx, []Seen{{User: "a", At: now}, {User: "b", At: now.Add(5 * time.Second)}})
	for i := 1; i <= 10; i++ {
		now = now.Add(time.Second)
		if off, _ := e.Expire(ctx); len(off) != 0 {
			t.Fatalf("Expire %ds in = %v; want none", i, off)
		}
	}
	// A user who comes online with an old last-seen time lowers the floor.
	e.Touch(ctx, []Seen{{User: "c", At: now.Add(-10 * time.Second)}})
	now = now.Add(time.Second) // a: 11s, b: 6s, c: 11s
	if off, _ := e.Expire(ctx); len(off) != 2 || off[0] == "b" || off[1] == "b" {
		t.Fatalf("Expire = %v; want a and c", off)
	}
	now = now.Add(4 * time.Second) // b: 10s, still within the grace
	if off, _ := e.Expire(ctx); len(off) != 0 {
		t.Fatalf("Expire = %v; want none", off)
	}
	now = now.Add(time.Second)
	if off, _ := e.Expire(ctx); fmt.Sprint(off) != "[b]" {
		t.Fatalf("Expire = %v; want [b]", off)
	}
}

// TestReapWheelMatchesWalk: users park, end their polls, touch and go
// idle at random moments of a fake clock; before each reap the test walks
// every stream with Reap's rule, as Reap did before the wheel, and the
// wheel's reap must touch exactly those users, put offline and drop
// exactly those streams. The clock moves by less than a reaper tick, by
// ticks, and by long jumps (past the grace, past the idle time).
func TestReapWheelMatchesWalk(t *testing.T) {
	const grace, idle = 8 * time.Second, 30 * time.Second
	now := time.Unix(1_800_000_000, 0)
	var clock sync.Mutex
	tick := func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
	eng := &touchLog{MemoryEngine: NewMemoryEngine(MemoryConfig{Grace: grace, Idle: idle, Now: tick})}
	h := NewHub(HubConfig{Engine: eng, Grace: grace, Idle: idle, Now: tick})
	defer h.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	const users = 60
	ended := make(chan PollResult, users)
	parked := map[string]bool{}
	touches, offline, dropped := 0, 0, 0
	for step := range 3000 {
		u := fmt.Sprint("u", rng.IntN(users))
		switch op := rng.IntN(10); {
		case op < 3 && !parked[u]:
			c, _ := h.engine.Head(context.Background(), u)
			if _, ok := h.Park(u, c, time.Hour, func(r PollResult) { ended <- r }); !ok {
				t.Fatalf("step %d: %s not parked", step, u)
			}
			parked[u] = true
		case op < 5 && parked[u]:
			h.Wake(u) // the poll ends (it reads nothing): unparked before its fn runs
			<-ended
			parked[u] = false
		case op < 6:
			h.Touch(u)
		case op < 7:
			h.Open(u)
		}
		clock.Lock()
		switch r := rng.IntN(40); {
		case r == 0:
			now = now.Add(idle + grace + time.Duration(rng.IntN(5000))*time.Millisecond)
		case r < 3:
			now = now.Add(grace/2 + time.Duration(rng.IntN(3000))*time.Millisecond)
		default:
			now = now.Add(time.Duration(rng.IntN(1500)) * time.Millisecond)
		}
		clock.Unlock()
		if rng.IntN(3) > 0 {
			continue
		}
		// What a walk of every stream would do now.
		nowNano := tick().UnixNano()
		var wantTouch, wantOff, wantDrop []string
		h.each(func(s *stream) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.online && (s.parked > 0 || nowNano-s.lastSeen <= int64(grace)) {
				if (s.parked > 0 && nowNano-s.touched >= int64(grace/2)) || (s.parked == 0 && s.lastSeen > s.touched) {
					wantTouch = append(wantTouch, s.user)
				}
				return
			}
			if s.online {
				wantOff = append(wantOff, s.user)
			}
			if s.parked == 0 && nowNano-s.lastSeen > int64(grace+idle) {
				wantDrop = append(wantDrop, s.user)
			}
		})
		eng.take()
		h.Reap()
		gotTouch := eng.take()
		slices.Sort(wantTouch)
		slices.Sort(gotTouch)
		if !slices.Equal(gotTouch, wantTouch) {
			t.Fatalf("step %d: reap touched %v; a walk would touch %v", step, gotTouch, wantTouch)
		}
		for _, u := range wantOff {
			if s := h.get(u, false); s != nil {
				s.mu.Lock()
				on := s.online
				s.mu.Unlock()
				if on {
					t.Fatalf("step %d: %s still online here after the reap; a walk puts it offline", step, u)
				}
			}
		}
		for _, u := range wantDrop {
			if h.get(u, false) != nil {
				t.Fatalf("step %d: %s's stream kept; a walk drops it", step, u)
			}
		}
		touches += len(gotTouch)
		offline += len(wantOff)
		dropped += len(wantDrop)
	}
	if touches == 0 || offline == 0 || dropped == 0 {
		t.Fatalf("the run never touched (%d), put offline (%d) or dropped (%d): it tests nothing", touches, offline, dropped)
	}
}

// TestParkOnDroppedStream: a poll that looked up its stream just before
// Reap dropped it (its user idle for grace + idle) parks on the stream the
// shard holds afterwards, so a message published next wakes it. Parked on
// the dropped stream, Wake would not find it until its timeout.
func TestParkOnDroppedStream(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var clock sync.Mutex
	tick := func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
	advance := func(d time.Duration) { clock.Lock(); now = now.Add(d); clock.Unlock() }
	// The engine keeps u's events longer than the hub keeps u's stream,
	// as Redis does in cluster mode: the cursor stays valid, so the poll
	// parks instead of answering a reset.
	eng := NewMemoryEngine(MemoryConfig{Grace: 40 * time.Second, Idle: time.Hour, Now: tick})
	h := NewHub(HubConfig{Engine: eng, Grace: 40 * time.Second, Idle: time.Minute, Now: tick})
	defer h.Close()

	c := open1(h, "u")
	stale := h.get("u", true) // the poll's lookup, before the reap
	h.seen("u", stale)
	advance(2 * time.Minute) // past grace + idle, no poll meanwhile
	h.Reap()
	stale.mu.Lock()
	gone := stale.gone
	stale.mu.Unlock()
	if !gone {
		t.Fatal("Reap kept an idle stream; the test needs it dropped")
	}

	answered := make(chan PollResult, 1)
	if _, w := h.parkOn(stale, "u", c, time.Hour, nil, nil, func(r PollResult) { answered <- r }); w == nil {
		t.Fatal("u not parked")
	}
	if !h.Publish("u", "k", ev("1")) {
		t.Fatal("Publish found no stream for u")
	}
	select {
	case r := <-answered:
		if len(r.Events) != 1 {
			t.Fatalf("woken with %d events; want 1", len(r.Events))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a poll parked across Reap's drop was not woken by a message")
	}
}

// TestMemoryRingKeptWhilePresent: a user's ring lives as long as they are
// present, however long ago it was last read (Touch does not move its
// seen time), and is dropped the idle time after their last presence once
// they go offline; a ring whose user never came online is dropped the
// idle time after its last read.
func TestMemoryRingKeptWhilePresent(t *testing.T) {
	const grace, idle = 10 * time.Second, time.Minute
	now := time.Unix(1_800_000_000, 0)
	e := NewMemoryEngine(MemoryConfig{Grace: grace, Idle: idle, Now: func() time.Time { return now }})
	ctx := context.Background()
	e.Head(ctx, "a")
	ringA := e.ring("a", false)
	e.Head(ctx, "b") // never present
	e.Touch(ctx, []Seen{{User: "a", At: now}})
	start := now
	for now.Sub(start) < 3*(grace+idle) {
		now = now.Add(5 * time.Second)
		e.Touch(ctx, []Seen{{User: "a", At: now}})
		if off, _ := e.Expire(ctx); len(off) != 0 {
			t.Fatalf("Expire at +%s = %v; want none (a is touched every 5 s)", now.Sub(start), off)
		}
		if e.ring("a", false) != ringA {
			t.Fatalf("a's ring dropped at +%s while a is present", now.Sub(start))
		}
		if b := e.ring("b", false); (b != nil) != (now.Sub(start) <= grace+idle) {
			t.Fatalf("b's ring at +%s: kept %v; want kept until +%s", now.Sub(start), b != nil, grace+idle)
		}
	}
	last := now
	now = last.Add(grace + time.Second)
	if off, _ := e.Expire(ctx); fmt.Sprint(off) != "[a]" {
		t.Fatalf("Expire a grace after a's last touch = %v; want [a]", off)
	}
	for _, step := range []struct {
		after time.Duration
		kept  bool
	}{{grace + idle - time.Second, true}, {grace + idle + time.Second, false}} {
		now = last.Add(step.after)
		e.Expire(ctx)
		if kept := e.ring("a", false) != nil; kept != step.kept {
			t.Fatalf("a's ring %s after a's last presence: kept %v; want %v", step.after, kept, step.kept)
		}
	}
}
