package bridge

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"pollchat/config"
)

// MySQLSource reads users from the host site's own tables: a WordPress
// site (preset wordpress), an OctoberCMS site with RainLab.User (preset
// octobercms, either schema), or any users table (preset custom). Ids go to
// MySQL as query parameters only, many at once (WHERE id IN (?,?,…)) with
// one prepared statement per batch size.
type MySQLSource struct {
	db      *sql.DB
	cfg     config.UsersMySQL
	prefix  string
	siteURL string

	mu   sync.Mutex
	plan *mysqlPlan // built at first use (schema detection), then kept
}

var (
	_ Source  = (*MySQLSource)(nil)
	_ Checker = (*MySQLSource)(nil)
	_ Closer  = (*MySQLSource)(nil)
)

// ErrBadConfig is wrapped by errors about the users.mysql settings.
var ErrBadConfig = errors.New("bridge: bad users config")

var (
	identRe  = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)
	prefixRe = regexp.MustCompile(`^[A-Za-z0-9_]{0,64}$`)
	tmplRe   = regexp.MustCompile(`\{[^{}]*\}`)
	numID    = regexp.MustCompile(`^[1-9][0-9]{0,19}$`)
)

// OctoberUserModel is the attachment_type of RainLab.User's avatars in
// system_files.
const OctoberUserModel = `RainLab\User\Models\User`

// NewMySQLSource checks the settings and opens a connection pool (without
// connecting: Check or the first Lookup does).
func NewMySQLSource(cfg config.UsersMySQL) (*MySQLSource, error) {
	var probs []string
	bad := func(key, format string, a ...any) {
		probs = append(probs, "users.mysql."+key+": "+fmt.Sprintf(format, a...))
	}
	switch cfg.Preset {
	case "wordpress":
		if cfg.TablePrefix == "" {
			cfg.TablePrefix = "wp_"
		}
	case "octobercms":
	case "custom":
		if cfg.Table == "" {
			bad("table", "missing for preset custom")
		}
		if cfg.IDColumn == "" {
			bad("id_column", "missing for preset custom")
		}
		if cfg.NameColumn == "" {
			bad("name_column", "missing for preset custom")
		}
	default:
		bad("preset", "want wordpress, octobercms or custom, got %q", cfg.Preset)
	}
	if !prefixRe.MatchString(cfg.TablePrefix) {
		bad("table_prefix", "not a plain identifier prefix (letters, digits, underscore): %q", cfg.TablePrefix)
	}
	for _, f := range []struct{ key, v string }{
		{"table", cfg.Table}, {"id_column", cfg.IDColumn}, {"name_column", cfg.NameColumn},
		{"email_column", cfg.EmailColumn}, {"avatar_column", cfg.AvatarColumn}, {"role_column", cfg.RoleColumn},
	} {
		if f.v != "" && !identRe.MatchString(f.v) {
			bad(f.key, "not a plain identifier (letters, digits, underscore): %q", f.v)
		}
	}
	if cfg.Preset == "custom" && len(cfg.TablePrefix)+len(cfg.Table) > 64 {
		bad("table", "table_prefix + table is longer than 64 characters")
	}
	for _, f := range []struct{ key, v string }{{"avatar_url", cfg.AvatarURL}, {"profile_url", cfg.ProfileURL}} {
		for _, ph := range tmplRe.FindAllString(f.v, -1) {
			if ph != "{id}" && ph != "{email_md5}" && ph != "{avatar}" {
				bad(f.key, "unknown placeholder %s (want {id}, {email_md5} or {avatar})", ph)
			}
		}
	}
	if cfg.SiteURL != "" {
		if u, err := url.Parse(cfg.SiteURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("site_url", "want the site's home URL like https://example.com, got %q", cfg.SiteURL)
		}
	}
	dsn, err := mysql.ParseDSN(cfg.DSN)
	if err != nil {
		bad("dsn", "%v (want user:password@tcp(host:3306)/database)", err)
	} else if dsn.DBName == "" {
		bad("dsn", "no database name (want user:password@tcp(host:3306)/database)")
	}
	if len(probs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrBadConfig, strings.Join(probs, "; "))
	}
	if dsn.Timeout == 0 {
		dsn.Timeout = 5 * time.Second
	}
	if dsn.ReadTimeout == 0 {
		dsn.ReadTimeout = 15 * time.Second
	}
	if dsn.WriteTimeout == 0 {
		dsn.WriteTimeout = 15 * time.Second
	}
	dsn.MultiStatements = false
	dsn.InterpolateParams = false
	connector, err := mysql.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: users.mysql.dsn: %v", ErrBadConfig, err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(4)
	db.SetConnMaxLifetime(3 * time.Minute)
	db.SetConnMaxIdleTime(time.Minute)
	return &MySQLSource{
		db:      db,
		cfg:     cfg,
		prefix:  cfg.TablePrefix,
		siteURL: strings.TrimRight(cfg.SiteURL, "/"),
	}, nil
}

