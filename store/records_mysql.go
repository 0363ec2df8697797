package store

import (
	"context"
	"errors"

	"github.com/go-sql-driver/mysql"
)

// The MySQL store's Records: one table, {prefix}records (sql/mysql/0002).
// SwapRecord is one conditional statement (INSERT for rev 0, UPDATE or
// DELETE ... WHERE rev = ?), atomic across processes without a transaction.

var _ Records = (*MySQL)(nil)

const recCols = "`k`, `val`, `rev`, `at`"

func (s *MySQL) queryRecords(ctx context.Context, op, q string, args ...any) ([]Record, error) {
	if s.closed.Load() {
		return nil, &Error{Op: op, Err: ErrClosed}
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		var k []byte
		if err := rows.Scan(&k, &r.Val, &r.Rev, &r.At); err != nil {
			return nil, s.fail(ctx, op, err)
		}
		r.Key = string(k)
		if r.Val == nil {
			r.Val = []byte{}
		}
		out = append(out, r)
	}
	return out, s.fail(ctx, op, rows.Err())
}

// PutRecord implements Records.
func (s *MySQL) PutRecord(ctx context.Context, kind, key string, val []byte) error {
	if err := checkRecord(kind, key, val); err != nil {
		return &Error{Op: "put record", Err: err}
	}
	if val == nil {
		val = []byte{}
	}
	return s.exec(ctx, "put record", "INSERT INTO "+s.t.records+" (`kind`, `k`, `val`, `rev`, `at`) VALUES (?, ?, ?, 1, 0)"+
		" ON DUPLICATE KEY UPDATE `val` = VALUES(`val`), `rev` = `rev` + 1, `at` = 0", kind, key, val)
}

// GetRecord implements Records.
func (s *MySQL) GetRecord(ctx context.Context, kind, key string) (Record, bool, error) {
	if err := checkRecord(kind, key, nil); err != nil {
		return Record{}, false, &Error{Op: "get record", Err: err}
	}
	rs, err := s.queryRecords(ctx, "get record", "SELECT "+recCols+" FROM "+s.t.records+" WHERE `kind` = ? AND `k` = ?", kind, key)
	if err != nil || len(rs) == 0 {
		return Record{}, false, err
	}
	return rs[0], true, nil
}

// DeleteRecord implements Records.
func (s *MySQL) DeleteRecord(ctx context.Context, kind, key string) (bool, error) {
	if err := checkRecord(kind, key, nil); err != nil {
		return false, &Error{Op: "delete record", Err: err}
	}
	n, err := s.execResult(ctx, "delete record", "DELETE FROM "+s.t.records+" WHERE `kind` = ? AND `k` = ?", kind, key)
	return n > 0, err
}

// SwapRecord implements Records.
func (s *MySQL) SwapRecord(ctx context.Context, kind, key string, rev int64, val []byte, at int64) (bool, error) {
	const op = "swap record"
	if err := checkRecord(kind, key, val); err != nil {
		return false, &Error{Op: op, Err: err}
	}
	if rev < 0 || at < 0 {
		return false, &Error{Op: op, Err: invalid("negative rev %d or at %d", rev, at)}
	}
	var n int64
	var err error
	switch {
	case rev == 0 && val == nil:
		// Delete what does not exist: true only if it indeed does not.
		_, found, err := s.GetRecord(ctx, kind, key)
		return !found, err
	case rev == 0:
		n, err = s.execResult(ctx, op, "INSERT INTO "+s.t.records+" (`kind`, `k`, `val`, `rev`, `at`) VALUES (?, ?, ?, 1, ?)", kind, key, val, at)
		var me *mysql.MySQLError
		if errors.As(err, &me) && me.Number == 1062 {
			return false, nil
		}
	case val == nil:
		n, err = s.execResult(ctx, op, "DELETE FROM "+s.t.records+" WHERE `kind` = ? AND `k` = ? AND `rev` = ?", kind, key, rev)
	default:
		n, err = s.execResult(ctx, op, "UPDATE "+s.t.records+" SET `val` = ?, `at` = ?, `rev` = `rev` + 1 WHERE `kind` = ? AND `k` = ? AND `rev` = ?",
			val, at, kind, key, rev)
	}
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// ListRecords implements Records: one primary-key range.
func (s *MySQL) ListRecords(ctx context.Context, kind, prefix, after string, limit int) ([]Record, error) {
	if err := checkKind(kind); err != nil {
		return nil, &Error{Op: "list records", Err: err}
	}
	if limit <= 0 {
		limit = 1000
	}
	q := "SELECT " + recCols + " FROM " + s.t.records + " WHERE `kind` = ? AND `k` >= ?"
	args := []any{kind, []byte(prefix)}
	if after >= prefix {
		q = "SELECT " + recCols + " FROM " + s.t.records + " WHERE `kind` = ? AND `k` > ?"
		args = []any{kind, []byte(after)}
	}
	if end := prefixEnd(prefix); end != "" {
		q += " AND `k` < ?"
		args = append(args, []byte(end))
	}
	q += " ORDER BY `k` LIMIT ?"
	return s.queryRecords(ctx, "list records", q, append(args, limit)...)
}

// DueRecords implements Records: a range of the kind_at index.
func (s *MySQL) DueRecords(ctx context.Context, kind string, upto int64, limit int) ([]Record, error) {
	if err := checkKind(kind); err != nil {
		return nil, &Error{Op: "due records", Err: err}
	}
	if limit <= 0 {
		limit = 1000
	}
	if upto <= 0 {
		return nil, nil
	}
	return s.queryRecords(ctx, "due records", "SELECT "+recCols+" FROM "+s.t.records+
		" WHERE `kind` = ? AND `at` BETWEEN 1 AND ? ORDER BY `at`, `k` LIMIT ?", kind, upto, limit)
}
