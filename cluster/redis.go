// Package cluster carries events and presence between pollchat processes
// through Redis, so that several processes behind a load balancer (no
// sticky sessions) act as one.
//
// Every user has a Redis stream of their events (bounded by MAXLEN, with a
// TTL). A cursor is an id in that stream, so it means the same thing on
// every process: consecutive polls may land anywhere. Presence is a sorted
// set of last-seen times.
//
// Wakes go only to the processes that hold a user's polls. Each process
// has an id (random, new at every start) and listens on its own channel,
// prefix + "wake:" + id. A process that reads a user's stream registers
// itself as a holder of that user in the same script that reads (a hash
// per user, process id → expiry), so every append that Redis runs after
// that read finds the registration; the read itself sees every append
// before it. The append script adds the event to each recipient's stream
// and publishes once per holding process, all its users in one message.
// See wake.go.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"pollchat/chat"
	"pollchat/config"
)

var _ chat.Engine = (*Redis)(nil)

// ErrUnavailable: Redis cannot be reached now. It wraps chat.ErrEngine.
var ErrUnavailable = fmt.Errorf("cluster: redis unavailable (%w)", chat.ErrEngine)

// Options configures the Redis broker. Zero values mean the defaults.
type Options struct {
	// Prefix of every key and channel; zero means "pollchat:".
	Prefix string
	// MaxLen bounds each user's stream; zero means 256 (chat.buffer).
	MaxLen int64
	// TTL drops a user's stream after this long without events; zero means 24h.
	TTL time.Duration
	// Grace keeps a user online after they were last seen; zero means 40s.
	Grace time.Duration
	// Timeout bounds each step of a Redis call (dial, wait for a
	// connection, write, read), and the whole call unless the caller's
	// context has a deadline; zero means 2s.
	Timeout time.Duration
	// PollMax is the longest a poll parks (server.poll_max); zero means
	// 10m, the most the config allows. A process's registration as holder
	// of a user lasts 2·PollMax + 10s and is renewed by a read when less
	// than PollMax + 5s is left, so it outlasts every poll parked on it.
	PollMax time.Duration
	// Log; nil means slog.Default().
	Log *slog.Logger
}

// connBuffer is the read and the write buffer of each connection to Redis.
const connBuffer = 4 << 10

// Redis is the cluster's chat.Engine.
type Redis struct {
	c       *redis.Client
	o       Options
	log     *slog.Logger
	read    *redis.Script
	head    *redis.Script
	bucket  *redis.Script
	expire  *redis.Script
	append  *redis.Script
	members *redis.Script

	// id names this process's wake channel and its registrations.
	id string
	// marks: per user, when this process's registration as holder ends
	// (wake.go) and the presence score it last wrote (presence.go).
	marks marks

	// local holds the rate-limit buckets kept in this process: the cheaper
	// kinds of call, and every kind while Redis is down.
	local chat.Buckets

	mu   sync.Mutex
	down bool
	ps   *redis.PubSub  // the one subscription, across reconnects
	wg   sync.WaitGroup // the listener
	stop chan struct{}
	once sync.Once
}

