package store

import (
	"context"
	"errors"
	"fmt"
)

// Records is the small generic capability every engine implements and the
// typed stores (bans, reports, audit log, created rooms, notice outbox,
// hidden conversations, attachments) are built on: values under (kind, key),
// each with a revision for compare-and-swap and an optional due time that is
// indexed.
//
// Kinds are 1..32 characters of a-z, 0-9, '_', '-' and '.'; keys are 1..700
// bytes of printable UTF-8 (no control characters); values are at most
// MaxRecordLen bytes. Anything else is refused with an error wrapping
// ErrInvalid, and nothing is stored.
type Records interface {
	// PutRecord stores val under (kind, key) whatever was there, with At 0.
	PutRecord(ctx context.Context, kind, key string, val []byte) error
	// GetRecord returns the record; found is false when there is none.
	GetRecord(ctx context.Context, kind, key string) (r Record, found bool, err error)
	// DeleteRecord removes the record; found says whether it existed.
	DeleteRecord(ctx context.Context, kind, key string) (found bool, err error)
	// ListRecords returns up to limit records of kind whose key starts with
	// prefix and sorts after after (byte order), in key order. limit <= 0
	// means 1000.
	ListRecords(ctx context.Context, kind, prefix, after string, limit int) ([]Record, error)
	// SwapRecord is the atomic step of every read-modify-write: it applies
	// only when the record's revision is still rev (0: the record must not
	// exist). val nil deletes the record; otherwise val and at (a due time,
	// 0 for none, never negative) are stored and Rev increases. ok is false,
	// with no error, when the revision did not match: the caller reads again.
	SwapRecord(ctx context.Context, kind, key string, rev int64, val []byte, at int64) (ok bool, err error)
	// DueRecords returns up to limit records of kind with 0 < At <= upto,
	// in (At, key) order: an index range, not a scan of the kind.
	DueRecords(ctx context.Context, kind string, upto int64, limit int) ([]Record, error)
}

// Record is one value of Records.
type Record struct {
	Key string
	Val []byte
	// Rev increases with every write of the record (1 after its creation).
	Rev int64
	// At is the due time given to SwapRecord (0: none); DueRecords orders by it.
	At int64
}

// MaxRecordLen bounds a record's value in bytes.
const MaxRecordLen = 256 << 10

const (
	maxKindLen = 32
	maxKeyLen  = 700
)

// ErrInvalid is wrapped by errors about input a store refuses (too long,
// malformed); the same input always fails the same way, so retrying is
// pointless.
var ErrInvalid = errors.New("invalid")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// checkRecord says why (kind, key, val) cannot be stored, or nil.
func checkRecord(kind, key string, val []byte) error {
	if err := checkKind(kind); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if len(val) > MaxRecordLen {
		return invalid("record %s/%q: value of %d bytes is longer than %d", kind, key, len(val), MaxRecordLen)
	}
	return nil
}

func checkKind(kind string) error {
	if kind == "" || len(kind) > maxKindLen {
		return invalid("record kind %q: want 1..%d characters", kind, maxKindLen)
	}
	for _, c := range []byte(kind) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return invalid("record kind %q: want a-z, 0-9, _, - and .", kind)
		}
	}
	return nil
}

func checkKey(key string) error {
	if key == "" || len(key) > maxKeyLen {
		return invalid("record key of %d bytes: want 1..%d", len(key), maxKeyLen)
	}
	return checkPrintable("record key", key)
}

// checkPrintable refuses invalid UTF-8 and control characters.
func checkPrintable(what, s string) error {
	for i, r := range s {
		if r == 0xfffd && !validAt(s, i) {
			return invalid("%s %q: not valid UTF-8", what, s)
		}
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return invalid("%s %q: control character at byte %d", what, s, i)
		}
	}
	return nil
}

func validAt(s string, i int) bool {
	return len(s) >= i+3 && s[i:i+3] == "\uFFFD"
}

// prefixEnd is the smallest byte string above every string starting with
// p, or "" when there is none (p empty or all 0xff).
func prefixEnd(p string) string {
	b := []byte(p)
	for len(b) > 0 {
		if b[len(b)-1] < 0xff {
			b[len(b)-1]++
			return string(b)
		}
		b = b[:len(b)-1]
	}
	return ""
}
