// Package config holds pollchat's configuration: one Config decoded from
// config.toml in main and handed down to each part.
//
// It lives in its own package (DESIGN.md puts decoding in main) because the
// end-to-end tests, the export command and every part's constructor need the
// same types, and package main cannot be imported.
package config

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"pollchat/files"
)

// DemoSecret is the secret of the shipped config.toml. Starting with it on a
// non-loopback address is refused.
const DemoSecret = "demo-secret-change-me"

// DemoAPIPassword is the api.password of the shipped config.toml; like the
// demo secret, it is refused unless both server.listen and
// server.public_url are loopback.
const DemoAPIPassword = "demo-api-password"

// Duration is a time.Duration written as a Go duration string ("25s").
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration (want e.g. \"25s\", \"24h\"): %q", string(b))
	}
	if v < 0 {
		return fmt.Errorf("negative duration %q", string(b))
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Config is the whole configuration. Zero values mean "the default" as each
// field's comment says; Load fills them in.
type Config struct {
	Server   Server   `toml:"server"`
	Auth     Auth     `toml:"auth"`
	API      API      `toml:"api"`
	Users    Users    `toml:"users"`
	Store    Store    `toml:"store"`
	Chat     Chat     `toml:"chat"`
	Presence Presence `toml:"presence"`
	Demo     Demo     `toml:"demo"`
	Cluster  Cluster  `toml:"cluster"`
	Privacy  Privacy  `toml:"privacy"`
	Notify   Notify   `toml:"notify"`
	Rooms    Rooms    `toml:"rooms"`
	Files    Files    `toml:"files"`

	// File is the path the config was read from ("" for an in-memory one).
	File string `toml:"-"`
}

// Server is the HTTP face.
type Server struct {
	// Listen is host:port; zero means 127.0.0.1:8080.
	Listen string `toml:"listen"`
	// PublicURL is the URL browsers use to reach the server (for links and
	// the demo page); zero means http://{listen}.
	PublicURL string `toml:"public_url"`
	// PollTimeout is how long a poll is held when the client does not ask;
	// zero means 25s.
	PollTimeout Duration `toml:"poll_timeout"`
	// PollMax caps the timeout a client may ask for; zero means 60s.
	PollMax Duration `toml:"poll_max"`
	// AllowedOrigins get CORS headers; "*" allows any origin.
	AllowedOrigins []string `toml:"allowed_origins"`
	// MaxConnsPerIP limits connections per client address; zero means 0 =
	// off (behind a proxy every client has the proxy's address).
	MaxConnsPerIP int `toml:"max_conns_per_ip"`
	// MetricsPublic serves /metrics to anyone; false means loopback clients
	// or the API credentials only.
	MetricsPublic bool `toml:"metrics_public"`
	// EventLoop serves the polls of connections that have parked once on
	// the server's own epoll loops (Linux); unset means on.
	// Read it with EventLoopOn.
	EventLoop *bool `toml:"event_loop"`
}

// EventLoopOn says whether parked connections go to the event loops.
func (s Server) EventLoopOn() bool { return s.EventLoop == nil || *s.EventLoop }

// Auth is how the host site signs identities.
type Auth struct {
	// Secret is shared with the host site. Required.
	Secret string `toml:"secret"`
	// MaxAge is how far a legacy-hash timestamp may be from now; zero means 24h.
	MaxAge Duration `toml:"max_age"`
	// Timezone of legacy-hash timestamps (IANA name); zero means UTC.
	Timezone string `toml:"timezone"`
	// LinkSecret signs the eStreamChat popup links (/chat): SHA1(id + target
	// + timestamp + link_secret). It must differ from Secret, since a link
	// hash signed with the identity secret is also an identity ("12"+"3" is
	// "123"). Empty means /chat is off (404).
	LinkSecret string `toml:"link_secret"`
}

// ChatLinksOn says whether /chat popup links are served.
func (a Auth) ChatLinksOn() bool { return a.LinkSecret != "" }

// API is the host-site backend API (Basic auth).
type API struct {
	Login string `toml:"login"`
	// Password empty turns the backend API off (404).
	Password string `toml:"password"`
}

// Users is the user directory.
type Users struct {
	// Source is "static", "mysql" or "http"; zero means "static".
	Source string `toml:"source"`
	// AllowUnknown lets ids the mysql or http source does not know chat as
	// "User N" (sites that sign guests). False (the default) refuses them:
	// only the site's members chat, and a deleted or banned member stops at
	// once. The static source always knows only its list, and allows
	// unknown ids (the demo signs arbitrary ids).
	AllowUnknown bool `toml:"allow_unknown"`
	// CacheTTL is how long a user stays cached; zero means 5m.
	CacheTTL Duration   `toml:"cache_ttl"`
	Static   []User     `toml:"static"`
	MySQL    UsersMySQL `toml:"mysql"`
	HTTP     UsersHTTP  `toml:"http"`
}

// User is one static user.
type User struct {
	UserID     string `toml:"user_id"`
	Name       string `toml:"name"`
	AvatarURL  string `toml:"avatar_url"`
	ProfileURL string `toml:"profile_url"`
	Role       string `toml:"role"`
	Email      string `toml:"email"`
}

// UsersMySQL reads users from the host site's tables.
type UsersMySQL struct {
	DSN string `toml:"dsn"`
	// Preset is "wordpress", "octobercms" or "custom".
	Preset string `toml:"preset"`
	// TablePrefix defaults to "wp_" for wordpress and "" otherwise.
	TablePrefix string `toml:"table_prefix"`
	// SiteURL is the site's home URL, for profile and avatar URLs.
	SiteURL string `toml:"site_url"`

	Table        string `toml:"table"`
	IDColumn     string `toml:"id_column"`
	NameColumn   string `toml:"name_column"`
	EmailColumn  string `toml:"email_column"`
	AvatarColumn string `toml:"avatar_column"`
	AvatarURL    string `toml:"avatar_url"`
	ProfileURL   string `toml:"profile_url"`
	RoleColumn   string `toml:"role_column"`
}

// UsersHTTP asks the host site's users-info URL.
type UsersHTTP struct {
	URL      string `toml:"url"`
	Login    string `toml:"login"`
	Password string `toml:"password"`
	// SearchURL, when set, finds members by name for the directory of
	// people to chat with: GET {search_url}?q=…&limit=… with the same
	// Basic auth, answered in the users-info format. Zero means the http
	// source cannot search.
	SearchURL string `toml:"search_url"`
	// Timeout of one users-info call; zero means 5s.
	Timeout Duration `toml:"timeout"`
}

// Store is where messages are kept.
type Store struct {
	// Driver is "embedded" or "mysql"; zero means "embedded".
	Driver string `toml:"driver"`
	// Path of the embedded store's data directory; zero means "data".
	Path string `toml:"path"`
	// Engine of the embedded store: "pebble" or "bbolt". Zero picks by what
	// Path holds: bbolt for a directory made before Pebble (pollchat.db),
	// else Pebble. "pebble" on a bbolt directory migrates it once and keeps
	// the old file as pollchat.db.migrated.
	Engine string `toml:"engine"`
	// DSN of the MySQL store (go-sql-driver form).
	DSN string `toml:"dsn"`
	// TablePrefix of the MySQL store's tables; zero means "pollchat_".
	TablePrefix string `toml:"table_prefix"`
	// KeepDays prunes messages older than this many days; 0 keeps forever.
	KeepDays int `toml:"keep_days"`
}

// Chat is the messenger and rooms.
type Chat struct {
	// Rooms everyone may join; zero means ["lobby"].
	Rooms []string `toml:"rooms"`
	// MaxLength of a message in characters after trimming; zero means 350.
	MaxLength int `toml:"max_length"`
	// History is how many messages join returns; zero means 50.
	History int `toml:"history"`
	// Rate is sends and requests per second per user; unset means 5, and an
	// explicit 0 turns the limit off. Read it with RateLimit.
	Rate *float64 `toml:"rate"`
	// Burst of the rate limit; zero means 20.
	Burst int `toml:"burst"`
	// Buffer is how many events each user's stream keeps; zero means 256.
	Buffer int `toml:"buffer"`
	// RoomEventsLimit: rooms with more members get no join/leave/presence
	// events; zero means 500.
	RoomEventsLimit int `toml:"room_events_limit"`
	// BannedWords are masked in messages.
	BannedWords []string `toml:"banned_words"`
	// AutoJoin is the room every user joins on hello (Moneypot's lobby);
	// zero means the first of Rooms, and "none" joins nobody anywhere.
	AutoJoin string `toml:"auto_join"`
}

// AutoJoinRoom is the room hello joins everyone to, or "" for none.
func (c Chat) AutoJoinRoom() string {
	if c.AutoJoin == AutoJoinNone {
		return ""
	}
	return c.AutoJoin
}

// AutoJoinNone as chat.auto_join turns the auto-join off.
const AutoJoinNone = "none"

// Notify is the notices of missed messages (docs/protocol.md, section 6).
type Notify struct {
	// URL the notices are POSTed to; zero means no notices.
	URL string `toml:"url"`
	// Secret keys the HMAC-SHA256 signature of every notice; required
	// with URL.
	Secret string `toml:"secret"`
	// Delay is how long a message stays unread, its recipient offline,
	// before it leads to a notice; zero means 60s.
	Delay Duration `toml:"delay"`
	// Window: at most one notice per recipient per window, covering what
	// arrived meanwhile; zero means 10m (the plugins drop notices within
	// 10 minutes of the last one anyway).
	Window Duration `toml:"window"`
}

// On says whether notices are sent.
func (n Notify) On() bool { return n.URL != "" }

// Rooms is who may read the rooms.
type Rooms struct {
	// GuestRead lets a visitor without an identity read the public rooms
	// (history and live messages), never send; false means every call
	// needs an identity.
	GuestRead bool `toml:"guest_read"`
}

// Presence is the online state.
type Presence struct {
	// Grace is how long a user stays online after their last poll ended;
	// zero means 40s.
	Grace Duration `toml:"grace"`
}

// Demo is the demo page.
type Demo struct {
	Enabled bool `toml:"enabled"`
}

// Privacy is users' data (DELETE /api/v1/users/{id}).
type Privacy struct {
	// Erase is what erasing a user does to their messages: "delete"
	// (tombstones: no text) or "anonymize" (the text stays under a
	// pseudonym); zero means "delete".
	Erase string `toml:"erase"`
}

// Files is attachments: images and files sent in conversations (docs/attachments.md).
type Files struct {
	// Enabled turns on POST /v1/upload and /files/…; false (the default)
	// answers both with 404.
	Enabled bool `toml:"enabled"`
	// Path of the directory that keeps the files with the embedded store;
	// zero means "files", relative to the config file like store.path.
	// With store.driver "mysql" files are kept in MySQL (every process
	// reads them) and Path is not used.
	Path string `toml:"path"`
	// MaxSize is the largest upload in bytes; zero means 5 MiB (5242880).
	MaxSize int64 `toml:"max_size"`
	// Types are the file types accepted besides images (jpeg, png, gif,
	// webp, always accepted): pdf, txt, zip, docx, xlsx, pptx, odt, ods, odp,
	// doc, xls, ppt, or "office" for the office documents but ppt. Zero (an
	// empty list) means pdf, txt, zip, office; ["jpeg"] means images only.
	Types []string `toml:"types"`
	// DailyQuota is how many bytes one user may upload a day (UTC);
	// zero means 50 MiB (52428800), -1 means no quota.
	DailyQuota int64 `toml:"daily_quota"`
	// URLTTL is how long a signed file URL works; zero means 1h.
	URLTTL Duration `toml:"url_ttl"`
	// Key signs file URLs (at least 32 characters); zero means a key
	// derived from auth.secret (every process of a cluster derives the same).
	Key string `toml:"key"`
}

// Default values of [files].
const (
	DefaultFilesMaxSize    = 5 << 20
	DefaultFilesDailyQuota = 50 << 20
	DefaultFilesURLTTL     = time.Hour
)

// DefaultFileTypes is files.types when zero.
var DefaultFileTypes = []string{"pdf", "txt", "zip", "office"}

// Cluster is the scale-out.
type Cluster struct {
	// RedisURL empty means one process.
	RedisURL string `toml:"redis_url"`
}

// RateLimit returns the configured rate (5 when unset; 0 means off).
func (c Chat) RateLimit() float64 {
	if c.Rate == nil {
		return 5
	}
	return *c.Rate
}

// Error lists every problem of a config, each with its key.
type Error struct {
	File     string
	Problems []Problem
}

// Problem is one bad key.
type Problem struct {
	Key    string
	Reason string
}

func (e *Error) Error() string {
	var b strings.Builder
	file := e.File
	if file == "" {
		file = "config"
	}
	fmt.Fprintf(&b, "config: %s: %d problem(s):", file, len(e.Problems))
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s: %s", p.Key, p.Reason)
	}
	return b.String()
}

