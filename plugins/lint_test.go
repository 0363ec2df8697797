package plugins

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPHPLint runs `php -l` on every PHP file of both plugins.
func TestPHPLint(t *testing.T) {
	php := phpBin(t)
	for _, tc := range []struct {
		plugin string
		dir    string
		min    int // files the plugin has at least
	}{
		{"wordpress", wordpressPlugin, 10},
		{"octobercms", octoberPlugin, 9},
	} {
		files := phpFiles(t, tc.dir)
		if len(files) < tc.min {
			t.Fatalf("%s: %d PHP files under %s; want at least %d", tc.plugin, len(files), tc.dir, tc.min)
		}
		for _, f := range files {
			rel, _ := filepath.Rel(tc.dir, f)
			t.Run(tc.plugin+"/"+rel, func(t *testing.T) {
				out, err := exec.Command(php, "-l", f).CombinedOutput()
				if err != nil || !strings.Contains(string(out), "No syntax errors") {
					t.Errorf("php -l %s = %v\n%s", rel, err, out)
				}
			})
		}
	}
}
