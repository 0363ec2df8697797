package store

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// PebbleBackupName is the file name of a Pebble store's copy: an
// uncompressed tar whose entries are pebble/FILE, so that
// `tar -xf pollchat-pebble.tar -C store.path` restores it.
const PebbleBackupName = "pollchat-pebble.tar"

// checkpointPrefix names the checkpoints a backup makes inside store.path
// (same file system, so sstables are hard links, not copies).
const checkpointPrefix = ".backup-"

var checkpoints atomic.Int64

// pebbleSnapshot is a Pebble checkpoint: the store's files as of the call
// (sstables hard-linked, the write-ahead log copied after a sync), streamed
// as a tar whose size is known before the first byte.
type pebbleSnapshot struct {
	dir   string
	names []string
	sizes []int64
	size  int64
	after func() error // closes a store opened for this snapshot
	once  sync.Once
}

// Snapshot implements Backuper: a checkpoint of the store. Every write
// acknowledged before the call is in it (the checkpoint syncs the log
// first).
func (p *Pebble) Snapshot() (Snapshot, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return nil, &Error{Op: "snapshot", Err: ErrClosed}
	}
	dest := filepath.Join(p.dir, fmt.Sprintf("%s%d-%d", checkpointPrefix, os.Getpid(), checkpoints.Add(1)))
	if err := p.db.Checkpoint(dest, pebble.WithFlushedWAL()); err != nil {
		os.RemoveAll(dest)
		return nil, &Error{Op: "snapshot", Err: err}
	}
	s := &pebbleSnapshot{dir: dest}
	ents, err := os.ReadDir(dest)
	if err != nil {
		s.Close()
		return nil, &Error{Op: "snapshot", Err: err}
	}
	for _, e := range ents {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			s.Close()
			return nil, &Error{Op: "snapshot", Err: fmt.Errorf("checkpoint entry %s: not a regular file (%v)", e.Name(), err)}
		}
		s.names = append(s.names, e.Name())
		s.sizes = append(s.sizes, info.Size())
		s.size += tarBlock + roundBlock(info.Size())
	}
	s.size += 2 * tarBlock // the tar's end: two zero blocks
	return s, nil
}

const tarBlock = 512

func roundBlock(n int64) int64 { return (n + tarBlock - 1) / tarBlock * tarBlock }

func (s *pebbleSnapshot) Name() string { return PebbleBackupName }
func (s *pebbleSnapshot) Size() int64  { return s.size }

// WriteTo writes the tar (USTAR headers only, so Size is exact).
func (s *pebbleSnapshot) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	tw := tar.NewWriter(cw)
	for i, name := range s.names {
		f, err := os.Open(filepath.Join(s.dir, name))
		if err != nil {
			return cw.n, err
		}
		err = tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeReg,
			Name:     PebbleDir + "/" + name,
			Mode:     0o600,
			Size:     s.sizes[i],
			ModTime:  time.Now().Truncate(time.Second),
			Format:   tar.FormatUSTAR,
		})
		if err == nil {
			_, err = io.CopyN(tw, f, s.sizes[i])
		}
		f.Close()
		if err != nil {
			return cw.n, err
		}
	}
	err := tw.Close()
	return cw.n, err
}

