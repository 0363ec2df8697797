// Package store keeps what must survive a restart: messages, chat requests,
// read marks, mutes and blocks. One interface, an embedded implementation
// (the default, needs nothing) and a MySQL one (shared by several processes).
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// DedupWindow is how long a (from, client_id) pair identifies a message:
// a send repeated inside it returns the original message.
const DedupWindow = 10 * time.Minute

// UnreadCap bounds an unread count; a conversation with more unread messages
// reports UnreadCap. Counting stays an index range scan of bounded length.
const UnreadCap = 999

var (
	// ErrUnavailable: the store cannot be reached now; the caller may retry.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store: closed")
)

// Message is one durable message. Exactly one of To and Room is set.
type Message struct {
	// ID is assigned by SaveMessage: durable, unique, increasing.
	ID   int64  `json:"id"`
	From string `json:"from"` // "" for a system message
	To   string `json:"to,omitempty"`
	Room string `json:"room,omitempty"`
	Text string `json:"text"`
	// TS is set by SaveMessage when zero; stored with second precision or
	// better, in UTC.
	TS       time.Time       `json:"ts"`
	ClientID string          `json:"client_id,omitempty"`
	System   bool            `json:"system,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	// Deleted marks a tombstone: a message removed by a moderator or an
	// erasure, kept (without text or data) so history shows it as deleted.
	Deleted bool `json:"deleted,omitempty"`
}

// Conv returns the message's conversation key.
func (m *Message) Conv() Conv {
	if m.Room != "" {
		return RoomConv(m.Room)
	}
	return DirectConv(m.From, m.To)
}

// Conv names a conversation: a direct one between two users or a room.
// User ids never contain a comma, so the key is unambiguous.
type Conv string

// DirectConv is the conversation between a and b (order does not matter).
func DirectConv(a, b string) Conv {
	if b < a {
		a, b = b, a
	}
	return Conv("d:" + a + "," + b)
}

// RoomConv is the conversation of a room.
func RoomConv(room string) Conv { return Conv("r:" + room) }

// Room returns the room name, or "" for a direct conversation.
func (c Conv) Room() string {
	if len(c) > 2 && c[:2] == "r:" {
		return string(c[2:])
	}
	return ""
}

// Peer returns the other user of a direct conversation seen from me.
func (c Conv) Peer(me string) string {
	if len(c) < 2 || c[:2] != "d:" {
		return ""
	}
	s := string(c[2:])
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			a, b := s[:i], s[i+1:]
			if a == me {
				return b
			}
			return a
		}
	}
	return ""
}

// Conversation is one line of a user's conversation list.
type Conversation struct {
	With   string   // the peer of a direct conversation
	Room   string   // or the room
	Unread int      // messages after the user's read mark not sent by them, at most UnreadCap
	Last   *Message // the newest message, nil if none
}

// Request is a pending chat request (an invitation) from From to To.
type Request struct {
	From string    `json:"from"`
	To   string    `json:"to"`
	Text string    `json:"text"`
	TS   time.Time `json:"ts"`
}

// Mute silences UserID in Room until ExpiresAt.
type Mute struct {
	Room      string    `json:"room"`
	UserID    string    `json:"user_id"`
	Mins      int       `json:"mins"`
	ExpiresAt time.Time `json:"expires_at"`
	By        string    `json:"by"`
}

// Store is the durable state. Every method is safe for concurrent use.
// Errors wrap ErrUnavailable when the backing database cannot be reached.
type Store interface {
	// SaveMessage stores m durably before returning, assigning m.ID and,
	// when zero, m.TS. When m.ClientID is set and m.From saved a message
	// with the same client id less than DedupWindow ago, nothing is stored:
	// *m is overwritten with the original and created is false.
	SaveMessage(ctx context.Context, m *Message) (created bool, err error)
	// History returns up to limit messages of conv with ID < before (before
	// <= 0: the newest), oldest first, and whether older ones exist.
	History(ctx context.Context, conv Conv, before int64, limit int) (msgs []Message, hasMore bool, err error)
	// Conversations returns user's direct conversations, newest first, at
	// most limit, and one line for each of rooms (unread counted from the
	// user's read mark in the room; no mark: 0).
	Conversations(ctx context.Context, user string, rooms []string, limit int) ([]Conversation, error)
	// MarkRead moves user's read mark in conv to upto; it never moves back.
	MarkRead(ctx context.Context, user string, conv Conv, upto int64) error

	// SaveRequest stores a pending request, replacing one from the same
	// sender to the same recipient.
	SaveRequest(ctx context.Context, r Request) error
	// DeleteRequest removes the request from -> to; found says whether it existed.
	DeleteRequest(ctx context.Context, to, from string) (r Request, found bool, err error)
	// Requests returns the requests pending for to, oldest first.
	Requests(ctx context.Context, to string) ([]Request, error)

	// SaveMute stores or replaces the mute of m.UserID in m.Room.
	SaveMute(ctx context.Context, m Mute) error
	// DeleteMute removes a mute; found says whether it existed.
	DeleteMute(ctx context.Context, room, user string) (found bool, err error)
	// Mutes returns every mute stored (expired ones included; callers
	// compare ExpiresAt with their clock).
	Mutes(ctx context.Context) ([]Mute, error)

	// SetBlock records (block true) or removes that user blocks other.
	SetBlock(ctx context.Context, user, other string, block bool) error
	// Blocks returns the users that user blocks.
	Blocks(ctx context.Context, user string) ([]string, error)

	// Ping says whether the store answers.
	Ping(ctx context.Context) error
	// Close releases the store; it is idempotent.
	Close() error
}

// Pruner is implemented by stores that can delete old messages.
type Pruner interface {
	// Prune deletes up to batch messages older than before and says how many.
	Prune(ctx context.Context, before time.Time, batch int) (int, error)
}

// Error is a store failure with the operation that failed.
type Error struct {
	Op  string
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("store: %s: %v", e.Op, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// BatchSaver is implemented by stores that write several messages in one
// transaction. The chat layer's committer uses it when present; otherwise
// it calls SaveMessage concurrently for a batch and lets the store group them.
type BatchSaver interface {
	// SaveMessages saves msgs as SaveMessage would, in one transaction,
	// assigning ids in slice order; created[i] reports msgs[i].
	SaveMessages(ctx context.Context, msgs []*Message) (created []bool, err error)
}
