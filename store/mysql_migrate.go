package store

// The MySQL store's schema migrations: the files of sql/mysql applied once
// each, in order, under a named lock.

import (
	"context"
	"crypto/sha1"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"

	schema "pollchat/sql"
)

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
			if _, err := conn.ExecContext(ctx, st); err != nil && !alreadyApplied(err) {
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

// alreadyApplied says whether err is an ALTER TABLE finding its change made
// by an earlier run cut short: duplicate column (1060) or key name (1061).
func alreadyApplied(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1060 || me.Number == 1061)
}
