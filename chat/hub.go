package chat

import (
	"context"
	"hash/maphash"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The hub keeps what this process knows of each user it serves: the polls
// parked here, when the user was last seen, and their contacts. The events
// themselves and their cursors are the Engine's. One poll path serves both
// engines: a poll registers its waiter, then reads its stream; when there
// is nothing to answer it stays parked (a callback and a timer, no
// goroutine) until the engine wakes the user, its timeout passes or the
// hub closes; the woken waiter reads again and answers. Registering before
// reading means a wake between the read and the park is not lost. There
// is no global lock: streams live in sharded maps and each has its own
// mutex. Nothing on this path reads the store.

const numShards = 64

// MaxParkedPerUser bounds the polls one user may have parked at once (tabs,
// reconnects whose old connection the server cannot see closing). A new
// poll beyond it answers the oldest parked one at once with Evicted set,
// which the HTTP face turns into an error the widget backs off from (an
// empty answer would be re-polled at once, and two sets of polls would
// evict each other in a tight loop). Polls on a scoped token (the popup's)
// have a quota of their own: they never evict the user's real polls.
const MaxParkedPerUser = 6

// readMax bounds the events one poll answer carries.
const readMax = 256

// downPause is how long a poll waits before answering when the engine
// fails, so that clients do not spin; nothing is lost, the events wait in
// the engine.
const downPause = time.Second

// HubConfig configures a Hub.
type HubConfig struct {
	// Engine holds the streams, presence and rooms; nil means a
	// MemoryEngine with Buffer, Grace, Idle and Now.
	Engine Engine
	// Buffer is how many events a memory stream keeps (when Engine is nil);
	// zero means 256.
	Buffer int
	// Grace keeps a user online after their last poll ended; zero means 40s.
	Grace time.Duration
	// Idle drops a stream that nobody polled for this long after going
	// offline; zero means 10m.
	Idle time.Duration
	// Presence is called (outside any lock, from the goroutine that saw the
	// change) when a user goes online or offline. May be nil.
	Presence func(user string, online bool)
	// Control receives control messages from other processes. May be nil.
	Control func(Control)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Hub holds the users' parked polls and local presence over an Engine.
type Hub struct {
	engine   Engine
	grace    time.Duration
	idle     time.Duration
	presence func(string, bool)
	now      func() time.Time

	seed   maphash.Seed
	shards [numShards]shard

	closed    chan struct{}
	closeOnce sync.Once
	epoch     time.Time // tick 0 of the timeout grid
	pool      workers

	parked     atomic.Int64
	deliveries atomic.Uint64
	errs       *engineErrors
	// reapMu serializes Reap, whose buffers are kept from one to the next
	// (reapSeen goes to the engine's Touch, reapStreams are its streams).
	reapMu      sync.Mutex
	reapSeen    []Seen
	reapStreams []*stream
	reapDue     []*stream
	// reapUnit is the width (ns) of a slot of the shards' reap wheels: the
	// reaper's tick (Service.runReaper).
	reapUnit int64
	// local: the engine is the MemoryEngine, which never waits and ignores
	// contexts, so the hot path gives it no timeout (context.WithTimeout
	// costs a timer and four allocations on every poll and publish).
	local bool
}

type shard struct {
	mu   sync.RWMutex
	m    map[string]*stream
	grid grid // the deadlines of the polls parked on its streams

	// The reap wheel: which streams the next reaps must look at (see
	// Reap). wheel maps a slot (a time divided by Hub.reapUnit) to the
	// streams due then; a stream is in the slot of its stream.due (a copy
	// left in a later slot is passed over). wdone is the last slot Reap
	// took; soon holds the streams due in it or before (stream.due
	// soonSlot), which every reap takes. wmu is taken last, under any
	// other lock.
	wmu   sync.Mutex
	wheel map[int64][]*stream
	soon  []*stream
	wdone int64
	spare [][]*stream // the arrays of slots taken, for new slots
}

// soonSlot is stream.due for a stream on its shard's soon list.
const soonSlot = math.MinInt64

// stream is this process's view of one user: parked polls, presence.
type stream struct {
	mu       sync.Mutex
	waiters  []*waiter
	parked   int
	lastSeen int64 // unix nanoseconds when a poll last started or ended
	// touched is the last-seen time (unix nanoseconds) this hub last gave
	// the engine's Touch successfully for the user; 0 when none (or when
	// the engine may have lost it). Reap leaves out the users whose
	// engine record is recent enough (see Reap).
	touched int64
	online  bool // seen within the grace, as far as this process knows
	// gone: Reap dropped the stream from its shard (guarded by mu).
	gone bool
	// queued: the stream is on its shard's reap wheel, in slot due
	// (both guarded by sh.wmu). The bools sit together: a stream is 112
	// bytes, the size class it would take with one of them alone.
	queued   bool
	contacts map[string]struct{}
	// caller is the Service's entry of what the user's identity said
	// (users.go), kept here so that a poll need not look it up.
	caller *callerEntry

	user string
	sh   *shard
	due  int64
}

// Why a parked poll ends.
const (
	endWoken   = iota + 1 // the engine says the stream has events: read
	endTimeout            // its timeout passed (or the engine failed)
	endEvicted            // a newer poll took its place
	endClosed             // the hub closed or the poll's caller gave up
)

// waiter is a parked poll. It ends exactly once: whoever wins fired (a
// wake, its tick on the timeout grid, an eviction, Close) hands end to the
// hub's workers, which answer fn. Until then it holds no goroutine and no
// stack.
type waiter struct {
	h      *Hub
	s      *stream
	sh     *shard
	user   string
	cursor string
	fn     func(PollResult)
	run    Runner // where its end runs; nil: the hub's workers
	fired  atomic.Bool
	why    int                   // set by the one that fired it
	scoped bool                  // a scoped token's poll: counted in its own quota
	keep   func(key string) bool // a scoped poll's filter (scope.go); nil keeps all
	// Its place on the shard's timeout grid (guarded by the grid's mutex):
	// its tick (0: not on the grid) and its neighbours in that tick's list.
	tick       int64
	prev, next *waiter
}

// fire ends w for why unless it has ended; it reports whether it did.
func (w *waiter) fire(why int) bool {
	if !w.fired.CompareAndSwap(false, true) {
		return false
	}
	w.why = why
	if w.run != nil {
		w.run.Go(w)
	} else {
		w.h.pool.run(w)
	}
	return true
}

// Run ends w, on one of the hub's workers (or on its Runner).
func (w *waiter) Run() { w.h.end(w) }

// Go runs t on one of the hub's long-lived workers (a parked poll's
// callback runs there too): an idle one, or a new one when none is idle.
func (h *Hub) Go(t Task) { h.pool.run(t) }

// NewHub returns a hub over cfg.Engine and registers its wake with it.
func NewHub(cfg HubConfig) *Hub {
	cfg.Grace = orDefault(cfg.Grace, DefaultGrace)
	cfg.Idle = orDefault(cfg.Idle, DefaultIdle)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Engine == nil {
		cfg.Engine = NewMemoryEngine(MemoryConfig{Buffer: cfg.Buffer, Grace: cfg.Grace, Idle: cfg.Idle, Now: cfg.Now})
	}
	h := &Hub{
		engine:   cfg.Engine,
		grace:    cfg.Grace,
		idle:     cfg.Idle,
		presence: cfg.Presence,
		now:      cfg.Now,
		seed:     maphash.MakeSeed(),
		closed:   make(chan struct{}),
		errs:     &engineErrors{},
		epoch:    time.Now(),
	}
	_, h.local = cfg.Engine.(*MemoryEngine)
	h.pool = workers{tasks: make(chan Task), closed: h.closed}
	h.reapUnit = int64(max(min(time.Second, cfg.Grace/4), time.Millisecond))
	start := h.reapSlot(cfg.Now().UnixNano())
	for i := range h.shards {
		h.shards[i].m = make(map[string]*stream)
		h.shards[i].grid.ticks = make(map[int64]*waiter)
		h.shards[i].wheel = make(map[int64][]*stream)
		h.shards[i].wdone = start - 1
	}
	go h.ticker()
	ctl := cfg.Control
	if ctl == nil {
		ctl = func(Control) {}
	}
	h.engine.Listen(h.Wake, ctl)
	return h
}

// ctx is the context of one engine call: engineCtx's timeout, or none for
// the memory engine.
func (h *Hub) ctx() (context.Context, context.CancelFunc) {
	if h.local {
		return context.Background(), noCancel
	}
	return engineCtx()
}

func noCancel() {}

// Engine returns the hub's engine.
func (h *Hub) Engine() Engine { return h.engine }

func (h *Hub) shard(user string) *shard {
	return &h.shards[maphash.String(h.seed, user)%numShards]
}

// get returns user's stream, creating it when create is set.
func (h *Hub) get(user string, create bool) *stream {
	sh := h.shard(user)
	sh.mu.RLock()
	s := sh.m[user]
	sh.mu.RUnlock()
	if s != nil || !create {
		return s
	}
	sh.mu.Lock()
	if s = sh.m[user]; s != nil {
		sh.mu.Unlock()
		return s
	}
	s = &stream{lastSeen: h.now().UnixNano(), user: user, sh: sh}
	sh.m[user] = s
	sh.mu.Unlock()
	h.reapAt(s, s.lastSeen)
	return s
}

// Open makes sure user has a stream and returns its current cursor: events
// published from now on are kept for them.
func (h *Hub) Open(user string) (string, error) {
	h.get(user, true)
	ctx, cancel := h.ctx()
	defer cancel()
	c, err := h.engine.Head(ctx, user)
	return c, h.errs.count(err)
}

// seen marks user's stream as seen now and online; when this process did
// not know them online, the engine is told at once (and says whether they
// went online everywhere).
func (h *Hub) seen(user string, s *stream) {
	now := h.now()
	s.mu.Lock()
	s.lastSeen = now.UnixNano()
	wentOnline := !s.online
	s.online = true
	s.mu.Unlock()
	h.reapAt(s, now.UnixNano())
	if !wentOnline {
		return
	}
	ctx, cancel := h.ctx()
	online, err := h.engine.Touch(ctx, []Seen{{User: user, At: now}})
	cancel()
	if h.errs.count(err) != nil {
		return // the next reap tells the engine
	}
	s.mu.Lock()
	s.touched = max(s.touched, now.UnixNano())
	s.mu.Unlock()
	for _, u := range online {
		h.notify(u, true)
	}
}

// Touch marks user as seen now (online, with the grace period), as a poll
// would, without reading events.
func (h *Hub) Touch(user string) { h.seen(user, h.get(user, true)) }

// PollResult is what a poll answers.
type PollResult struct {
	Cursor string
	Events [][]byte // pre-encoded JSON objects, oldest first
	Reset  bool
	// Evicted: a newer poll of the same user (and quota) took this one's
	// place; Cursor is the one it was given.
	Evicted bool
}

// Park answers a poll of user from cursor. When it can be answered now (an
// event newer than cursor, a reset, an empty cursor, no timeout, a closed
// hub) it returns the result and parked = false. Otherwise it keeps fn and
// returns parked = true: fn then runs exactly once, on one of the hub's
// workers (see Go), with the result, when an event arrives, timeout passes
// (rounded up to the timeout grid's tick) or the hub closes; it may go on
// with other work there. A parked poll costs a waiter on the grid, no
// goroutine and no stack.
func (h *Hub) Park(user, cursor string, timeout time.Duration, fn func(PollResult)) (PollResult, bool) {
	res, w := h.park(user, cursor, timeout, nil, nil, fn)
	return res, w != nil
}

// ParkOn is Park with the poll's end (reading the stream, then fn) run by
// run rather than by the hub's workers (nil: the workers). run must not
// wait: a wake or a timeout hands it the end and goes on. keep, when not
// nil, is a scoped token's filter: such polls count in a quota of their
// own and answer only the events whose conversation key keep keeps.
func (h *Hub) ParkOn(run Runner, user, cursor string, keep func(key string) bool, timeout time.Duration, fn func(PollResult)) (PollResult, bool) {
	res, w := h.park(user, cursor, timeout, keep, run, fn)
	return res, w != nil
}

// Poll is Park waiting for its answer: it returns early when done closes.
func (h *Hub) Poll(user, cursor string, timeout time.Duration, done <-chan struct{}) PollResult {
	return h.poll(user, cursor, timeout, nil, done)
}

// PollScoped is Poll for a scoped token (see ParkOn).
func (h *Hub) PollScoped(user, cursor string, keep func(key string) bool, timeout time.Duration, done <-chan struct{}) PollResult {
	return h.poll(user, cursor, timeout, keep, done)
}

func (h *Hub) poll(user, cursor string, timeout time.Duration, keep func(string) bool, done <-chan struct{}) PollResult {
	ch := make(chan PollResult, 1)
	res, w := h.park(user, cursor, timeout, keep, nil, func(r PollResult) { ch <- r })
	if w == nil {
		return res
	}
	select {
	case r := <-ch:
		return r
	case <-done:
		w.fire(endClosed)
		return <-ch
	}
}

// park is the one poll path. It returns the answer and a nil waiter, or
// the waiter that will answer fn.
func (h *Hub) park(user, cursor string, timeout time.Duration, keep func(string) bool, run Runner, fn func(PollResult)) (PollResult, *waiter) {
	return h.parkOn(h.get(user, true), user, cursor, timeout, keep, run, fn)
}

// parkOn is park on s, user's stream as it was looked up. Reap may drop s
// from its shard between that lookup and the lock below (a user idle for
// grace + idle who comes back during the reap); a waiter added to a
// dropped stream is not found by Wake and would hear of nothing until its
// timeout, so the poll parks on the stream the shard holds now.
func (h *Hub) parkOn(s *stream, user, cursor string, timeout time.Duration, keep func(string) bool, run Runner, fn func(PollResult)) (PollResult, *waiter) {
	sh := h.shard(user)
	h.seen(user, s)
	s.mu.Lock()
	for s.gone {
		s.mu.Unlock()
		s = h.get(user, true)
		h.seen(user, s)
		s.mu.Lock()
	}
	w := &waiter{h: h, s: s, sh: sh, user: user, cursor: cursor, fn: fn, run: run, scoped: keep != nil, keep: keep}
	s.addWaiter(w) // parked > 0 from here: Reap no longer drops s
	s.mu.Unlock()
	h.parked.Add(1)

	res, err := h.read(user, cursor, keep)
	closed := false
	select {
	case <-h.closed:
		closed = true
	default:
	}
	// A scoped poll whose read skipped other conversations' events (the
	// cursor moved, nothing kept) answers too, with the new cursor: its
	// next poll does not skip them again.
	if err == nil && (cursor == "" || res.Reset || len(res.Events) > 0 || res.Cursor != cursor || timeout <= 0 || closed) {
		if !w.fired.CompareAndSwap(false, true) {
			return PollResult{}, w // a wake or an eviction came first: it answers
		}
		h.unpark(w)
		return res, nil
	}
	if err != nil {
		timeout = downPause
	}
	h.schedule(w, timeout)
	if w.fired.Load() {
		// Fired meanwhile: its end may have run before it was scheduled.
		h.unschedule(w)
	}
	return PollResult{}, w
}

// read reads user's stream after cursor ("" reads only the head).
func (h *Hub) read(user, cursor string, keep func(string) bool) (PollResult, error) {
	ctx, cancel := h.ctx()
	defer cancel()
	if cursor == "" {
		c, err := h.engine.Head(ctx, user)
		return PollResult{Cursor: c}, h.errs.count(err)
	}
	evs, next, reset, err := h.engine.Read(ctx, user, cursor, readMax, keep)
	if h.errs.count(err) != nil {
		return PollResult{Cursor: cursor}, err
	}
	return PollResult{Cursor: next, Events: evs, Reset: reset}, nil
}

// addWaiter parks w, evicting the oldest parked poll of w's quota (scoped
// or not) first when the user already has MaxParkedPerUser of it. Caller
// holds s.mu.
func (s *stream) addWaiter(w *waiter) {
	n, oldest := 0, -1
	for i, x := range s.waiters {
		if x.scoped == w.scoped {
			if n == 0 {
				oldest = i
			}
			n++
		}
	}
	if n >= MaxParkedPerUser {
		old := s.waiters[oldest]
		s.waiters = slices.Delete(s.waiters, oldest, oldest+1) // zeroes the freed slot
		old.fire(endEvicted)
	}
	s.waiters = append(s.waiters, w)
	s.parked++
}

// unpark removes an ended waiter from its stream.
func (h *Hub) unpark(w *waiter) {
	s := w.s
	s.mu.Lock()
	for i, x := range s.waiters {
		if x == w {
			s.waiters = slices.Delete(s.waiters, i, i+1)
			break
		}
	}
	s.parked--
	now := h.now().UnixNano()
	s.lastSeen = now
	s.mu.Unlock()
	h.reapAt(s, now)
	h.parked.Add(-1)
}

// end answers a parked poll that fired.
func (h *Hub) end(w *waiter) {
	h.unschedule(w)
	h.unpark(w)
	res := PollResult{Cursor: w.cursor}
	switch w.why {
	case endEvicted:
		res.Evicted = true
	case endWoken:
		if r, err := h.read(w.user, w.cursor, w.keep); err == nil {
			res = r
		}
	}
	w.fn(res)
}

// Publish appends an event, with its conversation key (scope.go), to
// user's stream and wakes their parked polls.
// It reports whether the event was delivered to a stream.
func (h *Hub) Publish(user, key string, data []byte) bool {
	n, _ := h.PublishMany([]string{user}, key, data)
	return n == 1
}

// PublishMany publishes one event to several users; it returns how many
// streams got it. A user without a stream (not connected since the stream
// was dropped) gets nothing: they will read the store on hello.
func (h *Hub) PublishMany(users []string, key string, data []byte) (int, error) {
	if len(users) == 0 {
		return 0, nil
	}
	ctx, cancel := h.ctx()
	defer cancel()
	n, err := h.engine.Append(ctx, users, key, data)
	h.deliveries.Add(uint64(n))
	return n, h.errs.count(err)
}

// Wake ends the polls parked here for user, which then read their stream;
// "" wakes every parked poll. The engine calls it when a stream got events.
func (h *Hub) Wake(user string) {
	if user != "" {
		if s := h.get(user, false); s != nil {
			s.wake(endWoken)
		}
		return
	}
	// After a reconnect the engine may have lost its presence records
	// (a restarted Redis): the next reap touches every active user again.
	now := h.now().UnixNano()
	h.each(func(s *stream) {
		s.mu.Lock()
		s.touched = 0
		s.mu.Unlock()
		h.reapAt(s, now)
		s.wake(endWoken)
	})
}

// wake ends every poll parked on s.
func (s *stream) wake(why int) {
	// The waiters are copied out (to the stack, for up to two users' worth)
	// and s.waiters keeps its array, so that the next park appends without
	// allocating.
	var buf [2 * MaxParkedPerUser]*waiter
	s.mu.Lock()
	ws := append(buf[:0], s.waiters...)
	clear(s.waiters)
	s.waiters = s.waiters[:0]
	s.mu.Unlock()
	for _, w := range ws {
		w.fire(why)
	}
}

func (h *Hub) each(fn func(*stream)) {
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for _, s := range sh.m {
			fn(s)
		}
		sh.mu.RUnlock()
	}
}

// Online says whether user is online: a poll held, or one ended less than
// the grace period ago. When the engine fails, this process's view answers.
func (h *Hub) Online(user string) bool {
	ctx, cancel := h.ctx()
	defer cancel()
	on, err := h.engine.Online(ctx, []string{user})
	if h.errs.count(err) == nil {
		return on[0]
	}
	s := h.get(user, false)
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.online
}

// OnlineUsers returns up to limit online users other than except; those in
// first come first.
func (h *Hub) OnlineUsers(except string, first []string, limit int) []string {
	out, err := h.onlineUsers(except, first, limit)
	if h.errs.count(err) == nil {
		return out
	}
	// The engine failed: this process's view.
	out = []string{}
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for u, s := range sh.m {
			s.mu.Lock()
			on := s.online
			s.mu.Unlock()
			if on && u != except && len(out) < limit {
				out = append(out, u)
			}
		}
		sh.mu.RUnlock()
	}
	return out
}

