package e2e

// Faults: pollchat killed mid-burst, slow clients, piled-up polls and
// connection floods, against the built binary.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pollchat/internal/testsvc"
)

type sentMsg struct {
	from, to, text, clientID string
	id                       float64
}

// TestFaultKillDuringSends: SIGKILL pollchat (embedded store) while ten
// senders send as fast as they can. After a restart every send that was
// answered with success is in the history, nothing is there twice, the
// unanswered ones retried with their client_id are stored exactly once,
// and clients with a cursor of the dead process get reset and then find
// everything with hello and history.
func TestFaultKillDuringSends(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{Chat: "rate = 0"})
	cursors := map[string]string{}
	for _, u := range []string{"1", "2", "3", "4", "5"} {
		cursors[u] = c.NewPoller(t, u).Cursor
	}
	type pair struct{ from, to string }
	var pairs []pair
	for _, f := range []string{"1", "2", "3", "4", "5"} {
		for _, to := range []string{"1", "2", "3", "4", "5"} {
			if f != to && len(pairs) < 10 {
				pairs = append(pairs, pair{f, to})
			}
		}
	}
	var (
		mu        sync.Mutex
		acked     []sentMsg
		unacked   []sentMsg
		nAcked    atomic.Int64
		killed    atomic.Bool
		earlyErrs []string
		wg        sync.WaitGroup
	)
	// A client of its own: no connection reuse across the kill.
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 20}}
	sc := &testsvc.Client{Base: c.Base, Secret: c.Secret, HTTP: hc}
	for _, pr := range pairs {
		wg.Add(1)
		go func(pr pair) {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				m := sentMsg{from: pr.from, to: pr.to, text: fmt.Sprintf("kill %s>%s #%d", pr.from, pr.to, i), clientID: fmt.Sprintf("kill-%s-%s-%d", pr.from, pr.to, i)}
				r, err := sc.DoErr("GET", "/v1/send", with(sc.Ident(pr.from), "to", pr.to, "text", m.text, "client_id", m.clientID))
				if err == nil && r.Status == 200 {
					var out struct {
						Message struct {
							ID float64 `json:"id"`
						} `json:"message"`
					}
					r.JSON(t, &out)
					m.id = out.Message.ID
					mu.Lock()
					acked = append(acked, m)
					mu.Unlock()
					nAcked.Add(1)
					continue
				}
				mu.Lock()
				unacked = append(unacked, m)
				if !killed.Load() {
					earlyErrs = append(earlyErrs, fmt.Sprintf("%s: %v %v", m.text, err, r))
				}
				mu.Unlock()
				return // the server is gone: stop this sender
			}
		}(pr)
	}
	for i := 0; i < 3000 && nAcked.Load() < 400; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	killed.Store(true)
	p.Kill()
	wg.Wait()
	hc.CloseIdleConnections()
	if len(earlyErrs) > 0 {
		t.Fatalf("sends failed before the kill: %v", earlyErrs)
	}
	if len(acked) < 100 {
		t.Fatalf("only %d sends were answered before the kill; the burst did not run", len(acked))
	}
	t.Logf("%d sends answered, %d in flight or refused at the kill", len(acked), len(unacked))
	p.Start()

	// Stale cursors of the dead process: reset, then hello works.
	for u, cur := range cursors {
		r := c.MustCall(t, u, "poll", "cursor", cur, "timeout", "0")
		if r["reset"] != true {
			t.Fatalf("poll as %s with a cursor of the killed process = %v; want reset", u, r)
		}
		if h := c.MustCall(t, u, "hello"); h["cursor"] == "" {
			t.Fatalf("hello as %s after reset has no cursor", u)
		}
	}
	history := func(a, b string) []map[string]any {
		var all []map[string]any
		before := ""
		for page := 0; page < 200; page++ {
			kv := []string{"with", b, "limit", "100"}
			if before != "" {
				kv = append(kv, "before", before)
			}
			h := c.MustCall(t, a, "history", kv...)
			msgs := h["messages"].([]any)
			for i := len(msgs) - 1; i >= 0; i-- {
				all = append(all, msgs[i].(map[string]any))
			}
			if h["has_more"] != true || len(msgs) == 0 {
				return all
			}
			before = fmt.Sprint(int64(msgs[0].(map[string]any)["id"].(float64)))
		}
		t.Fatalf("history %s-%s did not end in 200 pages", a, b)
		return nil
	}
	check := func(stage string, mustHave []sentMsg) map[string]float64 {
		t.Helper()
		byClient := map[string]float64{}
		for _, pr := range pairs {
			for _, m := range history(pr.from, pr.to) {
				if m["from"] != pr.from {
					continue
				}
				cid, _ := m["client_id"].(string)
				if !strings.HasPrefix(cid, "kill-") {
					t.Fatalf("%s: message without our client_id: %v", stage, m)
				}
				if _, dup := byClient[cid]; dup {
					t.Fatalf("%s: client_id %s is stored twice", stage, cid)
				}
				byClient[cid] = m["id"].(float64)
			}
		}
		for _, m := range mustHave {
			id, ok := byClient[m.clientID]
			if !ok {
				t.Fatalf("%s: acknowledged send %q (id %v) is lost", stage, m.text, m.id)
			}
			if m.id != 0 && id != m.id {
				t.Fatalf("%s: send %q was acknowledged as id %v but is stored as %v", stage, m.text, m.id, id)
			}
		}
		return byClient
	}
	stored := check("after restart", acked)
	t.Logf("%d of the %d unanswered sends had been stored", countIn(stored, unacked), len(unacked))
	// Retried with their client_id, the unanswered sends are stored once.
	for _, m := range unacked {
		r := c.MustCall(t, m.from, "send", "to", m.to, "text", m.text, "client_id", m.clientID)
		id := r["message"].(map[string]any)["id"].(float64)
		if old, ok := stored[m.clientID]; ok && old != id {
			t.Fatalf("retry of stored %s made a new message %v (stored %v)", m.clientID, id, old)
		}
	}
	check("after retries", append(acked, unacked...))
}

