package bridge

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"pollchat/config"
	"pollchat/internal/testsvc"
)

// BenchmarkDirectoryGetCached is the hot path: a user already cached.
func BenchmarkDirectoryGetCached(b *testing.B) {
	d := NewDirectory(NewStaticSource(staticUsers(1000)), DirectoryConfig{})
	ctx := context.Background()
	if _, err := d.GetMany(ctx, []string{"1", "500"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Get(ctx, "500"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDirectoryGetCachedParallel(b *testing.B) {
	d := NewDirectory(NewStaticSource(staticUsers(1000)), DirectoryConfig{})
	ctx := context.Background()
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = strconv.Itoa(i + 1)
	}
	if _, err := d.GetMany(ctx, ids); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := d.Get(ctx, ids[i%len(ids)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// bulkWordPress is a WordPress site with n more subscribers; it returns
// their ids.
func bulkWordPress(b *testing.B, n int) (*testsvc.WordPress, []string) {
	b.Helper()
	wp := testsvc.InstallWordPress(b, testsvc.SharedMariaDB(b))
	out := wp.PHP(b, fmt.Sprintf(`for ($i = 0; $i < %d; $i++) { echo wp_insert_user(array('user_login' => "bulk$i", 'user_email' => "bulk$i@example.com", 'display_name' => "Bulk $i", 'user_pass' => 'x')), "\n"; }`, n))
	ids := strings.Fields(out)
	if len(ids) != n {
		b.Fatalf("bulk users: got %d ids", len(ids))
	}
	return wp, ids
}

// BenchmarkMySQLLookup100Cold is one round trip for 100 ids: the wordpress
// preset's query (users joined to their capabilities) on a real MariaDB.
func BenchmarkMySQLLookup100Cold(b *testing.B) {
	wp, ids := bulkWordPress(b, 100)
	src, err := NewMySQLSource(wpConfig(wp.DSN))
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	ctx := context.Background()
	if err := src.Check(ctx); err != nil {
		b.Fatal(err)
	}
	b.Run("source", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, err := src.Lookup(ctx, ids)
			if err != nil || len(m) != 100 {
				b.Fatalf("Lookup = %d users, %v", len(m), err)
			}
		}
	})
	b.Run("directory", func(b *testing.B) {
		d := NewDirectory(src, DirectoryConfig{})
		b.ReportAllocs()
		for b.Loop() {
			d.Invalidate(ids...)
			m, err := d.GetMany(ctx, ids)
			if err != nil || len(m) != 100 {
				b.Fatalf("GetMany = %d users, %v", len(m), err)
			}
		}
		if s := d.Stats(); s.Fetches != int64(b.N) {
			b.Fatalf("fetches = %d for %d cold GetMany; want one each", s.Fetches, b.N)
		}
	})
}

// BenchmarkHTTPLookup100Cold is one users-info call for 100 ids to the PHP
// endpoint (php -S, PDO on the same MariaDB).
func BenchmarkHTTPLookup100Cold(b *testing.B) {
	wp, ids := bulkWordPress(b, 100)
	dir := b.TempDir()
	php := testsvc.StartPHP(b, mustAbs(b, "testdata"),
		fmt.Sprintf("USERS_INFO_DSN=mysql:host=127.0.0.1;port=%d;dbname=%s;charset=utf8mb4", wp.DB.Port(), wp.DBName),
		"USERS_INFO_PREFIX=wp_", "USERS_INFO_LOGIN=u", "USERS_INFO_PASSWORD=p", "USERS_INFO_MODE="+dir+"/mode")
	src := NewHTTPSource(httpConfig(php.URL+"/users-info.php", "u", "p"))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		m, err := src.Lookup(ctx, ids)
		if err != nil || len(m) != 100 {
			b.Fatalf("Lookup = %d users, %v", len(m), err)
		}
	}
}

func wpConfig(dsn string) config.UsersMySQL {
	return config.UsersMySQL{DSN: dsn, Preset: "wordpress", SiteURL: "https://blog.example.org"}
}

func httpConfig(url, login, password string) config.UsersHTTP {
	return config.UsersHTTP{URL: url, Login: login, Password: password}
}

func mustAbs(b *testing.B, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		b.Fatal(err)
	}
	return a
}
