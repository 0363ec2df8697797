package config

import (
	"strings"
	"testing"
)

// [files]: zero values are the defaults, bad values are reported each with
// its key, and the key never leaks into an error.
func TestFilesConfig(t *testing.T) {
	c, err := Parse("t.toml", []byte("[auth]\nsecret = \"0123456789abcdef\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	f := c.Files
	if f.Enabled || f.Path != "files" || f.MaxSize != 5<<20 || f.DailyQuota != 50<<20 || f.URLTTL.Duration.String() != "1h0m0s" || strings.Join(f.Types, ",") != "pdf,txt,zip,office" {
		t.Errorf("files defaults = %+v", f)
	}
	if k := c.FilesKey(); len(k) != 32 || string(k) == c.Auth.Secret {
		t.Errorf("FilesKey() = %d bytes; want 32 derived bytes", len(k))
	}
	other, _ := Parse("t.toml", []byte("[auth]\nsecret = \"0123456789abcdeX\"\n"))
	if string(other.FilesKey()) == string(c.FilesKey()) {
		t.Errorf("FilesKey() is the same for two secrets")
	}
	bad := "[auth]\nsecret = \"0123456789abcdef\"\n[files]\nmax_size = -1\ntypes = [\"exe\"]\ndaily_quota = -5\nurl_ttl = \"1s\"\nkey = \"hunter2-short\"\n"
	_, err = Parse("t.toml", []byte(bad))
	if err == nil {
		t.Fatal("bad [files] accepted")
	}
	for _, k := range []string{"files.max_size", "files.types", "files.daily_quota", "files.url_ttl", "files.key"} {
		if !strings.Contains(err.Error(), k+":") {
			t.Errorf("error %q does not name %s", err, k)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows files.key: %v", err)
	}
	c, err = Parse("t.toml", []byte("[auth]\nsecret = \"0123456789abcdef\"\n[files]\ntypes = [\"jpeg\"]\nkey = \"0123456789abcdef0123456789abcdef\"\n"))
	if err != nil || string(c.FilesKey()) != "0123456789abcdef0123456789abcdef" {
		t.Errorf("images-only with a key: %v", err)
	}
}
