package bridge

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"pollchat/config"
)

// Searcher is implemented by sources that can find members by name, for a
// directory of people to start a chat with: the mysql source (every
// preset), the static source, and the http source when
// users.http.search_url is set.
//
// Search returns at most limit users whose shown name (the one Lookup
// gives) matches query by prefix or word prefix, without regard to case
// (and accents, as far as the source's collation allows). It never matches
// logins or email addresses. query is already normalised (NormalizeQuery);
// an error means the source failed. A source that finds out only when
// asked that it cannot search returns ErrSearchUnsupported.
type Searcher interface {
	Search(ctx context.Context, query string, limit int) ([]User, error)
}

var (
	_ Searcher = (*StaticSource)(nil)
	_ Searcher = (*MySQLSource)(nil)
	_ Searcher = (*SearchingHTTPSource)(nil)
)

// Search bounds.
const (
	// MinQueryLen and MaxQueryLen bound a query, in characters, after
	// trimming.
	MinQueryLen = 2
	MaxQueryLen = 64
	// MaxSearchLimit is the most users one search returns; sources are
	// always asked for this many, so that one cached answer serves every
	// limit.
	MaxSearchLimit = 20
)

// ErrSearchUnsupported: the user source cannot search (the http source
// without users.http.search_url). Callers answer with an empty list and
// say why.
var ErrSearchUnsupported = errors.New("bridge: the user source cannot search")

// ErrBadQuery is wrapped by the errors of NormalizeQuery.
var ErrBadQuery = errors.New("bridge: bad search query")

// ErrSearchLimited: the directory's lookup budget (LookupsPerSecond) has
// no room for a search now; lookups of names keep at least half of it.
var ErrSearchLimited = errors.New("bridge: too many searches; try again shortly")

// NormalizeQuery returns the query a source is asked: valid UTF-8 in NFC,
// trimmed, runs of white space made one space, MinQueryLen to MaxQueryLen
// characters, no control or format characters. The error wraps
// ErrBadQuery.
func NormalizeQuery(q string) (string, error) {
	if !utf8.ValidString(q) {
		return "", fmt.Errorf("%w: not UTF-8", ErrBadQuery)
	}
	if len(q) > 16*MaxQueryLen {
		return "", fmt.Errorf("%w: longer than %d characters", ErrBadQuery, MaxQueryLen)
	}
	for _, r := range q {
		if r != ' ' && unicode.IsSpace(r) {
			continue // made a space below
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return "", fmt.Errorf("%w: control character %U", ErrBadQuery, r)
		}
	}
	q = strings.Join(strings.Fields(norm.NFC.String(q)), " ")
	switch n := utf8.RuneCountInString(q); {
	case n < MinQueryLen:
		return "", fmt.Errorf("%w: shorter than %d characters", ErrBadQuery, MinQueryLen)
	case n > MaxQueryLen:
		return "", fmt.Errorf("%w: longer than %d characters", ErrBadQuery, MaxQueryLen)
	}
	return q, nil
}

// searchKey is the cache key of a normalised query.
func searchKey(q string) string { return strings.ToLower(q) }

