package testsvc

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func queryString(t *testing.T, db *sql.DB, q string, args ...any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var s string
	if err := db.QueryRowContext(ctx, q, args...).Scan(&s); err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
	return s
}

func TestSharedMariaDB(t *testing.T) {
	m := SharedMariaDB(t)
	if m2 := SharedMariaDB(t); m2 != m {
		t.Fatalf("SharedMariaDB() = %p, then %p; want the same instance", m, m2)
	}
	a, b := m.NewDatabaseName(t), m.NewDatabaseName(t)
	if a == b {
		t.Fatalf("NewDatabaseName() twice = %q; want distinct names", a)
	}
	m.Exec(t, a, "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(50))")
	m.Exec(t, a, "INSERT INTO t VALUES (?, ?)", 1, "Zoë <b>")
	got := queryString(t, m.DB(t, a), "SELECT name FROM t WHERE id = ?", 1)
	if got != "Zoë <b>" {
		t.Fatalf("SELECT name = %q; want %q", got, "Zoë <b>")
	}
	if DBName(m.DSN(a)) != a {
		t.Fatalf("DBName(%q) = %q; want %q", m.DSN(a), DBName(m.DSN(a)), a)
	}
}

func TestNewMariaDBKillStart(t *testing.T) {
	m := NewMariaDB(t)
	name := m.NewDatabaseName(t)
	m.Exec(t, name, "CREATE TABLE t (id INT PRIMARY KEY)")
	m.Exec(t, name, "INSERT INTO t VALUES (7)")
	m.Kill()
	db := m.DB(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := db.PingContext(ctx)
	cancel()
	if err == nil {
		t.Fatalf("Ping after Kill = nil; want an error")
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, db, "SELECT CAST(id AS CHAR) FROM t"); got != "7" {
		t.Fatalf("after Kill and Start, id = %q; want %q", got, "7")
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestStartPHP(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.php"), []byte(`<?php echo "hello ", getenv('TESTSVC_X');`), 0o644); err != nil {
		t.Fatal(err)
	}
	p := StartPHP(t, dir, "TESTSVC_X=42")
	if code, body := get(t, p.URL+"/index.php"); code != 200 || body != "hello 42" {
		t.Fatalf("GET /index.php = %d %q; want 200 %q", code, body, "hello 42")
	}
	p.Kill()
	c := &http.Client{Timeout: 2 * time.Second}
	if resp, err := c.Get(p.URL + "/index.php"); err == nil {
		resp.Body.Close()
		t.Fatalf("GET after Kill = %d; want a connection error", resp.StatusCode)
	}
}

func TestStartRedis(t *testing.T) {
	r := StartRedis(t)
	if err := redisPing(r.Addr); err != nil {
		t.Fatalf("PING %s: %v", r.Addr, err)
	}
	r.Kill()
	if err := redisPing(r.Addr); err == nil {
		t.Fatalf("PING after Kill = nil; want an error")
	}
	r.Start()
	if err := redisPing(r.Addr); err != nil {
		t.Fatalf("PING after Start: %v", err)
	}
}

func TestInstallWordPress(t *testing.T) {
	wp := InstallWordPress(t, SharedMariaDB(t))
	if wp.AdminID != 1 {
		t.Fatalf("AdminID = %d; want 1", wp.AdminID)
	}
	id := wp.CreateUser(t, "ed", "Ed@Example.com", "Ed O'Neil <b>", "editor")
	db := wp.DB.DB(t, wp.DBName)
	// WordPress's own filters strip tags from display names.
	if got := queryString(t, db, "SELECT display_name FROM wp_users WHERE ID = ?", id); got != "Ed O'Neil" {
		t.Fatalf("display_name = %q; want %q", got, "Ed O'Neil")
	}
	caps := queryString(t, db, "SELECT meta_value FROM wp_usermeta WHERE user_id = ? AND meta_key = 'wp_capabilities'", id)
	if caps != `a:1:{s:6:"editor";b:1;}` {
		t.Fatalf("wp_capabilities = %q; want %q", caps, `a:1:{s:6:"editor";b:1;}`)
	}
	if got := wp.PHP(t, `echo get_option('siteurl');`); got != wp.SiteURL {
		t.Fatalf("get_option(siteurl) = %q; want %q", got, wp.SiteURL)
	}
	h := wp.Serve(t)
	if code, body := get(t, h.URL+"/wp-login.php"); code != 200 || !strings.Contains(body, "user_login") {
		t.Fatalf("GET /wp-login.php = %d (%d bytes); want 200 with a login form", code, len(body))
	}
}
