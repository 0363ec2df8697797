//go:build linux

package server

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pollchat/bridge"
	"pollchat/chat"
	"pollchat/store"
)

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// onLoop counts the connections on s's event loops.
func onLoop(s *Server) int {
	n := 0
	s.loops.tab.each(func(*lconn) { n++ })
	return n
}

// loopConn returns a connection whose first poll has parked and been
// answered, so that it is on an event loop, and the cursor to poll from.
func loopConn(t *testing.T, s *Server, addr, user string) (*rawConn, string) {
	t.Helper()
	if s.loops == nil {
		t.Fatal("server has no event loops; want them (the default on Linux)")
	}
	rc := dialRaw(t, addr)
	rc.write(get("/v1/poll?"+identity(user), "")) // answered at once, with a cursor
	_, body := rc.read()
	parked := s.svc.Hub().Parked()
	rc.write(get("/v1/poll?timeout=20&cursor="+cursorOf(t, body)+"&"+identity(user), ""))
	waitFor(t, "the poll to park", func() bool { return s.svc.Hub().Parked() > parked })
	if !s.svc.Hub().Publish(user, "", []byte(`{"type":"welcome"}`)) {
		t.Fatalf("Publish(%s) = false; want the event on the stream", user)
	}
	resp, body := rc.read()
	if resp.StatusCode != 200 || !strings.Contains(body, `"type":"welcome"`) {
		t.Fatalf("first parked poll = %d %s; want 200 with the event", resp.StatusCode, body)
	}
	return rc, cursorOf(t, body)
}

// A poll parked on a loop ends there whatever ends it: its timeout on the
// grid, and a newer poll of the same user that evicts it (handled on
// another connection's loop), each answered as on Go's poller.
func TestLoopEndsPolls(t *testing.T) {
	s, addr := startParkServer(t)
	rc, cur := loopConn(t, s, addr, "1")
	// A poll parked from Go's poller ends on the loop once fasthttp has
	// handed its connection over.
	first := dialRaw(t, addr)
	first.write(get("/v1/poll?"+identity("2"), ""))
	_, hello := first.read()
	ends := s.loops.stats().ends
	first.write(get("/v1/poll?timeout=20&cursor="+cursorOf(t, hello)+"&"+identity("2"), ""))
	waitFor(t, "the connection to be taken", func() bool { return onLoop(s) == 2 })
	if !s.svc.Hub().Publish("2", "", []byte(`{"type":"first"}`)) {
		t.Fatal("Publish(2) = false; want the event on the stream")
	}
	if resp, body := first.read(); resp.StatusCode != 200 || !strings.Contains(body, `"type":"first"`) {
		t.Fatalf("poll parked from Go's poller = %d %s; want 200 with the message", resp.StatusCode, body)
	}
	if got := s.loops.stats().ends; got != ends+1 {
		t.Errorf("polls ended on the loops = %d; want %d (the poll parked from Go's poller)", got, ends+1)
	}
	ends = s.loops.stats().ends
	rc.write(get("/v1/poll?timeout=1&cursor="+cur+"&"+identity("1"), ""))
	resp, body := rc.read()
	if resp.StatusCode != 200 || !strings.Contains(body, `"events":[]`) {
		t.Fatalf("poll after its timeout = %d %s; want 200 with no events", resp.StatusCode, body)
	}
	if got := s.loops.stats().ends; got != ends+1 {
		t.Errorf("polls ended on the loops = %d; want %d (the timed-out poll)", got, ends+1)
	}

	// MaxParkedPerUser polls parked, each on a connection of its own on a
	// loop; one more evicts the oldest.
	// (Each connection is put on a loop by an event, so the cursor is the
	// last one's.)
	conns := []*rawConn{rc}
	for range chat.MaxParkedPerUser {
		var c *rawConn
		c, cur = loopConn(t, s, addr, "1")
		conns = append(conns, c)
	}
	conns, extra := conns[:chat.MaxParkedPerUser], conns[chat.MaxParkedPerUser]
	for i, c := range conns {
		c.write(get("/v1/poll?timeout=30&cursor="+cur+"&"+identity("1"), ""))
		waitFor(t, "the poll to park", func() bool { return s.svc.Hub().Parked() == int64(i+1) })
	}
	ends = s.loops.stats().ends
	extra.write(get("/v1/poll?timeout=30&cursor="+cur+"&"+identity("1"), ""))
	resp, body = conns[0].read()
	if resp.StatusCode != 429 || !strings.Contains(body, `"code":"RATE_LIMITED"`) {
		t.Fatalf("evicted poll = %d %s; want 429 RATE_LIMITED", resp.StatusCode, body)
	}
	if got := s.loops.stats().ends; got != ends+1 {
		t.Errorf("polls ended on the loops = %d; want %d (the evicted poll)", got, ends+1)
	}
	// The others are answered by the next event, on their loops.
	if err := s.svc.Inject(context.Background(), &store.Message{From: "2", To: "1", Text: "all"}); err != nil {
		t.Fatal(err)
	}
	for i, c := range append(conns[1:], extra) {
		if resp, body := c.read(); resp.StatusCode != 200 || !strings.Contains(body, `"text":"all"`) {
			t.Errorf("poll %d after the event = %d %s; want 200 with it", i, resp.StatusCode, body)
		}
	}
	if got := s.loops.stats().ends; got != ends+1+chat.MaxParkedPerUser {
		t.Errorf("polls ended on the loops = %d; want %d", got, ends+1+chat.MaxParkedPerUser)
	}
}

