package chat

import (
	"context"
	"hash/maphash"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/patrickmn/go-cache"

	"pollchat/store"
)

// limiter is one token bucket per user that every writing or fanning-out
// call draws from (see the Cost constants): rate tokens a second, up to
// burst. Enough for a fast typist, not for a flood.
type limiter struct {
	remote RateLimiter // shared by every process in cluster mode; nil for one
	rate   float64
	burst  float64
	seed   maphash.Seed
	shards [16]limitShard
}

type limitShard struct {
	mu sync.Mutex
	m  map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func (l *limiter) init(rate float64, burst int) {
	l.rate, l.burst = rate, float64(burst)
	l.seed = maphash.MakeSeed()
	for i := range l.shards {
		l.shards[i].m = make(map[string]*bucket)
	}
}

// What each kind of call costs, in tokens of the caller's bucket
// (chat.rate tokens a second, chat.burst at most).
const (
	// CostSend is a message, a room command, a chat request, a block, a
	// join or a leave: each writes to the store or fans out to a room.
	CostSend = 1.0
	// CostRead is a read mark: a store write and an event to the peer.
	CostRead = 1.0
	// CostTyping is a typing call; on top of it, one typing event per
	// second per sender and conversation reaches a recipient.
	CostTyping = 0.5
	// CostUnknownID is charged per id a users call asked for that nobody
	// knows (each is a lookup at the host site and a negative cache entry).
	// A caller in debt gets RATE_LIMITED until the bucket refills.
	CostUnknownID = 0.1
)

// allow takes a token for user or answers RATE_LIMITED.
func (l *limiter) allow(user string, now time.Time) error {
	return l.take(user, CostSend, now)
}

// take takes cost tokens for user or answers RATE_LIMITED. A cost of 1
// uses the cluster's shared bucket when there is one; cheaper kinds are
// counted in this process's bucket (their events stay bounded per process).
func (l *limiter) take(user string, cost float64, now time.Time) error {
	if l.rate <= 0 {
		return nil
	}
	if l.remote != nil && cost == 1 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		ok, wait, err := l.remote.Allow(ctx, user, l.rate, int(l.burst))
		if err == nil {
			if ok {
				return nil
			}
			secs := max(int(wait.Seconds()+0.999), 1)
			return &Error{Code: CodeRateLimited, RetryAfter: secs, Message: "too many requests; wait " + humanSeconds(secs)}
		}
		// Broker down: fall back to this process's own bucket.
	}
	sh := &l.shards[maphash.String(l.seed, user)%uint64(len(l.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := sh.m[user]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		sh.m[user] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(l.burst, b.tokens+el*l.rate)
		b.last = now
	}
	if b.tokens < cost {
		wait := int((cost-b.tokens)/l.rate + 0.999)
		return &Error{Code: CodeRateLimited, RetryAfter: max(wait, 1),
			Message: "too many requests; wait " + humanSeconds(max(wait, 1))}
	}
	b.tokens -= cost
	return nil
}

// charge takes cost tokens from user after the fact, into debt down to
// -burst: the next calls are refused until the bucket refills.
func (l *limiter) charge(user string, cost float64, now time.Time) {
	if l.rate <= 0 || cost <= 0 {
		return
	}
	sh := &l.shards[maphash.String(l.seed, user)%uint64(len(l.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := sh.m[user]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		sh.m[user] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(l.burst, b.tokens+el*l.rate)
		b.last = now
	}
	b.tokens = max(b.tokens-cost, -l.burst)
}

// sweep forgets buckets that have refilled.
func (l *limiter) sweep(now time.Time) {
	if l.rate <= 0 {
		return
	}
	full := time.Duration(2 * l.burst / l.rate * float64(time.Second)) // from -burst
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for u, b := range sh.m {
			if now.Sub(b.last) > full {
				delete(sh.m, u)
			}
		}
		sh.mu.Unlock()
	}
}

// blocks caches each user's block list (who they block).
type blocks struct {
	c *cache.Cache // user -> map[string]struct{}
}

func (b *blocks) init() { b.c = cache.New(10*time.Minute, time.Minute) }

// get returns who user blocks, reading the store on a miss. A store
// failure counts as "nobody" and is not cached.
func (b *blocks) get(ctx context.Context, st store.Store, user string) map[string]struct{} {
	if v, ok := b.c.Get(user); ok {
		return v.(map[string]struct{})
	}
	list, err := st.Blocks(ctx, user)
	if err != nil {
		return nil
	}
	var m map[string]struct{} // nil for the common "blocks nobody"
	if len(list) > 0 {
		m = make(map[string]struct{}, len(list))
		for _, u := range list {
			m[u] = struct{}{}
		}
	}
	// Kept until changed: delivery checks this cache without a store read.
	b.c.Set(user, m, cache.NoExpiration)
	return m
}

func (b *blocks) getHas(ctx context.Context, st store.Store, user, other string) bool {
	_, ok := b.get(ctx, st, user)[other]
	return ok
}

// blocks says from the cache alone (no store read: it runs on delivery)
// whether user blocks other. Lists are loaded by hello and block.
func (b *blocks) blocks(user, other string) bool {
	v, ok := b.c.Get(user)
	if !ok {
		return false
	}
	_, blocked := v.(map[string]struct{})[other]
	return blocked
}

func (b *blocks) forget(user string) { b.c.Delete(user) }

// wordMask masks banned words and phrases with asterisks, one per
// character. A word matches case-insensitively and only as a whole word:
// where it begins or ends with a letter, digit or underscore, the text
// next to it must not be one (any script, not only ASCII, so "дурак" is
// found in "ты дурак!" but not in "дураки", and "c++" in "I like c++").
type wordMask struct {
	any   *regexp.Regexp   // every word, longest first
	words []*regexp.Regexp // each word anchored at the start, longest first
}

// newWordMask compiles words (blank ones are skipped); nil when none is left.
func newWordMask(words []string) *wordMask {
	var ws []string
	for _, w := range words {
		if w = strings.TrimSpace(w); w != "" {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return nil
	}
	// Longest first, so that of "dang" and "dang it" the phrase wins.
	sort.SliceStable(ws, func(i, j int) bool { return len(ws[i]) > len(ws[j]) })
	m := &wordMask{words: make([]*regexp.Regexp, len(ws))}
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = regexp.QuoteMeta(w)
		m.words[i] = regexp.MustCompile(`^(?i:` + parts[i] + `)`)
	}
	m.any = regexp.MustCompile(`(?i:` + strings.Join(parts, "|") + `)`)
	return m
}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// whole reports whether text[start:end] stands as a whole word.
func whole(text string, start, end int) bool {
	if start < end {
		first, _ := utf8.DecodeRuneInString(text[start:])
		if before, n := utf8.DecodeLastRuneInString(text[:start]); n > 0 && isWordRune(first) && isWordRune(before) {
			return false
		}
		last, _ := utf8.DecodeLastRuneInString(text[:end])
		if after, n := utf8.DecodeRuneInString(text[end:]); n > 0 && isWordRune(last) && isWordRune(after) {
			return false
		}
	}
	return start < end
}

// mask returns text with every whole banned word replaced by asterisks.
// A nil mask returns text unchanged.
func (m *wordMask) mask(text string) string {
	if m == nil {
		return text
	}
	var b strings.Builder
	done := 0 // text[:done] is in b
	for pos := 0; pos < len(text); {
		loc := m.any.FindStringIndex(text[pos:])
		if loc == nil {
			break
		}
		start, end := pos+loc[0], pos+loc[1]
		if !whole(text, start, end) {
			// The longest word here is not whole; a shorter one may be.
			end = -1
			for _, w := range m.words {
				if l := w.FindStringIndex(text[start:]); l != nil && whole(text, start, start+l[1]) {
					end = start + l[1]
					break
				}
			}
		}
		if end < 0 {
			_, n := utf8.DecodeRuneInString(text[start:])
			pos = start + max(n, 1)
			continue
		}
		b.WriteString(text[done:start])
		b.WriteString(strings.Repeat("*", utf8.RuneCountInString(text[start:end])))
		done, pos = end, end
	}
	if done == 0 {
		return text
	}
	b.WriteString(text[done:])
	return b.String()
}
