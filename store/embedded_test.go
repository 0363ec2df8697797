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

func openBolt(t *testing.T, dir string) (store.Store, error) {
	return store.OpenBolt(dir)
}

func openPebble(t *testing.T, dir string) (store.Store, error) {
	return store.OpenPebble(dir)
}

func embeddedDir(t *testing.T) string { return filepath.Join(t.TempDir(), "data") }

func TestBolt(t *testing.T) {
	storetest.Run(t, storetest.SameData(embeddedDir, openBolt))
}

func TestPebble(t *testing.T) {
	storetest.Run(t, storetest.SameData(embeddedDir, openPebble))
}

// Both engines refuse the same bad directories with the same words.
func TestOpenEmbeddedErrors(t *testing.T) {
	for name, open := range map[string]func(string) (store.Store, error){
		"bolt":   func(d string) (store.Store, error) { return store.OpenBolt(d) },
		"pebble": func(d string) (store.Store, error) { return store.OpenPebble(d) },
	} {
		t.Run(name, func(t *testing.T) { testOpenErrors(t, open) })
	}
}

func testOpenErrors(t *testing.T, open func(string) (store.Store, error)) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	held := filepath.Join(base, "held")
	s, err := open(held)
	if err != nil {
		t.Fatalf("Open(%q) = %v", held, err)
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
		s, err := open(tt.dir)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) = nil error; want %q", tt.dir, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "store: ") {
			t.Errorf("Open(%q) = %v; want an error with %q", tt.dir, err, tt.want)
		}
	}
	// The directory is created when only it is missing.
	dir := filepath.Join(base, "fresh")
	s2, err := open(dir)
	if err != nil {
		t.Fatalf("Open(%q) = %v; want it created", dir, err)
	}
	defer s2.Close()
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("Open(%q) made no directory: %v", dir, err)
	}
	var se *store.Error
	_, err = open(filepath.Join(base, "missing", "data"))
	if !errors.As(err, &se) || se.Op != "open" {
		t.Errorf("Open(missing parent) = %#v; want a *store.Error with Op open", err)
	}
}
