package chat

import (
	"context"
	"hash/maphash"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The hub keeps one stream per connected user: a ring of the last events
// with increasing sequence numbers, and the polls parked on it. Publishing
// appends an event and wakes the parked polls; a poll answers at once when
// its cursor is behind, otherwise it parks until an event, its timeout or
// shutdown. There is no global lock: streams live in sharded maps and each
// has its own mutex. Nothing on this path reads the store.

const numShards = 64

// MaxParkedPerUser bounds the polls one user may have parked at once (tabs,
// reconnects whose old connection the server cannot see closing). A new
// poll beyond it answers the oldest parked one at once with Evicted set,
// which the HTTP face turns into an error the widget backs off from (an
// empty answer would be re-polled at once, and two sets of polls would
// evict each other in a tight loop). Polls on a scoped token (the popup's)
// have a quota of their own: they never evict the user's real polls.
const MaxParkedPerUser = 6

// HubConfig configures a Hub.
type HubConfig struct {
	// Buffer is how many events a stream keeps; zero means 256.
	Buffer int
	// Grace keeps a user online after their last poll ended; zero means 40s.
	Grace time.Duration
	// Idle drops a stream that nobody polled for this long after going
	// offline; zero means 10m. Its cursors then get reset.
	Idle time.Duration
	// Presence is called (outside any lock, from the goroutine that saw the
	// change) when a user goes online or offline. May be nil.
	Presence func(user string, online bool)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Remote, when set, is the cluster's event log and presence: cursors
	// are the cluster's, events go through it, and presence changes are
	// decided there. Nil means one process, everything in memory.
	Remote Remote
}

// Remote is the cluster broker as the hub uses it (cluster.Redis).
type Remote interface {
	// Append adds data to each user's stream and wakes the processes
	// holding their polls.
	Append(ctx context.Context, users []string, data []byte) error
	// Read returns up to max events after cursor, the next cursor, and
	// reset when the cursor is unknown or too old.
	Read(ctx context.Context, user, cursor string, max int) (events [][]byte, next string, reset bool, err error)
	// Head returns the cursor of user's newest event.
	Head(ctx context.Context, user string) (string, error)
	// Touch records that active users are online now and returns who went
	// online and who went offline, each reported by exactly one process.
	Touch(ctx context.Context, active []string) (online, offline []string, err error)
	// Online says for each user whether they are online.
	Online(ctx context.Context, users []string) ([]bool, error)
	// OnlineList returns up to limit online users.
	OnlineList(ctx context.Context, limit int) ([]string, error)
}

// Hub holds the users' event streams.
type Hub struct {
	epoch    string
	buffer   int
	grace    time.Duration
	idle     time.Duration
	presence func(string, bool)
	now      func() time.Time
	remote   Remote

	seed   maphash.Seed
	shards [numShards]shard

	closed    chan struct{}
	closeOnce sync.Once

	parked     atomic.Int64
	deliveries atomic.Uint64
}

type shard struct {
	mu sync.RWMutex
	m  map[string]*stream
}

type event struct {
	seq  uint64
	data []byte
}

type stream struct {
	mu       sync.Mutex
	user     string
	buf      []event // ring: grows to the hub's buffer size, then wraps at head
	head     int     // index of the oldest event once buf is full
	last     uint64  // seq of the newest event; the stream starts at a time-based seq
	waiters  []*waiter
	parked   int
	lastSeen int64 // unix nanoseconds when a poll last started or ended
	online   bool
	contacts map[string]struct{}
}

// waiter is a parked poll: a blocked Poll waits on ch; a Park has fn, run
// exactly once (from a publish, its timer or Close) in a goroutine of its
// own, so that a parked poll holds no goroutine and no stack.
type waiter struct {
	ch      chan struct{} // buffered 1: a non-blocking send wakes it
	fn      func()
	timer   *time.Timer // Park's timeout; guarded by the stream's mutex
	fired   atomic.Bool
	scoped  bool // a scoped token's poll: counted in its own quota
	evicted bool // replaced by a newer poll; guarded by the stream's mutex
}

func (w *waiter) wake() {
	if w.fn != nil {
		if w.fired.CompareAndSwap(false, true) {
			go w.fn()
		}
		return
	}
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// NewHub returns a hub with a fresh epoch: cursors of an earlier process
// are not valid here and get reset.
func NewHub(cfg HubConfig) *Hub {
	if cfg.Buffer <= 0 {
		cfg.Buffer = 256
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 40 * time.Second
	}
	if cfg.Idle <= 0 {
		cfg.Idle = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Hub{
		epoch:    strconv.FormatUint(uint64(time.Now().UnixNano())^rand.Uint64()>>16, 36),
		buffer:   cfg.Buffer,
		grace:    cfg.Grace,
		idle:     cfg.Idle,
		presence: cfg.Presence,
		now:      cfg.Now,
		remote:   cfg.Remote,
		seed:     maphash.MakeSeed(),
		closed:   make(chan struct{}),
	}
	for i := range h.shards {
		h.shards[i].m = make(map[string]*stream)
	}
	return h
}

// Epoch identifies this hub's cursors.
func (h *Hub) Epoch() string { return h.epoch }

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
	defer sh.mu.Unlock()
	if s = sh.m[user]; s == nil {
		// A new stream's sequence starts at the clock in microseconds, so a
		// stream dropped and made again never accepts a cursor of the old
		// one as current: the old cursor is older than the new start.
		start := uint64(h.now().UnixMicro())
		s = &stream{user: user, last: start, lastSeen: h.now().UnixNano()}
		sh.m[user] = s
	}
	return s
}

// cursor formats a stream position.
func (h *Hub) cursor(seq uint64) string {
	return h.epoch + "-" + strconv.FormatUint(seq, 10)
}

// parseCursor returns the seq of a cursor of this hub; ok is false for a
// cursor of another epoch or a malformed one.
func (h *Hub) parseCursor(c string) (uint64, bool) {
	i := strings.LastIndexByte(c, '-')
	if i < 0 || c[:i] != h.epoch {
		return 0, false
	}
	seq, err := strconv.ParseUint(c[i+1:], 10, 64)
	return seq, err == nil
}

// Open makes sure user has a stream and returns its current cursor: events
// published from now on are kept for them.
func (h *Hub) Open(user string) string {
	c, _ := h.OpenErr(user)
	return c
}

// OpenErr is Open reporting a failure of the cluster broker.
func (h *Hub) OpenErr(user string) (string, error) {
	s := h.get(user, true)
	if h.remote != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		return h.remote.Head(ctx, user)
	}
	s.mu.Lock()
	seq := s.last
	s.mu.Unlock()
	return h.cursor(seq), nil
}

// Touch marks user as seen now (online, with the grace period), as a poll
// would, without reading events. In a cluster the next reap reports it.
func (h *Hub) Touch(user string) {
	s := h.get(user, true)
	s.mu.Lock()
	s.lastSeen = h.now().UnixNano()
	wentOnline := !s.online
	s.online = true
	s.mu.Unlock()
	if wentOnline && h.remote == nil {
		h.notify(user, true)
	}
}

// PollResult is what a poll answers.
type PollResult struct {
	Cursor string
	Events [][]byte // pre-encoded JSON objects, oldest first
	Reset  bool
	// Evicted: a newer poll of the same user (and quota) took this one's
	// place; Cursor is the one it was given.
	Evicted bool
}

// Poll returns the events of user newer than cursor, waiting up to timeout
// for one when there are none. It returns early when done or the hub
// closes. An empty cursor answers at once with the current cursor.
func (h *Hub) Poll(user, cursor string, timeout time.Duration, done <-chan struct{}) PollResult {
	return h.poll(user, cursor, timeout, false, done)
}

// PollScoped is Poll for a scoped token: its parked polls count in a quota
// of their own.
func (h *Hub) PollScoped(user, cursor string, timeout time.Duration, done <-chan struct{}) PollResult {
	return h.poll(user, cursor, timeout, true, done)
}

func (h *Hub) poll(user, cursor string, timeout time.Duration, scoped bool, done <-chan struct{}) PollResult {
	if h.remote != nil {
		return h.pollRemote(user, cursor, timeout, scoped, done)
	}
	s := h.get(user, true)
	nowNano := h.now().UnixNano()
	if cursor == "" {
		s.mu.Lock()
		s.lastSeen = nowNano
		seq := s.last
		wentOnline := !s.online
		s.online = true
		s.mu.Unlock()
		if wentOnline {
			h.notify(user, true)
		}
		return PollResult{Cursor: h.cursor(seq)}
	}
	seq, ok := h.parseCursor(cursor)

	s.mu.Lock()
	s.lastSeen = nowNano
	wentOnline := !s.online
	s.online = true
	if !ok || !s.valid(seq) {
		cur := s.last
		s.mu.Unlock()
		if wentOnline {
			h.notify(user, true)
		}
		return PollResult{Cursor: h.cursor(cur), Reset: true}
	}
	if seq < s.last || timeout <= 0 {
		res := s.since(seq)
		s.mu.Unlock()
		if wentOnline {
			h.notify(user, true)
		}
		res.Cursor = h.cursor(res.seq)
		return res.PollResult
	}
	w := &waiter{ch: make(chan struct{}, 1), scoped: scoped}
	s.addWaiter(w)
	s.mu.Unlock()
	if wentOnline {
		h.notify(user, true)
	}
	h.parked.Add(1)

	t := time.NewTimer(timeout)
	select {
	case <-w.ch:
	case <-t.C:
	case <-done:
	case <-h.closed:
	}
	t.Stop()
	h.parked.Add(-1)

	s.mu.Lock()
	res := s.unpark(w, seq, h.now().UnixNano())
	s.mu.Unlock()
	res.Cursor = h.cursor(res.seq)
	return res.PollResult
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
		old.evicted = true
		old.wake()
		s.waiters = append(s.waiters[:oldest], s.waiters[oldest+1:]...)
	}
	s.waiters = append(s.waiters, w)
	s.parked++
}

