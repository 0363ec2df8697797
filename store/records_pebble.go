package store

import (
	"bytes"
	"context"
	"encoding/binary"

	"github.com/cockroachdb/pebble/v2"
)

// The Pebble store's Records, in two tables of their own:
//
//	tRec   kind 0 key        -> rev(8) at(8) value
//	tRecAt kind 0 at(8) key  -> empty (the due-time index)
//
// The values are those of the bbolt buckets "rec/"+kind and "recat/"+kind,
// so migrateBolt copies them key for key. Every write runs on the writer
// goroutine (update), the only one that writes: SwapRecord's read of the
// revision and its write happen there with nothing in between, which makes
// it atomic without a lock (a mutex around read + batch commit would work
// too, but would serialize a second writer beside the group commit).
const (
	tRec   = 'R'
	tRecAt = 'T'
)

var _ Records = (*Pebble)(nil)

func recKey(kind, key string) []byte {
	b := make([]byte, 0, 2+len(kind)+len(key))
	b = append(append(append(b, tRec), kind...), 0)
	return append(b, key...)
}

func recAtKey(kind string, at int64, key string) []byte {
	b := make([]byte, 0, 10+len(kind)+len(key))
	b = append(append(append(b, tRecAt), kind...), 0)
	b = binary.BigEndian.AppendUint64(b, uint64(at))
	return append(b, key...)
}

// pebbleSwap is SwapRecord inside the writer's batch; rev < 0 means any
// revision (PutRecord, DeleteRecord). found says whether a record was there.
func pebbleSwap(tx *pebbleTx, kind, key string, rev int64, val []byte, at int64) (ok, found bool, err error) {
	k := recKey(kind, key)
	v, _, err := tx.get(k)
	if err != nil {
		return false, false, err
	}
	old, found := decodeRecord([]byte(key), v)
	if rev >= 0 && (found && old.Rev != rev || !found && rev != 0) {
		return false, found, nil
	}
	if found && old.At > 0 {
		if err := tx.del(recAtKey(kind, old.At, key)); err != nil {
			return false, found, err
		}
	}
	if val == nil {
		if !found {
			return true, false, nil
		}
		return true, true, tx.del(k)
	}
	nv := make([]byte, 16, 16+len(val))
	binary.BigEndian.PutUint64(nv, uint64(old.Rev+1))
	binary.BigEndian.PutUint64(nv[8:], uint64(at))
	if err := tx.set(k, append(nv, val...)); err != nil {
		return false, found, err
	}
	if at > 0 {
		if err := tx.set(recAtKey(kind, at, key), nil); err != nil {
			return false, found, err
		}
	}
	return true, found, nil
}

// PutRecord implements Records.
func (p *Pebble) PutRecord(ctx context.Context, kind, key string, val []byte) error {
	if err := checkRecord(kind, key, val); err != nil {
		return &Error{Op: "put record", Err: err}
	}
	if val == nil {
		val = []byte{}
	}
	return p.update(ctx, "put record", func(tx *pebbleTx) error {
		_, _, err := pebbleSwap(tx, kind, key, -1, val, 0)
		return err
	})
}

// GetRecord implements Records.
func (p *Pebble) GetRecord(ctx context.Context, kind, key string) (Record, bool, error) {
	if err := checkRecord(kind, key, nil); err != nil {
		return Record{}, false, &Error{Op: "get record", Err: err}
	}
	var r Record
	var found bool
	err := p.view(ctx, "get record", func(rd pebbleReader) error {
		v, ok, err := pget(rd, recKey(kind, key))
		if err != nil || !ok {
			return err
		}
		r, found = decodeRecord([]byte(key), v)
		return nil
	})
	return r, found, err
}

// DeleteRecord implements Records.
func (p *Pebble) DeleteRecord(ctx context.Context, kind, key string) (bool, error) {
	if err := checkRecord(kind, key, nil); err != nil {
		return false, &Error{Op: "delete record", Err: err}
	}
	var found bool
	err := p.update(ctx, "delete record", func(tx *pebbleTx) error {
		var err error
		_, found, err = pebbleSwap(tx, kind, key, -1, nil, 0)
		return err
	})
	return found, err
}

// SwapRecord implements Records: the check and the write run on the writer
// goroutine, in the batch of one group commit.
func (p *Pebble) SwapRecord(ctx context.Context, kind, key string, rev int64, val []byte, at int64) (bool, error) {
	if err := checkRecord(kind, key, val); err != nil {
		return false, &Error{Op: "swap record", Err: err}
	}
	if rev < 0 || at < 0 {
		return false, &Error{Op: "swap record", Err: invalid("negative rev %d or at %d", rev, at)}
	}
	var ok bool
	err := p.update(ctx, "swap record", func(tx *pebbleTx) error {
		var err error
		ok, _, err = pebbleSwap(tx, kind, key, rev, val, at)
		return err
	})
	return ok, err
}

// ListRecords implements Records.
func (p *Pebble) ListRecords(ctx context.Context, kind, prefix, after string, limit int) ([]Record, error) {
	if err := checkKind(kind); err != nil {
		return nil, &Error{Op: "list records", Err: err}
	}
	if limit <= 0 {
		limit = 1000
	}
	var out []Record
	err := p.view(ctx, "list records", func(r pebbleReader) error {
		out = nil
		base := recKey(kind, "")
		lo := recKey(kind, prefix)
		if after >= prefix {
			lo = append(recKey(kind, after), 0)
		}
		hi := upper(base)
		if end := prefixEnd(prefix); end != "" {
			hi = recKey(kind, end)
		}
		if bytes.Compare(lo, hi) >= 0 {
			return nil
		}
		it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			return err
		}
		for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
			if rec, ok := decodeRecord(it.Key()[len(base):], it.Value()); ok {
				out = append(out, rec)
			}
		}
		return it.Close()
	})
	return out, err
}

// DueRecords implements Records: a range of the due-time index.
func (p *Pebble) DueRecords(ctx context.Context, kind string, upto int64, limit int) ([]Record, error) {
	if err := checkKind(kind); err != nil {
		return nil, &Error{Op: "due records", Err: err}
	}
	if limit <= 0 {
		limit = 1000
	}
	var out []Record
	err := p.view(ctx, "due records", func(r pebbleReader) error {
		out = nil
		if upto <= 0 {
			return nil
		}
		base := recAtKey(kind, 0, "")[:len(kind)+2]
		hi := upper(base)
		if upto < 1<<63-1 {
			hi = recAtKey(kind, upto+1, "")
		}
		it, err := r.NewIter(&pebble.IterOptions{LowerBound: recAtKey(kind, 1, ""), UpperBound: hi})
		if err != nil {
			return err
		}
		var keys []string
		for ok := it.First(); ok && len(keys) < limit; ok = it.Next() {
			if k := it.Key(); len(k) > len(base)+8 {
				keys = append(keys, string(k[len(base)+8:]))
			}
		}
		if err := it.Close(); err != nil {
			return err
		}
		for _, key := range keys {
			v, ok, err := pget(r, recKey(kind, key))
			if err != nil {
				return err
			}
			if rec, ok2 := decodeRecord([]byte(key), v); ok && ok2 {
				out = append(out, rec)
			}
		}
		return nil
	})
	return out, err
}