func (h *Hub) onlineUsers(except string, first []string, limit int) ([]string, error) {
	ctx, cancel := h.ctx()
	defer cancel()
	out := []string{} // never nil: hello's "online" is a list
	seen := map[string]bool{except: true}
	if len(first) > 0 {
		on, err := h.engine.Online(ctx, first)
		if err != nil {
			return nil, err
		}
		for i, u := range first {
			if on[i] && !seen[u] && len(out) < limit {
				out = append(out, u)
				seen[u] = true
			}
		}
	}
	if len(out) >= limit {
		return out, nil
	}
	all, err := h.engine.OnlineList(ctx, min(limit, 1<<30)+len(out)+1)
	if err != nil {
		return nil, err
	}
	// OnlineList's users are distinct: only except and first need the map,
	// and out grows once (at 15,000 hellos, filling seen with every online
	// user was 61% of what the set-up allocated).
	if len(out) == 0 {
		// Nobody in first is online (a user without contacts, or whose
		// contacts are away): the list is all's users in all's order,
		// kept in all itself, which is ours (Engine.OnlineList), rather
		// than copied to out (3.2 KB a hello at 200).
		n := 0
		for _, u := range all {
			if n >= limit {
				break
			}
			if !seen[u] {
				all[n] = u
				n++
			}
		}
		if n == 0 {
			return out, nil
		}
		clear(all[n:])
		return all[:n], nil
	}
	out = slices.Grow(out, min(limit-len(out), len(all)))
	for _, u := range all {
		if len(out) >= limit {
			break
		}
		if !seen[u] {
			out = append(out, u)
		}
	}
	return out, nil
}

