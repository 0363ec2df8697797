package e2e

// A signed-in user who tries to starve the others, against the built
// binary. Each test is a row of the abuse table in docs/security.md.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pollchat/internal/testsvc"
)

// popupToken opens the popup chat page for id <-> target and returns the
// scoped token it carries.
func popupToken(t *testing.T, c *testsvc.Client, id, target string) string {
	t.Helper()
	ts := testsvc.Timestamp(time.Now())
	r := c.Do(t, "GET", "/chat", url.Values{"id": {id}, "target": {target}, "timestamp": {ts}, "hash": {testsvc.SHA1Hex(id, target, ts, testsvc.LinkSecret)}})
	out := string(r.Body)
	i := strings.Index(out, `"token":"`)
	if r.Status != 200 || i < 0 {
		t.Fatalf("chat page = %d %.300s", r.Status, out)
	}
	return strings.SplitN(out[i+len(`"token":"`):], `"`, 2)[0]
}

// pollAnswer is a poll's answer, an error included.
type pollAnswer struct {
	Cursor string            `json:"cursor"`
	Events []json.RawMessage `json:"events"`
	Reset  bool              `json:"reset"`
	Error  *struct {
		Code       string `json:"code"`
		RetryAfter int    `json:"retry_after"`
	} `json:"error"`
}

func pollOnce(c *testsvc.Client, v url.Values) (pollAnswer, error) {
	var a pollAnswer
	r, err := c.DoErr("GET", "/v1/poll", v)
	if err != nil {
		return a, err
	}
	return a, json.Unmarshal(r.Body, &a)
}

// TestAbuseScopedPolls: seven polls on one popup token do not evict the
// user's real poll (scoped tokens have their own quota of 6), and the
// evicted scoped poll answers RATE_LIMITED with retry_after, so a widget
// backs off instead of re-polling at once. The real poll is counted: one
// poll, answered with the message (old code: evicted, re-polled in a loop).
func TestAbuseScopedPolls(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{PollTimeout: "30s"})
	tok := popupToken(t, c, "3", "4")
	real := c.NewPoller(t, "3")

	var realPolls atomic.Int64
	realGot := make(chan pollAnswer, 1)
	go func() { // the real widget: re-polls at once after an empty answer
		cursor := real.Cursor
		for i := 0; i < 2000; i++ {
			realPolls.Add(1)
			a, err := pollOnce(c, with(c.Ident("3"), "cursor", cursor, "timeout", "30"))
			if err != nil || a.Error != nil || len(a.Events) > 0 {
				realGot <- a
				return
			}
			cursor = a.Cursor
		}
		realGot <- pollAnswer{}
	}()
	waitParked(t, c, 1)

	hello := c.Do(t, "GET", "/v1/hello", url.Values{"token": {tok}}).Map(t)
	cursor := hello["cursor"].(string)
	stop := make(chan struct{})
	var scopedPolls atomic.Int64
	evictions := make(chan int, 64)
	for k := 0; k < 7; k++ {
		go func() { // the popup, seven times: backs off as the widget does
			for {
				select {
				case <-stop:
					return
				default:
				}
				scopedPolls.Add(1)
				a, err := pollOnce(c, url.Values{"token": {tok}, "cursor": {cursor}, "timeout": {"30"}})
				if err != nil {
					return
				}
				if a.Error != nil {
					select {
					case evictions <- a.Error.RetryAfter:
					default:
					}
					if a.Error.Code != "RATE_LIMITED" {
						return
					}
					select {
					case <-stop:
						return
					case <-time.After(time.Duration(a.Error.RetryAfter) * time.Second):
					}
				}
			}
		}()
	}
	for i := 0; i < 2; i++ {
		select {
		case ra := <-evictions:
			if ra < 1 {
				t.Fatalf("evicted scoped poll: retry_after %d; want at least 1", ra)
			}
		case a := <-realGot:
			t.Fatalf("the real poll answered during the popup flood: %+v (after %d polls)", a, realPolls.Load())
		case <-time.After(20 * time.Second):
			t.Fatalf("no scoped poll evicted (7 parked, quota 6)")
		}
	}
	c.MustCall(t, "4", "send", "to", "3", "text", "for the real tab")
	a := <-realGot
	close(stop)
	if len(a.Events) != 1 || !strings.Contains(string(a.Events[0]), "for the real tab") {
		t.Fatalf("real poll = %+v; want the message", a)
	}
	if n := realPolls.Load(); n != 1 {
		t.Fatalf("the real widget polled %d times; want 1 (never evicted by the popup's polls)", n)
	}
	t.Logf("real polls %d, scoped polls %d", realPolls.Load(), scopedPolls.Load())
}

