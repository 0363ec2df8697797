package files

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestDir(t *testing.T) {
	root := t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	var b Blobs = d
	id := NewID()
	info, err := b.Put(id, strings.NewReader("hello"))
	if err != nil || info.Size != 5 || info.ID != id {
		t.Fatalf("Put = %+v, %v; want size 5", info, err)
	}
	// Replace, then read back.
	if _, err := b.Put(id, strings.NewReader("hello, world")); err != nil {
		t.Fatal(err)
	}
	r, info, err := b.Open(id)
	if err != nil || info.Size != 12 {
		t.Fatalf("Open = %+v, %v", info, err)
	}
	r.Seek(7, io.SeekStart)
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != "world" {
		t.Fatalf("read after seek = %q; want world", got)
	}
	if st, err := b.Stat(id); err != nil || st.Size != 12 {
		t.Fatalf("Stat = %+v, %v", st, err)
	}
	th := ThumbID(id)
	if _, err := b.Put(th, bytes.NewReader([]byte{1, 2, 3})); err != nil {
		t.Fatal(err)
	}
	// Nothing left in tmp/.
	if ents, _ := os.ReadDir(filepath.Join(root, "tmp")); len(ents) != 0 {
		t.Fatalf("tmp/ holds %d files after Put; want 0", len(ents))
	}
	// A stray file is not listed.
	os.WriteFile(filepath.Join(root, id[:2], "stray.txt"), []byte("x"), 0o600)
	var ids []string
	if err := b.List(func(i Info) error { ids = append(ids, i.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	sort.Strings(ids)
	if len(ids) != 2 || ids[0] != id || ids[1] != th {
		t.Fatalf("List = %v; want [%s %s]", ids, id, th)
	}
	stop := errors.New("stop")
	if err := b.List(func(Info) error { return stop }); err != stop {
		t.Fatalf("List with a stopping fn = %v; want its error", err)
	}
	if err := b.Delete(id); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(id); err != nil {
		t.Fatalf("second Delete = %v; want nil", err)
	}
	if err := b.Delete(NewID()); err != nil {
		t.Fatalf("Delete(never stored) = %v; want nil", err)
	}
	if _, _, err := b.Open(id); !errors.Is(err, ErrNotFound) || Code(err) != "NOT_FOUND" {
		t.Fatalf("Open(deleted) = %v; want ErrNotFound", err)
	}
	if _, err := b.Stat(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Stat(deleted) = %v; want ErrNotFound", err)
	}
	// Survives a reopen (a restart).
	d2, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if st, err := d2.Stat(th); err != nil || st.Size != 3 {
		t.Fatalf("Stat after reopen = %+v, %v", st, err)
	}
}

func TestDirBadIDs(t *testing.T) {
	root := t.TempDir()
	d, err := NewDir(filepath.Join(root, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	os.WriteFile(filepath.Join(root, "secret"), []byte("s"), 0o600)
	for _, id := range []string{"../secret", "..", "", "tmp", "/etc/passwd", NewID() + "/../../secret"} {
		if _, err := d.Put(id, strings.NewReader("x")); !errors.Is(err, ErrBadID) {
			t.Fatalf("Put(%q) = %v; want ErrBadID", id, err)
		}
		if _, _, err := d.Open(id); !errors.Is(err, ErrBadID) {
			t.Fatalf("Open(%q) = %v; want ErrBadID", id, err)
		}
		if err := d.Delete(id); !errors.Is(err, ErrBadID) {
			t.Fatalf("Delete(%q) = %v; want ErrBadID", id, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "secret")); string(b) != "s" {
		t.Fatal("a file outside the root changed")
	}
}

// TestDirSymlinkEscape: a symlink planted under the root (say by another
// tenant of a shared path) does not lead a Put or an Open outside it.
func TestDirSymlinkEscape(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	id := NewID()
	if err := os.Symlink(outside, filepath.Join(root, id[:2])); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(outside, id), []byte("outside"), 0o600)
	if _, err := d.Put(id, strings.NewReader("x")); err == nil {
		t.Fatal("Put through a symlink out of the root succeeded")
	}
	if _, _, err := d.Open(id); err == nil {
		t.Fatal("Open through a symlink out of the root succeeded")
	}
	if b, _ := os.ReadFile(filepath.Join(outside, id)); string(b) != "outside" {
		t.Fatalf("file outside the root = %q; want untouched", b)
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("client went away")
	}
	f.n--
	return copy(p, "partial"), nil
}

func TestDirPutFailureLeavesNothing(t *testing.T) {
	root := t.TempDir()
	d, _ := NewDir(root)
	defer d.Close()
	id := NewID()
	d.Put(id, strings.NewReader("old"))
	if _, err := d.Put(id, &failingReader{n: 2}); err == nil {
		t.Fatal("Put from a failing reader = nil error")
	}
	r, _, err := d.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "old" {
		t.Fatalf("after a failed Put the blob is %q; want the old one", b)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "tmp")); len(ents) != 0 {
		t.Fatalf("tmp/ holds %d files after a failed Put; want 0", len(ents))
	}
}
