package e2e

// The soak: many users polling, sending, requesting, joining and
// reconnecting at random against the built binary, every message checked
// by sequence, and the server's goroutines and memory checked afterwards.
//
// Short (make test): 200 users, two rounds of 10 s.
// Long (make bench, POLLCHAT_SOAK=long): 2,000 users, two rounds of 60 s.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pollchat/internal/testsvc"
)

type soakPlan struct {
	users     int
	round     time.Duration
	rounds    int
	meanPause time.Duration // between one user's actions
	roomSend  float64       // share of actions that are room sends
}

func soakPlanFromEnv() soakPlan {
	if os.Getenv("POLLCHAT_SOAK") == "long" {
		return soakPlan{users: 2000, round: 60 * time.Second, rounds: 2, meanPause: 4 * time.Second, roomSend: 0.002}
	}
	return soakPlan{users: 200, round: 10 * time.Second, rounds: 2, meanPause: time.Second, roomSend: 0.02}
}

// soakUser is one simulated browser: a poller and an actor.
type soakUser struct {
	id    string
	token string

	mu       sync.Mutex
	cursor   string
	lastDM   map[string]int // sender -> last DM sequence seen
	lastRoom map[string]int // sender -> last room sequence seen
	lastID   float64        // last message id seen on this stream
	reconn   chan struct{}  // the actor asks the poller to drop its poll

	sent    map[string]int // target -> DMs acknowledged (actor only)
	roomSeq int
	rooms   map[string]bool
}

type soakRun struct {
	t     *testing.T
	c     *testsvc.Client
	hc    *http.Client
	users []*soakUser
	byID  map[string]*soakUser

	errMu  sync.Mutex
	errs   []string
	resets atomic.Int64
	polls  atomic.Int64
	sends  atomic.Int64
	other  atomic.Int64
	events atomic.Int64
}

func (r *soakRun) fail(format string, a ...any) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if len(r.errs) < 50 {
		r.errs = append(r.errs, fmt.Sprintf(format, a...))
	}
}

// call does one request as u; it returns the decoded body or an error.
func (r *soakRun) call(ctx context.Context, u *soakUser, endpoint string, kv ...string) (map[string]any, error) {
	v := url.Values{"token": {u.token}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	req, err := http.NewRequestWithContext(ctx, "GET", r.c.Base+"/v1/"+endpoint+"?"+v.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %d %.200s", endpoint, resp.StatusCode, b)
	}
	if resp.StatusCode != 200 {
		return m, fmt.Errorf("%s: %d %.200s", endpoint, resp.StatusCode, b)
	}
	return m, nil
}

type soakEvent struct {
	Type    string `json:"type"`
	Message *struct {
		ID   float64 `json:"id"`
		From string  `json:"from"`
		To   string  `json:"to"`
		Room string  `json:"room"`
		Text string  `json:"text"`
	} `json:"message"`
}

var soakText = regexp.MustCompile(`^(dm|room) (\S+) (\d+)$`)

// poller follows u's stream until stop, always sending back its cursor. A
// reconnect cancels the poll in flight (its connection closes, as when a
// browser tab drops one) and polls again with the same cursor.
func (r *soakRun) poller(u *soakUser, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			select {
			case <-u.reconn:
				cancel()
			case <-stop:
				cancel()
			case <-done:
			}
		}()
		u.mu.Lock()
		cursor := u.cursor
		u.mu.Unlock()
		res, err := r.call(ctx, u, "poll", "cursor", cursor, "timeout", "5")
		close(done)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				r.fail("poll as %s: %v", u.id, err)
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		r.polls.Add(1)
		r.take(u, res)
	}
}

