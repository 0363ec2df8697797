package store

import (
	"context"
	"crypto/sha1"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	schema "pollchat/sql"
)

// MySQLOptions tunes the MySQL store. Zero values mean the defaults below.
type MySQLOptions struct {
	// Timeout bounds every call, including the wait for its group commit;
	// zero means 5s. When MySQL is down calls fail within it with an error
	// wrapping ErrUnavailable.
	Timeout time.Duration
	// DialTimeout bounds opening a connection; zero means 2s.
	DialTimeout time.Duration
	// MaxOpenConns bounds the connection pool; zero means 32.
	MaxOpenConns int
	// MaxBatch bounds how many messages one group commit writes; zero means 512.
	MaxBatch int
	// Writers is how many group commits may run at once, each on its own
	// connection; zero means 1, which keeps this process's ids in commit
	// order (a reader never sees id n+1 before n from the same process).
	Writers int
	// NoGroupCommit writes each message in its own transaction from the
	// caller's goroutine (one INSERT per message). It exists as the
	// benchmark's baseline; leave it false.
	NoGroupCommit bool
}

func (o *MySQLOptions) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 2 * time.Second
	}
	if o.MaxOpenConns <= 0 {
		o.MaxOpenConns = 32
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 512
	}
	if o.Writers <= 0 {
		o.Writers = 1
	}
}

// MySQL is the store shared by several pollchat processes. Concurrent
// SaveMessage calls are written together: one transaction with one
// multi-row INSERT for everything that arrived while the previous commit
// ran. The client_id dedup window is a table whose primary key makes two
// identical sends one message, even from two processes.
type MySQL struct {
	db   *sql.DB
	t    tables
	opts MySQLOptions

	// multiRow: ids of a multi-row INSERT are LastInsertId + i*step
	// (innodb_autoinc_lock_mode 0 or 1); otherwise rows go one by one,
	// still in one transaction.
	multiRow bool
	step     int64

	ops    chan []*msgOp
	now    func() time.Time // the dedup window's clock
	quit   chan struct{}
	wg     sync.WaitGroup
	closed atomic.Bool
	once   sync.Once
}

var (
	_ Store      = (*MySQL)(nil)
	_ Pruner     = (*MySQL)(nil)
	_ Exporter   = (*MySQL)(nil)
	_ Importer   = (*MySQL)(nil)
	_ BatchSaver = (*MySQL)(nil)
)

type tables struct {
	messages, userConvs, reads, dedup, requests, mutes, blocks, migrations string
}

func newTables(prefix string) tables {
	q := func(n string) string { return "`" + prefix + n + "`" }
	return tables{
		messages: q("messages"), userConvs: q("user_convs"), reads: q("reads"), dedup: q("dedup"),
		requests: q("requests"), mutes: q("mutes"), blocks: q("blocks"), migrations: q("migrations"),
	}
}

// msgOp is one SaveMessage waiting for the group commit.
type msgOp struct {
	ctx     context.Context
	m       Message // in: the message; out: the stored or original one
	created bool
	dupOf   int // within a batch: index of the op with the same key, or -1
	err     error
	done    chan struct{}
}

