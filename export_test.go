package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pollchat/files"
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

// A hostile import file is refused whole, before anything is written, with
// the line of the first bad record.
func TestImportRefusesHostileRecords(t *testing.T) {
	good := `{"id":1,"from":"a","to":"b","text":"fine","ts":"2026-01-01T00:00:00Z"}`
	long := strings.Repeat("x", 10001)
	tests := []struct {
		name, record, want string
	}{
		{"id near 2^63", `{"id":9223372036854775807,"from":"a","to":"b","text":"x","ts":"2026-01-01T00:00:00Z"}`, "id 9223372036854775807"},
		{"id above 2^50", `{"id":1125899906842625,"from":"a","to":"b","text":"x","ts":"2026-01-01T00:00:00Z"}`, "want 1.."},
		{"negative id", `{"id":-5,"from":"a","to":"b","text":"x","ts":"2026-01-01T00:00:00Z"}`, "id -5"},
		{"id out of order", `{"id":1,"from":"a","to":"b","text":"x","ts":"2026-01-01T00:00:00Z"}`, "not above the previous"},
		{"id overflows int64", `{"id":9223372036854775808,"from":"a","to":"b","text":"x","ts":"2026-01-01T00:00:00Z"}`, "cannot unmarshal"},
		{"to is a list", `{"id":2,"from":"a","to":"3,4","text":"x","ts":"2026-01-01T00:00:00Z"}`, "to: user id"},
		{"from has a comma", `{"id":2,"from":"1,2","to":"b","text":"x","ts":"2026-01-01T00:00:00Z"}`, "from: user id"},
		{"to too long", `{"id":2,"from":"a","to":"` + strings.Repeat("b", 65) + `","text":"x","ts":"2026-01-01T00:00:00Z"}`, "longer than 64"},
		{"unknown room", `{"id":2,"from":"a","room":"secret-room","text":"x","ts":"2026-01-01T00:00:00Z"}`, `room "secret-room" is not in chat.rooms`},
		{"to and room", `{"id":2,"from":"a","to":"b","room":"lobby","text":"x","ts":"2026-01-01T00:00:00Z"}`, "both to and room"},
		{"neither to nor room", `{"id":2,"from":"a","text":"x","ts":"2026-01-01T00:00:00Z"}`, "neither to nor room"},
		{"to self", `{"id":2,"from":"a","to":"a","text":"x","ts":"2026-01-01T00:00:00Z"}`, "same user"},
		{"no sender, not system", `{"id":2,"to":"b","text":"x","ts":"2026-01-01T00:00:00Z"}`, "must be a system message"},
		{"sender and system", `{"id":2,"from":"a","to":"b","system":true,"text":"x","ts":"2026-01-01T00:00:00Z"}`, "cannot be a system message"},
		{"text too long", `{"id":2,"from":"a","to":"b","text":"` + long + `","ts":"2026-01-01T00:00:00Z"}`, "10001 characters"},
		{"blank text", `{"id":2,"from":"a","to":"b","text":" \n ","ts":"2026-01-01T00:00:00Z"}`, "text is empty"},
		{"control character", `{"id":2,"from":"a","to":"b","text":"a\u0000b","ts":"2026-01-01T00:00:00Z"}`, "control character"},
		{"invalid UTF-8", "{\"id\":2,\"from\":\"a\",\"to\":\"b\",\"text\":\"a\xffb\",\"ts\":\"2026-01-01T00:00:00Z\"}", "not valid UTF-8"},
		{"no ts", `{"id":2,"from":"a","to":"b","text":"x"}`, "no ts"},
		{"ts in 1970", `{"id":2,"from":"a","to":"b","text":"x","ts":"1970-01-01T00:00:01Z"}`, "ts 1970"},
		{"ts in the far future", `{"id":2,"from":"a","to":"b","text":"x","ts":"9999-12-31T23:59:59Z"}`, "ts 9999"},
		{"client_id too long", `{"id":2,"from":"a","to":"b","text":"x","client_id":"` + strings.Repeat("c", 129) + `","ts":"2026-01-01T00:00:00Z"}`, "client_id"},
		{"data too large", `{"id":2,"from":"a","to":"b","text":"x","data":"` + strings.Repeat("d", 9000) + `","ts":"2026-01-01T00:00:00Z"}`, "data is"},
		{"unknown field", `{"id":2,"from":"a","to":"b","text":"x","ts":"2026-01-01T00:00:00Z","admin":true}`, "unknown field"},
		{"two values on a line", `{"id":2,"from":"a","to":"b","text":"x","ts":"2026-01-01T00:00:00Z"} {"id":3}`, "more than one JSON value"},
	}
	cfgPath, dataDir := embeddedConfig(t)
	dir := t.TempDir()
	rule := importRule{rooms: map[string]bool{"lobby": true}, minTS: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), maxTS: time.Now().Add(24 * time.Hour)}
	for i, tt := range tests {
		// The bad record comes on line 3, after a good one and a blank line.
		body := good + "\n\n" + tt.record + "\n" + `{"id":99,"from":"a","to":"b","text":"after","ts":"2026-01-01T00:00:00Z"}` + "\n"
		_, err := readImport(strings.NewReader(body), rule, nil)
		if err == nil || !strings.Contains(err.Error(), "line 3: ") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: readImport = %v; want an error naming line 3 and %q", tt.name, err, tt.want)
		}
		file := filepath.Join(dir, fmt.Sprint(i, ".jsonl"))
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if code := runImport([]string{"-config", cfgPath, "-i", file}); code != 1 {
			t.Errorf("%s: runImport = %d; want 1", tt.name, code)
		}
	}
	// Nothing was stored, not even the good first line of each file.
	st, err := store.OpenEmbedded(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if all, err := st.Export(context.Background(), "", 0, 100); err != nil || len(all) != 0 {
		t.Fatalf("store after refused imports holds %d messages (%v); want 0", len(all), err)
	}
}