// Close closes the connection pool.
func (s *MySQLSource) Close() error { return s.db.Close() }

func quoteIdent(name string) string { return "`" + name + "`" }

// mysqlPlan is the query of a preset, once the schema is known.
type mysqlPlan struct {
	head   string // SELECT … WHERE <id> IN (
	tail   string // ) [AND …]
	before []any  // parameters before the ids
	// search is the query of Search: parameters prefix, word prefix
	// (LIKE patterns, escaped with '!') and a LIMIT; it selects ids only.
	search string
	// searchPairs is how many (prefix, word prefix) pairs search takes;
	// zero means one.
	searchPairs int
	intIDs      bool // ids are integers: others are unknown without asking
	scan        func(rows *sql.Rows, out map[string]User) error

	stmts map[int]*sql.Stmt // by batch size; guarded by MySQLSource.mu
	dead  bool              // the schema changed under it
}

// Lookup returns the known users among ids.
func (s *MySQLSource) Lookup(ctx context.Context, ids []string) (map[string]User, error) {
	plan, err := s.getPlan(ctx)
	if err != nil {
		return nil, err
	}
	want := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] || (plan.intIDs && !numID.MatchString(id)) || config.ValidUserID(id) != nil {
			continue
		}
		seen[id] = true
		want = append(want, id)
	}
	out := make(map[string]User, len(want))
	for len(want) > 0 {
		n := min(len(want), MaxBatch)
		if err := s.query(ctx, plan, want[:n], out); err != nil {
			return nil, err
		}
		want = want[n:]
	}
	for id, u := range out {
		if !seen[id] {
			delete(out, id) // e.g. "1" asked as "01": only exact ids answer
			continue
		}
		// A column or template may hold javascript: or data: URLs.
		u.AvatarURL, u.ProfileURL = SafeURL(u.AvatarURL), SafeURL(u.ProfileURL)
		out[id] = u
	}
	return out, nil
}

// bucket rounds a batch size up so that few statements are prepared.
func bucket(n int) int {
	for _, b := range []int{1, 4, 16, 50, MaxBatch} {
		if n <= b {
			return b
		}
	}
	return n
}

func (s *MySQLSource) query(ctx context.Context, plan *mysqlPlan, ids []string, out map[string]User) error {
	size := bucket(len(ids))
	stmt, err := s.stmt(ctx, plan, size)
	if err != nil {
		return err
	}
	args := make([]any, 0, len(plan.before)+size)
	args = append(args, plan.before...)
	for i := 0; i < size; i++ {
		args = append(args, ids[min(i, len(ids)-1)]) // padded with the last id
	}
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		s.forgetPlanIfSchemaChanged(plan, err)
		return fmt.Errorf("bridge: mysql users query: %w", err)
	}
	defer rows.Close()
	if err := plan.scan(rows, out); err != nil {
		return fmt.Errorf("bridge: mysql users query: %w", err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("bridge: mysql users query: %w", err)
	}
	return nil
}

// forgetPlanIfSchemaChanged drops the plan and its statements when MySQL
// says a table or column is gone (the site was upgraded, e.g. RainLab.User
// 1 to 3), so that the next Lookup detects the schema again.
func (s *MySQLSource) forgetPlanIfSchemaChanged(plan *mysqlPlan, err error) {
	var me *mysql.MySQLError
	if !errors.As(err, &me) || (me.Number != 1054 && me.Number != 1146) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.plan == plan {
		s.plan = nil
	}
	plan.dead = true
	for size, st := range plan.stmts {
		st.Close()
		delete(plan.stmts, size)
	}
}

