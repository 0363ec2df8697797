package bridge

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pollchat/config"
	"pollchat/internal/testsvc"
)

// wpSite is a WordPress site installed by WordPress itself, with users
// made by wp_insert_user.
type wpSite struct {
	wp                     *testsvc.WordPress
	admin, editor, sub, xs int
}

func newWPSite(t *testing.T, db *testsvc.MariaDB) *wpSite {
	t.Helper()
	wp := testsvc.InstallWordPress(t, db)
	s := &wpSite{wp: wp, admin: wp.AdminID}
	s.editor = wp.CreateUser(t, "eddie", " Eddie.Editor@Example.COM ", "Eddie Editor", "editor")
	s.sub = wp.CreateUser(t, "sub", "subscriber@example.com", "Zoë Subscriber", "subscriber")
	s.xs = wp.CreateUser(t, "xss", "xss@example.com", "placeholder", "subscriber")
	// WordPress strips tags from display names it saves; a site with older
	// data or another writer may still hold them. Names are data.
	db.Exec(t, wp.DBName, "UPDATE wp_users SET display_name = ? WHERE ID = ?", "<script>alert(1)</script>", s.xs)
	return s
}

func wpSource(t *testing.T, dsn, site string) *MySQLSource {
	t.Helper()
	src, err := NewMySQLSource(config.UsersMySQL{DSN: dsn, Preset: "wordpress", SiteURL: site})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// wpAvatars asks WordPress's own get_avatar_url for ids (https: as an SSL
// request).
func wpAvatars(t *testing.T, wp *testsvc.WordPress, https bool, ids ...int) map[string]string {
	t.Helper()
	code := ""
	if https {
		code = "$_SERVER['HTTPS'] = 'on';\n"
	}
	for _, id := range ids {
		code += fmt.Sprintf("echo %d, \"\\t\", get_avatar_url(%d), \"\\n\";\n", id, id)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(wp.PHP(t, code)), "\n") {
		if id, url, ok := strings.Cut(line, "\t"); ok {
			out[id] = url
		}
	}
	return out
}

func TestWordPressPreset(t *testing.T) {
	site := newWPSite(t, testsvc.SharedMariaDB(t))
	ctx := ctxT(t)
	for _, https := range []bool{false, true} {
		scheme := "http"
		if https {
			scheme = "https"
		}
		t.Run(scheme, func(t *testing.T) {
			home := scheme + "://blog.example.org"
			src := wpSource(t, site.wp.DSN, home+"/")
			if err := src.Check(ctx); err != nil {
				t.Fatalf("Check() = %v; want nil", err)
			}
			want := wpAvatars(t, site.wp, https, site.admin, site.editor, site.sub, site.xs)
			tests := []struct {
				id         int
				name, role string
			}{
				{site.admin, "User " + strconv.Itoa(site.admin), RoleAdmin}, // display name and nickname are the login
				{site.editor, "Eddie Editor", RoleMod},
				{site.sub, "Zoë Subscriber", RoleMember},
				{site.xs, "<script>alert(1)</script>", RoleMember},
			}
			ids := []string{"999999", "abc", "0"}
			for _, tt := range tests {
				ids = append(ids, strconv.Itoa(tt.id))
			}
			got, err := src.Lookup(ctx, ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tests) {
				t.Fatalf("Lookup(%v) returned %d users; want %d", ids, len(got), len(tests))
			}
			for _, tt := range tests {
				id := strconv.Itoa(tt.id)
				u := got[id]
				wantProfile := home + "/?author=" + id
				if u.ID != id || u.Name != tt.name || u.Role != tt.role || u.ProfileURL != wantProfile {
					t.Errorf("Lookup(%s) = %+v; want name %q role %q profile %q", id, u, tt.name, tt.role, wantProfile)
				}
				if u.AvatarURL != want[id] || want[id] == "" {
					t.Errorf("Lookup(%s).AvatarURL = %q; want WordPress's get_avatar_url %q", id, u.AvatarURL, want[id])
				}
			}
		})
	}

	t.Run("read-only column grants", func(t *testing.T) {
		// What the README tells a WordPress admin to grant.
		db, name := site.wp.DB, site.wp.DBName
		user := "pc_" + strconv.Itoa(site.xs) + "_" + strconv.Itoa(len(name))
		db.Exec(t, "", "CREATE USER '"+user+"'@'127.0.0.1' IDENTIFIED BY 'ro-password'")
		t.Cleanup(func() { db.Exec(t, "", "DROP USER '"+user+"'@'127.0.0.1'") })
		db.Exec(t, "", "GRANT SELECT (ID, display_name, user_email, user_nicename, user_status) ON `"+name+"`.wp_users TO '"+user+"'@'127.0.0.1'")
		db.Exec(t, "", "GRANT SELECT (user_id, meta_key, meta_value) ON `"+name+"`.wp_usermeta TO '"+user+"'@'127.0.0.1'")
		db.Exec(t, "", "GRANT SELECT (option_name, option_value) ON `"+name+"`.wp_options TO '"+user+"'@'127.0.0.1'")
		dsn := fmt.Sprintf("%s:ro-password@tcp(127.0.0.1:%d)/%s", user, db.Port(), name)
		src := wpSource(t, dsn, "https://blog.example.org")
		if err := src.Check(ctx); err != nil {
			t.Fatalf("Check() with column grants = %v; want nil", err)
		}
		got, err := src.Lookup(ctx, []string{strconv.Itoa(site.editor)})
		if err != nil || got[strconv.Itoa(site.editor)].Role != RoleMod {
			t.Fatalf("Lookup(editor) with column grants = %v, %v; want the editor as mod", got, err)
		}
	})

	t.Run("avatar options", func(t *testing.T) {
		db := site.wp.DB
		db.Exec(t, site.wp.DBName, "UPDATE wp_options SET option_value = 'identicon' WHERE option_name = 'avatar_default'")
		db.Exec(t, site.wp.DBName, "UPDATE wp_options SET option_value = 'PG' WHERE option_name = 'avatar_rating'")
		src := wpSource(t, site.wp.DSN, "http://blog.example.org")
		want := wpAvatars(t, site.wp, false, site.editor)
		got, err := src.Lookup(ctx, []string{strconv.Itoa(site.editor)})
		if err != nil {
			t.Fatal(err)
		}
		if a := got[strconv.Itoa(site.editor)].AvatarURL; a != want[strconv.Itoa(site.editor)] || !strings.Contains(a, "d=identicon") {
			t.Fatalf("AvatarURL with identicon/PG = %q; want WordPress's %q", a, want[strconv.Itoa(site.editor)])
		}
	})
}

func TestMySQLHostileIDsAreHarmless(t *testing.T) {
	site := newWPSite(t, testsvc.SharedMariaDB(t))
	src := wpSource(t, site.wp.DSN, "https://blog.example.org")
	ctx := ctxT(t)
	hostile := []string{
		"1 OR 1=1", "1' OR '1'='1", "1); DROP TABLE wp_users; --", "01", "1e0", "-1",
		"1 UNION SELECT 1,2,3,4,5", strconv.Itoa(site.admin) + " ", "0x1", "１",
	}
	got, err := src.Lookup(ctx, hostile)
	if err != nil {
		t.Fatalf("Lookup(hostile ids) = %v; want no error", err)
	}
	if len(got) != 0 {
		t.Fatalf("Lookup(hostile ids) = %v; want no users", got)
	}
	// The table is still there and still answers.
	got, err = src.Lookup(ctx, []string{strconv.Itoa(site.admin)})
	if err != nil || got[strconv.Itoa(site.admin)].Role != RoleAdmin {
		t.Fatalf("Lookup(admin) after hostile ids = %v, %v; want the admin", got, err)
	}

	// The custom preset takes any string id: still only parameters.
	src2 := customSource(t, site.wp.DSN, config.UsersMySQL{Table: "wp_users", IDColumn: "user_login", NameColumn: "display_name", EmailColumn: "user_email"})
	got, err = src2.Lookup(ctx, []string{"x' OR '1'='1", "admin' -- ", "admin\\", `admin"`})
	if err != nil || len(got) != 0 {
		t.Fatalf("custom Lookup(hostile logins) = %v, %v; want no users and no error", got, err)
	}
	got, err = src2.Lookup(ctx, []string{"admin"})
	if err != nil || got["admin"].Name != "admin" {
		t.Fatalf("custom Lookup(admin) = %v, %v; want the admin", got, err)
	}
}

func loadSQL(t *testing.T, db *testsvc.MariaDB, name, file string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	for _, s := range strings.Split(string(b), ";\n") {
		var lines []string
		for _, l := range strings.Split(s, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "--") {
				lines = append(lines, l)
			}
		}
		stmts = append(stmts, strings.Join(lines, "\n"))
	}
	db.ExecAll(t, name, stmts...)
}