// Open connects to the Redis at url (redis://host:port/db) and checks it.
func Open(ctx context.Context, url string, o Options) (*Redis, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("cluster: cluster.redis_url: %w", err)
	}
	if o.Prefix == "" {
		o.Prefix = "pollchat:"
	}
	if o.MaxLen <= 0 {
		o.MaxLen = config.DefaultBuffer
	}
	if o.TTL <= 0 {
		o.TTL = 24 * time.Hour
	}
	if o.Grace <= 0 {
		o.Grace = config.DefaultGrace
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.PollMax <= 0 {
		o.PollMax = 10 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	opt.DialTimeout = o.Timeout
	opt.ReadTimeout = o.Timeout
	opt.WriteTimeout = o.Timeout
	opt.PoolTimeout = o.Timeout
	opt.PoolSize = 64
	opt.MaxRetries = 1
	// Small connection buffers, and pipelines (Touch) on the same pool.
	// go-redis's defaults are 32 KiB read + 32 KiB write per connection
	// and a second pool of up to 10 pipeline connections with 128 KiB
	// each way: after the set-up's burst of hellos and first polls all 64
	// + 10 stay open: 6.5 MB of the live heap at 15,000 parked polls, 0.4
	// KB a poll (bench parked-cluster). Replies and commands here
	// are small (a poll's events, a user list, a room's append); a longer
	// one passes through a small buffer in a few more read or write calls.
	opt.ReadBufferSize = connBuffer
	opt.WriteBufferSize = connBuffer
	opt.PipelinePoolSize = -1
	r := &Redis{c: redis.NewClient(opt), o: o, log: o.Log,
		read: redis.NewScript(readLua), head: redis.NewScript(headLua), bucket: redis.NewScript(bucketLua),
		expire: redis.NewScript(expireLua), append: redis.NewScript(appendLua), members: redis.NewScript(membersLua),
		id:   newProcessID(),
		stop: make(chan struct{})}
	r.marks = newMarks()
	if err := r.Ping(ctx); err != nil {
		r.c.Close()
		return nil, err
	}
	return r, nil
}

func (r *Redis) key(kind, name string) string { return r.o.Prefix + kind + ":" + name }

// userKey is a key of user's; the user is its hash tag, so that a user's
// stream and holders are in one slot of a Redis Cluster.
func (r *Redis) userKey(kind, user string) string { return r.o.Prefix + kind + ":{" + user + "}" }
func (r *Redis) streamKey(user string) string     { return r.userKey("u", user) }
func (r *Redis) holdersKey(user string) string    { return r.userKey("h", user) }

// legacyWakeChannel is the channel every process listened to before wakes
// went per process; it is still listened to, so that a process of the
// older version wakes this one during a rolling upgrade.
func (r *Redis) legacyWakeChannel() string { return r.o.Prefix + "wake" }
func (r *Redis) wakePrefix() string        { return r.o.Prefix + "wake:" }
func (r *Redis) wakeChannel() string       { return r.wakePrefix() + r.id }
func (r *Redis) ctlChannel() string        { return r.o.Prefix + "ctl" }
func (r *Redis) onlineKey() string         { return r.o.Prefix + "online" }

// ctx is the context of one call: parent itself when it has a deadline,
// else parent bounded by Timeout. Each step of a call is bounded by
// Timeout anyway (the client's dial, pool, read and write timeouts; the
// context does not set the socket's deadlines), so a deadline of the
// caller's (chat's engine calls have one) is enough for the whole: a
// context of our own on top cost a timer, a context and a map of children
// in the parent per call, the most garbage a parked poll's read made.
func (r *Redis) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	if parent == nil {
		parent = context.Background()
	}
	if _, ok := parent.Deadline(); ok {
		return parent, noCancel
	}
	return context.WithTimeout(parent, r.o.Timeout)
}

func noCancel() {}

// fail records an outage (one log line per outage) and wraps err.
func (r *Redis) fail(op string, err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	r.mu.Lock()
	if !r.down {
		r.down = true
		r.log.Warn("cluster: redis unavailable", "op", op, "err", err)
	}
	r.mu.Unlock()
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, op, err)
}

func (r *Redis) ok() {
	r.mu.Lock()
	if r.down {
		r.down = false
		r.log.Info("cluster: redis is back")
	}
	r.mu.Unlock()
}

// Down says whether the last call failed.
func (r *Redis) Down() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.down
}

// Ping checks Redis.
func (r *Redis) Ping(ctx context.Context) error {
	c, cancel := r.ctx(ctx)
	defer cancel()
	if err := r.c.Ping(c).Err(); err != nil {
		return r.fail("ping", err)
	}
	r.ok()
	return nil
}

