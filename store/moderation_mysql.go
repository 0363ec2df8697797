package store

import (
	"context"
	"database/sql"
	"sort"
)

// The MySQL store's MessageAdmin. A user's own messages are found through
// the from_id index (migration 2), the messages they received through
// their conversation lines (user_convs) and conv_id.

var _ MessageAdmin = (*MySQL)(nil)

// DeleteMessage implements MessageAdmin.
func (s *MySQL) DeleteMessage(ctx context.Context, id int64) (Message, bool, error) {
	if err := s.exec(ctx, "delete message", "UPDATE "+s.t.messages+" SET `text` = '', `data` = NULL, `deleted` = 1 WHERE `id` = ?", id); err != nil {
		return Message{}, false, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	msgs, err := s.queryMessages(ctx, "SELECT "+msgCols+" FROM "+s.t.messages+" WHERE `id` = ?", id)
	if err != nil || len(msgs) == 0 {
		return Message{}, false, s.fail(ctx, "delete message", err)
	}
	return msgs[0], true, nil
}

// ClearConversation implements MessageAdmin in statements of clearChunk
// rows (the conv_id index range), so no transaction grows without bound.
func (s *MySQL) ClearConversation(ctx context.Context, conv Conv) (int, error) {
	total := 0
	for {
		n, err := s.execResult(ctx, "clear conversation", "DELETE FROM "+s.t.messages+" WHERE `conv` = ? ORDER BY `id` LIMIT ?", string(conv), clearChunk)
		total += int(n)
		if err != nil {
			return total, err
		}
		if n < clearChunk {
			break
		}
	}
	if a, b, ok := directUsers(conv); ok {
		if err := s.exec(ctx, "clear conversation", "DELETE FROM "+s.t.userConvs+" WHERE `user_id` IN (?, ?) AND `conv` = ?", a, b, string(conv)); err != nil {
			return total, err
		}
	}
	return total, nil
}

// directConvs returns user's direct conversations.
func (s *MySQL) directConvs(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, user string) ([]Conv, error) {
	rows, err := q.QueryContext(ctx, "SELECT `conv` FROM "+s.t.userConvs+" WHERE `user_id` = ?", user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Conv
	for rows.Next() {
		var c Conv
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// UserMessages implements MessageAdmin.
func (s *MySQL) UserMessages(ctx context.Context, user string, after int64, limit int) ([]Message, error) {
	if s.closed.Load() {
		return nil, &Error{Op: "user messages", Err: ErrClosed}
	}
	if limit <= 0 {
		limit = 1000
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	convs, err := s.directConvs(ctx, s.db, user)
	if err != nil {
		return nil, s.fail(ctx, "user messages", err)
	}
	q := "(SELECT " + msgCols + " FROM " + s.t.messages + " WHERE `from_id` = ? AND `id` > ? ORDER BY `id` LIMIT ?)"
	args := []any{user, after, limit}
	if len(convs) > 0 {
		q += " UNION ALL (SELECT " + msgCols + " FROM " + s.t.messages + " WHERE `conv` IN (" + placeholders(len(convs)) + ") AND `id` > ? AND `to_id` = ? AND `from_id` <> ? ORDER BY `id` LIMIT ?)"
		for _, c := range convs {
			args = append(args, string(c))
		}
		args = append(args, after, user, user, limit)
	}
	msgs, err := s.queryMessages(ctx, q+" ORDER BY `id` LIMIT ?", append(args, limit)...)
	return msgs, s.fail(ctx, "user messages", err)
}

// UserState implements MessageAdmin.
func (s *MySQL) UserState(ctx context.Context, user string) (UserState, error) {
	if s.closed.Load() {
		return UserState{}, &Error{Op: "user state", Err: ErrClosed}
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	st, err := s.userState(ctx, user)
	return st, s.fail(ctx, "user state", err)
}

func (s *MySQL) userState(ctx context.Context, user string) (UserState, error) {
	var st UserState
	each := func(q string, args []any, scan func(*sql.Rows) error) error {
		rows, err := s.db.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	err := each("SELECT `conv`, `upto` FROM "+s.t.reads+" WHERE `user_id` = ? ORDER BY `conv`", []any{user}, func(r *sql.Rows) error {
		var m ReadMark
		err := r.Scan(&m.Conv, &m.Upto)
		st.ReadMarks = append(st.ReadMarks, m)
		return err
	})
	if err == nil {
		err = each("SELECT `other_id` FROM "+s.t.blocks+" WHERE `user_id` = ? ORDER BY `other_id`", []any{user}, func(r *sql.Rows) error {
			var o string
			err := r.Scan(&o)
			st.Blocks = append(st.Blocks, o)
			return err
		})
	}
	if err == nil {
		err = each("SELECT `user_id` FROM "+s.t.blocks+" WHERE `other_id` = ? ORDER BY `user_id`", []any{user}, func(r *sql.Rows) error {
			var o string
			err := r.Scan(&o)
			st.BlockedBy = append(st.BlockedBy, o)
			return err
		})
	}
	if err == nil {
		err = each("SELECT `to_id`, `from_id`, `text`, `ts` FROM "+s.t.requests+" WHERE `to_id` = ? OR `from_id` = ? ORDER BY `ts`", []any{user, user}, func(r *sql.Rows) error {
			var q Request
			if err := r.Scan(&q.To, &q.From, &q.Text, &q.TS); err != nil {
				return err
			}
			q.TS = q.TS.UTC()
			if q.To == user {
				st.RequestsTo = append(st.RequestsTo, q)
			}
			if q.From == user {
				st.RequestsFrom = append(st.RequestsFrom, q)
			}
			return nil
		})
	}
	if err == nil {
		err = each("SELECT `room`, `user_id`, `mins`, `expires_at`, `by_id` FROM "+s.t.mutes+" WHERE `user_id` = ? ORDER BY `room`", []any{user}, func(r *sql.Rows) error {
			var m Mute
			err := r.Scan(&m.Room, &m.UserID, &m.Mins, &m.ExpiresAt, &m.By)
			m.ExpiresAt = m.ExpiresAt.UTC()
			st.Mutes = append(st.Mutes, m)
			return err
		})
	}
	return st, err
}

// EraseUserMessages implements MessageAdmin in one transaction.
func (s *MySQL) EraseUserMessages(ctx context.Context, user, pseudo string, policy ErasePolicy) (EraseCounts, error) {
	if err := checkErase(user, pseudo, policy); err != nil {
		return EraseCounts{}, &Error{Op: "erase user", Err: err}
	}
	if s.closed.Load() {
		return EraseCounts{}, &Error{Op: "erase user", Err: ErrClosed}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*s.opts.Timeout)
	defer cancel()
	var n EraseCounts
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		if n, err = s.erase(ctx, user, pseudo, policy); err == nil || !retryable(err) {
			break
		}
	}
	return n, s.fail(ctx, "erase user", err)
}

func (s *MySQL) erase(ctx context.Context, user, pseudo string, policy ErasePolicy) (EraseCounts, error) {
	var n EraseCounts
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return n, err
	}
	defer tx.Rollback()
	exec := func(q string, args ...any) (int, error) {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return 0, err
		}
		c, err := res.RowsAffected()
		return int(c), err
	}
	blank := ""
	if policy == EraseDelete {
		blank = ", `text` = '', `data` = NULL, `deleted` = 1"
	}
	convs, err := s.directConvs(ctx, tx, user)
	if err != nil {
		return n, err
	}
	sort.Slice(convs, func(i, j int) bool { return convs[i] < convs[j] })
	// Direct conversations move to the pseudonym's key, with the peer's line
	// and read mark.
	for _, old := range convs {
		peer := old.Peer(user)
		nc := DirectConv(peer, pseudo)
		if peer == user {
			nc = DirectConv(pseudo, pseudo)
		}
		c, err := exec("UPDATE "+s.t.messages+" SET `conv` = ?, `client_id` = '',"+
			" `from_id` = IF(`from_id` = ?, ?, `from_id`), `to_id` = IF(`to_id` = ?, ?, `to_id`)"+blank+
			" WHERE `conv` = ?", string(nc), user, pseudo, user, pseudo, string(old))
		if err != nil {
			return n, err
		}
		n.Messages += c
		if peer != user {
			for _, t := range []string{s.t.userConvs, s.t.reads} {
				if _, err := exec("UPDATE "+t+" SET `conv` = ? WHERE `user_id` = ? AND `conv` = ?", string(nc), peer, string(old)); err != nil {
					return n, err
				}
			}
		}
	}
	// What is left: their room messages (and direct ones whose line was pruned).
	c, err := exec("UPDATE "+s.t.messages+" SET `from_id` = ?, `client_id` = ''"+blank+" WHERE `from_id` = ? AND `room` <> ''", pseudo, user)
	if err != nil {
		return n, err
	}
	n.Messages += c
	if _, err := exec("DELETE FROM "+s.t.userConvs+" WHERE `user_id` = ?", user); err != nil {
		return n, err
	}
	if n.ReadMarks, err = exec("DELETE FROM "+s.t.reads+" WHERE `user_id` = ?", user); err != nil {
		return n, err
	}
	if n.Blocks, err = exec("DELETE FROM "+s.t.blocks+" WHERE `user_id` = ? OR `other_id` = ?", user, user); err != nil {
		return n, err
	}
	if n.Requests, err = exec("DELETE FROM "+s.t.requests+" WHERE `to_id` = ? OR `from_id` = ?", user, user); err != nil {
		return n, err
	}
	if n.Mutes, err = exec("DELETE FROM "+s.t.mutes+" WHERE `user_id` = ?", user); err != nil {
		return n, err
	}
	if _, err := exec("DELETE FROM "+s.t.dedup+" WHERE `from_id` = ?", user); err != nil {
		return n, err
	}
	return n, tx.Commit()
}
