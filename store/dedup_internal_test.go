package store

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"pollchat/internal/testsvc"
)

// clock is a settable time source for the dedup window.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A client id identifies a message for DedupWindow, then it is new again,
// and Prune forgets expired client ids.
func TestDedupWindow(t *testing.T) {
	ctx := context.Background()
	stores := map[string]func(t *testing.T, c *clock) (Store, func() int){
		"bolt": func(t *testing.T, c *clock) (Store, func() int) {
			e, err := OpenBolt(filepath.Join(t.TempDir(), "data"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			e.now = func() time.Time { return c.now().UTC() }
			return e, func() int {
				n := 0
				e.db.View(func(tx *bolt.Tx) error { n = tx.Bucket(bDedup).Stats().KeyN; return nil })
				return n
			}
		},
		"pebble": func(t *testing.T, c *clock) (Store, func() int) {
			p, err := OpenPebble(filepath.Join(t.TempDir(), "data"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			p.now = func() time.Time { return c.now().UTC() }
			return p, func() int {
				n := 0
				p.view(ctx, "count", func(r pebbleReader) error {
					it, err := piter(r, []byte{tDedup})
					if err != nil {
						return err
					}
					for ok := it.First(); ok; ok = it.Next() {
						n++
					}
					return it.Close()
				})
				return n
			}
		},
		"mysql": func(t *testing.T, c *clock) (Store, func() int) {
			m, err := OpenMySQL(ctx, testsvc.SharedMariaDB(t).NewDatabase(t), "pc_", MySQLOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })
			m.now = c.now
			return m, func() int {
				n := -1
				m.db.QueryRow("SELECT COUNT(*) FROM " + m.t.dedup).Scan(&n)
				return n
			}
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			c := &clock{t: time.Now()}
			s, dedupRows := open(t, c)
			send := func(text string) (Message, bool) {
				t.Helper()
				m := Message{From: "a", To: "b", Text: text, ClientID: "same"}
				created, err := s.SaveMessage(ctx, &m)
				if err != nil {
					t.Fatalf("SaveMessage(%q) = %v", text, err)
				}
				return m, created
			}
			first, created := send("first")
			if !created {
				t.Fatalf("first send created = false")
			}
			c.add(DedupWindow - time.Minute)
			if m, created := send("inside the window"); created || m.ID != first.ID {
				t.Errorf("send %v later = created %v id %d; want the original %d", DedupWindow-time.Minute, created, m.ID, first.ID)
			}
			c.add(2 * time.Minute)
			second, created := send("after the window")
			if !created || second.ID == first.ID || second.Text != "after the window" {
				t.Errorf("send after the window = created %v %+v; want a new message", created, second)
			}
			if m, created := send("again"); created || m.ID != second.ID {
				t.Errorf("send right after = created %v id %d; want the new original %d", created, m.ID, second.ID)
			}
			// Another client id, then everything expires and Prune forgets it.
			other := Message{From: "b", To: "a", Text: "other", ClientID: "other"}
			if _, err := s.SaveMessage(ctx, &other); err != nil {
				t.Fatal(err)
			}
			if n := dedupRows(); n != 2 {
				t.Errorf("dedup entries = %d; want 2", n)
			}
			c.add(DedupWindow + time.Minute)
			if _, err := s.(Pruner).Prune(ctx, time.Now().Add(-24*time.Hour), 100); err != nil {
				t.Fatal(err)
			}
			if n := dedupRows(); n != 0 {
				t.Errorf("dedup entries after the window and Prune = %d; want 0", n)
			}
		})
	}
}
