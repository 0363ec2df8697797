package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingSource is a real source (static users) that counts its calls
// and can be made to fail, hang or panic.
type countingSource struct {
	src      Source
	calls    atomic.Int64
	maxBatch atomic.Int64
	fail     atomic.Bool
	hang     atomic.Bool
	panicky  atomic.Bool
}

func (c *countingSource) Lookup(ctx context.Context, ids []string) (map[string]User, error) {
	c.calls.Add(1)
	if n := int64(len(ids)); n > c.maxBatch.Load() {
		c.maxBatch.Store(n)
	}
	if c.panicky.Load() {
		panic("source bug")
	}
	if c.hang.Load() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if c.fail.Load() {
		return nil, errors.New("connection refused")
	}
	return c.src.Lookup(ctx, ids)
}

func staticUsers(n int) []User {
	users := make([]User, n)
	for i := range users {
		users[i] = User{ID: fmt.Sprint(i + 1), Name: fmt.Sprintf("User %d", i+1)}
	}
	return users
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testLogger() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, nil)), buf
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDirectoryCachesUsersAndUnknowns(t *testing.T) {
	src := &countingSource{src: NewStaticSource(staticUsers(3))}
	d := NewDirectory(src, DirectoryConfig{Tick: time.Millisecond})
	ctx := ctxT(t)
	tests := []struct {
		id      string
		want    string
		wantErr error
	}{
		{"1", "User 1", nil},
		{"3", "User 3", nil},
		{"9", "", ErrUnknownUser},
	}
	for round := 0; round < 2; round++ {
		for _, tt := range tests {
			u, err := d.Get(ctx, tt.id)
			if !errors.Is(err, tt.wantErr) || u.Name != tt.want {
				t.Fatalf("round %d: Get(%q) = %q, %v; want %q, %v", round, tt.id, u.Name, err, tt.want, tt.wantErr)
			}
			if err == nil && u.Role != RoleMember {
				t.Fatalf("Get(%q).Role = %q; want %q", tt.id, u.Role, RoleMember)
			}
		}
	}
	if got := src.calls.Load(); got != 3 {
		t.Fatalf("source calls after two rounds of 3 ids = %d; want 3 (second round from the cache)", got)
	}
	if s := d.Stats(); s.Misses != 3 || s.Fetches != 3 {
		t.Fatalf("Stats() = %+v; want 3 misses and 3 fetches", s)
	}
	d.Invalidate("1")
	if _, err := d.Get(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	if got := src.calls.Load(); got != 4 {
		t.Fatalf("source calls after Invalidate and Get = %d; want 4", got)
	}
}

func TestDirectoryBatchesConcurrentMisses(t *testing.T) {
	src := &countingSource{src: NewStaticSource(staticUsers(300))}
	// A long tick so that every goroutine surely joins the first batch.
	d := NewDirectory(src, DirectoryConfig{Tick: 300 * time.Millisecond})
	ctx := ctxT(t)
	const n = 60
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 2*n)
	for i := 0; i < 2*n; i++ {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			<-start
			u, err := d.Get(ctx, id)
			if err == nil && u.ID != id {
				err = fmt.Errorf("Get(%q).ID = %q", id, u.ID)
			}
			errs <- err
		}(fmt.Sprint(i%n + 1)) // every id asked twice
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := src.calls.Load(); got != 1 {
		t.Fatalf("%d concurrent Gets of %d ids made %d Lookups; want 1", 2*n, n, got)
	}
	if got := d.Stats().FetchedIDs; got != n {
		t.Fatalf("ids asked of the source = %d; want %d (each id once)", got, n)
	}
}