// unpark removes w and returns what a poll from seq answers now: the
// events after it, or a reset when they are gone. Caller holds s.mu.
func (s *stream) unpark(w *waiter, seq uint64, now int64) sinceResult {
	for i, x := range s.waiters {
		if x == w {
			s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
			break
		}
	}
	s.parked--
	s.lastSeen = now
	if w.evicted {
		return sinceResult{PollResult: PollResult{Evicted: true}, seq: seq}
	}
	if !s.valid(seq) {
		return sinceResult{PollResult: PollResult{Reset: true}, seq: s.last}
	}
	return s.since(seq)
}

// Park is Poll without a goroutine. When the poll can be answered now (an
// event newer than cursor, a reset, no timeout, a closed hub) it returns
// the result and parked = false. Otherwise it registers fn and returns
// parked = true: fn then runs exactly once, in a goroutine of its own, with
// the result, when an event arrives, timeout passes or the hub closes. A
// parked poll costs a waiter and a runtime timer, no stack.
func (h *Hub) Park(user, cursor string, timeout time.Duration, fn func(PollResult)) (PollResult, bool) {
	return h.park(user, cursor, timeout, false, fn)
}

// ParkScoped is Park for a scoped token: its parked polls count in a quota
// of their own.
func (h *Hub) ParkScoped(user, cursor string, timeout time.Duration, fn func(PollResult)) (PollResult, bool) {
	return h.park(user, cursor, timeout, true, fn)
}

