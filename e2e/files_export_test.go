package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pollchat/internal/testsvc"
)

// pollchatTool runs `pollchat ARGS…` (export, import) and fails the test
// on a non-zero exit.
func pollchatTool(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(testsvc.Binary(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("pollchat %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// historyFiles fetches the files of uid's conversation with peer through
// the signed URLs history hands out, by name.
func historyFiles(t *testing.T, c *testsvc.Client, uid, peer string) map[string][]byte {
	t.Helper()
	h := c.MustCall(t, uid, "history", "with", peer)
	got := map[string][]byte{}
	msgs, _ := h["messages"].([]any)
	for _, m := range msgs {
		d, _ := m.(map[string]any)["data"].(map[string]any)
		att, _ := d["attachment"].(map[string]any)
		if att == nil {
			continue
		}
		r := get(t, c, att["url"].(string))
		if r.Status != 200 {
			t.Fatalf("GET %s from history = %d %s", att["url"], r.Status, r.Body)
		}
		got[att["name"].(string)] = r.Body
		if tu, _ := att["thumb_url"].(string); tu != "" {
			if r := get(t, c, tu); r.Status != 200 || len(r.Body) == 0 {
				t.Fatalf("GET %s (thumbnail) from history = %d", tu, r.Status)
			}
		}
	}
	return got
}

// Files travel with export and import: an image and a PDF uploaded through
// the running binary are exported (stopped), imported into a fresh
// embedded store and into MySQL, and served there from history's signed
// URLs with the same bytes; then exported from MySQL and imported back
// into an embedded store, through standard output and input.
func TestFilesExportImportRoundTrip(t *testing.T) {
	t.Parallel()
	p, c := start(t, filesOpts(""))
	pdf := []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
	attachmentOf(t, upload(t, c, "3", "holiday.png", pngOf(400, 300), "", "to", "4"))
	attachmentOf(t, upload(t, c, "3", "invoice.pdf", pdf, "", "to", "4", "text", "the invoice"))
	want := historyFiles(t, c, "4", "3")
	if len(want) != 2 || !bytes.Equal(want["invoice.pdf"], pdf) {
		t.Fatalf("files before export: %d, pdf %q; want 2 files and the PDF as sent", len(want), want["invoice.pdf"])
	}
	p.Stop()
	dir := t.TempDir()
	file := filepath.Join(dir, "all.jsonl")
	if out := pollchatTool(t, "export", "-config", p.Config, "-o", file); !strings.Contains(out, "2 files") {
		t.Fatalf("export said %q; want 2 files", out)
	}

	check := func(name string, q *testsvc.Pollchat) {
		t.Helper()
		got := historyFiles(t, testsvc.NewClient(q.URL), "4", "3")
		for n, b := range want {
			if !bytes.Equal(got[n], b) {
				t.Errorf("%s: file %s = %d bytes; want the %d bytes served before export", name, n, len(got[n]), len(b))
			}
		}
	}

	// Into a fresh embedded store.
	q := testsvc.StartPollchat(t, filesOpts(""))
	q.Stop()
	out := pollchatTool(t, "import", "-config", q.Config, "-i", file)
	if !strings.Contains(out, "2 files read, 2 stored") {
		t.Fatalf("import said %q; want 2 files stored", out)
	}
	q.Start()
	check("embedded", q)
	q.Stop()

	// Into MySQL, then back out of it through standard output, and into
	// another embedded store through standard input.
	db := testsvc.NewMariaDB(t)
	o := filesOpts("")
	o.Store = fmt.Sprintf("[store]\ndriver = \"mysql\"\ndsn = %q\n", db.NewDatabase(t))
	m := testsvc.StartPollchat(t, o)
	m.Stop()
	pollchatTool(t, "import", "-config", m.Config, "-i", file)
	m.Start()
	check("mysql", m)
	m.Stop()
	var fromMySQL bytes.Buffer
	cmd := exec.Command(testsvc.Binary(t), "export", "-config", m.Config)
	cmd.Stdout = &fromMySQL
	if err := cmd.Run(); err != nil {
		t.Fatalf("export from MySQL to standard output: %v", err)
	}
	back := testsvc.StartPollchat(t, filesOpts(""))
	back.Stop()
	cmd = exec.Command(testsvc.Binary(t), "import", "-config", back.Config)
	cmd.Stdin = bytes.NewReader(fromMySQL.Bytes())
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "2 files read, 2 stored") {
		t.Fatalf("import from standard input: %v\n%s", err, b)
	}
	back.Start()
	check("embedded from MySQL", back)

	// A file line whose bytes were swapped for HTML is refused whole.
	raw, _ := os.ReadFile(file)
	bad := bytes.Replace(raw, []byte(`"data":"JVBERi0`), []byte(`"data":"PGh0bWw`), 1)
	if bytes.Equal(bad, raw) {
		t.Fatal("the export holds no PDF data line to tamper with")
	}
	badFile := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(badFile, bad, 0o600)
	fresh := testsvc.StartPollchat(t, filesOpts(""))
	fresh.Stop()
	b, err := exec.Command(testsvc.Binary(t), "import", "-config", fresh.Config, "-i", badFile).CombinedOutput()
	if err == nil || !strings.Contains(string(b), "nothing was stored") || !strings.Contains(string(b), "line ") {
		t.Fatalf("import of a tampered file = %v %s; want a refusal naming the line", err, b)
	}
}