// stmt returns plan's statement for size ids, prepared once.
func (s *MySQLSource) stmt(ctx context.Context, plan *mysqlPlan, size int) (*sql.Stmt, error) {
	q := plan.head + strings.TrimSuffix(strings.Repeat("?,", size), ",") + plan.tail
	return s.prepare(ctx, plan, size, q)
}

// prepare returns plan's statement under key (a batch size, or
// searchKey), preparing q once.
func (s *MySQLSource) prepare(ctx context.Context, plan *mysqlPlan, key int, q string) (*sql.Stmt, error) {
	s.mu.Lock()
	st, ok := plan.stmts[key]
	dead := plan.dead
	s.mu.Unlock()
	if ok {
		return st, nil
	}
	if dead {
		return nil, errors.New("bridge: mysql: the users tables changed; looking again")
	}
	st, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		s.forgetPlanIfSchemaChanged(plan, err)
		return nil, fmt.Errorf("bridge: mysql prepare users query: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := plan.stmts[key]; ok || plan.dead { // lost a race
		st.Close()
		if plan.dead {
			return nil, errors.New("bridge: mysql: the users tables changed; looking again")
		}
		return prev, nil
	}
	plan.stmts[key] = st
	return st, nil
}

func (s *MySQLSource) getPlan(ctx context.Context) (*mysqlPlan, error) {
	s.mu.Lock()
	p := s.plan
	s.mu.Unlock()
	if p != nil {
		return p, nil
	}
	var err error
	switch s.cfg.Preset {
	case "wordpress":
		p, err = s.wordpressPlan(ctx)
	case "octobercms":
		p, err = s.octoberPlan(ctx)
	default:
		p, err = s.customPlan(ctx)
	}
	if err != nil {
		return nil, err
	}
	p.stmts = map[int]*sql.Stmt{}
	s.mu.Lock()
	if s.plan == nil {
		s.plan = p
	}
	p = s.plan
	s.mu.Unlock()
	return p, nil
}

// columns returns the columns of table in the DSN's database (nil: no table).
func (s *MySQLSource) columns(ctx context.Context, table string) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", table)
	if err != nil {
		return nil, fmt.Errorf("bridge: mysql: %w", err)
	}
	defer rows.Close()
	var cols map[string]bool
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("bridge: mysql: %w", err)
		}
		if cols == nil {
			cols = map[string]bool{}
		}
		cols[strings.ToLower(c)] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("bridge: mysql: %w", err)
	}
	return cols, nil
}

// tableProblem says what is missing from table (nil: all there).
func (s *MySQLSource) tableProblem(ctx context.Context, key, table string, want ...string) error {
	cols, err := s.columns(ctx, table)
	if err != nil {
		return err
	}
	if cols == nil {
		return fmt.Errorf("bridge: %s: table %s not found in database %q", key, table, s.dbName(ctx))
	}
	var missing []string
	for _, c := range want {
		if c != "" && !cols[strings.ToLower(c)] {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		have := make([]string, 0, len(cols))
		for c := range cols {
			have = append(have, c)
		}
		sort.Strings(have)
		return fmt.Errorf("bridge: %s: table %s has no column %s (it has %s)", key, table, strings.Join(missing, ", "), strings.Join(have, ", "))
	}
	return nil
}

func (s *MySQLSource) dbName(ctx context.Context) string {
	var n sql.NullString
	_ = s.db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&n)
	return n.String
}

// Check connects and verifies that the preset's tables and columns exist.
func (s *MySQLSource) Check(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("bridge: users.mysql.dsn: cannot connect: %w", err)
	}
	p := s.prefix
	switch s.cfg.Preset {
	case "wordpress":
		if err := s.tableProblem(ctx, "users.mysql (preset wordpress, table_prefix "+strconv.Quote(p)+")", p+"users", "ID", "display_name", "user_email", "user_nicename"); err != nil {
			return err
		}
		if err := s.tableProblem(ctx, "users.mysql (preset wordpress)", p+"usermeta", "user_id", "meta_key", "meta_value"); err != nil {
			return err
		}
	case "octobercms":
		cols, err := s.columns(ctx, p+"users")
		if err != nil {
			return err
		}
		if cols == nil {
			return fmt.Errorf("bridge: users.mysql (preset octobercms): table %susers not found in database %q (is RainLab.User installed? is users.mysql.table_prefix right?)", p, s.dbName(ctx))
		}
		if !cols["id"] || !cols["email"] || !(cols["first_name"] || cols["name"]) {
			return fmt.Errorf("bridge: users.mysql (preset octobercms): table %susers has neither RainLab.User v3 (id, first_name, last_name, email) nor v1 (id, name, surname, email) columns", p)
		}
	default:
		if err := s.tableProblem(ctx, "users.mysql (preset custom)", p+s.cfg.Table,
			s.cfg.IDColumn, s.cfg.NameColumn, s.cfg.EmailColumn, s.cfg.AvatarColumn, s.cfg.RoleColumn); err != nil {
			return err
		}
	}
	_, err := s.getPlan(ctx)
	return err
}

