package chat

import (
	"context"
	"hash/maphash"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryEngine is the Engine of one process: every stream is a ring of the
// last events in memory, presence a map, rooms sets, rate limits token
// buckets. Its cursors carry an epoch, fresh in every process, so that a
// cursor of an earlier process is reset rather than misread.
type MemoryEngine struct {
	epoch  string
	buffer int
	grace  time.Duration
	idle   time.Duration
	now    func() time.Time
	wake   func(string)

	seed  maphash.Seed
	rings [numShards]ringShard

	pmu     sync.Mutex
	present map[string]time.Time // online user -> last seen
	// presentFloor is at most the earliest last-seen time in present
	// (unix nanoseconds): while the expiry cutoff is not past it, no user
	// can expire and Expire does not walk present.
	presentFloor int64

	// emu serializes Expire's ring walk; ringFloor is at most the earliest
	// seen time of a ring that may be dropped (rings only move seen
	// forward and start at now; a present user's ring is never dropped,
	// and counts again when its user goes offline), so while the idle
	// cutoff is not past it no ring can be dropped.
	emu       sync.Mutex
	ringFloor int64

	rmu   sync.RWMutex
	rooms map[string]*memRoom

	buckets Buckets
}

var _ Engine = (*MemoryEngine)(nil)

// MemoryConfig configures a MemoryEngine.
type MemoryConfig struct {
	// Buffer is how many events a stream keeps; zero means 256.
	Buffer int
	// Grace keeps a user online after they were last seen; zero means 40s.
	Grace time.Duration
	// Idle drops the stream of a user offline for this long; zero means 10m.
	// Its cursors then get reset.
	Idle time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewMemoryEngine returns an engine with a fresh epoch.
func NewMemoryEngine(cfg MemoryConfig) *MemoryEngine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	e := &MemoryEngine{
		epoch:   strconv.FormatUint(uint64(time.Now().UnixNano())^rand.Uint64()>>16, 36),
		buffer:  orDefault(cfg.Buffer, DefaultBuffer),
		grace:   orDefault(cfg.Grace, DefaultGrace),
		idle:    orDefault(cfg.Idle, DefaultIdle),
		now:     cfg.Now,
		wake:    func(string) {},
		seed:    maphash.MakeSeed(),
		present: make(map[string]time.Time),
		rooms:   make(map[string]*memRoom),

		presentFloor: math.MaxInt64,
	}
	for i := range e.rings {
		e.rings[i].m = make(map[string]*ring)
	}
	return e
}

// Epoch identifies this engine's cursors.
func (e *MemoryEngine) Epoch() string { return e.epoch }

type ringShard struct {
	mu sync.RWMutex
	m  map[string]*ring
}

type event struct {
	seq  uint64
	key  string // the conversation key (scope.go)
	data []byte
}

// ring is one user's stream.
type ring struct {
	mu   sync.Mutex
	buf  []event // grows to the engine's buffer size, then wraps at head
	head int     // index of the oldest event once buf is full
	last uint64  // seq of the newest event; a ring starts at a time-based seq
	seen int64   // unix nanoseconds when the stream was last read, or its user last present once they went offline
}

func (e *MemoryEngine) shard(user string) *ringShard {
	return &e.rings[maphash.String(e.seed, user)%numShards]
}

// ring returns user's ring, creating it when create is set.
func (e *MemoryEngine) ring(user string, create bool) *ring {
	sh := e.shard(user)
	sh.mu.RLock()
	r := sh.m[user]
	sh.mu.RUnlock()
	if r != nil || !create {
		return r
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if r = sh.m[user]; r == nil {
		// A new ring's sequence starts at the clock in microseconds, so a
		// ring dropped and made again never accepts a cursor of the old
		// one as current: the old cursor is older than the new start.
		now := e.now()
		r = &ring{last: uint64(now.UnixMicro()), seen: now.UnixNano()}
		sh.m[user] = r
	}
	return r
}

func (e *MemoryEngine) cursor(seq uint64) string {
	// Built on the stack: one allocation (the string), not two.
	var buf [64]byte
	b := append(buf[:0], e.epoch...)
	b = append(b, '-')
	return string(strconv.AppendUint(b, seq, 10))
}

// parseCursor returns the seq of a cursor of this engine; ok is false for
// a cursor of another epoch or a malformed one.
func (e *MemoryEngine) parseCursor(c string) (uint64, bool) {
	i := strings.LastIndexByte(c, '-')
	if i < 0 || c[:i] != e.epoch {
		return 0, false
	}
	seq, err := strconv.ParseUint(c[i+1:], 10, 64)
	return seq, err == nil
}

// Head implements Engine.
func (e *MemoryEngine) Head(_ context.Context, user string) (string, error) {
	r := e.ring(user, true)
	r.mu.Lock()
	r.seen = e.now().UnixNano()
	seq := r.last
	r.mu.Unlock()
	return e.cursor(seq), nil
}

// Read implements Engine.
func (e *MemoryEngine) Read(_ context.Context, user, cursor string, max int, keep func(string) bool) ([][]byte, string, bool, error) {
	seq, ok := e.parseCursor(cursor)
	r := e.ring(user, true)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = e.now().UnixNano()
	// Valid: not older than the oldest kept event, not past the newest.
	if oldest := r.last - uint64(len(r.buf)); !ok || seq < oldest || seq > r.last {
		return nil, e.cursor(r.last), true, nil
	}
	n := int(min(r.last-seq, uint64(max)))
	if n == 0 {
		return nil, cursor, false, nil
	}
	evs := make([][]byte, 0, n)
	l := len(r.buf)
	start := r.head + l - int(r.last-seq)
	for i := 0; i < n; i++ {
		if ev := &r.buf[(start+i)%l]; keep == nil || keep(ev.key) {
			evs = append(evs, ev.data)
		}
	}
	return evs, e.cursor(seq + uint64(n)), false, nil
}

// Append implements Engine: only users with a ring get the event.
func (e *MemoryEngine) Append(_ context.Context, users []string, key string, data []byte) (int, error) {
	n := 0
	for _, u := range users {
		r := e.ring(u, false)
		if r == nil {
			continue
		}
		r.mu.Lock()
		r.last++
		ev := event{seq: r.last, key: key, data: data}
		if len(r.buf) < e.buffer {
			r.buf = append(r.buf, ev)
		} else {
			r.buf[r.head] = ev
			r.head = (r.head + 1) % len(r.buf)
		}
		r.mu.Unlock()
		n++
		e.wake(u)
	}
	return n, nil
}

// Listen implements Engine; control messages never come (one process).
func (e *MemoryEngine) Listen(wake func(string), _ func(Control)) { e.wake = wake }

// Touch implements Engine.
func (e *MemoryEngine) Touch(_ context.Context, seen []Seen) ([]string, error) {
	var online []string
	e.pmu.Lock()
	for _, s := range seen {
		at, ok := e.present[s.User]
		if !ok {
			online = append(online, s.User)
			e.presentFloor = min(e.presentFloor, s.At.UnixNano())
		}
		if s.At.After(at) {
			e.present[s.User] = s.At
		}
	}
	e.pmu.Unlock()
	// A present user's ring is never dropped, so Touch leaves the rings
	// alone (a ring lookup per touched user was 4% of idle cycling's CPU):
	// Expire gives a user's ring their last presence when they go offline.
	return online, nil
}

// Expire implements Engine. It also drops the rings of users offline for
// longer than the idle time, and forgets full token buckets. It walks the
// users (or the rings) only when one of them may be due: while everyone is
// seen within the grace it does not look at them one by one.
func (e *MemoryEngine) Expire(context.Context) ([]string, error) {
	now := e.now()
	cutoff := now.Add(-e.grace)
	var offline []string
	var offAt []int64 // when each of offline was last present
	e.pmu.Lock()
	if e.presentFloor < cutoff.UnixNano() {
		floor := int64(math.MaxInt64)
		for u, at := range e.present {
			if at.Before(cutoff) {
				delete(e.present, u)
				offline = append(offline, u)
				offAt = append(offAt, at.UnixNano())
			} else {
				floor = min(floor, at.UnixNano())
			}
		}
		e.presentFloor = floor
	}
	e.pmu.Unlock()
	idle := now.Add(-e.grace - e.idle).UnixNano()
	e.emu.Lock()
	// Touch does not move a ring's seen time: a user going offline gives
	// their ring their last presence, so that it is dropped the idle time
	// after that, as when every touch moved it.
	for i, u := range offline {
		if r := e.ring(u, false); r != nil {
			r.mu.Lock()
			r.seen = max(r.seen, offAt[i])
			seen := r.seen
			r.mu.Unlock()
			e.ringFloor = min(e.ringFloor, seen)
		}
	}
	if e.ringFloor < idle {
		floor := int64(math.MaxInt64)
		for i := range e.rings {
			sh := &e.rings[i]
			sh.mu.Lock()
			for u, r := range sh.m {
				r.mu.Lock()
				seen := r.seen
				r.mu.Unlock()
				switch {
				case seen >= idle:
					floor = min(floor, seen)
				case e.isPresent(u):
					// Kept, and left out of the floor: its seen time
					// is set when its user goes offline (above).
				default:
					delete(sh.m, u)
				}
			}
			sh.mu.Unlock()
		}
		// A ring made during the walk, in a shard already walked, starts
		// at its creation time, which is not before now.
		e.ringFloor = min(floor, now.UnixNano())
	}
	e.emu.Unlock()
	e.buckets.Sweep(now)
	return offline, nil
}

func (e *MemoryEngine) isPresent(user string) bool {
	e.pmu.Lock()
	defer e.pmu.Unlock()
	_, ok := e.present[user]
	return ok
}

// Online implements Engine.
func (e *MemoryEngine) Online(_ context.Context, users []string) ([]bool, error) {
	out := make([]bool, len(users))
	e.pmu.Lock()
	defer e.pmu.Unlock()
	for i, u := range users {
		_, out[i] = e.present[u]
	}
	return out, nil
}

// OnlineList implements Engine.
func (e *MemoryEngine) OnlineList(_ context.Context, limit int) ([]string, error) {
	e.pmu.Lock()
	defer e.pmu.Unlock()
	out := make([]string, 0, min(limit, len(e.present)))
	for u := range e.present {
		if len(out) >= limit {
			break
		}
		out = append(out, u)
	}
	return out, nil
}

// memRoom is a room's members. Fan-out reads an immutable snapshot of the
// list, so a send never holds the room's lock while it publishes.
type memRoom struct {
	mu      sync.Mutex
	members map[string]struct{}
	list    atomic.Pointer[[]string]
}

func (e *MemoryEngine) room(name string, create bool) *memRoom {
	e.rmu.RLock()
	r := e.rooms[name]
	e.rmu.RUnlock()
	if r != nil || !create {
		return r
	}
	e.rmu.Lock()
	defer e.rmu.Unlock()
	if r = e.rooms[name]; r == nil {
		r = &memRoom{members: make(map[string]struct{})}
		r.list.Store(&[]string{})
		e.rooms[name] = r
	}
	return r
}

// change adds or removes user and reports whether that changed anything.
func (r *memRoom) change(user string, add bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, in := r.members[user]; in == add {
		return false
	}
	if add {
		r.members[user] = struct{}{}
	} else {
		delete(r.members, user)
	}
	l := make([]string, 0, len(r.members))
	for u := range r.members {
		l = append(l, u)
	}
	r.list.Store(&l)
	return true
}

// RoomAdd implements Engine.
func (e *MemoryEngine) RoomAdd(_ context.Context, room, user string) (bool, error) {
	return e.room(room, true).change(user, true), nil
}

// RoomRemove implements Engine.
func (e *MemoryEngine) RoomRemove(_ context.Context, room, user string) (bool, error) {
	r := e.room(room, false)
	return r != nil && r.change(user, false), nil
}

// RoomMembers implements Engine.
func (e *MemoryEngine) RoomMembers(_ context.Context, room string) ([]string, error) {
	if r := e.room(room, false); r != nil {
		return *r.list.Load(), nil
	}
	return []string{}, nil
}

// RoomMembersUpTo implements Engine.
func (e *MemoryEngine) RoomMembersUpTo(_ context.Context, room string, limit int) ([]string, int, error) {
	r := e.room(room, false)
	if r == nil {
		return []string{}, 0, nil
	}
	m := *r.list.Load()
	if len(m) > limit {
		return nil, len(m), nil
	}
	return m, len(m), nil
}

// RoomHas implements Engine.
func (e *MemoryEngine) RoomHas(_ context.Context, room, user string) (bool, error) {
	r := e.room(room, false)
	if r == nil {
		return false, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.members[user]
	return ok, nil
}

// RoomHasEach implements Engine.
func (e *MemoryEngine) RoomHasEach(ctx context.Context, rooms []string, user string) ([]bool, error) {
	out := make([]bool, len(rooms))
	for i, room := range rooms {
		out[i], _ = e.RoomHas(ctx, room, user)
	}
	return out, nil
}

// Allow implements Engine.
func (e *MemoryEngine) Allow(_ context.Context, user string, cost, rate float64, burst int) (time.Duration, error) {
	return e.buckets.Take(user, cost, rate, float64(burst), e.now()), nil
}

// Charge implements Engine.
func (e *MemoryEngine) Charge(user string, cost, rate float64, burst int) {
	e.buckets.Charge(user, cost, rate, float64(burst), e.now())
}

// Control implements Engine: there is nobody else to tell.
func (e *MemoryEngine) Control(context.Context, Control) error { return nil }

// Shared implements Engine: one process.
func (e *MemoryEngine) Shared() bool { return false }

// Ping implements Engine.
func (e *MemoryEngine) Ping(context.Context) error { return nil }

// Down implements Engine.
func (e *MemoryEngine) Down() bool { return false }

// Close implements Engine.
func (e *MemoryEngine) Close() error { return nil }
