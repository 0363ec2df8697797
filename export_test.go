package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pollchat/internal/testsvc"
	"pollchat/store"
)

// writeConfig writes a config whose [store] section is storeTOML.
func writeConfig(t *testing.T, storeTOML string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	body := "[auth]\nsecret = \"export-test-secret-0123\"\n\n[store]\n" + storeTOML + "\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func embeddedConfig(t *testing.T) (cfgPath, dataDir string) {
	dataDir = filepath.Join(t.TempDir(), "data")
	return writeConfig(t, fmt.Sprintf("driver = \"embedded\"\npath = %q", dataDir)), dataDir
}

func readLines(t *testing.T, path string) []store.Message {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []store.Message
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m store.Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestExportImport(t *testing.T) {
	ctx := context.Background()
	srcCfg, srcDir := embeddedConfig(t)
	src, err := store.OpenEmbedded(srcDir)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"hello 😀", "<script>alert(1)</script>", "in the room", "reply 𝄞"}
	var saved []store.Message
	for i, txt := range texts {
		m := store.Message{From: "a", To: "b", Text: txt, ClientID: fmt.Sprint("c", i)}
		if i == 2 {
			m = store.Message{From: "b", Room: "lobby", Text: txt}
		}
		if i == 3 {
			m.From, m.To = "b", "a"
		}
		if _, err := src.SaveMessage(ctx, &m); err != nil {
			t.Fatal(err)
		}
		saved = append(saved, m)
	}
	src.Close()

	dir := t.TempDir()
	tests := []struct {
		name  string
		args  []string
		texts []string
	}{
		{"all", nil, texts},
		{"room", []string{"-room", "lobby"}, texts[2:3]},
		{"conv", []string{"-conv", "with:b,a"}, []string{texts[0], texts[1], texts[3]}},
		{"empty room", []string{"-room", "nobody"}, nil},
	}
	for _, tt := range tests {
		out := filepath.Join(dir, tt.name+".jsonl")
		args := append([]string{"-config", srcCfg, "-o", out}, tt.args...)
		if code := runExport(args); code != 0 {
			t.Fatalf("runExport(%q) = %d; want 0", args, code)
		}
		var got []string
		for _, m := range readLines(t, out) {
			got = append(got, m.Text)
		}
		if strings.Join(got, "|") != strings.Join(tt.texts, "|") {
			t.Errorf("runExport(%q) texts = %q; want %q", args, got, tt.texts)
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "all.jsonl"))
	if err != nil || !strings.Contains(string(raw), "<script>alert(1)</script>") {
		t.Errorf("export file = %q, %v; want the text verbatim (no \\u003c)", raw, err)
	}

	for _, bad := range [][]string{
		{"-config", srcCfg, "-conv", "b,a"},
		{"-config", srcCfg, "-conv", "with:a,b", "-room", "lobby"},
		{"-config", filepath.Join(dir, "missing.toml")},
		{"-config", srcCfg, "extra"},
	} {
		if code := runExport(bad); code != 2 {
			t.Errorf("runExport(%q) = %d; want 2", bad, code)
		}
	}

	// Import into a fresh embedded store, twice: the second adds nothing.
	dstCfg, dstDir := embeddedConfig(t)
	all := filepath.Join(dir, "all.jsonl")
	for i := 0; i < 2; i++ {
		if code := runImport([]string{"-config", dstCfg, "-i", all}); code != 0 {
			t.Fatalf("runImport #%d = %d; want 0", i+1, code)
		}
	}
	dst, err := store.OpenEmbedded(dstDir)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	checkSame(t, dst, saved)

	// A broken line is an error that names it.
	badFile := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(badFile, []byte(`{"id":1,"from":"a","to":"b","text":"x","ts":"2026-01-01T00:00:00Z"}`+"\nnot json\n"), 0o600)
	if code := runImport([]string{"-config", dstCfg, "-i", badFile}); code != 1 {
		t.Errorf("runImport(bad line) = %d; want 1", code)
	}
}

func checkSame(t *testing.T, st store.Store, saved []store.Message) {
	t.Helper()
	ctx := context.Background()
	for _, conv := range []store.Conv{store.DirectConv("a", "b"), store.RoomConv("lobby")} {
		got, _, err := st.History(ctx, conv, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var want []store.Message
		for _, m := range saved {
			if m.Conv() == conv {
				want = append(want, m)
			}
		}
		if len(want) > 100 {
			want = want[len(want)-100:]
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("History(%s) after import = %d messages %.300v; want %d %.300v", conv, len(got), got, len(want), want)
		}
	}
	next := store.Message{From: "a", To: "b", Text: "after import"}
	if _, err := st.SaveMessage(ctx, &next); err != nil || next.ID <= saved[len(saved)-1].ID {
		t.Errorf("SaveMessage after import: id %d, %v; want above %d", next.ID, err, saved[len(saved)-1].ID)
	}
}

// Moving from the embedded store to MySQL with the two commands.
func TestExportImportToMySQL(t *testing.T) {
	ctx := context.Background()
	srcCfg, srcDir := embeddedConfig(t)
	src, err := store.OpenEmbedded(srcDir)
	if err != nil {
		t.Fatal(err)
	}
	var saved []store.Message
	for i := 0; i < 1200; i++ { // more than one page
		m := store.Message{From: "a", To: "b", Text: fmt.Sprint("m 😀 ", i)}
		if i%5 == 0 {
			m = store.Message{From: "b", Room: "lobby", Text: fmt.Sprint("r ", i)}
		}
		if _, err := src.SaveMessage(ctx, &m); err != nil {
			t.Fatal(err)
		}
		saved = append(saved, m)
	}
	src.Close()
	file := filepath.Join(t.TempDir(), "all.jsonl")
	if code := runExport([]string{"-config", srcCfg, "-o", file}); code != 0 {
		t.Fatalf("runExport = %d", code)
	}
	if got := readLines(t, file); len(got) != len(saved) {
		t.Fatalf("export wrote %d messages; want %d", len(got), len(saved))
	}

	db := testsvc.NewMariaDB(t)
	db.Exec(t, "", "CREATE DATABASE chat CHARACTER SET utf8mb4")
	dstCfg := writeConfig(t, fmt.Sprintf("driver = \"mysql\"\ndsn = %q\ntable_prefix = \"pc_\"", db.DSN("chat")))
	for i := 0; i < 2; i++ {
		if code := runImport([]string{"-config", dstCfg, "-i", file}); code != 0 {
			t.Fatalf("runImport #%d into MySQL = %d; want 0", i+1, code)
		}
	}
	dst, err := store.OpenMySQL(ctx, db.DSN("chat"), "pc_", store.MySQLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	all, err := dst.Export(ctx, "", 0, 10000)
	if err != nil || len(all) != len(saved) {
		t.Fatalf("MySQL holds %d messages, %v; want %d", len(all), err, len(saved))
	}
	for i := range all {
		if fmt.Sprint(all[i]) != fmt.Sprint(saved[i]) {
			t.Fatalf("message %d in MySQL = %v; want %v", i, all[i], saved[i])
		}
	}
	checkSame(t, dst, saved)
}
