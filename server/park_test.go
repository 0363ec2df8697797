package server

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"pollchat/bridge"
	"pollchat/chat"
	"pollchat/config"
	"pollchat/store"
)

const parkSecret = "park-test-secret"

// startParkServer runs a Server on a loopback listener with the embedded
// store and static users 1 and 2.
func startParkServer(t testing.TB) (*Server, string) {
	t.Helper()
	return startParkServerWith(t, nil, chat.Config{})
}

// startParkServerWith is startParkServer with the users' source src (nil:
// users 1 and 2 from the config) and the chat settings cc (its rooms are
// the config's).
func startParkServerWith(t testing.TB, src bridge.Source, cc chat.Config) (*Server, string) {
	t.Helper()
	cfg := config.Default(parkSecret)
	cfg.Server.AllowedOrigins = []string{"http://site.example"}
	cfg.Users.Static = []config.User{{UserID: "1", Name: "Ada"}, {UserID: "2", Name: "Grace"}}
	st, err := store.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if src == nil {
		if src, err = bridge.NewSource(cfg.Users); err != nil {
			t.Fatal(err)
		}
	}
	dir := bridge.NewDirectory(src, bridge.DirectoryConfigFor(cfg.Users))
	v, err := bridge.NewVerifier(cfg.Auth)
	if err != nil {
		t.Fatal(err)
	}
	cc.Rooms = cfg.Chat.Rooms
	svc, err := chat.New(cc, st, dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, svc, dir, v, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		svc.Close()
		st.Close()
	})
	return s, ln.Addr().String()
}

func identity(id string) string {
	ts := time.Now().UTC().Format("060102150405")
	h := sha1.Sum([]byte(id + ts + parkSecret))
	return "id=" + id + "&timestamp=" + ts + "&hash=" + hex.EncodeToString(h[:])
}

// rawConn is one keep-alive connection spoken to by hand.
type rawConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

func (rc *rawConn) write(reqs ...string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, strings.Join(reqs, "")); err != nil {
		rc.t.Fatal(err)
	}
}