// AllOnline returns every online user.
func (h *Hub) AllOnline() []string { return h.OnlineUsers("", nil, int(^uint(0)>>1)) }

// AddContact records that a and b have a 1-to-1 conversation, for presence.
// Only users with a stream are recorded; hello loads the rest.
func (h *Hub) AddContact(a, b string) {
	for _, p := range [2][2]string{{a, b}, {b, a}} {
		if s := h.get(p[0], false); s != nil {
			s.mu.Lock()
			if s.contacts == nil {
				s.contacts = make(map[string]struct{})
			}
			s.contacts[p[1]] = struct{}{}
			s.mu.Unlock()
		}
	}
}

// SetContacts adds contacts to user's stream (creating it).
func (h *Hub) SetContacts(user string, contacts []string) {
	s := h.get(user, true)
	s.mu.Lock()
	if s.contacts == nil {
		s.contacts = make(map[string]struct{}, len(contacts))
	}
	for _, c := range contacts {
		s.contacts[c] = struct{}{}
	}
	s.mu.Unlock()
}

// ContactsLoaded says whether user's stream exists with its contacts set
// (by hello or the service's first poll); a new stream has none yet.
func (h *Hub) ContactsLoaded(user string) bool {
	s := h.get(user, false)
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.contacts != nil
}

