package e2e

// A signed-in user who tries to starve the others, against the built
// binary. Each test is a row of the abuse table in docs/security.md.

import (
	"encoding/json"
	"net/url"
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
