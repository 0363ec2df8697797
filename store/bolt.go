package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// EmbeddedFile is the name of the database file inside the embedded store's
// directory.
const EmbeddedFile = "pollchat.db"

// maxBatch bounds how many writes share one transaction (one fsync).
const maxBatch = 1024

// unreadScan bounds the index entries an unread count looks at: a user who
// wrote thousands of messages after their read mark still costs a bounded
// scan (their own messages are skipped, not counted).
const unreadScan = 8 * UnreadCap

// Bucket names. Keys join their parts with a 0 byte (user ids, client ids and
// room names never contain one); ids are 8-byte big-endian so that byte order
// is numeric order.
var (
	bMsgs     = []byte("msgs")     // id -> JSON Message; its sequence assigns ids
	bConv     = []byte("conv")     // conv 0 id -> from (history, unread counts)
	bUserConv = []byte("userconv") // user 0 conv -> id of the newest message
	bReads    = []byte("reads")    // user 0 conv -> read mark
	bDedup    = []byte("dedup")    // from 0 client_id -> id, saved-at (unix ns)
	bDedupAge = []byte("dedupage") // saved-at 0 id -> from 0 client_id (dedup expiry)
	bRequests = []byte("requests") // to 0 from -> JSON Request
	bMutes    = []byte("mutes")    // room 0 user -> JSON Mute
	bBlocks   = []byte("blocks")   // user 0 other -> empty
	bMeta     = []byte("meta")     // schema version
	allBucket = [][]byte{bMsgs, bConv, bUserConv, bReads, bDedup, bDedupAge, bRequests, bMutes, bBlocks, bMeta}
)

// embeddedSchema is the layout version written in the meta bucket; a file
// with a newer version is refused instead of misread.
const embeddedSchema = 1

// Bolt is the embedded store on bbolt: one file in a directory, needing
// nothing else; the engine of data directories made before Pebble. Writes
// from concurrent callers are committed together (groupCommit: one transaction and one fsync for every write that arrived
// while the previous commit ran), so throughput grows with concurrency while
// each write is durable before its call returns.
type Bolt struct {
	db     *bolt.DB
	writes *groupCommit[*writeOp]
	closed atomic.Bool
	once   sync.Once
	now    func() time.Time
}

var (
	_ Store      = (*Bolt)(nil)
	_ Pruner     = (*Bolt)(nil)
	_ Exporter   = (*Bolt)(nil)
	_ Importer   = (*Bolt)(nil)
	_ BatchSaver = (*Bolt)(nil)
)

// writeOp is one write waiting for the group commit. fn may run more than
// once (a batch that fails is retried one op per transaction), so it sets its
// results on every run.
type writeOp struct {
	fn   func(tx *bolt.Tx) error
	err  error
	done chan struct{}
}

// OpenBolt opens (creating when missing) the bbolt store in dir. The
// parent of dir must exist. Only one process may hold the store: a second
// one gets an error after a second instead of waiting forever.
func OpenBolt(dir string) (*Bolt, error) {
	return openBolt(dir, boltOptions{})
}

// boltOptions are the knobs the store benchmarks compare.
type boltOptions struct {
	linger         time.Duration // groupCommit.linger
	noFreelistSync bool          // bbolt's NoFreelistSync
}

func openBolt(dir string, o boltOptions) (*Bolt, error) {
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	file := filepath.Join(dir, EmbeddedFile)
	db, err := bolt.Open(file, 0o600, &bolt.Options{
		Timeout:        time.Second,
		FreelistType:   bolt.FreelistMapType,
		NoFreelistSync: o.noFreelistSync,
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			err = fmt.Errorf("%s is in use by another process", file)
		}
		return nil, &Error{Op: "open", Err: err}
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBucket {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bMeta)
		if v := meta.Get([]byte("schema")); v != nil {
			if n := int(binary.BigEndian.Uint64(v)); n > embeddedSchema {
				return fmt.Errorf("%s has layout version %d, newer than this binary's %d", file, n, embeddedSchema)
			}
			return nil
		}
		return meta.Put([]byte("schema"), u64(embeddedSchema))
	})
	if err != nil {
		db.Close()
		return nil, &Error{Op: "open", Err: err}
	}
	e := &Bolt{
		db:  db,
		now: func() time.Time { return time.Now().UTC() },
	}
	e.writes = newGroupCommit(maxBatch, nil, e.commit)
	e.writes.linger = o.linger
	e.writes.start(1)
	return e, nil
}