// Load reads, decodes, defaults and validates the file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(path, b)
	if err != nil {
		return nil, err
	}
	c.resolvePaths(filepath.Dir(path))
	return c, nil
}

// resolvePaths makes store.path absolute, relative to dir (the config
// file's directory): a service started from any working directory finds
// the same data.
func (c *Config) resolvePaths(dir string) {
	for _, p := range []*string{&c.Store.Path, &c.Files.Path} {
		if *p != "" && !filepath.IsAbs(*p) {
			if abs, err := filepath.Abs(filepath.Join(dir, *p)); err == nil {
				*p = abs
			}
		}
	}
}

// Parse decodes, defaults and validates a config; file names it in errors.
func Parse(file string, data []byte) (*Config, error) {
	c := &Config{File: file}
	md, err := toml.Decode(string(data), c)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return nil, syntaxError(file, data, perr)
		}
		// A value of the wrong type: the message names the key, never the value.
		return nil, &Error{File: file, Problems: []Problem{{Key: keyOf(err.Error()), Reason: c.Redact(oneLine(err.Error()))}}}
	}
	var probs []Problem
	if und := md.Undecoded(); len(und) > 0 {
		for _, k := range und {
			reason := "unknown key"
			if s := suggest(undecodedKey(k)); s != "" {
				reason += fmt.Sprintf("; did you mean %s?", s)
			}
			probs = append(probs, Problem{Key: k.String(), Reason: reason})
		}
	}
	c.setDefaults()
	probs = append(probs, c.validate()...)
	if len(probs) > 0 {
		sort.SliceStable(probs, func(i, j int) bool { return probs[i].Key < probs[j].Key })
		for i := range probs {
			probs[i].Reason = c.Redact(probs[i].Reason)
		}
		return nil, &Error{File: file, Problems: probs}
	}
	return c, nil
}