func TestOctoberCMSPreset(t *testing.T) {
	db := testsvc.SharedMariaDB(t)
	ctx := ctxT(t)
	for _, schema := range []string{"v1", "v3"} {
		t.Run(schema, func(t *testing.T) {
			name := db.NewDatabaseName(t)
			loadSQL(t, db, name, "octobercms_"+schema+".sql")
			src, err := NewMySQLSource(config.UsersMySQL{DSN: db.DSN(name), Preset: "octobercms", SiteURL: "https://shop.example.com"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { src.Close() })
			if err := src.Check(ctx); err != nil {
				t.Fatalf("Check() = %v; want nil", err)
			}
			got, err := src.Lookup(ctx, []string{"1", "2", "3", "4", "5", "6", "7"})
			if err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				id, name, avatar string
				known            bool
			}{
				{"1", "Olga Petrova", "https://shop.example.com/storage/app/uploads/public/64a/1b2/c3d/64a1b2c3d4e5f6a7b8c9d0.png", true},
				{"2", "User 2", "https://www.gravatar.com/avatar/" + EmailMD5("ivan@example.com") + "?s=96&d=mm", true}, // "Ivan" is the username

				{"3", "", "", false}, // banned
				{"4", "", "", false}, // deleted
				{"5", "<script>alert(1)</script>", "https://www.gravatar.com/avatar/" + EmailMD5("xss@example.com") + "?s=96&d=mm", true},
				{"6", "User 6", "https://www.gravatar.com/avatar/" + EmailMD5("nameless@example.com") + "?s=96&d=mm", true}, // the username is never shown
				{"7", "", "", false}, // no such user
			}
			for _, tt := range tests {
				u, ok := got[tt.id]
				if ok != tt.known {
					t.Errorf("Lookup(%s) known = %v; want %v", tt.id, ok, tt.known)
					continue
				}
				if ok && (u.Name != tt.name || u.AvatarURL != tt.avatar || u.Role != RoleMember) {
					t.Errorf("Lookup(%s) = %+v; want name %q avatar %q role member", tt.id, u, tt.name, tt.avatar)
				}
			}
		})
	}
}