// applyTemplates fills the configured avatar_url and profile_url
// templates, which override a preset's own URLs.
func (s *MySQLSource) applyTemplates(u *User, email, avatar string) {
	if s.cfg.AvatarURL != "" {
		u.AvatarURL = s.fill(s.cfg.AvatarURL, u.ID, email, avatar)
	}
	if s.cfg.ProfileURL != "" {
		u.ProfileURL = s.fill(s.cfg.ProfileURL, u.ID, email, avatar)
	}
}

func (s *MySQLSource) fill(tmpl, id, email, avatar string) string {
	if avatar == "" && strings.Contains(tmpl, "{avatar}") {
		return ""
	}
	md5 := ""
	if strings.Contains(tmpl, "{email_md5}") {
		if email == "" {
			return ""
		}
		md5 = EmailMD5(email)
	}
	return strings.NewReplacer("{id}", url.PathEscape(id), "{email_md5}", md5, "{avatar}", avatar).Replace(tmpl)
}

// ---- wordpress ----

// wpAvatar holds the site's avatar options (Settings → Discussion).
type wpAvatar struct {
	def    string // d= value, "" for none
	rating string // r= value, "" for none
}

func (s *MySQLSource) wordpressPlan(ctx context.Context) (*mysqlPlan, error) {
	p := s.prefix
	av := wpAvatar{def: "mm", rating: "g"}
	rows, err := s.db.QueryContext(ctx, "SELECT option_name, option_value FROM "+quoteIdent(p+"options")+" WHERE option_name IN ('avatar_default', 'avatar_rating')")
	if err != nil {
		var me *mysql.MySQLError
		if !errors.As(err, &me) { // a missing wp_options is not fatal; a dead server is
			return nil, fmt.Errorf("bridge: mysql: %w", err)
		}
	} else {
		for rows.Next() {
			var k, v string
			if rows.Scan(&k, &v) != nil {
				continue
			}
			switch k {
			case "avatar_default":
				switch v {
				case "", "mm", "mystery", "mysteryman":
					av.def = "mm"
				case "gravatar_default":
					av.def = ""
				default:
					av.def = v
				}
			case "avatar_rating":
				av.rating = strings.ToLower(v)
			}
		}
		rows.Close()
	}
	cols, err := s.columns(ctx, p+"users")
	if err != nil {
		return nil, err
	}
	// user_login is read (when the grants show it) only to keep it from
	// being shown: a display name or nickname equal to it is not used.
	login := "NULL"
	if cols["user_login"] {
		login = "u.`user_login`"
	}
	users := quoteIdent(p+"users") + " u LEFT JOIN " + quoteIdent(p+"usermeta") +
		" n ON n.`user_id` = u.`ID` AND n.`meta_key` = 'nickname'"
	head := "SELECT u.`ID`, u.`display_name`, u.`user_email`, u.`user_nicename`, " + login + ", n.`meta_value`, m.`meta_value` FROM " +
		users + " LEFT JOIN " + quoteIdent(p+"usermeta") +
		" m ON m.`user_id` = u.`ID` AND m.`meta_key` = ? WHERE u.`ID` IN ("
	filter := ""
	// Members a site has shut out are unknown to the chat: multisite's
	// spam and deleted flags (Network Admin → Users → Mark as spam), and
	// user_status, which older multisite releases set to 1 for spam and
	// plugins use for accounts not yet activated. Columns the read-only
	// user cannot see are not used (the README's grants include them).
	for _, c := range []string{"user_status", "spam", "deleted"} {
		if cols[c] {
			filter += " AND u." + quoteIdent(c) + " = 0"
		}
	}
	tail := ")" + filter
	// Search: the name a member is shown by (wpPublicName) is the display
	// name unless it gives the login away, else the nickname unless it
	// does, else "User N"; only that name is searched. wp_users has no
	// index on display_name: the scan walks the primary key in order and
	// stops at the LIMIT.
	leaks := func(col string) string {
		c := "TRIM(COALESCE(" + col + ", ''))"
		l := "(" + c + " = '' OR " + c + " LIKE '%@%' OR " + c + " = u.`user_nicename` OR " + c + " = u.`user_email`"
		if login != "NULL" {
			l += " OR " + c + " = u.`user_login`"
		}
		return l + ")"
	}
	match := func(col string) string {
		return "(" + col + " LIKE ? ESCAPE '!' OR " + col + " LIKE ? ESCAPE '!')"
	}
	search := "SELECT u.`ID` FROM " + users + " WHERE ((" + match("u.`display_name`") + " AND NOT " + leaks("u.`display_name`") +
		") OR (" + leaks("u.`display_name`") + " AND " + match("n.`meta_value`") + " AND NOT " + leaks("n.`meta_value`") + "))" +
		filter + " ORDER BY u.`ID` LIMIT ?"
	https := strings.HasPrefix(s.siteURL, "https://")
	return &mysqlPlan{
		head:        head,
		tail:        tail,
		search:      search,
		searchPairs: 2,
		before:      []any{p + "capabilities"},
		intIDs:      true,
		scan: func(rows *sql.Rows, out map[string]User) error {
			for rows.Next() {
				var id string
				var display, email, nicename, login, nickname, caps sql.NullString
				if err := rows.Scan(&id, &display, &email, &nicename, &login, &nickname, &caps); err != nil {
					return err
				}
				role := RoleMember
				for _, c := range phpTrueKeys(caps.String) {
					if r := wpRole(c); roleRank(r) > roleRank(role) {
						role = r
					}
				}
				if prev, ok := out[id]; ok { // several capabilities rows
					if roleRank(prev.Role) < roleRank(role) {
						prev.Role = role
						out[id] = prev
					}
					continue
				}
				name := publicName(id, []string{display.String, nickname.String}, login.String, nicename.String, email.String)
				u := User{ID: id, Name: name, Role: role}
				if email.String != "" {
					u.AvatarURL = WordPressAvatarURL(email.String, https, av.def, av.rating)
				}
				if s.siteURL != "" {
					u.ProfileURL = s.siteURL + "/?author=" + id
				}
				s.applyTemplates(&u, email.String, "")
				out[id] = u
			}
			return nil
		},
	}, nil
}

