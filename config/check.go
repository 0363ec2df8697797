package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
)

// knownKeys lists every key of Config as written in TOML ("server.listen",
// "users.static.user_id"), tables included ("users.mysql").
func knownKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if name == "" || name == "-" {
				continue
			}
			key := prefix + name
			keys = append(keys, key)
			ft := f.Type
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(Duration{}) {
				walk(ft, key+".")
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return keys
}

// suggest returns the known key nearest to an unknown one, or "": a key
// within two edits (a typo), or the key of the same name in another table
// (a key in the wrong section).
func suggest(unknown string) string {
	keys := knownKeys()
	best, bestD := "", 3
	for _, k := range keys {
		if d := editDistance(unknown, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" {
		return best
	}
	last := unknown[strings.LastIndex(unknown, ".")+1:]
	for _, k := range keys {
		if k[strings.LastIndex(k, ".")+1:] == last {
			return k
		}
	}
	// A typo in the last part only: compare within the same table.
	parent := ""
	if i := strings.LastIndex(unknown, "."); i >= 0 {
		parent = unknown[:i+1]
	}
	for _, k := range keys {
		if strings.HasPrefix(k, parent) && !strings.Contains(k[len(parent):], ".") {
			if d := editDistance(last, k[len(parent):]); d < bestD && d*3 <= len(last)+2 {
				best, bestD = k, d
			}
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// CheckStore checks what Load cannot: that the embedded store's directory
// exists and is writable, or can be created (its parent exists and is
// writable). The MySQL store is checked by connecting to it.
func CheckStore(c *Config) error {
	if c.Store.Driver != "embedded" {
		return nil
	}
	dir := c.Store.Path
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		parent := filepath.Dir(dir)
		pfi, perr := os.Stat(parent)
		if perr != nil || !pfi.IsDir() {
			return fmt.Errorf("store.path: %s does not exist, nor does its parent %s", dir, parent)
		}
		if err := writable(parent); err != nil {
			return fmt.Errorf("store.path: %s does not exist and cannot be created: %v", dir, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("store.path: %v", err)
	case !fi.IsDir():
		return fmt.Errorf("store.path: %s is not a directory", dir)
	}
	if err := writable(dir); err != nil {
		return fmt.Errorf("store.path: %s is not writable by this user: %v", dir, err)
	}
	return nil
}

func writable(dir string) error {
	f, err := os.CreateTemp(dir, ".pollchat-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// Secrets returns every secret value of the config: the shared secrets, the
// passwords, and the passwords inside DSNs and URLs. Messages must never
// show them.
func (c *Config) Secrets() []string {
	var s []string
	add := func(v string) {
		if v != "" {
			s = append(s, v)
		}
	}
	add(c.Auth.Secret)
	add(c.Auth.LinkSecret)
	add(c.API.Password)
	add(c.Users.HTTP.Password)
	add(c.Notify.Secret)
	add(c.Files.Key)
	for _, v := range []string{c.Users.MySQL.DSN, c.Store.DSN, c.Cluster.RedisURL, c.Users.HTTP.URL, c.Server.PublicURL, c.Notify.URL} {
		for _, m := range userinfo.FindAllStringSubmatch(v, -1) {
			if _, pass, ok := strings.Cut(m[2], ":"); ok {
				add(pass)
			} else {
				add(m[2])
			}
		}
		for _, m := range dsnPass.FindAllStringSubmatch(v, -1) {
			add(m[2])
		}
		for _, m := range anyPass.FindAllStringSubmatch(v, -1) {
			add(m[1]) // a URL too broken for the patterns above
		}
	}
	// Longest first, so that a secret containing another is replaced whole.
	sort.Slice(s, func(i, j int) bool { return len(s[i]) > len(s[j]) })
	return s
}

var (
	// scheme://userinfo@ ; the userinfo is user:password, :password or a token.
	userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)([^/@\s"'?#]*)@`)
	// go-sql-driver DSN: user:password@tcp(...), @unix(...), @(...) or @/db.
	// :password@ anywhere, for values too broken to be URLs or DSNs.
	anyPass = regexp.MustCompile(`:([^:@\s"'/]+)@`)
	dsnPass = regexp.MustCompile(`([^:@\s"'/()]*:)([^@\s"']*)(@(?:tcp|unix|\(|/))`)
)

// Redact removes every secret of c from s, and the password part of every
// URL and DSN in s.
func (c *Config) Redact(s string) string {
	if c != nil {
		for _, v := range c.Secrets() {
			s = strings.ReplaceAll(s, v, "***")
		}
	}
	return Redact(s)
}

// RedactError is err with its message redacted (nil stays nil).
func (c *Config) RedactError(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(c.Redact(err.Error()))
}

// Redact removes the password part of every URL (scheme://user:pass@) and
// go-sql-driver DSN (user:pass@tcp(...)) in s.
func Redact(s string) string {
	s = userinfo.ReplaceAllStringFunc(s, func(m string) string {
		p := userinfo.FindStringSubmatch(m)
		if user, _, ok := strings.Cut(p[2], ":"); ok {
			return p[1] + user + ":***@"
		}
		return p[1] + "***@" // a lone token
	})
	return dsnPass.ReplaceAllString(s, "${1}***${3}")
}
