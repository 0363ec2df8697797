package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"sort"

	"github.com/cockroachdb/pebble/v2"
)

// The Pebble store's MessageAdmin. Like bbolt it has no index by sender, so
// UserMessages and EraseUserMessages walk the messages table (a rare,
// administrative operation); both go in pages, so neither holds more than
// a page of messages in memory nor one huge batch.

var _ MessageAdmin = (*Pebble)(nil)

// DeleteMessage implements MessageAdmin.
func (p *Pebble) DeleteMessage(ctx context.Context, id int64) (Message, bool, error) {
	var m Message
	var found bool
	err := p.update(ctx, "delete message", func(tx *pebbleTx) error {
		var err error
		if m, found, err = pebbleMessage(tx.b, id); err != nil || !found {
			return err
		}
		tombstone(&m)
		b, err := marshal(&m)
		if err != nil {
			return err
		}
		return tx.set(tk(tMsg, u64(uint64(id))), b)
	})
	return m, found, err
}

// ClearConversation implements MessageAdmin, in batches of clearChunk
// messages.
func (p *Pebble) ClearConversation(ctx context.Context, conv Conv) (int, error) {
	total := 0
	for {
		var n int
		err := p.update(ctx, "clear conversation", func(tx *pebbleTx) error {
			n = 0
			pre := tk(tConv, prefix(string(conv)))
			it, err := piter(tx.b, pre)
			if err != nil {
				return err
			}
			var dead [][]byte
			for ok := it.First(); ok && len(dead) < clearChunk; ok = it.Next() {
				if k := it.Key(); len(k) == len(pre)+8 {
					dead = append(dead, bytes.Clone(k))
				}
			}
			if err := it.Close(); err != nil {
				return err
			}
			for _, k := range dead {
				if err := tx.del(tk(tMsg, k[len(pre):])); err != nil {
					return err
				}
				if err := tx.del(k); err != nil {
					return err
				}
			}
			n = len(dead)
			if a, b, ok := directUsers(conv); ok && n < clearChunk {
				for _, u := range []string{a, b} {
					if err := tx.del(tk(tUserConv, key(u, string(conv)))); err != nil {
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

// UserMessages implements MessageAdmin; like every read of messages it
// shows none above the durable mark.
func (p *Pebble) UserMessages(ctx context.Context, user string, after int64, limit int) ([]Message, error) {
	if limit <= 0 {
		limit = 1000
	}
	var out []Message
	err := p.view(ctx, "user messages", func(r pebbleReader) error {
		out = nil
		vis := p.visible()
		if max(after, 0)+1 >= vis {
			return nil
		}
		it, err := r.NewIter(&pebble.IterOptions{LowerBound: tk(tMsg, u64(uint64(max(after, 0)+1))), UpperBound: tk(tMsg, u64(uint64(vis)))})
		if err != nil {
			return err
		}
		for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
			var m Message
			if err := json.Unmarshal(it.Value(), &m); err != nil {
				it.Close()
				return err
			}
			if m.From == user || m.To == user {
				out = append(out, m)
			}
		}
		return it.Close()
	})
	return out, err
}

// pebbleEach calls fn with every key (without the table byte) and value of
// table t whose key starts with pre (nil: the whole table).
func pebbleEach(r pebbleReader, t byte, pre []byte, fn func(k, v []byte) error) error {
	it, err := piter(r, tk(t, pre))
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		if err := fn(it.Key()[1:], it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	return it.Close()
}

// UserState implements MessageAdmin.
func (p *Pebble) UserState(ctx context.Context, user string) (UserState, error) {
	var st UserState
	err := p.view(ctx, "user state", func(r pebbleReader) error {
		st = UserState{}
		pre := prefix(user)
		err := pebbleEach(r, tRead, pre, func(k, v []byte) error {
			if len(v) == 8 {
				st.ReadMarks = append(st.ReadMarks, ReadMark{Conv(k[len(pre):]), int64(binary.BigEndian.Uint64(v))})
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = pebbleEach(r, tBlock, nil, func(k, _ []byte) error {
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
		err = pebbleEach(r, tRequest, nil, func(k, v []byte) error {
			to, from, ok := split2(k)
			if !ok || to != user && from != user {
				return nil
			}
			var rq Request
			if err := json.Unmarshal(v, &rq); err != nil {
				return err
			}
			if to == user {
				st.RequestsTo = append(st.RequestsTo, rq)
			}
			if from == user {
				st.RequestsFrom = append(st.RequestsFrom, rq)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return pebbleEach(r, tMute, nil, func(k, v []byte) error {
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

// eraseChunk bounds the messages one erasure batch rewrites.
const eraseChunk = 1000

// EraseUserMessages implements MessageAdmin. It walks the messages table a
// page at a time (a snapshot finds the ids, then one batch per page reads
// each message again and rewrites it), then moves the peers' lines and
// marks and removes the user's state in a last batch. It is not one
// transaction: cut short, it leaves some messages erased and some not, and
// running it again (EraseUser, same pseudonym) finishes the job.
func (p *Pebble) EraseUserMessages(ctx context.Context, user, pseudo string, policy ErasePolicy) (EraseCounts, error) {
	if err := checkErase(user, pseudo, policy); err != nil {
		return EraseCounts{}, &Error{Op: "erase user", Err: err}
	}
	var n EraseCounts
	moved := map[Conv]Conv{}
	for after := int64(0); ; {
		var ids []int64
		end := true
		err := p.view(ctx, "erase user", func(r pebbleReader) error {
			ids, end = nil, true
			it, err := r.NewIter(&pebble.IterOptions{LowerBound: tk(tMsg, u64(uint64(after+1))), UpperBound: []byte{tMsg + 1}})
			if err != nil {
				return err
			}
			for ok := it.First(); ok; ok = it.Next() {
				if len(ids) == eraseChunk {
					end = false
					break
				}
				var m Message
				if err := json.Unmarshal(it.Value(), &m); err != nil {
					it.Close()
					return err
				}
				after = m.ID
				if m.From == user || m.To == user {
					ids = append(ids, m.ID)
				}
			}
			return it.Close()
		})
		if err != nil {
			return n, err
		}
		var done int
		var mv map[Conv]Conv
		err = p.update(ctx, "erase user", func(tx *pebbleTx) error {
			done, mv = 0, map[Conv]Conv{}
			for _, id := range ids {
				m, ok, err := pebbleMessage(tx.b, id)
				if err != nil {
					return err
				}
				if !ok || m.From != user && m.To != user {
					continue
				}
				old := m.Conv()
				eraseMessage(&m, user, pseudo, policy)
				nc := m.Conv()
				b, err := marshal(&m)
				if err != nil {
					return err
				}
				if err := tx.set(tk(tMsg, u64(uint64(id))), b); err != nil {
					return err
				}
				if nc != old {
					mv[old] = nc
					if err := tx.del(tk(tConv, convKey(old, id))); err != nil {
						return err
					}
				}
				if err := tx.set(tk(tConv, convKey(nc, id)), []byte(m.From)); err != nil {
					return err
				}
				done++
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		n.Messages += done
		for o, c := range mv {
			moved[o] = c
		}
		if end {
			break
		}
	}
	var st EraseCounts
	err := p.update(ctx, "erase user", func(tx *pebbleTx) error {
		st = EraseCounts{}
		// Peers' lines and marks follow their conversation to its new key.
		for old, nc := range moved {
			peer := old.Peer(user)
			if peer == "" || peer == user {
				continue
			}
			for _, t := range []byte{tUserConv, tRead} {
				k := tk(t, key(peer, string(old)))
				v, ok, err := tx.get(k)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				if err := tx.del(k); err != nil {
					return err
				}
				if err := tx.set(tk(t, key(peer, string(nc))), v); err != nil {
					return err
				}
			}
		}
		del := func(t byte, pre []byte, match func(k []byte) bool) (int, error) {
			var dead [][]byte
			if err := pebbleEach(tx.b, t, pre, func(k, _ []byte) error {
				if match(k) {
					dead = append(dead, tk(t, k))
				}
				return nil
			}); err != nil {
				return 0, err
			}
			for _, k := range dead {
				if err := tx.del(k); err != nil {
					return 0, err
				}
			}
			return len(dead), nil
		}
		pre := prefix(user)
		all := func([]byte) bool { return true }
		either := func(k []byte) bool { a, b, ok := split2(k); return ok && (a == user || b == user) }
		second := func(k []byte) bool { _, b, ok := split2(k); return ok && b == user }
		var err error
		if _, err = del(tUserConv, pre, all); err != nil {
			return err
		}
		if st.ReadMarks, err = del(tRead, pre, all); err != nil {
			return err
		}
		if st.Blocks, err = del(tBlock, nil, either); err != nil {
			return err
		}
		if st.Requests, err = del(tRequest, nil, either); err != nil {
			return err
		}
		if st.Mutes, err = del(tMute, nil, second); err != nil {
			return err
		}
		_, err = del(tDedup, pre, all)
		return err
	})
	n.ReadMarks, n.Blocks, n.Requests, n.Mutes = st.ReadMarks, st.Blocks, st.Requests, st.Mutes
	return n, err
}
