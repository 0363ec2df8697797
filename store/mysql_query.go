package store

// The MySQL store's queries: history, conversation lists and unread counts,
// export, and the small single-statement writes (read marks, requests,
// mutes, blocks, pruning), each its own statement or transaction.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

const msgCols = "`id`, `from_id`, `to_id`, `room`, `text`, `ts`, `client_id`, `is_system`, `data`, `deleted`"

type scanner interface{ Scan(dest ...any) error }

func scanMessage(r scanner) (Message, error) {
	var m Message
	var data []byte
	if err := r.Scan(&m.ID, &m.From, &m.To, &m.Room, &m.Text, &m.TS, &m.ClientID, &m.System, &data, &m.Deleted); err != nil {
		return m, err
	}
	m.TS = m.TS.UTC()
	if len(data) > 0 {
		m.Data = data
	}
	return m, nil
}

func (s *MySQL) queryMessages(ctx context.Context, q string, args ...any) ([]Message, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// History implements Store.
func (s *MySQL) History(ctx context.Context, conv Conv, before int64, limit int) ([]Message, bool, error) {
	if s.closed.Load() {
		return nil, false, &Error{Op: "history", Err: ErrClosed}
	}
	if limit <= 0 {
		limit = 50
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	msgs, err := s.queryMessages(ctx, "SELECT "+msgCols+" FROM "+s.t.messages+
		" WHERE `conv` = ? AND `id` < ? ORDER BY `id` DESC LIMIT ?", string(conv), before, limit+1)
	if err != nil {
		return nil, false, s.fail(ctx, "history", err)
	}
	more := len(msgs) > limit
	if more {
		msgs = msgs[:limit]
	}
	for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
	return msgs, more, nil
}

// unreadQuery counts one conversation's unread messages: an index range
// scan of conv_id (conv = ?, id > mark) stopped after UnreadCap rows.
func (s *MySQL) unreadQuery(i int) string {
	return fmt.Sprintf("SELECT %d, COUNT(*) FROM (SELECT 1 FROM %s WHERE `conv` = ? AND `id` > ? AND `from_id` <> ? LIMIT %d) u%d",
		i, s.t.messages, UnreadCap, i)
}

// Conversations implements Store. Direct conversations come first, newest
// first (limit <= 0: all), then one line per room in the order given.
func (s *MySQL) Conversations(ctx context.Context, user string, rooms []string, limit int) ([]Conversation, error) {
	if s.closed.Load() {
		return nil, &Error{Op: "conversations", Err: ErrClosed}
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	out, err := s.conversations(ctx, user, rooms, limit)
	if err != nil {
		return nil, s.fail(ctx, "conversations", err)
	}
	return out, nil
}

func (s *MySQL) conversations(ctx context.Context, user string, rooms []string, limit int) ([]Conversation, error) {
	q := "SELECT `conv`, `last_id` FROM " + s.t.userConvs + " WHERE `user_id` = ? ORDER BY `last_id` DESC"
	args := []any{user}
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	type line struct {
		conv Conv
		last int64
	}
	var lines []line
	for rows.Next() {
		var l line
		if err := rows.Scan(&l.conv, &l.last); err != nil {
			rows.Close()
			return nil, err
		}
		lines = append(lines, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	convs := make([]Conv, 0, len(lines)+len(rooms))
	for _, l := range lines {
		convs = append(convs, l.conv)
	}
	for _, r := range rooms {
		convs = append(convs, RoomConv(r))
	}
	if len(convs) == 0 {
		return nil, nil
	}
	// Read marks of every line in one query.
	marks := map[Conv]int64{}
	margs := []any{user}
	for _, c := range convs {
		margs = append(margs, string(c))
	}
	rows, err = s.db.QueryContext(ctx, "SELECT `conv`, `upto` FROM "+s.t.reads+" WHERE `user_id` = ? AND `conv` IN ("+placeholders(len(convs))+")", margs...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var c Conv
		var upto int64
		if err := rows.Scan(&c, &upto); err != nil {
			rows.Close()
			return nil, err
		}
		marks[c] = upto
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Last messages: direct ones by id, rooms by their newest.
	var parts []string
	var largs []any
	if len(lines) > 0 {
		parts = append(parts, "(SELECT "+msgCols+" FROM "+s.t.messages+" WHERE `id` IN ("+placeholders(len(lines))+"))")
		for _, l := range lines {
			largs = append(largs, l.last)
		}
	}
	for _, r := range rooms {
		parts = append(parts, "(SELECT "+msgCols+" FROM "+s.t.messages+" WHERE `conv` = ? ORDER BY `id` DESC LIMIT 1)")
		largs = append(largs, string(RoomConv(r)))
	}
	lastMsgs, err := s.queryMessages(ctx, strings.Join(parts, " UNION ALL "), largs...)
	if err != nil {
		return nil, err
	}
	byID := map[int64]*Message{}
	byConv := map[Conv]*Message{}
	for i := range lastMsgs {
		m := &lastMsgs[i]
		byID[m.ID] = m
		if c := m.Conv(); byConv[c] == nil || byConv[c].ID < m.ID {
			byConv[c] = m
		}
	}
	// Unread counts: direct lines from mark (or 0), rooms only with a mark.
	var uparts []string
	var uargs []any
	var uconv []Conv
	for _, c := range convs {
		mark, ok := marks[c]
		if c.Room() != "" && !ok {
			continue
		}
		uparts = append(uparts, s.unreadQuery(len(uconv)))
		uargs = append(uargs, string(c), mark, user)
		uconv = append(uconv, c)
	}
	unread := map[Conv]int{}
	if len(uparts) > 0 {
		rows, err = s.db.QueryContext(ctx, strings.Join(uparts, " UNION ALL "), uargs...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var i, n int
			if err := rows.Scan(&i, &n); err != nil {
				rows.Close()
				return nil, err
			}
			if i >= 0 && i < len(uconv) {
				unread[uconv[i]] = n
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := make([]Conversation, 0, len(convs))
	for _, l := range lines {
		out = append(out, Conversation{With: l.conv.Peer(user), Unread: unread[l.conv], Last: byID[l.last]})
	}
	for _, r := range rooms {
		c := RoomConv(r)
		out = append(out, Conversation{Room: r, Unread: unread[c], Last: byConv[c]})
	}
	return out, nil
}

// MarkRead implements Store.
func (s *MySQL) MarkRead(ctx context.Context, user string, conv Conv, upto int64) error {
	return s.exec(ctx, "mark read", "INSERT INTO "+s.t.reads+" (`user_id`, `conv`, `upto`) VALUES (?, ?, ?)"+
		" ON DUPLICATE KEY UPDATE `upto` = GREATEST(`upto`, VALUES(`upto`))", user, string(conv), upto)
}

// SaveRequest implements Store.
func (s *MySQL) SaveRequest(ctx context.Context, r Request) error {
	if r.TS.IsZero() {
		r.TS = time.Now()
	}
	return s.exec(ctx, "save request", "INSERT INTO "+s.t.requests+" (`to_id`, `from_id`, `text`, `ts`) VALUES (?, ?, ?, ?)"+
		" ON DUPLICATE KEY UPDATE `text` = VALUES(`text`), `ts` = VALUES(`ts`)", r.To, r.From, r.Text, sqlTime(r.TS))
}

// DeleteRequest implements Store.
func (s *MySQL) DeleteRequest(ctx context.Context, to, from string) (Request, bool, error) {
	if s.closed.Load() {
		return Request{}, false, &Error{Op: "delete request", Err: ErrClosed}
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	r, found, err := s.deleteRequest(ctx, to, from)
	return r, found, s.fail(ctx, "delete request", err)
}

func (s *MySQL) deleteRequest(ctx context.Context, to, from string) (Request, bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Request{}, false, err
	}
	defer tx.Rollback()
	r := Request{To: to, From: from}
	err = tx.QueryRowContext(ctx, "SELECT `text`, `ts` FROM "+s.t.requests+" WHERE `to_id` = ? AND `from_id` = ? FOR UPDATE", to, from).Scan(&r.Text, &r.TS)
	if errors.Is(err, sql.ErrNoRows) {
		return Request{}, false, nil
	}
	if err != nil {
		return Request{}, false, err
	}
	r.TS = r.TS.UTC()
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+s.t.requests+" WHERE `to_id` = ? AND `from_id` = ?", to, from); err != nil {
		return Request{}, false, err
	}
	if err := tx.Commit(); err != nil {
		return Request{}, false, err
	}
	return r, true, nil
}

// Requests implements Store.
func (s *MySQL) Requests(ctx context.Context, to string) ([]Request, error) {
	if s.closed.Load() {
		return nil, &Error{Op: "requests", Err: ErrClosed}
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, "SELECT `from_id`, `text`, `ts` FROM "+s.t.requests+" WHERE `to_id` = ? ORDER BY `ts`, `from_id`", to)
	if err != nil {
		return nil, s.fail(ctx, "requests", err)
	}
	defer rows.Close()
	var out []Request
	for rows.Next() {
		r := Request{To: to}
		if err := rows.Scan(&r.From, &r.Text, &r.TS); err != nil {
			return nil, s.fail(ctx, "requests", err)
		}
		r.TS = r.TS.UTC()
		out = append(out, r)
	}
	return out, s.fail(ctx, "requests", rows.Err())
}

// SaveMute implements Store.
func (s *MySQL) SaveMute(ctx context.Context, m Mute) error {
	return s.exec(ctx, "save mute", "INSERT INTO "+s.t.mutes+" (`room`, `user_id`, `mins`, `expires_at`, `by_id`) VALUES (?, ?, ?, ?, ?)"+
		" ON DUPLICATE KEY UPDATE `mins` = VALUES(`mins`), `expires_at` = VALUES(`expires_at`), `by_id` = VALUES(`by_id`)",
		m.Room, m.UserID, m.Mins, sqlTime(m.ExpiresAt), m.By)
}

// DeleteMute implements Store.
func (s *MySQL) DeleteMute(ctx context.Context, room, user string) (bool, error) {
	n, err := s.execResult(ctx, "delete mute", "DELETE FROM "+s.t.mutes+" WHERE `room` = ? AND `user_id` = ?", room, user)
	return n > 0, err
}

// Mutes implements Store.
func (s *MySQL) Mutes(ctx context.Context) ([]Mute, error) {
	if s.closed.Load() {
		return nil, &Error{Op: "mutes", Err: ErrClosed}
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, "SELECT `room`, `user_id`, `mins`, `expires_at`, `by_id` FROM "+s.t.mutes)
	if err != nil {
		return nil, s.fail(ctx, "mutes", err)
	}
	defer rows.Close()
	var out []Mute
	for rows.Next() {
		var m Mute
		if err := rows.Scan(&m.Room, &m.UserID, &m.Mins, &m.ExpiresAt, &m.By); err != nil {
			return nil, s.fail(ctx, "mutes", err)
		}
		m.ExpiresAt = m.ExpiresAt.UTC()
		out = append(out, m)
	}
	return out, s.fail(ctx, "mutes", rows.Err())
}

// SetBlock implements Store.
func (s *MySQL) SetBlock(ctx context.Context, user, other string, block bool) error {
	if block {
		return s.exec(ctx, "set block", "INSERT IGNORE INTO "+s.t.blocks+" (`user_id`, `other_id`) VALUES (?, ?)", user, other)
	}
	return s.exec(ctx, "set block", "DELETE FROM "+s.t.blocks+" WHERE `user_id` = ? AND `other_id` = ?", user, other)
}

// Blocks implements Store.
func (s *MySQL) Blocks(ctx context.Context, user string) ([]string, error) {
	if s.closed.Load() {
		return nil, &Error{Op: "blocks", Err: ErrClosed}
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, "SELECT `other_id` FROM "+s.t.blocks+" WHERE `user_id` = ? ORDER BY `other_id`", user)
	if err != nil {
		return nil, s.fail(ctx, "blocks", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			return nil, s.fail(ctx, "blocks", err)
		}
		out = append(out, o)
	}
	return out, s.fail(ctx, "blocks", rows.Err())
}

// Prune implements Pruner: it deletes up to batch messages with ts before
// before (an index range on ts) and forgets expired client ids.
func (s *MySQL) Prune(ctx context.Context, before time.Time, batch int) (int, error) {
	if s.closed.Load() {
		return 0, &Error{Op: "prune", Err: ErrClosed}
	}
	if batch <= 0 {
		batch = 1000
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	n, err := s.prune(ctx, before, batch)
	if err != nil {
		return n, s.fail(ctx, "prune", err)
	}
	_, err = s.db.ExecContext(ctx, "DELETE FROM "+s.t.dedup+" WHERE `created_at` < ? LIMIT ?", sqlTime(s.now().Add(-DedupWindow)), 10*batch)
	return n, s.fail(ctx, "prune", err)
}

func (s *MySQL) prune(ctx context.Context, before time.Time, batch int) (int, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, "SELECT `id` FROM "+s.t.messages+" WHERE `ts` < ? ORDER BY `ts` LIMIT ? FOR UPDATE", sqlTime(before), batch)
	if err != nil {
		return 0, err
	}
	var ids []any
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return 0, err
	}
	in := placeholders(len(ids))
	res, err := tx.ExecContext(ctx, "DELETE FROM "+s.t.messages+" WHERE `id` IN ("+in+")", ids...)
	if err != nil {
		return 0, err
	}
	// A conversation whose newest message goes leaves the list.
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+s.t.userConvs+" WHERE `last_id` IN ("+in+")", ids...); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// Export implements Exporter.
func (s *MySQL) Export(ctx context.Context, conv Conv, after int64, limit int) ([]Message, error) {
	if s.closed.Load() {
		return nil, &Error{Op: "export", Err: ErrClosed}
	}
	if limit <= 0 {
		limit = 1000
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var msgs []Message
	var err error
	if conv == "" {
		msgs, err = s.queryMessages(ctx, "SELECT "+msgCols+" FROM "+s.t.messages+" WHERE `id` > ? ORDER BY `id` LIMIT ?", after, limit)
	} else {
		msgs, err = s.queryMessages(ctx, "SELECT "+msgCols+" FROM "+s.t.messages+" WHERE `conv` = ? AND `id` > ? ORDER BY `id` LIMIT ?", string(conv), after, limit)
	}
	return msgs, s.fail(ctx, "export", err)
}