// Contacts returns user's known contacts.
func (h *Hub) Contacts(user string) []string {
	s := h.get(user, false)
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.contacts))
	for c := range s.contacts {
		out = append(out, c)
	}
	return out
}

// Parked returns how many polls are parked now.
func (h *Hub) Parked() int64 { return h.parked.Load() }

// Deliveries returns how many events were appended to streams.
func (h *Hub) Deliveries() uint64 { return h.deliveries.Load() }

// EngineErrors returns how many engine calls failed.
func (h *Hub) EngineErrors() uint64 { return h.errs.n.Load() }

// Streams returns how many streams this process holds.
func (h *Hub) Streams() int {
	n := 0
	for i := range h.shards {
		h.shards[i].mu.RLock()
		n += len(h.shards[i].m)
		h.shards[i].mu.RUnlock()
	}
	return n
}

// Reap tells the engine who is active here, emits the presence changes it
// decides, and drops streams idle for longer than the idle time. The
// service calls it on a ticker.
//
// It tells the engine only what changed: a user whose engine record
// would otherwise not say what it said when every active user was touched
// every reap. That is a user seen since their record was written while no
// poll of theirs is parked (a poll ended: the record becomes its end, so
// that they go offline a grace after it, as before), and a user with a
// parked poll whose record is Grace/2 old or older (it says "seen now"
// again, long before the engine's Expire, which ends a record older than
// the grace, could end it). With 15,000 polls parked that is about
// 15,000/(Grace/2) users a second instead of 15,000.
//
// And it looks only at the streams that may need it: walking all of them
// every second (a lock and a cache miss each) was 8% of the server's CPU
// with 15,000 users idle cycling. Each stream is on its shard's reap
// wheel at the first time a reap would do anything to it if nothing
// happened meanwhile (reapDue: its record Grace/2 old, the end of its
// grace, its drop), and anything that may bring that time forward (a poll
// starting or ending, a new stream, a reconnected engine) puts it in the
// current slot. A reap takes the slots that have come, so each stream is
// looked at by the same reaps that would have acted on it in a walk of
// all of them; when there is nothing to do yet it goes back on the wheel.
func (h *Hub) Reap() {
	h.reapMu.Lock()
	defer h.reapMu.Unlock()
	now := h.now()
	nowNano, grace := now.UnixNano(), int64(h.grace)
	idle := grace + int64(h.idle)
	slot := h.reapSlot(nowNano)
	seen, streams, due := h.reapSeen[:0], h.reapStreams[:0], h.reapDue[:0]
	for i := range h.shards {
		sh := &h.shards[i]
		due = sh.takeDue(slot, due[:0])
		var drop []*stream
		for _, s := range due {
			next := int64(math.MaxInt64)
			s.mu.Lock()
			switch {
			case s.gone:
			case s.online && (s.parked > 0 || nowNano-s.lastSeen <= grace):
				if s.parked > 0 && nowNano-s.touched >= grace/2 {
					seen = append(seen, Seen{User: s.user, At: now})
					streams = append(streams, s)
				} else if s.parked == 0 && s.lastSeen > s.touched {
					seen = append(seen, Seen{User: s.user, At: time.Unix(0, s.lastSeen)})
					streams = append(streams, s)
				} else {
					next = s.reapDue(grace, idle)
				}
			default:
				s.online = false
				if s.parked == 0 && nowNano-s.lastSeen > idle {
					drop = append(drop, s)
				} else {
					next = s.reapDue(grace, idle)
				}
			}
			s.mu.Unlock()
			h.reapAt(s, next)
		}
		clear(due)
		if len(drop) > 0 {
			h.drop(sh, drop, nowNano, idle)
		}
	}
	h.reapDue = due[:0]
	ctx, cancel := h.ctx()
	defer cancel()
	online, err := h.engine.Touch(ctx, seen)
	ok := h.errs.count(err) == nil
	for i, s := range streams {
		next := nowNano // the touch failed: again at the next reap
		if ok {
			s.mu.Lock()
			s.touched = max(s.touched, seen[i].At.UnixNano())
			next = s.reapDue(grace, idle)
			s.mu.Unlock()
		}
		h.reapAt(s, next)
	}
	// Kept for the next reap, without holding on to users or streams.
	clear(seen)
	clear(streams)
	h.reapSeen, h.reapStreams = seen[:0], streams[:0]
	for _, u := range online {
		h.notify(u, true)
	}
	offline, err := h.engine.Expire(ctx)
	h.errs.count(err)
	for _, u := range offline {
		h.notify(u, false)
	}
}