// Append adds data to the stream of each user and wakes the processes
// holding their polls: one script, one round trip. Every user gets it (a
// stream is made by its first event). The script makes an event's appends
// to all its recipients one step: two events appended by two processes at
// once reach every recipient they share in the same order (a plain
// pipeline's commands interleave with another connection's, so two
// members of a room could see two messages in opposite orders). It then
// publishes once per process that holds any of the users, with those
// users.
func (r *Redis) Append(ctx context.Context, users []string, key string, data []byte) (int, error) {
	if len(users) == 0 {
		return 0, nil
	}
	c, cancel := r.ctx(ctx)
	defer cancel()
	keys := make([]string, 0, 2*len(users))
	args := make([]any, 0, 4+len(users))
	args = append(args, data, r.o.MaxLen, r.o.TTL.Milliseconds(), r.wakePrefix(), key)
	for _, u := range users {
		keys = append(keys, r.streamKey(u), r.holdersKey(u))
		args = append(args, u)
	}
	if err := r.append.Run(c, r.c, keys, args...).Err(); err != nil {
		return 0, r.fail("append", err)
	}
	r.ok()
	return len(users), nil
}

// Cursors are stream ids with an "r" in front, so that a cursor of the
// single-process hub is never mistaken for one of the cluster.

// Head returns the cursor of the newest event of user ("r0-0" for none).
func (r *Redis) Head(ctx context.Context, user string) (string, error) {
	c, cancel := r.ctx(ctx)
	defer cancel()
	id, err := r.head.Run(c, r.c, []string{r.streamKey(user)}).Text()
	if err != nil {
		return "", r.fail("head", err)
	}
	r.ok()
	return "r" + id, nil
}

// Read returns up to max events of user after cursor and the new cursor;
// when the cursor is unknown or older than the stream keeps, reset and the
// stream's head.
func (r *Redis) Read(ctx context.Context, user, cursor string, max int, keep func(string) bool) ([][]byte, string, bool, error) {
	if len(cursor) < 4 || cursor[0] != 'r' {
		return r.reset(ctx, user)
	}
	id := cursor[1:]
	c, cancel := r.ctx(ctx)
	defer cancel()
	now := time.Now()
	minMS := now.Add(-r.o.TTL).UnixMilli()
	// Register as a holder of user in the read's own step when the
	// registration is missing or short: a poll parked after this read is
	// woken by every append Redis runs after it.
	hold, gen := r.marks.needHold(user, now, r.o.PollMax)
	holdMS := int64(0)
	if hold {
		holdMS = r.holdFor().Milliseconds()
	}
	v, err := r.read.Run(c, r.c, []string{r.streamKey(user), r.holdersKey(user)}, id, max, minMS, r.id, holdMS).Slice()
	if err != nil {
		return nil, "", false, r.fail("read", err)
	}
	if hold {
		r.marks.didHold(user, now.Add(r.holdFor()), gen)
	}
	r.ok()
	if len(v) == 0 || v[0].(int64) == 1 {
		return r.reset(ctx, user)
	}
	if len(v) < 2 {
		return nil, cursor, false, nil
	}
	entries, _ := v[1].([]any)
	out := make([][]byte, 0, len(entries))
	next := id
	for _, e := range entries {
		pair, _ := e.([]any)
		if len(pair) != 2 {
			continue
		}
		next, _ = pair[0].(string)
		fields, _ := pair[1].([]any)
		var data, key string
		for i := 0; i+1 < len(fields); i += 2 {
			switch f, _ := fields[i].(string); f {
			case "d":
				data, _ = fields[i+1].(string)
			case "k":
				key, _ = fields[i+1].(string)
			}
		}
		if keep == nil || keep(key) {
			out = append(out, []byte(data))
		}
	}
	return out, "r" + next, false, nil
}