func wpRole(wpRole string) string {
	switch wpRole {
	case "administrator":
		return RoleAdmin
	case "editor":
		return RoleMod
	}
	return RoleMember
}

// WordPressAvatarURL is the URL WordPress's get_avatar_url() gives for an
// email at its default size (96): the Gravatar of md5(lowercase(trim(email)))
// on secure.gravatar.com for https sites, else on the {0,1,2}.gravatar.com
// server WordPress picks from the hash; def and rating are the site's
// avatar_default (as WordPress maps it: mystery → mm) and avatar_rating,
// left out when empty.
func WordPressAvatarURL(email string, https bool, def, rating string) string {
	hash := EmailMD5(email)
	var b strings.Builder
	if https {
		b.WriteString("https://secure.gravatar.com/avatar/")
	} else {
		n, _ := strconv.ParseUint(hash[:1], 16, 8)
		fmt.Fprintf(&b, "http://%d.gravatar.com/avatar/", n%3)
	}
	b.WriteString(hash)
	b.WriteString("?s=96")
	if def != "" {
		b.WriteString("&d=")
		b.WriteString(phpRawURLEncode(def))
	}
	if rating != "" {
		b.WriteString("&r=")
		b.WriteString(phpRawURLEncode(rating))
	}
	return b.String()
}

// phpRawURLEncode is PHP's rawurlencode (RFC 3986: only A-Z a-z 0-9 - _ . ~
// stay as they are).
func phpRawURLEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// ---- octobercms ----

