package store

// The MySQL store's writer: each SaveMessages call (chat's committer makes
// one per batch of sends) is written in one transaction with multi-row
// statements, one call at a time; imports write pages of messages keeping
// their ids.

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"
)

// msgOp is one message of a SaveMessages call.
type msgOp struct {
	m       Message // in: the message; out: the stored or original one
	created bool
	dupOf   int // within a batch: index of the op with the same key, or -1
	err     error
}

// SaveMessage implements Store.
func (s *MySQL) SaveMessage(ctx context.Context, m *Message) (bool, error) {
	created, err := s.SaveMessages(ctx, []*Message{m})
	if err != nil {
		return false, err
	}
	return created[0], nil
}

// SaveMessages implements BatchSaver: msgs are written in one transaction,
// ids in slice order.
func (s *MySQL) SaveMessages(ctx context.Context, msgs []*Message) ([]bool, error) {
	if s.closed.Load() {
		return nil, &Error{Op: "save message", Err: ErrClosed}
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	group := make([]*msgOp, len(msgs))
	for i, m := range msgs {
		if err := checkMessage(m); err != nil {
			return nil, &Error{Op: "save message", Err: err}
		}
		op := &msgOp{m: *m, dupOf: -1}
		if op.m.TS.IsZero() {
			op.m.TS = time.Now()
		}
		op.m.TS = sqlTime(op.m.TS)
		group[i] = op
	}
	if len(group) == 0 {
		return nil, nil
	}
	s.wmu.Lock()
	if s.closed.Load() {
		s.wmu.Unlock()
		return nil, &Error{Op: "save message", Err: ErrClosed}
	}
	if err := ctx.Err(); err != nil {
		// The caller gave up while waiting: do not write what nobody
		// acknowledges.
		s.wmu.Unlock()
		return nil, s.fail(ctx, "save message", err)
	}
	s.commit(group)
	s.wmu.Unlock()
	created := make([]bool, len(group))
	for i, op := range group {
		if op.err != nil {
			return nil, s.fail(ctx, "save message", op.err)
		}
		created[i] = op.created
	}
	for i, op := range group {
		*msgs[i] = op.m
	}
	return created, nil
}

// commit writes a batch in one transaction, retrying deadlocks, and
// completes every op.
func (s *MySQL) commit(ops []*msgOp) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	defer cancel()
	in := make([]Message, len(ops))
	for i, op := range ops {
		in[i] = op.m
	}
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		for i, op := range ops {
			op.m, op.created, op.dupOf = in[i], false, -1
		}
		if err = s.writeBatch(ctx, ops); err == nil || !retryable(err) || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(attempt+1) * time.Millisecond)
	}
	for _, op := range ops {
		op.err = err
	}
}

type dedupKey struct{ from, cid string }