func (h *Hub) park(user, cursor string, timeout time.Duration, scoped bool, fn func(PollResult)) (PollResult, bool) {
	if h.remote != nil || cursor == "" {
		if h.remote != nil && cursor != "" && timeout > 0 {
			go func() { fn(h.poll(user, cursor, timeout, scoped, nil)) }()
			return PollResult{}, true
		}
		return h.poll(user, cursor, 0, scoped, nil), false
	}
	s := h.get(user, true)
	seq, ok := h.parseCursor(cursor)
	s.mu.Lock()
	s.lastSeen = h.now().UnixNano()
	wentOnline := !s.online
	s.online = true
	var res PollResult
	answered := true
	switch {
	case !ok || !s.valid(seq):
		res = PollResult{Cursor: h.cursor(s.last), Reset: true}
	case seq < s.last || timeout <= 0:
		r := s.since(seq)
		r.Cursor = h.cursor(r.seq)
		res = r.PollResult
	default:
		select {
		case <-h.closed:
			res = PollResult{Cursor: cursor}
		default:
			answered = false
		}
	}
	if answered {
		s.mu.Unlock()
		if wentOnline {
			h.notify(user, true)
		}
		return res, false
	}
	w := &waiter{scoped: scoped}
	w.fn = func() {
		s.mu.Lock()
		if w.timer != nil {
			w.timer.Stop()
		}
		r := s.unpark(w, seq, h.now().UnixNano())
		s.mu.Unlock()
		h.parked.Add(-1)
		r.Cursor = h.cursor(r.seq)
		fn(r.PollResult)
	}
	s.addWaiter(w)
	h.parked.Add(1)
	// The timer's callback locks s.mu, so it cannot finish before this
	// function has stored the timer.
	w.timer = time.AfterFunc(timeout, func() {
		if w.fired.CompareAndSwap(false, true) {
			w.fn()
		}
	})
	s.mu.Unlock()
	if wentOnline {
		h.notify(user, true)
	}
	return PollResult{}, true
}

