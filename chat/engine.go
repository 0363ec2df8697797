package chat

import (
	"context"
	"errors"
	"time"

	"pollchat/config"
)

// Engine is what chat runs on: the users' event streams with their
// cursors, presence, room membership, rate limits and the control messages
// between processes. It has two implementations: MemoryEngine (one
// process, everything in memory; engine_memory.go) and cluster.Redis
// (several processes sharing one Redis). chat never knows which one it
// has: there is no "if clustered" in the domain.
//
// Parking is not the engine's: a parked poll lives in the process that
// holds its connection whatever the engine, so the Hub keeps the waiters
// (a callback and a timer each, no goroutine) once for both. The engine
// tells the hub, through the wake function given to Listen, which users'
// streams got events; the woken waiter then reads its stream.
//
// Every method is safe for concurrent use. Methods that can fail remotely
// take a context and return an error that wraps ErrEngine; callers return
// or count it, never drop it.
type Engine interface {
	// Head returns the cursor of user's newest event, creating their
	// stream: events appended from now on are kept for them.
	Head(ctx context.Context, user string) (string, error)
	// Read returns up to max events of user after cursor, oldest first,
	// and the cursor after them. When cursor is unknown, malformed or
	// older than what the stream keeps, reset is set and next is the
	// stream's head. With keep set, only the events whose conversation
	// key it keeps are returned (a scoped poll's); the cursor still moves
	// past the others.
	Read(ctx context.Context, user, cursor string, max int, keep func(key string) bool) (events [][]byte, next string, reset bool, err error)
	// Append adds data, with its conversation key (scope.go), to the
	// stream of each user and wakes the processes holding their polls. It
	// returns how many streams took it (users without a stream get
	// nothing: they read the store on hello).
	Append(ctx context.Context, users []string, key string, data []byte) (int, error)
	// Listen registers the hub's callbacks: wake for every user whose
	// stream got events (on any process; "" means every user, after a
	// reconnect), control for control messages from other processes. It
	// is called once, before any other method.
	Listen(wake func(user string), control func(Control))

	// Touch records when users were last seen and returns who went online
	// (not online before), each reported by exactly one process.
	Touch(ctx context.Context, seen []Seen) (online []string, err error)
	// Expire ends the presence of users last seen longer ago than the
	// grace and returns them, each reported by exactly one process.
	Expire(ctx context.Context) (offline []string, err error)
	// Online says for each of users whether they are online.
	Online(ctx context.Context, users []string) ([]bool, error)
	// OnlineList returns up to limit online users, each once, in a new
	// slice the caller may change.
	OnlineList(ctx context.Context, limit int) ([]string, error)

	// RoomAdd adds user to room; added says whether they were not a member.
	RoomAdd(ctx context.Context, room, user string) (added bool, err error)
	// RoomRemove removes user from room; removed says whether they were one.
	RoomRemove(ctx context.Context, room, user string) (removed bool, err error)
	// RoomMembers returns the members of room. The slice must not be
	// changed: the memory engine hands out its snapshot.
	RoomMembers(ctx context.Context, room string) ([]string, error)
	// RoomMembersUpTo returns the members of room and their number when
	// there are at most limit of them, else nil and the number: what the
	// announcements to small rooms need, without carrying a large room's
	// list. The slice must not be changed.
	RoomMembersUpTo(ctx context.Context, room string, limit int) (members []string, size int, err error)
	// RoomHas says whether user is a member of room.
	RoomHas(ctx context.Context, room, user string) (bool, error)
	// RoomHasEach says for each of rooms whether user is a member: what
	// RoomHas says of each, in one call (one round trip for Redis).
	RoomHasEach(ctx context.Context, rooms []string, user string) ([]bool, error)

	// Allow takes cost tokens from user's bucket (rate a second, up to
	// burst) and returns 0, or how long until they are there. A failed
	// shared bucket answers from this process's own one and reports err.
	Allow(ctx context.Context, user string, cost, rate float64, burst int) (wait time.Duration, err error)
	// Charge takes cost tokens from user's bucket after the fact, into
	// debt down to -burst.
	Charge(user string, cost, rate float64, burst int)

	// Control sends a control message to the other processes; the one
	// sending it has acted on it already.
	Control(ctx context.Context, c Control) error
	// Shared says whether other processes run on this engine (a control
	// message reaches someone, a stream may be polled elsewhere).
	Shared() bool

	// Ping checks the engine.
	Ping(ctx context.Context) error
	// Down says whether the last remote call failed.
	Down() bool
	// Close stops the engine's goroutines and connections; idempotent.
	Close() error
}

// ErrEngine is wrapped by every error an engine returns.
var ErrEngine = errors.New("chat: engine unavailable")

// Seen is when a user was last seen (a poll ended, or now for a parked one).
type Seen struct {
	User string
	At   time.Time
}

// Defaults of the zero values in HubConfig, MemoryConfig and Config: the
// config package's, so that each is written once.
const (
	DefaultGrace  = config.DefaultGrace
	DefaultIdle   = config.DefaultIdle
	DefaultBuffer = config.DefaultBuffer
)

// engineTimeout bounds one engine call made by chat.
const engineTimeout = 3 * time.Second

func engineCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), engineTimeout)
}
