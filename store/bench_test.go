package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"pollchat/internal/testsvc"
	"pollchat/store"
	"pollchat/store/storetest"
)

// BenchmarkSaveMessage measures durable sends per second (sends/s) with 1,
// 16 and 256 concurrent senders: the embedded store on Pebble (one WAL
// fsync per group commit) and on bbolt (two syncs per group commit), the
// MySQL store, which writes one call at a time (chat's committer batches
// sends in front of it, so here it is the one-transaction-per-message
// baseline). MariaDB runs
// with innodb_flush_log_at_trx_commit=1 here, so each of its commits is
// fsynced as the embedded store's are.
func BenchmarkSaveMessage(b *testing.B) {
	// One private MariaDB for every MySQL case, started on first use and
	// stopped when the whole benchmark ends.
	top := b
	var srv *testsvc.MariaDB
	mariadb := func(b *testing.B) *testsvc.MariaDB {
		if srv == nil {
			srv = testsvc.NewMariaDB(top)
			srv.Exec(b, "", "SET GLOBAL innodb_flush_log_at_trx_commit = 1")
		}
		return srv
	}
	kinds := []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"pebble", func(b *testing.B) store.Store {
			s, err := store.OpenPebble(filepath.Join(b.TempDir(), "data"))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"bbolt", func(b *testing.B) store.Store {
			s, err := store.OpenBolt(filepath.Join(b.TempDir(), "data"))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"bbolt-linger1ms", func(b *testing.B) store.Store {
			s, err := store.OpenEmbeddedTuned(filepath.Join(b.TempDir(), "data"), time.Millisecond, false)
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"bbolt-nofreelistsync", func(b *testing.B) store.Store {
			s, err := store.OpenEmbeddedTuned(filepath.Join(b.TempDir(), "data"), 0, true)
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"mysql", func(b *testing.B) store.Store {
			s, err := store.OpenMySQL(context.Background(), mariadb(b).NewDatabase(b), "bench_", store.MySQLOptions{MaxOpenConns: 256})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	for _, senders := range []int{1, 16, 256} {
		for _, k := range kinds {
			b.Run(fmt.Sprintf("senders=%d/%s", senders, k.name), func(b *testing.B) {
				s := k.open(b)
				defer s.Close()
				storetest.BenchSave(b, s, senders)
			})
		}
	}
}