// rss is the resident set of pid in kB.
func rss(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// pollFrom polls uid once from cursor without waiting.
func pollFrom(t *testing.T, c *testsvc.Client, uid, cursor string) pollAnswer {
	t.Helper()
	a, err := pollOnce(c, with(c.Ident(uid), "cursor", cursor, "timeout", "0"))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestAbuseTypingAndReadFlood: one user floods typing and read marks at
// another between two of their polls. Every call draws from one bucket per
// user, and typing is coalesced (one event a second per sender and
// conversation), so the victim's next poll has no reset and carries the
// message sent meanwhile (old code: reset:true, the message lost from the
// stream). Read marks are clamped to the newest message.
func TestAbuseTypingAndReadFlood(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{Grace: longGrace})
	victim := c.NewPoller(t, "3")
	limited := 0
	for i := 0; i < 300; i++ {
		r := c.Call(t, "4", "typing", "to", "3")
		switch r.ErrorCode() {
		case "":
		case "RATE_LIMITED":
			limited++
		default:
			t.Fatalf("typing %d = %s", i, r.Body)
		}
	}
	c.MustCall(t, "5", "send", "to", "3", "text", "after the typing flood")
	a := pollFrom(t, c, "3", victim.Cursor)
	typing := 0
	got := false
	for _, ev := range a.Events {
		typing += strings.Count(string(ev), `"type":"typing"`)
		got = got || strings.Contains(string(ev), "after the typing flood")
	}
	if a.Reset || !got || typing > 10 {
		t.Fatalf("after 300 typing calls: reset %v, message %v, %d typing events; want no reset, the message, a few typing events", a.Reset, got, typing)
	}
	if limited == 0 {
		t.Fatalf("300 typing calls at once: none RATE_LIMITED")
	}
	t.Logf("typing flood: %d of 300 refused, %d typing events reached the victim", limited, typing)

	// A read flood at user 5, who wrote to 3.
	peer := c.NewPoller(t, "5")
	msg := c.MustCall(t, "3", "send", "to", "5", "text", "hi 5")["message"].(map[string]any)
	id := int64(msg["id"].(float64))
	limited = 0
	for i := 0; i < 300; i++ {
		r := c.Call(t, "3", "read", "with", "5", "upto", "999999999999")
		switch r.ErrorCode() {
		case "":
		case "RATE_LIMITED":
			limited++
		default:
			t.Fatalf("read %d = %s", i, r.Body)
		}
	}
	c.MustCall(t, "1", "send", "to", "5", "text", "after the read flood")
	a = pollFrom(t, c, "5", peer.Cursor)
	got = false
	reads := 0
	for _, ev := range a.Events {
		var e map[string]any
		json.Unmarshal(ev, &e)
		if e["type"] == "read" {
			reads++
			if up, _ := e["upto"].(float64); int64(up) != id {
				t.Fatalf("read event %s: upto not clamped to the newest message %d", ev, id)
			}
		}
		got = got || strings.Contains(string(ev), "after the read flood")
	}
	if a.Reset || !got || limited == 0 {
		t.Fatalf("after 300 read marks: reset %v, message %v, %d refused; want no reset, the message, some RATE_LIMITED", a.Reset, got, limited)
	}
	t.Logf("read flood: %d of 300 refused, %d read events reached the peer", limited, reads)
}

// TestAbuseMutedTypingJoin: a user muted in a room can neither type there
// nor join it again once out of it (MUTED), as they cannot send.
func TestAbuseMutedTypingJoin(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{Grace: longGrace})
	roomCall(t, c, "1", "join", "lobby")
	roomCall(t, c, "3", "join", "lobby")
	c.MustCall(t, "1", "send", "room", "lobby", "text", "/mute Linus 5")
	// A member still in the room gets its state back (a reload)...
	roomCall(t, c, "3", "join", "lobby")
	roomCall(t, c, "3", "leave", "lobby")
	// ...but once out, a muted user cannot join (a user_joined to everyone).
	for _, call := range [][]string{{"typing", "room", "lobby"}, {"join", "room", "lobby"}, {"send", "room", "lobby", "text", "hi"}} {
		if r := c.Call(t, "3", call[0], call[1:]...); r.ErrorCode() != "MUTED" {
			t.Fatalf("%s by a muted user = %s; want MUTED", call[0], r.Body)
		}
	}
	if r := c.Call(t, "3", "typing", "room", "help"); r.ErrorCode() != "" {
		t.Fatalf("typing in a room where the user is not muted = %s", r.Body)
	}
}

