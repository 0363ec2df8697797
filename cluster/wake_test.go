package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"pollchat/chat"
	"pollchat/internal/testsvc"
)

// recorder is a Listen wake callback that keeps what it got, in order.
type recorder struct {
	mu    sync.Mutex
	got   []string
	ready chan struct{} // gets a value at each "" (a (re)subscribe)
	ch    chan string
}

func listen(r *Redis) *recorder {
	rc := &recorder{ready: make(chan struct{}, 4), ch: make(chan string, 1024)}
	r.Listen(func(u string) {
		if u == "" {
			select {
			case rc.ready <- struct{}{}:
			default:
			}
			return
		}
		rc.mu.Lock()
		rc.got = append(rc.got, u)
		rc.mu.Unlock()
		rc.ch <- u
	}, func(chat.Control) {})
	select {
	case <-rc.ready:
	case <-time.After(10 * time.Second):
		panic("not subscribed")
	}
	return rc
}

// until waits for the wake of user (a sentinel) and returns every wake
// received up to and including it: a process's wakes arrive in order on
// its channel, so anything published to it before the sentinel is there.
func (rc *recorder) until(t *testing.T, user string) []string {
	t.Helper()
	for {
		select {
		case u := <-rc.ch:
			if u == user {
				rc.mu.Lock()
				defer rc.mu.Unlock()
				out := append([]string(nil), rc.got...)
				rc.got = nil
				for len(rc.ch) > 0 {
					<-rc.ch
				}
				return out
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("wake of %s not received", user)
		}
	}
}

func openOn(t *testing.T, rd *testsvc.Redis, o Options) *Redis {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	r, err := Open(context.Background(), rd.URL, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func read(t *testing.T, r *Redis, user string) {
	t.Helper()
	if _, _, _, err := r.Read(context.Background(), user, "r0-0", 1, nil); err != nil {
		t.Fatal(err)
	}
}

// An append wakes only the processes that hold the users, each once with
// all of its users; a process that holds none hears nothing.
func TestWakeGoesOnlyToHolders(t *testing.T) {
	a, rd := open(t, 16)
	b := openOn(t, rd, Options{})
	c := openOn(t, rd, Options{})
	ra, rb, rc := listen(a), listen(b), listen(c)
	read(t, a, "u1")
	read(t, a, "u2")
	read(t, b, "u2")
	read(t, b, "u3")
	// c appends to u1..u4: a holds u1 u2, b holds u2 u3, nobody holds u4.
	if n, err := c.Append(context.Background(), []string{"u1", "u2", "u3", "u4"}, "", []byte("x")); err != nil || n != 4 {
		t.Fatalf("Append = %d, %v", n, err)
	}
	// Sentinels: each process reads a user of its own and gets it appended.
	for _, p := range []struct {
		r    *Redis
		user string
	}{{a, "sa"}, {b, "sb"}, {c, "sc"}} {
		read(t, p.r, p.user)
		if _, err := c.Append(context.Background(), []string{p.user}, "", []byte("s")); err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range []struct {
		rc   *recorder
		sent string
		want string
	}{{ra, "sa", "[u1 u2 sa]"}, {rb, "sb", "[u2 u3 sb]"}, {rc, "sc", "[sc]"}} {
		if got := x.rc.until(t, x.sent); fmt.Sprint(got) != x.want {
			t.Errorf("wakes before %s = %v; want %v", x.sent, got, x.want)
		}
	}
	// One message per process per append, carrying all its users.
	if got := publishes(t, rd, a, []string{"u1", "u2"}); got != "u1,u2" {
		t.Errorf("a's wake message = %q; want one with u1,u2", got)
	}
}

// publishes subscribes to r's channel directly, appends to users through
// a fresh connection and returns the one message r's channel got.
func publishes(t *testing.T, rd *testsvc.Redis, r *Redis, users []string) string {
	t.Helper()
	ctx := context.Background()
	ps := r.c.Subscribe(ctx, r.wakeChannel())
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // the confirmation
		t.Fatal(err)
	}
	if _, err := r.Append(ctx, users, "", []byte("y")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Append(ctx, []string{"end"}, "", []byte("y")); err != nil {
		t.Fatal(err)
	}
	read(t, r, "end")
	if _, err := r.Append(ctx, []string{"end"}, "", []byte("y")); err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for {
		m, err := ps.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Payload == "end" {
			break
		}
		msgs = append(msgs, m.Payload)
	}
	if len(msgs) != 1 {
		t.Fatalf("messages on %s = %q; want one", r.wakeChannel(), msgs)
	}
	return msgs[0]
}

// No wake is lost to the race between a poll's first read on process A
// (which registers A as holder) and an append through process B at the
// same moment: every poll gets its event, whether the append ran before
// its read (answered at once) or after it (parked, then woken).
func TestNoWakeLostWhenRegistrationRacesAppend(t *testing.T) {
	a, rd := open(t, 16)
	b := openOn(t, rd, Options{})
	h := chat.NewHub(chat.HubConfig{Engine: a})
	defer h.Close()
	const n = 400
	var mu sync.Mutex
	outcome := map[string]int{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < n; i++ {
		i, user := i, fmt.Sprint("race", i)
		cur, err := h.Open(user) // Head: registers nothing
		if err != nil {
			t.Fatal(err)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			start := make(chan struct{})
			appended := make(chan error, 1)
			go func() {
				<-start
				// Spread the append around the read: from at once to
				// about a read's round trip later.
				time.Sleep(time.Duration(i%16) * 40 * time.Microsecond)
				_, err := b.Append(context.Background(), []string{user}, "", []byte(`"e"`))
				appended <- err
			}()
			got := make(chan chat.PollResult, 1)
			close(start)
			res, parked := h.Park(user, cur, time.Hour, func(r chat.PollResult) { got <- r })
			how := "answered at once"
			if parked {
				how = "parked, then woken"
				select {
				case res = <-got:
				case <-time.After(20 * time.Second):
					t.Errorf("%s: parked poll never woken: a wake was lost", user)
					return
				}
			}
			if err := <-appended; err != nil {
				t.Error(err)
				return
			}
			if len(res.Events) != 1 || string(res.Events[0]) != `"e"` {
				t.Errorf("%s: poll (%s) = %+v; want the event", user, how, res)
				return
			}
			mu.Lock()
			outcome[how]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("outcomes of %d races: %v", n, outcome)
	if got := a.marks.holdCount(); got != n {
		t.Errorf("a holds registrations for %d users; want %d", got, n)
	}
}

// When Redis restarts it loses the registrations; the process forgets
// its own on resubscribing, so the next read registers again and later
// appends still wake it.
func TestRegistrationSurvivesRedisRestart(t *testing.T) {
	a, rd := open(t, 16)
	rc := listen(a)
	read(t, a, "u")
	rd.Kill()
	rd.Start()
	select {
	case <-rc.ready: // resubscribed (after the forget)
	case <-time.After(30 * time.Second):
		t.Fatal("not resubscribed after the restart")
	}
	b := openOn(t, rd, Options{})
	read(t, a, "u") // re-registers: the record was forgotten
	if _, err := b.Append(context.Background(), []string{"u"}, "", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if got := rc.until(t, "u"); fmt.Sprint(got) != "[u]" {
		t.Fatalf("wakes = %v; want u", got)
	}
}

// Registrations past their expiry are not published to and are deleted by
// the append that finds them; a read renews a registration only when it
// is short.
func TestStaleRegistrationsExpire(t *testing.T) {
	a, _ := open(t, 16)
	ctx := context.Background()
	// A process that is gone left a registration that has ended.
	if err := a.c.HSet(ctx, a.holdersKey("u"), "deadbeef", 1).Err(); err != nil {
		t.Fatal(err)
	}
	read(t, a, "u")
	h, _ := a.c.HGetAll(ctx, a.holdersKey("u")).Result()
	if _, ok := h[a.id]; !ok || len(h) != 2 {
		t.Fatalf("holders after a read = %v; want this process and the stale one", h)
	}
	if _, err := a.Append(ctx, []string{"u"}, "", []byte("x")); err != nil {
		t.Fatal(err)
	}
	h, _ = a.c.HGetAll(ctx, a.holdersKey("u")).Result()
	var ids []string
	for id := range h {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if strings.Join(ids, " ") != a.id {
		t.Fatalf("holders after the append = %v; want only %s", ids, a.id)
	}
	// A second read within the registration writes nothing.
	a.c.HSet(ctx, a.holdersKey("u"), a.id, 7)
	read(t, a, "u")
	if v, _ := a.c.HGet(ctx, a.holdersKey("u"), a.id).Result(); v != "7" {
		t.Fatalf("a read renewed a long registration: %s", v)
	}
}
