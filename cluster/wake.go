package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Wakes, per process.
//
// The rule that loses no wake: the hub registers a waiter before it reads
// the user's stream, and this engine registers the process as a holder of
// the user in Redis in the same script as that read (readLua), when the
// process is not registered already for long enough. Redis runs scripts
// one at a time, so an append (appendLua) either runs before the read,
// which then sees its event, or after it, and then finds the registration
// and publishes to this process, whose waiter is registered already. A
// registration lasts 2·PollMax + 10s and a read renews it when less than
// PollMax + 5s is left, so it outlasts every poll parked after that read
// (a park ends within PollMax plus a grid tick).
//
// Registrations are renewed by reads, one write per user and process every
// PollMax or so, inside a round trip that happens anyway; none is written
// per poll. They are removed lazily: a field past its expiry is skipped
// and deleted by the next append that finds it, and the hash expires with
// its newest field. A process that restarts has a new id; its old
// registrations cost at most a few publishes to a channel nobody hears
// until they expire.
//
// When the subscription is (re)made, the process forgets what it
// registered (Redis may have restarted and lost it) and wakes every local
// poll, whose reads register again.

// holdFor is how long one registration lasts.
func (r *Redis) holdFor() time.Duration { return 2*r.o.PollMax + 10*time.Second }

// newProcessID returns a random id for this process's wake channel.
func newProcessID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("cluster: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// needHold says whether a read of user at now must register, and the
// generation to hand to didHold.
func (m *marks) needHold(user string, now time.Time, pollMax time.Duration) (bool, uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	held := m.m[user].held
	return held == 0 || time.Duration(held)-now.Sub(m.base) < pollMax+5*time.Second, m.gen
}

// didHold records a registration of user until until, made in generation
// gen.
func (m *marks) didHold(user string, until time.Time, gen uint64) {
	m.mu.Lock()
	if m.gen == gen {
		k := m.m[user]
		k.held = int64(until.Sub(m.base))
		m.m[user] = k
	}
	m.mu.Unlock()
}

// holdCount returns how many users this process holds registrations for.
func (m *marks) holdCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, k := range m.m {
		if k.held != 0 {
			n++
		}
	}
	return n
}

// appendLua appends ARGV[1] to every user's stream (KEYS[2i-1], MAXLEN ~
// ARGV[2], TTL ARGV[3] ms), with its conversation key ARGV[5] as field k
// when not empty (chat/scope.go), reads each user's holders (KEYS[2i]: process
// id → expiry ms by Redis's clock), deletes the expired ones, and then
// publishes on ARGV[4] .. id once per holding process, its users
// (ARGV[5+i]) joined by commas. It returns the number of users. Being one
// script, it is one step for every recipient: appends of two events reach
// all their shared recipients in the same order.
const appendLua = `
local n = #KEYS / 2
local data, maxlen, ttl, chan, ckey = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local procs, order = {}, {}
for i = 1, n do
  local sk, hk, user = KEYS[2 * i - 1], KEYS[2 * i], ARGV[5 + i]
  if ckey == '' then
    redis.call('XADD', sk, 'MAXLEN', '~', maxlen, '*', 'd', data)
  else
    redis.call('XADD', sk, 'MAXLEN', '~', maxlen, '*', 'd', data, 'k', ckey)
  end
  redis.call('PEXPIRE', sk, ttl)
  local h = redis.call('HGETALL', hk)
  for j = 1, #h, 2 do
    local id = h[j]
    if tonumber(h[j + 1]) > now then
      local p = procs[id]
      if not p then p = {}; procs[id] = p; order[#order + 1] = id end
      p[#p + 1] = user
    else
      redis.call('HDEL', hk, id)
    end
  end
end
for _, id in ipairs(order) do
  redis.call('PUBLISH', chan .. id, table.concat(procs[id], ','))
end
return n
`
