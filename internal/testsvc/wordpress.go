package testsvc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// WordPressDir is where Debian's wordpress package puts WordPress.
const WordPressDir = "/usr/share/wordpress"

// WordPress is a WordPress site installed by WordPress's own wp_install()
// into a fresh database of a MariaDB, run from Debian's package.
//
// Dir is a private tree: copies of WordPress's entry scripts (so that
// their __DIR__ is Dir and they load Dir/wp-config.php, ours, instead of
// Debian's /etc/wordpress lookup), symlinks to wp-includes and wp-admin's
// sub-directories, and a real wp-content/ (plugins/, uploads/, and themes/
// with TestTheme, the site's theme). Put a plugin under Dir/wp-content/plugins/.
//
// Nothing outside Debian's wordpress package itself is used: no theme
// package (wordpress-theme-* are only Recommends, left out by
// --no-install-recommends), no wordpress-l10n.
type WordPress struct {
	Dir     string
	DB      *MariaDB
	DBName  string
	DSN     string // go-sql-driver DSN of DBName (see MariaDB.DSN)
	Prefix  string // table prefix, "wp_"
	SiteURL string // http://127.0.0.1:PORT, where Serve listens
	Port    int

	AdminID       int
	AdminLogin    string
	AdminPassword string
	AdminEmail    string
}

// WordPress admin created by InstallWordPress.
const (
	WPAdminLogin    = "admin"
	WPAdminPassword = "admin-password-123"
	WPAdminEmail    = "admin@example.com"
)

// InstallWordPress installs WordPress into a new database of db (blog title
// "pollchat test", admin WPAdminLogin/WPAdminPassword) and returns the site.
// Nothing outside t's temp dirs is written.
func InstallWordPress(t testing.TB, db *MariaDB) *WordPress {
	t.Helper()
	if _, err := os.Stat(filepath.Join(WordPressDir, "wp-settings.php")); err != nil {
		t.Fatalf("testsvc: WordPress is missing: install Debian's wordpress package (scripts/deps.sh): %v", err)
	}
	if _, err := exec.LookPath("php"); err != nil {
		t.Fatalf("testsvc: php is missing: install Debian's php-cli and php-mysql (scripts/deps.sh): %v", err)
	}
	name := db.NewDatabaseName(t)
	port := freePort()
	w := &WordPress{
		Dir:           t.TempDir(),
		DB:            db,
		DBName:        name,
		DSN:           db.DSN(name),
		Prefix:        "wp_",
		Port:          port,
		SiteURL:       fmt.Sprintf("http://127.0.0.1:%d", port),
		AdminLogin:    WPAdminLogin,
		AdminPassword: WPAdminPassword,
		AdminEmail:    WPAdminEmail,
	}
	if err := w.buildTree(); err != nil {
		t.Fatalf("testsvc: WordPress tree: %v", err)
	}
	out := w.run(t, `define('WP_INSTALLING', true);`, `
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$r = wp_install('pollchat test', `+PHPQuote(w.AdminLogin)+`, `+PHPQuote(w.AdminEmail)+`, true, '', wp_slash(`+PHPQuote(w.AdminPassword)+`));
if (get_stylesheet() !== `+PHPQuote(TestTheme)+` || !wp_get_theme()->exists()) { fwrite(STDERR, "PHP Fatal error: the test theme is not active: " . get_stylesheet() . "\n"); exit(1); }
echo "\nPOLLCHAT_ADMIN_ID=", $r['user_id'], "\n";
`)
	i := strings.LastIndex(out, "POLLCHAT_ADMIN_ID=")
	if i < 0 {
		t.Fatalf("testsvc: wp_install printed no user id:\n%s", out)
	}
	id, err := strconv.Atoi(strings.TrimSpace(out[i+len("POLLCHAT_ADMIN_ID="):]))
	if err != nil || id <= 0 {
		t.Fatalf("testsvc: wp_install: bad admin id in %q", out)
	}
	w.AdminID = id
	return w
}

