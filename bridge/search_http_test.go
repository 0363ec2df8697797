package bridge

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"pollchat/config"
	"pollchat/internal/testsvc"
)

// searchSite is testdata/search/members-search.php under php -S.
type searchSite struct {
	url, counter, last, mode string
}

func startSearchSite(t *testing.T) *searchSite {
	t.Helper()
	dir := t.TempDir()
	s := &searchSite{counter: filepath.Join(dir, "count"), last: filepath.Join(dir, "last"), mode: filepath.Join(dir, "mode")}
	docroot, err := filepath.Abs(filepath.Join("testdata", "search"))
	if err != nil {
		t.Fatal(err)
	}
	php := testsvc.StartPHP(t, docroot,
		"SEARCH_LOGIN="+infoLogin, "SEARCH_PASSWORD="+infoPassword,
		"SEARCH_COUNTER="+s.counter, "SEARCH_LAST="+s.last, "SEARCH_MODE="+s.mode)
	s.url = php.URL + "/members-search.php"
	return s
}

func (s *searchSite) setMode(t *testing.T, mode string) {
	t.Helper()
	if err := os.WriteFile(s.mode, []byte(mode), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (s *searchSite) requests(t *testing.T) int {
	t.Helper()
	b, _ := os.ReadFile(s.counter)
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

func TestHTTPSearch(t *testing.T) {
	site := startSearchSite(t)
	cfg := config.Users{Source: "http", HTTP: config.UsersHTTP{
		URL: "http://127.0.0.1:1/users-info.php", SearchURL: site.url,
		Login: infoLogin, Password: infoPassword, Timeout: config.Duration{Duration: 5 * time.Second},
	}}
	src, err := NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := src.(Searcher)
	if !ok {
		t.Fatalf("NewSource with users.http.search_url = %T; want a Searcher", src)
	}
	ctx := ctxT(t)

	got, err := s.Search(ctx, "ann", 10)
	if err != nil || ids(got) != "1,2,3" {
		t.Fatalf("Search(ann) = [%s], %v; want [1,2,3] in the answer's order", ids(got), err)
	}
	if got[0].Role != RoleAdmin || got[0].ProfileURL != "https://example.com/members/1" || got[0].AvatarURL != "" || string(got[0].Extra["city"]) != `"Oslo"` {
		t.Errorf("Search(ann)[0] = %+v; want users-info parsing (role, URLs, extras)", got[0])
	}
	last, _ := os.ReadFile(site.last)
	if q, err := url.ParseQuery(string(last)); err != nil || q.Get("q") != "ann" || q.Get("limit") != "10" {
		t.Errorf("the search URL was asked %q; want q=ann&limit=10", last)
	}
	if got, err := s.Search(ctx, "ann", 2); err != nil || ids(got) != "1,2" {
		t.Errorf("Search(ann, 2) = [%s], %v; want [1,2]", ids(got), err)
	}
	if got, err := s.Search(ctx, "Zoë & co?", 10); err != nil || len(got) != 0 {
		t.Errorf("Search(Zoë & co?) = %v, %v; want none", got, err)
	}
	last, _ = os.ReadFile(site.last)
	if q, _ := url.ParseQuery(string(last)); q.Get("q") != "Zoë & co?" {
		t.Errorf("the query arrived as %q; want it escaped and intact", q.Get("q"))
	}

	// The same tolerance and refusals as users-info answers.
	site.setMode(t, "bad-elements")
	if got, err := s.Search(ctx, "ann", 10); err != nil || ids(got) != "1,2,3" {
		t.Errorf("Search with bad elements = [%s], %v; want them skipped", ids(got), err)
	}
	site.setMode(t, "unsafe")
	if got, err := s.Search(ctx, "cy", 10); err != nil || len(got) != 1 || got[0].AvatarURL != "" {
		t.Errorf("Search with javascript: avatars = %+v, %v; want them dropped", got, err)
	}
	site.setMode(t, "notice")
	_, err = s.Search(ctx, "ann", 10)
	var uie *UsersInfoError
	if !errors.As(err, &uie) || !strings.Contains(err.Error(), "Notice") || uie.Status != 200 {
		t.Errorf("Search with a PHP notice before the JSON = %v; want a UsersInfoError showing the notice", err)
	}
	site.setMode(t, "")

	bad := NewSearchingHTTPSource(config.UsersHTTP{URL: cfg.HTTP.URL, SearchURL: site.url, Login: infoLogin, Password: "wrong"})
	if _, err := bad.Search(ctx, "ann", 10); !errors.As(err, &uie) || uie.Status != 401 {
		t.Errorf("Search with a wrong password = %v; want HTTP 401", err)
	}

	// Through the directory: cached, and a notice is the source failing.
	d := NewDirectory(src, DirectoryConfig{})
	before := site.requests(t)
	for i := 0; i < 3; i++ {
		if got, err := d.Search(ctx, "Ann", 5); err != nil || ids(got) != "1,2,3" {
			t.Fatalf("Directory.Search(Ann) = [%s], %v", ids(got), err)
		}
	}
	if n := site.requests(t) - before; n != 1 {
		t.Fatalf("3 identical directory searches asked the site %d times; want 1", n)
	}
	site.setMode(t, "notice")
	if _, err := d.Search(ctx, "bob", 5); !errors.Is(err, ErrSourceDown) {
		t.Fatalf("Directory.Search with a notice = %v; want ErrSourceDown", err)
	}

	// Without search_url the http source cannot search.
	cfg.HTTP.SearchURL = ""
	plain, err := NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewDirectory(plain, DirectoryConfig{}).Search(ctx, "ann", 5); !errors.Is(err, ErrSearchUnsupported) {
		t.Fatalf("Search without users.http.search_url = %v; want ErrSearchUnsupported", err)
	}
}