// prepareDir checks store.path and creates it when only it is missing.
func prepareDir(dir string) error {
	if dir == "" {
		return &Error{Op: "open", Err: errors.New("empty path")}
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if st, err := os.Stat(parent); err != nil || !st.IsDir() {
		return &Error{Op: "open", Err: fmt.Errorf("parent directory %q of store.path %q does not exist", parent, dir)}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return &Error{Op: "open", Err: err}
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return &Error{Op: "open", Err: fmt.Errorf("store.path %q is not a directory", dir)}
	}
	return nil
}

// Path returns the database file.
func (e *Bolt) Path() string { return e.db.Path() }

// errOpFailed aborts a shared transaction when one op fails, so the batch is
// retried one op per transaction and only the failing op sees its error.
var errOpFailed = errors.New("op failed")

func (e *Bolt) commit(batch []*writeOp) {
	err := e.db.Update(func(tx *bolt.Tx) error {
		for _, op := range batch {
			if op.err = op.fn(tx); op.err != nil {
				return errOpFailed
			}
		}
		expireDedup(tx, e.now().Add(-DedupWindow), 64)
		return nil
	})
	if err == nil || len(batch) == 1 {
		for _, op := range batch {
			if err != nil && op.err == nil {
				op.err = err
			}
			close(op.done)
		}
		return
	}
	for _, op := range batch {
		op.err = nil
		if err := e.db.Update(func(tx *bolt.Tx) error { return op.fn(tx) }); err != nil {
			op.err = err
		}
		close(op.done)
	}
}

// update runs fn in the next group commit and waits until it is durable.
func (e *Bolt) update(ctx context.Context, op string, fn func(tx *bolt.Tx) error) error {
	if e.closed.Load() {
		return &Error{Op: op, Err: ErrClosed}
	}
	w := &writeOp{fn: fn, done: make(chan struct{})}
	if err := e.writes.submit(ctx, w); err != nil {
		return &Error{Op: op, Err: err}
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		// The write may still commit; a retry with the same client id is safe.
		return &Error{Op: op, Err: ctx.Err()}
	}
	if w.err != nil {
		var se *Error
		if errors.As(w.err, &se) {
			return w.err
		}
		return &Error{Op: op, Err: w.err}
	}
	return nil
}

func (e *Bolt) view(ctx context.Context, op string, fn func(tx *bolt.Tx) error) error {
	if e.closed.Load() {
		return &Error{Op: op, Err: ErrClosed}
	}
	if err := ctx.Err(); err != nil {
		return &Error{Op: op, Err: err}
	}
	if err := e.db.View(fn); err != nil {
		if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
			err = ErrClosed
		}
		return &Error{Op: op, Err: err}
	}
	return nil
}

// SaveMessage implements Store.
func (e *Bolt) SaveMessage(ctx context.Context, m *Message) (bool, error) {
	created, err := e.SaveMessages(ctx, []*Message{m})
	if err != nil {
		return false, err
	}
	return created[0], nil
}