// Close removes the checkpoint; it is idempotent.
func (s *pebbleSnapshot) Close() error {
	var err error
	s.once.Do(func() {
		err = os.RemoveAll(s.dir)
		if s.after != nil {
			if cerr := s.after(); err == nil {
				err = cerr
			}
		}
	})
	return err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// snapshotPebbleDir opens the Pebble store in dir for one snapshot, or
// fails with ErrInUse when a running server holds it.
func snapshotPebbleDir(dir string) (Snapshot, error) {
	p, err := OpenPebble(dir)
	if err != nil {
		if errors.Is(err, errLocked) {
			return nil, &Error{Op: "snapshot", Err: ErrInUse}
		}
		return nil, err
	}
	snap, err := p.Snapshot()
	if err != nil {
		p.Close()
		return nil, err
	}
	s := snap.(*pebbleSnapshot)
	s.after = p.Close
	return s, nil
}

// isTar says whether file starts with a USTAR header.
func isTar(file string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	h := make([]byte, tarBlock)
	if _, err := io.ReadFull(f, h); err != nil {
		return false
	}
	return bytes.Equal(h[257:262], []byte("ustar"))
}

// RestoreEmbeddedBackup puts a copy written from a Snapshot into dir, which
// must hold no store: a bbolt file becomes dir/pollchat.db, a Pebble tar is
// extracted into dir/pebble. Only plain files named pebble/NAME are taken
// from a tar; anything else refuses the whole file.
func RestoreEmbeddedBackup(file, dir string) error {
	if fileExists(filepath.Join(dir, EmbeddedFile)) || pebbleExists(dir) {
		return &Error{Op: "restore", Err: fmt.Errorf("%s already holds a store", dir)}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return &Error{Op: "restore", Err: err}
	}
	if !isTar(file) {
		if err := copyFile(file, filepath.Join(dir, EmbeddedFile)); err != nil {
			return &Error{Op: "restore", Err: err}
		}
		return nil
	}
	tmp := filepath.Join(dir, PebbleDir+".restoring")
	if err := os.RemoveAll(tmp); err != nil {
		return &Error{Op: "restore", Err: err}
	}
	if err := untar(file, tmp); err != nil {
		os.RemoveAll(tmp)
		return &Error{Op: "restore", Err: err}
	}
	if err := os.Rename(tmp, filepath.Join(dir, PebbleDir)); err != nil {
		return &Error{Op: "restore", Err: err}
	}
	syncDir(dir)
	return nil
}

func untar(file, into string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := os.Mkdir(into, 0o700); err != nil {
		return err
	}
	tr := tar.NewReader(f)
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		name, ok := strings.CutPrefix(h.Name, PebbleDir+"/")
		if !ok || h.Typeflag != tar.TypeReg || name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
			return fmt.Errorf("unexpected tar entry %q: not a pollchat Pebble backup", h.Name)
		}
		out, err := os.OpenFile(filepath.Join(into, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		if err == nil {
			err = out.Sync()
		}
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return errors.New("empty tar: not a pollchat Pebble backup")
	}
	syncDir(into)
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// verifyPebbleBackup extracts a Pebble tar to a temporary directory beside
// it, opens
// it read-only and reads every key.
func verifyPebbleBackup(file string) (BackupInfo, error) {
	var info BackupInfo
	// Beside the copy, not in /tmp: a small tmpfs would not hold a store.
	tmp, err := os.MkdirTemp(filepath.Dir(file), ".pollchat-verify-")
	if err != nil {
		return info, &Error{Op: "verify backup", Err: err}
	}
	defer os.RemoveAll(tmp)
	if err := RestoreEmbeddedBackup(file, tmp); err != nil {
		return info, &Error{Op: "verify backup", Err: err}
	}
	o := pebbleOptions(nil)
	o.ReadOnly = true
	o.ErrorIfNotExists = true
	db, err := pebble.Open(filepath.Join(tmp, PebbleDir), o)
	if err != nil {
		return info, &Error{Op: "verify backup", Err: err}
	}
	defer db.Close()
	it, err := db.NewIter(nil)
	if err != nil {
		return info, &Error{Op: "verify backup", Err: err}
	}
	schema := false
	tables := map[byte]int{}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if _, err := it.ValueAndErr(); err != nil {
			it.Close()
			return info, &Error{Op: "verify backup", Err: err}
		}
		tables[k[0]]++
		switch {
		case bytes.Equal(k, metaSchema):
			schema = true
		case k[0] == tMsg && len(k) == 9:
			info.Messages++
			info.NewestID = int64(binary.BigEndian.Uint64(k[1:]))
		}
	}
	if err := it.Close(); err != nil {
		return info, &Error{Op: "verify backup", Err: err}
	}
	if !schema {
		return info, &Error{Op: "verify backup", Err: errors.New("no layout version: not a pollchat store")}
	}
	var known []string
	for t := range tables {
		if !strings.ContainsRune("mcurdaqxbMRT", rune(t)) {
			known = append(known, strconv.Quote(string(t)))
		}
	}
	if len(known) > 0 {
		sort.Strings(known)
		return info, &Error{Op: "verify backup", Err: fmt.Errorf("unknown tables %v: not a pollchat store", known)}
	}
	return info, nil
}
