package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"pollchat/chat"
	"pollchat/internal/testsvc"
)

// score is user's presence score in Redis (ms), or -1 when absent.
func score(t *testing.T, rd *testsvc.Redis, r *Redis, user string) int64 {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: rd.Addr})
	defer c.Close()
	s, err := c.ZScore(context.Background(), r.onlineKey(), user).Result()
	if err == redis.Nil {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	return int64(s)
}

// The hub touches every active user every second; Touch writes a user's
// score again only when it moved by a quarter of the grace, or when the
// score written is half the grace old (it may be near expiry or gone),
// and still reports each user going online.
func TestTouchWritesOnlyScoresThatMatter(t *testing.T) {
	rd := testsvc.StartRedis(t)
	r := openOn(t, rd, Options{Grace: 40 * time.Second})
	ctx := context.Background()
	now := time.Now()
	touch := func(at time.Time, users ...string) []string {
		t.Helper()
		seen := make([]chat.Seen, len(users))
		for i, u := range users {
			seen[i] = chat.Seen{User: u, At: at}
		}
		on, err := r.Touch(ctx, seen)
		if err != nil {
			t.Fatal(err)
		}
		return on
	}
	if on := touch(now, "a", "b"); fmt.Sprint(on) != "[a b]" {
		t.Fatalf("first Touch went online = %v; want [a b]", on)
	}
	// A second later: nothing written, nobody went online.
	if on := touch(now.Add(time.Second), "a", "b"); len(on) != 0 {
		t.Fatalf("Touch a second later went online = %v; want none", on)
	}
	if s := score(t, rd, r, "a"); s != now.UnixMilli() {
		t.Fatalf("score of a = %d; want the first one, %d (not rewritten)", s, now.UnixMilli())
	}
	// A newcomer in the same call is written and goes online.
	if on := touch(now.Add(2*time.Second), "a", "c"); fmt.Sprint(on) != "[c]" {
		t.Fatalf("Touch with a newcomer went online = %v; want [c]", on)
	}
	// A quarter of the grace later the score is written again.
	later := now.Add(10 * time.Second)
	touch(later, "a")
	if s := score(t, rd, r, "a"); s != later.UnixMilli() {
		t.Fatalf("score of a = %d; want %d (a quarter of the grace later)", s, later.UnixMilli())
	}
	// A score written half the grace ago is written again even for a
	// small move: it may be near expiry, or gone.
	old := now.Add(-25 * time.Second)
	touch(old, "d")
	touch(old.Add(time.Second), "d")
	if s := score(t, rd, r, "d"); s != old.Add(time.Second).UnixMilli() {
		t.Fatalf("score of d = %d; want %d (the last one written was half the grace old)", s, old.Add(time.Second).UnixMilli())
	}
	// Removed by an Expire after the grace (any process's): the next
	// Touch writes it and reports the user online again.
	gone := now.Add(-41 * time.Second)
	touch(gone, "e")
	if off, err := r.Expire(ctx); err != nil || fmt.Sprint(off) != "[e]" {
		t.Fatalf("Expire = %v, %v; want [e]", off, err)
	}
	if on := touch(now, "e"); fmt.Sprint(on) != "[e]" {
		t.Fatalf("Touch after expiry went online = %v; want [e]", on)
	}
}

// When Redis restarts empty, the process forgets the scores it wrote on
// resubscribing: the next Touch writes every user again and reports them
// online, so presence comes back.
func TestTouchAfterRedisRestart(t *testing.T) {
	rd := testsvc.StartRedis(t)
	r := openOn(t, rd, Options{Grace: 40 * time.Second})
	rc := listen(r)
	ctx := context.Background()
	now := time.Now()
	if on, err := r.Touch(ctx, []chat.Seen{{User: "a", At: now}}); err != nil || fmt.Sprint(on) != "[a]" {
		t.Fatalf("Touch = %v, %v; want [a]", on, err)
	}
	rd.Kill()
	rd.Start()
	select {
	case <-rc.ready: // resubscribed
	case <-time.After(30 * time.Second):
		t.Fatal("not resubscribed after the restart")
	}
	if on, err := r.Touch(ctx, []chat.Seen{{User: "a", At: now.Add(time.Second)}}); err != nil || fmt.Sprint(on) != "[a]" {
		t.Fatalf("Touch after the restart = %v, %v; want [a] (written again)", on, err)
	}
	if s := score(t, rd, r, "a"); s != now.Add(time.Second).UnixMilli() {
		t.Fatalf("score of a after the restart = %d; want %d", s, now.Add(time.Second).UnixMilli())
	}
}

// A user touched alone (a first poll: one ZADD, no pipeline) and in a
// batch (the reaper: MULTI/EXEC) is written the same way: GT keeps the
// later score another process wrote, and only the first write of a user
// reports them online.
func TestTouchAloneAndInABatchAgree(t *testing.T) {
	rd := testsvc.StartRedis(t)
	a := openOn(t, rd, Options{Grace: 40 * time.Second})
	b := openOn(t, rd, Options{Grace: 40 * time.Second})
	c := openOn(t, rd, Options{Grace: 40 * time.Second})
	ctx := context.Background()
	now := time.Now()
	if on, err := a.Touch(ctx, []chat.Seen{{User: "u", At: now}}); err != nil || fmt.Sprint(on) != "[u]" {
		t.Fatalf("first Touch of u alone = %v, %v; want [u]", on, err)
	}
	// b saw u earlier, alone; c earlier still, in a batch with v (a fresh
	// process: b would skip u, whose score it wrote a moment ago). u's
	// score stays.
	if on, err := b.Touch(ctx, []chat.Seen{{User: "u", At: now.Add(-time.Second)}}); err != nil || len(on) != 0 {
		t.Fatalf("b's earlier Touch of u alone = %v, %v; want none online", on, err)
	}
	if on, err := c.Touch(ctx, []chat.Seen{{User: "u", At: now.Add(-2 * time.Second)}, {User: "v", At: now}}); err != nil || fmt.Sprint(on) != "[v]" {
		t.Fatalf("c's batch = %v, %v; want [v]", on, err)
	}
	if s := score(t, rd, a, "u"); s != now.UnixMilli() {
		t.Fatalf("score of u = %d; want %d (the later one)", s, now.UnixMilli())
	}
}