// slowSource knows every user; a lookup of slow waits until release is
// closed.
type slowSource struct {
	slow    string
	asked   chan struct{} // closed when slow is first asked for
	once    sync.Once
	release chan struct{}
}

func (src *slowSource) Lookup(ctx context.Context, ids []string) (map[string]bridge.User, error) {
	out := map[string]bridge.User{}
	for _, id := range ids {
		if id == src.slow {
			src.once.Do(func() { close(src.asked) })
			select {
			case <-src.release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		out[id] = bridge.User{ID: id, Name: "User " + id}
	}
	return out, nil
}

// A poll read on a loop whose user is not cached (here through a proxy's
// connection shared by several users) would wait for the directory on the
// loop's goroutine, holding every other connection of that loop: it moves
// to a hub worker, and the loop goes on serving.
func TestLoopMovesColdPolls(t *testing.T) {
	// One loop, so that both connections are on the one the cold poll
	// reaches.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	src := &slowSource{slow: "3", asked: make(chan struct{}), release: make(chan struct{})}
	s, addr := startParkServerWith(t, src, chat.Config{RequireKnown: true})
	a, _ := loopConn(t, s, addr, "1")
	b, curB := loopConn(t, s, addr, "2")
	if n := len(s.loops.l); n != 1 {
		t.Fatalf("loops = %d; want 1", n)
	}
	a.write(get("/v1/poll?timeout=20&"+identity("3"), "")) // user 3: not cached
	select {
	case <-src.asked:
	case <-time.After(5 * time.Second):
		t.Fatal("the directory was not asked for user 3")
	}
	// While the directory keeps user 3 waiting, the loop serves b.
	b.write(get("/v1/poll?timeout=0&cursor="+curB+"&"+identity("2"), ""))
	if resp, body := b.read(); resp.StatusCode != 200 || !strings.Contains(body, `"events":[]`) {
		t.Fatalf("poll on another connection of the loop = %d %s; want 200, no events", resp.StatusCode, body)
	}
	// ... before user 3's poll is answered (had the loop waited for the
	// directory, it would have answered a first).
	a.c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := a.r.Peek(1); err == nil {
		t.Fatal("user 3's poll answered before the directory answered; want it waiting")
	}
	close(src.release)
	resp, body := a.read()
	if resp.StatusCode != 200 || !strings.Contains(body, `"cursor":"`) {
		t.Fatalf("user 3's poll = %d %s; want 200 with a cursor", resp.StatusCode, body)
	}
	if got := s.loops.stats().moved; got != 1 {
		t.Errorf("polls moved off the loop = %d; want 1", got)
	}
	// User 3 is cached now: the next poll stays on the loop.
	before := s.loops.stats()
	a.write(get("/v1/poll?timeout=0&cursor="+cursorOf(t, body)+"&"+identity("3"), ""))
	if resp, body := a.read(); resp.StatusCode != 200 || !strings.Contains(body, `"events":[]`) {
		t.Fatalf("user 3's next poll = %d %s; want 200, no events", resp.StatusCode, body)
	}
	if st := s.loops.stats(); st.moved != before.moved || st.requests != before.requests+1 {
		t.Errorf("after a warm poll: moved %d, loop requests %d; want %d, %d", st.moved, st.requests, before.moved, before.requests+1)
	}
}

// A connection whose poll parked is served by an event loop from then on:
// its polls park and are answered there, with the same answer as on Go's
// poller, and a poll with events waiting is answered at once.
func TestLoopServesPolls(t *testing.T) {
	s, addr := startParkServer(t)
	rc, cur := loopConn(t, s, addr, "1")
	if n := onLoop(s); n != 1 {
		t.Fatalf("connections on the loops = %d; want 1", n)
	}
	for i := range 3 {
		st := s.loops.stats()
		polls, ends := st.requests, st.ends
		rc.write(get("/v1/poll?timeout=20&callback=cb&cursor="+cur+"&"+identity("1"), "Origin: http://site.example\r\n"))
		waitFor(t, "the poll to park", func() bool { return s.svc.Hub().Parked() == 1 })
		if got := s.loops.stats().requests; got != polls+1 {
			t.Fatalf("round %d: loop polls = %d; want %d (the poll read on the loop)", i, got, polls+1)
		}
		text := "hi " + string(rune('a'+i))
		if err := s.svc.Inject(context.Background(), &store.Message{From: "2", To: "1", Text: text}); err != nil {
			t.Fatal(err)
		}
		resp, body := rc.read()
		if resp.StatusCode != 200 || !strings.HasPrefix(body, "/**/cb(") || !strings.Contains(body, `"text":"`+text+`"`) {
			t.Fatalf("round %d: answer = %d %s; want 200, /**/cb( with %q", i, resp.StatusCode, body, text)
		}
		if got := s.loops.stats().ends; got != ends+1 {
			t.Errorf("round %d: polls ended on the loops = %d; want %d (the woken poll ended on its loop)", i, got, ends+1)
		}
		for k, v := range map[string]string{
			"Content-Type":                "application/javascript; charset=utf-8",
			"Access-Control-Allow-Origin": "http://site.example",
			"X-Content-Type-Options":      "nosniff",
			"Cache-Control":               "no-store",
		} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("round %d: %s = %q; want %q", i, k, got, v)
			}
		}
		cur = cursorOf(t, body)
	}
	// Events waiting: answered at once, by the loop.
	if err := s.svc.Inject(context.Background(), &store.Message{From: "2", To: "1", Text: "waiting"}); err != nil {
		t.Fatal(err)
	}
	polls := s.loops.stats().requests
	rc.write(get("/v1/poll?timeout=20&cursor="+cur+"&"+identity("1"), ""))
	resp, body := rc.read()
	if resp.StatusCode != 200 || !strings.Contains(body, `"text":"waiting"`) {
		t.Fatalf("poll with an event waiting = %d %s; want 200 with it", resp.StatusCode, body)
	}
	if got := s.loops.stats().requests; got != polls+1 {
		t.Errorf("loop polls = %d; want %d", got, polls+1)
	}
	// A refused poll (a bad identity) is answered by the loop too, and the
	// connection goes on.
	rc.write(get("/v1/poll?timeout=20&cursor="+cursorOf(t, body)+"&id=1&timestamp=x&hash=y", ""))
	if resp, body := rc.read(); resp.StatusCode != 401 || !strings.Contains(body, `"code":"AUTH_FAILED"`) {
		t.Errorf("poll with a bad identity = %d %s; want 401 AUTH_FAILED", resp.StatusCode, body)
	}
	rc.write(get("/v1/poll?timeout=0&cursor="+cursorOf(t, body)+"&"+identity("1"), ""))
	if resp, body := rc.read(); resp.StatusCode != 200 || !strings.Contains(body, `"events":[]`) {
		t.Errorf("poll after the refused one = %d %s; want 200 with no events", resp.StatusCode, body)
	}
}

