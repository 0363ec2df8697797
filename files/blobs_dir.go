package files

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"time"
)

var _ Blobs = (*Dir)(nil)

// Dir keeps blobs as files under a root directory: ID[:2]/ID, written to
// tmp/ first, synced, renamed into place and the directory synced. All
// access goes through an os.Root, so not even a symlink planted under the
// root leads outside it; ids are checked with ValidID before any path is
// built. Several processes may share one Dir on a shared file system.
type Dir struct {
	root      *os.Root
	closeOnce sync.Once
}

// staleTemp is how old a leftover temporary file must be before NewDir
// removes it (younger ones may belong to another process's Put).
const staleTemp = time.Hour

// NewDir opens (creating it if needed, mode 0700) a Dir at path and removes
// temporary files that crashed writers left behind.
func NewDir(dir string) (*Dir, error) {
	if err := os.MkdirAll(path.Join(dir, "tmp"), 0o700); err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	d := &Dir{root: r}
	if ents, err := fs.ReadDir(r.FS(), "tmp"); err == nil {
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleTemp {
				r.Remove("tmp/" + e.Name())
			}
		}
	}
	return d, nil
}

// Close releases the directory handle. It is idempotent.
func (d *Dir) Close() error {
	var err error
	d.closeOnce.Do(func() { err = d.root.Close() })
	return err
}

func blobPath(id string) (dir, name string, err error) {
	if !ValidID(id) {
		return "", "", fmt.Errorf("%w: %q", ErrBadID, id)
	}
	return id[:2], id[:2] + "/" + id, nil
}

func notFound(id string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return fmt.Errorf("files: %w", err)
}

// Put implements Blobs.
func (d *Dir) Put(id string, r io.Reader) (Info, error) {
	dir, name, err := blobPath(id)
	if err != nil {
		return Info{}, err
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := "tmp/" + id + "." + hex.EncodeToString(rnd[:])
	f, err := d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Info{}, fmt.Errorf("files: %w", err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			d.root.Remove(tmp)
		}
	}()
	n, err := io.Copy(f, r)
	if err != nil {
		return Info{}, fmt.Errorf("files: write %s: %w", id, err)
	}
	if err := f.Sync(); err != nil {
		return Info{}, fmt.Errorf("files: sync %s: %w", id, err)
	}
	if err := f.Close(); err != nil {
		return Info{}, fmt.Errorf("files: close %s: %w", id, err)
	}
	if err := d.root.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return Info{}, fmt.Errorf("files: %w", err)
	}
	if err := d.root.Rename(tmp, name); err != nil {
		return Info{}, fmt.Errorf("files: %w", err)
	}
	done = true
	if err := d.syncDir(dir); err != nil {
		return Info{}, err
	}
	fi, err := d.root.Stat(name)
	if err != nil {
		return Info{}, notFound(id, err)
	}
	return Info{ID: id, Size: n, ModTime: fi.ModTime()}, nil
}

func (d *Dir) syncDir(dir string) error {
	f, err := d.root.Open(dir)
	if err != nil {
		return fmt.Errorf("files: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("files: sync dir: %w", err)
	}
	return nil
}

// Open implements Blobs.
func (d *Dir) Open(id string) (io.ReadSeekCloser, Info, error) {
	_, name, err := blobPath(id)
	if err != nil {
		return nil, Info{}, err
	}
	f, err := d.root.Open(name)
	if err != nil {
		return nil, Info{}, notFound(id, err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, Info{}, notFound(id, fs.ErrNotExist)
	}
	return f, Info{ID: id, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Stat implements Blobs.
func (d *Dir) Stat(id string) (Info, error) {
	_, name, err := blobPath(id)
	if err != nil {
		return Info{}, err
	}
	fi, err := d.root.Stat(name)
	if err != nil {
		return Info{}, notFound(id, err)
	}
	if !fi.Mode().IsRegular() {
		return Info{}, notFound(id, fs.ErrNotExist)
	}
	return Info{ID: id, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Delete implements Blobs.
func (d *Dir) Delete(id string) error {
	dir, name, err := blobPath(id)
	if err != nil {
		return err
	}
	if err := d.root.Remove(name); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("files: %w", err)
	}
	return d.syncDir(dir)
}

// List implements Blobs. Names that are not valid ids (tmp/, strays) are
// skipped.
func (d *Dir) List(fn func(Info) error) error {
	dirs, err := fs.ReadDir(d.root.FS(), ".")
	if err != nil {
		return fmt.Errorf("files: %w", err)
	}
	for _, sub := range dirs {
		if !sub.IsDir() || len(sub.Name()) != 2 || strings.Contains(sub.Name(), ".") {
			continue
		}
		ents, err := fs.ReadDir(d.root.FS(), sub.Name())
		if err != nil {
			return fmt.Errorf("files: %w", err)
		}
		for _, e := range ents {
			id := e.Name()
			if !ValidID(id) || id[:2] != sub.Name() || !e.Type().IsRegular() {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue // deleted meanwhile
			}
			if err := fn(Info{ID: id, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
				return err
			}
		}
	}
	return nil
}