// valid says whether seq is a position this stream can answer from: not
// older than the oldest kept event and not past the newest.
func (s *stream) valid(seq uint64) bool {
	oldest := s.last - uint64(len(s.buf)) // the position before the oldest kept event
	return seq >= oldest && seq <= s.last
}

type sinceResult struct {
	PollResult
	seq uint64
}

// since collects the events after seq (which must be valid). Caller holds s.mu.
func (s *stream) since(seq uint64) sinceResult {
	n := int(s.last - seq)
	if n == 0 {
		return sinceResult{seq: seq}
	}
	evs := make([][]byte, n)
	l := len(s.buf)
	start := s.head + l - n
	for i := 0; i < n; i++ {
		evs[i] = s.buf[(start+i)%l].data
	}
	return sinceResult{PollResult: PollResult{Events: evs}, seq: s.last}
}

// push appends an event. Caller holds s.mu.
func (s *stream) push(data []byte, max int) {
	s.last++
	e := event{seq: s.last, data: data}
	if len(s.buf) < max {
		s.buf = append(s.buf, e)
		return
	}
	s.buf[s.head] = e
	s.head = (s.head + 1) % len(s.buf)
}

// Publish appends an event to user's stream and wakes their parked polls.
// A user without a stream (not connected since the stream was dropped)
// gets nothing: they will read the store on hello. It reports whether the
// event was delivered to a stream.
func (h *Hub) Publish(user string, data []byte) bool {
	if h.remote != nil {
		return h.PublishMany([]string{user}, data) == 1
	}
	s := h.get(user, false)
	if s == nil {
		return false
	}
	s.mu.Lock()
	s.push(data, h.buffer)
	ws := s.waiters
	s.waiters = nil
	s.mu.Unlock()
	for _, w := range ws {
		w.wake()
	}
	h.deliveries.Add(1)
	return true
}

