package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Embedded is what both engines of the embedded store offer: the store in a
// local directory that needs nothing else.
type Embedded interface {
	Store
	Pruner
	Exporter
	Importer
	BatchSaver
	Backuper
	Records
	MessageAdmin
}

// Engines of the embedded store (config store.engine).
const (
	// EngineAuto picks by what the directory holds: bbolt when
	// pollchat.db is there (a store made before Pebble), else Pebble.
	EngineAuto = ""
	// EnginePebble is the default for new directories; asked for on a
	// directory holding only pollchat.db, it migrates that file once.
	EnginePebble = "pebble"
	// EngineBolt keeps a store on bbolt (pollchat.db).
	EngineBolt = "bbolt"
)

// MigratedSuffix is added to pollchat.db once its content is in Pebble: the
// file is kept, never deleted, until the operator removes it.
const MigratedSuffix = ".migrated"

// EmbeddedOptions choose the engine of OpenEmbeddedWith.
type EmbeddedOptions struct {
	// Engine is EngineAuto (zero), EnginePebble or EngineBolt.
	Engine string
	// Log gets the line saying which engine runs and, once, the migration;
	// nil means slog.Default().
	Log *slog.Logger
}

// OpenEmbedded opens the embedded store in dir with the engine its content
// asks for: bbolt for a directory made before Pebble, else Pebble.
func OpenEmbedded(dir string) (Embedded, error) {
	return OpenEmbeddedWith(dir, EmbeddedOptions{})
}

// OpenEmbeddedWith opens the embedded store in dir on the engine o asks for.
// It never starts an empty store beside data of the other engine: it uses,
// migrates or refuses with an error that says what to do.
func OpenEmbeddedWith(dir string, o EmbeddedOptions) (Embedded, error) {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	boltFile := filepath.Join(dir, EmbeddedFile)
	hasBolt := fileExists(boltFile)
	hasPebble := pebbleExists(dir)
	if hasBolt && hasPebble {
		return nil, &Error{Op: "open", Err: fmt.Errorf("%s holds both %s (bbolt) and %s/ (Pebble); keep the one you use and move the other away", dir, EmbeddedFile, PebbleDir)}
	}
	switch o.Engine {
	case EngineAuto:
		if hasBolt {
			log.Info("store: embedded store on bbolt (a data directory made before Pebble); set store.engine = \"pebble\" to migrate it", "file", boltFile)
			return OpenBolt(dir)
		}
		return OpenPebble(dir)
	case EngineBolt:
		if hasPebble {
			return nil, &Error{Op: "open", Err: fmt.Errorf("store.engine is bbolt but %s holds a Pebble store (%s/); remove store.engine or move it away", dir, PebbleDir)}
		}
		return OpenBolt(dir)
	case EnginePebble:
		if hasBolt {
			if err := migrateBolt(dir, log); err != nil {
				return nil, err
			}
		}
		return OpenPebble(dir)
	default:
		return nil, &Error{Op: "open", Err: fmt.Errorf("unknown engine %q: want %q or %q", o.Engine, EnginePebble, EngineBolt)}
	}
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// pebbleExists says whether dir holds a Pebble store: dir/pebble with
// anything in it.
func pebbleExists(dir string) bool {
	ents, err := os.ReadDir(filepath.Join(dir, PebbleDir))
	return err == nil && len(ents) > 0
}

// boltTables maps each bbolt bucket to its Pebble table.
var boltTables = []struct {
	bucket []byte
	table  byte
}{
	{bMsgs, tMsg}, {bConv, tConv}, {bUserConv, tUserConv}, {bReads, tRead},
	{bDedup, tDedup}, {bDedupAge, tDedupAge}, {bRequests, tRequest},
	{bMutes, tMute}, {bBlocks, tBlock},
}

// migrateBolt copies dir/pollchat.db into a new Pebble store, key for key
// (the layouts match bucket for table), then renames the file to
// pollchat.db.migrated. The copy is built in dir/pebble.migrating and renamed
// into place only when complete and flushed, so a crash leaves the bbolt
// file in use and the migration starts again on the next start.
func migrateBolt(dir string, log *slog.Logger) error {
	file := filepath.Join(dir, EmbeddedFile)
	start := time.Now()
	src, err := bolt.Open(file, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			err = fmt.Errorf("%s is in use by another process", file)
		}
		return &Error{Op: "migrate", Err: err}
	}
	defer src.Close()
	tmp := filepath.Join(dir, PebbleDir+".migrating")
	if err := os.RemoveAll(tmp); err != nil {
		return &Error{Op: "migrate", Err: err}
	}
	dst, err := pebble.Open(tmp, pebbleOptions(nil))
	if err != nil {
		return &Error{Op: "migrate", Err: err}
	}
	var msgs, keys int
	err = src.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		if meta == nil {
			return errors.New("no meta bucket: not a pollchat store")
		}
		if v := meta.Get([]byte("schema")); len(v) != 8 || binary.BigEndian.Uint64(v) > embeddedSchema {
			return fmt.Errorf("layout version %x unknown to this binary", v)
		}
		b := dst.NewBatch()
		flush := func(force bool) error {
			if b.Count() < 10000 && !force {
				return nil
			}
			if err := b.Commit(pebble.NoSync); err != nil {
				return err
			}
			b.Close()
			b = dst.NewBatch()
			return nil
		}
		for _, t := range boltTables {
			bk := tx.Bucket(t.bucket)
			if bk == nil {
				continue
			}
			err := bk.ForEach(func(k, v []byte) error {
				keys++
				if err := b.Set(tk(t.table, k), v, nil); err != nil {
					return err
				}
				return flush(false)
			})
			if err != nil {
				return err
			}
			if t.table == tMsg {
				msgs = bk.Stats().KeyN
				if err := b.Set(metaSeq, u64(bk.Sequence()), nil); err != nil {
					return err
				}
			}
		}
		// Records: bucket "rec/"+kind is table tRec under kind 0, and
		// "recat/"+kind is tRecAt likewise (records_pebble.go).
		err := tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			var t byte
			switch {
			case bytes.HasPrefix(name, []byte("rec/")):
				t, name = tRec, name[len("rec/"):]
			case bytes.HasPrefix(name, []byte("recat/")):
				t, name = tRecAt, name[len("recat/"):]
			default:
				return nil
			}
			pre := append(append([]byte{t}, name...), 0)
			return bk.ForEach(func(k, v []byte) error {
				keys++
				if err := b.Set(append(bytes.Clone(pre), k...), v, nil); err != nil {
					return err
				}
				return flush(false)
			})
		})
		if err != nil {
			return err
		}
		if err := b.Set(metaSchema, u64(pebbleSchema), nil); err != nil {
			return err
		}
		err = flush(true)
		b.Close()
		return err
	})
	if err == nil {
		err = dst.Flush()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.RemoveAll(tmp)
		return &Error{Op: "migrate", Err: fmt.Errorf("%s: %w", file, err)}
	}
	src.Close()
	if err := os.Rename(tmp, filepath.Join(dir, PebbleDir)); err != nil {
		return &Error{Op: "migrate", Err: err}
	}
	if err := os.Rename(file, file+MigratedSuffix); err != nil {
		return &Error{Op: "migrate", Err: err}
	}
	syncDir(dir)
	log.Warn("store: migrated the embedded store from bbolt to Pebble; the old file is kept", "dir", dir,
		"messages", msgs, "keys", keys, "kept", file+MigratedSuffix, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// syncDir makes renames in dir durable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
