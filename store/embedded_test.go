package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pollchat/store"
	"pollchat/store/storetest"
)

func openEmbedded(t *testing.T, dir string) (store.Store, error) {
	return store.OpenEmbedded(dir)
}

func embeddedDir(t *testing.T) string { return filepath.Join(t.TempDir(), "data") }

func TestEmbedded(t *testing.T) {
	storetest.Run(t, storetest.SameData(embeddedDir, openEmbedded))
}

func TestOpenEmbeddedErrors(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	held := filepath.Join(base, "held")
	s, err := store.OpenEmbedded(held)
	if err != nil {
		t.Fatalf("OpenEmbedded(%q) = %v", held, err)
	}
	t.Cleanup(func() { s.Close() })
	tests := []struct {
		dir  string
		want string
	}{
		{filepath.Join(base, "missing", "data"), "does not exist"},
		{file, "not a directory"},
		{held, "in use by another process"},
		{"", "empty path"},
	}
	for _, tt := range tests {
		s, err := store.OpenEmbedded(tt.dir)
		if err == nil {
			s.Close()
			t.Errorf("OpenEmbedded(%q) = nil error; want %q", tt.dir, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "store: ") {
			t.Errorf("OpenEmbedded(%q) = %v; want an error with %q", tt.dir, err, tt.want)
		}
	}
	// The directory is created when only it is missing.
	dir := filepath.Join(base, "fresh")
	s2, err := store.OpenEmbedded(dir)
	if err != nil {
		t.Fatalf("OpenEmbedded(%q) = %v; want it created", dir, err)
	}
	defer s2.Close()
	if _, err := os.Stat(filepath.Join(dir, store.EmbeddedFile)); err != nil {
		t.Errorf("OpenEmbedded(%q) made no %s: %v", dir, store.EmbeddedFile, err)
	}
	var se *store.Error
	_, err = store.OpenEmbedded(filepath.Join(base, "missing", "data"))
	if !errors.As(err, &se) || se.Op != "open" {
		t.Errorf("OpenEmbedded(missing parent) = %#v; want a *store.Error with Op open", err)
	}
}