func TestDirectoryGetManySplitsBatches(t *testing.T) {
	src := &countingSource{src: NewStaticSource(staticUsers(250))}
	d := NewDirectory(src, DirectoryConfig{Tick: 50 * time.Millisecond})
	ids := make([]string, 0, 260)
	for i := 1; i <= 260; i++ {
		ids = append(ids, fmt.Sprint(i))
	}
	m, err := d.GetMany(ctxT(t), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 250 {
		t.Fatalf("GetMany(260 ids) returned %d users; want 250 (10 unknown)", len(m))
	}
	if got := src.maxBatch.Load(); got > MaxBatch {
		t.Fatalf("largest Lookup = %d ids; want at most %d", got, MaxBatch)
	}
	if got := src.calls.Load(); got != 3 {
		t.Fatalf("Lookups for 260 ids = %d; want 3", got)
	}
}

func TestDirectoryServesStaleWhenSourceFails(t *testing.T) {
	src := &countingSource{src: NewStaticSource(staticUsers(5))}
	log, buf := testLogger()
	d := NewDirectory(src, DirectoryConfig{TTL: 5 * time.Millisecond, Tick: time.Millisecond, RetryAfter: time.Millisecond, Log: log})
	ctx := ctxT(t)
	if _, err := d.GetMany(ctx, []string{"1", "2"}); err != nil {
		t.Fatal(err)
	}
	src.fail.Store(true)
	time.Sleep(10 * time.Millisecond) // past the TTL
	for i := 0; i < 20; i++ {
		u, err := d.Get(ctx, "1")
		if err != nil || u.Name != "User 1" {
			t.Fatalf("Get(1) with the source down = %q, %v; want the stale %q", u.Name, err, "User 1")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if _, err := d.Get(ctx, "3"); !errors.Is(err, ErrSourceDown) {
		t.Fatalf("Get(3) never cached, source down = %v; want ErrSourceDown", err)
	}
	if s := d.Stats(); s.FetchErrors < 2 {
		t.Fatalf("Stats().FetchErrors = %d; want several failed refreshes", s.FetchErrors)
	}
	if got := strings.Count(buf.String(), "user source down"); got != 1 {
		t.Fatalf("outage logged %d times; want once:\n%s", got, buf)
	}
	src.fail.Store(false)
	time.Sleep(5 * time.Millisecond)
	if u, err := d.Get(ctx, "3"); err != nil || u.Name != "User 3" {
		t.Fatalf("Get(3) after recovery = %q, %v; want %q", u.Name, err, "User 3")
	}
	if got := strings.Count(buf.String(), "user source back"); got != 1 {
		t.Fatalf("recovery logged %d times; want once:\n%s", got, buf)
	}
}

func TestDirectoryBoundedWhenSourceHangs(t *testing.T) {
	src := &countingSource{src: NewStaticSource(staticUsers(5))}
	src.hang.Store(true)
	d := NewDirectory(src, DirectoryConfig{Timeout: 50 * time.Millisecond, Tick: time.Millisecond})
	if _, err := d.Get(ctxT(t), "1"); !errors.Is(err, ErrSourceDown) {
		t.Fatalf("Get with a hanging source = %v; want ErrSourceDown after the timeout", err)
	}
	// The caller's context bounds the wait too.
	d2 := NewDirectory(src, DirectoryConfig{Timeout: time.Minute, Tick: time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := d2.Get(ctx, "2"); !errors.Is(err, ErrSourceDown) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get with an ending ctx = %v; want ErrSourceDown wrapping context.DeadlineExceeded", err)
	}
}

func TestDirectorySurvivesPanickingSource(t *testing.T) {
	src := &countingSource{src: NewStaticSource(staticUsers(5))}
	src.panicky.Store(true)
	d := NewDirectory(src, DirectoryConfig{Tick: time.Millisecond})
	if _, err := d.Get(ctxT(t), "1"); !errors.Is(err, ErrSourceDown) {
		t.Fatalf("Get with a panicking source = %v; want ErrSourceDown", err)
	}
}

func TestDirectoryForIdentity(t *testing.T) {
	d := NewDirectory(NewStaticSource([]User{{ID: "1", Name: "Ada"}, {ID: "2", Name: "Grace", AvatarURL: "https://x/g.png"}}), DirectoryConfig{Tick: time.Millisecond})
	ctx := ctxT(t)
	tests := []struct {
		idn        Identity
		wantName   string
		wantAvatar string
		wantErr    error
	}{
		{Identity{UserID: "1", Name: "Token Ada", AvatarURL: "https://t/a.png"}, "Ada", "https://t/a.png", nil},
		{Identity{UserID: "2", Name: "Token Grace", AvatarURL: "https://t/g.png"}, "Grace", "https://x/g.png", nil},
		{Identity{UserID: "7", Name: "Guest", AvatarURL: "https://t/7.png"}, "Guest", "https://t/7.png", nil},
		{Identity{UserID: "8"}, "", "", ErrUnknownUser},
	}
	for _, tt := range tests {
		u, err := d.ForIdentity(ctx, tt.idn)
		if !errors.Is(err, tt.wantErr) || u.Name != tt.wantName || u.AvatarURL != tt.wantAvatar {
			t.Errorf("ForIdentity(%+v) = %q %q, %v; want %q %q, %v", tt.idn, u.Name, u.AvatarURL, err, tt.wantName, tt.wantAvatar, tt.wantErr)
		}
	}
}

func TestDirectoryRefusesInvalidIDsWithoutAsking(t *testing.T) {
	src := &countingSource{src: NewStaticSource(staticUsers(3))}
	d := NewDirectory(src, DirectoryConfig{Tick: time.Millisecond})
	ctx := ctxT(t)
	for _, id := range []string{"", "1,2", strings.Repeat("9", 65), "a\x00b", "bad\xffutf8"} {
		if _, err := d.Get(ctx, id); !errors.Is(err, ErrUnknownUser) {
			t.Errorf("Get(%q) = %v; want ErrUnknownUser", id, err)
		}
	}
	m, err := d.GetMany(ctx, []string{"", "1,2", "2"})
	if err != nil || len(m) != 1 || m["2"].Name != "User 2" {
		t.Errorf("GetMany(invalid ids and 2) = %v, %v; want only user 2", m, err)
	}
	if got := src.maxBatch.Load(); got != 1 {
		t.Errorf("largest Lookup = %d ids; want 1 (only the valid id asked)", got)
	}
}

func TestSafeURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://cdn.example.com/a.png", "https://cdn.example.com/a.png"},
		{"http://example.com/u/1?x=1#y", "http://example.com/u/1?x=1#y"},
		{"HTTPS://Example.com/a.png", "HTTPS://Example.com/a.png"},
		{"/uploads/a.png", "/uploads/a.png"},
		{"javascript:alert(1)", ""},
		{"JavaScript:alert(1)", ""},
		{"data:text/html,<script>alert(1)</script>", ""},
		{"vbscript:msgbox(1)", ""},
		{" javascript:alert(1)", ""},
		{"java\tscript:alert(1)", ""},
		{"//evil.example/x.png", ""},
		{"/\\evil.example/x.png", ""},
		{"https:\\\\evil.example", ""},
		{"https:evil.example", ""},
		{"https://", ""},
		{"members/3", ""},
		{"../a.png", ""},
		{"ftp://example.com/a.png", ""},
		{"https://example.com/a b.png", ""},
		{"https://example.com/\x00", ""},
		{"https://example.com/" + strings.Repeat("a", MaxURLLen), ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := SafeURL(tt.in); got != tt.want {
			t.Errorf("SafeURL(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// unsafeSource answers users with any URLs, as a buggy source might.
type unsafeSource struct{}

func (unsafeSource) Lookup(_ context.Context, ids []string) (map[string]User, error) {
	m := map[string]User{}
	for _, id := range ids {
		m[id] = User{ID: id, Name: "U", AvatarURL: "javascript:alert(" + id + ")", ProfileURL: "data:text/html,x"}
	}
	return m, nil
}

func TestUnsafeURLsNeverLeaveTheDirectory(t *testing.T) {
	ctx := ctxT(t)
	d := NewDirectory(unsafeSource{}, DirectoryConfig{Tick: time.Millisecond})
	if u, err := d.Get(ctx, "1"); err != nil || u.AvatarURL != "" || u.ProfileURL != "" {
		t.Errorf("Get(1) from a source with javascript:/data: URLs = %+v, %v; want them dropped", u, err)
	}
	static := NewStaticSource([]User{
		{ID: "1", Name: "A", AvatarURL: "javascript:alert(1)", ProfileURL: "https://example.com/u/1"},
		{ID: "2", Name: "B", AvatarURL: "/a/2.png", ProfileURL: "vbscript:msgbox(1)"},
	})
	got, _ := static.Lookup(ctx, []string{"1", "2"})
	if got["1"].AvatarURL != "" || got["1"].ProfileURL != "https://example.com/u/1" || got["2"].AvatarURL != "/a/2.png" || got["2"].ProfileURL != "" {
		t.Errorf("static users = %+v; want javascript:/vbscript: dropped, https and /path kept", got)
	}
}

// Cached answers from the cache alone: nothing for a user never asked
// for (and the source is not asked), then what Get answered, known or
// not.
func TestDirectoryCached(t *testing.T) {
	src := &countingSource{src: NewStaticSource(staticUsers(3))}
	d := NewDirectory(src, DirectoryConfig{Tick: time.Millisecond})
	if _, _, ok := d.Cached("1"); ok {
		t.Fatal("Cached(1) before any Get: ok; want not cached")
	}
	if n := src.calls.Load(); n != 0 {
		t.Fatalf("source calls after Cached = %d; want 0", n)
	}
	if _, err := d.Get(ctxT(t), "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Get(ctxT(t), "99"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("Get(99) = %v; want ErrUnknownUser", err)
	}
	calls := src.calls.Load()
	if u, known, ok := d.Cached("1"); !ok || !known || u.Name != "User 1" {
		t.Errorf("Cached(1) = %+v, known %v, ok %v; want User 1, known, ok", u, known, ok)
	}
	if _, known, ok := d.Cached("99"); !ok || known {
		t.Errorf("Cached(99) = known %v, ok %v; want unknown, ok", known, ok)
	}
	if n := src.calls.Load(); n != calls {
		t.Errorf("source calls after Cached = %d; want %d (none)", n, calls)
	}
}