func (s *MySQL) writeBatch(ctx context.Context, ops []*msgOp) error {
	now := sqlTime(s.now())
	// Duplicates inside the batch point at the first op with their key.
	first := map[dedupKey]int{}
	var keys []dedupKey
	for i, op := range ops {
		if op.m.ClientID == "" || op.m.From == "" {
			continue
		}
		k := dedupKey{op.m.From, op.m.ClientID}
		if j, ok := first[k]; ok {
			op.dupOf = j
			continue
		}
		first[k] = i
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].from != keys[j].from {
			return keys[i].from < keys[j].from
		}
		return keys[i].cid < keys[j].cid
	})

	// READ COMMITTED: no gap locks, so concurrent batches (and processes)
	// lock only the rows they write and rarely deadlock.
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return err
	}
	defer tx.Rollback()

	// Read (and lock) the keys already stored. A key stored by another
	// transaction meanwhile makes the INSERT below fail with a duplicate
	// key; the batch is then retried and finds it here.
	existing := map[dedupKey]int64{}
	stored := map[dedupKey]bool{}
	if len(keys) > 0 {
		where, args := keysWhere(keys)
		rows, err := tx.QueryContext(ctx, "SELECT `from_id`, `client_id`, `msg_id`, `created_at` FROM "+s.t.dedup+" WHERE "+where+" FOR UPDATE", args...)
		if err != nil {
			return err
		}
		cutoff := now.Add(-DedupWindow)
		for rows.Next() {
			var k dedupKey
			var id int64
			var at time.Time
			if err := rows.Scan(&k.from, &k.cid, &id, &at); err != nil {
				rows.Close()
				return err
			}
			stored[k] = true
			if !at.Before(cutoff) {
				existing[k] = id
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	// Originals of duplicates (a pruned original makes the send new again).
	originals := map[int64]Message{}
	if len(existing) > 0 {
		idArgs := make([]any, 0, len(existing))
		for _, id := range existing {
			idArgs = append(idArgs, id)
		}
		rows, err := tx.QueryContext(ctx, "SELECT "+msgCols+" FROM "+s.t.messages+" WHERE `id` IN ("+placeholders(len(idArgs))+")", idArgs...)
		if err != nil {
			return err
		}
		for rows.Next() {
			m, err := scanMessage(rows)
			if err != nil {
				rows.Close()
				return err
			}
			originals[m.ID] = m
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}

	var fresh []*msgOp
	for _, op := range ops {
		if op.dupOf >= 0 {
			continue
		}
		if op.m.ClientID != "" && op.m.From != "" {
			if id, ok := existing[dedupKey{op.m.From, op.m.ClientID}]; ok {
				if orig, ok := originals[id]; ok {
					op.m = orig
					continue
				}
			}
		}
		fresh = append(fresh, op)
	}
	if err := s.insertMessages(ctx, tx, fresh); err != nil {
		return err
	}
	var claimed []*msgOp
	for _, op := range fresh {
		op.created = true
		if op.m.ClientID != "" && op.m.From != "" {
			claimed = append(claimed, op)
		}
	}
	// New keys by plain INSERT (a concurrent claim fails it: retry); keys
	// whose entry expired or lost its message are locked above: replace.
	var insert, replace []*msgOp
	for _, op := range claimed {
		if stored[dedupKey{op.m.From, op.m.ClientID}] {
			replace = append(replace, op)
		} else {
			insert = append(insert, op)
		}
	}
	byKey := func(ops []*msgOp) {
		sort.Slice(ops, func(i, j int) bool {
			if ops[i].m.From != ops[j].m.From {
				return ops[i].m.From < ops[j].m.From
			}
			return ops[i].m.ClientID < ops[j].m.ClientID
		})
	}
	byKey(insert)
	byKey(replace)
	for _, part := range []struct {
		ops    []*msgOp
		suffix string
	}{
		{insert, ""},
		{replace, " ON DUPLICATE KEY UPDATE `msg_id` = VALUES(`msg_id`), `created_at` = VALUES(`created_at`)"},
	} {
		if len(part.ops) == 0 {
			continue
		}
		vals := make([]string, len(part.ops))
		args := make([]any, 0, 4*len(part.ops))
		for i, op := range part.ops {
			vals[i] = "(?, ?, ?, ?)"
			args = append(args, op.m.From, op.m.ClientID, op.m.ID, now)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+s.t.dedup+" (`from_id`, `client_id`, `msg_id`, `created_at`) VALUES "+
			strings.Join(vals, ", ")+part.suffix, args...); err != nil {
			return err
		}
	}
	msgs := make([]Message, len(fresh))
	for i, op := range fresh {
		msgs[i] = op.m
	}
	if err := s.upsertUserConvs(ctx, tx, msgs); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, op := range ops {
		if op.dupOf >= 0 {
			op.m = ops[op.dupOf].m
		}
	}
	return nil
}

// insertMessages inserts ops' messages and sets their ids.
func (s *MySQL) insertMessages(ctx context.Context, tx *sql.Tx, ops []*msgOp) error {
	const cols = " (`conv`, `from_id`, `to_id`, `room`, `text`, `ts`, `client_id`, `is_system`, `data`, `deleted`) VALUES "
	const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	rowArgs := func(m *Message, args []any) []any {
		var data any
		if len(m.Data) > 0 {
			data = []byte(m.Data)
		}
		return append(args, string(m.Conv()), m.From, m.To, m.Room, m.Text, m.TS, m.ClientID, m.System, data, m.Deleted)
	}
	if !s.multiRow {
		for _, op := range ops {
			res, err := tx.ExecContext(ctx, "INSERT INTO "+s.t.messages+cols+row, rowArgs(&op.m, nil)...)
			if err != nil {
				return err
			}
			if op.m.ID, err = res.LastInsertId(); err != nil {
				return err
			}
		}
		return nil
	}
	for len(ops) > 0 {
		n := chunkLen(len(ops), func(i int) int { return msgSize(&ops[i].m) })
		chunk := ops[:n]
		ops = ops[n:]
		args := make([]any, 0, 10*n)
		for _, op := range chunk {
			args = rowArgs(&op.m, args)
		}
		res, err := tx.ExecContext(ctx, "INSERT INTO "+s.t.messages+cols+strings.TrimSuffix(strings.Repeat(row+", ", n), ", "), args...)
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if got, err := res.RowsAffected(); err != nil || got != int64(n) {
			return fmt.Errorf("insert of %d messages affected %d rows (%v)", n, got, err)
		}
		for i, op := range chunk {
			op.m.ID = id + int64(i)*s.step
		}
	}
	return nil
}

// upsertUserConvs moves each user's conversation line to the newest of msgs.
func (s *MySQL) upsertUserConvs(ctx context.Context, tx *sql.Tx, msgs []Message) error {
	type uc struct{ user, conv string }
	last := map[uc]int64{}
	for _, m := range msgs {
		if m.Room != "" {
			continue
		}
		for _, u := range []string{m.From, m.To} {
			if u == "" {
				continue
			}
			k := uc{u, string(m.Conv())}
			last[k] = max(last[k], m.ID)
		}
	}
	if len(last) == 0 {
		return nil
	}
	ks := make([]uc, 0, len(last))
	for k := range last {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if ks[i].user != ks[j].user {
			return ks[i].user < ks[j].user
		}
		return ks[i].conv < ks[j].conv
	})
	for len(ks) > 0 {
		n := min(len(ks), 500)
		vals := make([]string, n)
		args := make([]any, 0, 3*n)
		for i, k := range ks[:n] {
			vals[i] = "(?, ?, ?)"
			args = append(args, k.user, k.conv, last[k])
		}
		ks = ks[n:]
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+s.t.userConvs+" (`user_id`, `conv`, `last_id`) VALUES "+strings.Join(vals, ", ")+
			" ON DUPLICATE KEY UPDATE `last_id` = GREATEST(`last_id`, VALUES(`last_id`))", args...); err != nil {
			return err
		}
	}
	return nil
}

// Multi-row statements stay well below MySQL's max_allowed_packet (16 MiB
// by default on MariaDB, 4 MiB on old MySQL) and a sane row count.
const (
	maxStmtRows  = 500
	maxStmtBytes = 2 << 20
)

// chunkLen is how many of the next n rows go in one statement: at least
// one, at most maxStmtRows, and no more than maxStmtBytes unless one row
// alone is bigger.
func chunkLen(n int, size func(i int) int) int {
	total := 0
	for i := 0; i < n && i < maxStmtRows; i++ {
		total += size(i)
		if total > maxStmtBytes && i > 0 {
			return i
		}
	}
	return min(n, maxStmtRows)
}

func msgSize(m *Message) int {
	return 2*len(m.Text) + 2*len(m.Data) + len(m.ClientID) + 3*maxIDLen + 64
}

func keysWhere(keys []dedupKey) (string, []any) {
	parts := make([]string, len(keys))
	args := make([]any, 0, 2*len(keys))
	for i, k := range keys {
		parts[i] = "(`from_id` = ? AND `client_id` = ?)"
		args = append(args, k.from, k.cid)
	}
	return strings.Join(parts, " OR "), args
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// ImportMessages implements Importer.
func (s *MySQL) ImportMessages(ctx context.Context, msgs []Message) (int, error) {
	if s.closed.Load() {
		return 0, &Error{Op: "import", Err: ErrClosed}
	}
	for i := range msgs {
		if err := checkImport(&msgs[i]); err != nil {
			return 0, &Error{Op: "import", Err: err}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout+time.Duration(len(msgs))*time.Millisecond)
	defer cancel()
	total := 0
	for len(msgs) > 0 {
		n := chunkLen(len(msgs), func(i int) int { return msgSize(&msgs[i]) })
		got, err := s.importChunk(ctx, msgs[:n])
		total += got
		if err != nil {
			return total, s.fail(ctx, "import", err)
		}
		msgs = msgs[n:]
	}
	return total, nil
}

func (s *MySQL) importChunk(ctx context.Context, msgs []Message) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	idArgs := make([]any, len(msgs))
	for i, m := range msgs {
		idArgs[i] = m.ID
	}
	have := map[int64]bool{}
	rows, err := tx.QueryContext(ctx, "SELECT `id` FROM "+s.t.messages+" WHERE `id` IN ("+placeholders(len(idArgs))+") FOR UPDATE", idArgs...)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		have[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	var fresh []Message
	for _, m := range msgs {
		if !have[m.ID] {
			have[m.ID] = true
			m.TS = sqlTime(m.TS)
			fresh = append(fresh, m)
		}
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	vals := make([]string, len(fresh))
	args := make([]any, 0, 10*len(fresh))
	for i, m := range fresh {
		vals[i] = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		var data any
		if len(m.Data) > 0 {
			data = []byte(m.Data)
		}
		args = append(args, m.ID, string(m.Conv()), m.From, m.To, m.Room, m.Text, m.TS, m.ClientID, m.System, data, m.Deleted)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+s.t.messages+" (`id`, `conv`, `from_id`, `to_id`, `room`, `text`, `ts`, `client_id`, `is_system`, `data`, `deleted`) VALUES "+
		strings.Join(vals, ", "), args...); err != nil {
		return 0, err
	}
	if err := s.upsertUserConvs(ctx, tx, fresh); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return len(fresh), nil
}