func (rc *rawConn) read() (*http.Response, string) {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(rc.r, nil)
	if err != nil {
		rc.t.Fatalf("read answer: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		rc.t.Fatal(err)
	}
	return resp, string(b)
}

func get(path, extra string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + extra + "\r\n"
}

func cursorOf(t testing.TB, body string) string {
	t.Helper()
	i := strings.Index(body, `"cursor":"`)
	if i < 0 {
		t.Fatalf("no cursor in %s", body)
	}
	rest := body[i+len(`"cursor":"`):]
	return rest[:strings.IndexByte(rest, '"')]
}

// A parked poll is answered on its hijacked connection with the headers
// and encoding of an ordinary answer, and the connection then serves the
// next request.
func TestParkedPollAnswersAndKeepsConnection(t *testing.T) {
	s, addr := startParkServer(t)
	tests := []struct {
		name, query, headers string
		wantType, wantPrefix string
		wantHeader           [2]string
	}{
		{"json", "", "", "application/json; charset=utf-8", `{"cursor":`, [2]string{"Cache-Control", "no-store"}},
		{"jsonp", "&callback=cb.x", "", "application/javascript; charset=utf-8", `/**/cb.x({"cursor":`, [2]string{"X-Content-Type-Options", "nosniff"}},
		{"cors", "", "Origin: http://site.example\r\n", "application/json; charset=utf-8", `{"cursor":`, [2]string{"Access-Control-Allow-Origin", "http://site.example"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, addr)
			rc.write(get("/v1/poll?"+identity("1"), "")) // a poll without a cursor answers the current one
			_, body := rc.read()
			cur := cursorOf(t, body)
			rc.write(get("/v1/poll?timeout=20&cursor="+cur+tc.query+"&"+identity("1"), tc.headers))
			deadline := time.Now().Add(5 * time.Second)
			for s.svc.Hub().Parked() == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if n := s.svc.Hub().Parked(); n != 1 {
				t.Fatalf("Parked() = %d; want 1", n)
			}
			// Injected, not sent over HTTP: a send's user lookup derives a
			// context from fasthttp's RequestCtx, whose Done races with
			// Shutdown under -race (fasthttp's, not the park's).
			if err := s.svc.Inject(context.Background(), &store.Message{From: "2", To: "1", Text: "hi " + tc.name}); err != nil {
				t.Fatalf("Inject() = %v; want nil", err)
			}
			resp, body := rc.read()
			if resp.StatusCode != 200 {
				t.Errorf("poll status = %d; want 200", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != tc.wantType {
				t.Errorf("Content-Type = %q; want %q", got, tc.wantType)
			}
			if got := resp.Header.Get(tc.wantHeader[0]); got != tc.wantHeader[1] {
				t.Errorf("%s = %q; want %q", tc.wantHeader[0], got, tc.wantHeader[1])
			}
			if !strings.HasPrefix(body, tc.wantPrefix) || !strings.Contains(body, `"text":"hi `+tc.name+`"`) {
				t.Errorf("poll body = %s; want %s… with the message", body, tc.wantPrefix)
			}
			// The same connection serves the next request.
			rc.write(get("/v1/poll?timeout=0&cursor="+cursorOf(t, body)+"&"+identity("1"), ""))
			if resp, body := rc.read(); resp.StatusCode != 200 || !strings.Contains(body, `"events":[]`) {
				t.Errorf("next poll on the connection = %d %s; want 200 with no events", resp.StatusCode, body)
			}
		})
	}
}

// A request pipelined behind a parked poll: the poll is answered with
// Connection: close and the connection closes (the client sends the rest
// again on a new one).
func TestParkedPollPipelined(t *testing.T) {
	_, addr := startParkServer(t)
	rc := dialRaw(t, addr)
	rc.write(get("/v1/poll?"+identity("1"), "")) // a poll without a cursor answers the current one
	_, body := rc.read()
	rc.write(get("/v1/poll?timeout=0.2&cursor="+cursorOf(t, body)+"&"+identity("1"), ""),
		get("/healthz", ""))
	resp, body := rc.read()
	if resp.StatusCode != 200 || !strings.Contains(body, `"events":[]`) {
		t.Fatalf("poll = %d %s; want 200 with no events", resp.StatusCode, body)
	}
	if !resp.Close {
		t.Errorf("poll answer has no Connection: close; want it (a request was pipelined behind it)")
	}
	rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := rc.r.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("read after the poll = %d, %v; want EOF", n, err)
	}
	// A new connection works as usual.
	rc2 := dialRaw(t, addr)
	rc2.write(get("/healthz", ""))
	if resp, _ := rc2.read(); resp.StatusCode != 200 {
		t.Errorf("/healthz = %d; want 200", resp.StatusCode)
	}
}

// Shutdown answers parked polls before it returns.
func TestShutdownAnswersParkedPolls(t *testing.T) {
	s, addr := startParkServer(t)
	rc := dialRaw(t, addr)
	rc.write(get("/v1/poll?"+identity("1"), "")) // a poll without a cursor answers the current one
	_, body := rc.read()
	rc.write(get("/v1/poll?timeout=30&cursor="+cursorOf(t, body)+"&"+identity("1"), ""))
	deadline := time.Now().Add(5 * time.Second)
	for s.svc.Hub().Parked() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown() = %v; want nil", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("Shutdown waited for its deadline; want it to return once the poll was answered")
	}
	resp, body := rc.read()
	if resp.StatusCode != 200 || !strings.Contains(body, `"events":[]`) {
		t.Errorf("parked poll at shutdown = %d %s; want 200 with no events", resp.StatusCode, body)
	}
}

// hijackLike has the layout of fasthttp's hijacked connection.
type hijackLike struct {
	net.Conn
	r io.Reader
}

func (c *hijackLike) UnsafeConn() net.Conn { return c.Conn }

// noUnwrap has the layout but no way to reach the connection underneath.
type noUnwrap struct {
	net.Conn
	r io.Reader
}

func TestHoldsBuffer(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	tests := []struct {
		name string
		c    net.Conn
		want bool
	}{
		{"reads the connection", &hijackLike{Conn: a, r: a}, false},
		{"reads a buffer", &hijackLike{Conn: a, r: bufio.NewReader(a)}, true},
		{"no reader field", a, true},
		{"nil reader", &hijackLike{Conn: a}, true},
		{"no UnsafeConn", &noUnwrap{Conn: a, r: a}, true},
	}
	for _, tc := range tests {
		if got := holdsBuffer(tc.c); got != tc.want {
			t.Errorf("holdsBuffer(%s) = %v; want %v", tc.name, got, tc.want)
		}
	}
}

// A poll whose events are there already is answered at once on the
// ordinary path, without hijacking: a request pipelined behind it is
// served on the same connection (a hijacked poll would close it).
func TestPollWithEventsAnsweredWithoutHijack(t *testing.T) {
	s, addr := startParkServer(t)
	rc := dialRaw(t, addr)
	rc.write(get("/v1/poll?"+identity("1"), "")) // a poll without a cursor answers the current one
	_, body := rc.read()
	cur := cursorOf(t, body)
	if err := s.svc.Inject(context.Background(), &store.Message{From: "2", To: "1", Text: "already here"}); err != nil {
		t.Fatalf("Inject() = %v; want nil", err)
	}
	rc.write(get("/v1/poll?timeout=20&callback=cb&cursor="+cur+"&"+identity("1"), ""), get("/healthz", ""))
	resp, body := rc.read()
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "/**/cb(") || !strings.Contains(body, `"text":"already here"`) {
		t.Fatalf("poll = %d %s; want 200 with the message, in cb", resp.StatusCode, body)
	}
	if resp.Close {
		t.Errorf("poll answer has Connection: close; want the connection kept")
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q; want no-store", got)
	}
	if resp, _ := rc.read(); resp.StatusCode != 200 {
		t.Errorf("/healthz pipelined behind the poll = %d; want 200", resp.StatusCode)
	}
}

