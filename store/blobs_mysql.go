package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"time"

	"pollchat/files"
)

// MySQLBlobs keeps attachments' bytes in the MySQL store's blobs table
// (sql/mysql/0003_blobs.sql), for several processes sharing one store.
type MySQLBlobs struct {
	db      *sql.DB
	table   string
	timeout time.Duration
}

var _ files.Blobs = (*MySQLBlobs)(nil)

// blobChunk is the largest row of the blobs table.
const blobChunk = 1 << 20

// Blobs returns the files kept in this store's database.
func (s *MySQL) Blobs() *MySQLBlobs {
	return &MySQLBlobs{db: s.db, table: "`" + s.t.prefix() + "blobs`", timeout: 2 * time.Minute}
}

func (t tables) prefix() string {
	// tables hold quoted names: `prefix_messages`.
	return t.messages[1 : len(t.messages)-len("messages`")]
}

func blobErr(op, id string, err error) error {
	return &Error{Op: op + " blob " + id, Err: fmt.Errorf("%w: %w", ErrUnavailable, err)}
}

// Put stores r's bytes under id in one transaction (replacing a blob of
// that id).
func (b *MySQLBlobs) Put(id string, r io.Reader) (files.Info, error) {
	if !files.ValidID(id) {
		return files.Info{}, fmt.Errorf("%w: %q", files.ErrBadID, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return files.Info{}, blobErr("put", id, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+b.table+" WHERE id = ?", id); err != nil {
		return files.Info{}, blobErr("put", id, err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	buf := make([]byte, blobChunk)
	var size int64
	for seq := 0; ; seq++ {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 || seq == 0 {
			if _, err := tx.ExecContext(ctx, "INSERT INTO "+b.table+" (id, seq, data, created) VALUES (?, ?, ?, ?)", id, seq, buf[:n], now); err != nil {
				return files.Info{}, blobErr("put", id, err)
			}
			size += int64(n)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return files.Info{}, &Error{Op: "put blob " + id, Err: rerr}
		}
	}
	if err := tx.Commit(); err != nil {
		return files.Info{}, blobErr("put", id, err)
	}
	return files.Info{ID: id, Size: size, ModTime: now}, nil
}

// Open reads the whole blob (files are bounded by files.max_size).
func (b *MySQLBlobs) Open(id string) (io.ReadSeekCloser, files.Info, error) {
	if !files.ValidID(id) {
		return nil, files.Info{}, fmt.Errorf("%w: %q", files.ErrBadID, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	rows, err := b.db.QueryContext(ctx, "SELECT data, created FROM "+b.table+" WHERE id = ? ORDER BY seq", id)
	if err != nil {
		return nil, files.Info{}, blobErr("open", id, err)
	}
	defer rows.Close()
	var data []byte
	info := files.Info{ID: id}
	found := false
	for rows.Next() {
		var chunk []byte
		if err := rows.Scan(&chunk, &info.ModTime); err != nil {
			return nil, files.Info{}, blobErr("open", id, err)
		}
		data = append(data, chunk...)
		found = true
	}
	if err := rows.Err(); err != nil {
		return nil, files.Info{}, blobErr("open", id, err)
	}
	if !found {
		return nil, files.Info{}, fmt.Errorf("%w: %s", files.ErrNotFound, id)
	}
	info.Size = int64(len(data))
	return nopCloser{bytes.NewReader(data)}, info, nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// Stat returns the blob's size and when it was stored.
func (b *MySQLBlobs) Stat(id string) (files.Info, error) {
	if !files.ValidID(id) {
		return files.Info{}, fmt.Errorf("%w: %q", files.ErrBadID, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	var size sql.NullInt64
	var created sql.NullTime
	err := b.db.QueryRowContext(ctx, "SELECT SUM(LENGTH(data)), MIN(created) FROM "+b.table+" WHERE id = ?", id).Scan(&size, &created)
	if err != nil {
		return files.Info{}, blobErr("stat", id, err)
	}
	if !created.Valid {
		return files.Info{}, fmt.Errorf("%w: %s", files.ErrNotFound, id)
	}
	return files.Info{ID: id, Size: size.Int64, ModTime: created.Time}, nil
}

// Delete removes the blob; a missing one is not an error.
func (b *MySQLBlobs) Delete(id string) error {
	if !files.ValidID(id) {
		return fmt.Errorf("%w: %q", files.ErrBadID, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	if _, err := b.db.ExecContext(ctx, "DELETE FROM "+b.table+" WHERE id = ?", id); err != nil {
		return blobErr("delete", id, err)
	}
	return nil
}

// List calls fn for every blob, in id order, reading the table's keys in
// pages (no lock held while fn runs).
func (b *MySQLBlobs) List(fn func(files.Info) error) error {
	after := ""
	for {
		page, err := b.listPage(after, 500)
		if err != nil {
			return err
		}
		for _, in := range page {
			if err := fn(in); err != nil {
				return err
			}
		}
		if len(page) < 500 {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

func (b *MySQLBlobs) listPage(after string, limit int) ([]files.Info, error) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	rows, err := b.db.QueryContext(ctx, "SELECT id, SUM(LENGTH(data)), MIN(created) FROM "+b.table+" WHERE id > ? GROUP BY id ORDER BY id LIMIT ?", after, limit)
	if err != nil {
		return nil, blobErr("list", "", err)
	}
	defer rows.Close()
	var out []files.Info
	for rows.Next() {
		var in files.Info
		if err := rows.Scan(&in.ID, &in.Size, &in.ModTime); err != nil {
			return nil, blobErr("list", "", err)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}