func (s *MySQLSource) octoberPlan(ctx context.Context) (*mysqlPlan, error) {
	p := s.prefix
	cols, err := s.columns(ctx, p+"users")
	if err != nil {
		return nil, err
	}
	if cols == nil {
		return nil, fmt.Errorf("bridge: users.mysql (preset octobercms): table %susers not found", p)
	}
	var first, last string
	switch {
	case cols["first_name"]: // RainLab.User v3
		first, last = "first_name", "last_name"
	case cols["name"]: // v1
		first = "name"
		if cols["surname"] {
			last = "surname"
		}
	default:
		return nil, fmt.Errorf("bridge: users.mysql (preset octobercms): table %susers has neither first_name (RainLab.User v3) nor name (v1)", p)
	}
	sel := "SELECT u.`id`, u." + quoteIdent(first) + ", "
	if last != "" {
		sel += "u." + quoteIdent(last) + ", "
	} else {
		sel += "NULL, "
	}
	sel += "u.`email`, "
	if cols["username"] {
		sel += "u.`username`, "
	} else {
		sel += "NULL, "
	}
	var before []any
	files, err := s.columns(ctx, p+"system_files")
	if err != nil {
		return nil, err
	}
	if files["disk_name"] && files["attachment_id"] && files["attachment_type"] && files["field"] {
		pub := ""
		if files["is_public"] {
			pub = " AND f.`is_public` = 1"
		}
		// attachment_id is a string column compared with the integer id as
		// MySQL does: a CAST would carry the connection's collation and clash
		// with the column's on sites whose collations differ.
		sel += "(SELECT f.`disk_name` FROM " + quoteIdent(p+"system_files") +
			" f WHERE f.`attachment_type` = ? AND f.`attachment_id` = u.`id` AND f.`field` = 'avatar'" + pub +
			" ORDER BY f.`id` DESC LIMIT 1)"
		before = append(before, OctoberUserModel)
	} else {
		sel += "NULL"
	}
	sel += " FROM " + quoteIdent(p+"users") + " u WHERE u.`id` IN ("
	filter := ""
	if cols["deleted_at"] {
		filter += " AND u.`deleted_at` IS NULL"
	}
	if cols["banned_at"] { // v3
		filter += " AND u.`banned_at` IS NULL"
	}
	if cols["is_banned"] {
		filter += " AND NOT u.`is_banned`"
	}
	throttle, err := s.columns(ctx, p+"user_throttle")
	if err != nil {
		return nil, err
	}
	for _, c := range []string{"is_banned", "banned"} { // v1 bans live in user_throttle
		if throttle[c] && throttle["user_id"] {
			filter += " AND NOT EXISTS (SELECT 1 FROM " + quoteIdent(p+"user_throttle") + " t WHERE t.`user_id` = u.`id` AND t." + quoteIdent(c) + " = 1)"
			break
		}
	}
	// Search: "First Last" as the member is shown (octoberName), unless
	// it is their email or username (their login); RainLab.User indexes
	// neither name column, so the scan walks the primary key in order and
	// stops at the LIMIT.
	full := "TRIM(CONCAT_WS(' ', TRIM(COALESCE(u." + quoteIdent(first) + ", ''))"
	if last != "" {
		full += ", TRIM(COALESCE(u." + quoteIdent(last) + ", ''))"
	}
	full += "))"
	leak := full + " = '' OR " + full + " LIKE '%@%' OR " + full + " = COALESCE(u.`email`, '')"
	if cols["username"] {
		leak += " OR " + full + " = COALESCE(u.`username`, '')"
	}
	search := "SELECT u.`id` FROM " + quoteIdent(p+"users") + " u WHERE (" + full + " LIKE ? ESCAPE '!' OR " + full +
		" LIKE ? ESCAPE '!') AND NOT (" + leak + ")" + filter + " ORDER BY u.`id` LIMIT ?"
	return &mysqlPlan{
		head:   sel,
		tail:   ")" + filter,
		search: search,
		before: before,
		intIDs: true,
		scan: func(rows *sql.Rows, out map[string]User) error {
			for rows.Next() {
				var id string
				var first, last, email, username, disk sql.NullString
				if err := rows.Scan(&id, &first, &last, &email, &username, &disk); err != nil {
					return err
				}
				full := strings.TrimSpace(strings.TrimSpace(first.String) + " " + strings.TrimSpace(last.String))
				u := User{ID: id, Name: publicName(id, []string{full}, username.String, email.String), Role: RoleMember}
				if disk.Valid && disk.String != "" {
					u.AvatarURL = s.siteURL + "/storage/app/uploads/public/" + OctoberPartition(disk.String) + disk.String
				} else if email.String != "" {
					u.AvatarURL = "https://www.gravatar.com/avatar/" + EmailMD5(email.String) + "?s=96&d=mm"
				}
				s.applyTemplates(&u, email.String, u.AvatarURL)
				out[id] = u
			}
			return nil
		},
	}, nil
}