// PublishMany publishes one event to several users; it returns how many
// streams got it.
func (h *Hub) PublishMany(users []string, data []byte) int {
	if h.remote != nil {
		if len(users) == 0 {
			return 0
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := h.remote.Append(ctx, users, data); err != nil {
			return 0
		}
		h.deliveries.Add(uint64(len(users)))
		return len(users)
	}
	n := 0
	for _, u := range users {
		if h.Publish(u, data) {
			n++
		}
	}
	return n
}

// Online says whether user is online: a poll held, or one ended less than
// the grace period ago.
func (h *Hub) Online(user string) bool {
	if h.remote != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if on, err := h.remote.Online(ctx, []string{user}); err == nil {
			return on[0]
		}
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
	if h.remote != nil {
		if out, err := h.onlineRemote(except, first, limit); err == nil {
			return out
		}
	}
	var out []string
	var seen map[string]struct{} // only needed to skip those in first
	if len(first) > 0 {
		seen = make(map[string]struct{}, len(first))
	}
	for _, u := range first {
		if len(out) >= limit {
			return out
		}
		if u != except && h.Online(u) {
			if _, dup := seen[u]; !dup {
				out = append(out, u)
				seen[u] = struct{}{}
			}
		}
	}
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for u, s := range sh.m {
			if len(out) >= limit {
				sh.mu.RUnlock()
				return out
			}
			if u == except {
				continue
			}
			if _, dup := seen[u]; dup {
				continue
			}
			s.mu.Lock()
			on := s.online
			s.mu.Unlock()
			if on {
				if out == nil {
					out = make([]string, 0, min(limit, 200))
				}
				out = append(out, u)
			}
		}
		sh.mu.RUnlock()
	}
	if out == nil {
		out = []string{}
	}
	return out
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

// Streams returns how many streams exist.
func (h *Hub) Streams() int {
	n := 0
	for i := range h.shards {
		h.shards[i].mu.RLock()
		n += len(h.shards[i].m)
		h.shards[i].mu.RUnlock()
	}
	return n
}

// Reap turns users offline whose grace has passed and drops streams idle
// for longer than the idle time. The service calls it on a ticker.
func (h *Hub) Reap() {
	if h.remote != nil {
		h.reapRemote()
		return
	}
	now, grace := h.now().UnixNano(), int64(h.grace)
	var offline []string
	h.sweep(now, func(u string, s *stream) bool {
		if s.parked > 0 {
			return false
		}
		if s.online && now-s.lastSeen > grace {
			s.online = false
			offline = append(offline, u)
			return false
		}
		return !s.online && now-s.lastSeen > grace+int64(h.idle)
	})
	for _, u := range offline {
		h.notify(u, false)
	}
}

// sweep calls visit for every stream, with the stream's lock held; visit
// returns true for a stream to drop. A stream is dropped only if it is
// still idle when its shard is locked for writing (no poll came meanwhile).
func (h *Hub) sweep(now int64, visit func(u string, s *stream) bool) {
	idle := int64(h.grace + h.idle)
	for i := range h.shards {
		sh := &h.shards[i]
		var drop []string
		sh.mu.RLock()
		for u, s := range sh.m {
			s.mu.Lock()
			if visit(u, s) {
				drop = append(drop, u)
			}
			s.mu.Unlock()
		}
		sh.mu.RUnlock()
		if len(drop) == 0 {
			continue
		}
		sh.mu.Lock()
		for _, u := range drop {
			if s := sh.m[u]; s != nil {
				s.mu.Lock()
				if s.parked == 0 && now-s.lastSeen > idle {
					delete(sh.m, u)
				}
				s.mu.Unlock()
			}
		}
		sh.mu.Unlock()
	}
}

func (h *Hub) notify(user string, online bool) {
	if h.presence != nil {
		h.presence(user, online)
	}
}

// Close answers every parked poll (with what it has) and makes new polls
// answer at once. It is idempotent.
func (h *Hub) Close() {
	h.closeOnce.Do(func() {
		close(h.closed)
		// Blocked polls see closed; parked callbacks need a wake.
		for i := range h.shards {
			sh := &h.shards[i]
			sh.mu.RLock()
			for _, s := range sh.m {
				s.mu.Lock()
				ws := append([]*waiter(nil), s.waiters...)
				s.mu.Unlock()
				for _, w := range ws {
					w.wake()
				}
			}
			sh.mu.RUnlock()
		}
	})
}

// Closed is closed when the hub closes.
func (h *Hub) Closed() <-chan struct{} { return h.closed }

// jitter shortens long timeouts by up to 10% so that thousands of clients
// parked at the same moment do not all come back at the same moment.
func jitter(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d
	}
	return d - time.Duration(rand.Int64N(int64(d/10)))
}
