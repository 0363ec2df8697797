package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// The embedded store's MessageAdmin. bbolt has no index by sender, so
// UserMessages and EraseUserMessages walk the messages bucket (a rare,
// administrative operation).

var _ MessageAdmin = (*Bolt)(nil)

// DeleteMessage implements MessageAdmin.
func (e *Bolt) DeleteMessage(ctx context.Context, id int64) (Message, bool, error) {
	var m Message
	var found bool
	err := e.update(ctx, "delete message", func(tx *bolt.Tx) error {
		m, found = getMessage(tx, id)
		if !found {
			return nil
		}
		tombstone(&m)
		b, err := marshal(&m)
		if err != nil {
			return err
		}
		return tx.Bucket(bMsgs).Put(u64(uint64(id)), b)
	})
	return m, found, err
}

// clearChunk bounds the messages one ClearConversation transaction deletes.
const clearChunk = 5000

// ClearConversation implements MessageAdmin, in transactions of clearChunk
// messages.
func (e *Bolt) ClearConversation(ctx context.Context, conv Conv) (int, error) {
	total := 0
	for {
		var n int
		err := e.update(ctx, "clear conversation", func(tx *bolt.Tx) error {
			n = 0
			pre := prefix(string(conv))
			c := tx.Bucket(bConv).Cursor()
			var dead [][]byte
			for k, _ := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre) && len(dead) < clearChunk; k, _ = c.Next() {
				if len(k) == len(pre)+8 {
					dead = append(dead, append([]byte{}, k...))
				}
			}
			for _, k := range dead {
				if err := tx.Bucket(bMsgs).Delete(k[len(pre):]); err != nil {
					return err
				}
				if err := tx.Bucket(bConv).Delete(k); err != nil {
					return err
				}
			}
			n = len(dead)
			if a, b, ok := directUsers(conv); ok && n < clearChunk {
				for _, u := range []string{a, b} {
					if err := tx.Bucket(bUserConv).Delete(key(u, string(conv))); err != nil {
						return err
					}
				}
			}
			return nil
		})
		total += n
		if err != nil || n < clearChunk {
			return total, err
		}
	}
}