// undecodedKey is k without array indexes: users.static.nmae.
func undecodedKey(k toml.Key) string {
	var parts []string
	for _, p := range k {
		parts = append(parts, p)
	}
	return strings.Join(parts, ".")
}

// secretLine matches a line that sets a secret: its text is never shown.
var secretLine = regexp.MustCompile(`(?i)^\s*"?(secret|link_secret|password|dsn|redis_url|url|key)"?\s*=`)

// syntaxError reports a TOML syntax error with its line and column. The
// parser's message may quote the bad line; when that line sets a secret,
// only the position is shown.
func syntaxError(file string, data []byte, perr toml.ParseError) *Error {
	line, col := perr.Position.Line, perr.Position.Col
	if line == 0 {
		line = perr.Line
	}
	reason := oneLine(perr.Message)
	lines := strings.Split(string(data), "\n")
	if line >= 1 && line <= len(lines) && secretLine.MatchString(lines[line-1]) {
		reason = "bad value on a line that sets a secret (not shown)"
	}
	reason = Redact(reason)
	key := "(syntax)"
	if perr.LastKey != "" {
		key = perr.LastKey
	}
	if line > 0 {
		reason = fmt.Sprintf("line %d, column %d: %s", line, col, reason)
	}
	return &Error{File: file, Problems: []Problem{{Key: key, Reason: reason}}}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

var keyInErr = regexp.MustCompile(`(?:key|field) "?([A-Za-z0-9_.]+)"?`)

func keyOf(msg string) string {
	if m := keyInErr.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return "(value)"
}

// Default returns a config with every default filled and the given secret.
func Default(secret string) *Config {
	c := &Config{}
	c.Auth.Secret = secret
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	s := &c.Server
	if s.Listen == "" {
		s.Listen = "127.0.0.1:8080"
	}
	if s.PublicURL == "" {
		s.PublicURL = "http://" + s.Listen
	}
	s.PublicURL = strings.TrimRight(s.PublicURL, "/")
	if s.PollTimeout.Duration == 0 {
		s.PollTimeout.Duration = 25 * time.Second
	}
	if s.PollMax.Duration == 0 {
		s.PollMax.Duration = 60 * time.Second
	}
	if c.Auth.MaxAge.Duration == 0 {
		c.Auth.MaxAge.Duration = 24 * time.Hour
	}
	if c.Users.Source == "" {
		c.Users.Source = "static"
	}
	if c.Users.CacheTTL.Duration == 0 {
		c.Users.CacheTTL.Duration = 5 * time.Minute
	}
	if c.Users.HTTP.Timeout.Duration == 0 {
		c.Users.HTTP.Timeout.Duration = 5 * time.Second
	}
	if c.Users.MySQL.Preset == "wordpress" && c.Users.MySQL.TablePrefix == "" {
		c.Users.MySQL.TablePrefix = "wp_"
	}
	if c.Store.Driver == "" {
		c.Store.Driver = "embedded"
	}
	if c.Store.Path == "" {
		c.Store.Path = "data"
	}
	if c.Store.TablePrefix == "" {
		c.Store.TablePrefix = "pollchat_"
	}
	if len(c.Chat.Rooms) == 0 {
		c.Chat.Rooms = []string{"lobby"}
	}
	if c.Chat.MaxLength == 0 {
		c.Chat.MaxLength = DefaultMaxLength
	}
	if c.Chat.History == 0 {
		c.Chat.History = DefaultHistory
	}
	if c.Chat.Burst == 0 {
		c.Chat.Burst = DefaultBurst
	}
	if c.Chat.Buffer == 0 {
		c.Chat.Buffer = DefaultBuffer
	}
	if c.Chat.RoomEventsLimit == 0 {
		c.Chat.RoomEventsLimit = DefaultRoomEventsLimit
	}
	if c.Presence.Grace.Duration == 0 {
		c.Presence.Grace.Duration = DefaultGrace
	}
	if c.Chat.AutoJoin == "" && len(c.Chat.Rooms) > 0 {
		c.Chat.AutoJoin = c.Chat.Rooms[0]
	}
	if c.Notify.Delay.Duration == 0 {
		c.Notify.Delay.Duration = DefaultNotifyDelay
	}
	if c.Notify.Window.Duration == 0 {
		c.Notify.Window.Duration = DefaultNotifyWindow
	}
	if c.Privacy.Erase == "" {
		c.Privacy.Erase = "delete"
	}
	f := &c.Files
	if f.Path == "" {
		f.Path = "files"
	}
	if f.MaxSize == 0 {
		f.MaxSize = DefaultFilesMaxSize
	}
	if len(f.Types) == 0 {
		f.Types = append([]string(nil), DefaultFileTypes...)
	}
	if f.DailyQuota == 0 {
		f.DailyQuota = DefaultFilesDailyQuota
	}
	if f.URLTTL.Duration == 0 {
		f.URLTTL.Duration = DefaultFilesURLTTL
	}
}

// FilesKey is the key that signs file URLs: files.key, or one derived
// from auth.secret for that use only (HMAC-SHA256 of a label).
func (c *Config) FilesKey() []byte {
	if c.Files.Key != "" {
		return []byte(c.Files.Key)
	}
	m := hmac.New(sha256.New, []byte(c.Auth.Secret))
	m.Write([]byte("pollchat files.key v1"))
	return m.Sum(nil)
}

var (
	roomName  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	ident     = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)
	tmplValid = regexp.MustCompile(`\{[a-z_0-9]*\}`)
)