func (w *WordPress) buildTree() error {
	ents, err := os.ReadDir(WordPressDir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		src := filepath.Join(WordPressDir, e.Name())
		dst := filepath.Join(w.Dir, e.Name())
		switch {
		case e.Name() == "wp-config.php" || e.Name() == ".htaccess" || e.Name() == "wp-content":
		case e.Name() == "wp-admin":
			if err := copyScriptsLinkDirs(src, dst); err != nil {
				return err
			}
		case e.IsDir():
			if err := os.Symlink(src, dst); err != nil {
				return err
			}
		default:
			if err := copyFile(src, dst); err != nil {
				return err
			}
		}
	}
	content := filepath.Join(w.Dir, "wp-content")
	for _, d := range []string{"plugins", "uploads", "upgrade", "languages"} {
		if err := os.MkdirAll(filepath.Join(content, d), 0o755); err != nil {
			return err
		}
	}
	theme := filepath.Join(content, "themes", TestTheme)
	if err := os.MkdirAll(theme, 0o755); err != nil {
		return err
	}
	for name, src := range testThemeFiles {
		if err := os.WriteFile(filepath.Join(theme, name), []byte(src), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(w.Dir, "wp-config.php"), []byte(w.config()), 0o644)
}

// TestTheme is the theme of every test site (WP_DEFAULT_THEME, so
// wp_install activates it): a classic theme written by testsvc, so the
// tests need no theme package. It prints what plugins hook into (wp_head,
// wp_body_open, wp_footer) and the loop's titles and contents (shortcodes run).
const TestTheme = "pollchat-test"

var testThemeFiles = map[string]string{
	"style.css": `/*
Theme Name: pollchat test
Description: The minimal theme of pollchat's test sites.
Version: 1.0
*/
body { font-family: sans-serif; margin: 2em; }
`,
	"index.php": `<?php defined( 'ABSPATH' ) || exit; ?><!DOCTYPE html>
<html <?php language_attributes(); ?>>
<head>
<meta charset="<?php bloginfo( 'charset' ); ?>">
<title><?php echo esc_html( wp_get_document_title() ); ?></title>
<?php wp_head(); ?>
</head>
<body <?php body_class(); ?>>
<?php wp_body_open(); ?>
<header><a href="<?php echo esc_url( home_url( '/' ) ); ?>"><?php bloginfo( 'name' ); ?></a></header>
<main>
<?php while ( have_posts() ) : the_post(); ?>
<article id="post-<?php the_ID(); ?>"><h1><?php the_title(); ?></h1><?php the_content(); ?></article>
<?php endwhile; ?>
</main>
<?php wp_footer(); ?>
</body>
</html>
`,
}

// copyScriptsLinkDirs copies the files of src into dst and links its
// sub-directories.
func copyScriptsLinkDirs(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		s, d := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		if e.IsDir() {
			if err := os.Symlink(s, d); err != nil {
				return err
			}
		} else if err := copyFile(s, d); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return os.Symlink(src, dst)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

func (w *WordPress) config() string {
	var b strings.Builder
	b.WriteString("<?php\n// Written by pollchat's testsvc for one test.\n")
	def := func(k, v string) { fmt.Fprintf(&b, "define(%s, %s);\n", PHPQuote(k), PHPQuote(v)) }
	def("DB_NAME", w.DBName)
	def("DB_USER", "root")
	def("DB_PASSWORD", "")
	def("DB_HOST", w.DB.Addr())
	def("DB_CHARSET", "utf8mb4")
	def("DB_COLLATE", "")
	for _, k := range []string{"AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"} {
		def(k, "test-"+strings.ToLower(k)+"-"+w.DBName)
	}
	def("WP_HOME", w.SiteURL)
	def("WP_SITEURL", w.SiteURL)
	b.WriteString("define('WP_CONTENT_DIR', __DIR__ . '/wp-content');\n")
	def("WP_CONTENT_URL", w.SiteURL+"/wp-content")
	def("WP_DEFAULT_THEME", TestTheme)
	b.WriteString("define('WP_DEBUG', false);\n")
	b.WriteString("define('AUTOMATIC_UPDATER_DISABLED', true);\n")
	b.WriteString("define('WP_AUTO_UPDATE_CORE', false);\n")
	b.WriteString("define('DISABLE_WP_CRON', true);\n")
	b.WriteString("define('WP_HTTP_BLOCK_EXTERNAL', true);\n")
	b.WriteString("define('FS_METHOD', 'direct');\n")
	fmt.Fprintf(&b, "$table_prefix = %s;\n", PHPQuote(w.Prefix))
	b.WriteString("if (!defined('ABSPATH')) { define('ABSPATH', __DIR__ . '/'); }\n")
	b.WriteString("require_once ABSPATH . 'wp-settings.php';\n")
	return b.String()
}

// PHPQuote returns s as a PHP single-quoted string literal.
func PHPQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `'`, `\'`)
	return "'" + s + "'"
}