// drop removes sh's streams in drop that are still idle when sh is locked
// for writing (no poll came meanwhile); the others go back on the wheel.
func (h *Hub) drop(sh *shard, drop []*stream, now, idle int64) {
	grace := int64(h.grace)
	var keep []*stream
	sh.mu.Lock()
	for _, s := range drop {
		s.mu.Lock()
		if s.parked == 0 && now-s.lastSeen > idle && sh.m[s.user] == s {
			delete(sh.m, s.user)
			s.gone = true
		} else if !s.gone {
			keep = append(keep, s)
		}
		s.mu.Unlock()
	}
	sh.mu.Unlock()
	for _, s := range keep {
		s.mu.Lock()
		next := s.reapDue(grace, idle)
		s.mu.Unlock()
		h.reapAt(s, next)
	}
}

// reapDue returns the first time (unix ns) a reap would do anything to s
// if nothing happened to it meanwhile, or MaxInt64 for never; idle is the
// grace plus the idle time. Caller holds s.mu.
func (s *stream) reapDue(grace, idle int64) int64 {
	switch {
	case s.online && s.parked > 0:
		return s.touched + grace/2 // touched again
	case s.online && s.lastSeen > s.touched:
		return s.lastSeen // its record is older than its last poll: now
	case s.online:
		return s.lastSeen + grace + 1 // offline here
	case s.parked == 0:
		return s.lastSeen + idle + 1 // dropped
	}
	return math.MaxInt64 // offline with a poll parked: its next poll says
}

