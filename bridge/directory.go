package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/patrickmn/go-cache"
	"golang.org/x/sync/singleflight"

	"pollchat/config"
)

// MaxBatch is the most ids one Source.Lookup is asked for.
const MaxBatch = 100

// Directory answers "who is user X" from a cache in front of a Source.
//
// A fresh entry is answered from memory. A miss joins the fetch already
// running or queued for that id (one fetch per id, as singleflight does,
// but across batches) or the batch being gathered: misses that arrive
// within Tick of each other, or while earlier fetches run, become one
// Lookup of up to MaxBatch ids. An entry past its TTL is still answered at
// once (stale) while one background fetch refreshes it, and it is kept for
// StaleFor so that the chat goes on showing names while the host site is
// down. When the source fails, misses fail fast with ErrSourceDown until
// RetryAfter has passed, and the outage is logged once (and its end once).
//
// The cache is two go-cache maps over the same entries: fresh (expiring at
// the TTL, the only one the hot path reads) and stale (expiring StaleFor
// later). Ids the source does not know live apart, in a negative cache of
// at most MaxUnknown ids (the oldest evicted), since anyone signed in can
// ask for made-up ids.
//
// What a flood of distinct ids can cost is bounded too: at most
// LookupsPerSecond Lookups (a batch waiting for its turn goes on
// gathering ids, up to MaxBatch), and at most MaxPending ids queued or in
// flight; misses beyond that fail fast with ErrSourceDown (stale entries
// are still served).
type Directory struct {
	src        Source
	ttl        time.Duration
	unknownTTL time.Duration
	staleFor   time.Duration
	timeout    time.Duration
	retry      time.Duration
	fresh      *cache.Cache // id -> *entry (known users)
	stale      *cache.Cache // id -> *entry, kept StaleFor longer
	neg        *negCache    // unknown ids, bounded
	limit      lookupLimiter
	maxPending int
	log        *slog.Logger
	batch      batcher

	searches    *cache.Cache // normalised query (lowercased) -> []User
	searchGroup singleflight.Group
	searchTTL   time.Duration
	maxSearches int

	// outage state
	mu        sync.Mutex
	down      bool
	downSince time.Time
	retryAt   atomic.Int64 // unix nanos before which misses fail fast

	stats struct {
		stale, misses, fetches, fetchErrors, fetchedIDs atomic.Int64
		searches, searchErrors, searchesLimited         atomic.Int64
	}
}

type entry struct {
	user    User
	unknown bool
}

// DirectoryConfig configures a Directory.
type DirectoryConfig struct {
	// TTL of a cached user; zero means 5m.
	TTL time.Duration
	// UnknownTTL of a cached "no such user"; zero means 30s.
	UnknownTTL time.Duration
	// StaleFor is how long an entry past its TTL is kept, served while a
	// refresh runs or the source is down; zero means 24h.
	StaleFor time.Duration
	// Tick is how long a miss waits for others to share its Lookup; zero
	// means 2ms.
	Tick time.Duration
	// Timeout bounds one Lookup; zero means 10s. (Sources have their own
	// timeouts too, e.g. users.http.timeout.)
	Timeout time.Duration
	// RetryAfter is how long, after a failed Lookup, misses fail fast
	// without asking the source again; zero means 2s.
	RetryAfter time.Duration
	// MaxUnknown bounds the ids remembered as unknown; the oldest is
	// forgotten first. Zero means 50,000 (a few MB).
	MaxUnknown int
	// LookupsPerSecond bounds Source.Lookup calls (users-info requests,
	// MySQL queries), with a burst of as many; zero means 50.
	LookupsPerSecond int
	// MaxPending bounds the ids waiting for a Lookup; misses beyond it fail
	// fast with ErrSourceDown. Zero means 2,000.
	MaxPending int
	// SearchTTL is how long a search's answer is kept; zero means 30s.
	SearchTTL time.Duration
	// MaxSearches bounds the search answers kept; zero means 1,000.
	MaxSearches int
	// Log receives outage lines; nil means slog.Default().
	Log *slog.Logger
}

// ErrOverloaded is wrapped (with ErrSourceDown) by misses refused because
// MaxPending ids already wait for the source.
var ErrOverloaded = errors.New("bridge: too many user lookups pending")

