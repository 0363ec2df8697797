package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// PebbleDir is the directory of the Pebble engine inside the embedded
// store's directory (store.path/pebble).
const PebbleDir = "pebble"

// Memory the Pebble store may use, sized for a chat server on a small VPS:
// Pebble's defaults (8 MB cache, 4 MB memtables growing to 64 MB, up to 1000
// open files) are tuned for databases far larger than a chat's.
const (
	pebbleCache    = 16 << 20 // block cache
	pebbleMemTable = 8 << 20  // one memtable; at most two (16 MB) before writes wait
	pebbleMaxFiles = 256      // open sstables kept
)

// Pebble key layout: one table byte, then the key of the matching bbolt
// bucket (bolt.go), with the same values. Parts join with a 0 byte; ids are
// 8-byte big-endian, so byte order is numeric order.
const (
	tMsg      = 'm' // id -> JSON Message
	tConv     = 'c' // conv 0 id -> from (history, unread counts)
	tUserConv = 'u' // user 0 conv -> id of the newest message
	tRead     = 'r' // user 0 conv -> read mark
	tDedup    = 'd' // from 0 client_id -> id, saved-at (unix ns)
	tDedupAge = 'a' // saved-at id -> from 0 client_id (dedup expiry)
	tRequest  = 'q' // to 0 from -> JSON Request
	tMute     = 'x' // room 0 user -> JSON Mute
	tBlock    = 'b' // user 0 other -> empty
	tMeta     = 'M' // "schema" -> layout version; "seq" -> the last id handed out
)

// errLocked: another process (or another open in this one) holds the store.
var errLocked = errors.New("in use by another process")

// pebbleSchema is the key layout version; a store with a newer one is
// refused instead of misread.
const pebbleSchema = 1

var (
	metaSchema = []byte{tMeta, 's', 'c', 'h', 'e', 'm', 'a'}
	metaSeq    = []byte{tMeta, 's', 'e', 'q'}
)

// tk is key k of table t.
func tk(t byte, k []byte) []byte {
	b := make([]byte, 0, len(k)+1)
	return append(append(b, t), k...)
}

// upper is the first key after every key that starts with p (p never ends
// in 0xff here: prefixes end in a table byte or a 0 separator).
func upper(p []byte) []byte {
	u := bytes.Clone(p)
	u[len(u)-1]++
	return u
}

// Pebble is the embedded store on Pebble, an LSM tree with a write-ahead
// log: a commit appends one record to the log and fsyncs it, where bbolt
// rewrites B+tree pages in place and syncs twice. One writer goroutine takes
// every write waiting (groupCommit), applies them to one batch and commits it
// with pebble.Sync, so each write is durable before its call returns and
// message ids are handed out in commit order.
type Pebble struct {
	db     *pebble.DB
	lock   *pebble.Lock
	dir    string
	writes *groupCommit[*pebbleOp]
	seq    int64 // the last id handed out; only the writer touches it
	// dedupQuiet: until then (unix ns) commits do not look for expired
	// dedup entries (none were left); only the writer touches it.
	dedupQuiet int64
	// durable is the highest id whose commit's fsync has returned. Pebble
	// shows a committed batch to readers before the write-ahead log is
	// synced, so a message above durable may still vanish in a crash (and
	// its id be handed out again): every read of messages skips ids above
	// it (visible).
	durable atomic.Int64
	// beforeDurable, when set (tests), runs after a commit is visible and
	// before durable moves to its last id.
	beforeDurable func()
	// mu orders reads before Close: reads hold it shared, Close takes it
	// to set closed, so no read touches a closed database.
	mu     sync.RWMutex
	closed bool
	once   sync.Once
	now    func() time.Time
}

var (
	_ Store      = (*Pebble)(nil)
	_ Pruner     = (*Pebble)(nil)
	_ Exporter   = (*Pebble)(nil)
	_ Importer   = (*Pebble)(nil)
	_ BatchSaver = (*Pebble)(nil)
	_ Backuper   = (*Pebble)(nil)
)