func (c *Config) validate() []Problem {
	var p []Problem
	bad := func(key, format string, a ...any) { p = append(p, Problem{key, fmt.Sprintf(format, a...)}) }

	host, port, err := net.SplitHostPort(c.Server.Listen)
	if err != nil {
		bad("server.listen", "want host:port, got %q", c.Server.Listen)
	} else if port == "" {
		bad("server.listen", "missing port in %q", c.Server.Listen)
	}
	if !strings.HasPrefix(c.Server.PublicURL, "http://") && !strings.HasPrefix(c.Server.PublicURL, "https://") {
		bad("server.public_url", "want an http:// or https:// URL, got %q", c.Server.PublicURL)
	}
	if c.Server.PollTimeout.Duration > c.Server.PollMax.Duration {
		bad("server.poll_timeout", "%s is longer than server.poll_max %s", c.Server.PollTimeout, c.Server.PollMax)
	}
	if c.Server.PollMax.Duration > 10*time.Minute {
		bad("server.poll_max", "%s is over 10m; proxies cut such polls", c.Server.PollMax)
	}
	if c.Server.MaxConnsPerIP < 0 {
		bad("server.max_conns_per_ip", "must be 0 (off) or positive")
	}
	for i, o := range c.Server.AllowedOrigins {
		if o != "*" && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			bad(fmt.Sprintf("server.allowed_origins[%d]", i), "want \"*\" or an origin like https://example.com, got %q", o)
		}
	}

	switch {
	case c.Auth.Secret == "":
		bad("auth.secret", "missing: set the secret shared with the host site")
	case len(c.Auth.Secret) < 8:
		bad("auth.secret", "too short (%d characters); use at least 16 random characters", len(c.Auth.Secret))
	}
	switch {
	case c.Auth.LinkSecret == "":
	case c.Auth.LinkSecret == c.Auth.Secret:
		bad("auth.link_secret", "equal to auth.secret: a link signed with the identity secret is also a login for another user; use a different random secret")
	case len(c.Auth.LinkSecret) < 16:
		bad("auth.link_secret", "too short (%d characters); use at least 16 random characters", len(c.Auth.LinkSecret))
	}
	if c.Auth.Secret == DemoSecret && err == nil && !isLoopback(host) {
		bad("auth.secret", "the demo secret may only be used on a loopback address, but server.listen is %q: set a secret of your own", c.Server.Listen)
	}
	if c.API.Password == DemoAPIPassword && err == nil && !isLoopback(host) {
		bad("api.password", "the demo API password may only be used on a loopback address, but server.listen is %q: set a password of your own", c.Server.Listen)
	}
	if c.Demo.Enabled && err == nil && !isLoopback(host) {
		bad("demo.enabled", "the demo page signs anyone in as any static user; it may only run on a loopback address, but server.listen is %q", c.Server.Listen)
	}
	// Behind a proxy the listen address is loopback but the public one is
	// not: the demo (and its secret) need a loopback public_url too.
	if pu, perr := url.Parse(c.Server.PublicURL); perr == nil && !isLoopback(pu.Hostname()) {
		if c.Auth.Secret == DemoSecret {
			bad("auth.secret", "the demo secret may only be used when server.public_url is a loopback URL, but it is %q: set a secret of your own", c.Server.PublicURL)
		}
		if c.Demo.Enabled {
			bad("demo.enabled", "the demo page signs anyone in as any static user; it may only run when server.public_url is a loopback URL, but it is %q", c.Server.PublicURL)
		}
		if c.API.Password == DemoAPIPassword {
			bad("api.password", "the demo API password may only be used when server.public_url is a loopback URL, but it is %q: set a password of your own", c.Server.PublicURL)
		}
	}
	if c.Auth.Timezone != "" {
		if _, err := time.LoadLocation(c.Auth.Timezone); err != nil {
			bad("auth.timezone", "unknown time zone %q", c.Auth.Timezone)
		}
	}
	if c.API.Password != "" && c.API.Login == "" {
		bad("api.login", "missing while api.password is set")
	}

	switch c.Users.Source {
	case "static":
		seen := map[string]bool{}
		for i, u := range c.Users.Static {
			key := fmt.Sprintf("users.static[%d]", i)
			if err := ValidUserID(u.UserID); err != nil {
				bad(key+".user_id", "%v", err)
			} else if seen[u.UserID] {
				bad(key+".user_id", "duplicate user_id %q", u.UserID)
			}
			seen[u.UserID] = true
			if strings.TrimSpace(u.Name) == "" {
				bad(key+".name", "missing")
			}
			if !validRole(u.Role) {
				bad(key+".role", "want admin, mod or member, got %q", u.Role)
			}
		}
	case "mysql":
		m := c.Users.MySQL
		if m.DSN == "" {
			bad("users.mysql.dsn", "missing (user:pass@tcp(host:port)/db)")
		}
		switch m.Preset {
		case "wordpress", "octobercms":
		case "custom":
			if m.Table == "" {
				bad("users.mysql.table", "missing for preset custom")
			}
			if m.IDColumn == "" {
				bad("users.mysql.id_column", "missing for preset custom")
			}
			if m.NameColumn == "" {
				bad("users.mysql.name_column", "missing for preset custom")
			}
			for _, f := range []struct{ key, v string }{
				{"table", m.Table}, {"id_column", m.IDColumn}, {"name_column", m.NameColumn},
				{"email_column", m.EmailColumn}, {"avatar_column", m.AvatarColumn}, {"role_column", m.RoleColumn},
			} {
				if f.v != "" && !ident.MatchString(f.v) {
					bad("users.mysql."+f.key, "not a plain identifier (letters, digits, underscore): %q", f.v)
				}
			}
			for _, f := range []struct{ key, v string }{{"avatar_url", m.AvatarURL}, {"profile_url", m.ProfileURL}} {
				for _, ph := range tmplValid.FindAllString(f.v, -1) {
					if ph != "{id}" && ph != "{email_md5}" && ph != "{avatar}" {
						bad("users.mysql."+f.key, "unknown placeholder %s (want {id}, {email_md5} or {avatar})", ph)
					}
				}
			}
		case "":
			bad("users.mysql.preset", "missing: wordpress, octobercms or custom")
		default:
			bad("users.mysql.preset", "want wordpress, octobercms or custom, got %q", m.Preset)
		}
		if m.TablePrefix != "" && !ident.MatchString(m.TablePrefix) {
			bad("users.mysql.table_prefix", "not a plain identifier prefix: %q", m.TablePrefix)
		}
	case "http":
		u := c.Users.HTTP.URL
		if u == "" {
			bad("users.http.url", "missing")
		} else if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			bad("users.http.url", "want an http:// or https:// URL, got %q", u)
		}
		if su := c.Users.HTTP.SearchURL; su != "" && !httpURL(su) {
			bad("users.http.search_url", "want an http:// or https:// URL with a host, got %q", su)
		}
	default:
		bad("users.source", "want static, mysql or http, got %q", c.Users.Source)
	}

	if c.Privacy.Erase != "delete" && c.Privacy.Erase != "anonymize" {
		bad("privacy.erase", "want delete or anonymize, got %q", c.Privacy.Erase)
	}
	switch c.Store.Driver {
	case "embedded":
		if c.Store.Engine != "" && c.Store.Engine != "pebble" && c.Store.Engine != "bbolt" {
			bad("store.engine", "want pebble, bbolt or nothing (pick by the data directory), got %q", c.Store.Engine)
		}
	case "mysql":
		if c.Store.DSN == "" {
			bad("store.dsn", "missing for store.driver mysql")
		}
		if !ident.MatchString(c.Store.TablePrefix) {
			bad("store.table_prefix", "not a plain identifier prefix: %q", c.Store.TablePrefix)
		}
	default:
		bad("store.driver", "want embedded or mysql, got %q", c.Store.Driver)
	}
	if c.Store.KeepDays < 0 {
		bad("store.keep_days", "must be 0 (forever) or positive")
	}

	seenRoom := map[string]bool{}
	for i, r := range c.Chat.Rooms {
		if !roomName.MatchString(r) {
			bad(fmt.Sprintf("chat.rooms[%d]", i), "room names are 1-64 letters, digits, - or _; got %q", r)
		} else if seenRoom[r] {
			bad(fmt.Sprintf("chat.rooms[%d]", i), "duplicate room %q", r)
		}
		seenRoom[r] = true
	}
	if c.Chat.MaxLength < 1 || c.Chat.MaxLength > 10000 {
		bad("chat.max_length", "want 1..10000, got %d", c.Chat.MaxLength)
	}
	if c.Chat.History < 0 || c.Chat.History > 100 {
		bad("chat.history", "want 0..100, got %d", c.Chat.History)
	}
	if r := c.Chat.RateLimit(); r < 0 {
		bad("chat.rate", "must be 0 (off) or positive, got %v", r)
	}
	if c.Chat.Burst < 1 {
		bad("chat.burst", "must be positive, got %d", c.Chat.Burst)
	}
	if c.Chat.Buffer < 8 || c.Chat.Buffer > 65536 {
		bad("chat.buffer", "want 8..65536, got %d", c.Chat.Buffer)
	}
	if c.Chat.RoomEventsLimit < 1 {
		bad("chat.room_events_limit", "must be positive, got %d", c.Chat.RoomEventsLimit)
	}
	for i, w := range c.Chat.BannedWords {
		if strings.TrimSpace(w) == "" {
			bad(fmt.Sprintf("chat.banned_words[%d]", i), "empty word")
		}
	}
	if aj := c.Chat.AutoJoin; aj != AutoJoinNone && !seenRoom[aj] {
		bad("chat.auto_join", "%q is not one of chat.rooms; name one of them, or \"none\" to join nobody", aj)
	}
	if u := c.Notify.URL; u != "" {
		if !httpURL(u) {
			bad("notify.url", "want an http:// or https:// URL with a host, got %q", u)
		}
		switch {
		case c.Notify.Secret == "":
			bad("notify.secret", "missing while notify.url is set: the receiver checks every notice's signature with it")
		case len(c.Notify.Secret) < 16:
			bad("notify.secret", "too short (%d characters); use at least 16 random characters", len(c.Notify.Secret))
		}
	}
	if d := c.Notify.Delay.Duration; d < time.Second || d > 24*time.Hour {
		bad("notify.delay", "want 1s..24h, got %s", c.Notify.Delay)
	}
	if w := c.Notify.Window.Duration; w < 0 || w > 7*24*time.Hour {
		bad("notify.window", "want 0 (10m)..168h, got %s", c.Notify.Window)
	}
	{
		f := c.Files
		if f.MaxSize < 1 || f.MaxSize > 1<<30 {
			bad("files.max_size", "want 1..1073741824 bytes, got %d", f.MaxSize)
		}
		if _, err := files.ParseTypes(f.Types); err != nil {
			bad("files.types", "%s", strings.TrimPrefix(err.Error(), "files: "))
		}
		if f.DailyQuota < -1 {
			bad("files.daily_quota", "want bytes a day, or -1 for no quota; got %d", f.DailyQuota)
		}
		if f.URLTTL.Duration < time.Minute || f.URLTTL.Duration > 7*24*time.Hour {
			bad("files.url_ttl", "want 1m..168h, got %s", f.URLTTL)
		}
		if f.Key != "" && len(f.Key) < files.MinKeyLen {
			bad("files.key", "too short (%d characters); use at least %d random characters, or leave it empty to derive one from auth.secret", len(f.Key), files.MinKeyLen)
		}
		if f.Key != "" && (f.Key == c.Auth.Secret || f.Key == c.Auth.LinkSecret) {
			bad("files.key", "equal to another secret; use a key of its own")
		}
	}
	if c.Cluster.RedisURL != "" && !strings.HasPrefix(c.Cluster.RedisURL, "redis://") && !strings.HasPrefix(c.Cluster.RedisURL, "rediss://") {
		bad("cluster.redis_url", "want redis://host:port/db, got %q", c.Cluster.RedisURL)
	}
	if c.Cluster.RedisURL != "" && c.Store.Driver != "mysql" {
		bad("store.driver", "cluster.redis_url needs the shared mysql store; got %q", c.Store.Driver)
	}
	return p
}

func validRole(r string) bool {
	switch r {
	case "", "admin", "mod", "member", "owner":
		return true
	}
	return false
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ValidUserID says why id cannot be a user id, or nil. Ids are 1..64 bytes of
// printable UTF-8 without commas (the users endpoint takes comma lists).
func ValidUserID(id string) error {
	if id == "" {
		return errors.New("empty user id")
	}
	if len(id) > 64 {
		return errors.New("user id longer than 64 bytes")
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f || r == ',' || r == 0xfffd || r == ' ' {
			return fmt.Errorf("user id %q has a forbidden character", id)
		}
	}
	return nil
}

// httpURL says whether s is an absolute http(s) URL with a host, without
// a fragment, spaces or control characters.
func httpURL(s string) bool {
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Opaque == "" && u.Fragment == ""
}