func countIn(stored map[string]float64, ms []sentMsg) int {
	n := 0
	for _, m := range ms {
		if _, ok := stored[m.clientID]; ok {
			n++
		}
	}
	return n
}

type slow struct {
	conn   net.Conn
	closed chan string // what the server did: "closed", "HTTP/1.1 408 …"
}

// TestFaultSlowloris: 200 connections that drip a partial request (headers
// or body) one byte a second, or send nothing at all, do not hold
// pollchat: normal requests answer meanwhile, and the server cuts every
// one of them after its read timeout (server.ReadTimeout, 10 s from the
// first byte, or from the connection for the silent ones).
func TestFaultSlowloris(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{})
	const n = 200
	// watch waits for the server's end of a slow connection.
	watch := func(s *slow) {
		s.conn.SetReadDeadline(time.Now().Add(45 * time.Second))
		b, err := io.ReadAll(s.conn)
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			s.closed <- "still open after 45s"
		case len(b) > 0:
			s.closed <- strings.SplitN(string(b), "\r\n", 2)[0]
		default:
			s.closed <- "closed"
		}
	}
	stop := make(chan struct{})
	defer close(stop)
	var conns []*slow
	for i := 0; i < n; i++ {
		conn, err := net.DialTimeout("tcp", p.Addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		t.Cleanup(func() { conn.Close() })
		var head string
		switch i % 4 {
		case 0, 1:
			head = "GET /v1/hello?id=3 HTTP/1.1\r\nHost: t\r\nX-Slow: "
		case 2:
			head = "POST /v1/send HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\nto=4&text="
		case 3:
			// Silent: connects and sends nothing at all.
		}
		s := &slow{conn: conn, closed: make(chan string, 1)}
		conns = append(conns, s)
		if head == "" {
			go watch(s)
			continue
		}
		if _, err := conn.Write([]byte(head)); err != nil {
			t.Fatal(err)
		}
		go func() { // drip
			tk := time.NewTicker(time.Second)
			defer tk.Stop()
			for k := 0; k < 60; k++ {
				select {
				case <-stop:
					return
				case <-tk.C:
				}
				if _, err := s.conn.Write([]byte("a")); err != nil {
					return
				}
			}
		}()
		go watch(s)
	}
	// While they drip, normal requests answer.
	for i := 0; i < 20; i++ {
		r := c.Call(t, "3", "poll", "timeout", "0")
		if r.Status != 200 {
			t.Fatalf("poll %d during slowloris = %d %s", i, r.Status, r.Body)
		}
	}
	c.MustCall(t, "3", "send", "to", "4", "text", "still here")
	// Every dripping connection is cut by the server.
	for i, s := range conns {
		select {
		case what := <-s.closed:
			if what != "closed" && !strings.Contains(what, "408") {
				t.Fatalf("slow connection %d ended with %q; want closed or 408", i, what)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("slow connection %d was never cut", i)
		}
	}
	if r := c.Call(t, "3", "hello"); r.Status != 200 {
		t.Fatalf("hello after slowloris = %d", r.Status)
	}
}

// TestFaultParkedCap: one user parks at most chat.MaxParkedPerUser (6) polls;
// a seventh answers the oldest at once with RATE_LIMITED and retry_after
// (so that its client backs off), and reconnects and tabs do not pile up.
func TestFaultParkedCap(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{PollTimeout: "30s"})
	const maxParked = 6
	pl := c.NewPoller(t, "3")
	type answer struct {
		i   int
		res testsvc.PollResult
		err error
	}
	answers := make(chan answer, 10)
	poll := func(i int) {
		go func() {
			r, err := c.DoErr("GET", "/v1/poll", with(c.Ident("3"), "cursor", pl.Cursor, "timeout", "30"))
			var res testsvc.PollResult
			if err == nil {
				err = jsonInto(r, &res)
			}
			answers <- answer{i, res, err}
		}()
	}
	for i := 0; i < maxParked; i++ {
		poll(i)
		waitParked(t, c, i+1)
	}
	select {
	case a := <-answers:
		t.Fatalf("poll %d answered before the cap was reached: %+v %v", a.i, a.res, a.err)
	default:
	}
	for extra := 0; extra < 2; extra++ {
		poll(maxParked + extra)
		select {
		case a := <-answers:
			if a.err == nil || a.i != extra || !strings.Contains(a.err.Error(), "RATE_LIMITED") {
				t.Fatalf("poll beyond the cap answered poll %d with %+v %v; want poll %d evicted with RATE_LIMITED", a.i, a.res, a.err, extra)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("a poll beyond the cap of %d did not answer the oldest", maxParked)
		}
		waitParked(t, c, maxParked)
	}
	// The six still parked all get the next message.
	c.MustCall(t, "4", "send", "to", "3", "text", "to all tabs")
	for k := 0; k < maxParked; k++ {
		select {
		case a := <-answers:
			if a.err != nil || len(a.res.Events) != 1 || !strings.Contains(string(a.res.Events[0]), "to all tabs") {
				t.Fatalf("parked poll %d = %+v %v; want the message", a.i, a.res, a.err)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("only %d of %d parked polls got the message", k, maxParked)
		}
	}
	// Another user's polls are not affected by user 3's cap.
	other := c.NewPoller(t, "4")
	go func() {
		r, err := c.DoErr("GET", "/v1/poll", with(c.Ident("4"), "cursor", other.Cursor, "timeout", "1"))
		var res testsvc.PollResult
		if err == nil {
			err = jsonInto(r, &res)
		}
		answers <- answer{100, res, err}
	}()
	if a := <-answers; a.err != nil || a.i != 100 {
		t.Fatalf("user 4's poll = %+v", a)
	}
}

func jsonInto(r *testsvc.Response, v any) error {
	if r.Status != 200 {
		return fmt.Errorf("status %d: %s", r.Status, r.Body)
	}
	return json.Unmarshal(r.Body, v)
}

// TestFaultConnsPerIP: server.max_conns_per_ip = N serves N connections
// from one address and refuses the next with 429; closing one frees a
// place; 0 (the default, for servers behind a proxy) means no limit.
func TestFaultConnsPerIP(t *testing.T) {
	t.Parallel()
	const limit = 8
	t.Run("limit", func(t *testing.T) {
		t.Parallel()
		p, c := start(t, testsvc.Options{Server: fmt.Sprintf("max_conns_per_ip = %d", limit)})
		// The start-up health check's keep-alive connection counts too.
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		path := "/v1/poll?" + c.Ident("3").Encode() + "&timeout=0"
		var open []*keepAlive
		for i := 0; i < limit; i++ {
			var ka *keepAlive
			for try := 0; try < 100; try++ { // wait for closed connections to be counted out
				ka = dialKeepAlive(t, p.Addr)
				if st, _ := ka.get(path); st == 200 {
					break
				}
				ka.conn.Close()
				ka = nil
				time.Sleep(20 * time.Millisecond)
			}
			if ka == nil {
				t.Fatalf("connection %d of %d was refused", i+1, limit)
			}
			open = append(open, ka)
		}
		extra := dialKeepAlive(t, p.Addr)
		if st, line := extra.get(path); st != 429 {
			t.Fatalf("connection %d with max_conns_per_ip = %d: %d %q; want 429", limit+1, limit, st, line)
		}
		// The open ones still work.
		for i, ka := range open {
			if st, line := ka.get(path); st != 200 {
				t.Fatalf("open connection %d: %d %q", i, st, line)
			}
		}
		open[0].conn.Close()
		var st int
		for try := 0; try < 100 && st != 200; try++ {
			time.Sleep(20 * time.Millisecond)
			ka := dialKeepAlive(t, p.Addr)
			st, _ = ka.get(path)
			ka.conn.Close()
		}
		if st != 200 {
			t.Fatalf("after closing one connection a new one = %d; want 200", st)
		}
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		p, c := start(t, testsvc.Options{})
		path := "/v1/poll?" + c.Ident("3").Encode() + "&timeout=0"
		for i := 0; i < 100; i++ {
			ka := dialKeepAlive(t, p.Addr)
			if st, line := ka.get(path); st != 200 {
				t.Fatalf("connection %d without a limit: %d %q", i+1, st, line)
			}
		}
	})
}

type keepAlive struct {
	conn net.Conn
	br   *bufio.Reader
}

func dialKeepAlive(t *testing.T, addr string) *keepAlive {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &keepAlive{conn: conn, br: bufio.NewReader(conn)}
}

// get sends one keep-alive GET and returns the status (0 when the server
// closed the connection without an answer) and the status line.
func (k *keepAlive) get(path string) (int, string) {
	k.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(k.conn, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path); err != nil {
		return 0, err.Error()
	}
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		return 0, err.Error()
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Status
}