// A poll can end (a message, the timeout) before fasthttp hands its
// connection over: the answer is then written when the connection comes,
// and the connection goes on serving requests.
func TestParkedPollEndsBeforeHijack(t *testing.T) {
	s, _ := startParkServer(t)
	a, b := net.Pipe()
	defer b.Close()
	pk := newParkedPoll(s, []byte("cb"))
	pk.hdr = plainHeaders
	s.parking.wg.Add(1)
	pk.doneFn(chat.PollResult{Cursor: "c7"})
	pk.hijackFn(&hijackLike{Conn: a, r: a})
	rc := &rawConn{t: t, c: b, r: bufio.NewReader(b)}
	resp, body := rc.read()
	if resp.StatusCode != 200 || body != `/**/cb({"cursor":"c7","events":[]});` {
		t.Fatalf("answer = %d %q; want 200 /**/cb({\"cursor\":\"c7\",\"events\":[]});", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q; want nosniff", got)
	}
	if resp.Close {
		t.Errorf("answer has Connection: close; want the connection kept")
	}
	rc.write(get("/healthz", ""))
	if resp, _ := rc.read(); resp.StatusCode != 200 {
		t.Errorf("/healthz after the answer = %d; want 200", resp.StatusCode)
	}
}

// After a parked poll's answer the worker reads the next request itself
// (serveNext): a poll with a request pipelined behind it, sent then, is
// still answered with Connection: close, and a later poll on a kept
// connection parks and answers as usual.
func TestRequestsAfterParkedAnswer(t *testing.T) {
	_, addr := startParkServer(t)
	rc := dialRaw(t, addr)
	rc.write(get("/v1/poll?"+identity("1"), ""))
	_, body := rc.read()
	cur := cursorOf(t, body)
	poll := get("/v1/poll?timeout=0.1&cursor="+cur+"&"+identity("1"), "")
	for i := range 2 { // parked, answered, then the next one read by serveNext
		rc.write(poll)
		if resp, body := rc.read(); resp.StatusCode != 200 || resp.Close || !strings.Contains(body, `"events":[]`) {
			t.Fatalf("poll %d = %d close=%v %s; want 200 with no events, connection kept", i, resp.StatusCode, resp.Close, body)
		}
	}
	rc.write(poll, get("/healthz", ""))
	resp, _ := rc.read()
	if resp.StatusCode != 200 || !resp.Close {
		t.Errorf("poll with a request pipelined = %d close=%v; want 200 with Connection: close", resp.StatusCode, resp.Close)
	}
}

func TestPrimedConn(t *testing.T) {
	client, server := tcpPair(t)
	rc, err := server.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	go client.Write([]byte("hello"))
	pc := &primedConn{Conn: server, buf: primeBufs.Get().(*primeBuf), rc: rc}
	pc.prime()
	one := make([]byte, 1)
	if n, err := pc.Read(one); n != 1 || err != nil || one[0] != 'h' {
		t.Fatalf("first Read = %d %v %q; want 1 <nil> h", n, err, one[:n])
	}
	if !pc.buffered() {
		t.Errorf("buffered() = false after 1 of 5 bytes; want true")
	}
	rest := make([]byte, 16)
	if n, err := pc.Read(rest); err != nil || string(rest[:n]) != "ello" {
		t.Fatalf("second Read = %q %v; want ello <nil>", rest[:n], err)
	}
	if pc.buffered() || pc.buf != nil {
		t.Errorf("after the primed bytes: buffered()=%v, buf kept=%v; want false, false", pc.buffered(), pc.buf != nil)
	}
	// The connection itself is read next; a closed peer reads as EOF.
	client.Close()
	if n, err := pc.Read(rest); n != 0 || err != io.EOF {
		t.Errorf("Read after close = %d %v; want 0 EOF", n, err)
	}
	pc2 := &primedConn{Conn: server, buf: primeBufs.Get().(*primeBuf), rc: rc}
	pc2.prime()
	if n, err := pc2.Read(rest); n != 0 || err != io.EOF {
		t.Errorf("primed Read of a closed peer = %d %v; want 0 EOF", n, err)
	}
}

// tcpPair is a connected loopback pair, both ends closed when the test
// ends.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if client, err = net.Dial("tcp", ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if server, err = ln.Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}

// deadlineLog is a connection that records the deadlines set on it.
type deadlineLog struct {
	net.Conn
	calls []string
}

func (d *deadlineLog) SetReadDeadline(t time.Time) error {
	d.calls = append(d.calls, "read "+deadlineName(t))
	return d.Conn.SetReadDeadline(t)
}

func (d *deadlineLog) SetWriteDeadline(t time.Time) error {
	d.calls = append(d.calls, "write "+deadlineName(t))
	return d.Conn.SetWriteDeadline(t)
}

func (d *deadlineLog) SetDeadline(t time.Time) error {
	d.calls = append(d.calls, "both "+deadlineName(t))
	return d.Conn.SetDeadline(t)
}

func deadlineName(t time.Time) string {
	switch {
	case t.IsZero():
		return "none"
	case t.Before(time.Now()):
		return "past"
	}
	return "future"
}

// TestPrimedConnDeadlines: the deadlines fasthttp asks for while it reads
// primed bytes reach the connection only when it is read or written
// itself, with their meaning (a deadline that has passed fails that read);
// clearing them clears the connection's at once, so that no timer stays
// armed while a poll is parked.
func TestPrimedConnDeadlines(t *testing.T) {
	client, server := tcpPair(t)
	rc, err := server.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	log := &deadlineLog{Conn: server}
	rd := time.Now().Add(time.Minute) // as serveNext sets it before prime
	if err := server.SetReadDeadline(rd); err != nil {
		t.Fatal(err)
	}

	// A parked poll: deadlines asked for while the request is read from
	// the primed bytes, then both cleared on hijack.
	pc := &primedConn{Conn: log, buf: primeBufs.Get().(*primeBuf), rc: rc, rd: rd, prd: rd}
	pc.prime()
	pc.SetReadDeadline(time.Now().Add(time.Minute))
	buf := make([]byte, 64)
	if n, err := pc.Read(buf); err != nil || string(buf[:n]) != "GET / HTTP/1.1\r\n\r\n" {
		t.Fatalf("Read = %q %v; want the request", buf[:n], err)
	}
	pc.SetReadDeadline(time.Now().Add(time.Minute))
	pc.SetWriteDeadline(time.Now().Add(time.Minute))
	if err := pc.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(log.calls, ", "); got != "read none" {
		t.Errorf("deadlines set on a parked poll's connection: %q; want only \"read none\" (serveNext's cleared)", got)
	}

	// A request answered at once: the write deadline asked for is set
	// before the answer is written, and a read deadline that has passed
	// fails the read of the connection that follows the primed bytes.
	log.calls = nil
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	pc = &primedConn{Conn: log, buf: primeBufs.Get().(*primeBuf), rc: rc}
	pc.prime()
	pc.SetWriteDeadline(time.Now().Add(time.Minute))
	if _, err := pc.Write([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	pc.SetReadDeadline(time.Now().Add(-time.Second))
	if n, err := pc.Read(buf); n != 1 || err != nil {
		t.Fatalf("Read of the primed byte = %d %v; want 1 <nil>", n, err)
	}
	if n, err := pc.Read(buf); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read past a passed deadline = %d %v; want a deadline error", n, err)
	}
	if got := strings.Join(log.calls, ", "); got != "write future, read past" {
		t.Errorf("deadlines set: %q; want \"write future, read past\"", got)
	}
	got := make([]byte, 6)
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "answer" {
		t.Errorf("client read %q %v; want answer", got, err)
	}
}

// TestWriteNow: an answer the socket takes is written whole with no
// deadline; on a socket that takes nothing more, what is left comes back
// for the caller to write with one; a closed connection reports an error
// or leaves everything to the caller's write.
func TestWriteNow(t *testing.T) {
	client, server := tcpPair(t)
	b := answerBufs.Get().(*answerBuf)
	rest, err := b.writeNow(server, nil, []byte("hello"))
	if err != nil || len(rest) != 0 {
		t.Fatalf("writeNow = %q %v; want all written", rest, err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "hello" {
		t.Fatalf("client read %q %v; want hello", got, err)
	}
	// Fill the socket: the client reads nothing.
	server.(*net.TCPConn).SetWriteBuffer(4096)
	big := make([]byte, 8<<20)
	rest, err = b.writeNow(server, nil, big)
	if err != nil || len(rest) == 0 || len(rest) == len(big) {
		t.Fatalf("writeNow of 8 MiB to a client not reading: %d left, %v; want part written, the rest left", len(rest), err)
	}
	server.Close()
	rest, err = b.writeNow(server, nil, []byte("late"))
	if err == nil && string(rest) != "late" {
		t.Errorf("writeNow on a closed connection = %q %v; want an error or all left", rest, err)
	}
}