// foldName lowercases s, removes accents (the combining marks of its
// NFD form, and a few letters that have none: ø ł đ ß æ œ) and makes runs
// of white space one space, for matching names.
func foldName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		switch r = unicode.ToLower(r); r {
		case 'ø':
			b.WriteByte('o')
		case 'ł':
			b.WriteByte('l')
		case 'đ':
			b.WriteByte('d')
		case 'ß':
			b.WriteString("ss")
		case 'æ':
			b.WriteString("ae")
		case 'œ':
			b.WriteString("oe")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// MatchName says whether query matches name at its start or at the start
// of one of its words (after a character that is neither a letter nor a
// digit), without regard to case or accents: "zoe sub" and "Sub" match
// "Zoë Subscriber", "ub" does not.
func MatchName(name, query string) bool {
	q := foldName(query)
	if q == "" {
		return false
	}
	return matchFolded(foldName(name), q) >= 0
}

// matchFolded returns the byte offset of the first word of n that q
// starts at, or -1.
func matchFolded(n, q string) int {
	boundary := true
	for i, r := range n {
		if boundary && strings.HasPrefix(n[i:], q) {
			return i
		}
		boundary = !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}
	return -1
}

// rankFound orders search results: names that start with the query first,
// then by name, then by id.
func rankFound(users []User, query string) {
	q := foldName(query)
	type ranked struct {
		head bool
		name string
	}
	keys := make(map[string]ranked, len(users))
	for _, u := range users {
		n := foldName(u.Name)
		keys[u.ID] = ranked{head: strings.HasPrefix(n, q), name: n}
	}
	sort.SliceStable(users, func(i, j int) bool {
		a, b := keys[users[i].ID], keys[users[j].ID]
		if a.head != b.head {
			return a.head
		}
		if a.name != b.name {
			return a.name < b.name
		}
		return users[i].ID < users[j].ID
	})
}

// publicName is the name a host-site member is shown by: the first of
// candidates that does not give their login away (not empty, no "@", not
// equal to any of private, case and surrounding space aside), else
// "User {id}". The WordPress and OctoberCMS plugins' users-info routes
// apply the same rule.
func publicName(id string, candidates []string, private ...string) string {
next:
	for _, c := range candidates {
		c = strings.TrimSpace(c)
		if c == "" || strings.Contains(c, "@") {
			continue
		}
		lc := strings.ToLower(c)
		for _, p := range private {
			if p = strings.ToLower(strings.TrimSpace(p)); p != "" && p == lc {
				continue next
			}
		}
		return c
	}
	return "User " + id
}

// likeEscape escapes s for a LIKE pattern with ESCAPE '!': '!', '%' and
// '_' are preceded by '!'. The backslash needs nothing: with ESCAPE '!' it
// is an ordinary character, whatever NO_BACKSLASH_ESCAPES says.
func likeEscape(s string) string {
	if !strings.ContainsAny(s, "!%_") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '!', '%', '_':
			b.WriteByte('!')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Search finds the static users whose name matches query (MatchName).
func (s *StaticSource) Search(_ context.Context, query string, limit int) ([]User, error) {
	q := foldName(query)
	if q == "" || limit <= 0 {
		return nil, nil
	}
	var out []User
	for _, u := range s.users {
		if matchFolded(foldName(u.Name), q) >= 0 {
			out = append(out, u)
		}
	}
	rankFound(out, query)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// searchSafe calls the source's Search, turning a panic into an error.
func searchSafe(ctx context.Context, s Searcher, q string, limit int) (users []User, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bridge: user source panicked: %v", r)
		}
	}()
	return s.Search(ctx, q, limit)
}

// DefaultSearchTTL and DefaultMaxSearches are the zero values' meaning of
// DirectoryConfig.SearchTTL and MaxSearches.
const (
	DefaultSearchTTL   = 30 * time.Second
	DefaultMaxSearches = 1000
)

// Search finds members by name for the directory of people to start a chat
// with. q is normalised (NormalizeQuery; an error wraps ErrBadQuery) and
// limit clamped to 1..MaxSearchLimit.
//
// Answers are cached per query (case aside) for SearchTTL, at most
// MaxSearches queries; identical searches running at once share one call
// of the source. Each call of the source takes a token from the same
// budget as Lookups (LookupsPerSecond), but only while more than half of
// it is left, so that a flood of searches cannot hammer the host site nor
// starve the lookups of names: beyond that, ErrSearchLimited. The users
// found go into the user cache, with the same URL hygiene (SafeURL).
//
// Errors: ErrSearchUnsupported when the source cannot search, and
// ErrSourceDown when it failed (or is in its pause after a failure), or
// ctx ended first.
func (d *Directory) Search(ctx context.Context, q string, limit int) ([]User, error) {
	s, ok := d.src.(Searcher)
	if !ok {
		return nil, ErrSearchUnsupported
	}
	q, err := NormalizeQuery(q)
	if err != nil {
		return nil, err
	}
	limit = max(1, min(limit, MaxSearchLimit))
	key := searchKey(q)
	if v, ok := d.searches.Get(key); ok {
		return head(v.([]User), limit), nil
	}
	ch := d.searchGroup.DoChan(key, func() (any, error) { return d.searchSource(s, key, q) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return head(r.Val.([]User), limit), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrSourceDown, ctx.Err())
	}
}

// head returns a copy of the first n users.
func head(users []User, n int) []User {
	return append([]User(nil), users[:min(n, len(users))]...)
}

// searchSource asks the source once (under the singleflight key) and
// caches the answer.
func (d *Directory) searchSource(s Searcher, key, q string) (any, error) {
	if v, ok := d.searches.Get(key); ok { // filled while this call waited
		return v, nil
	}
	if time.Now().UnixNano() < d.retryAt.Load() {
		return nil, ErrSourceDown
	}
	if !d.limit.take(float64(d.limit.burst) / 2) {
		d.stats.searchesLimited.Add(1)
		return nil, ErrSearchLimited
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	d.stats.searches.Add(1)
	found, err := searchSafe(ctx, s, q, MaxSearchLimit)
	if err != nil {
		if errors.Is(err, ErrSearchUnsupported) {
			return nil, ErrSearchUnsupported
		}
		d.stats.searchErrors.Add(1)
		if errors.Is(err, ErrSourceDown) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrSourceDown, err)
	}
	out := make([]User, 0, min(len(found), MaxSearchLimit))
	seen := make(map[string]bool, len(found))
	for _, u := range found {
		if len(out) == MaxSearchLimit {
			break
		}
		if config.ValidUserID(u.ID) != nil || seen[u.ID] {
			continue
		}
		seen[u.ID] = true
		out = append(out, d.remember(u))
	}
	if d.searches.ItemCount() >= d.maxSearches {
		d.searches.DeleteExpired()
	}
	if d.searches.ItemCount() < d.maxSearches {
		d.searches.Set(key, out, d.searchTTL)
	}
	return out, nil
}
