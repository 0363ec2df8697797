package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"pollchat/internal/testsvc"
)

func TestMain(m *testing.M) { os.Exit(testsvc.Main(m)) }

// cluster is three pollchat processes on one Redis and one MariaDB.
type cluster struct {
	redis *testsvc.Redis
	procs []*testsvc.Pollchat
	cls   []*testsvc.Client
}

func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	rd := testsvc.StartRedis(t)
	db := testsvc.SharedMariaDB(t)
	dsn := db.NewDatabase(t)
	o := testsvc.Options{
		Chat:  "rate = 0",
		Store: fmt.Sprintf("[store]\ndriver = \"mysql\"\ndsn = %q\n", dsn),
		Extra: fmt.Sprintf("[cluster]\nredis_url = %q\n", rd.URL),
	}
	c := &cluster{redis: rd}
	for i := 0; i < n; i++ {
		p := testsvc.StartPollchat(t, o)
		c.procs = append(c.procs, p)
		c.cls = append(c.cls, testsvc.NewClient(p.URL))
	}
	return c
}

// A client polling round-robin across three processes, while three senders
// send to it through all three, sees every message once and in order.
func TestClusterRoundRobinExactlyOnce(t *testing.T) {
	c := startCluster(t, 3)
	rcv := c.cls[0].NewPoller(t, "5")
	const per = 60
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i, from := range []string{"1", "2", "3"} {
		wg.Add(1)
		go func(i int, from string) {
			defer wg.Done()
			for n := 0; n < per; n++ {
				cl := c.cls[(i+n)%3]
				v := cl.Ident(from)
				v.Set("to", "5")
				v.Set("text", fmt.Sprintf("%s:%d", from, n))
				v.Set("client_id", fmt.Sprintf("%s-%d", from, n))
				r, err := cl.DoErr("GET", "/v1/send", v)
				if err != nil || r.Status != 200 {
					errs <- fmt.Errorf("send %s:%d via %d: %v %+v", from, n, (i+n)%3, err, r)
					return
				}
			}
		}(i, from)
	}
	next := map[string]int{}
	seen := map[float64]bool{}
	total, polls := 0, 0
	deadline := time.Now().Add(90 * time.Second)
	for total < 3*per && time.Now().Before(deadline) {
		rcv.C = c.cls[polls%3] // the load balancer sends each poll elsewhere
		polls++
		res := rcv.Poll(t, 2)
		if res.Reset {
			t.Fatalf("poll %d reset the cursor", polls)
		}
		for _, e := range res.Decoded(t) {
			if e.Type() != "message" {
				continue
			}
			m := e["message"].(map[string]any)
			id := m["id"].(float64)
			if seen[id] {
				t.Fatalf("message %v seen twice", id)
			}
			seen[id] = true
			from, num, _ := strings.Cut(m["text"].(string), ":")
			if want := fmt.Sprint(next[from]); num != want {
				t.Fatalf("from %s: got #%s; want #%s", from, num, want)
			}
			next[from]++
			total++
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if total != 3*per {
		t.Fatalf("saw %d of %d messages", total, 3*per)
	}
}

// Room fan-out reaches members parked on every process; presence looks the
// same from each process.
func TestClusterRoomsAndPresence(t *testing.T) {
	c := startCluster(t, 3)
	var pollers []*testsvc.Poller
	for i, uid := range []string{"2", "3", "4"} {
		p := c.cls[i].NewPoller(t, uid)
		c.cls[i].MustCall(t, uid, "join", "room", "lobby")
		p.Poll(t, 0) // now online
		pollers = append(pollers, p)
	}
	// Membership is shared: joining on process 0 shows everyone.
	st := c.cls[0].MustCall(t, "1", "join", "room", "lobby")
	if n := st["room"].(map[string]any)["count"].(float64); n != 4 {
		t.Fatalf("lobby count seen from process 0 = %v; want 4", n)
	}
	c.cls[0].MustCall(t, "1", "send", "room", "lobby", "text", "hello everyone")
	for i, p := range pollers {
		e, _ := p.WaitFor(t, 15*time.Second, func(e testsvc.Event) bool {
			m, _ := e["message"].(map[string]any)
			return e.Type() == "message" && m["text"] == "hello everyone"
		})
		if e == nil {
			t.Fatalf("member on process %d missed the room message", i)
		}
	}
	// Presence: every process lists the same online users (the reaper
	// reports activity to Redis within a second).
	want := "2,3,4"
	for try := 0; try < 50; try++ {
		var views []string
		for _, cl := range c.cls {
			req := clusterAPIGet(t, cl, "/api/v1/online")
			users := req["users"].([]any)
			var ids []string
			for _, u := range users {
				if u != "1" {
					ids = append(ids, u.(string))
				}
			}
			sort.Strings(ids)
			views = append(views, strings.Join(ids, ","))
		}
		if views[0] == want && views[1] == want && views[2] == want {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("processes disagree on who is online")
}

// One process killed mid-test: its clients continue on the others, with
// their cursors, and nothing acknowledged is lost.
func TestClusterProcessDies(t *testing.T) {
	c := startCluster(t, 3)
	rcv := c.cls[2].NewPoller(t, "4")
	acked := map[string]bool{}
	for i := 0; i < 10; i++ {
		r := c.cls[i%3].MustCall(t, "3", "send", "to", "4", "text", fmt.Sprint("before-", i))
		acked[r["message"].(map[string]any)["text"].(string)] = true
	}
	c.procs[2].Kill()
	rcv.C = c.cls[0]
	for i := 0; i < 10; i++ {
		r := c.cls[i%2].MustCall(t, "3", "send", "to", "4", "text", fmt.Sprint("after-", i))
		acked[r["message"].(map[string]any)["text"].(string)] = true
	}
	got := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < len(acked) && time.Now().Before(deadline) {
		res := rcv.Poll(t, 2)
		if res.Reset {
			t.Fatal("the surviving process reset the cursor")
		}
		for _, e := range res.Decoded(t) {
			if m, ok := e["message"].(map[string]any); ok {
				if got[m["text"].(string)] {
					t.Fatalf("%v delivered twice", m["text"])
				}
				got[m["text"].(string)] = true
			}
		}
	}
	for text := range acked {
		if !got[text] {
			t.Errorf("acknowledged message %q never arrived", text)
		}
	}
}

// Redis restarted: sends answer UNAVAILABLE and /healthz 503 while it is
// down; afterwards the cluster works again without restarting pollchat.
func TestClusterRedisRestart(t *testing.T) {
	c := startCluster(t, 2)
	rcv := c.cls[1].NewPoller(t, "4")
	c.redis.Kill()
	sawUnavailable := false
	for i := 0; i < 50 && !sawUnavailable; i++ {
		r := c.cls[0].Call(t, "3", "send", "to", "4", "text", "while down")
		sawUnavailable = r.ErrorCode() == "UNAVAILABLE"
		if !sawUnavailable {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !sawUnavailable {
		t.Fatal("send never answered UNAVAILABLE with Redis down")
	}
	if r := c.cls[0].Do(t, "GET", "/healthz", nil); r.Status != 503 {
		t.Fatalf("healthz with Redis down = %d; want 503", r.Status)
	}
	c.redis.Start()
	var sent bool
	for i := 0; i < 100 && !sent; i++ {
		r := c.cls[0].Call(t, "3", "send", "to", "4", "text", "after restart")
		sent = r.Status == 200 && r.ErrorCode() == ""
		if !sent {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !sent {
		t.Fatal("sends did not recover after Redis came back")
	}
	if r := c.cls[0].Do(t, "GET", "/healthz", nil); r.Status != 200 {
		t.Fatalf("healthz after recovery = %d", r.Status)
	}
	// The old stream is gone with Redis's memory: the poller is reset, then
	// finds the message in its hello and sees new ones live.
	res := rcv.Poll(t, 1)
	if res.Reset {
		hello := c.cls[1].MustCall(t, "4", "hello")
		rcv.Cursor = hello["cursor"].(string)
		if !strings.Contains(fmt.Sprint(hello["conversations"]), "after restart") {
			t.Fatalf("hello after reset lacks the message: %v", hello["conversations"])
		}
	}
	c.cls[0].MustCall(t, "3", "send", "to", "4", "text", "live again")
	rcv.WaitFor(t, 15*time.Second, func(e testsvc.Event) bool {
		m, _ := e["message"].(map[string]any)
		return m != nil && m["text"] == "live again"
	})
}

func clusterAPIGet(t *testing.T, cl *testsvc.Client, path string) map[string]any {
	t.Helper()
	req, err := http.NewRequest("GET", cl.Base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(testsvc.APILogin, testsvc.APIPassword)
	resp, err := cl.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d %v", path, resp.StatusCode, err)
	}
	return m
}