// OpenMySQL connects to dsn (go-sql-driver form, user:pass@tcp(host:port)/db),
// applies the schema migrations to tables named prefix+name and returns the
// store. Connection parameters that the store relies on (parseTime, UTC,
// utf8mb4, short timeouts) are set whatever the DSN says.
func OpenMySQL(ctx context.Context, dsn, prefix string, opts MySQLOptions) (*MySQL, error) {
	opts.defaults()
	if !validPrefix(prefix) {
		return nil, &Error{Op: "open", Err: fmt.Errorf("table prefix %q: want letters, digits and _", prefix)}
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, &Error{Op: "open", Err: err}
	}
	if cfg.DBName == "" {
		return nil, &Error{Op: "open", Err: errors.New("the dsn names no database (user:pass@tcp(host:port)/db)")}
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.Collation = "utf8mb4_unicode_ci"
	cfg.Timeout = opts.DialTimeout
	cfg.ReadTimeout = opts.Timeout
	cfg.WriteTimeout = opts.Timeout
	cfg.MultiStatements = false
	// One round trip per statement instead of prepare, execute and close;
	// safe with utf8mb4 (the driver refuses it for unsafe charsets).
	cfg.InterpolateParams = true
	cfg.RejectReadOnly = true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	delete(cfg.Params, "charset")
	cfg.Params["time_zone"] = "'+00:00'"
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, &Error{Op: "open", Err: err}
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(opts.MaxOpenConns)
	db.SetMaxIdleConns(opts.MaxOpenConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &MySQL{
		db:   db,
		t:    newTables(prefix),
		opts: opts,
		ops:  make(chan []*msgOp),
		quit: make(chan struct{}),
		now:  time.Now,
		step: 1,
	}
	if err := s.init(ctx, prefix); err != nil {
		db.Close()
		return nil, err
	}
	for i := 0; i < opts.Writers; i++ {
		s.wg.Add(1)
		go s.writer()
	}
	return s, nil
}

func validPrefix(p string) bool {
	if len(p) > 40 {
		return false
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

func (s *MySQL) init(ctx context.Context, prefix string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	pctx, pcancel := context.WithTimeout(ctx, s.opts.Timeout)
	err := s.db.PingContext(pctx)
	pcancel()
	if err != nil {
		return s.fail(ctx, "open", err)
	}
	if err := migrate(ctx, s.db, prefix); err != nil {
		return s.fail(ctx, "migrate", err)
	}
	var mode, step int64
	if err := s.db.QueryRowContext(ctx, "SELECT @@innodb_autoinc_lock_mode, @@auto_increment_increment").Scan(&mode, &step); err != nil {
		return s.fail(ctx, "open", err)
	}
	s.multiRow = mode <= 1
	if step > 0 {
		s.step = step
	}
	return nil
}

// migrate applies the schema files not yet recorded in {prefix}migrations.
// A named lock (GET_LOCK) makes two processes starting at once take turns;
// every statement is idempotent, so a migration cut short re-runs cleanly.
func migrate(ctx context.Context, db *sql.DB, prefix string) error {
	ms, err := schema.MySQL()
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var dbName sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&dbName); err != nil {
		return err
	}
	sum := sha1.Sum([]byte(dbName.String + "." + prefix))
	lock := "pollchat_migrate_" + hex.EncodeToString(sum[:])[:24]
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 50)", lock).Scan(&got); err != nil {
		return err
	}
	if !got.Valid || got.Int64 != 1 {
		return fmt.Errorf("could not take the migration lock %s in 50s (another process migrating?)", lock)
	}
	defer conn.ExecContext(context.Background(), "SELECT RELEASE_LOCK(?)", lock)

	t := newTables(prefix)
	if _, err := conn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+t.migrations+` (
  version INT NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  applied_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`); err != nil {
		return err
	}
	applied := map[int]bool{}
	rows, err := conn.QueryContext(ctx, "SELECT version FROM "+t.migrations)
	if err != nil {
		return err
	}
	maxApplied := 0
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		applied[v] = true
		maxApplied = max(maxApplied, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if n := len(ms); n > 0 && maxApplied > ms[n-1].Version {
		return fmt.Errorf("the database has schema version %d, newer than this binary's %d", maxApplied, ms[n-1].Version)
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		for _, st := range m.Statements(prefix) {
			if _, err := conn.ExecContext(ctx, st); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO "+t.migrations+" (version, name, applied_at) VALUES (?, ?, ?)",
			m.Version, m.Name, sqlTime(time.Now())); err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
	}
	return nil
}

// SchemaVersions returns the migration versions recorded in the database.
func (s *MySQL) SchemaVersions(ctx context.Context) ([]int, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, "SELECT version FROM "+s.t.migrations+" ORDER BY version")
	if err != nil {
		return nil, s.fail(ctx, "schema versions", err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, s.fail(ctx, "schema versions", err)
		}
		out = append(out, v)
	}
	return out, s.fail(ctx, "schema versions", rows.Err())
}

// DB returns the connection pool (for tests and tools; EXPLAIN).
func (s *MySQL) DB() *sql.DB { return s.db }

// sqlTime is t as a DATETIME(6) parameter: UTC, whole microseconds. With
// nanoseconds the interpolated literal is not a valid DATETIME and MariaDB
// compares it as a string, which turns index ranges on ts into full scans.
func sqlTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func (s *MySQL) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.Timeout)
}

// fail wraps err for op; nil stays nil. Failures to reach or use the server
// (network, timeouts, the server going away, deadlocks) wrap ErrUnavailable.
func (s *MySQL) fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var se *Error
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, context.Canceled) && ctx.Err() == context.Canceled {
		return &Error{Op: op, Err: err}
	}
	if unavailable(err) {
		return &Error{Op: op, Err: fmt.Errorf("%w: %v", ErrUnavailable, err)}
	}
	return &Error{Op: op, Err: err}
}

func unavailable(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1040, // too many connections
			1053, // server shutdown in progress
			1205, // lock wait timeout
			1213, // deadlock
			1290, // read-only (failover in progress)
			1792, // read-only transaction
			1927, // connection killed
			2002, 2003, 2006, 2013,
			4031: // disconnected by the server
			return true
		}
		return false
	}
	// Anything not reported by the server is about reaching it: refused or
	// reset connections, timeouts, driver.ErrBadConn, mysql.ErrInvalidConn.
	return true
}

