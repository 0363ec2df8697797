package store

import (
	"context"
	"fmt"
)

// MessageAdmin is what moderation (issue 16.2) and users' data (16.4) need
// of an engine's messages and indexes. Every engine implements it.
type MessageAdmin interface {
	// DeleteMessage removes a message's text and data and keeps it as a
	// tombstone (Deleted true), so history shows it as deleted. It returns
	// the tombstone (its Conv says where it was); found is false when there
	// is no such message.
	DeleteMessage(ctx context.Context, id int64) (tomb Message, found bool, err error)
	// ClearConversation removes every message of conv (a room or a direct
	// conversation) and says how many.
	ClearConversation(ctx context.Context, conv Conv) (int, error)
	// UserMessages returns up to limit messages with ID > after, oldest
	// first, that user sent (rooms and direct) or received (direct).
	UserMessages(ctx context.Context, user string, after int64, limit int) ([]Message, error)
	// UserState returns what the engine keeps about user besides messages.
	UserState(ctx context.Context, user string) (UserState, error)
	// EraseUserMessages applies an erasure to the engine's data about user:
	// every message from or to them gets pseudonym in place of their id
	// (direct conversations move to the new key, the peer's list and read
	// mark with them); under EraseDelete those messages also become
	// tombstones. Their read marks, conversation lines, blocks (both ways),
	// requests (both ways), mutes and dedup entries are removed.
	EraseUserMessages(ctx context.Context, user, pseudonym string, policy ErasePolicy) (EraseCounts, error)
}

// UserState is the non-message state an engine keeps about a user.
type UserState struct {
	ReadMarks    []ReadMark `json:"read_marks"`
	Blocks       []string   `json:"blocks"`     // users they block
	BlockedBy    []string   `json:"blocked_by"` // users who block them
	RequestsTo   []Request  `json:"requests_received"`
	RequestsFrom []Request  `json:"requests_sent"`
	Mutes        []Mute     `json:"mutes"`
}

// ReadMark is a user's read mark in a conversation.
type ReadMark struct {
	Conv Conv  `json:"conversation"`
	Upto int64 `json:"upto"`
}

// ErasePolicy is privacy.erase: what happens to an erased user's messages.
type ErasePolicy string

// Erase policies.
const (
	// EraseDelete tombstones the messages: no text, no data, deleted true.
	EraseDelete ErasePolicy = "delete"
	// EraseAnonymize keeps the text; the user's id becomes a pseudonym.
	EraseAnonymize ErasePolicy = "anonymize"
)

func (p ErasePolicy) check() error {
	if p != EraseDelete && p != EraseAnonymize {
		return invalid("erase policy %q: want delete or anonymize", string(p))
	}
	return nil
}

// EraseCounts says what an erasure changed.
type EraseCounts struct {
	Messages    int `json:"messages"`
	ReadMarks   int `json:"read_marks"`
	Blocks      int `json:"blocks"`
	Requests    int `json:"requests"`
	Mutes       int `json:"mutes"`
	Reports     int `json:"reports"`
	Bans        int `json:"bans"`
	Hidden      int `json:"hidden"`
	Attachments int `json:"attachments"`
	Notices     int `json:"notices"`
	Rooms       int `json:"rooms"` // created rooms they were a member of
}

// eraseMessage applies the erasure to one message in place.
func eraseMessage(m *Message, user, pseudo string, policy ErasePolicy) {
	if m.From == user {
		m.From = pseudo
	}
	if m.To == user {
		m.To = pseudo
	}
	m.ClientID = ""
	if policy == EraseDelete {
		m.Text, m.Data, m.Deleted = "", nil, true
	}
}

// tombstone turns m into its deleted form.
func tombstone(m *Message) { m.Text, m.Data, m.Deleted = "", nil, true }

func checkErase(user, pseudo string, policy ErasePolicy) error {
	if err := policy.check(); err != nil {
		return err
	}
	if user == "" || pseudo == "" || user == pseudo {
		return fmt.Errorf("%w: erase needs a user and a different pseudonym", ErrInvalid)
	}
	return nil
}
