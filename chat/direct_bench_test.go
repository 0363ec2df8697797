package chat

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"pollchat/bridge"
	"pollchat/store"
)

// BenchmarkDirect is the load benchmark's direct scenario inside one
// process, without HTTP: users parked on the hub (each answer re-parks at
// once, as a browser does), 64 senders sending durable direct messages to
// random users on the embedded store (Pebble), or one sender (each send
// waits for the one before, as the durable scenario's 1 sender). One op is
// one message answered to its sender; the benchmark ends when every
// message was delivered to its recipient's parked poll.
func BenchmarkDirect(b *testing.B) {
	b.Run("senders=64", func(b *testing.B) { benchDirect(b, 64) })
	b.Run("senders=1", func(b *testing.B) { benchDirect(b, 1) })
}

func benchDirect(b *testing.B, senders int) {
	const users = 1000
	st, err := store.OpenEmbedded(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	list := make([]bridge.User, users)
	for i := range list {
		list[i] = bridge.User{ID: fmt.Sprint(i + 1), Name: fmt.Sprint("User ", i+1), Role: bridge.RoleMember}
	}
	dir := bridge.NewDirectory(bridge.NewStaticSource(list), bridge.DirectoryConfig{})
	svc, err := New(Config{}, st, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	defer svc.Close()
	var got atomic.Int64
	var park func(c Caller, cursor string)
	park = func(c Caller, cursor string) {
		for {
			select {
			case <-svc.Hub().Closed():
				return // the end of this run: its polls are answered
			default:
			}
			res, parked := svc.Park(c, cursor, time.Minute, func(r PollResult) {
				got.Add(int64(countMessages(r.Events)))
				park(c, r.Cursor)
			})
			if parked {
				return
			}
			got.Add(int64(countMessages(res.Events)))
			cursor = res.Cursor
		}
	}
	for _, u := range list {
		c := Caller{ID: u.ID}
		cursor, err := svc.Hub().Open(c.ID)
		if err != nil {
			b.Fatal(err)
		}
		park(c, cursor)
	}
	// Coming online tells the others (presence events): let that settle.
	for svc.Hub().Parked() < users {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	var sent atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	send := func(r *rand.Rand) bool {
		from := r.IntN(users) + 1
		to := r.IntN(users-1) + 1
		if to >= from {
			to++
		}
		n := sent.Add(1)
		_, err := svc.Send(context.Background(), Caller{ID: fmt.Sprint(from)}, SendParams{To: fmt.Sprint(to), Text: "hello there", ClientID: fmt.Sprint("c", n)})
		if err != nil {
			b.Error(err)
			return false
		}
		return true
	}
	if senders == 1 {
		r := rand.New(rand.NewPCG(rand.Uint64(), 0))
		for i := 0; i < b.N && send(r); i++ {
		}
	} else {
		b.SetParallelism((senders + 1) / 2) // on 2 cores
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(rand.Uint64(), 0))
			for pb.Next() && send(r) {
			}
		})
	}
	// Each message goes to its sender's stream and its recipient's.
	for got.Load() < 2*sent.Load() {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	if r := svc.commitRounds.Load(); r > 0 {
		b.ReportMetric(float64(sent.Load())/float64(r), "msgs/commit")
	}
	if g, s := got.Load(), sent.Load(); g != 2*s {
		b.Fatalf("delivered %d events for %d messages; want %d", g, s, 2*s)
	}
}

// countMessages counts the message events in a poll answer.
func countMessages(evs [][]byte) int {
	n := 0
	for _, e := range evs {
		if len(e) > 16 && string(e[:16]) == `{"type":"message` {
			n++
		}
	}
	return n
}