// reapSlot is the slot of the reap wheel of time t (unix ns).
func (h *Hub) reapSlot(t int64) int64 {
	k := t / h.reapUnit
	if t < 0 && t%h.reapUnit != 0 {
		k--
	}
	return k
}

// reapAt puts s on its shard's reap wheel at time at (unix ns), unless it
// is there at that time or earlier: a time in a slot already taken is the
// next reap's (the soon list). MaxInt64 leaves it off.
//
// That looks at each stream in the reaps a walk of every stream would
// act on it in: a reap at T takes the slots up to T's, so every stream
// due by T; one taken before its time (its due is later in the slot) goes
// on the soon list and is looked at by every reap until it is due, as a
// walk would; and a slot after the last one taken starts after every
// reap so far, so none of them missed its streams.
func (h *Hub) reapAt(s *stream, at int64) {
	if at == math.MaxInt64 {
		return
	}
	k := h.reapSlot(at)
	sh := s.sh
	sh.wmu.Lock()
	if k <= sh.wdone {
		k = soonSlot
	}
	if !s.queued || k < s.due {
		s.due, s.queued = k, true
		if k == soonSlot {
			sh.soon = append(sh.soon, s)
			sh.wmu.Unlock()
			return
		}
		list, ok := sh.wheel[k]
		if !ok && len(sh.spare) > 0 {
			list = sh.spare[len(sh.spare)-1]
			sh.spare = sh.spare[:len(sh.spare)-1]
		}
		sh.wheel[k] = append(list, s)
	}
	sh.wmu.Unlock()
}