// OctoberPartition is the directory October puts an upload in: the first
// three 3-character pieces of its disk_name ("abc/def/ghi/").
func OctoberPartition(disk string) string {
	var b strings.Builder
	for i := 0; i < 3 && i*3 < len(disk); i++ {
		b.WriteString(disk[i*3 : min(i*3+3, len(disk))])
		b.WriteByte('/')
	}
	return b.String()
}

// ---- custom ----

func (s *MySQLSource) customPlan(ctx context.Context) (*mysqlPlan, error) {
	c := s.cfg
	col := func(name string) string {
		if name == "" {
			return "NULL"
		}
		return quoteIdent(name)
	}
	head := "SELECT " + quoteIdent(c.IDColumn) + ", " + quoteIdent(c.NameColumn) + ", " + col(c.EmailColumn) + ", " +
		col(c.AvatarColumn) + ", " + col(c.RoleColumn) + " FROM " + quoteIdent(s.prefix+c.Table) +
		" WHERE " + quoteIdent(c.IDColumn) + " IN ("
	// Search: name_column by prefix and word prefix; an index on it helps
	// the prefix half only, and the LIMIT bounds the scan.
	name := quoteIdent(c.NameColumn)
	search := "SELECT " + quoteIdent(c.IDColumn) + " FROM " + quoteIdent(s.prefix+c.Table) + " WHERE " + name +
		" LIKE ? ESCAPE '!' OR " + name + " LIKE ? ESCAPE '!' ORDER BY " + quoteIdent(c.IDColumn) + " LIMIT ?"
	return &mysqlPlan{
		head:   head,
		tail:   ")",
		search: search,
		scan: func(rows *sql.Rows, out map[string]User) error {
			for rows.Next() {
				var id string
				var name, email, avatar, role sql.NullString
				if err := rows.Scan(&id, &name, &email, &avatar, &role); err != nil {
					return err
				}
				u := User{ID: id, Name: name.String, AvatarURL: avatar.String, Role: mapRole(role.String)}
				s.applyTemplates(&u, email.String, avatar.String)
				if u.AvatarURL == "" && email.String != "" && c.AvatarURL == "" {
					u.AvatarURL = "https://secure.gravatar.com/avatar/" + EmailMD5(email.String) + "?s=96&d=mm&r=g"
				}
				out[id] = u
			}
			return nil
		},
	}, nil
}

// ---- search ----

// searchStmtKey is the search statement's key among a plan's statements
// (the others are keyed by batch size).
const searchStmtKey = -1

// Search finds the members whose shown name matches query by prefix or
// word prefix (LIKE 'q%' OR LIKE '% q%', with % _ and ! escaped), under
// the preset's name rules and shut-out filters, in one bounded query for
// ids followed by Lookup; the names Lookup gives are checked once more
// with MatchName, so that a name the rules replace (a login shown as
// "User N") is never found by what it replaced.
func (s *MySQLSource) Search(ctx context.Context, query string, limit int) ([]User, error) {
	query = strings.TrimSpace(query)
	if query == "" || limit <= 0 {
		return nil, nil
	}
	limit = min(limit, MaxSearchLimit)
	plan, err := s.getPlan(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.prepare(ctx, plan, searchStmtKey, plan.search)
	if err != nil {
		return nil, err
	}
	pat := likeEscape(query)
	// Twice the limit: a few names may fail the second check.
	var args []any
	for range max(plan.searchPairs, 1) {
		args = append(args, pat+"%", "% "+pat+"%")
	}
	rows, err := st.QueryContext(ctx, append(args, 2*limit)...)
	if err != nil {
		s.forgetPlanIfSchemaChanged(plan, err)
		return nil, fmt.Errorf("bridge: mysql users search: %w", err)
	}
	var ids []string
	seen := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("bridge: mysql users search: %w", err)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("bridge: mysql users search: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	m, err := s.Lookup(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]User, 0, len(ids))
	for _, id := range ids {
		if u, ok := m[id]; ok && MatchName(u.Name, query) {
			out = append(out, u)
		}
	}
	rankFound(out, query)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