// SaveMessages implements BatchSaver: msgs are saved in one transaction,
// ids in slice order; a client id repeated inside msgs makes one message.
func (e *Bolt) SaveMessages(ctx context.Context, msgs []*Message) ([]bool, error) {
	in := make([]Message, len(msgs))
	for i, m := range msgs {
		if err := checkMessage(m); err != nil {
			return nil, &Error{Op: "save message", Err: err}
		}
		in[i] = *m
		if in[i].TS.IsZero() {
			in[i].TS = e.now()
		}
		// Microseconds, as MySQL's DATETIME(6): both stores answer the same.
		in[i].TS = in[i].TS.UTC().Truncate(time.Microsecond)
	}
	out := make([]Message, len(msgs))
	created := make([]bool, len(msgs))
	err := e.update(ctx, "save message", func(tx *bolt.Tx) error {
		now := e.now()
		for i := range in {
			var err error
			if out[i], created[i], err = saveInTx(tx, in[i], now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, m := range msgs {
		*m = out[i]
	}
	return created, nil
}

// saveInTx saves m unless its client id is in the dedup window, in which
// case it returns the original.
func saveInTx(tx *bolt.Tx, m Message, now time.Time) (Message, bool, error) {
	var dkey []byte
	if m.ClientID != "" && m.From != "" {
		dkey = key(m.From, m.ClientID)
		if v := tx.Bucket(bDedup).Get(dkey); len(v) == 16 {
			at := time.Unix(0, int64(binary.BigEndian.Uint64(v[8:])))
			if now.Sub(at) < DedupWindow {
				if orig, ok := getMessage(tx, int64(binary.BigEndian.Uint64(v[:8]))); ok {
					return orig, false, nil
				}
			}
		}
	}
	id, err := tx.Bucket(bMsgs).NextSequence()
	if err != nil {
		return m, false, err
	}
	m.ID = int64(id)
	if err := putMessage(tx, &m); err != nil {
		return m, false, err
	}
	if dkey != nil {
		v := make([]byte, 16)
		binary.BigEndian.PutUint64(v, uint64(m.ID))
		binary.BigEndian.PutUint64(v[8:], uint64(now.UnixNano()))
		if err := tx.Bucket(bDedup).Put(dkey, v); err != nil {
			return m, false, err
		}
		if err := tx.Bucket(bDedupAge).Put(append(v[8:16:16], u64(uint64(m.ID))...), dkey); err != nil {
			return m, false, err
		}
	}
	return m, true, nil
}

// putMessage writes m (with its ID) and its index entries.
func putMessage(tx *bolt.Tx, m *Message) error {
	b, err := marshal(m)
	if err != nil {
		return err
	}
	id := u64(uint64(m.ID))
	if err := tx.Bucket(bMsgs).Put(id, b); err != nil {
		return err
	}
	conv := m.Conv()
	if err := tx.Bucket(bConv).Put(convKey(conv, m.ID), []byte(m.From)); err != nil {
		return err
	}
	if m.Room == "" {
		uc := tx.Bucket(bUserConv)
		for _, u := range []string{m.From, m.To} {
			if u == "" {
				continue
			}
			k := key(u, string(conv))
			if old := uc.Get(k); old != nil && int64(binary.BigEndian.Uint64(old)) >= m.ID {
				continue
			}
			if err := uc.Put(k, id); err != nil {
				return err
			}
		}
	}
	return nil
}

func getMessage(tx *bolt.Tx, id int64) (Message, bool) {
	v := tx.Bucket(bMsgs).Get(u64(uint64(id)))
	if v == nil {
		return Message{}, false
	}
	var m Message
	if err := json.Unmarshal(v, &m); err != nil {
		return Message{}, false
	}
	return m, true
}

// expireDedup forgets up to n client ids saved before cutoff.
func expireDedup(tx *bolt.Tx, cutoff time.Time, n int) {
	age, dd := tx.Bucket(bDedupAge), tx.Bucket(bDedup)
	c := age.Cursor()
	limit := u64(uint64(cutoff.UnixNano()))
	var dead [][]byte
	for k, v := c.First(); k != nil && n > 0 && bytes.Compare(k[:8], limit) < 0; k, v = c.Next() {
		// Drop the dedup entry only if it still points at this message (a
		// newer send with the same client id replaced it).
		if cur := dd.Get(v); len(cur) == 16 && bytes.Equal(cur[:8], k[8:16]) {
			_ = dd.Delete(v)
		}
		dead = append(dead, k)
		n--
	}
	for _, k := range dead {
		_ = age.Delete(k)
	}
}

// History implements Store.
func (e *Bolt) History(ctx context.Context, conv Conv, before int64, limit int) ([]Message, bool, error) {
	if limit <= 0 {
		limit = 50
	}
	if before <= 0 {
		before = math.MaxInt64
	}
	var msgs []Message
	var more bool
	err := e.view(ctx, "history", func(tx *bolt.Tx) error {
		msgs, more = nil, false
		pre := prefix(string(conv))
		c := tx.Bucket(bConv).Cursor()
		k, _ := c.Seek(convKey(conv, before))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, pre) && len(k) == len(pre)+8; k, _ = c.Prev() {
			if len(msgs) == limit {
				more = true
				break
			}
			if m, ok := getMessage(tx, int64(binary.BigEndian.Uint64(k[len(pre):]))); ok {
				msgs = append(msgs, m)
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
	return msgs, more, nil
}

// Conversations implements Store. Direct conversations come first, newest
// first (limit <= 0: all), then one line per room in the order given.
func (e *Bolt) Conversations(ctx context.Context, user string, rooms []string, limit int) ([]Conversation, error) {
	var out []Conversation
	err := e.view(ctx, "conversations", func(tx *bolt.Tx) error {
		out = nil
		type line struct {
			conv Conv
			last int64
		}
		var lines []line
		pre := prefix(user)
		c := tx.Bucket(bUserConv).Cursor()
		for k, v := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, v = c.Next() {
			lines = append(lines, line{Conv(k[len(pre):]), int64(binary.BigEndian.Uint64(v))})
		}
		sort.Slice(lines, func(i, j int) bool { return lines[i].last > lines[j].last })
		if limit > 0 && len(lines) > limit {
			lines = lines[:limit]
		}
		reads := tx.Bucket(bReads)
		for _, l := range lines {
			cv := Conversation{With: l.conv.Peer(user)}
			if m, ok := getMessage(tx, l.last); ok {
				cv.Last = &m
			}
			var mark int64
			if v := reads.Get(key(user, string(l.conv))); v != nil {
				mark = int64(binary.BigEndian.Uint64(v))
			}
			cv.Unread = countUnread(tx, l.conv, user, mark)
			out = append(out, cv)
		}
		for _, r := range rooms {
			conv := RoomConv(r)
			cv := Conversation{Room: r}
			if id := newestID(tx, conv); id > 0 {
				if m, ok := getMessage(tx, id); ok {
					cv.Last = &m
				}
			}
			if v := reads.Get(key(user, string(conv))); v != nil {
				cv.Unread = countUnread(tx, conv, user, int64(binary.BigEndian.Uint64(v)))
			}
			out = append(out, cv)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// newestID is the id of conv's newest message, 0 if none.
func newestID(tx *bolt.Tx, conv Conv) int64 {
	p := prefix(string(conv))
	c := tx.Bucket(bConv).Cursor()
	// Ids are below 1<<63, so p + 0xff sorts after every key of conv.
	k, _ := c.Seek(append(p, 0xff))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, p) || len(k) != len(p)+8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(k[len(p):]))
}

// countUnread counts messages of conv after mark not sent by user, at most
// UnreadCap, looking at no more than unreadScan index entries.
func countUnread(tx *bolt.Tx, conv Conv, user string, mark int64) int {
	pre := prefix(string(conv))
	c := tx.Bucket(bConv).Cursor()
	n, seen := 0, 0
	for k, v := c.Seek(convKey(conv, mark+1)); k != nil && bytes.HasPrefix(k, pre) && n < UnreadCap && seen < unreadScan; k, v = c.Next() {
		seen++
		if string(v) != user {
			n++
		}
	}
	return n
}

// MarkRead implements Store.
func (e *Bolt) MarkRead(ctx context.Context, user string, conv Conv, upto int64) error {
	return e.update(ctx, "mark read", func(tx *bolt.Tx) error {
		b := tx.Bucket(bReads)
		k := key(user, string(conv))
		if v := b.Get(k); v != nil && int64(binary.BigEndian.Uint64(v)) >= upto {
			return nil
		}
		return b.Put(k, u64(uint64(upto)))
	})
}

// SaveRequest implements Store.
func (e *Bolt) SaveRequest(ctx context.Context, r Request) error {
	if r.TS.IsZero() {
		r.TS = e.now()
	}
	r.TS = r.TS.UTC()
	b, err := marshal(r)
	if err != nil {
		return &Error{Op: "save request", Err: err}
	}
	return e.update(ctx, "save request", func(tx *bolt.Tx) error {
		return tx.Bucket(bRequests).Put(key(r.To, r.From), b)
	})
}

// DeleteRequest implements Store.
func (e *Bolt) DeleteRequest(ctx context.Context, to, from string) (Request, bool, error) {
	var r Request
	var found bool
	err := e.update(ctx, "delete request", func(tx *bolt.Tx) error {
		r, found = Request{}, false
		b := tx.Bucket(bRequests)
		k := key(to, from)
		v := b.Get(k)
		if v == nil {
			return nil
		}
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		found = true
		return b.Delete(k)
	})
	return r, found, err
}

// Requests implements Store.
func (e *Bolt) Requests(ctx context.Context, to string) ([]Request, error) {
	var out []Request
	err := e.view(ctx, "requests", func(tx *bolt.Tx) error {
		out = nil
		pre := prefix(to)
		c := tx.Bucket(bRequests).Cursor()
		for k, v := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, v = c.Next() {
			var r Request
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].TS.Before(out[j].TS) })
	return out, err
}

// SaveMute implements Store.
func (e *Bolt) SaveMute(ctx context.Context, m Mute) error {
	m.ExpiresAt = m.ExpiresAt.UTC()
	b, err := marshal(m)
	if err != nil {
		return &Error{Op: "save mute", Err: err}
	}
	return e.update(ctx, "save mute", func(tx *bolt.Tx) error {
		return tx.Bucket(bMutes).Put(key(m.Room, m.UserID), b)
	})
}

// DeleteMute implements Store.
func (e *Bolt) DeleteMute(ctx context.Context, room, user string) (bool, error) {
	var found bool
	err := e.update(ctx, "delete mute", func(tx *bolt.Tx) error {
		b := tx.Bucket(bMutes)
		k := key(room, user)
		found = b.Get(k) != nil
		if !found {
			return nil
		}
		return b.Delete(k)
	})
	return found, err
}

// Mutes implements Store.
func (e *Bolt) Mutes(ctx context.Context) ([]Mute, error) {
	var out []Mute
	err := e.view(ctx, "mutes", func(tx *bolt.Tx) error {
		out = nil
		return tx.Bucket(bMutes).ForEach(func(_, v []byte) error {
			var m Mute
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	return out, err
}

// SetBlock implements Store.
func (e *Bolt) SetBlock(ctx context.Context, user, other string, block bool) error {
	return e.update(ctx, "set block", func(tx *bolt.Tx) error {
		b := tx.Bucket(bBlocks)
		if block {
			return b.Put(key(user, other), nil)
		}
		return b.Delete(key(user, other))
	})
}

// Blocks implements Store.
func (e *Bolt) Blocks(ctx context.Context, user string) ([]string, error) {
	var out []string
	err := e.view(ctx, "blocks", func(tx *bolt.Tx) error {
		out = nil
		pre := prefix(user)
		c := tx.Bucket(bBlocks).Cursor()
		for k, _ := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, _ = c.Next() {
			out = append(out, string(k[len(pre):]))
		}
		return nil
	})
	return out, err
}

// Ping implements Store.
func (e *Bolt) Ping(ctx context.Context) error {
	return e.view(ctx, "ping", func(tx *bolt.Tx) error { return nil })
}

// Close implements Store: it waits for the write in progress, fails later
// ones with ErrClosed and closes the file.
func (e *Bolt) Close() error {
	var err error
	e.once.Do(func() {
		e.closed.Store(true)
		e.writes.stop()
		if cerr := e.db.Close(); cerr != nil {
			err = &Error{Op: "close", Err: cerr}
		}
	})
	return err
}

// Prune implements Pruner: it deletes up to batch of the oldest messages
// whose TS is before before. Ids follow time, so it walks from the oldest id
// and stops at the first message that is new enough.
func (e *Bolt) Prune(ctx context.Context, before time.Time, batch int) (int, error) {
	if batch <= 0 {
		batch = 1000
	}
	var n int
	err := e.update(ctx, "prune", func(tx *bolt.Tx) error {
		n = 0
		var dead []Message
		c := tx.Bucket(bMsgs).Cursor()
		for k, v := c.First(); k != nil && len(dead) < batch; k, v = c.Next() {
			var m Message
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			if !m.TS.Before(before) {
				break
			}
			dead = append(dead, m)
		}
		for _, m := range dead {
			id := u64(uint64(m.ID))
			if err := tx.Bucket(bMsgs).Delete(id); err != nil {
				return err
			}
			if err := tx.Bucket(bConv).Delete(convKey(m.Conv(), m.ID)); err != nil {
				return err
			}
			// A conversation whose newest message goes leaves the list.
			uc := tx.Bucket(bUserConv)
			for _, u := range []string{m.From, m.To} {
				if k := key(u, string(m.Conv())); u != "" && m.Room == "" && bytes.Equal(uc.Get(k), id) {
					if err := uc.Delete(k); err != nil {
						return err
					}
				}
			}
		}
		n = len(dead)
		expireDedup(tx, e.now().Add(-DedupWindow), 10*batch)
		return nil
	})
	return n, err
}

// Export implements Exporter.
func (e *Bolt) Export(ctx context.Context, conv Conv, after int64, limit int) ([]Message, error) {
	if limit <= 0 {
		limit = 1000
	}
	if after < 0 {
		after = 0
	}
	var out []Message
	err := e.view(ctx, "export", func(tx *bolt.Tx) error {
		out = nil
		if conv == "" {
			c := tx.Bucket(bMsgs).Cursor()
			for k, v := c.Seek(u64(uint64(after + 1))); k != nil && len(out) < limit; k, v = c.Next() {
				var m Message
				if err := json.Unmarshal(v, &m); err != nil {
					return err
				}
				out = append(out, m)
			}
			return nil
		}
		pre := prefix(string(conv))
		c := tx.Bucket(bConv).Cursor()
		for k, _ := c.Seek(convKey(conv, after+1)); k != nil && bytes.HasPrefix(k, pre) && len(out) < limit; k, _ = c.Next() {
			if m, ok := getMessage(tx, int64(binary.BigEndian.Uint64(k[len(pre):]))); ok {
				out = append(out, m)
			}
		}
		return nil
	})
	return out, err
}

// ImportMessages implements Importer: messages keep their ids; an id that
// exists already is skipped. Later ids assigned by SaveMessage stay above
// every imported one.
func (e *Bolt) ImportMessages(ctx context.Context, msgs []Message) (int, error) {
	for i := range msgs {
		if err := checkImport(&msgs[i]); err != nil {
			return 0, &Error{Op: "import", Err: err}
		}
	}
	var n int
	err := e.update(ctx, "import", func(tx *bolt.Tx) error {
		n = 0
		b := tx.Bucket(bMsgs)
		for i := range msgs {
			m := msgs[i]
			m.TS = m.TS.UTC()
			if b.Get(u64(uint64(m.ID))) != nil {
				continue
			}
			if err := putMessage(tx, &m); err != nil {
				return err
			}
			if uint64(m.ID) > b.Sequence() {
				if err := b.SetSequence(uint64(m.ID)); err != nil {
					return err
				}
			}
			n++
		}
		return nil
	})
	return n, err
}

// marshal is json.Marshal keeping <, > and & as they are: stored text and
// data stay verbatim.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// key joins parts with 0 bytes.
func key(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += len(p) + 1
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return b
}

// prefix is the start of every key whose first part is p; convKey adds an id.
func prefix(p string) []byte {
	b := make([]byte, 0, len(p)+9)
	return append(append(b, p...), 0)
}

func convKey(conv Conv, id int64) []byte {
	b := prefix(string(conv))
	return binary.BigEndian.AppendUint64(b, uint64(id))
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}