// The largest id an import accepts still leaves later sends positive,
// increasing and exact in a browser.
func TestImportLargestID(t *testing.T) {
	cfgPath, dataDir := embeddedConfig(t)
	file := filepath.Join(t.TempDir(), "max.jsonl")
	body := fmt.Sprintf(`{"id":%d,"from":"a","to":"b","text":"big","ts":"2026-01-01T00:00:00Z"}`+"\n"+
		`{"id":%d,"room":"lobby","system":true,"text":"notice","ts":"2026-01-01T00:00:01Z"}`+"\n", int64(maxImportID)-1, int64(maxImportID))
	os.WriteFile(file, []byte(body), 0o600)
	if code := runImport([]string{"-config", cfgPath, "-i", file}); code != 0 {
		t.Fatalf("runImport(id %d) = %d; want 0", int64(maxImportID), code)
	}
	st, err := store.OpenEmbedded(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	m := store.Message{From: "a", To: "b", Text: "next"}
	if _, err := st.SaveMessage(ctx, &m); err != nil || m.ID != maxImportID+1 {
		t.Fatalf("SaveMessage after import: id %d, %v; want %d", m.ID, err, int64(maxImportID)+1)
	}
	h, _, err := st.History(ctx, store.DirectConv("a", "b"), 0, 10)
	if err != nil || len(h) != 2 || h[1].Text != "next" {
		t.Fatalf("History after import = %v, %v; want the imported and the new message", h, err)
	}
}

// Whatever the input, readImport either refuses it or hands over records
// that a store can take: ids increasing and in range, one of to and room.
func FuzzReadImport(f *testing.F) {
	f.Add([]byte(`{"id":1,"from":"a","to":"b","text":"fine","ts":"2026-01-01T00:00:00Z"}` + "\n"))
	f.Add([]byte(`{"id":9223372036854775807,"from":"a","to":"3,4","text":"x","ts":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"id":2,"room":"lobby","system":true,"text":"n","ts":"2026-01-01T00:00:00Z","data":{"k":[1]}}`))
	f.Add([]byte(`{"file":{"id":"aaaaaaaaaaaaaaaaaaaaaaaaaa","owner":"a","conversation":"d:a,b","name":"x.txt","type":"txt","size":2,"created":"2026-01-01T00:00:00Z"},"data":"aGk="}` + "\n"))
	f.Add([]byte(`{"file":{"id":"aaaaaaaaaaaaaaaaaaaaaaaaaa","owner":"a","conversation":"r:lobby","name":"x.png","type":"png","size":8,"width":1,"height":1,"thumb_id":"aaaaaaaaaaaaaaaaaaaaaaaaaa_t","created":"2026-01-01T00:00:00Z"},"data":"iVBORw0KGgo=","thumb":"iVBORw0KGgo="}`))
	proc, err := files.NewProcessor(files.Config{MaxSize: 1 << 16, MaxPixels: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	rule := importRule{rooms: map[string]bool{"lobby": true}, minTS: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), maxTS: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), proc: proc}
	f.Fuzz(func(t *testing.T, b []byte) {
		var prev int64
		_, err := readImportFiles(bytes.NewReader(b), rule, func(_ int, msgs []store.Message) error {
			for _, m := range msgs {
				if m.ID <= prev || m.ID > maxImportID || (m.To == "") == (m.Room == "") || m.TS.IsZero() {
					t.Fatalf("readImport accepted %+v after id %d", m, prev)
				}
				prev = m.ID
			}
			return nil
		}, func(_ int, fl *fileLine) error {
			a := fl.File
			if !files.ValidID(a.ID) || a.Size != int64(len(fl.Data)) || files.Type(a.Type) == "" {
				t.Fatalf("readImport accepted file %+v", a)
			}
			if got, err := proc.Detect(fl.Data); err != nil || string(got) != a.Type {
				t.Fatalf("readImport accepted file %+v whose data is %v, %v", a, got, err)
			}
			return nil
		})
		_ = err
	})
}

// pngImage is a w×h PNG.
func pngImage(w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// A file line is refused, naming its line, when its record or its bytes
// are not what the server would have stored: every blob is detected and
// decoded again, never trusted.
func TestImportRefusesHostileFiles(t *testing.T) {
	proc, err := files.NewProcessor(files.Config{})
	if err != nil {
		t.Fatal(err)
	}
	up, err := proc.Accept(pngImage(200, 100), "cat.png")
	if err != nil {
		t.Fatal(err)
	}
	id := files.NewID()
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	good := func() fileLine {
		return fileLine{File: &store.Attachment{ID: id, MessageID: 1, Owner: "a", Conv: store.DirectConv("a", "b"), Name: up.Name,
			Type: string(up.Type), Size: int64(len(up.Data)), Width: up.Width, Height: up.Height, ThumbID: files.ThumbID(id), Created: ts},
			Data: up.Data, Thumb: up.Thumb}
	}
	enc := func(f fileLine) string {
		b, _ := json.Marshal(f)
		return string(b)
	}
	msg := `{"id":1,"from":"a","to":"b","text":"cat.png","ts":"2026-01-01T00:00:00Z"}`
	rule := importRule{rooms: map[string]bool{"lobby": true}, minTS: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), maxTS: time.Now().Add(24 * time.Hour), proc: proc}
	if _, err := readImport(strings.NewReader(msg+"\n"+enc(good())+"\n"), rule, nil); err != nil {
		t.Fatalf("readImport(a good file line) = %v; want nil", err)
	}
	big, _ := proc.Accept(pngImage(600, 600), "big.png")
	tests := []struct {
		name string
		edit func(f *fileLine)
		want string
	}{
		{"html as png", func(f *fileLine) {
			f.Data = []byte("<html><script>alert(1)</script></html>")
			f.File.Size = int64(len(f.Data))
		}, "file data"},
		{"pdf claimed png", func(f *fileLine) {
			f.Data = []byte("%PDF-1.4\n%%EOF\n")
			f.File.Size = int64(len(f.Data))
		}, "but its data is pdf"},
		{"svg", func(f *fileLine) {
			f.Data = []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
			f.File.Size = int64(len(f.Data))
		}, "file data"},
		{"size lies", func(f *fileLine) { f.File.Size++ }, "file size"},
		{"dimensions lie", func(f *fileLine) { f.File.Width = 20000 }, "but its data is 200×100"},
		{"truncated image", func(f *fileLine) { f.Data = f.Data[:len(f.Data)/2]; f.File.Size = int64(len(f.Data)) }, "file data"},
		{"id escapes", func(f *fileLine) { f.File.ID = "../../etc/passwd" }, "not a file id"},
		{"thumb id as id", func(f *fileLine) { f.File.ID = files.ThumbID(id) }, "not a file id"},
		{"thumb elsewhere", func(f *fileLine) { f.File.ThumbID = files.ThumbID(files.NewID()) }, "thumb_id"},
		{"no thumb", func(f *fileLine) { f.Thumb = nil }, "without its thumbnail"},
		{"thumb is html", func(f *fileLine) { f.Thumb = []byte("<html>") }, "file thumb"},
		{"thumb too large", func(f *fileLine) { f.Thumb = big.Data }, "a thumbnail fits in"},
		{"unknown room", func(f *fileLine) { f.File.Conv = store.RoomConv("secret") }, `room "secret" is not in chat.rooms`},
		{"conv with self", func(f *fileLine) { f.File.Conv = "d:a,a" }, "two different user ids"},
		{"conv unsorted", func(f *fileLine) { f.File.Conv = "d:b,a" }, "two different user ids"},
		{"bad owner", func(f *fileLine) { f.File.Owner = "1,2" }, "file owner"},
		{"html name", func(f *fileLine) { f.File.Name = "cat.html" }, "not a name the server gives"},
		{"negative message", func(f *fileLine) { f.File.MessageID = -1 }, "message_id -1"},
		{"no created", func(f *fileLine) { f.File.Created = time.Time{} }, "file created"},
		{"pdf with thumb", func(f *fileLine) {
			f.Data = []byte("%PDF-1.4\n%%EOF\n")
			f.File.Size, f.File.Type, f.File.Name = int64(len(f.Data)), "pdf", "x.pdf"
		}, "dimensions or a thumbnail"},
	}
	cfgPath, dataDir := embeddedConfig(t)
	dir := t.TempDir()
	for i, tt := range tests {
		f := good()
		x := *f.File
		f.File = &x
		tt.edit(&f)
		body := msg + "\n" + enc(f) + "\n"
		_, err := readImport(strings.NewReader(body), rule, nil)
		if err == nil || !strings.Contains(err.Error(), "line 2: ") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: readImport = %v; want an error naming line 2 and %q", tt.name, err, tt.want)
		}
		if i%5 == 0 {
			file := filepath.Join(dir, fmt.Sprint(i, ".jsonl"))
			os.WriteFile(file, []byte(body), 0o600)
			if code := runImport([]string{"-config", cfgPath, "-i", file}); code != 1 {
				t.Errorf("%s: runImport = %d; want 1", tt.name, code)
			}
		}
	}
	// Lines out of order, a field the record does not have, and an
	// import that cannot check files.
	second := good()
	if _, err := readImport(strings.NewReader(enc(good())+"\n"+enc(second)+"\n"), rule, nil); err == nil || !strings.Contains(err.Error(), "line 2: file id") {
		t.Errorf("readImport(the same file twice) = %v; want line 2 refused", err)
	}
	extra := strings.Replace(enc(good()), `{"file":{`, `{"file":{"admin":true,`, 1)
	if _, err := readImport(strings.NewReader(extra+"\n"), rule, nil); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Errorf("readImport(unknown field) = %v; want refused", err)
	}
	// A line longer than two files of max_size in base64 is refused
	// before it is read whole.
	small, _ := files.NewProcessor(files.Config{MaxSize: 1000})
	tiny := rule
	tiny.proc = small
	long := msg + "\n" + `{"file":{"id":"` + strings.Repeat("a", 200<<10) + "\"}}\n"
	if _, err := readImport(strings.NewReader(long), tiny, nil); err == nil || !strings.Contains(err.Error(), "line 2: line too long") {
		t.Errorf("readImport(a line of 200 KiB, max_size 1000) = %.200v; want line 2 too long", err)
	}
	noProc := rule
	noProc.proc = nil
	if _, err := readImport(strings.NewReader(enc(good())+"\n"), noProc, nil); err == nil || !strings.Contains(err.Error(), "cannot check files") {
		t.Errorf("readImport without a processor = %v; want refused", err)
	}
	// Nothing was stored by the refused imports: no message, no file.
	st, err := store.OpenEmbedded(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if all, err := st.Export(ctx, "", 0, 100); err != nil || len(all) != 0 {
		t.Errorf("store after refused imports holds %d messages (%v); want 0", len(all), err)
	}
	if as, err := store.NewAttachments(st).List(ctx, "", 10); err != nil || len(as) != 0 {
		t.Errorf("store after refused imports holds %d files (%v); want 0", len(as), err)
	}
}
