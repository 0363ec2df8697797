package config

import "time"

// The defaults of the keys that the parts also take directly (chat,
// cluster, the memory engine in tests): a zero value in their own config
// structs means these, written here once.
const (
	// DefaultGrace is presence.grace: how long a user stays online after
	// their last poll ended.
	DefaultGrace = 40 * time.Second
	// DefaultIdle is how long after going offline a user's stream is
	// dropped (its cursors then get reset).
	DefaultIdle = 10 * time.Minute
	// DefaultBuffer is chat.buffer: the events kept per stream.
	DefaultBuffer = 256
	// DefaultMaxLength is chat.max_length, in characters.
	DefaultMaxLength = 350
	// DefaultHistory is chat.history: the messages join answers.
	DefaultHistory = 50
	// DefaultBurst is chat.burst.
	DefaultBurst = 20
	// DefaultRoomEventsLimit is chat.room_events_limit.
	DefaultRoomEventsLimit = 500
	// DefaultNotifyDelay is notify.delay.
	DefaultNotifyDelay = 60 * time.Second
	// DefaultNotifyWindow is notify.window.
	DefaultNotifyWindow = 10 * time.Minute
)
