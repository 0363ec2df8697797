package assets

import (
	"bytes"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

func TestServedFS(t *testing.T) {
	if err := fstest.TestFS(FS, "widget.js", "widget.css", "messenger.js", "demo.html", "demo-user.html", "chat.html"); err != nil {
		t.Fatal(err)
	}
	for name, p := range Built {
		got, err := fs.ReadFile(FS, name)
		if err != nil {
			t.Fatal(err)
		}
		want, err := fs.ReadFile(Source, p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("FS %s is not %s", name, p)
		}
		src, err := fs.ReadFile(Source, name)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(got, src) {
			t.Errorf("FS %s is the readable source; want the build", name)
		}
	}
	for _, name := range []string{"dist", "dist/widget.min.js", "../assets.go", "assets.go"} {
		if _, err := fs.ReadFile(FS, name); err == nil {
			t.Errorf("FS serves %q; want an error", name)
		}
		if _, err := fs.Stat(FS, name); !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Stat(%q) = %v; want not found", name, err)
		}
	}
}

// TestBuiltVersions checks the chain of versioned URLs the build writes:
// widget.js asks for widget.css by its content hash, messenger.js for
// widget.js. A hand edit of one built file breaks it.
func TestBuiltVersions(t *testing.T) {
	read := func(name string) string {
		b, err := fs.ReadFile(FS, name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	css, js, msg := read("widget.css"), read("widget.js"), read("messenger.js")
	if want := `/widget.css?v=` + Version([]byte(css)); !strings.Contains(js, want) {
		t.Errorf("built widget.js does not ask for %s: run make widget", want)
	}
	if want := `/widget.js?v=` + Version([]byte(js)); !strings.Contains(msg, want) {
		t.Errorf("built messenger.js does not ask for %s: run make widget", want)
	}
}

func TestVersion(t *testing.T) {
	// printf '' | sha256sum: e3b0c44298fc1c14…
	if got, want := Version(nil), "e3b0c44298fc1c14"; got != want {
		t.Errorf("Version(nil) = %q; want %q", got, want)
	}
	if Version([]byte("a")) == Version([]byte("b")) {
		t.Error("Version does not depend on the content")
	}
}
