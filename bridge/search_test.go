package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// searchingSource is a real static source that counts its Search calls and
// can be made to fail, hang until released, or hand back unsafe URLs.
type searchingSource struct {
	countingSource
	searches atomic.Int64
	gate     chan struct{} // nil: no wait
	failS    atomic.Bool
	unsafe   atomic.Bool
}

func (s *searchingSource) Search(ctx context.Context, q string, limit int) ([]User, error) {
	s.searches.Add(1)
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if s.failS.Load() {
		return nil, errors.New("connection refused")
	}
	found, err := s.src.(Searcher).Search(ctx, q, limit)
	if s.unsafe.Load() {
		for i := range found {
			found[i].AvatarURL = "javascript:alert(1)"
			found[i].ProfileURL = "//evil.example/x"
		}
	}
	return found, err
}

func searchUsers() []User {
	return []User{
		{ID: "1", Name: "Zoë Subscriber"},
		{ID: "2", Name: "Zoe Adams"},
		{ID: "3", Name: "ANNA Lee"},
		{ID: "4", Name: "Léa Øster-Łukasz"},
		{ID: "5", Name: "Bob"},
		{ID: "6", Name: "Mary-Ann Smith"},
		{ID: "7", Name: "Hannah"},
	}
}

func ids(users []User) string {
	var s []string
	for _, u := range users {
		s = append(s, u.ID)
	}
	return strings.Join(s, ",")
}

func TestStaticSearch(t *testing.T) {
	src := NewStaticSource(searchUsers())
	tests := []struct {
		q     string
		limit int
		want  string
	}{
		{"zoe", 10, "2,1"},         // names that start with it, then by name
		{"ZOË", 10, "2,1"},         // accents and case aside, both ways
		{"zoe sub", 10, "1"},       // across words
		{"sub", 10, "1"},           // word prefix
		{"ubscriber", 10, ""},      // not inside a word
		{"anna", 10, "3"},          //
		{"ann", 10, "3,6"},         // Mary-Ann: after a hyphen
		{"lea oster", 10, "4"},     // é, Ø
		{"lukasz", 10, "4"},        // Ł
		{"zoe", 1, "2"},            // limit
		{"%", 10, ""},              // nothing special
		{"han", 10, "7"},           // Hannah, not "Anna"
		{"mary-ann s", 10, "6"},    //
		{"  anna   lee ", 10, "3"}, // white space folded as in names
	}
	for _, tt := range tests {
		got, err := src.Search(context.Background(), tt.q, tt.limit)
		if err != nil || ids(got) != tt.want {
			t.Errorf("Search(%q, %d) = [%s], %v; want [%s]", tt.q, tt.limit, ids(got), err, tt.want)
		}
	}
}

