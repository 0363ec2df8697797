package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"pollchat/files"
	"pollchat/store"
)

// The MySQL blobs: a file over several chunks comes back byte for byte
// through another connection pool, replaces atomically, lists, deletes
// (twice), and refuses ids that are not file ids.
func TestMySQLBlobs(t *testing.T) {
	dsn := mysqlDSN(t)
	s, err := store.OpenMySQL(context.Background(), dsn, testPrefix, store.MySQLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var b files.Blobs = s.Blobs()
	big := make([]byte, 2<<20+12345)
	rand.Read(big)
	id := files.NewID()
	if info, err := b.Put(id, bytes.NewReader(big)); err != nil || info.Size != int64(len(big)) {
		t.Fatalf("Put(%d bytes) = %+v, %v", len(big), info, err)
	}
	if _, err := b.Put(files.ThumbID(id), bytes.NewReader(nil)); err != nil {
		t.Fatalf("Put(empty) = %v", err)
	}
	// Another process: another pool on the same database.
	s2, err := store.OpenMySQL(context.Background(), dsn, testPrefix, store.MySQLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	r, info, err := s2.Blobs().Open(id)
	if err != nil || info.Size != int64(len(big)) {
		t.Fatalf("Open from another pool = %+v, %v", info, err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, big) {
		t.Fatalf("Open read %d bytes, not the %d stored", len(got), len(big))
	}
	if _, err := b.Put(id, bytes.NewReader([]byte("small now"))); err != nil {
		t.Fatal(err)
	}
	if st, err := s2.Blobs().Stat(id); err != nil || st.Size != 9 {
		t.Fatalf("Stat after replace = %+v, %v; want 9 bytes", st, err)
	}
	var ids []string
	if err := b.List(func(i files.Info) error { ids = append(ids, i.ID); return nil }); err != nil || len(ids) != 2 {
		t.Fatalf("List = %v, %v; want 2 blobs", ids, err)
	}
	for i := 0; i < 2; i++ {
		if err := b.Delete(id); err != nil {
			t.Fatalf("Delete #%d = %v", i, err)
		}
	}
	if _, _, err := b.Open(id); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("Open after Delete = %v; want ErrNotFound", err)
	}
	for _, bad := range []string{"../x", "", "a' OR '1'='1"} {
		if _, err := b.Put(bad, bytes.NewReader(nil)); !errors.Is(err, files.ErrBadID) {
			t.Errorf("Put(%q) = %v; want ErrBadID", bad, err)
		}
	}
}
