package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Snapshot is a consistent, point-in-time copy of a store being read while
// the store keeps taking writes. Close it when done: until then the pages it
// sees cannot be reused, so the file may grow.
type Snapshot interface {
	// Name is a file name for the copy: pollchat.db (bbolt) or
	// pollchat-pebble.tar (Pebble, to extract into store.path).
	Name() string
	// Size is the number of bytes WriteTo writes.
	Size() int64
	// WriteTo writes the whole copy to w.
	WriteTo(w io.Writer) (int64, error)
	// Close releases the snapshot; it is idempotent.
	Close() error
}

// Backuper is implemented by stores that can copy themselves while in use
// (the embedded store; MySQL is backed up with its own tools).
type Backuper interface {
	// Snapshot starts a consistent copy: every write acknowledged before the
	// call is in it, none that starts after it.
	Snapshot() (Snapshot, error)
}

var _ Backuper = (*Bolt)(nil)

// boltSnapshot is a read transaction: bbolt's MVCC keeps its pages intact
// while the writer commits new ones.
type boltSnapshot struct{ tx *bolt.Tx }

func (s boltSnapshot) Name() string                       { return EmbeddedFile }
func (s boltSnapshot) Size() int64                        { return s.tx.Size() }
func (s boltSnapshot) WriteTo(w io.Writer) (int64, error) { return s.tx.WriteTo(w) }
func (s boltSnapshot) Close() error {
	if err := s.tx.Rollback(); err != nil && !errors.Is(err, bolterrors.ErrTxClosed) {
		return err
	}
	return nil
}

// Snapshot implements Backuper.
func (e *Bolt) Snapshot() (Snapshot, error) {
	if e.closed.Load() {
		return nil, &Error{Op: "snapshot", Err: ErrClosed}
	}
	tx, err := e.db.Begin(false)
	if err != nil {
		return nil, &Error{Op: "snapshot", Err: err}
	}
	return boltSnapshot{tx}, nil
}

// ErrInUse: the embedded store's file is held by a running pollchat.
var ErrInUse = errors.New("store: the embedded store is in use by another process")

// SnapshotEmbeddedFile copies the embedded store in dir while no server
// runs: dir/pollchat.db opened read-only, or the Pebble store opened and
// checkpointed. It fails with ErrInUse when a running server holds the
// store: then ask that server for the copy.
func SnapshotEmbeddedFile(dir string) (Snapshot, error) {
	file := dir + string(os.PathSeparator) + EmbeddedFile
	if !fileExists(file) && pebbleExists(dir) {
		return snapshotPebbleDir(dir)
	}
	if _, err := os.Stat(file); err != nil {
		return nil, &Error{Op: "snapshot", Err: err}
	}
	db, err := bolt.Open(file, 0o600, &bolt.Options{ReadOnly: true, Timeout: 500 * time.Millisecond})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, &Error{Op: "snapshot", Err: ErrInUse}
		}
		return nil, &Error{Op: "snapshot", Err: err}
	}
	tx, err := db.Begin(false)
	if err != nil {
		db.Close()
		return nil, &Error{Op: "snapshot", Err: err}
	}
	return fileSnapshot{boltSnapshot{tx}, db}, nil
}

type fileSnapshot struct {
	boltSnapshot
	db *bolt.DB
}

func (s fileSnapshot) Close() error {
	err := s.boltSnapshot.Close()
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// BackupInfo describes a verified copy of the embedded store.
type BackupInfo struct {
	Messages int   // messages held
	NewestID int64 // the highest message id, 0 if none
}

// VerifyEmbeddedBackup opens a copy written from a Snapshot read-only and
// says what it holds: a bbolt file gets bbolt's consistency check over every
// page; a Pebble tar is extracted to a temporary directory and every key is
// read (each block's checksum is checked on the way).
func VerifyEmbeddedBackup(file string) (BackupInfo, error) {
	var info BackupInfo
	if isTar(file) {
		return verifyPebbleBackup(file)
	}
	db, err := bolt.Open(file, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return info, &Error{Op: "verify backup", Err: err}
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		var first error
		for err := range tx.Check() { // drained: the check runs until it closes the channel
			if first == nil {
				first = err
			}
		}
		if first != nil {
			return first
		}
		for _, name := range allBucket {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("bucket %q is missing: not a pollchat store", name)
			}
		}
		b := tx.Bucket(bMsgs)
		info.Messages = b.Stats().KeyN
		if k, _ := b.Cursor().Last(); k != nil {
			info.NewestID = int64(binary.BigEndian.Uint64(k))
		}
		return nil
	})
	if err != nil {
		return info, &Error{Op: "verify backup", Err: err}
	}
	return info, nil
}