// pebbleOp is one write waiting for the group commit. fn may run twice (a
// batch that fails is retried one op per batch), so it sets its results on
// every run.
type pebbleOp struct {
	fn   func(tx *pebbleTx) error
	err  error
	done chan struct{}
}

// pebbleTx is the writer's view: an indexed batch, whose reads see the
// database with the batch's own writes applied.
type pebbleTx struct {
	b *pebble.Batch
	p *Pebble
}

func (tx *pebbleTx) get(k []byte) ([]byte, bool, error) { return pget(tx.b, k) }
func (tx *pebbleTx) set(k, v []byte) error              { return tx.b.Set(k, v, nil) }
func (tx *pebbleTx) del(k []byte) error                 { return tx.b.Delete(k, nil) }

// nextID hands out the next message id.
func (tx *pebbleTx) nextID() int64 {
	tx.p.seq++
	return tx.p.seq
}

// pebbleReader is what reads need: a snapshot, or the writer's batch.
type pebbleReader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

// pget returns a copy of k's value.
func pget(r pebbleReader, k []byte) ([]byte, bool, error) {
	v, c, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte{}, v...)
	c.Close()
	return out, true, nil
}

// piter iterates the keys starting with p.
func piter(r pebbleReader, p []byte) (*pebble.Iterator, error) {
	return r.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upper(p)})
}

// pebbleLogger drops Pebble's informational lines and keeps its errors.
type pebbleLogger struct{}

func (pebbleLogger) Infof(string, ...any) {}
func (pebbleLogger) Errorf(format string, args ...any) {
	slog.Error("store: pebble: " + fmt.Sprintf(format, args...))
}
func (pebbleLogger) Fatalf(format string, args ...any) { pebble.DefaultLogger.Fatalf(format, args...) }

// OpenPebble opens (creating when missing) the Pebble store in dir/pebble.
// The parent of dir must exist. Only one process may hold the store.
func OpenPebble(dir string) (*Pebble, error) {
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, PebbleDir)
	if err := os.Mkdir(path, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, &Error{Op: "open", Err: err}
	}
	lock, err := pebble.LockDirectory(path, vfs.Default)
	if err != nil {
		return nil, &Error{Op: "open", Err: fmt.Errorf("%s is %w (%v)", path, errLocked, err)}
	}
	db, err := pebble.Open(path, pebbleOptions(lock))
	if err != nil {
		lock.Close()
		return nil, &Error{Op: "open", Err: err}
	}
	p := &Pebble{db: db, lock: lock, dir: dir, now: func() time.Time { return time.Now().UTC() }}
	if err := p.init(); err != nil {
		db.Close()
		lock.Close()
		return nil, &Error{Op: "open", Err: fmt.Errorf("%s: %w", path, err)}
	}
	removeCheckpoints(dir)
	p.writes = newGroupCommit(maxBatch, nil, p.commit)
	p.writes.inline = true // one writer: chat's committer commits its batches itself
	p.writes.start(1)
	return p, nil
}

func pebbleOptions(lock *pebble.Lock) *pebble.Options {
	return &pebble.Options{
		CacheSize:    pebbleCache,
		MemTableSize: pebbleMemTable,
		MaxOpenFiles: pebbleMaxFiles,
		Logger:       pebbleLogger{},
		Lock:         lock,
	}
}

// init checks the layout version (writing it into a new store) and reads
// the last id handed out.
func (p *Pebble) init() error {
	v, ok, err := pget(p.db, metaSchema)
	if err != nil {
		return err
	}
	if ok {
		if len(v) != 8 {
			return errors.New("bad layout version: not a pollchat store")
		}
		if n := binary.BigEndian.Uint64(v); n > pebbleSchema {
			return fmt.Errorf("layout version %d, newer than this binary's %d", n, pebbleSchema)
		}
	} else {
		if err := p.db.Set(metaSchema, u64(pebbleSchema), pebble.Sync); err != nil {
			return err
		}
	}
	if v, ok, err := pget(p.db, metaSeq); err != nil {
		return err
	} else if ok && len(v) == 8 {
		p.seq = int64(binary.BigEndian.Uint64(v))
	}
	p.durable.Store(p.seq)
	return nil
}

