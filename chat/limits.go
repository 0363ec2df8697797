package chat

import (
	"context"
	"hash/maphash"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/patrickmn/go-cache"

	"pollchat/store"
)

// limiter draws every writing or fanning-out call from the caller's token
// bucket (see the Cost constants): rate tokens a second, up to burst.
// Enough for a fast typist, not for a flood. The buckets are the engine's:
// shared by every process in a cluster.
type limiter struct {
	engine Engine
	errs   *engineErrors
	rate   float64
	burst  int
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
func (l *limiter) allow(user string) error { return l.take(user, CostSend) }

// take takes cost tokens for user or answers RATE_LIMITED.
func (l *limiter) take(user string, cost float64) error {
	if l.rate <= 0 {
		return nil
	}
	ctx, cancel := engineCtx()
	defer cancel()
	wait, err := l.engine.Allow(ctx, user, cost, l.rate, l.burst)
	l.errs.count(err) // answered from this process's bucket meanwhile
	if wait <= 0 {
		return nil
	}
	secs := max(int(wait.Seconds()+0.999), 1)
	return &Error{Code: CodeRateLimited, RetryAfter: secs, Message: "too many requests; wait " + humanSeconds(secs)}
}

// charge takes cost tokens from user after the fact (see Engine.Charge).
func (l *limiter) charge(user string, cost float64) {
	if l.rate <= 0 || cost <= 0 {
		return
	}
	l.engine.Charge(user, cost, l.rate, l.burst)
}

// Buckets are token buckets, one per user, in this process: the memory
// engine's rate limits, and the Redis engine's for what it keeps local.
// The zero value is ready to use.
type Buckets struct {
	init   sync.Once
	seed   maphash.Seed
	shards [16]limitShard
	full   atomic.Int64 // the longest refill from -burst seen, in ns
}

type limitShard struct {
	mu sync.Mutex
	m  map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// get returns user's bucket refilled to now, its shard locked.
func (b *Buckets) get(user string, rate, burst float64, now time.Time) (*bucket, *limitShard) {
	b.init.Do(func() {
		b.seed = maphash.MakeSeed()
		for i := range b.shards {
			b.shards[i].m = make(map[string]*bucket)
		}
	})
	if full := int64(2 * burst / rate * float64(time.Second)); full > b.full.Load() {
		b.full.Store(full)
	}
	sh := &b.shards[maphash.String(b.seed, user)%uint64(len(b.shards))]
	sh.mu.Lock()
	k := sh.m[user]
	if k == nil {
		k = &bucket{tokens: burst, last: now}
		sh.m[user] = k
	}
	if el := now.Sub(k.last).Seconds(); el > 0 {
		k.tokens = min(burst, k.tokens+el*rate)
		k.last = now
	}
	return k, sh
}

// Take takes cost tokens from user's bucket and returns 0, or how long
// until there are enough.
func (b *Buckets) Take(user string, cost, rate, burst float64, now time.Time) time.Duration {
	if rate <= 0 {
		return 0
	}
	k, sh := b.get(user, rate, burst, now)
	defer sh.mu.Unlock()
	if k.tokens < cost {
		return time.Duration((cost - k.tokens) / rate * float64(time.Second))
	}
	k.tokens -= cost
	return 0
}

// Charge takes cost tokens after the fact, into debt down to -burst.
func (b *Buckets) Charge(user string, cost, rate, burst float64, now time.Time) {
	if rate <= 0 || cost <= 0 {
		return
	}
	k, sh := b.get(user, rate, burst, now)
	k.tokens = max(k.tokens-cost, -burst)
	sh.mu.Unlock()
}

// Sweep forgets buckets that have refilled.
func (b *Buckets) Sweep(now time.Time) {
	full := time.Duration(b.full.Load())
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		for u, k := range sh.m {
			if now.Sub(k.last) > full {
				delete(sh.m, u)
			}
		}
		sh.mu.Unlock()
	}
}

// size is how many buckets there are (for tests).
func (b *Buckets) size() int {
	n := 0
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
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