// take checks one poll answer: per sender, DMs arrive with sequences
// 0, 1, 2, … exactly once each; room messages with increasing sequences
// (a member misses those sent while it was not in the room); message ids
// increase along the stream.
func (r *soakRun) take(u *soakUser, res map[string]any) {
	if res["reset"] == true {
		r.resets.Add(1)
		r.fail("poll as %s: reset (stream lost events)", u.id)
	}
	raw, _ := json.Marshal(res["events"])
	var evs []soakEvent
	if err := json.Unmarshal(raw, &evs); err != nil {
		r.fail("poll as %s: events %.200s: %v", u.id, raw, err)
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.cursor, _ = res["cursor"].(string)
	for _, e := range evs {
		r.events.Add(1)
		if e.Type != "message" || e.Message == nil {
			continue
		}
		m := e.Message
		if m.ID <= u.lastID {
			r.fail("%s: message id %v after %v (out of order or repeated)", u.id, m.ID, u.lastID)
		}
		u.lastID = m.ID
		parts := soakText.FindStringSubmatch(m.Text)
		if parts == nil || parts[2] != m.From {
			r.fail("%s: unexpected message %+v", u.id, *m)
			continue
		}
		seq, _ := strconv.Atoi(parts[3])
		switch {
		case parts[1] == "dm" && m.From == u.id:
			// The sender's own copy (other tabs); ordered by id above.
		case parts[1] == "dm":
			if m.To != u.id {
				r.fail("%s: got %s's DM to %s", u.id, m.From, m.To)
				continue
			}
			last, ok := u.lastDM[m.From]
			if !ok {
				last = -1
			}
			switch {
			case seq == last+1:
				u.lastDM[m.From] = seq
			case seq <= last:
				r.fail("%s: DM %d from %s again or out of order (last %d)", u.id, seq, m.From, last)
			default:
				r.fail("%s: DMs %d..%d from %s lost", u.id, last+1, seq-1, m.From)
				u.lastDM[m.From] = seq
			}
		default:
			last, ok := u.lastRoom[m.From]
			if ok && seq <= last {
				r.fail("%s: room message %d from %s again or out of order (last %d)", u.id, seq, m.From, last)
			}
			u.lastRoom[m.From] = seq
		}
	}
}

// actor does random things as u until stop.
func (r *soakRun) actor(u *soakUser, plan soakPlan, stop <-chan struct{}, rng *rand.Rand) {
	ctx := context.Background()
	rooms := []string{"lobby", "help"}
	for {
		pause := time.Duration(rng.Int64N(int64(2 * plan.meanPause)))
		select {
		case <-stop:
			return
		case <-time.After(pause):
		}
		x := rng.Float64()
		switch {
		case x < plan.roomSend:
			var in []string
			for room, ok := range u.rooms {
				if ok {
					in = append(in, room)
				}
			}
			if len(in) == 0 {
				continue
			}
			room := in[rng.IntN(len(in))]
			text := fmt.Sprintf("room %s %d", u.id, u.roomSeq)
			_, err := r.call(ctx, u, "send", "room", room, "text", text, "client_id", fmt.Sprintf("r-%d", u.roomSeq))
			if err != nil {
				r.fail("room send as %s: %v", u.id, err)
			}
			u.roomSeq++
			r.sends.Add(1)
		case x < 0.6:
			to := r.users[rng.IntN(len(r.users))]
			if to == u {
				continue
			}
			seq := u.sent[to.id]
			text := fmt.Sprintf("dm %s %d", u.id, seq)
			var err error
			for try := 0; try < 5; try++ { // retries are safe: same client_id
				if _, err = r.call(ctx, u, "send", "to", to.id, "text", text, "client_id", fmt.Sprintf("d-%s-%d", to.id, seq)); err == nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err != nil {
				r.fail("send %s -> %s #%d: %v", u.id, to.id, seq, err)
				return
			}
			u.sent[to.id] = seq + 1
			r.sends.Add(1)
		case x < 0.68:
			to := r.users[rng.IntN(len(r.users))]
			if to != u {
				if _, err := r.call(ctx, u, "request", "to", to.id, "text", "talk?"); err != nil {
					r.fail("request %s -> %s: %v", u.id, to.id, err)
				}
			}
			r.other.Add(1)
		case x < 0.8:
			room := rooms[rng.IntN(len(rooms))]
			op := "join"
			if u.rooms[room] {
				op = "leave"
			}
			if _, err := r.call(ctx, u, op, "room", room); err != nil {
				r.fail("%s %s as %s: %v", op, room, u.id, err)
			}
			u.rooms[room] = op == "join"
			r.other.Add(1)
		case x < 0.88:
			select {
			case u.reconn <- struct{}{}:
			default:
			}
			r.other.Add(1)
		case x < 0.94:
			if _, err := r.call(ctx, u, "hello"); err != nil {
				r.fail("hello as %s: %v", u.id, err)
			}
			r.other.Add(1)
		default:
			with := r.users[rng.IntN(len(r.users))]
			if with != u {
				if _, err := r.call(ctx, u, "history", "with", with.id, "limit", "20"); err != nil {
					r.fail("history as %s: %v", u.id, err)
				}
			}
			r.other.Add(1)
		}
	}
}

// delivered says whether every acknowledged DM reached its receiver.
func (r *soakRun) delivered() (missing int) {
	for _, s := range r.users {
		for to, n := range s.sent {
			rcv := r.byID[to]
			rcv.mu.Lock()
			last, ok := rcv.lastDM[s.id]
			rcv.mu.Unlock()
			if !ok {
				last = -1
			}
			missing += n - 1 - last
		}
	}
	return missing
}

// metricsOf reads some gauges of /metrics.
func metricsOf(t *testing.T, c *testsvc.Client) map[string]float64 {
	t.Helper()
	r := c.Do(t, "GET", "/metrics", nil)
	out := map[string]float64{}
	for _, line := range strings.Split(string(r.Body), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && !strings.HasPrefix(line, "#") {
			if v, err := strconv.ParseFloat(f[1], 64); err == nil {
				out[f[0]] = v
			}
		}
	}
	return out
}

func TestSoak(t *testing.T) {
	plan := soakPlanFromEnv()
	if testing.Short() {
		plan.users, plan.round = 50, 3*time.Second
	}
	p, c := start(t, testsvc.Options{PollTimeout: "5s", Grace: "10s", Chat: "rate = 0\nbuffer = 1024"})
	_ = p
	tr := &http.Transport{MaxIdleConns: 4*plan.users + 100, MaxIdleConnsPerHost: 4*plan.users + 100, IdleConnTimeout: 90 * time.Second}
	r := &soakRun{t: t, c: c, hc: &http.Client{Transport: tr, Timeout: 60 * time.Second}, byID: map[string]*soakUser{}}
	defer tr.CloseIdleConnections()
	base := metricsOf(t, c)
	for i := 0; i < plan.users; i++ {
		u := &soakUser{id: fmt.Sprintf("s%d", i+1), lastDM: map[string]int{}, lastRoom: map[string]int{}, reconn: make(chan struct{}, 1),
			sent: map[string]int{}, rooms: map[string]bool{}}
		u.token = c.Token(u.id, 2*time.Hour, nil)
		r.users = append(r.users, u)
		r.byID[u.id] = u
	}
	// Every user says hello (so they are known as send targets) and takes
	// the cursor from it.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for _, u := range r.users {
		wg.Add(1)
		sem <- struct{}{}
		go func(u *soakUser) {
			defer wg.Done()
			defer func() { <-sem }()
			h, err := r.call(context.Background(), u, "hello")
			if err != nil {
				r.fail("hello as %s: %v", u.id, err)
				return
			}
			u.cursor = h["cursor"].(string)
		}(u)
	}
	wg.Wait()
	if len(r.errs) > 0 {
		t.Fatalf("hello failed: %v", r.errs)
	}

	var rss []float64
	for round := 0; round < plan.rounds; round++ {
		stopPollers, stopActors := make(chan struct{}), make(chan struct{})
		var pw, aw sync.WaitGroup
		for i, u := range r.users {
			pw.Add(1)
			go func(u *soakUser) { defer pw.Done(); r.poller(u, stopPollers) }(u)
			aw.Add(1)
			go func(u *soakUser, seed uint64) {
				defer aw.Done()
				r.actor(u, plan, stopActors, rand.New(rand.NewPCG(seed, uint64(round))))
			}(u, uint64(i))
		}
		time.Sleep(plan.round)
		close(stopActors)
		aw.Wait()

		// Let the pollers collect what is still on its way (bounded).
		for i := 0; i < 600 && r.delivered() > 0; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		close(stopPollers)
		pw.Wait()
		if len(r.errs) > 0 {
			t.Fatalf("round %d: %d problems, first: %s", round, len(r.errs), strings.Join(r.errs, "\n"))
		}
		if miss := r.delivered(); miss != 0 {
			t.Fatalf("round %d: %d acknowledged DMs never arrived", round, miss)
		}
		// Idle: no client connection left and the parked polls of
		// cancelled requests run out (poll timeout 5 s). After the last
		// round the goroutines also go back to about what they were before
		// the load (fasthttp keeps idle workers up to 10 s, cleaned every
		// 10 s).
		tr.CloseIdleConnections()
		last := round == plan.rounds-1
		var m map[string]float64
		for i := 0; i < 400; i++ {
			m = metricsOf(t, c)
			if m["pollchat_parked_polls"] == 0 && (!last || m["go_goroutines"] <= base["go_goroutines"]+20) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if m["pollchat_parked_polls"] != 0 {
			t.Fatalf("round %d: %v polls still parked with every client gone", round, m["pollchat_parked_polls"])
		}
		if last && m["go_goroutines"] > base["go_goroutines"]+20 {
			t.Fatalf("round %d: %v goroutines after the load; %v before", round, m["go_goroutines"], base["go_goroutines"])
		}
		if m["pollchat_streams"] > float64(plan.users+5) {
			t.Fatalf("round %d: %v streams for %d users", round, m["pollchat_streams"], plan.users)
		}
		rss = append(rss, m["go_memstats_heap_inuse_bytes"])
		t.Logf("after round %d: %d polls, %d events, %d sends, %d other actions in all; goroutines %v (before %v); RSS %.1f MB (before %.1f MB)",
			round, r.polls.Load(), r.events.Load(), r.sends.Load(), r.other.Load(), m["go_goroutines"], base["go_goroutines"],
			m["process_resident_memory_bytes"]/1e6, base["process_resident_memory_bytes"]/1e6)
	}
	// A leak grows with the load; a working set does not. The second round
	// does about as much as the first (up to twice as much on a busy
	// machine), so its heap must not double. The heap in use, not RSS: RSS
	// keeps freed pages until the runtime returns them, which made this
	// check depend on the scavenger's timing. The goroutine, stream and
	// parked-poll counts above catch structural leaks exactly.
	if len(rss) >= 2 && rss[len(rss)-1] > rss[0]*2+32e6 {
		t.Fatalf("heap in use grew from %.1f MB after round 1 to %.1f MB after round %d", rss[0]/1e6, rss[len(rss)-1]/1e6, len(rss))
	}
	if r.sends.Load() == 0 || r.polls.Load() == 0 {
		t.Fatalf("the soak did nothing: %d sends, %d polls", r.sends.Load(), r.polls.Load())
	}
}
