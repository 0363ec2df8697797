package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MySQLOptions tunes the MySQL store. Zero values mean the defaults below.
type MySQLOptions struct {
	// Timeout bounds every call, including the wait for the write before it;
	// zero means 5s. When MySQL is down calls fail within it with an error
	// wrapping ErrUnavailable.
	Timeout time.Duration
	// DialTimeout bounds opening a connection; zero means 2s.
	DialTimeout time.Duration
	// MaxOpenConns bounds the connection pool; zero means 32.
	MaxOpenConns int
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
}

// MySQL is the store shared by several pollchat processes. A
// SaveMessages call (one batch of chat's committer) is written in one
// transaction with one multi-row INSERT. The client_id dedup window is a table whose primary key makes two
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

	// wmu makes this process's message writes one at a time: ids are in
	// commit order (a reader never sees id n+1 before n from the same
	// process). The batching is chat's committer's: one SaveMessages call
	// per batch of sends, written in one transaction.
	wmu    sync.Mutex
	now    func() time.Time // the dedup window's clock
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
	records                                                                string
}

func newTables(prefix string) tables {
	q := func(n string) string { return "`" + prefix + n + "`" }
	return tables{
		messages: q("messages"), userConvs: q("user_convs"), reads: q("reads"), dedup: q("dedup"),
		requests: q("requests"), mutes: q("mutes"), blocks: q("blocks"), migrations: q("migrations"),
		records: q("records"),
	}
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
		now:  time.Now,
		step: 1,
	}
	if err := s.init(ctx, prefix); err != nil {
		db.Close()
		return nil, err
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

// Ping implements Store.
func (s *MySQL) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return &Error{Op: "ping", Err: ErrClosed}
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	return s.fail(ctx, "ping", s.db.PingContext(ctx))
}

// Close implements Store: it waits for the message write in progress and
// closes the pool.
func (s *MySQL) Close() error {
	var err error
	s.once.Do(func() {
		s.closed.Store(true)
		s.wmu.Lock() // the write in progress ends first
		defer s.wmu.Unlock()
		if cerr := s.db.Close(); cerr != nil {
			err = &Error{Op: "close", Err: cerr}
		}
	})
	return err
}