// Anything but a lone GET /v1/poll read from a loop's connection goes back
// to Go's poller and fasthttp, in order, and the connection comes back to
// a loop when a poll parks on it again.
func TestLoopHandsOtherRequestsToGo(t *testing.T) {
	s, addr := startParkServer(t)
	tests := []struct {
		name string
		send func(rc *rawConn, cur string)
		want []string // what each answer's body contains, in order
	}{
		{"other endpoint", func(rc *rawConn, cur string) {
			rc.write(get("/healthz", ""))
		}, []string{"ok"}},
		{"pipelined", func(rc *rawConn, cur string) {
			rc.write(get("/v1/poll?timeout=0&cursor="+cur+"&"+identity("1"), ""), get("/healthz", ""))
		}, []string{`"events":[]`, "ok"}},
		{"split", func(rc *rawConn, cur string) {
			req := get("/v1/poll?timeout=0&cursor="+cur+"&"+identity("1"), "")
			rc.write(req[:20])
			time.Sleep(50 * time.Millisecond)
			rc.write(req[20:])
		}, []string{`"events":[]`}},
		{"http/1.0", func(rc *rawConn, cur string) {
			rc.write("GET /v1/poll?timeout=0&cursor=" + cur + "&" + identity("1") + " HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
		}, []string{`"events":[]`}},
		{"post, body cut", func(rc *rawConn, cur string) {
			body := "timeout=0&cursor=" + cur + "&" + identity("1")
			rc.write("POST /v1/poll HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body[:5])
			time.Sleep(50 * time.Millisecond)
			rc.write(body[5:])
		}, []string{`"events":[]`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, cur := loopConn(t, s, addr, "1")
			handed := s.loops.stats().handoffs
			tc.send(rc, cur)
			for i, want := range tc.want {
				resp, body := rc.read()
				if resp.StatusCode != 200 || !strings.Contains(body, want) {
					t.Fatalf("answer %d = %d %s; want 200 with %s", i, resp.StatusCode, body, want)
				}
				if strings.Contains(body, `"cursor"`) {
					cur = cursorOf(t, body)
				}
			}
			if got := s.loops.stats().handoffs; got != handed+1 {
				t.Errorf("handoffs = %d; want %d", got, handed+1)
			}
			// A poll that parks takes the connection back to a loop.
			polls := s.loops.stats().requests
			rc.write(get("/v1/poll?timeout=0.05&cursor="+cur+"&"+identity("1"), ""))
			rc.read()
			rc.write(get("/v1/poll?timeout=0&cursor="+cur+"&"+identity("1"), ""))
			if resp, body := rc.read(); resp.StatusCode != 200 || !strings.Contains(body, `"events":[]`) {
				t.Fatalf("poll after coming back = %d %s", resp.StatusCode, body)
			}
			if got := s.loops.stats().requests; got != polls+1 {
				t.Errorf("loop polls = %d; want %d (the last poll read on a loop again)", got, polls+1)
			}
		})
	}
}

// Other browser calls on a loop's connection (a POST poll, a send, an
// unknown path) are served from the loop too, on the hub's workers, and
// the connection stays on its loop.
func TestLoopServesCalls(t *testing.T) {
	s, addr := startParkServer(t)
	rc, cur := loopConn(t, s, addr, "1")
	st := s.loops.stats()
	requests, handed := st.requests, st.handoffs
	body := "timeout=0&cursor=" + cur + "&" + identity("1")
	rc.write("POST /v1/poll HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	if resp, body := rc.read(); resp.StatusCode != 200 || !strings.Contains(body, `"events":[]`) {
		t.Fatalf("POST poll = %d %s; want 200 with no events", resp.StatusCode, body)
	}
	rc.write(get("/v1/send?to=2&text=hello&callback=cb&"+identity("1"), ""))
	if resp, body := rc.read(); resp.StatusCode != 200 || !strings.HasPrefix(body, "/**/cb(") || !strings.Contains(body, `"id"`) {
		t.Fatalf("send = %d %s; want 200, /**/cb( with the message's id", resp.StatusCode, body)
	}
	rc.write(get("/v1/nothing?"+identity("1"), ""))
	if resp, body := rc.read(); resp.StatusCode != 404 || !strings.Contains(body, `"code":"NOT_FOUND"`) {
		t.Fatalf("unknown path = %d %s; want 404 NOT_FOUND", resp.StatusCode, body)
	}
	if st := s.loops.stats(); st.requests != requests+3 || st.handoffs != handed {
		t.Errorf("loop requests, handoffs = %d, %d; want %d, %d", st.requests, st.handoffs, requests+3, handed)
	}
	if n := onLoop(s); n != 1 {
		t.Errorf("connections on the loops = %d; want 1", n)
	}
	// The message was stored and reached its recipient.
	msgs, _, err := s.svc.History(context.Background(), chat.Caller{ID: "2"}, chat.HistoryParams{With: "1", Limit: 10})
	if err != nil || len(msgs) == 0 || msgs[len(msgs)-1].Text != "hello" {
		t.Errorf("history of 2 with 1 = %v, %v; want the message sent from the loop", msgs, err)
	}
}

// A request sent while the connection's poll is parked (an edge the loop
// saw while the poll held the connection) is served once the poll has
// been answered.
func TestLoopRequestWhileParked(t *testing.T) {
	s, addr := startParkServer(t)
	rc, cur := loopConn(t, s, addr, "1")
	rc.write(get("/v1/poll?timeout=20&cursor="+cur+"&"+identity("1"), ""))
	waitFor(t, "the poll to park", func() bool { return s.svc.Hub().Parked() == 1 })
	rc.write(get("/healthz", ""))
	time.Sleep(50 * time.Millisecond) // the loop sees the edge while the poll holds the connection
	if err := s.svc.Inject(context.Background(), &store.Message{From: "2", To: "1", Text: "late"}); err != nil {
		t.Fatal(err)
	}
	if resp, body := rc.read(); resp.StatusCode != 200 || !strings.Contains(body, `"text":"late"`) {
		t.Fatalf("parked poll = %d %s; want 200 with the message", resp.StatusCode, body)
	}
	if resp, body := rc.read(); resp.StatusCode != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("request sent while parked = %d %s; want /healthz's 200", resp.StatusCode, body)
	}
}

// A connection the client closes, or one that sends nothing for the
// idle time, leaves the loop and is closed.
func TestLoopClosesConnections(t *testing.T) {
	s, addr := startParkServer(t)
	s.loops.idle, s.loops.every = 200*time.Millisecond, 50*time.Millisecond // before the loops start
	rc, _ := loopConn(t, s, addr, "1")
	waitFor(t, "the idle connection to close", func() bool { return onLoop(s) == 0 })
	rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := rc.r.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("read on the idle connection = %d, %v; want EOF", n, err)
	}
	rc2, _ := loopConn(t, s, addr, "2")
	if n := onLoop(s); n != 1 {
		t.Fatalf("connections on the loops = %d; want 1", n)
	}
	rc2.c.Close()
	waitFor(t, "the closed connection to leave the loop", func() bool { return onLoop(s) == 0 })
}