// takeDue takes off the wheel the streams due by slot, appending them to
// out.
func (sh *shard) takeDue(slot int64, out []*stream) []*stream {
	take := func(k int64, list []*stream) {
		for _, s := range list {
			if s.queued && s.due == k {
				s.queued = false
				out = append(out, s)
			}
		}
		delete(sh.wheel, k)
		if len(sh.spare) < 8 {
			clear(list)
			sh.spare = append(sh.spare, list[:0])
		}
	}
	sh.wmu.Lock()
	for _, s := range sh.soon {
		if s.queued && s.due == soonSlot {
			s.queued = false
			out = append(out, s)
		}
	}
	clear(sh.soon)
	sh.soon = sh.soon[:0]
	if span := slot - sh.wdone; span > int64(len(sh.wheel)) {
		// A long time since the last reap (or a clock that jumped):
		// fewer slots are taken than have passed.
		for k, list := range sh.wheel {
			if k <= slot {
				take(k, list)
			}
		}
	} else {
		for k := sh.wdone + 1; k <= slot; k++ {
			if list, ok := sh.wheel[k]; ok {
				take(k, list)
			}
		}
	}
	sh.wdone = max(sh.wdone, slot)
	sh.wmu.Unlock()
	return out
}

func (h *Hub) notify(user string, online bool) {
	if h.presence != nil {
		h.presence(user, online)
	}
}

// Close answers every parked poll (with what it has) and makes new polls
// answer at once. It does not close the engine. It is idempotent.
func (h *Hub) Close() {
	h.closeOnce.Do(func() {
		close(h.closed)
		h.each(func(s *stream) { s.wake(endClosed) })
	})
}

// Closed is closed when the hub closes.
func (h *Hub) Closed() <-chan struct{} { return h.closed }

// engineErrors counts failed engine calls (pollchat_engine_errors_total).
type engineErrors struct{ n atomic.Uint64 }

// count counts err when it is one and returns it.
func (e *engineErrors) count(err error) error {
	if err != nil {
		e.n.Add(1)
	}
	return err
}

// jitter shortens long timeouts by up to 10% so that thousands of clients
// parked at the same moment do not all come back at the same moment.
func jitter(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d
	}
	return d - time.Duration(rand.Int64N(int64(d/10)))
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
