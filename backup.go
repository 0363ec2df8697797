package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"pollchat/config"
	"pollchat/store"
)

// runBackup is `pollchat backup -config FILE [-url URL] OUT`: a consistent
// copy of the embedded store, taken without stopping the server: the bbolt
// file, or for Pebble a tar of a checkpoint (restore: tar -xf OUT -C
// store.path). A running
// server holds the store file's lock, so the copy comes from it (GET
// /api/v1/backup with the api credentials); with no server running the file
// is read directly. The copy is written beside OUT, synced, checked page by
// page and only then renamed to OUT. It returns the process exit code.
func runBackup(args []string) int {
	fs := flag.NewFlagSet("pollchat backup", flag.ContinueOnError)
	path := fs.String("config", "config.toml", "the configuration file (store.path, server.listen, api credentials)")
	base := fs.String("url", "", "the running server's URL; default http://{server.listen}")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: pollchat backup -config FILE [-url URL] OUT")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || fs.Arg(0) == "" {
		fs.Usage()
		return 2
	}
	out := fs.Arg(0)
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if cfg.Store.Driver == "mysql" {
		fmt.Fprintln(os.Stderr, "backup: store.driver is mysql: back it up with mysqldump --single-transaction (see README, Backups)")
		return 2
	}
	if same(out, filepath.Join(cfg.Store.Path, store.EmbeddedFile)) || inside(out, cfg.Store.Path) {
		fmt.Fprintf(os.Stderr, "backup: %s is the store itself or inside its directory %s; give another file\n", out, cfg.Store.Path)
		return 2
	}
	from, err := backupEmbedded(cfg, *base, out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "backup:", err)
		return 1
	}
	info, err := store.VerifyEmbeddedBackup(out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "backup:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "backup: %s: %d messages, newest id %d (from %s)\n", out, info.Messages, info.NewestID, from)
	return 0
}

// inside says whether file would be in dir or below it (a copy written
// there would sit among the store's own files).
func inside(file, dir string) bool {
	f, err1 := filepath.Abs(file)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, f)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// same says whether a and b name the same existing file.
func same(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// backupEmbedded writes the copy to out and says where it came from.
func backupEmbedded(cfg *config.Config, base, out string) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	defer tmp.Close()

	var from string
	snap, err := store.SnapshotEmbeddedFile(cfg.Store.Path)
	switch {
	case err == nil:
		from = cfg.Store.Path + " (no server running)"
		err = copyExactly(tmp, snap, snap.Size())
		if cerr := snap.Close(); err == nil {
			err = cerr
		}
	case errors.Is(err, store.ErrInUse):
		if base == "" {
			base = "http://" + dialable(cfg.Server.Listen)
		}
		from = "the running server at " + base
		err = fetchBackup(cfg, strings.TrimRight(base, "/")+"/api/v1/backup", tmp)
	}
	if err != nil {
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if _, err := store.VerifyEmbeddedBackup(tmp.Name()); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", err
	}
	if d, err := os.Open(filepath.Dir(out)); err == nil {
		d.Sync()
		d.Close()
	}
	return from, nil
}

// copyExactly writes src to w and fails unless it wrote size bytes.
func copyExactly(w io.Writer, src io.WriterTo, size int64) error {
	n, err := src.WriteTo(w)
	if err == nil && n != size {
		err = fmt.Errorf("copied %d bytes of %d", n, size)
	}
	return err
}

// dialable turns a listen address into one to connect to: an unspecified
// host (":8080", "0.0.0.0", "[::]") becomes loopback.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// fetchBackup asks the running server for the copy and writes it to w,
// checking that the whole body arrived.
func fetchBackup(cfg *config.Config, url string, w io.Writer) error {
	if cfg.API.Password == "" {
		return errors.New("the embedded store is held by the running server, whose backend API is off: set api.login and api.password (or stop the server)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(cfg.API.Login, cfg.API.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("the store is held by a running server, which does not answer: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("%s answered %s: %s", url, resp.Status, strings.TrimSpace(string(msg)))
	}
	if resp.ContentLength < 0 {
		return fmt.Errorf("%s answered without a length; is it pollchat?", url)
	}
	n, err := io.Copy(w, resp.Body)
	if err == nil && n != resp.ContentLength {
		err = fmt.Errorf("copy cut short: %d bytes of %d", n, resp.ContentLength)
	}
	return err
}