// TestAbuseUnknownUsers: users calls with 100 fresh unknown ids each. Every
// unknown id costs from the caller's bucket, so the host site's users-info
// URL is asked a bounded number of times (old code: once per call) and the
// server's memory does not grow with the flood.
func TestAbuseUnknownUsers(t *testing.T) {
	t.Parallel()
	docroot := t.TempDir()
	users, _ := json.Marshal(map[string]map[string]string{"3": {"user_id": "3", "name": "Linus"}, "4": {"user_id": "4", "name": "Margaret"}})
	os.WriteFile(filepath.Join(docroot, "users.json"), users, 0o644)
	os.WriteFile(filepath.Join(docroot, "users-info.php"), []byte(usersInfoPHP), 0o644)
	site := testsvc.StartPHP(t, docroot)
	p, c := start(t, testsvc.Options{Users: fmt.Sprintf(
		"[users]\nsource = \"http\"\nallow_unknown = true\n[users.http]\nurl = %q\nlogin = \"site\"\npassword = \"site-pass\"\n", site.URL+"/users-info.php")})
	c.MustCall(t, "3", "hello")
	before := strings.Count(site.Log(), "users-info.php")
	rss0 := rss(t, p.Pid())
	const calls = 200
	limited := 0
	for i := 0; i < calls; i++ {
		ids := make([]string, 100)
		for k := range ids {
			ids[k] = fmt.Sprintf("ghost-%d-%d", i, k)
		}
		r := c.Call(t, "3", "users", "ids", strings.Join(ids, ","))
		switch r.ErrorCode() {
		case "":
		case "RATE_LIMITED":
			limited++
		default:
			t.Fatalf("users %d = %s", i, r.Body)
		}
	}
	asked := strings.Count(site.Log(), "users-info.php") - before
	t.Logf("%d users calls of 100 unknown ids: %d refused, %d users-info requests, RSS %d -> %d kB", calls, limited, asked, rss0, rss(t, p.Pid()))
	if asked > calls/4 || limited == 0 {
		t.Fatalf("%d users calls of 100 unknown ids made %d users-info requests (%d refused); want a bounded number", calls, asked, limited)
	}
	// Known ids still answer once the bucket has refilled a little.
	r := c.Call(t, "4", "users", "ids", "3,4")
	if m := r.Map(t); len(m["users"].([]any)) != 2 {
		t.Fatalf("users 3,4 as another user = %s", r.Body)
	}
}

// TestAbuseUnvalidatedIDs: every user-id parameter meets the one rule of
// config.ValidUserID (1..64 bytes, printable, no comma or space), and read
// marks need a conversation that exists. Old code stored a read mark for
// any `with` (1,000 of 32 kB grew the store to 84 MB).
func TestAbuseUnvalidatedIDs(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{Chat: "rate = 0"})
	long := strings.Repeat("x", 32<<10)
	for _, tc := range []struct{ endpoint, param, value string }{
		{"read", "with", long},
		{"read", "with", strings.Repeat("y", 65)},
		{"history", "with", long},
		{"send", "to", "3,4"},
		{"typing", "to", long},
		{"request", "to", "a b"},
		{"answer", "from", long},
		{"block", "user_id", long},
		{"users", "ids", "3," + long},
	} {
		v := with(c.Ident("3"), tc.param, tc.value, "upto", "1", "text", "hi", "accept", "1", "block", "1")
		if r := c.Do(t, "POST", "/v1/"+tc.endpoint, v); r.ErrorCode() != "BAD_REQUEST" {
			t.Errorf("%s with %s of %d bytes = %.200s; want BAD_REQUEST", tc.endpoint, tc.param, len(tc.value), r.Body)
		}
	}
	if r := c.Call(t, "3", "read", "with", "4", "upto", "5"); r.ErrorCode() != "NOT_FOUND" {
		t.Fatalf("read of a conversation without messages = %s; want NOT_FOUND", r.Body)
	}
	if r := c.Call(t, "3", "read", "with", "ghost", "upto", "5"); r.ErrorCode() != "NOT_FOUND" {
		t.Fatalf("read with an unknown user = %s; want NOT_FOUND", r.Body)
	}
	c.MustCall(t, "4", "send", "to", "3", "text", "now it exists")
	c.MustCall(t, "3", "read", "with", "4", "upto", "999999")
	conv := c.MustCall(t, "3", "hello")["conversations"].([]any)[0].(map[string]any)
	if conv["unread"].(float64) != 0 {
		t.Fatalf("after read: %v", conv)
	}
}

