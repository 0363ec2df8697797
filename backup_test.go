package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pollchat/internal/testsvc"
	"pollchat/store"
)

type acked struct {
	id   int64
	text string
}

// sender posts messages through the backend API until stop closes, and
// records each acknowledged one.
type sender struct {
	url  string
	mu   sync.Mutex
	acks []acked
	errs []error
}

func (s *sender) send(i int, text string) error {
	body, _ := json.Marshal(map[string]string{"from": "1", "to": fmt.Sprint(2 + i%4), "text": text})
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/v1/messages", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(testsvc.APILogin, testsvc.APIPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		Message struct {
			ID int64 `json:"id"`
		} `json:"message"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("send: %s, %v", resp.Status, err)
	}
	s.mu.Lock()
	s.acks = append(s.acks, acked{out.Message.ID, text})
	s.mu.Unlock()
	return nil
}

func (s *sender) failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.errs) > 0
}

func (s *sender) snapshot() []acked {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]acked(nil), s.acks...)
}

func runBinary(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(testsvc.Binary(t), args...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// readBackup opens a copy as a store and returns its messages by id.
func readBackup(t *testing.T, file string) map[int64]store.Message {
	t.Helper()
	dir := t.TempDir()
	if err := store.RestoreEmbeddedBackup(file, dir); err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenEmbedded(dir)
	if err != nil {
		t.Fatalf("the backup does not open as a store: %v", err)
	}
	defer st.Close()
	all, err := st.Export(context.Background(), "", 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]store.Message{}
	for _, m := range all {
		got[m.ID] = m
	}
	return got
}

// The backup of a running server under load holds every message
// acknowledged before it started, and its ids have no holes: it is one
// consistent point of the store, taken while sends go on.
func TestBackupWhileServing(t *testing.T) {
	p := testsvc.StartPollchat(t, testsvc.Options{Chat: "rate = 0"})
	s := &sender{url: p.URL}
	pad := strings.TrimSpace(strings.Repeat("payload ", 500)) // ~4 KB a message: a copy that takes a while

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var n sync.Mutex
	next := 0
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				n.Lock()
				i := next
				next++
				n.Unlock()
				if err := s.send(i, fmt.Sprint("m", i, " ", pad)); err != nil {
					s.mu.Lock()
					s.errs = append(s.errs, err)
					s.mu.Unlock()
					return
				}
			}
		}()
	}
	for len(s.snapshot()) < 1000 && !s.failed() {
		time.Sleep(10 * time.Millisecond)
	}
	before := s.snapshot()
	out := filepath.Join(t.TempDir(), "backup.db")
	code, msg := runBinary(t, "backup", "-config", p.Config, out)
	during := len(s.snapshot()) - len(before)
	close(stop)
	wg.Wait()
	if len(s.errs) > 0 {
		t.Fatalf("sends failed during the backup: %v\n%s", s.errs[0], p.Log())
	}
	if code != 0 || !strings.Contains(msg, "from the running server") {
		t.Fatalf("pollchat backup = %d, %q; want 0 and a copy from the running server", code, msg)
	}
	t.Logf("%d sends acknowledged before the backup, %d while it ran; %s", len(before), during, strings.TrimSpace(msg))

	got := readBackup(t, out)
	for _, a := range before {
		if m, ok := got[a.id]; !ok || m.Text != a.text {
			t.Fatalf("backup lacks acknowledged message %d (held %d messages)", a.id, len(got))
		}
	}
	var max int64
	for id := range got {
		max = max0(max, id)
	}
	if int64(len(got)) != max {
		t.Errorf("backup holds %d messages with ids up to %d; want 1..%d without holes", len(got), max, max)
	}
	// Every message acknowledged with an id inside the copy is in it.
	for _, a := range s.snapshot() {
		if a.id <= max && got[a.id].Text != a.text {
			t.Errorf("backup's message %d = %.20q; want %.20q", a.id, got[a.id].Text, a.text)
		}
	}

	// With the server stopped, the file is read directly and holds all.
	p.Stop()
	out2 := filepath.Join(t.TempDir(), "offline.db")
	if code, msg := runBinary(t, "backup", "-config", p.Config, out2); code != 0 || !strings.Contains(msg, "no server running") {
		t.Fatalf("pollchat backup (stopped) = %d, %q; want 0 and a direct copy", code, msg)
	}
	if got := readBackup(t, out2); len(got) != len(s.snapshot()) {
		t.Errorf("offline backup holds %d messages; want %d", len(got), len(s.snapshot()))
	}
}

func max0(a, b int64) int64 {
	if b > a {
		return b
	}
	return a
}

func TestBackupRefuses(t *testing.T) {
	p := testsvc.StartPollchat(t, testsvc.Options{})
	cfg, err := os.ReadFile(p.Config)
	if err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(t.TempDir(), "wrong.toml")
	os.WriteFile(wrong, bytes.Replace(cfg, []byte(testsvc.APIPassword), []byte("not-the-password"), 1), 0o600)
	noAPI := filepath.Join(t.TempDir(), "noapi.toml")
	os.WriteFile(noAPI, bytes.Replace(cfg, []byte(`password = "`+testsvc.APIPassword+`"`), []byte(`password = ""`), 1), 0o600)
	mysqlCfg := writeConfig(t, "driver = \"mysql\"\ndsn = \"u:p@tcp(127.0.0.1:1)/db\"")
	out := filepath.Join(t.TempDir(), "b.db")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"wrong api password", []string{"-config", wrong, out}, 1, "401"},
		{"api off", []string{"-config", noAPI, out}, 1, "backend API is off"},
		{"onto the store itself", []string{"-config", p.Config, filepath.Join(p.Dir, "data", store.EmbeddedFile)}, 2, "is the store itself"},
		{"mysql store", []string{"-config", mysqlCfg, out}, 2, "mysqldump --single-transaction"},
		{"no file named", []string{"-config", p.Config}, 2, "usage"},
	}
	for _, tt := range tests {
		code, msg := runBinary(t, append([]string{"backup"}, tt.args...)...)
		if code != tt.code || !strings.Contains(msg, tt.want) {
			t.Errorf("%s: pollchat backup = %d, %q; want %d and %q", tt.name, code, msg, tt.code, tt.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused backup left %s behind (%v)", out, err)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*.tmp")); len(m) > 0 {
		t.Errorf("a refused backup left temp files: %v", m)
	}
}
