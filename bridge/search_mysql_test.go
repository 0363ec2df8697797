package bridge

import (
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"pollchat/config"
	"pollchat/internal/testsvc"
)

func names(users []User) string {
	var s []string
	for _, u := range users {
		s = append(s, u.Name)
	}
	return strings.Join(s, "|")
}

// TestWordPressSearch: members are found by the name they are shown by,
// never by login or email, and never when the site shut them out.
func TestWordPressSearch(t *testing.T) {
	db := testsvc.SharedMariaDB(t)
	site := newWPSite(t, db)
	wp := site.wp
	visible := wp.CreateUser(t, "hiddenlogin", "secretmail@example.com", "Visible Name", "subscriber")
	// WordPress sets display name and nickname to the login by default.
	loginOnly := wp.CreateUser(t, "mlogin77", "m77@example.com", "mlogin77", "subscriber")
	johnny := wp.CreateUser(t, "jdoe", "jdoe@example.com", "jdoe", "subscriber")
	wp.PHP(t, fmt.Sprintf(`update_user_meta(%d, 'nickname', 'Johnny Walker');`, johnny))
	mailName := wp.CreateUser(t, "carol", "carol.secret@example.com", "carol.secret@example.com", "subscriber")
	pct := wp.CreateUser(t, "pct", "pct@example.com", "Percent 100% Sure", "subscriber")
	under := wp.CreateUser(t, "under", "under@example.com", "Under_Score Fan", "subscriber")
	back := wp.CreateUser(t, "back", "back@example.com", `Back\Slash Wow! Yes`, "subscriber")
	spammer := wp.CreateUser(t, "spammer", "spam@example.com", "Spammy Sam", "subscriber")
	gone := wp.CreateUser(t, "gone", "gone@example.com", "Gone Girl", "subscriber")
	oldSpam := wp.CreateUser(t, "oldspam", "oldspam@example.com", "Old Spammer", "subscriber")
	wp.PHP(t, `for ($i = 0; $i < 25; $i++) { wp_insert_user(array('user_login' => "bulk$i", 'user_email' => "bulk$i@example.com", 'display_name' => "Bulk Member $i", 'user_pass' => 'x')); }`)
	db.Exec(t, wp.DBName, "ALTER TABLE wp_users ADD spam tinyint(2) NOT NULL DEFAULT 0, ADD deleted tinyint(2) NOT NULL DEFAULT 0")
	db.Exec(t, wp.DBName, "UPDATE wp_users SET spam = 1 WHERE ID = ?", spammer)
	db.Exec(t, wp.DBName, "UPDATE wp_users SET deleted = 1 WHERE ID = ?", gone)
	db.Exec(t, wp.DBName, "UPDATE wp_users SET user_status = 1 WHERE ID = ?", oldSpam)

	src := wpSource(t, wp.DSN, "https://blog.example.org")
	ctx := ctxT(t)
	id := strconv.Itoa
	tests := []struct {
		q     string
		limit int
		want  string // ids
	}{
		{"visible", 10, id(visible)},
		{"VISIBLE NA", 10, id(visible)}, // case, across words
		{"name", 10, id(visible)},       // word prefix
		{"isible", 10, ""},              // not inside a word
		{"hiddenlogin", 10, ""},         // the login
		{"hidden", 10, ""},              //
		{"secretmail", 10, ""},          // the email
		{"secretmail@example.com", 10, ""},
		{"mlogin", 10, ""},         // display name and nickname are the login: "User N"
		{"user", 10, ""},           // nor by "User N"
		{"jdoe", 10, ""},           // the login, though it is the display name
		{"johnny", 10, id(johnny)}, // by the nickname shown instead
		{"walk", 10, id(johnny)},
		{"carol", 10, ""},         // an email as the display name
		{"zoe", 10, id(site.sub)}, // the collation ignores accents; so does the check
		{"ZOË SUB", 10, id(site.sub)},
		{"eddie editor", 10, id(site.editor)},
		{"eddie.editor", 10, ""},
		{"<script>", 10, id(site.xs)},
		{"%", 10, ""}, // escaped: no name has a word starting with %
		{"%%", 10, ""},
		{"_", 10, ""},
		{"_a", 10, ""}, // unescaped, "Walker", "Fan"… would match
		{"100%", 10, id(pct)},
		{"100", 10, id(pct)},
		{"0%", 10, ""},
		{"under_", 10, id(under)},
		{"under_s", 10, id(under)},
		{`back\`, 10, id(back)},
		{`back\s`, 10, id(back)},
		{`back\x`, 10, ""},
		{"wow!", 10, id(back)},
		{"wow!!", 10, ""},
		{"spammy", 10, ""},   // spam
		{"gone", 10, ""},     // deleted
		{"old spam", 10, ""}, // user_status
		{"admin", 10, ""},    // the admin's names are the login
	}
	for _, tt := range tests {
		got, err := src.Search(ctx, tt.q, tt.limit)
		if err != nil || ids(got) != tt.want {
			t.Errorf("Search(%q) = [%s] (%s), %v; want [%s]", tt.q, ids(got), names(got), err, tt.want)
		}
	}
	_, _ = loginOnly, mailName

	// Limits: the caller's, and never more than MaxSearchLimit.
	if got, err := src.Search(ctx, "bulk member", 5); err != nil || len(got) != 5 {
		t.Errorf("Search(bulk member, 5) = %d users, %v; want 5", len(got), err)
	}
	got, err := src.Search(ctx, "bulk", 100)
	if err != nil || len(got) != MaxSearchLimit {
		t.Errorf("Search(bulk, 100) = %d users, %v; want %d", len(got), err, MaxSearchLimit)
	}
	for _, u := range got {
		if !strings.HasPrefix(u.Name, "Bulk Member ") || u.Role != RoleMember || !strings.HasPrefix(u.AvatarURL, "https://secure.gravatar.com/avatar/") {
			t.Errorf("Search(bulk) found %+v; want a Bulk Member as Lookup gives it", u)
		}
	}

	// Through the directory, which caches what it found.
	d := NewDirectory(src, DirectoryConfig{})
	found, err := d.Search(ctx, "Johnny", 5)
	if err != nil || ids(found) != id(johnny) || found[0].Name != "Johnny Walker" {
		t.Fatalf("Directory.Search(Johnny) = %+v, %v; want Johnny Walker", found, err)
	}
	if _, err := d.Get(ctx, id(johnny)); err != nil || d.Stats().Fetches != 0 {
		t.Fatalf("Get(johnny) after the search = %v, %+v; want it from the cache", err, d.Stats())
	}

	t.Run("explain", func(t *testing.T) {
		plan, err := src.getPlan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rows := explain(t, db.DB(t, wp.DBName), plan.search, "vis%", "% vis%", "vis%", "% vis%", 40)
		// wp_users has no index on display_name: the scan follows the
		// primary key (no filesort) and stops at the LIMIT; the nickname is
		// one indexed lookup per member.
		for _, r := range rows {
			t.Logf("EXPLAIN %s", r)
		}
		if len(rows) != 2 || !strings.Contains(rows[0], "table=u") || strings.Contains(rows[0], "filesort") ||
			!strings.Contains(rows[1], "table=n") || strings.Contains(rows[1], "type=ALL") {
			t.Fatalf("EXPLAIN of the search = %q; want wp_users by its primary key order and wp_usermeta by index", rows)
		}
	})
}

// explain runs EXPLAIN on query and returns one "key=value …" line per row.
func explain(t *testing.T, h *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := h.QueryContext(ctxT(t), "EXPLAIN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for i, c := range cols {
			parts = append(parts, c+"="+vals[i].String)
		}
		out = append(out, strings.Join(parts, " "))
	}
	return out
}

func TestOctoberCMSSearch(t *testing.T) {
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
			tests := []struct{ q, want string }{
				{"olga", "1"},
				{"pet", "1"},
				{"olga petrova", "1"},
				{"OLGA P", "1"},
				{"etrova", ""},
				{"olga@", ""},        // the email
				{"ivan", ""},         // "Ivan" is the username: shown as User 2
				{"banned", ""},       // banned
				{"deleted", ""},      // soft-deleted
				{"user", ""},         // "Banned User", "Deleted User", "User N"
				{"nameless", ""},     // the username alone
				{"<scr", "5"},        //
				{"%", ""}, {"_", ""}, // escaped
			}
			for _, tt := range tests {
				got, err := src.Search(ctx, tt.q, 10)
				if err != nil || ids(got) != tt.want {
					t.Errorf("Search(%q) = [%s] (%s), %v; want [%s]", tt.q, ids(got), names(got), err, tt.want)
				}
			}
			got, err := src.Search(ctx, "olga", 1)
			if err != nil || len(got) != 1 || got[0].Name != "Olga Petrova" || !strings.Contains(got[0].AvatarURL, "64a1b2c3d4e5f6a7b8c9d0.png") {
				t.Errorf("Search(olga) = %+v, %v; want Olga Petrova as Lookup gives her", got, err)
			}
		})
	}
}

func TestCustomSearch(t *testing.T) {
	db := testsvc.SharedMariaDB(t)
	name := db.NewDatabaseName(t)
	db.Exec(t, name, "CREATE TABLE members (id VARCHAR(64) PRIMARY KEY, nick VARCHAR(100), KEY nick (nick))")
	db.Exec(t, name, "INSERT INTO members VALUES (?, ?), (?, ?), (?, ?), (?, ?), (?, ?)",
		"ann-1", "Ann", "bob", "Bob <b>", "cy", "Cy Young", "pct", "50% Off", "nul", nil)
	src := customSource(t, db.DSN(name), config.UsersMySQL{Table: "members", IDColumn: "id", NameColumn: "nick"})
	ctx := ctxT(t)
	for _, tt := range []struct{ q, want string }{
		{"an", "ann-1"}, {"bo", "bob"}, {"young", "cy"}, {"oung", ""},
		{"%", ""}, {"_", ""}, {"50%", "pct"}, {"off", "pct"}, {"ann-1", ""},
	} {
		got, err := src.Search(ctx, tt.q, 10)
		if err != nil || ids(got) != tt.want {
			t.Errorf("Search(%q) = [%s], %v; want [%s]", tt.q, ids(got), err, tt.want)
		}
	}
}