func TestOctoberPartition(t *testing.T) {
	tests := []struct{ disk, want string }{
		{"64a1b2c3d4e5f6a7b8c9d0.png", "64a/1b2/c3d/"},
		{"abcdefgh", "abc/def/gh/"},
		{"ab", "ab/"},
	}
	for _, tt := range tests {
		if got := OctoberPartition(tt.disk); got != tt.want {
			t.Errorf("OctoberPartition(%q) = %q; want %q", tt.disk, got, tt.want)
		}
	}
}

func customSource(t *testing.T, dsn string, c config.UsersMySQL) *MySQLSource {
	t.Helper()
	c.DSN, c.Preset = dsn, "custom"
	src, err := NewMySQLSource(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func TestCustomPreset(t *testing.T) {
	db := testsvc.SharedMariaDB(t)
	name := db.NewDatabaseName(t)
	db.Exec(t, name, "CREATE TABLE site_members (member_key VARCHAR(64) PRIMARY KEY, nick VARCHAR(100), mail VARCHAR(200), pic VARCHAR(200), level VARCHAR(20))")
	db.Exec(t, name, "INSERT INTO site_members VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?), (?, ?, ?, ?, ?)",
		"ann-1", "Ann", "Ann@Example.com", "ann.png", "administrator",
		"bob", "Bob <b>", "bob@example.com", nil, "moderator",
		"cy", "Cy", nil, nil, "")
	// An avatar column holding a javascript: URL is dropped, not served.
	db.Exec(t, name, "CREATE TABLE raw_members (id VARCHAR(64) PRIMARY KEY, nick VARCHAR(100), pic VARCHAR(200))")
	db.Exec(t, name, "INSERT INTO raw_members VALUES (?, ?, ?), (?, ?, ?), (?, ?, ?)",
		"js", "JS", "javascript:alert(1)", "data", "Data", "data:image/svg+xml,<svg onload=alert(1)>", "ok", "OK", "https://cdn.example.com/ok.png")
	raw := customSource(t, db.DSN(name), config.UsersMySQL{Table: "raw_members", IDColumn: "id", NameColumn: "nick", AvatarColumn: "pic"})
	rawGot, err := raw.Lookup(ctxT(t), []string{"js", "data", "ok"})
	if err != nil || len(rawGot) != 3 || rawGot["js"].AvatarURL != "" || rawGot["data"].AvatarURL != "" || rawGot["ok"].AvatarURL != "https://cdn.example.com/ok.png" {
		t.Errorf("Lookup(avatar column with javascript:/data:) = %+v, %v; want those dropped and the https one kept", rawGot, err)
	}
	src := customSource(t, db.DSN(name), config.UsersMySQL{
		TablePrefix: "site_", Table: "members", IDColumn: "member_key", NameColumn: "nick", EmailColumn: "mail",
		AvatarColumn: "pic", RoleColumn: "level",
		AvatarURL: "https://cdn.example.com/avatars/{avatar}", ProfileURL: "https://example.com/u/{id}?h={email_md5}",
	})
	ctx := ctxT(t)
	if err := src.Check(ctx); err != nil {
		t.Fatalf("Check() = %v; want nil", err)
	}
	got, err := src.Lookup(ctx, []string{"ann-1", "bob", "cy", "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]User{
		"ann-1": {ID: "ann-1", Name: "Ann", AvatarURL: "https://cdn.example.com/avatars/ann.png", ProfileURL: "https://example.com/u/ann-1?h=" + EmailMD5("ann@example.com"), Role: RoleAdmin},
		"bob":   {ID: "bob", Name: "Bob <b>", ProfileURL: "https://example.com/u/bob?h=" + EmailMD5("bob@example.com"), Role: RoleMod},
		"cy":    {ID: "cy", Name: "Cy", Role: RoleMember},
	}
	if len(got) != len(want) {
		t.Fatalf("Lookup = %v; want %d users", got, len(want))
	}
	for id, w := range want {
		if g := got[id]; g.ID != w.ID || g.Name != w.Name || g.AvatarURL != w.AvatarURL || g.ProfileURL != w.ProfileURL || g.Role != w.Role {
			t.Errorf("Lookup(%s) = %+v; want %+v", id, g, w)
		}
	}
}

func TestMySQLConfigRefusesHostileIdentifiers(t *testing.T) {
	base := config.UsersMySQL{DSN: "root@tcp(127.0.0.1:1)/site", Preset: "custom", Table: "users", IDColumn: "id", NameColumn: "name"}
	tests := []struct {
		key    string
		mutate func(c *config.UsersMySQL)
	}{
		{"users.mysql.table", func(c *config.UsersMySQL) { c.Table = "users`; DROP TABLE users; --" }},
		{"users.mysql.id_column", func(c *config.UsersMySQL) { c.IDColumn = "id` OR 1=1 --" }},
		{"users.mysql.name_column", func(c *config.UsersMySQL) { c.NameColumn = "name, password" }},
		{"users.mysql.email_column", func(c *config.UsersMySQL) { c.EmailColumn = "(SELECT password)" }},
		{"users.mysql.avatar_column", func(c *config.UsersMySQL) { c.AvatarColumn = "a b" }},
		{"users.mysql.role_column", func(c *config.UsersMySQL) { c.RoleColumn = "rôle" }},
		{"users.mysql.table_prefix", func(c *config.UsersMySQL) { c.TablePrefix = "wp_;" }},
		{"users.mysql.avatar_url", func(c *config.UsersMySQL) { c.AvatarURL = "https://x/{password}" }},
		{"users.mysql.preset", func(c *config.UsersMySQL) { c.Preset = "drupal" }},
		{"users.mysql.dsn", func(c *config.UsersMySQL) { c.DSN = "not a dsn" }},
		{"users.mysql.site_url", func(c *config.UsersMySQL) { c.SiteURL = "javascript:alert(1)" }},
		{"users.mysql.table", func(c *config.UsersMySQL) { c.Table = "" }},
	}
	for _, tt := range tests {
		c := base
		tt.mutate(&c)
		src, err := NewMySQLSource(c)
		if err == nil {
			src.Close()
			t.Errorf("NewMySQLSource(%s bad) = nil error; want one naming %s", tt.key, tt.key)
			continue
		}
		if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tt.key) {
			t.Errorf("NewMySQLSource(%s bad) = %v; want ErrBadConfig naming %s", tt.key, err, tt.key)
		}
	}
}

func TestMySQLCheckSaysWhatIsWrong(t *testing.T) {
	db := testsvc.SharedMariaDB(t)
	name := db.NewDatabaseName(t)
	db.Exec(t, name, "CREATE TABLE members (id INT PRIMARY KEY, nick VARCHAR(50))")
	dead := testsvc.FreePort(t)
	tests := []struct {
		cfg  config.UsersMySQL
		want string
	}{
		{config.UsersMySQL{DSN: db.DSN(name), Preset: "wordpress"}, "table wp_users not found"},
		{config.UsersMySQL{DSN: db.DSN(name), Preset: "octobercms"}, "table users not found"},
		{config.UsersMySQL{DSN: db.DSN(name), Preset: "custom", Table: "members", IDColumn: "id", NameColumn: "nickname"}, "has no column nickname"},
		{config.UsersMySQL{DSN: db.DSN(name), Preset: "custom", Table: "member", IDColumn: "id", NameColumn: "nick"}, "table member not found"},
		{config.UsersMySQL{DSN: fmt.Sprintf("root@tcp(127.0.0.1:%d)/x", dead), Preset: "wordpress"}, "cannot connect"},
	}
	for _, tt := range tests {
		src, err := NewMySQLSource(tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = CheckSource(context.Background(), src, 10*time.Second)
		src.Close()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Check(%+v) = %v; want an error saying %q", tt.cfg, err, tt.want)
		}
	}
}

// stmtExecutes reads MariaDB's count of executed prepared statements.
func stmtExecutes(t *testing.T, h *sql.DB) int {
	t.Helper()
	var k string
	var v int
	if err := h.QueryRowContext(ctxT(t), "SHOW GLOBAL STATUS LIKE 'Com_stmt_execute'").Scan(&k, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMySQLDirectoryBatchesAndCaches(t *testing.T) {
	db := testsvc.SharedMariaDB(t)
	site := newWPSite(t, db)
	first := site.wp.PHP(t, `for ($i = 0; $i < 40; $i++) { $id = wp_insert_user(array('user_login' => "bulk$i", 'user_email' => "bulk$i@example.com", 'display_name' => "Bulk $i", 'user_pass' => 'x')); if ($i == 0) echo $id; }`)
	base, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		t.Fatalf("bulk users: %q", first)
	}
	src := wpSource(t, site.wp.DSN, "https://blog.example.org")
	ctx := ctxT(t)
	if err := src.Check(ctx); err != nil { // prepares the plan outside the count
		t.Fatal(err)
	}
	d := NewDirectory(src, DirectoryConfig{Tick: 300 * time.Millisecond})
	admin := db.DB(t, "")
	before := stmtExecutes(t, admin)

	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 80)
	for i := 0; i < 80; i++ {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			<-start
			u, err := d.Get(ctx, id)
			if err == nil && u.Name == "" {
				err = fmt.Errorf("Get(%s) has no name", id)
			}
			errs <- err
		}(strconv.Itoa(base + i%40))
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := stmtExecutes(t, admin) - before; got != 1 {
		t.Fatalf("80 concurrent Gets of 40 ids executed %d statements in MariaDB; want 1", got)
	}

	// Inside the TTL the directory does not reach MySQL at all.
	before = stmtExecutes(t, admin)
	for i := 0; i < 40; i++ {
		if _, err := d.Get(ctx, strconv.Itoa(base+i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.GetMany(ctx, []string{strconv.Itoa(base), strconv.Itoa(base + 39)}); err != nil {
		t.Fatal(err)
	}
	if got := stmtExecutes(t, admin) - before; got != 0 {
		t.Fatalf("cached lookups executed %d statements in MariaDB; want 0", got)
	}
}

func TestMySQLStaleWhileMariaDBDown(t *testing.T) {
	db := testsvc.NewMariaDB(t)
	site := newWPSite(t, db)
	src := wpSource(t, site.wp.DSN, "https://blog.example.org")
	log, buf := testLogger()
	d := NewDirectory(src, DirectoryConfig{TTL: 5 * time.Millisecond, Tick: time.Millisecond, RetryAfter: 5 * time.Millisecond, Timeout: 5 * time.Second, Log: log})
	ctx := ctxT(t)
	ed := strconv.Itoa(site.editor)
	if u, err := d.Get(ctx, ed); err != nil || u.Name != "Eddie Editor" {
		t.Fatalf("Get(editor) = %q, %v; want %q", u.Name, err, "Eddie Editor")
	}
	db.Kill()
	time.Sleep(10 * time.Millisecond) // past the TTL
	for i := 0; i < 10; i++ {
		u, err := d.Get(ctx, ed)
		if err != nil || u.Name != "Eddie Editor" || u.Role != RoleMod {
			t.Fatalf("Get(editor) with MariaDB killed = %+v, %v; want the stale Eddie Editor (mod)", u, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := d.Get(ctx, strconv.Itoa(site.sub)); !errors.Is(err, ErrSourceDown) {
		t.Fatalf("Get(never cached) with MariaDB killed = %v; want ErrSourceDown", err)
	}
	if d.Stats().FetchErrors == 0 || !d.Down() {
		t.Fatalf("Stats() = %+v, Down() = %v; want failed refreshes and Down", d.Stats(), d.Down())
	}
	if got := strings.Count(buf.String(), "user source down"); got != 1 {
		t.Fatalf("outage logged %d times; want once:\n%s", got, buf)
	}

	if err := db.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	deadline := time.Now().Add(30 * time.Second)
	for {
		u, err := d.Get(ctx, strconv.Itoa(site.sub))
		if err == nil && u.Name == "Zoë Subscriber" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get(subscriber) after MariaDB restart = %+v, %v; want Zoë Subscriber", u, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := strings.Count(buf.String(), "user source back"); got != 1 {
		t.Fatalf("recovery logged %d times; want once:\n%s", got, buf)
	}
}

func TestOctoberCMSUpgradeWhileRunning(t *testing.T) {
	db := testsvc.SharedMariaDB(t)
	name := db.NewDatabaseName(t)
	loadSQL(t, db, name, "octobercms_v1.sql")
	src, err := NewMySQLSource(config.UsersMySQL{DSN: db.DSN(name), Preset: "octobercms", SiteURL: "https://shop.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	ctx := ctxT(t)
	if got, err := src.Lookup(ctx, []string{"1"}); err != nil || got["1"].Name != "Olga Petrova" {
		t.Fatalf("Lookup(1) on v1 = %v, %v; want Olga Petrova", got, err)
	}
	// RainLab.User 3's upgrade copies name/surname to first_name/last_name;
	// a site that then drops the old columns must keep working.
	db.ExecAll(t, name,
		"ALTER TABLE users ADD first_name VARCHAR(255) NULL, ADD last_name VARCHAR(255) NULL, ADD banned_at TIMESTAMP NULL",
		"UPDATE users SET first_name = name, last_name = surname",
		"UPDATE users SET first_name = 'Olga', last_name = 'Ivanova' WHERE id = 1",
		"ALTER TABLE users DROP COLUMN surname, DROP COLUMN name",
	)
	var last error
	for range 3 { // the first may fail: the statement's columns are gone
		got, err := src.Lookup(ctx, []string{"1"})
		if err == nil && got["1"].Name == "Olga Ivanova" {
			return
		}
		last = err
	}
	t.Fatalf("Lookup(1) after the upgrade to v3 never answered Olga Ivanova; last error %v", last)
}

func TestOctoberCMSReadOnlyGrants(t *testing.T) {
	// What the README tells an OctoberCMS admin to grant.
	db := testsvc.SharedMariaDB(t)
	ctx := ctxT(t)
	for _, schema := range []string{"v1", "v3"} {
		t.Run(schema, func(t *testing.T) {
			name := db.NewDatabaseName(t)
			loadSQL(t, db, name, "octobercms_"+schema+".sql")
			user := "oc_" + schema + "_" + strconv.Itoa(len(name))
			db.Exec(t, "", "CREATE USER '"+user+"'@'127.0.0.1' IDENTIFIED BY 'ro-password'")
			t.Cleanup(func() { db.Exec(t, "", "DROP USER '"+user+"'@'127.0.0.1'") })
			tables := []string{"users", "system_files"}
			if schema == "v1" {
				tables = append(tables, "user_throttle")
			}
			for _, tbl := range tables {
				db.Exec(t, "", "GRANT SELECT ON `"+name+"`."+tbl+" TO '"+user+"'@'127.0.0.1'")
			}
			src, err := NewMySQLSource(config.UsersMySQL{DSN: fmt.Sprintf("%s:ro-password@tcp(127.0.0.1:%d)/%s", user, db.Port(), name), Preset: "octobercms", SiteURL: "https://shop.example.com"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { src.Close() })
			if err := src.Check(ctx); err != nil {
				t.Fatalf("Check() with read-only grants = %v; want nil", err)
			}
			got, err := src.Lookup(ctx, []string{"1", "3"})
			if err != nil || got["1"].Name != "Olga Petrova" || len(got) != 1 {
				t.Fatalf("Lookup(1, 3) with read-only grants = %v, %v; want Olga Petrova only (3 is banned)", got, err)
			}
		})
	}
}

// TestWordPressShutOutMembersAreUnknown: members a WordPress site marked as
// spam or deleted (multisite's wp_users columns, older releases'
// user_status) are unknown, so the chat refuses them.
func TestWordPressShutOutMembersAreUnknown(t *testing.T) {
	db := testsvc.SharedMariaDB(t)
	site := newWPSite(t, db)
	wp := site.wp
	spammer := wp.CreateUser(t, "spammer", "spam@example.com", "Spammer", "subscriber")
	gone := wp.CreateUser(t, "gone", "gone@example.com", "Gone", "subscriber")
	oldSpam := wp.CreateUser(t, "oldspam", "oldspam@example.com", "Old Spam", "subscriber")
	// The columns a multisite network adds to wp_users, as WordPress's
	// network install creates them.
	db.Exec(t, wp.DBName, "ALTER TABLE wp_users ADD spam tinyint(2) NOT NULL DEFAULT 0, ADD deleted tinyint(2) NOT NULL DEFAULT 0")
	db.Exec(t, wp.DBName, "UPDATE wp_users SET spam = 1 WHERE ID = ?", spammer)
	db.Exec(t, wp.DBName, "UPDATE wp_users SET deleted = 1 WHERE ID = ?", gone)
	db.Exec(t, wp.DBName, "UPDATE wp_users SET user_status = 1 WHERE ID = ?", oldSpam)
	src := wpSource(t, wp.DSN, "https://blog.example.org")
	ctx := ctxT(t)
	if err := src.Check(ctx); err != nil {
		t.Fatalf("Check() on a multisite wp_users = %v; want nil", err)
	}
	ids := []string{strconv.Itoa(site.editor), strconv.Itoa(spammer), strconv.Itoa(gone), strconv.Itoa(oldSpam)}
	got, err := src.Lookup(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[strconv.Itoa(site.editor)].Name != "Eddie Editor" {
		t.Fatalf("Lookup(editor, spam, deleted, user_status 1) = %v; want the editor only", got)
	}
	// Through the directory: the contract the chat relies on.
	d := NewDirectory(src, DirectoryConfig{Tick: time.Millisecond})
	for _, id := range ids[1:] {
		if _, err := d.Get(ctx, id); !errors.Is(err, ErrUnknownUser) {
			t.Errorf("Directory.Get(%s) of a shut-out member = %v; want ErrUnknownUser", id, err)
		}
	}
	// Unmarked, the member is known again (after the cache is dropped).
	db.Exec(t, wp.DBName, "UPDATE wp_users SET spam = 0 WHERE ID = ?", spammer)
	d.Invalidate(strconv.Itoa(spammer))
	if u, err := d.Get(ctx, strconv.Itoa(spammer)); err != nil || u.Name != "User "+strconv.Itoa(spammer) {
		t.Errorf("Get(spammer) after unmarking = %+v, %v; want User %d (the display name is the login)", u, err, spammer)
	}
}

// TestOctoberCMSIsBannedColumn: a RainLab.User table with an is_banned
// flag (as some versions and forks have) hides banned members.
func TestOctoberCMSIsBannedColumn(t *testing.T) {
	db := testsvc.SharedMariaDB(t)
	ctx := ctxT(t)
	for _, schema := range []string{"v1", "v3"} {
		t.Run(schema, func(t *testing.T) {
			name := db.NewDatabaseName(t)
			loadSQL(t, db, name, "octobercms_"+schema+".sql")
			db.ExecAll(t, name,
				"ALTER TABLE users ADD is_banned tinyint(1) NOT NULL DEFAULT 0",
				"UPDATE users SET is_banned = 1 WHERE id = 2",
			)
			src, err := NewMySQLSource(config.UsersMySQL{DSN: db.DSN(name), Preset: "octobercms", SiteURL: "https://shop.example.com"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { src.Close() })
			d := NewDirectory(src, DirectoryConfig{Tick: time.Millisecond})
			for _, tt := range []struct {
				id    string
				known bool
			}{{"1", true}, {"2", false}, {"3", false}, {"4", false}, {"5", true}} {
				_, err := d.Get(ctx, tt.id)
				if tt.known && err != nil || !tt.known && !errors.Is(err, ErrUnknownUser) {
					t.Errorf("Get(%s) = %v; want known %v (2 is_banned, 3 banned, 4 deleted)", tt.id, err, tt.known)
				}
			}
		})
	}
}
