package store

import (
	"bytes"
	"context"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// The embedded store's Records: a bucket per kind ("rec/"+kind: key ->
// rev(8) at(8) value) and, beside it, the due-time index ("recat/"+kind:
// at(8) key -> empty). Buckets are made by the first write of a kind.

var _ Records = (*Bolt)(nil)

func recBuckets(tx *bolt.Tx, kind string, create bool) (recs, at *bolt.Bucket, err error) {
	rn, an := []byte("rec/"+kind), []byte("recat/"+kind)
	if !create {
		return tx.Bucket(rn), tx.Bucket(an), nil
	}
	if recs, err = tx.CreateBucketIfNotExists(rn); err != nil {
		return nil, nil, err
	}
	at, err = tx.CreateBucketIfNotExists(an)
	return recs, at, err
}

func decodeRecord(k, v []byte) (Record, bool) {
	if len(v) < 16 {
		return Record{}, false
	}
	return Record{
		Key: string(k),
		Rev: int64(binary.BigEndian.Uint64(v)),
		At:  int64(binary.BigEndian.Uint64(v[8:])),
		Val: append([]byte{}, v[16:]...),
	}, true
}

func atKey(at int64, key string) []byte {
	return append(u64(uint64(at)), key...)
}

// swapInTx is SwapRecord inside a write transaction; rev < 0 means any
// revision (PutRecord).
func swapInTx(tx *bolt.Tx, kind, key string, rev int64, val []byte, at int64) (bool, error) {
	recs, ats, err := recBuckets(tx, kind, true)
	if err != nil {
		return false, err
	}
	k := []byte(key)
	old, found := decodeRecord(k, recs.Get(k))
	if rev >= 0 && (found && old.Rev != rev || !found && rev != 0) {
		return false, nil
	}
	if found && old.At > 0 {
		if err := ats.Delete(atKey(old.At, key)); err != nil {
			return false, err
		}
	}
	if val == nil {
		if !found {
			return true, nil // rev 0 (or any): nothing there, nothing left
		}
		return true, recs.Delete(k)
	}
	v := make([]byte, 16, 16+len(val))
	binary.BigEndian.PutUint64(v, uint64(old.Rev+1))
	binary.BigEndian.PutUint64(v[8:], uint64(at))
	if err := recs.Put(k, append(v, val...)); err != nil {
		return false, err
	}
	if at > 0 {
		if err := ats.Put(atKey(at, key), nil); err != nil {
			return false, err
		}
	}
	return true, nil
}

// PutRecord implements Records.
func (e *Bolt) PutRecord(ctx context.Context, kind, key string, val []byte) error {
	if err := checkRecord(kind, key, val); err != nil {
		return &Error{Op: "put record", Err: err}
	}
	if val == nil {
		val = []byte{}
	}
	return e.update(ctx, "put record", func(tx *bolt.Tx) error {
		_, err := swapInTx(tx, kind, key, -1, val, 0)
		return err
	})
}

// GetRecord implements Records.
func (e *Bolt) GetRecord(ctx context.Context, kind, key string) (Record, bool, error) {
	if err := checkRecord(kind, key, nil); err != nil {
		return Record{}, false, &Error{Op: "get record", Err: err}
	}
	var r Record
	var found bool
	err := e.view(ctx, "get record", func(tx *bolt.Tx) error {
		if recs, _, _ := recBuckets(tx, kind, false); recs != nil {
			r, found = decodeRecord([]byte(key), recs.Get([]byte(key)))
		}
		return nil
	})
	return r, found, err
}

// DeleteRecord implements Records.
func (e *Bolt) DeleteRecord(ctx context.Context, kind, key string) (bool, error) {
	if err := checkRecord(kind, key, nil); err != nil {
		return false, &Error{Op: "delete record", Err: err}
	}
	var found bool
	err := e.update(ctx, "delete record", func(tx *bolt.Tx) error {
		found = false
		recs, _, err := recBuckets(tx, kind, true)
		if err != nil {
			return err
		}
		found = recs.Get([]byte(key)) != nil
		_, err = swapInTx(tx, kind, key, -1, nil, 0)
		return err
	})
	return found, err
}

// SwapRecord implements Records: the check and the write happen in one
// write transaction, which bbolt runs one at a time.
func (e *Bolt) SwapRecord(ctx context.Context, kind, key string, rev int64, val []byte, at int64) (bool, error) {
	if err := checkRecord(kind, key, val); err != nil {
		return false, &Error{Op: "swap record", Err: err}
	}
	if rev < 0 || at < 0 {
		return false, &Error{Op: "swap record", Err: invalid("negative rev %d or at %d", rev, at)}
	}
	var ok bool
	err := e.update(ctx, "swap record", func(tx *bolt.Tx) error {
		var err error
		ok, err = swapInTx(tx, kind, key, rev, val, at)
		return err
	})
	return ok, err
}

// ListRecords implements Records.
func (e *Bolt) ListRecords(ctx context.Context, kind, prefix, after string, limit int) ([]Record, error) {
	if err := checkKind(kind); err != nil {
		return nil, &Error{Op: "list records", Err: err}
	}
	if limit <= 0 {
		limit = 1000
	}
	var out []Record
	err := e.view(ctx, "list records", func(tx *bolt.Tx) error {
		out = nil
		recs, _, _ := recBuckets(tx, kind, false)
		if recs == nil {
			return nil
		}
		c := recs.Cursor()
		start := []byte(prefix)
		if after >= prefix {
			start = append([]byte(after), 0)
		}
		for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, []byte(prefix)) && len(out) < limit; k, v = c.Next() {
			if r, ok := decodeRecord(k, v); ok {
				out = append(out, r)
			}
		}
		return nil
	})
	return out, err
}

// DueRecords implements Records.
func (e *Bolt) DueRecords(ctx context.Context, kind string, upto int64, limit int) ([]Record, error) {
	if err := checkKind(kind); err != nil {
		return nil, &Error{Op: "due records", Err: err}
	}
	if limit <= 0 {
		limit = 1000
	}
	var out []Record
	err := e.view(ctx, "due records", func(tx *bolt.Tx) error {
		out = nil
		recs, ats, _ := recBuckets(tx, kind, false)
		if recs == nil || ats == nil || upto <= 0 {
			return nil
		}
		c := ats.Cursor()
		for k, _ := c.Seek(u64(1)); k != nil && len(out) < limit; k, _ = c.Next() {
			if len(k) < 8 || int64(binary.BigEndian.Uint64(k)) > upto {
				break
			}
			key := k[8:]
			if r, ok := decodeRecord(key, recs.Get(key)); ok {
				out = append(out, r)
			}
		}
		return nil
	})
	return out, err
}