func TestNormalizeQuery(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"  Ann   Lee\t", "Ann Lee", true},
		{"ab", "ab", true},
		{"Zoe\u0308", "Zoë", true}, // NFC
		{strings.Repeat("é", 64), strings.Repeat("é", 64), true},
		{"a", "", false},
		{"  a  ", "", false},
		{"", "", false},
		{strings.Repeat("x", 65), "", false},
		{"ab\x00", "", false},
		{"ab\x1b[31m", "", false},
		{"ab\u202e", "", false}, // bidi override
		{"ab\u200b", "", false}, // zero-width space
		{"a\xffb", "", false},
	}
	for _, tt := range tests {
		got, err := NormalizeQuery(tt.in)
		if tt.ok && (err != nil || got != tt.want) || !tt.ok && !errors.Is(err, ErrBadQuery) {
			t.Errorf("NormalizeQuery(%q) = %q, %v; want %q (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestLikeEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ann", "ann"},
		{"100%", "100!%"},
		{"a_b", "a!_b"},
		{"wow!", "wow!!"},
		{`back\slash`, `back\slash`},
	}
	for _, tt := range tests {
		if got := likeEscape(tt.in); got != tt.want {
			t.Errorf("likeEscape(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestPublicName(t *testing.T) {
	tests := []struct {
		cands   []string
		private []string
		want    string
	}{
		{[]string{"Ann Lee", "ann"}, []string{"ann", "ann@example.com"}, "Ann Lee"},
		{[]string{"ANN", "Annie"}, []string{"ann"}, "Annie"},
		{[]string{" ann ", "ann"}, []string{"ann"}, "User 7"},
		{[]string{"ann@example.com", ""}, []string{"ann"}, "User 7"},
		{[]string{"someone@else.org"}, nil, "User 7"},
		{[]string{"", "  "}, nil, "User 7"},
	}
	for _, tt := range tests {
		if got := publicName("7", tt.cands, tt.private...); got != tt.want {
			t.Errorf("publicName(%q, %q) = %q; want %q", tt.cands, tt.private, got, tt.want)
		}
	}
}

func newSearchDir(cfg DirectoryConfig) (*Directory, *searchingSource) {
	src := &searchingSource{countingSource: countingSource{src: NewStaticSource(searchUsers())}}
	if cfg.Tick == 0 {
		cfg.Tick = time.Millisecond
	}
	return NewDirectory(src, cfg), src
}

func TestDirectorySearchValidatesAndClamps(t *testing.T) {
	d, src := newSearchDir(DirectoryConfig{})
	ctx := ctxT(t)
	for _, q := range []string{"a", "", strings.Repeat("z", 65), "zo\x00", "zo\u2066"} {
		if _, err := d.Search(ctx, q, 5); !errors.Is(err, ErrBadQuery) {
			t.Errorf("Search(%q) = %v; want ErrBadQuery", q, err)
		}
	}
	if n := src.searches.Load(); n != 0 {
		t.Fatalf("bad queries reached the source %d times; want 0", n)
	}
	if got, err := d.Search(ctx, "  zoe  ", 0); err != nil || ids(got) != "2" {
		t.Errorf("Search(zoe, limit 0) = [%s], %v; want the first only", ids(got), err)
	}
	if got, err := d.Search(ctx, "zoe", 1000); err != nil || ids(got) != "2,1" {
		t.Errorf("Search(zoe, limit 1000) = [%s], %v; want both", ids(got), err)
	}
}

func TestDirectorySearchUnsupported(t *testing.T) {
	d := NewDirectory(&countingSource{src: NewStaticSource(searchUsers())}, DirectoryConfig{})
	if _, err := d.Search(ctxT(t), "zoe", 5); !errors.Is(err, ErrSearchUnsupported) {
		t.Fatalf("Search on a source without Search = %v; want ErrSearchUnsupported", err)
	}
	// The http source without users.http.search_url is not a Searcher.
	var src Source = NewHTTPSource(httpConfig("http://127.0.0.1:1/u.php", "", ""))
	if _, ok := src.(Searcher); ok {
		t.Fatal("HTTPSource is a Searcher; want only SearchingHTTPSource to be")
	}
}

func TestDirectorySearchSharesAndCaches(t *testing.T) {
	d, src := newSearchDir(DirectoryConfig{MaxSearches: 3})
	src.gate = make(chan struct{})
	ctx := ctxT(t)
	var wg sync.WaitGroup
	results := make(chan string, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			q := "zoe"
			if i%2 == 1 {
				q = " ZOE " // the same query, normalised and lowercased
			}
			got, err := d.Search(ctx, q, 10)
			if err != nil {
				results <- err.Error()
				return
			}
			results <- ids(got)
		}(i)
	}
	close(src.gate) // whoever came late is answered from the cache
	wg.Wait()
	close(results)
	for r := range results {
		if r != "2,1" {
			t.Fatalf("a concurrent Search(zoe) = %s; want [2,1]", r)
		}
	}
	if n := src.searches.Load(); n != 1 {
		t.Fatalf("50 concurrent identical searches called the source %d times; want 1", n)
	}
	// The users found are in the user cache: Get does not ask the source.
	for _, id := range []string{"1", "2"} {
		if u, err := d.Get(ctx, id); err != nil || u.ID != id {
			t.Fatalf("Get(%s) after the search = %+v, %v", id, u, err)
		}
	}
	if n := src.calls.Load(); n != 0 {
		t.Fatalf("Get of users a search found called Lookup %d times; want 0", n)
	}
	// Other queries are asked; at most MaxSearches answers are kept.
	for _, q := range []string{"anna", "bob", "hannah", "lea"} {
		if _, err := d.Search(ctx, q, 5); err != nil {
			t.Fatal(err)
		}
	}
	if n := src.searches.Load(); n != 5 {
		t.Fatalf("source searches = %d; want 5", n)
	}
	if _, err := d.Search(ctx, "lea", 5); err != nil { // not kept: the cache was full
		t.Fatal(err)
	}
	if _, err := d.Search(ctx, "anna", 5); err != nil { // kept
		t.Fatal(err)
	}
	if n := src.searches.Load(); n != 6 {
		t.Fatalf("source searches after repeating a kept and an unkept query = %d; want 6", n)
	}
	if s := d.Stats(); s.Searches != 6 {
		t.Fatalf("Stats().Searches = %d; want 6", s.Searches)
	}
}

func TestDirectorySearchSourceDownAndUnsafeURLs(t *testing.T) {
	d, src := newSearchDir(DirectoryConfig{})
	ctx := ctxT(t)
	src.failS.Store(true)
	if _, err := d.Search(ctx, "zoe", 5); !errors.Is(err, ErrSourceDown) {
		t.Fatalf("Search with the source failing = %v; want ErrSourceDown", err)
	}
	if s := d.Stats(); s.SearchErrors != 1 {
		t.Fatalf("Stats().SearchErrors = %d; want 1", s.SearchErrors)
	}
	src.failS.Store(false)
	src.unsafe.Store(true)
	got, err := d.Search(ctx, "zoe", 5)
	if err != nil || len(got) != 2 {
		t.Fatalf("Search(zoe) = %v, %v", got, err)
	}
	for _, u := range got {
		if u.AvatarURL != "" || u.ProfileURL != "" {
			t.Fatalf("Search returned %+v; want unsafe URLs dropped", u)
		}
		if c, err := d.Get(ctx, u.ID); err != nil || c.AvatarURL != "" || c.ProfileURL != "" {
			t.Fatalf("Get(%s) after the search = %+v, %v; want unsafe URLs dropped", u.ID, c, err)
		}
	}
	// A panicking searcher is a failed source, not a crash.
	pd := NewDirectory(panickySearcher{NewStaticSource(nil)}, DirectoryConfig{})
	if _, err := pd.Search(ctx, "zoe", 5); !errors.Is(err, ErrSourceDown) {
		t.Fatalf("Search on a panicking source = %v; want ErrSourceDown", err)
	}
}

type panickySearcher struct{ *StaticSource }

func (panickySearcher) Search(context.Context, string, int) ([]User, error) { panic("search bug") }

func TestDirectorySearchUsesTheLookupBudget(t *testing.T) {
	// 4 lookups a second: searches may take tokens while more than 2
	// stay, so two searches run at once and the third waits for tokens;
	// the lookups of names still have their half.
	d, src := newSearchDir(DirectoryConfig{LookupsPerSecond: 4})
	now := time.Unix(1_800_000_000, 0)
	var mu sync.Mutex
	d.limit.clock = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ctx := ctxT(t)
	for _, q := range []string{"zoe", "anna"} {
		if _, err := d.Search(ctx, q, 5); err != nil {
			t.Fatalf("Search(%s) within the budget = %v", q, err)
		}
	}
	for i, q := range []string{"bob", "hannah", "lea", "bob"} {
		if _, err := d.Search(ctx, q, 5); !errors.Is(err, ErrSearchLimited) {
			t.Fatalf("Search #%d (%s) past the search share = %v; want ErrSearchLimited", i+3, q, err)
		}
	}
	if n, lim := src.searches.Load(), d.Stats().SearchesLimited; n != 2 || lim != 4 {
		t.Fatalf("source searches = %d, limited = %d; want 2 and 4", n, lim)
	}
	// Cached answers cost nothing.
	if got, err := d.Search(ctx, "zoe", 5); err != nil || len(got) != 2 {
		t.Fatalf("cached Search(zoe) = %v, %v", got, err)
	}
	// Names are still looked up at once.
	if u, err := d.Get(ctx, "5"); err != nil || u.Name != "Bob" {
		t.Fatalf("Get(5) after a search flood = %+v, %v; want Bob", u, err)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if _, err := d.Search(ctx, "bob", 5); err != nil {
		t.Fatalf("Search(bob) a second later = %v; want an answer", err)
	}
}

func TestLookupLimiterTakeKeepsAFloor(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := lookupLimiter{every: 100 * time.Millisecond, burst: 10, clock: func() time.Time { return now }}
	n := 0
	for l.take(5) {
		n++
	}
	if n != 5 {
		t.Fatalf("take(5) succeeded %d times from a full burst of 10; want 5", n)
	}
	if w := l.reserve(); w != 0 {
		t.Fatalf("reserve() after the searches' share = %v; want 0", w)
	}
}

func FuzzNormalizeQuery(f *testing.F) {
	for _, s := range []string{"ann", "  Ann   Lee ", "a", "%_\\!", "Zoe\u0308", "ab\x00", "ab\u202e", "\xff\xfe", strings.Repeat("ß", 70), "ǅ", "ﬃ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		q, err := NormalizeQuery(in)
		if err != nil {
			if !errors.Is(err, ErrBadQuery) {
				t.Fatalf("NormalizeQuery(%q) = %v; want ErrBadQuery", in, err)
			}
			return
		}
		if n := utf8.RuneCountInString(q); !utf8.ValidString(q) || n < MinQueryLen || n > MaxQueryLen {
			t.Fatalf("NormalizeQuery(%q) = %q: %d characters or not UTF-8", in, q, n)
		}
		if q != strings.TrimSpace(q) || strings.Contains(q, "  ") {
			t.Fatalf("NormalizeQuery(%q) = %q: untrimmed spaces", in, q)
		}
		for _, r := range q {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || (r != ' ' && unicode.IsSpace(r)) {
				t.Fatalf("NormalizeQuery(%q) = %q holds %U", in, q, r)
			}
		}
		if q2, err := NormalizeQuery(q); err != nil || q2 != q {
			t.Fatalf("NormalizeQuery(NormalizeQuery(%q)) = %q, %v; want %q", in, q2, err, q)
		}
		if foldName(q) != "" && !MatchName(q, q) {
			t.Fatalf("MatchName(%q, itself) = false", q)
		}
		// The LIKE pattern has no unescaped wildcard.
		p := likeEscape(q)
		for i := 0; i < len(p); i++ {
			switch p[i] {
			case '!':
				i++
				if i == len(p) || !strings.ContainsRune("!%_", rune(p[i])) {
					t.Fatalf("likeEscape(%q) = %q: a lone escape", q, p)
				}
			case '%', '_':
				t.Fatalf("likeEscape(%q) = %q: an unescaped wildcard", q, p)
			}
		}
		_ = fmt.Sprint(searchKey(q))
	})
}
