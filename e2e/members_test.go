package e2e

// Only the site's members chat (issue 14): with the mysql or http source an
// id the site does not know is refused on hello and every call, unless
// users.allow_unknown; a ban takes effect at users/invalidate.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pollchat/internal/testsvc"
)

// membersSite serves usersInfoPHP from a users.json that write replaces.
func membersSite(t *testing.T) (url string, write func(ids ...string)) {
	t.Helper()
	docroot := t.TempDir()
	write = func(ids ...string) {
		t.Helper()
		users := map[string]map[string]string{}
		for _, id := range ids {
			users[id] = map[string]string{"user_id": id, "name": "Member " + id}
		}
		b, _ := json.Marshal(users)
		if err := os.WriteFile(filepath.Join(docroot, "users.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("3", "4")
	if err := os.WriteFile(filepath.Join(docroot, "users-info.php"), []byte(usersInfoPHP), 0o644); err != nil {
		t.Fatal(err)
	}
	site := testsvc.StartPHP(t, docroot)
	return site.URL + "/users-info.php", write
}

func TestMembersOnly(t *testing.T) {
	t.Parallel()
	siteURL, write := membersSite(t)
	users := func(extra string) string {
		return fmt.Sprintf("[users]\nsource = \"http\"\ncache_ttl = \"1h\"\n%s[users.http]\nurl = %q\nlogin = \"site\"\npassword = \"site-pass\"\n", extra, siteURL)
	}
	p, c := start(t, testsvc.Options{Chat: "rate = 0", Grace: longGrace, Users: users("")})
	c.MustCall(t, "3", "hello")
	for _, call := range [][]string{{"hello"}, {"poll", "timeout", "0"}, {"send", "to", "3", "text", "hi"}, {"users", "ids", "3"}, {"join", "room", "lobby"}} {
		r := c.Call(t, "99", call[0], call[1:]...)
		if r.ErrorCode() != "FORBIDDEN" || !strings.Contains(string(r.Body), "unknown to the site") {
			t.Fatalf("%s by a user the site does not know = %s; want FORBIDDEN, unknown to the site", call[0], r.Body)
		}
	}
	if r := c.Call(t, "3", "send", "to", "99", "text", "hi"); r.ErrorCode() != "NOT_FOUND" {
		t.Fatalf("send to a user the site does not know = %s; want NOT_FOUND", r.Body)
	}

	// A member is banned: parked poll ends at invalidate, then FORBIDDEN.
	pl := c.NewPoller(t, "4")
	done := make(chan pollAnswer, 1)
	go func() {
		a, _ := pollOnce(c, with(c.Ident("4"), "cursor", pl.Cursor, "timeout", "30"))
		done <- a
	}()
	waitParked(t, c, 1)
	write("3")
	mustAPI(t, p.URL, "POST", "/api/v1/users/invalidate", `{"user_ids":["4"]}`, 200)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("the banned member's parked poll did not end at invalidate")
	}
	if r := c.Call(t, "4", "poll", "cursor", pl.Cursor, "timeout", "0"); r.ErrorCode() != "FORBIDDEN" {
		t.Fatalf("poll by the banned member after invalidate = %s; want FORBIDDEN", r.Body)
	}
	if r := c.Call(t, "3", "send", "to", "4", "text", "still there?"); r.ErrorCode() != "NOT_FOUND" {
		t.Fatalf("send to the banned member = %s; want NOT_FOUND", r.Body)
	}

	// users.allow_unknown keeps the old behaviour: guests chat as "User N".
	_, c2 := start(t, testsvc.Options{Chat: "rate = 0", Users: users("allow_unknown = true\n")})
	me := c2.MustCall(t, "99", "hello")["me"].(map[string]any)
	if me["name"] != "User 99" {
		t.Fatalf("allow_unknown: hello as 99 = %v", me)
	}
}

// TestClusterIdentityOnlyUser: with a static source, a user known only from
// their signed identity (not in the list) is known on every process: a send
// to them through another process is delivered (old code: NOT_FOUND).
func TestClusterIdentityOnlyUser(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 2)
	a, b := cl.cls[0], cl.cls[1]
	pl := a.NewPoller(t, "guest-77")
	var r *testsvc.Response
	for i := 0; i < 100; i++ { // the other process hears of the guest through Redis
		if r = b.Call(t, "3", "send", "to", "guest-77", "text", "hello guest"); r.ErrorCode() == "" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.Status != 200 || r.ErrorCode() != "" {
		t.Fatalf("send to an identity-only user through another process = %s", r.Body)
	}
	pl.WaitFor(t, 10*time.Second, func(e testsvc.Event) bool { return e.Type() == "message" })
}