// TestAbuseOutputHygiene: the backend API's pass-through data and users'
// extra fields come back with <, >, &, U+2028 and U+2029 escaped in every
// JSON and JSONP answer (old code echoed data raw: a </script> and a
// U+2028 inside JSONP); a key given twice anywhere in a backend API body is
// 400 (old code: the last one won); a folded header line is 400.
func TestAbuseOutputHygiene(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{Grace: longGrace})
	pl := c.NewPoller(t, "3")
	hostile := "</script><img src=x onerror=alert(1)>&amp;\u2028\u2029"
	data, _ := json.Marshal(map[string]any{"html": hostile, "list": []string{hostile}})
	body := fmt.Sprintf(`{"from":"4","to":"3","text":"with data","data":%s}`, data)
	// encoding/json escapes on its own; make the body carry them raw.
	body = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&", `\u2028`, "\u2028", `\u2029`, "\u2029").Replace(body)
	r := api(t, p.URL, "POST", "/api/v1/messages", body, authGood)
	if r.Status != 201 {
		t.Fatalf("POST messages = %d %s", r.Status, r.Body)
	}
	check := func(what string, b []byte) {
		t.Helper()
		for _, bad := range []string{"<", ">", "&", "\u2028", "\u2029"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s carries a raw %q: %.300s", what, bad, b)
			}
		}
		if !strings.Contains(string(b), `\u003c/script\u003e`) {
			t.Errorf("%s lost the data: %.300s", what, b)
		}
	}
	check("API answer", r.Body)
	v := with(c.Ident("3"), "cursor", pl.Cursor, "timeout", "0", "callback", "cb")
	check("JSONP poll", c.Do(t, "GET", "/v1/poll", v).Body)
	check("JSON poll", c.Do(t, "GET", "/v1/poll", with(c.Ident("3"), "cursor", pl.Cursor, "timeout", "0")).Body)
	check("JSONP history", c.Do(t, "GET", "/v1/history", with(c.Ident("3"), "with", "4", "callback", "cb")).Body)
	check("JSONP hello", c.Do(t, "GET", "/v1/hello", with(c.Ident("3"), "callback", "cb")).Body)

	// Duplicate keys, at the top and nested.
	for _, b := range []string{
		`{"to":"3","to":"5","text":"dup"}`,
		`{"to":"3","text":"dup","data":{"a":1,"a":2}}`,
	} {
		if r := api(t, p.URL, "POST", "/api/v1/messages", b, authGood); r.Status != 400 {
			t.Errorf("POST messages %s = %d %s; want 400", b, r.Status, r.Body)
		}
	}
	if r := api(t, p.URL, "POST", "/api/v1/tokens", `{"user_id":"3","user_id":"1"}`, authGood); r.Status != 400 {
		t.Errorf("POST tokens with user_id twice = %d %s; want 400", r.Status, r.Body)
	}
	if h := c.MustCall(t, "3", "history", "with", "5"); len(h["messages"].([]any)) != 0 {
		t.Errorf("a refused body was stored: %v", h)
	}

	// obs-fold.
	conn, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("a folded header line = %d; want 400", resp.StatusCode)
	}
}

// TestAbuseDemoBehindProxy: the README's nginx example on the same host
// forwards public requests from 127.0.0.1. The demo signs anyone in as any
// static user, so it answers only loopback peers that forward for nobody
// and ask for server.public_url's host; and start-up is refused with the
// demo on (or the demo secret) when public_url is not a loopback URL.
func TestAbuseDemoBehindProxy(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{Demo: true})
	get := func(path string, hdr map[string]string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", p.URL+path, nil)
		for k, v := range hdr {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := c.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := get("/demo/user?id=1", nil); st != 200 {
		t.Fatalf("demo user from loopback = %d; want 200", st)
	}
	for _, hdr := range []map[string]string{
		{"X-Forwarded-For": "203.0.113.7"},
		{"Forwarded": "for=203.0.113.7"},
		{"X-Real-IP": "203.0.113.7"},
		{"Host": "chat.example.com"},
	} {
		for _, path := range []string{"/demo/user?id=1", "/demo"} {
			if st := get(path, hdr); st != 404 {
				t.Errorf("%s with %v = %d; want 404", path, hdr, st)
			}
		}
	}

	bin := testsvc.Binary(t)
	dir := t.TempDir()
	for _, tc := range []struct{ name, cfg, want string }{
		{"demo on", "[server]\nlisten = \"127.0.0.1:1\"\npublic_url = \"https://chat.example.com\"\n[auth]\nsecret = \"0123456789abcdef-x\"\n[demo]\nenabled = true\n", "demo.enabled"},
		{"demo secret", "[server]\nlisten = \"127.0.0.1:1\"\npublic_url = \"https://chat.example.com\"\n[auth]\nsecret = \"demo-secret-change-me\"\n", "auth.secret"},
	} {
		f := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".toml")
		os.WriteFile(f, []byte(tc.cfg), 0o600)
		out, err := exec.Command(bin, "-check", "-config", f).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "public_url") {
			t.Errorf("%s behind a public URL: err %v, output %q; want a refusal naming %s and public_url", tc.name, err, out, tc.want)
		}
	}
}
