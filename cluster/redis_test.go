package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"pollchat/chat"
	"pollchat/internal/testsvc"
)

func TestMain(m *testing.M) { os.Exit(testsvc.Main(m)) }

func open(t *testing.T, maxLen int64) (*Redis, *testsvc.Redis) {
	t.Helper()
	rd := testsvc.StartRedis(t)
	r, err := Open(context.Background(), rd.URL, Options{MaxLen: maxLen, Grace: 300 * time.Millisecond, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, rd
}

func TestStreamCursors(t *testing.T) {
	r, _ := open(t, 8)
	ctx := context.Background()
	head, err := r.Head(ctx, "u")
	if err != nil || head != "r0-0" {
		t.Fatalf("Head(empty) = %q, %v; want r0-0", head, err)
	}
	if evs, next, reset, err := r.Read(ctx, "u", head, 10, nil); err != nil || reset || len(evs) != 0 || next != head {
		t.Fatalf("Read(empty) = %q %q %v %v", evs, next, reset, err)
	}
	for i := 0; i < 3; i++ {
		if n, err := r.Append(ctx, []string{"u", "v"}, "", []byte(fmt.Sprint(i))); err != nil || n != 2 {
			t.Fatal(err)
		}
	}
	evs, next, reset, err := r.Read(ctx, "u", head, 10, nil)
	if err != nil || reset || fmt.Sprint(toStrings(evs)) != "[0 1 2]" {
		t.Fatalf("Read = %q %v %v", evs, reset, err)
	}
	// Reading again from the same cursor repeats; from next, nothing.
	if again, _, _, _ := r.Read(ctx, "u", head, 10, nil); len(again) != 3 {
		t.Fatalf("re-read = %q", again)
	}
	if more, n2, _, _ := r.Read(ctx, "u", next, 10, nil); len(more) != 0 || n2 != next {
		t.Fatalf("read at head = %q %q", more, n2)
	}
	// max bounds an answer; the cursor continues where it stopped.
	part, mid, _, _ := r.Read(ctx, "v", head, 2, nil)
	rest, _, _, _ := r.Read(ctx, "v", mid, 10, nil)
	if fmt.Sprint(toStrings(part), toStrings(rest)) != "[0 1] [2]" {
		t.Fatalf("paged reads = %q %q", part, rest)
	}
	// Overflow MAXLEN: a cursor older than what is kept is reset.
	for i := 0; i < 300; i++ {
		r.Append(ctx, []string{"u"}, "", []byte("x"))
	}
	if _, _, reset, _ := r.Read(ctx, "u", next, 10, nil); !reset {
		t.Fatal("cursor older than the trimmed stream was not reset")
	}
	for _, bad := range []string{"junk", "r", "rabc-1", "r99999999999999-0", "1-1"} {
		if _, next, reset, err := r.Read(ctx, "u", bad, 10, nil); !reset || err != nil || next == "" || next == bad {
			t.Errorf("Read(%q) = next %q, reset %v, %v; want reset to the head", bad, next, reset, err)
		}
	}
	// A cursor into a stream that does not exist (expired) is reset unless
	// it is the empty head.
	if _, _, reset, _ := r.Read(ctx, "nobody", "r1795316137216-0", 10, nil); !reset {
		t.Error("cursor into a missing stream was not reset")
	}
}

func TestWakeAndPresence(t *testing.T) {
	r, _ := open(t, 16)
	ctx := context.Background()
	var mu sync.Mutex
	woken := map[string]int{}
	ready := make(chan struct{}, 1)
	ctls := make(chan chat.Control, 4)
	r.Listen(func(u string) {
		mu.Lock()
		woken[u]++
		mu.Unlock()
		if u == "" {
			select {
			case ready <- struct{}{}:
			default:
			}
		}
	}, func(c chat.Control) { ctls <- c })
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("not subscribed")
	}
	// A process is woken only for users it read (a poll parked here reads
	// first): register a and b by reading them.
	for _, u := range []string{"a", "b"} {
		if _, _, _, err := r.Read(ctx, u, "r0-0", 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	r.Append(ctx, []string{"a", "b"}, "", []byte("x"))
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		done := woken["a"] == 1 && woken["b"] == 1
		mu.Unlock()
		if done {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	if woken["a"] != 1 || woken["b"] != 1 {
		t.Fatalf("woken = %v; want a and b once", woken)
	}
	mu.Unlock()

	// A control message reaches the listener typed; a foreign one that
	// does not decode is dropped, not delivered.
	r.c.Publish(ctx, r.ctlChannel(), "nonsense:1")
	if err := r.Control(ctx, chat.Control{Kind: chat.ControlBlocks, Users: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-ctls:
		if c.Kind != chat.ControlBlocks || fmt.Sprint(c.Users) != "[a]" {
			t.Fatalf("control = %+v; want blocks of a", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("control message not received")
	}

	now := func() []chat.Seen { return []chat.Seen{{User: "a", At: time.Now()}, {User: "b", At: time.Now()}} }
	on, err := r.Touch(ctx, now())
	if err != nil || fmt.Sprint(on) != "[a b]" {
		t.Fatalf("Touch = %v %v", on, err)
	}
	if on, _ := r.Touch(ctx, now()[:1]); len(on) != 0 {
		t.Fatalf("second Touch reported online again: %v", on)
	}
	if off, _ := r.Expire(ctx); len(off) != 0 {
		t.Fatalf("Expire inside the grace = %v", off)
	}
	time.Sleep(400 * time.Millisecond) // past the grace
	// a is still active and refreshed; b went offline and is reported by
	// this call only, not by a second reaper after it.
	r.Touch(ctx, now()[:1])
	off1, _ := r.Expire(ctx)
	off2, _ := r.Expire(ctx)
	if fmt.Sprint(off1, off2) != "[b] []" {
		t.Fatalf("offline reports = %v %v; want b once", off1, off2)
	}
	st, _ := r.Online(ctx, []string{"a", "b"})
	if !st[0] || st[1] {
		t.Fatalf("Online(a, b) = %v", st)
	}
}

func TestRateAndRooms(t *testing.T) {
	r, rd := open(t, 16)
	ctx := context.Background()
	allowed := 0
	for i := 0; i < 10; i++ {
		if wait, err := r.Allow(ctx, "u", 1, 1, 3); err == nil && wait == 0 {
			allowed++
		}
	}
	if allowed != 3 {
		t.Fatalf("burst 3 allowed %d of 10", allowed)
	}
	if added, _ := r.RoomAdd(ctx, "lobby", "u"); !added {
		t.Fatal("RoomAdd")
	}
	if added, _ := r.RoomAdd(ctx, "lobby", "u"); added {
		t.Fatal("RoomAdd twice added twice")
	}
	if m, _ := r.RoomMembers(ctx, "lobby"); fmt.Sprint(m) != "[u]" {
		t.Fatalf("members = %v", m)
	}
	// Redis down: errors wrap ErrUnavailable and Down says so; back: works.
	rd.Kill()
	if _, err := r.Append(ctx, []string{"u"}, "", []byte("x")); !errors.Is(err, chat.ErrEngine) || !r.Down() {
		t.Fatalf("Append with Redis down = %v, Down %v; want chat.ErrEngine", err, r.Down())
	}
	// The shared bucket is down: this process's own answers, and says so.
	if wait, err := r.Allow(ctx, "w", 1, 1, 3); wait != 0 || !errors.Is(err, chat.ErrEngine) {
		t.Fatalf("Allow with Redis down = %v, %v; want allowed locally and the error", wait, err)
	}
	rd.Start()
	var err error
	for i := 0; i < 50; i++ {
		if err = r.Ping(ctx); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || r.Down() {
		t.Fatalf("after restart Ping = %v, Down %v", err, r.Down())
	}
}

func toStrings(b [][]byte) []string {
	out := make([]string, len(b))
	for i := range b {
		out[i] = string(b[i])
	}
	return out
}

// A poll parked on the Redis engine holds no goroutine: the hub keeps a
// waiter, the one subscription wakes it, and its callback reads.
func TestParkedPollHoldsNoGoroutine(t *testing.T) {
	r, _ := open(t, 16)
	h := chat.NewHub(chat.HubConfig{Engine: r})
	defer h.Close()
	const n = 300
	cursors := make([]string, n)
	for i := range cursors {
		c, err := h.Open(fmt.Sprint("p", i))
		if err != nil {
			t.Fatal(err)
		}
		cursors[i] = c
	}
	runtime.GC()
	before := runtime.NumGoroutine()
	got := make(chan chat.PollResult, n)
	for i, c := range cursors {
		if _, parked := h.Park(fmt.Sprint("p", i), c, time.Hour, func(res chat.PollResult) { got <- res }); !parked {
			t.Fatalf("poll %d was not parked", i)
		}
	}
	if g := runtime.NumGoroutine(); g-before > n/10 {
		t.Fatalf("%d parked polls added %d goroutines", n, g-before)
	}
	if _, err := r.Append(context.Background(), []string{"p7"}, "", []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-got:
		if len(res.Events) != 1 || string(res.Events[0]) != `{"n":1}` {
			t.Fatalf("woken poll = %+v; want the event", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("parked poll not woken by an append on Redis")
	}
	if p := h.Parked(); p != n-1 {
		t.Fatalf("Parked() = %d; want %d", p, n-1)
	}
}

// Events appended at once by several processes (several connections) reach
// every recipient they share in the same order: each Append is one step.
func TestAppendSameOrderForEveryRecipient(t *testing.T) {
	a, rd := open(t, 100000)
	var procs []*Redis
	for i := 0; i < 3; i++ {
		r, err := Open(context.Background(), rd.URL, Options{MaxLen: 100000, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		procs = append(procs, r)
	}
	members := make([]string, 200)
	for i := range members {
		members[i] = fmt.Sprint("m", i)
	}
	heads := make([]string, len(members))
	for i, m := range members {
		h, err := a.Head(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		heads[i] = h
	}
	const per = 40
	var wg sync.WaitGroup
	for p, r := range procs {
		wg.Add(1)
		go func(p int, r *Redis) {
			defer wg.Done()
			for n := 0; n < per; n++ {
				if _, err := r.Append(context.Background(), members, "", []byte(fmt.Sprintf("%d:%d", p, n))); err != nil {
					t.Error(err)
					return
				}
			}
		}(p, r)
	}
	wg.Wait()
	var want []string
	for i, m := range members {
		evs, _, reset, err := a.Read(context.Background(), m, heads[i], 1000, nil)
		if err != nil || reset {
			t.Fatalf("Read(%s) = reset %v, %v", m, reset, err)
		}
		got := toStrings(evs)
		if len(got) != len(procs)*per {
			t.Fatalf("%s got %d events; want %d", m, len(got), len(procs)*per)
		}
		if want == nil {
			want = got
			continue
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("%s saw the events in another order than %s:\n%v\n%v", m, members[0], got, want)
		}
	}
}

// TestStreamConversationKeys: an event's conversation key is kept in its
// stream entry, so a scoped read keeps one conversation's events without
// parsing them, and its cursor moves past the others.
func TestStreamConversationKeys(t *testing.T) {
	r, _ := open(t, 16)
	ctx := context.Background()
	head, err := r.Head(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []struct{ key, data string }{{"d:u\x00v", "1"}, {"d:u\x00w", "2"}, {"", "3"}, {"p:v", "4"}, {"d:u\x00v", "5"}} {
		if _, err := r.Append(ctx, []string{"u"}, ev.key, []byte(ev.data)); err != nil {
			t.Fatal(err)
		}
	}
	keep := func(k string) bool { return k == "d:u\x00v" || k == "p:v" }
	evs, next, reset, err := r.Read(ctx, "u", head, 10, keep)
	if err != nil || reset || fmt.Sprintf("%s", evs) != "[1 4 5]" {
		t.Fatalf("scoped Read = %s, %v, %v; want [1 4 5]", evs, reset, err)
	}
	if all, next2, _, _ := r.Read(ctx, "u", head, 10, nil); len(all) != 5 || next2 != next {
		t.Fatalf("unscoped Read = %s (next %s, scoped %s); want all 5 and the same cursor", all, next2, next)
	}
}

// RoomMembersUpTo returns a small room's members and only the size of a
// larger one (member ids that look like numbers stay members).
func TestRoomMembersUpTo(t *testing.T) {
	r, _ := open(t, 16)
	ctx := context.Background()
	if m, n, err := r.RoomMembersUpTo(ctx, "empty", 2); err != nil || len(m) != 0 || n != 0 {
		t.Fatalf("empty room = %v, %d, %v; want none", m, n, err)
	}
	for _, u := range []string{"7", "8"} {
		if _, err := r.RoomAdd(ctx, "r", u); err != nil {
			t.Fatal(err)
		}
	}
	m, n, err := r.RoomMembersUpTo(ctx, "r", 2)
	sort.Strings(m)
	if err != nil || fmt.Sprint(m) != "[7 8]" || n != 2 {
		t.Fatalf("room of 2, limit 2 = %v, %d, %v; want [7 8], 2", m, n, err)
	}
	if m, n, err := r.RoomMembersUpTo(ctx, "r", 1); err != nil || m != nil || n != 2 {
		t.Fatalf("room of 2, limit 1 = %v, %d, %v; want no members, size 2", m, n, err)
	}
}

// Commands and replies longer than a connection's buffer (connBuffer) pass
// whole: an event several times the buffer, appended to enough recipients
// that the command is far longer, read back in one reply of several.
func TestLongerThanTheBuffers(t *testing.T) {
	r, _ := open(t, 64)
	ctx := context.Background()
	users := make([]string, 400)
	for i := range users {
		users[i] = fmt.Sprintf("user-with-a-longish-name-%04d", i)
	}
	head, _ := r.Head(ctx, users[399])
	var want []string
	for i := 0; i < 5; i++ {
		ev := strings.Repeat(fmt.Sprintf("%d<%s>", i, strings.Repeat("é", 7)), 3*connBuffer/16)
		want = append(want, ev)
		if n, err := r.Append(ctx, users, "", []byte(ev)); err != nil || n != len(users) {
			t.Fatalf("Append of %d bytes to %d users = %d, %v", len(ev), len(users), n, err)
		}
	}
	evs, _, reset, err := r.Read(ctx, users[399], head, 10, nil)
	if err != nil || reset {
		t.Fatalf("Read = reset %v, %v", reset, err)
	}
	got := toStrings(evs)
	if len(got) != len(want) {
		t.Fatalf("read %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("event %d: %d bytes back, %d sent, differ", i, len(got[i]), len(want[i]))
		}
	}
}

// A call ends when Redis does not answer, with the caller's deadline or,
// without one, with Timeout (each step of a call is bounded by the
// client's timeouts; ctx adds no context of its own under a deadline).
func TestCallsEndWhenRedisDoesNotAnswer(t *testing.T) {
	r, _ := open(t, 8)
	ctx := context.Background()
	if _, err := r.Head(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	// CLIENT PAUSE WRITE holds every client's scripts (they may write),
	// Head's and Read's among them; the pause outlasts both calls below.
	if err := r.c.Do(ctx, "CLIENT", "PAUSE", 30000, "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		// UNPAUSE writes nothing: it is answered while paused.
		if err := r.c.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
			t.Errorf("unpause: %v", err)
		}
	}()
	if _, err := r.Head(ctx, "u"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Head without a deadline while Redis is paused = %v, want ErrUnavailable", err)
	}
	dl, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, _, _, err := r.Read(dl, "u", "r0-0", 10, nil); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Read under the caller's deadline while Redis is paused = %v, want ErrUnavailable", err)
	}
}

// RoomHasEach says of each room what RoomHas says, in one call: none,
// one and several rooms, members or not, and rooms that do not exist.
func TestRoomHasEach(t *testing.T) {
	r, _ := open(t, 16)
	ctx := context.Background()
	for _, room := range []string{"a", "c"} {
		if _, err := r.RoomAdd(ctx, room, "7"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.RoomAdd(ctx, "b", "8"); err != nil {
		t.Fatal(err)
	}
	for _, rooms := range [][]string{nil, {"a"}, {"b"}, {"a", "b", "c", "nowhere"}} {
		got, err := r.RoomHasEach(ctx, rooms, "7")
		if err != nil || len(got) != len(rooms) {
			t.Fatalf("RoomHasEach(%v) = %v, %v", rooms, got, err)
		}
		for i, room := range rooms {
			if want, _ := r.RoomHas(ctx, room, "7"); got[i] != want {
				t.Fatalf("RoomHasEach(%v)[%d] = %v; RoomHas(%s) = %v", rooms, i, got[i], room, want)
			}
		}
	}
	if got, _ := r.RoomHasEach(ctx, []string{"a", "b", "c", "nowhere"}, "7"); fmt.Sprint(got) != "[true false true false]" {
		t.Fatalf("RoomHasEach = %v; want [true false true false]", got)
	}
}