// directUsers returns the two users of a direct conversation.
func directUsers(c Conv) (a, b string, ok bool) {
	if len(c) < 2 || c[:2] != "d:" {
		return "", "", false
	}
	s := string(c[2:])
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

// UserMessages implements MessageAdmin.
func (e *Bolt) UserMessages(ctx context.Context, user string, after int64, limit int) ([]Message, error) {
	if limit <= 0 {
		limit = 1000
	}
	var out []Message
	err := e.view(ctx, "user messages", func(tx *bolt.Tx) error {
		out = nil
		c := tx.Bucket(bMsgs).Cursor()
		for k, v := c.Seek(u64(uint64(max(after, 0) + 1))); k != nil && len(out) < limit; k, v = c.Next() {
			var m Message
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			if m.From == user || m.To == user {
				out = append(out, m)
			}
		}
		return nil
	})
	return out, err
}

// UserState implements MessageAdmin.
func (e *Bolt) UserState(ctx context.Context, user string) (UserState, error) {
	var st UserState
	err := e.view(ctx, "user state", func(tx *bolt.Tx) error {
		st = UserState{}
		pre := prefix(user)
		c := tx.Bucket(bReads).Cursor()
		for k, v := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, v = c.Next() {
			st.ReadMarks = append(st.ReadMarks, ReadMark{Conv(k[len(pre):]), int64(binary.BigEndian.Uint64(v))})
		}
		err := tx.Bucket(bBlocks).ForEach(func(k, _ []byte) error {
			if a, b, ok := split2(k); ok {
				if a == user {
					st.Blocks = append(st.Blocks, b)
				}
				if b == user {
					st.BlockedBy = append(st.BlockedBy, a)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bRequests).ForEach(func(k, v []byte) error {
			to, from, ok := split2(k)
			if !ok || to != user && from != user {
				return nil
			}
			var r Request
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if to == user {
				st.RequestsTo = append(st.RequestsTo, r)
			}
			if from == user {
				st.RequestsFrom = append(st.RequestsFrom, r)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bMutes).ForEach(func(k, v []byte) error {
			if _, u, ok := split2(k); ok && u == user {
				var m Mute
				if err := json.Unmarshal(v, &m); err != nil {
					return err
				}
				st.Mutes = append(st.Mutes, m)
			}
			return nil
		})
	})
	sort.Slice(st.ReadMarks, func(i, j int) bool { return st.ReadMarks[i].Conv < st.ReadMarks[j].Conv })
	sort.Strings(st.BlockedBy)
	return st, err
}

// split2 splits a two-part key at its 0 byte.
func split2(k []byte) (string, string, bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 {
		return "", "", false
	}
	return string(k[:i]), string(k[i+1:]), true
}

// EraseUserMessages implements MessageAdmin in one transaction.
func (e *Bolt) EraseUserMessages(ctx context.Context, user, pseudo string, policy ErasePolicy) (EraseCounts, error) {
	if err := checkErase(user, pseudo, policy); err != nil {
		return EraseCounts{}, &Error{Op: "erase user", Err: err}
	}
	var n EraseCounts
	err := e.update(ctx, "erase user", func(tx *bolt.Tx) error {
		n = EraseCounts{}
		msgs, convB, uc, reads := tx.Bucket(bMsgs), tx.Bucket(bConv), tx.Bucket(bUserConv), tx.Bucket(bReads)
		var touched []Message
		err := msgs.ForEach(func(_, v []byte) error {
			var m Message
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			if m.From == user || m.To == user {
				touched = append(touched, m)
			}
			return nil
		})
		if err != nil {
			return err
		}
		// Peers' lines and marks follow their conversation to its new key.
		moved := map[Conv]Conv{}
		for _, m := range touched {
			old := m.Conv()
			eraseMessage(&m, user, pseudo, policy)
			nc := m.Conv()
			b, err := marshal(&m)
			if err != nil {
				return err
			}
			if err := msgs.Put(u64(uint64(m.ID)), b); err != nil {
				return err
			}
			if nc != old {
				moved[old] = nc
				if err := convB.Delete(convKey(old, m.ID)); err != nil {
					return err
				}
			}
			if err := convB.Put(convKey(nc, m.ID), []byte(m.From)); err != nil {
				return err
			}
			n.Messages++
		}
		for old, nc := range moved {
			peer := old.Peer(user)
			if peer == "" || peer == user {
				continue
			}
			for _, b := range []*bolt.Bucket{uc, reads} {
				k := key(peer, string(old))
				if v := b.Get(k); v != nil {
					v = append([]byte{}, v...)
					if err := b.Delete(k); err != nil {
						return err
					}
					if err := b.Put(key(peer, string(nc)), v); err != nil {
						return err
					}
				}
			}
		}
		del := func(b *bolt.Bucket, match func(k []byte) bool) (int, error) {
			var dead [][]byte
			if err := b.ForEach(func(k, _ []byte) error {
				if match(k) {
					dead = append(dead, append([]byte{}, k...))
				}
				return nil
			}); err != nil {
				return 0, err
			}
			for _, k := range dead {
				if err := b.Delete(k); err != nil {
					return 0, err
				}
			}
			return len(dead), nil
		}
		pre := prefix(user)
		first := func(k []byte) bool { return bytes.HasPrefix(k, pre) }
		either := func(k []byte) bool { a, b, ok := split2(k); return ok && (a == user || b == user) }
		second := func(k []byte) bool { _, b, ok := split2(k); return ok && b == user }
		if _, err = del(uc, first); err != nil {
			return err
		}
		if n.ReadMarks, err = del(reads, first); err != nil {
			return err
		}
		if n.Blocks, err = del(tx.Bucket(bBlocks), either); err != nil {
			return err
		}
		if n.Requests, err = del(tx.Bucket(bRequests), either); err != nil {
			return err
		}
		if n.Mutes, err = del(tx.Bucket(bMutes), second); err != nil {
			return err
		}
		_, err = del(tx.Bucket(bDedup), first)
		return err
	})
	return n, err
}
