package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Helpers the typed stores share: the read-modify-write loop over
// SwapRecord, sequences and counters.

// ErrConflict: a read-modify-write lost the race too many times in a row.
var ErrConflict = errors.New("store: too many concurrent writers, try again")

// ErrLimit is wrapped by refusals of a bound (reports per day, members of a
// room, upload quota).
var ErrLimit = errors.New("limit reached")

const maxSwapTries = 64

// modify applies fn to the record (nil when missing) until SwapRecord
// succeeds. fn returns the new value (nil: delete) and due time; returning
// errSkip leaves the record as it is.
func modify(ctx context.Context, r Records, kind, key string, fn func(cur *Record) (val []byte, at int64, err error)) error {
	for i := 0; i < maxSwapTries; i++ {
		cur, found, err := r.GetRecord(ctx, kind, key)
		if err != nil {
			return err
		}
		var cp *Record
		if found {
			cp = &cur
		}
		val, at, err := fn(cp)
		if errors.Is(err, errSkip) {
			return nil
		}
		if err != nil {
			return err
		}
		if !found && val == nil {
			return nil
		}
		ok, err := r.SwapRecord(ctx, kind, key, cur.Rev, val, at)
		if err != nil || ok {
			return err
		}
		if i > 4 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(i) * time.Millisecond):
			}
		}
	}
	return &Error{Op: "update " + kind, Err: ErrConflict}
}

var errSkip = errors.New("skip")

// nextSeq returns the next value (1, 2, ...) of the named sequence.
func nextSeq(ctx context.Context, r Records, name string) (int64, error) {
	var n int64
	err := modify(ctx, r, "seq", name, func(cur *Record) ([]byte, int64, error) {
		n = 1
		if cur != nil {
			v, err := strconv.ParseInt(string(cur.Val), 10, 64)
			if err != nil {
				return nil, 0, fmt.Errorf("sequence %s: %w", name, err)
			}
			n = v + 1
		}
		return []byte(strconv.FormatInt(n, 10)), 0, nil
	})
	return n, err
}

// addCounter adds n to the counter (kind, key) unless the result would be
// above max (max <= 0: no bound); expires is its due time (for PurgeDue).
// It returns the new total and whether the add happened.
func addCounter(ctx context.Context, r Records, kind, key string, n, max int64, expires time.Time) (int64, bool, error) {
	var total int64
	var added bool
	err := modify(ctx, r, kind, key, func(cur *Record) ([]byte, int64, error) {
		total, added = 0, false
		if cur != nil {
			v, err := strconv.ParseInt(string(cur.Val), 10, 64)
			if err != nil {
				return nil, 0, fmt.Errorf("counter %s/%s: %w", kind, key, err)
			}
			total = v
		}
		if max > 0 && total+n > max {
			return nil, 0, errSkip
		}
		total += n
		added = true
		return []byte(strconv.FormatInt(total, 10)), unixMilli(expires), nil
	})
	return total, added, err
}

// PurgeDue deletes up to limit records of kind whose due time is at or
// before now and says how many; the typed stores give expiring records
// (timed bans, daily counters) their expiry as due time.
func PurgeDue(ctx context.Context, r Records, kind string, now time.Time, limit int) (int, error) {
	recs, err := r.DueRecords(ctx, kind, unixMilli(now), limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, rec := range recs {
		ok, err := r.SwapRecord(ctx, kind, rec.Key, rec.Rev, nil, 0)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// unixMilli is t as a due time: milliseconds, 0 for the zero time.
func unixMilli(t time.Time) int64 {
	if t.IsZero() || t.UnixMilli() <= 0 {
		return 0
	}
	return t.UnixMilli()
}

// seqKey is id as a key whose byte order is numeric order; revSeqKey's
// order is the reverse (newest first).
func seqKey(id int64) string    { return fmt.Sprintf("%020d", id) }
func revSeqKey(id int64) string { return fmt.Sprintf("%020d", math.MaxInt64-id) }

func getJSON(ctx context.Context, r Records, kind, key string, v any) (*Record, error) {
	rec, found, err := r.GetRecord(ctx, kind, key)
	if err != nil || !found {
		return nil, err
	}
	if err := json.Unmarshal(rec.Val, v); err != nil {
		return nil, &Error{Op: "read " + kind, Err: err}
	}
	return &rec, nil
}

// listAll pages through every record of kind with prefix.
func listAll(ctx context.Context, r Records, kind, prefix string, fn func(Record) error, after ...string) error {
	start := ""
	if len(after) > 0 {
		start = after[0]
	}
	for {
		recs, err := r.ListRecords(ctx, kind, prefix, start, 500)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if err := fn(rec); err != nil {
				return err
			}
		}
		if len(recs) < 500 {
			return nil
		}
		start = recs[len(recs)-1].Key
	}
}

// checkText bounds a free-text field in bytes.
func checkText(what, s string, max int) error {
	if len(s) > max {
		return invalid("%s of %d bytes is longer than %d", what, len(s), max)
	}
	return nil
}

// checkUserID bounds a user id or room name as the messages table does and
// refuses the separators and control characters keys are built with.
func checkUserID(what, id string) error {
	if id == "" {
		return invalid("empty %s", what)
	}
	if len([]rune(id)) > maxIDLen {
		return invalid("%s longer than %d characters", what, maxIDLen)
	}
	for _, c := range id {
		if c == ',' {
			return invalid("%s %q contains a comma", what, id)
		}
	}
	return checkPrintable(what, id)
}