// PHP runs code (PHP statements, without "<?php") with php-cli after
// loading WordPress (wp-load.php), and returns what it printed on stdout.
// A PHP error or a non-zero exit fails t.
func (w *WordPress) PHP(t testing.TB, code string) string {
	t.Helper()
	return w.run(t, "", code)
}

func (w *WordPress) run(t testing.TB, before, code string) string {
	t.Helper()
	script := filepath.Join(w.Dir, fmt.Sprintf(".testsvc-%d.php", time.Now().UnixNano()))
	src := "<?php\n" +
		"$_SERVER['HTTP_HOST'] = " + PHPQuote(strings.TrimPrefix(w.SiteURL, "http://")) + ";\n" +
		"$_SERVER['SERVER_NAME'] = '127.0.0.1';\n" +
		"$_SERVER['REQUEST_URI'] = '/';\n" +
		"$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';\n" +
		"define('WP_USE_THEMES', false);\n" +
		before + "\n" +
		"require_once " + PHPQuote(filepath.Join(w.Dir, "wp-load.php")) + ";\n" +
		code + "\n"
	if err := os.WriteFile(script, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(script)
	cmd := exec.Command("php", "-d", "display_errors=stderr", "-d", "error_reporting=E_ALL & ~E_DEPRECATED & ~E_NOTICE & ~E_WARNING", "-d", "memory_limit=256M", script)
	cmd.Dir = w.Dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("testsvc: php: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(120 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		err = fmt.Errorf("php did not finish in 120s")
	}
	if err != nil || strings.Contains(stderr.String(), "PHP Fatal error") || strings.Contains(stderr.String(), "PHP Parse error") {
		t.Fatalf("testsvc: WordPress PHP failed: %v\nstdout:\n%s\nstderr:\n%s\ncode:\n%s", err, stdout.String(), stderr.String(), code)
	}
	return stdout.String()
}

// CreateUser creates a user with wp_insert_user (so the capabilities meta
// is WordPress's own) and returns its ID. role is a WordPress role:
// administrator, editor, author, contributor, subscriber. The password is
// login + "-password".
func (w *WordPress) CreateUser(t testing.TB, login, email, display, role string) int {
	t.Helper()
	out := w.PHP(t, `
$id = wp_insert_user(array(
	'user_login' => wp_slash(`+PHPQuote(login)+`),
	'user_email' => wp_slash(`+PHPQuote(email)+`),
	'display_name' => wp_slash(`+PHPQuote(display)+`),
	'user_pass' => `+PHPQuote(login+"-password")+`,
	'role' => `+PHPQuote(role)+`,
));
if (is_wp_error($id)) { fwrite(STDERR, "PHP Fatal error: wp_insert_user: " . $id->get_error_message() . "\n"); exit(1); }
echo "\nPOLLCHAT_USER_ID=", $id, "\n";
`)
	i := strings.LastIndex(out, "POLLCHAT_USER_ID=")
	if i < 0 {
		t.Fatalf("testsvc: CreateUser(%q) printed no id: %q", login, out)
	}
	id, err := strconv.Atoi(strings.TrimSpace(out[i+len("POLLCHAT_USER_ID="):]))
	if err != nil {
		t.Fatalf("testsvc: CreateUser(%q): %v", login, err)
	}
	return id
}

// Serve serves the site with php -S on SiteURL (docroot Dir), stopped when
// t ends. env is passed to the server as with StartPHP.
func (w *WordPress) Serve(t testing.TB, env ...string) *PHP {
	t.Helper()
	h := &PHP{Docroot: w.Dir, t: t, env: env, Addr: strings.TrimPrefix(w.SiteURL, "http://"), URL: w.SiteURL}
	if err := h.start(""); err != nil {
		t.Fatalf("testsvc: serve WordPress on %s: %v\n%s", w.SiteURL, err, h.Log())
	}
	t.Cleanup(h.Stop)
	return h
}