func (p *Pebble) commit(batch []*pebbleOp) {
	seq := p.seq
	err := p.apply(func(tx *pebbleTx) error {
		for _, op := range batch {
			if op.err = op.fn(tx); op.err != nil {
				return errOpFailed
			}
		}
		now := p.now()
		if now.UnixNano() < p.dedupQuiet {
			return nil
		}
		return p.expireDedup(tx, now.Add(-DedupWindow), 64)
	})
	if err == nil || len(batch) == 1 {
		if err != nil {
			p.seq = seq
		}
		for _, op := range batch {
			if err != nil && op.err == nil {
				op.err = err
			}
			close(op.done)
		}
		return
	}
	p.seq = seq
	for _, op := range batch {
		op.err = nil
		seq := p.seq
		if err := p.apply(op.fn); err != nil {
			op.err = err
			p.seq = seq
		}
		close(op.done)
	}
}

// apply runs fn on a fresh batch and commits it durably (the write-ahead
// log is fsynced before Commit returns).
func (p *Pebble) apply(fn func(tx *pebbleTx) error) error {
	b := p.db.NewIndexedBatch()
	defer b.Close()
	seq := p.seq
	tx := &pebbleTx{b: b, p: p}
	if err := fn(tx); err != nil {
		return err
	}
	if p.seq != seq {
		if err := b.Set(metaSeq, u64(uint64(p.seq)), nil); err != nil {
			return err
		}
	}
	if b.Empty() {
		return nil
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	if p.beforeDurable != nil {
		p.beforeDurable()
	}
	p.durable.Store(p.seq)
	return nil
}

// visible is the first message id reads must not show: 1 + the highest id
// known durable.
func (p *Pebble) visible() int64 {
	d := p.durable.Load()
	if d >= math.MaxInt64-1 {
		return math.MaxInt64
	}
	return d + 1
}

// update runs fn in the next group commit and waits until it is durable.
func (p *Pebble) update(ctx context.Context, op string, fn func(tx *pebbleTx) error) error {
	p.mu.RLock()
	closed := p.closed
	p.mu.RUnlock()
	if closed {
		return &Error{Op: op, Err: ErrClosed}
	}
	w := &pebbleOp{fn: fn, done: make(chan struct{})}
	if err := p.writes.submit(ctx, w); err != nil {
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

// view runs fn on a consistent snapshot.
func (p *Pebble) view(ctx context.Context, op string, fn func(r pebbleReader) error) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return &Error{Op: op, Err: ErrClosed}
	}
	if err := ctx.Err(); err != nil {
		return &Error{Op: op, Err: err}
	}
	snap := p.db.NewSnapshot()
	defer snap.Close()
	if err := fn(snap); err != nil {
		return &Error{Op: op, Err: err}
	}
	return nil
}

// SaveMessage implements Store.
func (p *Pebble) SaveMessage(ctx context.Context, m *Message) (bool, error) {
	created, err := p.SaveMessages(ctx, []*Message{m})
	if err != nil {
		return false, err
	}
	return created[0], nil
}

// SaveMessages implements BatchSaver: msgs are saved in one batch, ids in
// slice order; a client id repeated inside msgs makes one message.
func (p *Pebble) SaveMessages(ctx context.Context, msgs []*Message) ([]bool, error) {
	in := make([]Message, len(msgs))
	for i, m := range msgs {
		if err := checkMessage(m); err != nil {
			return nil, &Error{Op: "save message", Err: err}
		}
		in[i] = *m
		if in[i].TS.IsZero() {
			in[i].TS = p.now()
		}
		// Microseconds, as MySQL's DATETIME(6): every store answers the same.
		in[i].TS = in[i].TS.UTC().Truncate(time.Microsecond)
	}
	out := make([]Message, len(msgs))
	created := make([]bool, len(msgs))
	err := p.update(ctx, "save message", func(tx *pebbleTx) error {
		now := p.now()
		for i := range in {
			var err error
			if out[i], created[i], err = pebbleSave(tx, in[i], now); err != nil {
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

// pebbleSave saves m unless its client id is in the dedup window, in which
// case it returns the original.
func pebbleSave(tx *pebbleTx, m Message, now time.Time) (Message, bool, error) {
	var dkey []byte
	if m.ClientID != "" && m.From != "" {
		dkey = key(m.From, m.ClientID)
		v, _, err := tx.get(tk(tDedup, dkey))
		if err != nil {
			return m, false, err
		}
		if len(v) == 16 {
			at := time.Unix(0, int64(binary.BigEndian.Uint64(v[8:])))
			if now.Sub(at) < DedupWindow {
				orig, ok, err := pebbleMessage(tx.b, int64(binary.BigEndian.Uint64(v[:8])))
				if err != nil {
					return m, false, err
				}
				if ok {
					return orig, false, nil
				}
			}
		}
	}
	m.ID = tx.nextID()
	if err := pebblePut(tx, &m, true); err != nil {
		return m, false, err
	}
	if dkey != nil {
		v := make([]byte, 16)
		binary.BigEndian.PutUint64(v, uint64(m.ID))
		binary.BigEndian.PutUint64(v[8:], uint64(now.UnixNano()))
		if err := tx.set(tk(tDedup, dkey), v); err != nil {
			return m, false, err
		}
		if err := tx.set(tk(tDedupAge, append(v[8:16:16], u64(uint64(m.ID))...)), dkey); err != nil {
			return m, false, err
		}
	}
	return m, true, nil
}

// pebblePut writes m (with its ID) and its index entries. fresh says that
// m.ID was just handed out, so it is above every stored id: each user's
// newest id in the conversation is then m.ID without reading it (two
// reads of the memtable per direct message saved; an import, whose ids
// may be old, reads them).
func pebblePut(tx *pebbleTx, m *Message, fresh bool) error {
	b, err := marshal(m)
	if err != nil {
		return err
	}
	id := u64(uint64(m.ID))
	if err := tx.set(tk(tMsg, id), b); err != nil {
		return err
	}
	conv := m.Conv()
	if err := tx.set(tk(tConv, convKey(conv, m.ID)), []byte(m.From)); err != nil {
		return err
	}
	if m.Room != "" {
		return nil
	}
	for _, u := range []string{m.From, m.To} {
		if u == "" {
			continue
		}
		k := tk(tUserConv, key(u, string(conv)))
		if !fresh {
			old, _, err := tx.get(k)
			if err != nil {
				return err
			}
			if len(old) == 8 && int64(binary.BigEndian.Uint64(old)) >= m.ID {
				continue
			}
		}
		if err := tx.set(k, id); err != nil {
			return err
		}
	}
	return nil
}

func pebbleMessage(r pebbleReader, id int64) (Message, bool, error) {
	v, ok, err := pget(r, tk(tMsg, u64(uint64(id))))
	if err != nil || !ok {
		return Message{}, false, err
	}
	var m Message
	if err := json.Unmarshal(v, &m); err != nil {
		return Message{}, false, err
	}
	return m, true, nil
}

// expireDedup forgets up to n client ids saved before cutoff.
func (p *Pebble) expireDedup(tx *pebbleTx, cutoff time.Time, n int) error {
	it, err := tx.b.NewIter(&pebble.IterOptions{
		LowerBound: []byte{tDedupAge},
		UpperBound: tk(tDedupAge, u64(uint64(cutoff.UnixNano()))),
	})
	if err != nil {
		return err
	}
	type entry struct{ age, dkey []byte }
	var dead []entry
	ok := it.First()
	for ; ok && n > 0; ok = it.Next() {
		if k := it.Key(); len(k) == 17 {
			dead = append(dead, entry{bytes.Clone(k), bytes.Clone(it.Value())})
		}
		n--
	}
	if err := it.Close(); err != nil {
		return err
	}
	if !ok {
		// Caught up: the next second's commits skip the iterator (3% of
		// the server's CPU in the direct scenario, one per commit). An
		// entry then outlives the window by up to a second, which the
		// dedup check ignores (it compares the saved-at with the window).
		p.dedupQuiet = p.now().Add(time.Second).UnixNano()
	}
	for _, e := range dead {
		// Drop the dedup entry only if it still points at this message (a
		// newer send with the same client id replaced it).
		cur, _, err := tx.get(tk(tDedup, e.dkey))
		if err != nil {
			return err
		}
		if len(cur) == 16 && bytes.Equal(cur[:8], e.age[9:17]) {
			if err := tx.del(tk(tDedup, e.dkey)); err != nil {
				return err
			}
		}
		if err := tx.del(e.age); err != nil {
			return err
		}
	}
	return nil
}

// History implements Store.
func (p *Pebble) History(ctx context.Context, conv Conv, before int64, limit int) ([]Message, bool, error) {
	if limit <= 0 {
		limit = 50
	}
	if before <= 0 {
		before = math.MaxInt64
	}
	var msgs []Message
	var more bool
	err := p.view(ctx, "history", func(r pebbleReader) error {
		before := min(before, p.visible())
		pre := tk(tConv, prefix(string(conv)))
		it, err := r.NewIter(&pebble.IterOptions{LowerBound: pre, UpperBound: tk(tConv, convKey(conv, before))})
		if err != nil {
			return err
		}
		var ids []int64
		for ok := it.Last(); ok; ok = it.Prev() {
			if k := it.Key(); len(k) == len(pre)+8 {
				if len(ids) == limit {
					more = true
					break
				}
				ids = append(ids, int64(binary.BigEndian.Uint64(k[len(pre):])))
			}
		}
		if err := it.Close(); err != nil {
			return err
		}
		for i := len(ids) - 1; i >= 0; i-- {
			m, ok, err := pebbleMessage(r, ids[i])
			if err != nil {
				return err
			}
			if ok {
				msgs = append(msgs, m)
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return msgs, more, nil
}

// Conversations implements Store. Direct conversations come first, newest
// first (limit <= 0: all), then one line per room in the order given.
func (p *Pebble) Conversations(ctx context.Context, user string, rooms []string, limit int) ([]Conversation, error) {
	var out []Conversation
	err := p.view(ctx, "conversations", func(r pebbleReader) error {
		vis := p.visible()
		type line struct {
			conv Conv
			last int64
		}
		var lines []line
		pre := tk(tUserConv, prefix(user))
		it, err := piter(r, pre)
		if err != nil {
			return err
		}
		for ok := it.First(); ok; ok = it.Next() {
			if v := it.Value(); len(v) == 8 {
				lines = append(lines, line{Conv(it.Key()[len(pre):]), int64(binary.BigEndian.Uint64(v))})
			}
		}
		if err := it.Close(); err != nil {
			return err
		}
		// A line whose newest message is not durable yet shows the newest
		// that is, or waits when there is none.
		kept := lines[:0]
		for _, l := range lines {
			if l.last >= vis {
				id, err := pebbleNewest(r, l.conv, vis)
				if err != nil {
					return err
				}
				if id == 0 {
					continue
				}
				l.last = id
			}
			kept = append(kept, l)
		}
		lines = kept
		sort.Slice(lines, func(i, j int) bool { return lines[i].last > lines[j].last })
		if limit > 0 && len(lines) > limit {
			lines = lines[:limit]
		}
		mark := func(conv Conv) (int64, bool, error) {
			v, ok, err := pget(r, tk(tRead, key(user, string(conv))))
			if err != nil || !ok || len(v) != 8 {
				return 0, false, err
			}
			return int64(binary.BigEndian.Uint64(v)), true, nil
		}
		for _, l := range lines {
			cv := Conversation{With: l.conv.Peer(user)}
			m, ok, err := pebbleMessage(r, l.last)
			if err != nil {
				return err
			}
			if ok {
				cv.Last = &m
			}
			read, _, err := mark(l.conv)
			if err != nil {
				return err
			}
			if cv.Unread, err = pebbleUnread(r, l.conv, user, read, vis); err != nil {
				return err
			}
			out = append(out, cv)
		}
		for _, room := range rooms {
			conv := RoomConv(room)
			cv := Conversation{Room: room}
			id, err := pebbleNewest(r, conv, vis)
			if err != nil {
				return err
			}
			if id > 0 {
				m, ok, err := pebbleMessage(r, id)
				if err != nil {
					return err
				}
				if ok {
					cv.Last = &m
				}
			}
			read, ok, err := mark(conv)
			if err != nil {
				return err
			}
			if ok {
				if cv.Unread, err = pebbleUnread(r, conv, user, read, vis); err != nil {
					return err
				}
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

// pebbleNewest is the id of conv's newest message below below, 0 if none.
func pebbleNewest(r pebbleReader, conv Conv, below int64) (int64, error) {
	pre := tk(tConv, prefix(string(conv)))
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: pre, UpperBound: tk(tConv, convKey(conv, below))})
	if err != nil {
		return 0, err
	}
	var id int64
	for ok := it.Last(); ok; ok = it.Prev() {
		if k := it.Key(); len(k) == len(pre)+8 {
			id = int64(binary.BigEndian.Uint64(k[len(pre):]))
			break
		}
	}
	return id, it.Close()
}

// pebbleUnread counts messages of conv after mark not sent by user, at most
// UnreadCap, looking at no more than unreadScan index entries and none from
// below on.
func pebbleUnread(r pebbleReader, conv Conv, user string, mark, below int64) (int, error) {
	if mark < 0 {
		mark = 0
	}
	if mark >= below-1 {
		return 0, nil
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: tk(tConv, convKey(conv, mark+1)), UpperBound: tk(tConv, convKey(conv, below))})
	if err != nil {
		return 0, err
	}
	n, seen := 0, 0
	for ok := it.First(); ok && n < UnreadCap && seen < unreadScan; ok = it.Next() {
		seen++
		if string(it.Value()) != user {
			n++
		}
	}
	return n, it.Close()
}

// MarkRead implements Store.
func (p *Pebble) MarkRead(ctx context.Context, user string, conv Conv, upto int64) error {
	return p.update(ctx, "mark read", func(tx *pebbleTx) error {
		k := tk(tRead, key(user, string(conv)))
		v, _, err := tx.get(k)
		if err != nil {
			return err
		}
		if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) >= upto {
			return nil
		}
		return tx.set(k, u64(uint64(upto)))
	})
}

// SaveRequest implements Store.
func (p *Pebble) SaveRequest(ctx context.Context, r Request) error {
	if r.TS.IsZero() {
		r.TS = p.now()
	}
	r.TS = r.TS.UTC()
	b, err := marshal(r)
	if err != nil {
		return &Error{Op: "save request", Err: err}
	}
	return p.update(ctx, "save request", func(tx *pebbleTx) error {
		return tx.set(tk(tRequest, key(r.To, r.From)), b)
	})
}

// DeleteRequest implements Store.
func (p *Pebble) DeleteRequest(ctx context.Context, to, from string) (Request, bool, error) {
	var r Request
	var found bool
	err := p.update(ctx, "delete request", func(tx *pebbleTx) error {
		r, found = Request{}, false
		k := tk(tRequest, key(to, from))
		v, ok, err := tx.get(k)
		if err != nil || !ok {
			return err
		}
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		found = true
		return tx.del(k)
	})
	return r, found, err
}

// Requests implements Store.
func (p *Pebble) Requests(ctx context.Context, to string) ([]Request, error) {
	var out []Request
	err := p.view(ctx, "requests", func(rd pebbleReader) error {
		return scanJSON(rd, tk(tRequest, prefix(to)), func(v []byte) error {
			var r Request
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].TS.Before(out[j].TS) })
	return out, err
}

// scanJSON calls fn with the value of every key starting with pre.
func scanJSON(r pebbleReader, pre []byte, fn func(v []byte) error) error {
	it, err := piter(r, pre)
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		if err := fn(it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	return it.Close()
}

// SaveMute implements Store.
func (p *Pebble) SaveMute(ctx context.Context, m Mute) error {
	m.ExpiresAt = m.ExpiresAt.UTC()
	b, err := marshal(m)
	if err != nil {
		return &Error{Op: "save mute", Err: err}
	}
	return p.update(ctx, "save mute", func(tx *pebbleTx) error {
		return tx.set(tk(tMute, key(m.Room, m.UserID)), b)
	})
}

// DeleteMute implements Store.
func (p *Pebble) DeleteMute(ctx context.Context, room, user string) (bool, error) {
	var found bool
	err := p.update(ctx, "delete mute", func(tx *pebbleTx) error {
		k := tk(tMute, key(room, user))
		var err error
		if _, found, err = tx.get(k); err != nil || !found {
			return err
		}
		return tx.del(k)
	})
	return found, err
}

// Mutes implements Store.
func (p *Pebble) Mutes(ctx context.Context) ([]Mute, error) {
	var out []Mute
	err := p.view(ctx, "mutes", func(r pebbleReader) error {
		out = nil
		return scanJSON(r, []byte{tMute}, func(v []byte) error {
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
func (p *Pebble) SetBlock(ctx context.Context, user, other string, block bool) error {
	return p.update(ctx, "set block", func(tx *pebbleTx) error {
		if block {
			return tx.set(tk(tBlock, key(user, other)), nil)
		}
		return tx.del(tk(tBlock, key(user, other)))
	})
}

// Blocks implements Store.
func (p *Pebble) Blocks(ctx context.Context, user string) ([]string, error) {
	var out []string
	err := p.view(ctx, "blocks", func(r pebbleReader) error {
		pre := tk(tBlock, prefix(user))
		it, err := piter(r, pre)
		if err != nil {
			return err
		}
		for ok := it.First(); ok; ok = it.Next() {
			out = append(out, string(it.Key()[len(pre):]))
		}
		return it.Close()
	})
	return out, err
}

// Ping implements Store.
func (p *Pebble) Ping(ctx context.Context) error {
	return p.view(ctx, "ping", func(pebbleReader) error { return nil })
}

// Close implements Store: it waits for the write in progress, fails later
// ones with ErrClosed and closes the database.
func (p *Pebble) Close() error {
	var err error
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		p.writes.stop()
		if cerr := p.db.Close(); cerr != nil {
			err = &Error{Op: "close", Err: cerr}
		}
		p.lock.Close()
	})
	return err
}

// Prune implements Pruner: it deletes up to batch of the oldest messages
// whose TS is before before. Ids follow time, so it walks from the oldest id
// and stops at the first message that is new enough.
func (p *Pebble) Prune(ctx context.Context, before time.Time, batch int) (int, error) {
	if batch <= 0 {
		batch = 1000
	}
	var n int
	err := p.update(ctx, "prune", func(tx *pebbleTx) error {
		n = 0
		var dead []Message
		it, err := piter(tx.b, []byte{tMsg})
		if err != nil {
			return err
		}
		for ok := it.First(); ok && len(dead) < batch; ok = it.Next() {
			var m Message
			if err := json.Unmarshal(it.Value(), &m); err != nil {
				it.Close()
				return err
			}
			if !m.TS.Before(before) {
				break
			}
			dead = append(dead, m)
		}
		if err := it.Close(); err != nil {
			return err
		}
		for _, m := range dead {
			id := u64(uint64(m.ID))
			if err := tx.del(tk(tMsg, id)); err != nil {
				return err
			}
			if err := tx.del(tk(tConv, convKey(m.Conv(), m.ID))); err != nil {
				return err
			}
			if m.Room != "" {
				continue
			}
			// A conversation whose newest message goes leaves the list.
			for _, u := range []string{m.From, m.To} {
				if u == "" {
					continue
				}
				k := tk(tUserConv, key(u, string(m.Conv())))
				cur, _, err := tx.get(k)
				if err != nil {
					return err
				}
				if bytes.Equal(cur, id) {
					if err := tx.del(k); err != nil {
						return err
					}
				}
			}
		}
		n = len(dead)
		return p.expireDedup(tx, p.now().Add(-DedupWindow), 10*batch)
	})
	return n, err
}

// Export implements Exporter.
func (p *Pebble) Export(ctx context.Context, conv Conv, after int64, limit int) ([]Message, error) {
	if limit <= 0 {
		limit = 1000
	}
	if after < 0 {
		after = 0
	}
	var out []Message
	err := p.view(ctx, "export", func(r pebbleReader) error {
		out = nil
		vis := p.visible()
		if after+1 >= vis {
			return nil
		}
		if conv == "" {
			it, err := r.NewIter(&pebble.IterOptions{LowerBound: tk(tMsg, u64(uint64(after+1))), UpperBound: tk(tMsg, u64(uint64(vis)))})
			if err != nil {
				return err
			}
			for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
				var m Message
				if err := json.Unmarshal(it.Value(), &m); err != nil {
					it.Close()
					return err
				}
				out = append(out, m)
			}
			return it.Close()
		}
		pre := tk(tConv, prefix(string(conv)))
		it, err := r.NewIter(&pebble.IterOptions{LowerBound: tk(tConv, convKey(conv, after+1)), UpperBound: tk(tConv, convKey(conv, vis))})
		if err != nil {
			return err
		}
		var ids []int64
		for ok := it.First(); ok && len(ids) < limit; ok = it.Next() {
			if k := it.Key(); len(k) == len(pre)+8 {
				ids = append(ids, int64(binary.BigEndian.Uint64(k[len(pre):])))
			}
		}
		if err := it.Close(); err != nil {
			return err
		}
		for _, id := range ids {
			m, ok, err := pebbleMessage(r, id)
			if err != nil {
				return err
			}
			if ok {
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
func (p *Pebble) ImportMessages(ctx context.Context, msgs []Message) (int, error) {
	for i := range msgs {
		if err := checkImport(&msgs[i]); err != nil {
			return 0, &Error{Op: "import", Err: err}
		}
	}
	var n int
	err := p.update(ctx, "import", func(tx *pebbleTx) error {
		n = 0
		for i := range msgs {
			m := msgs[i]
			m.TS = m.TS.UTC()
			if _, ok, err := tx.get(tk(tMsg, u64(uint64(m.ID)))); err != nil {
				return err
			} else if ok {
				continue
			}
			if err := pebblePut(tx, &m, false); err != nil {
				return err
			}
			if m.ID > tx.p.seq {
				tx.p.seq = m.ID
			}
			n++
		}
		return nil
	})
	return n, err
}

// removeCheckpoints deletes what a backup interrupted by a crash left in dir.
func removeCheckpoints(dir string) {
	old, _ := filepath.Glob(filepath.Join(dir, checkpointPrefix+"*"))
	for _, d := range old {
		if strings.HasPrefix(filepath.Base(d), checkpointPrefix) {
			os.RemoveAll(d)
		}
	}
}