// Shutdown answers a poll parked on a loop with Connection: close, closes
// the loops' idle connections and returns.
func TestLoopShutdown(t *testing.T) {
	s, addr := startParkServer(t)
	parked, cur := loopConn(t, s, addr, "1")
	idle, _ := loopConn(t, s, addr, "2")
	parked.write(get("/v1/poll?timeout=30&cursor="+cur+"&"+identity("1"), ""))
	waitFor(t, "the poll to park", func() bool { return s.svc.Hub().Parked() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil || ctx.Err() != nil {
		t.Fatalf("Shutdown() = %v (context %v); want nil, before its deadline", err, ctx.Err())
	}
	resp, body := parked.read()
	if resp.StatusCode != 200 || !strings.Contains(body, `"events":[]`) || !resp.Close {
		t.Errorf("parked poll at shutdown = %d %s (close %v); want 200, no events, Connection: close", resp.StatusCode, body, resp.Close)
	}
	for name, rc := range map[string]*rawConn{"parked": parked, "idle": idle} {
		rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := rc.r.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("%s connection after shutdown: read = %d, %v; want EOF", name, n, err)
		}
	}
	if n := onLoop(s); n != 0 {
		t.Errorf("connections on the loops after shutdown = %d; want 0", n)
	}
}

// An answer larger than the socket takes at once is finished on Go's
// poller, whole and in order, and the connection is served after it.
func TestLoopWriteRest(t *testing.T) {
	s, addr := startParkServer(t)
	loopConn(t, s, addr, "1") // starts the loops
	client, server := tcpPair(t)
	lc := s.loops.take(server, nil)
	if lc == nil {
		t.Fatal("take() = nil; want the connection")
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB: more than any socket buffer
	answer := append([]byte("HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(big))+"\r\n\r\n"), big...)
	s.loops.write(lc, answer, false)
	if n := onLoop(s); n != 1 { // the first connection only: lc went to Go
		t.Errorf("connections on the loops = %d; want 1", n)
	}
	rc := &rawConn{t: t, c: client, r: bufio.NewReader(client)}
	resp, body := rc.read()
	if resp.StatusCode != 200 || body != string(big) {
		t.Fatalf("answer = %d, %d bytes; want 200 and the %d bytes written", resp.StatusCode, len(body), len(big))
	}
	rc.write(get("/healthz", ""))
	if resp, body := rc.read(); resp.StatusCode != 200 || !strings.Contains(body, "ok") {
		t.Errorf("request after the long answer = %d %s; want /healthz's 200", resp.StatusCode, body)
	}
}

func TestLoopRequest(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"GET /v1/poll?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", lrPoll},
		{"GET /v1/poll HTTP/1.1\r\nHost: a\r\n\r\n", lrPoll},
		{"POST /v1/poll HTTP/1.1\r\nHost: a\r\n\r\n", lrCall},
		{"GET /v1/send?text=a HTTP/1.1\r\nHost: a\r\n\r\n", lrCall},
		{"POST /v1/send HTTP/1.1\r\nContent-Length: 3\r\n\r\na=b", lrCall},
		{"GET /v1/polls HTTP/1.1\r\nHost: a\r\n\r\n", lrCall}, // answered 404 by the router
		{"POST /v1/upload HTTP/1.1\r\nHost: a\r\n\r\n", lrNone},
		{"GET /v1/upload?x HTTP/1.1\r\nHost: a\r\n\r\n", lrNone},
		{"GET /v1/poll?x=1 HTTP/1.1\r\nHost: a\r\n", lrNone}, // cut
		{"OPTIONS /v1/poll HTTP/1.1\r\nHost: a\r\n\r\n", lrNone},
		{"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", lrNone},
		{"GET /v1/poll\r\n\r\n", lrNone},
		{"GET /v1/poll", lrNone},
		{"", lrNone},
	}
	for _, tc := range tests {
		if got := loopRequest([]byte(tc.in)); got != tc.want {
			t.Errorf("loopRequest(%q) = %d; want %d", tc.in, got, tc.want)
		}
	}
}

// Whatever a client sends on a loop's connection, the server answers it
// with HTTP (or closes the connection), and its loops go on serving.
func FuzzLoopRequest(f *testing.F) {
	f.Add([]byte("GET /v1/poll?timeout=0 HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("GET /v1/poll?timeout=0 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n"))
	f.Add([]byte("GET /v1/poll?timeout=0 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"))
	f.Add([]byte("GET /v1/poll?callback=%00 HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("GET /v1/poll HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"))
	f.Add([]byte("GET /v1/poll?timeout=0 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
	f.Add([]byte("GET /v1/poll?timeout=0&timeout=1e999 HTTP/1.1\r\n\r\n"))
	f.Add([]byte("\x00\xff\r\n\r\n"))
	s, addr := startParkServer(f)
	f.Fuzz(func(t *testing.T, req []byte) {
		rc, _ := loopConn(t, s, addr, "1")
		rc.c.SetDeadline(time.Now().Add(2 * time.Second))
		rc.write(string(req))
		if _, err := rc.r.Peek(1); err == nil {
			resp, err := http.ReadResponse(rc.r, nil)
			if err != nil {
				t.Fatalf("answer to %q is not HTTP: %v", req, err)
			}
			resp.Body.Close()
		}
		rc.c.Close()
		// The loops still serve: a new connection's polls park and answer.
		loopConn(t, s, addr, "2")
	})
}

// Many connections at once, each sending a request behind its parked
// poll while messages wake the polls: every answer comes, in order (the
// edges a loop sees while a poll holds the connection are not lost).
// With offload (cluster mode), on the hub's workers, the same.
func TestLoopManyConnections(t *testing.T) {
	for _, offload := range []bool{false, true} {
		t.Run(map[bool]string{false: "on the loop", true: "offload"}[offload], func(t *testing.T) {
			s, addr := startParkServer(t)
			s.loops.offload = offload // before the loops start
			manyConnections(t, s, addr)
		})
	}
}

func manyConnections(t *testing.T, s *Server, addr string) {
	s.loops.idle = time.Minute // the set-up below takes longer than ReadTimeout
	const conns, rounds = 40, 6
	rcs := make([]*rawConn, conns)
	curs := make([]string, conns)
	user := func(i int) string { return "u" + strconv.Itoa(i) }
	for i := range conns {
		rcs[i], curs[i] = loopConn(t, s, addr, user(i))
	}
	for r := range rounds {
		for i, rc := range rcs {
			rc.write(get("/v1/poll?timeout=20&cursor="+curs[i]+"&"+identity(user(i)), ""))
		}
		// Parked, so that the requests below come while the polls hold
		// their connections (a request read with the poll, pipelined, is
		// answered on Go's poller with Connection: close).
		waitFor(t, "the polls to park", func() bool { return s.svc.Hub().Parked() == conns })
		if r%2 == 0 {
			for _, rc := range rcs {
				rc.write(get("/healthz", ""))
			}
		}
		for i := range rcs {
			text := user(i) + "-" + strconv.Itoa(r)
			if err := s.svc.Inject(context.Background(), &store.Message{From: "1", To: user(i), Text: text}); err != nil {
				t.Fatal(err)
			}
		}
		for i, rc := range rcs {
			text := user(i) + "-" + strconv.Itoa(r)
			resp, body := rc.read()
			if resp.StatusCode != 200 || !strings.Contains(body, `"text":"`+text+`"`) {
				t.Fatalf("round %d, %s: poll = %d %s; want 200 with %q", r, user(i), resp.StatusCode, body, text)
			}
			curs[i] = cursorOf(t, body)
			if r%2 == 0 {
				if resp, body := rc.read(); resp.StatusCode != 200 || !strings.Contains(body, "ok") {
					t.Fatalf("round %d, %s: request sent while parked = %d %s; want /healthz's 200", r, user(i), resp.StatusCode, body)
				}
			}
		}
	}
}

// A connection handed over after a shutdown that came before the loops
// started stays with its caller (no loop to put it on).
func TestLoopTakeAfterShutdown(t *testing.T) {
	s, _ := startParkServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_, server := tcpPair(t)
	if lc := s.loops.take(server, nil); lc != nil {
		t.Fatalf("take() after shutdown = %v; want nil", lc)
	}
	if _, err := server.Write([]byte("x")); err != nil {
		t.Errorf("connection after a refused take: Write = %v; want it still open", err)
	}
}