func (r *Redis) reset(ctx context.Context, user string) ([][]byte, string, bool, error) {
	head, err := r.Head(ctx, user)
	if err != nil {
		return nil, "", false, err
	}
	return nil, head, true, nil
}

// Listen calls wake for every user whose stream got events on any process,
// and control for control messages, until Close: one subscription and one
// goroutine for the engine's life. go-redis reconnects the subscription by
// itself; after a (re)subscribe wake gets "" (every local poll should
// re-read: a wake may have been missed). A control message that does not
// decode is logged and dropped (it came from outside pollchat).
func (r *Redis) Listen(wake func(user string), control func(chat.Control)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ps != nil {
		return
	}
	select {
	case <-r.stop:
		return
	default:
	}
	r.ps = r.c.Subscribe(context.Background(), r.wakeChannel(), r.legacyWakeChannel(), r.ctlChannel())
	r.wg.Add(1)
	go func(ps *redis.PubSub) {
		defer r.wg.Done()
		r.listen(ps, wake, control)
	}(r.ps)
}

func (r *Redis) listen(ps *redis.PubSub, wake func(string), control func(chat.Control)) {
	pause := time.NewTimer(0)
	<-pause.C
	for {
		msg, err := ps.Receive(context.Background())
		if err != nil {
			select {
			case <-r.stop:
				return
			default:
			}
			r.fail("subscribe", err)
			// The next Receive reconnects; do not hammer a Redis that is down.
			pause.Reset(500 * time.Millisecond)
			select {
			case <-r.stop:
				pause.Stop()
				return
			case <-pause.C:
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == r.wakeChannel() {
				r.ok()
				// (Re)subscribed: a wake may have been missed, and Redis
				// may have lost the registrations (a restart). Forget them
				// first, so that the re-reads that wake("") causes register
				// again.
				r.marks.forget()
				wake("")
			}
		case *redis.Message:
			if m.Channel == r.ctlChannel() {
				c, err := chat.DecodeControl([]byte(m.Payload))
				if err != nil {
					r.log.Warn("cluster: control message dropped", "err", err)
					continue
				}
				control(c)
				continue
			}
			for _, u := range strings.Split(m.Payload, ",") {
				if u != "" {
					wake(u)
				}
			}
		}
	}
}

// Control sends a control message to every process (cache invalidations).
func (r *Redis) Control(ctx context.Context, msg chat.Control) error {
	b, err := msg.Encode()
	if err != nil {
		return err
	}
	c, cancel := r.ctx(ctx)
	defer cancel()
	if err := r.c.Publish(c, r.ctlChannel(), b).Err(); err != nil {
		return r.fail("control", err)
	}
	return nil
}

// Shared implements chat.Engine: other processes run on this Redis.
func (r *Redis) Shared() bool { return true }

// Touch records when users were last seen. It returns the users that
// went online (not in the set before), each reported by exactly one
// process. A user whose score this process wrote recently enough is left
// out (presence.go): the hub touches every active user every second.
func (r *Redis) Touch(ctx context.Context, seen []chat.Seen) ([]string, error) {
	if len(seen) == 0 {
		return nil, nil
	}
	now := time.Now().UnixMilli()
	grace := r.o.Grace.Milliseconds()
	write := make([]chat.Seen, 0, len(seen))
	r.marks.mu.Lock()
	for _, s := range seen {
		if !r.marks.skipTouch(s.User, s.At.UnixMilli(), now, grace) {
			write = append(write, s)
		}
	}
	r.marks.mu.Unlock()
	if len(write) == 0 {
		return nil, nil
	}
	c, cancel := r.ctx(ctx)
	defer cancel()
	// GT: a process that saw the user earlier does not move them back.
	zadd := func(to redis.Cmdable, s chat.Seen) *redis.IntCmd {
		return to.ZAddArgs(c, r.onlineKey(), redis.ZAddArgs{GT: true, Ch: false,
			Members: []redis.Z{{Score: float64(s.At.UnixMilli()), Member: s.User}}})
	}
	cmds := make([]*redis.IntCmd, len(write))
	var err error
	if len(write) == 1 {
		// A user's first poll touches them alone (chat's Hub.seen): one
		// ZADD, without the pipeline's MULTI and EXEC around it.
		cmds[0] = zadd(r.c, write[0])
		err = cmds[0].Err()
	} else {
		pipe := r.c.TxPipeline()
		for i, s := range write {
			cmds[i] = zadd(pipe, s)
		}
		_, err = pipe.Exec(c)
	}
	if err != nil {
		return nil, r.fail("touch", err)
	}
	var online []string
	r.marks.mu.Lock()
	for i, cmd := range cmds {
		if cmd.Val() == 1 {
			online = append(online, write[i].User)
		}
		// The score in Redis is now at least this one (GT keeps a later
		// one another process wrote).
		r.marks.wroteTouch(write[i].User, write[i].At.UnixMilli())
	}
	r.marks.mu.Unlock()
	r.ok()
	return online, nil
}

// Expire removes the users last seen longer ago than the grace and
// returns them, atomically, so that one process reports each going
// offline. It also forgets this process's full rate-limit buckets.
func (r *Redis) Expire(ctx context.Context) ([]string, error) {
	r.local.Sweep(time.Now())
	r.marks.sweep(time.Now(), r.o.Grace)
	c, cancel := r.ctx(ctx)
	defer cancel()
	cutoff := float64(time.Now().Add(-r.o.Grace).UnixMilli())
	v, err := r.expire.Run(c, r.c, []string{r.onlineKey()}, strconv.FormatFloat(cutoff, 'f', 0, 64)).StringSlice()
	if err != nil {
		return nil, r.fail("expire", err)
	}
	r.ok()
	return v, nil
}

// Online says for each of users whether they are online.
func (r *Redis) Online(ctx context.Context, users []string) ([]bool, error) {
	out := make([]bool, len(users))
	if len(users) == 0 {
		return out, nil
	}
	c, cancel := r.ctx(ctx)
	defer cancel()
	scores, err := r.c.ZMScore(c, r.onlineKey(), users...).Result()
	if err != nil {
		return nil, r.fail("online", err)
	}
	cutoff := float64(time.Now().Add(-r.o.Grace).UnixMilli())
	for i, s := range scores {
		out[i] = s >= cutoff
	}
	return out, nil
}

// OnlineList returns up to limit online users, most recently seen first.
func (r *Redis) OnlineList(ctx context.Context, limit int) ([]string, error) {
	c, cancel := r.ctx(ctx)
	defer cancel()
	cutoff := strconv.FormatInt(time.Now().Add(-r.o.Grace).UnixMilli(), 10)
	users, err := r.c.ZRevRangeByScore(c, r.onlineKey(), &redis.ZRangeBy{Max: "+inf", Min: cutoff, Count: int64(limit)}).Result()
	if err != nil {
		return nil, r.fail("online", err)
	}
	return users, nil
}

// RoomAdd adds user to room; added says whether they were not a member.
func (r *Redis) RoomAdd(ctx context.Context, room, user string) (bool, error) {
	c, cancel := r.ctx(ctx)
	defer cancel()
	n, err := r.c.SAdd(c, r.key("room", room), user).Result()
	if err != nil {
		return false, r.fail("room", err)
	}
	return n == 1, nil
}

// RoomRemove removes user from room; removed says whether they were a member.
func (r *Redis) RoomRemove(ctx context.Context, room, user string) (bool, error) {
	c, cancel := r.ctx(ctx)
	defer cancel()
	n, err := r.c.SRem(c, r.key("room", room), user).Result()
	if err != nil {
		return false, r.fail("room", err)
	}
	return n == 1, nil
}

// RoomMembers returns the members of room.
func (r *Redis) RoomMembers(ctx context.Context, room string) ([]string, error) {
	c, cancel := r.ctx(ctx)
	defer cancel()
	m, err := r.c.SMembers(c, r.key("room", room)).Result()
	if err != nil {
		return nil, r.fail("room", err)
	}
	return m, nil
}

// RoomMembersUpTo returns the members of room when there are at most
// limit of them, else nil and the number of members: one round trip that
// reads a large room's size only (SCARD), where RoomMembers would carry
// every member. For the callers that only announce to rooms up to
// chat.room_events_limit (join, presence and typing events): with a lobby
// of 15,000 they read the whole member list on every hello and every
// first poll.
func (r *Redis) RoomMembersUpTo(ctx context.Context, room string, limit int) ([]string, int, error) {
	c, cancel := r.ctx(ctx)
	defer cancel()
	v, err := r.members.Run(c, r.c, []string{r.key("room", room)}, limit).Slice()
	if err != nil {
		return nil, 0, r.fail("room", err)
	}
	if len(v) == 1 {
		if n, ok := v[0].(int64); ok {
			return nil, int(n), nil
		}
	}
	out := make([]string, 0, len(v))
	for _, m := range v {
		if s, ok := m.(string); ok {
			out = append(out, s)
		}
	}
	return out, len(out), nil
}

// RoomHas says whether user is a member of room.
func (r *Redis) RoomHas(ctx context.Context, room, user string) (bool, error) {
	c, cancel := r.ctx(ctx)
	defer cancel()
	ok, err := r.c.SIsMember(c, r.key("room", room), user).Result()
	if err != nil {
		return false, r.fail("room", err)
	}
	return ok, nil
}

// RoomHasEach says for each of rooms whether user is a member: one
// round trip (a pipeline of SISMEMBER) for them all. Presence asks it of
// every room a user could be in, each time a user comes online.
func (r *Redis) RoomHasEach(ctx context.Context, rooms []string, user string) ([]bool, error) {
	out := make([]bool, len(rooms))
	switch len(rooms) {
	case 0:
		return out, nil
	case 1:
		ok, err := r.RoomHas(ctx, rooms[0], user)
		if err != nil {
			return nil, err
		}
		out[0] = ok
		return out, nil
	}
	c, cancel := r.ctx(ctx)
	defer cancel()
	cmds := make([]*redis.BoolCmd, len(rooms))
	pipe := r.c.Pipeline()
	for i, room := range rooms {
		cmds[i] = pipe.SIsMember(c, r.key("room", room), user)
	}
	if _, err := pipe.Exec(c); err != nil {
		return nil, r.fail("room", err)
	}
	for i, cmd := range cmds {
		out[i] = cmd.Val()
	}
	return out, nil
}

// Allow takes cost tokens from user's bucket (rate per second, burst). A
// call of cost 1 uses the bucket shared by every process; cheaper kinds
// are counted in this process's bucket (their events stay bounded per
// process), and so is everything while Redis is down (err says so).
func (r *Redis) Allow(ctx context.Context, user string, cost, rate float64, burst int) (time.Duration, error) {
	if cost != 1 {
		return r.local.Take(user, cost, rate, float64(burst), time.Now()), nil
	}
	c, cancel := r.ctx(ctx)
	defer cancel()
	v, err := r.bucket.Run(c, r.c, []string{r.key("rl", user)}, rate, burst, time.Now().UnixMicro()).Slice()
	if err != nil {
		return r.local.Take(user, cost, rate, float64(burst), time.Now()), r.fail("rate", err)
	}
	if v[0].(int64) == 1 {
		return 0, nil
	}
	return time.Duration(v[1].(int64)) * time.Microsecond, nil
}

// Charge takes cost tokens after the fact from this process's bucket.
func (r *Redis) Charge(user string, cost, rate float64, burst int) {
	r.local.Charge(user, cost, rate, float64(burst), time.Now())
}

// Close stops the listener and closes the connections; it is idempotent.
func (r *Redis) Close() error {
	var err error
	r.once.Do(func() {
		r.mu.Lock()
		close(r.stop)
		ps := r.ps
		r.mu.Unlock()
		if ps != nil {
			ps.Close() // ends the listener's Receive
		}
		r.wg.Wait()
		err = r.c.Close()
	})
	return err
}

// readLua returns {1} when the cursor must be reset (malformed, older than
// the TTL, older than what MAXLEN kept, or newer than the stream's last
// id), else {0, entries after the cursor}. First, when ARGV[5] (ms) is not
// 0, it registers process ARGV[4] as a holder of the user (KEYS[2]) until
// Redis's now + ARGV[5].
const readLua = `
local key, cur, count, minms = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local hold = tonumber(ARGV[5])
if hold > 0 then
  local t = redis.call('TIME')
  redis.call('HSET', KEYS[2], ARGV[4], t[1] * 1000 + math.floor(t[2] / 1000) + hold)
  if redis.call('PTTL', KEYS[2]) < hold then redis.call('PEXPIRE', KEYS[2], hold) end
end
local cms, cseq = string.match(cur, '^(%d+)-(%d+)$')
if not cms then return {1} end
cms = tonumber(cms); cseq = tonumber(cseq)
if cms ~= 0 and cms < minms then return {1} end
if redis.call('EXISTS', key) == 0 then
  if cms == 0 and cseq == 0 then return {0, {}} end
  return {1}
end
local info = redis.call('XINFO', 'STREAM', key)
local len, added, first, last = 0, 0, nil, nil
for i = 1, #info, 2 do
  local k = info[i]
  if k == 'length' then len = info[i+1]
  elseif k == 'entries-added' then added = info[i+1]
  elseif k == 'first-entry' then first = info[i+1]
  elseif k == 'last-generated-id' then last = info[i+1] end
end
local function before(ams, aseq, id)
  local bms, bseq = string.match(id, '^(%d+)-(%d+)$')
  bms = tonumber(bms); bseq = tonumber(bseq)
  return ams < bms or (ams == bms and aseq < bseq)
end
if last and before(tonumber(string.match(last, '^(%d+)')), tonumber(string.match(last, '-(%d+)$')), cur) then return {1} end
if added > len and first and before(cms, cseq, first[1]) then return {1} end
return {0, redis.call('XRANGE', key, '(' .. cur, '+', 'COUNT', count)}
`

// membersLua returns the members of set KEYS[1] when it has at most
// ARGV[1], else {its size} (a number, never a member: members are
// strings).
const membersLua = `
local n = redis.call('SCARD', KEYS[1])
if n > tonumber(ARGV[1]) then return {n} end
return redis.call('SMEMBERS', KEYS[1])
`

// headLua returns the stream's last id, or 0-0.
const headLua = `
if redis.call('EXISTS', KEYS[1]) == 0 then return '0-0' end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then return info[i+1] end
end
return '0-0'
`

// bucketLua is a token bucket: ARGV rate/s, burst, now (µs). Returns
// {1} when a token was taken, {0, wait µs} otherwise.
const bucketLua = `
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens, at = tonumber(b[1]), tonumber(b[2])
if not tokens then tokens = burst; at = now end
tokens = math.min(burst, tokens + (now - at) / 1e6 * rate)
local ok, wait = 0, 0
if tokens >= 1 then tokens = tokens - 1; ok = 1 else wait = math.ceil((1 - tokens) / rate * 1e6) end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
if ok == 1 then return {1} end
return {0, wait}
`

// expireLua removes and returns the members last seen before ARGV[1] (ms),
// atomically, so that one process reports each user going offline.
const expireLua = `
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, 1000)
if #stale > 0 then redis.call('ZREM', KEYS[1], unpack(stale)) end
return stale
`