// retryable says whether a batch that failed with err should run again:
// deadlock, lock wait timeout, or a client id claimed by another
// transaction meanwhile (1062, duplicate key on the dedup table).
func retryable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205 || me.Number == 1062)
}

const msgCols = "`id`, `from_id`, `to_id`, `room`, `text`, `ts`, `client_id`, `is_system`, `data`"

type scanner interface{ Scan(dest ...any) error }

func scanMessage(r scanner) (Message, error) {
	var m Message
	var data []byte
	if err := r.Scan(&m.ID, &m.From, &m.To, &m.Room, &m.Text, &m.TS, &m.ClientID, &m.System, &data); err != nil {
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

// SaveMessage implements Store.
func (s *MySQL) SaveMessage(ctx context.Context, m *Message) (bool, error) {
	created, err := s.SaveMessages(ctx, []*Message{m})
	if err != nil {
		return false, err
	}
	return created[0], nil
}

// SaveMessages implements BatchSaver: msgs are written in one transaction
// (with whatever else is waiting), ids in slice order.
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
		op := &msgOp{ctx: ctx, m: *m, dupOf: -1, done: make(chan struct{})}
		if op.m.TS.IsZero() {
			op.m.TS = time.Now()
		}
		op.m.TS = sqlTime(op.m.TS)
		group[i] = op
	}
	if len(group) == 0 {
		return nil, nil
	}
	if s.opts.NoGroupCommit {
		s.commit(group)
	} else {
		select {
		case s.ops <- group:
		case <-s.quit:
			return nil, &Error{Op: "save message", Err: ErrClosed}
		case <-ctx.Done():
			return nil, s.fail(ctx, "save message", ctx.Err())
		}
		for _, op := range group {
			select {
			case <-op.done:
			case <-ctx.Done():
				// Not acknowledged; it may still be written. A retry with
				// the same client id returns it.
				return nil, s.fail(ctx, "save message", ctx.Err())
			}
		}
	}
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

// writer gathers the groups of ops that arrive while a commit runs and
// commits them together.
func (s *MySQL) writer() {
	defer s.wg.Done()
	batch := make([]*msgOp, 0, s.opts.MaxBatch)
	for {
		select {
		case g := <-s.ops:
			batch = append(batch[:0], g...)
		gather:
			for len(batch) < s.opts.MaxBatch {
				select {
				case g := <-s.ops:
					batch = append(batch, g...)
				default:
					break gather
				}
			}
			live := batch[:0]
			for _, op := range batch {
				if op.ctx.Err() != nil {
					// Its caller gave up: do not write what nobody acknowledges.
					op.err = op.ctx.Err()
					close(op.done)
					continue
				}
				live = append(live, op)
			}
			if len(live) > 0 {
				s.commit(live)
			}
			clear(batch)
		case <-s.quit:
			return
		}
	}
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
		close(op.done)
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
	const cols = " (`conv`, `from_id`, `to_id`, `room`, `text`, `ts`, `client_id`, `is_system`, `data`) VALUES "
	const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
	rowArgs := func(m *Message, args []any) []any {
		var data any
		if len(m.Data) > 0 {
			data = []byte(m.Data)
		}
		return append(args, string(m.Conv()), m.From, m.To, m.Room, m.Text, m.TS, m.ClientID, m.System, data)
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
		args := make([]any, 0, 9*n)
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

func (s *MySQL) exec(ctx context.Context, op, q string, args ...any) error {
	_, err := s.execResult(ctx, op, q, args...)
	return err
}

func (s *MySQL) execResult(ctx context.Context, op, q string, args ...any) (int64, error) {
	if s.closed.Load() {
		return 0, &Error{Op: op, Err: ErrClosed}
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, s.fail(ctx, op, err)
	}
	n, err := res.RowsAffected()
	return n, s.fail(ctx, op, err)
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

// Ping implements Store.
func (s *MySQL) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return &Error{Op: "ping", Err: ErrClosed}
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	return s.fail(ctx, "ping", s.db.PingContext(ctx))
}

// Close implements Store: it waits for the group commit in progress and
// closes the pool.
func (s *MySQL) Close() error {
	var err error
	s.once.Do(func() {
		s.closed.Store(true)
		close(s.quit)
		s.wg.Wait()
		if cerr := s.db.Close(); cerr != nil {
			err = &Error{Op: "close", Err: cerr}
		}
	})
	return err
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
		vals[i] = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		var data any
		if len(m.Data) > 0 {
			data = []byte(m.Data)
		}
		args = append(args, m.ID, string(m.Conv()), m.From, m.To, m.Room, m.Text, m.TS, m.ClientID, m.System, data)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+s.t.messages+" (`id`, `conv`, `from_id`, `to_id`, `room`, `text`, `ts`, `client_id`, `is_system`, `data`) VALUES "+
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
