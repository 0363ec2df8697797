package cluster

// Presence writes, per process.
//
// The hub tells Touch every second who is active here: every user with a
// parked poll, so with 15,000 parked polls 15,000 ZADDs a second, almost
// all of them moving a score that still had most of the grace to run
// (bench parked-cluster: most of Redis's CPU per re-poll, and a 15,000
// command pipeline built and parsed by this process every second). A
// score only has to stay within the grace of now for the user to stay
// online (Online, OnlineList and Expire compare it with now − Grace). So
// Touch remembers the score it last wrote for each user and writes again
// only when the new one is at least Grace/4 later, or when the one
// written is older than Grace/2 (then it may be near expiry, or gone:
// another process's Expire removes it after the grace, and the next write
// must find that out and report the user online again). A score in
// Redis thus lags the truth by less than Grace/4 and is never within
// Grace/2 of expiring while this process sees the user, with a margin of
// Grace/2 for the processes' clocks. Touch's "went online" answer is
// unchanged: a skipped user has a score written less than Grace/2 ago,
// so they are in the set and did not go online.
//
// When the subscription is (re)made the record is dropped with the
// holder registrations (Redis may have restarted empty), so the next
// Touch writes every user again.
//
// The scores written are kept in marks (marks.go), beside the holder
// registrations.

// skipTouch says whether a write of user at ms can be left out; now and
// grace are in ms. Caller holds m.mu.
func (m *marks) skipTouch(user string, ms, now, grace int64) bool {
	last := m.m[user].touched
	return last != 0 && ms-last < grace/4 && now-last < grace/2
}

// wroteTouch records that Redis has a score of at least ms for user.
// Caller holds m.mu.
func (m *marks) wroteTouch(user string, ms int64) {
	k := m.m[user]
	if ms > k.touched {
		k.touched = ms
		m.m[user] = k
	}
}
