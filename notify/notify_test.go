package notify

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"pollchat/store"
)

const secret = "notice-secret-0123456789"

// clock is the tests' shared clock of the outbox and the senders.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// state is the chat as the sender sees it.
type state struct {
	mu     sync.Mutex
	online map[string]bool
	unread map[store.Conv]int
}

func (s *state) Online(u string) bool { s.mu.Lock(); defer s.mu.Unlock(); return s.online[u] }
func (s *state) Unread(ctx context.Context, u string) (map[store.Conv]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[store.Conv]int{}
	for k, v := range s.unread {
		out[k] = v
	}
	return out, nil
}
func (s *state) Names(ctx context.Context, ids []string) map[string]string {
	out := map[string]string{}
	for _, id := range ids {
		if id == "1" {
			out[id] = "Eve"
		}
	}
	return out
}

// receiver is a real HTTP receiver that checks what the contract says.
type receiver struct {
	t      *testing.T
	clock  *clock
	mu     sync.Mutex
	status []int // answers to give in turn; then 200
	got    []Body
	ids    []string
	bad    int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	ts, err := strconv.ParseInt(req.Header.Get("X-Pollchat-Timestamp"), 10, 64)
	want := Sign(secret, ts, body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil || !hmac.Equal([]byte(req.Header.Get("X-Pollchat-Signature")), []byte(want)) ||
		req.Header.Get("Content-Type") != "application/json" || req.Method != http.MethodPost {
		r.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if d := r.clock.Now().Unix() - ts; d > 300 || d < -300 {
		r.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if len(r.status) > 0 {
		st := r.status[0]
		r.status = r.status[1:]
		w.WriteHeader(st)
		return
	}
	var b Body
	if err := json.Unmarshal(body, &b); err != nil {
		r.t.Errorf("notice body %s: %v", body, err)
	}
	if req.Header.Get("X-Pollchat-Notice") != b.ID {
		r.t.Errorf("X-Pollchat-Notice %q, body id %q", req.Header.Get("X-Pollchat-Notice"), b.ID)
	}
	r.got = append(r.got, b)
	r.ids = append(r.ids, b.ID)
}

func (r *receiver) notices() []Body {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Body(nil), r.got...)
}

type rig struct {
	st     store.Embedded
	outbox *store.Outbox
	clock  *clock
	state  *state
	recv   *receiver
	srv    *httptest.Server
}

func newRig(t *testing.T) *rig {
	t.Helper()
	st, err := store.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	ob := store.NewOutbox(st.(store.Records))
	ob.Now = c.Now
	r := &rig{st: st, outbox: ob, clock: c, state: &state{online: map[string]bool{}, unread: map[store.Conv]int{}}}
	r.recv = &receiver{t: t, clock: c}
	r.srv = httptest.NewServer(r.recv)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *rig) sender(t *testing.T, owner string) *Sender {
	t.Helper()
	s, err := New(Config{URL: r.srv.URL, Secret: secret, Owner: owner, Now: r.clock.Now, Timeout: 5 * time.Second},
		r.outbox, r.state, RecordsGate{R: r.st.(store.Records)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// message enqueues a direct message from -> "3", unread.
func (r *rig) message(t *testing.T, id int64, from, text string) {
	t.Helper()
	conv := store.DirectConv(from, "3")
	if _, err := r.outbox.Enqueue(context.Background(), "3", store.NoticeItem{MessageID: id, From: from, Conv: conv, Excerpt: text, TS: r.clock.Now()}, time.Minute); err != nil {
		t.Fatal(err)
	}
	r.state.mu.Lock()
	r.state.unread[conv]++
	r.state.mu.Unlock()
}

func (r *rig) pending(t *testing.T) int {
	t.Helper()
	p, err := r.outbox.Pending(context.Background(), "3")
	if err != nil {
		t.Fatal(err)
	}
	return len(p)
}

func TestNoticeSignedBatchedAndAcked(t *testing.T) {
	r := newRig(t)
	s := r.sender(t, "a")
	ctx := context.Background()
	r.message(t, 10, "1", "Hello")
	r.clock.Add(10 * time.Second)
	r.message(t, 11, "1", "Are you coming tonight?")
	if n := s.Work(ctx); n != 0 {
		t.Fatalf("Work before the delay sent %d notices; want 0", n)
	}
	r.clock.Add(61 * time.Second)
	if n := s.Work(ctx); n != 1 {
		t.Fatalf("Work after the delay sent %d; want 1", n)
	}
	got := r.recv.notices()
	if len(got) != 1 || r.recv.bad != 0 {
		t.Fatalf("receiver got %+v (bad %d); want one notice", got, r.recv.bad)
	}
	b := got[0]
	if b.Type != "unread" || b.UserID != "3" || b.Count != 2 || b.Excerpt != "Are you coming tonight?" ||
		len(b.Senders) != 1 || *b.Senders[0].UserID != "1" || b.Senders[0].Name != "Eve" ||
		len(b.Conversations) != 1 || b.Conversations[0].With != "1" || b.Conversations[0].Count != 2 || b.Conversations[0].LastMessageID != 11 ||
		b.FirstTS != "2026-12-07T10:00:00Z" || b.LastTS != "2026-12-07T10:00:10Z" {
		t.Errorf("notice = %+v", b)
	}
	if p := r.pending(t); p != 0 {
		t.Errorf("%d notices pending after the ack; want 0", p)
	}
	r.clock.Add(time.Hour)
	if n := s.Work(ctx); n != 0 || len(r.recv.notices()) != 1 {
		t.Errorf("an acked notice came back: sent %d", n)
	}
}

func TestNoticeRetriedWithTheSameID(t *testing.T) {
	r := newRig(t)
	s := r.sender(t, "a")
	ctx := context.Background()
	r.recv.status = []int{http.StatusServiceUnavailable, http.StatusTooManyRequests}
	r.message(t, 10, "1", "hi")
	r.clock.Add(61 * time.Second)
	if n := s.Work(ctx); n != 0 {
		t.Fatalf("sent %d on a 503", n)
	}
	if p := r.pending(t); p != 1 {
		t.Fatalf("%d pending after a 503; want 1 (kept for a retry)", p)
	}
	if n := s.Work(ctx); n != 0 {
		t.Fatalf("retried before its backoff: %d", n)
	}
	r.clock.Add(15 * time.Second)
	s.Work(ctx) // 429
	r.clock.Add(30 * time.Second)
	if n := s.Work(ctx); n != 1 {
		t.Fatalf("sent %d after the backoffs; want 1", n)
	}
	if got := r.recv.notices(); len(got) != 1 || got[0].ID != "n1" {
		t.Fatalf("notices = %+v", got)
	}
}

func TestNoticeRefusedIsDropped(t *testing.T) {
	r := newRig(t)
	s := r.sender(t, "a")
	r.recv.status = []int{http.StatusBadRequest}
	r.message(t, 10, "1", "hi")
	r.clock.Add(61 * time.Second)
	s.Work(context.Background())
	if p := r.pending(t); p != 0 {
		t.Fatalf("%d pending after a 400; want 0 (a permanent refusal)", p)
	}
}

func TestNoticeSkippedWhenReadOrOnline(t *testing.T) {
	r := newRig(t)
	s := r.sender(t, "a")
	ctx := context.Background()
	r.message(t, 10, "1", "hi")
	r.state.unread = map[store.Conv]int{} // read meanwhile
	r.clock.Add(61 * time.Second)
	if n := s.Work(ctx); n != 0 || len(r.recv.notices()) != 0 || r.pending(t) != 0 {
		t.Fatalf("a read message: sent %d, pending %d", n, r.pending(t))
	}
	r.message(t, 11, "1", "again")
	r.state.online["3"] = true
	r.clock.Add(61 * time.Second)
	if n := s.Work(ctx); n != 0 || len(r.recv.notices()) != 0 || r.pending(t) != 0 {
		t.Fatalf("an online recipient: sent %d, pending %d", n, r.pending(t))
	}
}

func TestOneNoticePerWindow(t *testing.T) {
	r := newRig(t)
	s := r.sender(t, "a")
	ctx := context.Background()
	r.message(t, 10, "1", "one")
	r.clock.Add(61 * time.Second)
	if s.Work(ctx) != 1 {
		t.Fatal("first notice not sent")
	}
	r.message(t, 11, "1", "two")
	r.clock.Add(2 * time.Minute)
	r.message(t, 12, "2", "three")
	r.clock.Add(2 * time.Minute)
	if n := s.Work(ctx); n != 0 {
		t.Fatalf("a second notice within the window: %d", n)
	}
	r.clock.Add(7 * time.Minute)
	if n := s.Work(ctx); n != 1 {
		t.Fatalf("after the window sent %d; want 1", n)
	}
	got := r.recv.notices()
	if len(got) != 2 || got[1].Count != 2 || len(got[1].Senders) != 2 || *got[1].Senders[0].UserID != "2" || got[1].Excerpt != "three" {
		t.Fatalf("notices = %+v; want the second covering the 2 new messages, newest sender first", got)
	}
}

// Two processes on one outbox: each notice is sent once; a process that
// dies holding a lease loses nothing.
func TestExactlyOneSenderAndRestart(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	for u := 0; u < 20; u++ {
		user := "u" + strconv.Itoa(u)
		conv := store.DirectConv("1", user)
		if _, err := r.outbox.Enqueue(ctx, user, store.NoticeItem{MessageID: int64(100 + u), From: "1", Conv: conv, Excerpt: "x", TS: r.clock.Now()}, time.Minute); err != nil {
			t.Fatal(err)
		}
		r.state.unread[conv] = 1
	}
	r.clock.Add(61 * time.Second)
	a, b := r.sender(t, "a"), r.sender(t, "b")
	var wg sync.WaitGroup
	var na, nb int
	wg.Add(2)
	go func() { defer wg.Done(); na = a.Work(ctx) }()
	go func() { defer wg.Done(); nb = b.Work(ctx) }()
	wg.Wait()
	got := r.recv.notices()
	seen := map[string]bool{}
	for _, n := range got {
		if seen[n.UserID] {
			t.Errorf("user %s got two notices", n.UserID)
		}
		seen[n.UserID] = true
	}
	if na+nb != 20 || len(seen) != 20 {
		t.Fatalf("sent %d+%d, %d users; want 20 once each", na, nb, len(seen))
	}

	// A process claims and dies: the notice waits for the lease, then
	// another takes it.
	r.message(t, 200, "1", "late")
	r.clock.Add(61 * time.Second)
	if c, err := r.outbox.ClaimDue(ctx, "dead", time.Minute, 10); err != nil || len(c) != 1 {
		t.Fatalf("ClaimDue = %v, %v", c, err)
	}
	if n := a.Work(ctx); n != 0 {
		t.Fatalf("took a leased notice: %d", n)
	}
	r.clock.Add(2 * time.Minute)
	if n := a.Work(ctx); n != 1 {
		t.Fatalf("after the lease sent %d; want 1", n)
	}
}

func TestSignMatchesTheContract(t *testing.T) {
	// printf '1700000000.{}' | openssl dgst -sha256 -hmac notice-secret-0123456789
	got := Sign(secret, 1700000000, []byte("{}"))
	if len(got) != len("sha256=")+64 || got[:7] != "sha256=" {
		t.Fatalf("Sign = %q", got)
	}
	if Sign(secret, 1700000001, []byte("{}")) == got || Sign("other-secret-0123456", 1700000000, []byte("{}")) == got {
		t.Fatal("the signature ignores the timestamp or the secret")
	}
}