// NewDirectory returns a directory over src.
func NewDirectory(src Source, cfg DirectoryConfig) *Directory {
	if cfg.TTL <= 0 {
		cfg.TTL = 5 * time.Minute
	}
	if cfg.UnknownTTL <= 0 {
		cfg.UnknownTTL = 30 * time.Second
	}
	if cfg.StaleFor <= 0 {
		cfg.StaleFor = 24 * time.Hour
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 2 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 2 * time.Second
	}
	if cfg.MaxUnknown <= 0 {
		cfg.MaxUnknown = 50_000
	}
	if cfg.LookupsPerSecond <= 0 {
		cfg.LookupsPerSecond = 50
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 20 * MaxBatch
	}
	if cfg.SearchTTL <= 0 {
		cfg.SearchTTL = DefaultSearchTTL
	}
	if cfg.MaxSearches <= 0 {
		cfg.MaxSearches = DefaultMaxSearches
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	d := &Directory{
		src:        src,
		ttl:        cfg.TTL,
		unknownTTL: cfg.UnknownTTL,
		staleFor:   cfg.StaleFor,
		timeout:    cfg.Timeout,
		retry:      cfg.RetryAfter,
		fresh:      cache.New(cfg.TTL, time.Minute),
		stale:      cache.New(cfg.TTL+cfg.StaleFor, 5*time.Minute),
		neg:        newNegCache(cfg.MaxUnknown),
		limit:      lookupLimiter{every: time.Second / time.Duration(cfg.LookupsPerSecond), burst: cfg.LookupsPerSecond},
		maxPending: cfg.MaxPending,
		log:        cfg.Log,

		searches:    cache.New(cfg.SearchTTL, time.Minute),
		searchTTL:   cfg.SearchTTL,
		maxSearches: cfg.MaxSearches,
	}
	d.batch.d = d
	d.batch.tick = cfg.Tick
	d.batch.inflight = map[string]*batch{}
	return d
}

// Get returns one user, ErrUnknownUser, or an error that is ErrSourceDown
// (the source failed and nothing is cached, or ctx ended first).
func (d *Directory) Get(ctx context.Context, id string) (User, error) {
	if e, ok := d.cached(id); ok {
		if e.unknown {
			return User{}, ErrUnknownUser
		}
		return e.user, nil
	}
	if config.ValidUserID(id) != nil {
		return User{}, ErrUnknownUser // never asked, never cached
	}
	d.stats.misses.Add(1)
	var one [1]*batch
	b := d.enqueue([]string{id}, one[:0])[0]
	select {
	case <-b.done:
		return d.answer(id, b)
	case <-ctx.Done():
		return User{}, fmt.Errorf("%w: %w", ErrSourceDown, ctx.Err())
	}
}

// Cached is Get(id) from the cache alone: ok is false when Get would ask
// the source and wait; otherwise known says whether the user is known
// (Get's ErrUnknownUser when not), and u is the user. A stale entry
// answers, and is refreshed in the background, as in Get.
func (d *Directory) Cached(id string) (u User, known, ok bool) {
	e, ok := d.cached(id)
	if !ok {
		return User{}, false, false
	}
	if e.unknown {
		return User{}, false, true
	}
	return e.user, true, true
}

var unknownEntry = &entry{unknown: true}

// cached answers from the cache: a fresh entry, a fresh "unknown", or a
// stale known user whose refresh it queues. An expired "unknown" is not
// answered (it is asked again, and served only if the source fails).
func (d *Directory) cached(id string) (*entry, bool) {
	if v, ok := d.fresh.Get(id); ok {
		return v.(*entry), true
	}
	if d.neg.get(id, false) {
		return unknownEntry, true
	}
	v, ok := d.stale.Get(id)
	if !ok {
		return nil, false
	}
	e := v.(*entry)
	d.stats.stale.Add(1)
	if time.Now().UnixNano() >= d.retryAt.Load() {
		var one [1]*batch
		d.enqueue([]string{id}, one[:0]) // refresh in the background; nobody waits
	}
	return e, true
}

// answer turns a finished fetch of id into Get's result; on failure the
// stale entry (known or unknown) is the answer if there is one.
func (d *Directory) answer(id string, b *batch) (User, error) {
	if b.err == nil {
		if u, ok := b.users[id]; ok {
			return u, nil
		}
		return User{}, ErrUnknownUser
	}
	if v, ok := d.stale.Get(id); ok {
		d.stats.stale.Add(1)
		return v.(*entry).user, nil
	}
	if d.neg.get(id, true) {
		d.stats.stale.Add(1)
		return User{}, ErrUnknownUser
	}
	if errors.Is(b.err, ErrSourceDown) {
		return User{}, b.err
	}
	return User{}, fmt.Errorf("%w: %w", ErrSourceDown, b.err)
}

// GetMany returns the known users among ids (unknown ones are left out).
// The error is non-nil (ErrSourceDown) when some ids could not be looked
// up; the map still holds every user that could.
func (d *Directory) GetMany(ctx context.Context, ids []string) (map[string]User, error) {
	out := make(map[string]User, len(ids))
	var miss []string
	for _, id := range ids {
		if e, ok := d.cached(id); ok {
			if !e.unknown {
				out[id] = e.user
			}
			continue
		}
		if config.ValidUserID(id) == nil {
			miss = append(miss, id)
		}
	}
	if len(miss) == 0 {
		return out, nil
	}
	d.stats.misses.Add(int64(len(miss)))
	batches := d.enqueue(miss, make([]*batch, 0, len(miss)))
	var firstErr error
	for i, id := range miss {
		b := batches[i]
		select {
		case <-b.done:
		case <-ctx.Done():
			return out, fmt.Errorf("%w: %w", ErrSourceDown, ctx.Err())
		}
		u, err := d.answer(id, b)
		switch {
		case err == nil:
			out[id] = u
		case errors.Is(err, ErrUnknownUser):
		default:
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	return out, firstErr
}

// ForIdentity returns the user behind a verified identity: the directory's
// data, with the token's name and avatar (JWT claims, eStreamChat's name and
// thumbUrl) used only where the directory has nothing. When the directory
// does not know the user (or cannot be asked), a user made from the token
// is returned if it carries a name; otherwise the directory's error.
func (d *Directory) ForIdentity(ctx context.Context, idn Identity) (User, error) {
	u, err := d.Get(ctx, idn.UserID)
	if err == nil {
		if u.Name == "" {
			u.Name = idn.Name
		}
		if u.AvatarURL == "" {
			u.AvatarURL = idn.AvatarURL
		}
		return u, nil
	}
	if idn.Name != "" {
		return User{ID: idn.UserID, Name: idn.Name, AvatarURL: idn.AvatarURL, Role: RoleMember}, nil
	}
	return User{}, err
}

// Invalidate drops ids from the cache; the next lookup asks the source.
func (d *Directory) Invalidate(ids ...string) {
	for _, id := range ids {
		d.fresh.Delete(id)
		d.stale.Delete(id)
		d.neg.drop(id)
	}
}

// DirectoryStats counts what the directory did since it was made. Fresh
// hits are not counted: the hot path stays free of shared writes.
type DirectoryStats struct {
	Stale       int64 // answered from an expired entry
	Misses      int64 // not cached: waited for a fetch
	Fetches     int64 // Source.Lookup calls
	FetchErrors int64 // failed Lookup calls
	FetchedIDs  int64 // ids asked of the source in all
	Unknown     int   // ids remembered as unknown now (at most MaxUnknown)

	Searches        int64 // Searcher.Search calls
	SearchErrors    int64 // failed Search calls
	SearchesLimited int64 // searches refused for the lookup budget
}

// Stats returns the counters.
func (d *Directory) Stats() DirectoryStats {
	return DirectoryStats{
		Stale:       d.stats.stale.Load(),
		Misses:      d.stats.misses.Load(),
		Fetches:     d.stats.fetches.Load(),
		FetchErrors: d.stats.fetchErrors.Load(),
		FetchedIDs:  d.stats.fetchedIDs.Load(),
		Unknown:     d.neg.len(),

		Searches:        d.stats.searches.Load(),
		SearchErrors:    d.stats.searchErrors.Load(),
		SearchesLimited: d.stats.searchesLimited.Load(),
	}
}

// Down says whether the last Lookup failed.
func (d *Directory) Down() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.down
}

// batch is one Lookup shared by the ids gathered within a tick.
type batch struct {
	ids      []string
	reserved bool // has its Lookup token (guarded by batcher.mu)
	once     sync.Once
	done     chan struct{}
	users    map[string]User
	err      error
}

// failedBatch answers at once while the source is in its retry pause, or
// overloaded.
func failedBatch(err error) *batch {
	b := &batch{done: make(chan struct{}), err: err}
	close(b.done)
	return b
}

// batcher gathers misses into batches and remembers which batch each id
// in flight belongs to.
type batcher struct {
	d        *Directory
	tick     time.Duration
	mu       sync.Mutex
	cur      *batch
	inflight map[string]*batch // queued or running, by id
}

// enqueue appends to dst, for each id, the batch that will answer it: the
// one already fetching it, or the one being gathered (started if needed,
// sent at once when full).
func (d *Directory) enqueue(ids []string, dst []*batch) []*batch {
	if time.Now().UnixNano() < d.retryAt.Load() {
		f := failedBatch(ErrSourceDown)
		for range ids {
			dst = append(dst, f)
		}
		return dst
	}
	b := &d.batch
	var full []*batch
	var over *batch
	b.mu.Lock()
	for _, id := range ids {
		if x, ok := b.inflight[id]; ok {
			dst = append(dst, x)
			continue
		}
		if len(b.inflight) >= d.maxPending {
			if over == nil {
				over = failedBatch(fmt.Errorf("%w: %w", ErrSourceDown, ErrOverloaded))
			}
			dst = append(dst, over)
			continue
		}
		cur := b.cur
		if cur == nil {
			cur = &batch{done: make(chan struct{}), ids: make([]string, 0, 8)}
			b.cur = cur
			time.AfterFunc(b.tick, func() { b.flush(cur) })
		}
		cur.ids = append(cur.ids, id)
		b.inflight[id] = cur
		dst = append(dst, cur)
		if len(cur.ids) >= MaxBatch {
			b.cur = nil
			full = append(full, cur)
		}
	}
	b.mu.Unlock()
	for _, f := range full {
		go b.flush(f)
	}
	return dst
}

// flush sends cur when its tick ends or it is full: at once if the
// limiter has a token, else when it will (cur goes on gathering ids
// meanwhile, unless full). Only the first flush of a batch counts.
func (b *batcher) flush(cur *batch) {
	b.mu.Lock()
	if cur.reserved {
		b.mu.Unlock()
		return
	}
	cur.reserved = true
	b.mu.Unlock()
	if wait := b.d.limit.reserve(); wait > 0 {
		time.AfterFunc(wait, func() { b.start(cur) })
		return
	}
	b.start(cur)
}

func (b *batcher) start(cur *batch) {
	b.mu.Lock()
	if b.cur == cur {
		b.cur = nil
	}
	b.mu.Unlock()
	cur.once.Do(func() { b.d.run(cur) })
}

// run does one Lookup for a batch and caches its answers.
func (d *Directory) run(b *batch) {
	defer func() {
		d.batch.mu.Lock()
		for _, id := range b.ids {
			if d.batch.inflight[id] == b {
				delete(d.batch.inflight, id)
			}
		}
		d.batch.mu.Unlock()
		close(b.done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	d.stats.fetches.Add(1)
	d.stats.fetchedIDs.Add(int64(len(b.ids)))
	m, err := lookupSafe(ctx, d.src, b.ids)
	if err != nil {
		d.stats.fetchErrors.Add(1)
		d.failed(err)
		b.err = err
		return
	}
	d.recovered()
	for _, id := range b.ids {
		if u, ok := m[id]; ok {
			if u.ID == "" {
				u.ID = id
			}
			m[id] = d.remember(u)
		} else {
			// Unknowns are kept stale only briefly, in the bounded
			// negative cache: anyone can ask for made-up ids. A user who
			// was known and is no longer (banned, deleted) is unknown now.
			d.fresh.Delete(id)
			d.stale.Delete(id)
			d.neg.add(id, time.Now(), d.unknownTTL, min(d.staleFor, 5*time.Minute))
		}
	}
	b.users = m
}

// remember caches a user the source gave (by Lookup or Search) and
// returns it as the directory answers it.
func (d *Directory) remember(u User) User {
	if u.Role == "" {
		u.Role = RoleMember
	}
	// Whatever the source, only http(s) and /path URLs reach a client.
	u.AvatarURL, u.ProfileURL = SafeURL(u.AvatarURL), SafeURL(u.ProfileURL)
	e := &entry{user: u}
	d.fresh.Set(u.ID, e, d.ttl)
	d.stale.Set(u.ID, e, d.ttl+d.staleFor)
	d.neg.drop(u.ID)
	return u
}

// lookupSafe calls the source, turning a panic into an error.
func lookupSafe(ctx context.Context, src Source, ids []string) (m map[string]User, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bridge: user source panicked: %v", r)
		}
	}()
	m, err = src.Lookup(ctx, ids)
	if err == nil && m == nil {
		m = map[string]User{}
	}
	return m, err
}

func (d *Directory) failed(err error) {
	d.retryAt.Store(time.Now().Add(d.retry).UnixNano())
	d.mu.Lock()
	first := !d.down
	if first {
		d.down, d.downSince = true, time.Now()
	}
	d.mu.Unlock()
	if first {
		d.log.Warn("bridge: user source down; serving cached users", "err", err)
	}
}

func (d *Directory) recovered() {
	d.mu.Lock()
	was, since := d.down, d.downSince
	d.down = false
	d.mu.Unlock()
	if was {
		d.log.Info("bridge: user source back", "down_for", time.Since(since).Round(time.Millisecond).String())
	}
}
