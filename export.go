package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"pollchat/config"
	"pollchat/files"
	"pollchat/store"
)

// exportPage is how many messages export reads per store call and import
// writes per transaction.
const exportPage = 500

// runExport is `pollchat export -config FILE [-conv with:A,B | -room NAME] [-o FILE]`:
// it writes the messages of one conversation, or of all, as JSON lines,
// oldest first. It returns the process exit code.
func runExport(args []string) int {
	fs := flag.NewFlagSet("pollchat export", flag.ContinueOnError)
	path := fs.String("config", "config.toml", "the configuration file (its [store] is read)")
	convFlag := fs.String("conv", "", "export one direct conversation: with:A,B (user ids A and B)")
	room := fs.String("room", "", "export one room")
	user := fs.String("user", "", "export everything stored about one user (one JSON object, as GET /api/v1/users/{id}/export)")
	out := fs.String("o", "-", "output file; - is standard output")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: pollchat export -config FILE [-conv with:A,B | -room NAME | -user ID] [-o FILE]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "export: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	conv, err := exportConv(*convFlag, *room)
	if err == nil && *user != "" {
		if *convFlag != "" || *room != "" {
			err = errors.New("give -user alone, without -conv or -room")
		} else if verr := config.ValidUserID(*user); verr != nil {
			err = fmt.Errorf("-user %q: %v", *user, verr)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "export:", err)
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	st, err := openStoreForTool(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "export:", err)
		return 1
	}
	defer st.Close()

	var w io.Writer = os.Stdout
	var f *os.File
	if *out != "-" && *out != "" {
		if f, err = os.Create(*out); err != nil {
			fmt.Fprintln(os.Stderr, "export:", err)
			return 1
		}
		w = f
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var n, nf int
	if *user != "" {
		n, err = exportUser(ctx, st, *user, bw)
	} else {
		n, err = exportMessages(ctx, st, conv, bw)
		if err == nil {
			bl := &blobsFor{cfg: cfg, st: st}
			nf, err = exportFiles(ctx, st, bl.open, conv, bw, os.Stderr)
			bl.close()
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "export:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "export: %d messages, %d files\n", n, nf)
	return 0
}

// exportConv turns -conv / -room into a conversation key ("" for all).
func exportConv(conv, room string) (store.Conv, error) {
	switch {
	case conv != "" && room != "":
		return "", errors.New("give -conv or -room, not both")
	case room != "":
		return store.RoomConv(room), nil
	case conv != "":
		pair, ok := strings.CutPrefix(conv, "with:")
		a, b, ok2 := strings.Cut(pair, ",")
		if !ok || !ok2 || a == "" || b == "" || strings.Contains(b, ",") {
			return "", fmt.Errorf("-conv %q: want with:A,B (two user ids)", conv)
		}
		return store.DirectConv(a, b), nil
	}
	return "", nil
}

// exportUser writes everything st keeps about user as one JSON object
// (store.UserExport) and says how many messages it holds.
func exportUser(ctx context.Context, st store.Store, user string, w io.Writer) (int, error) {
	x, err := store.ExportUser(ctx, st, user)
	if err != nil {
		return 0, err
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return len(x.Messages), enc.Encode(x)
}

// exportMessages writes conv's messages (all when conv is "") to w as JSON
// lines, oldest first, and says how many.
func exportMessages(ctx context.Context, st store.Store, conv store.Conv, w io.Writer) (int, error) {
	ex, ok := st.(store.Exporter)
	if !ok {
		return 0, fmt.Errorf("the %T store cannot export", st)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	n := 0
	var after int64
	for {
		page, err := ex.Export(ctx, conv, after, exportPage)
		if err != nil {
			return n, err
		}
		for i := range page {
			if err := enc.Encode(&page[i]); err != nil {
				return n, err
			}
		}
		n += len(page)
		if len(page) < exportPage {
			return n, nil
		}
		after = page[len(page)-1].ID
	}
}

// runImport is `pollchat import -config FILE [-i FILE]`: it reads JSON lines
// written by export and stores them in the configured store, keeping their
// ids; messages and files whose id is stored already are skipped, so
// importing the same file twice is harmless. Every record is checked
// before anything is written (every file's bytes again with files'
// detection and decoders, under this config's [files]): one bad record
// refuses the whole file, naming its line.
func runImport(args []string) int {
	fs := flag.NewFlagSet("pollchat import", flag.ContinueOnError)
	path := fs.String("config", "config.toml", "the configuration file (its [store] is written, its chat.rooms are the rooms accepted)")
	in := fs.String("i", "-", "input file of JSON lines from pollchat export; - is standard input")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: pollchat import -config FILE [-i FILE]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "import: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var r io.ReadSeeker
	if *in != "-" && *in != "" {
		f, err := os.Open(*in)
		if err != nil {
			fmt.Fprintln(os.Stderr, "import:", err)
			return 1
		}
		defer f.Close()
		r = f
	} else {
		// Standard input is read twice (check, then write): keep a copy.
		tmp, err := os.CreateTemp("", "pollchat-import-*.jsonl")
		if err != nil {
			fmt.Fprintln(os.Stderr, "import:", err)
			return 1
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if _, err := io.Copy(tmp, os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, "import: reading standard input:", err)
			return 1
		}
		r = tmp
	}
	rule := importRuleFor(cfg, time.Now())
	if rule.proc == nil {
		fmt.Fprintln(os.Stderr, "import: files: the [files] section cannot check files")
		return 2
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		fmt.Fprintln(os.Stderr, "import:", err)
		return 1
	}
	if _, err := readImport(r, rule, nil); err != nil {
		fmt.Fprintf(os.Stderr, "import: %v; nothing was stored\n", err)
		return 1
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		fmt.Fprintln(os.Stderr, "import:", err)
		return 1
	}
	ctx := context.Background()
	st, err := openStoreForTool(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "import:", err)
		return 1
	}
	defer st.Close()
	bl := &blobsFor{cfg: cfg, st: st}
	defer bl.close()
	n, err := importMessages(ctx, st, r, rule, bl.open)
	if err != nil {
		fmt.Fprintf(os.Stderr, "import: %v (%d messages and %d files stored before the error)\n", err, n.created, n.filesCreated)
		return 1
	}
	fmt.Fprintf(os.Stderr, "import: %d messages read, %d stored, %d already present; %d files read, %d stored, %d already present\n",
		n.read, n.created, n.read-n.created, n.files, n.filesCreated, n.files-n.filesCreated)
	return 0
}

// Bounds of an imported record. Ids stay far below 2^53, the largest
// integer a browser's JSON parser keeps exact, so that the ids later sends
// get (above every imported one) stay exact in the widget too.
const (
	maxImportID       = 1 << 50
	maxImportText     = 10000   // characters: the backend API's limit, the largest any send accepts
	maxImportData     = 8 << 10 // bytes: the backend API's limit
	maxImportClientID = 128     // bytes, as a send's client_id
)

// importRule says which records an import accepts: the configured rooms,
// and timestamps from minTS up to maxTS.
type importRule struct {
	rooms        map[string]bool
	minTS, maxTS time.Time
	// proc checks the files' bytes (max_size, types); nil refuses files.
	proc *files.Processor
}

func importRuleFor(cfg *config.Config, now time.Time) importRule {
	r := importRule{
		rooms: map[string]bool{},
		minTS: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		// A day of clock skew between the exporting and importing machines.
		maxTS: now.Add(24 * time.Hour),
	}
	for _, name := range cfg.Chat.Rooms {
		r.rooms[name] = true
	}
	r.proc, _ = fileProcessor(cfg) // nil on error: runImport refuses to start
	return r
}

// check says why m cannot be imported, or nil. prev is the previous
// record's id: export writes ids in increasing order, so a file whose ids do
// not increase was edited or spliced.
func (r importRule) check(m *store.Message, prev int64) error {
	if m.ID <= 0 || m.ID > maxImportID {
		return fmt.Errorf("id %d: want 1..%d", m.ID, int64(maxImportID))
	}
	if m.ID <= prev {
		return fmt.Errorf("id %d: not above the previous record's id %d (export writes ids in increasing order)", m.ID, prev)
	}
	if m.TS.IsZero() {
		return errors.New("no ts")
	}
	if m.TS.Before(r.minTS) || m.TS.After(r.maxTS) {
		return fmt.Errorf("ts %s: want between %s and a day from now", m.TS.Format(time.RFC3339), r.minTS.Format("2006-01-02"))
	}
	if m.From != "" {
		if err := config.ValidUserID(m.From); err != nil {
			return fmt.Errorf("from: %v", err)
		}
		if m.System {
			return errors.New("a message with a sender cannot be a system message")
		}
	} else if !m.System {
		return errors.New("a message without from must be a system message (system: true)")
	}
	switch {
	case m.To != "" && m.Room != "":
		return errors.New("both to and room are set; want one")
	case m.To == "" && m.Room == "":
		return errors.New("neither to nor room is set; want one")
	case m.Room != "":
		if !r.rooms[m.Room] {
			return fmt.Errorf("room %q is not in chat.rooms of this config (add it there to import its messages)", m.Room)
		}
	default:
		if err := config.ValidUserID(m.To); err != nil {
			return fmt.Errorf("to: %v", err)
		}
		if m.To == m.From {
			return errors.New("from and to are the same user")
		}
	}
	if err := checkImportText(m.Text); err != nil {
		return err
	}
	if len(m.ClientID) > maxImportClientID || strings.IndexFunc(m.ClientID, func(c rune) bool { return c < 0x20 || c == 0x7f }) >= 0 {
		return fmt.Errorf("client_id: want at most %d bytes without control characters", maxImportClientID)
	}
	if string(m.Data) == "null" {
		m.Data = nil
	}
	if len(m.Data) > maxImportData {
		return fmt.Errorf("data is %d bytes; the limit is %d", len(m.Data), maxImportData)
	}
	return nil
}

// checkImportText applies a send's text rule: valid UTF-8, no control
// characters but tab and newlines, not blank, at most maxImportText
// characters.
func checkImportText(t string) error {
	if !utf8.ValidString(t) {
		return errors.New("text is not valid UTF-8")
	}
	for _, c := range t {
		if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') || c == 0x7f || (c >= 0x80 && c < 0xa0) {
			return fmt.Errorf("text contains a control character (U+%04X)", c)
		}
	}
	if strings.TrimFunc(t, unicode.IsSpace) == "" {
		return errors.New("text is empty")
	}
	if n := utf8.RuneCountInString(t); n > maxImportText {
		return fmt.Errorf("text is %d characters; the limit is %d", n, maxImportText)
	}
	return nil
}

// readImport reads JSON lines from r, checks each record with rule, and
// hands them to page in pages of exportPage (page nil: check only). It
// stops at the first bad record with an error naming its line, and says
// how many messages it read. Files are checked in full.
func readImport(r io.Reader, rule importRule, page func(line int, msgs []store.Message) error) (int, error) {
	return readImportFiles(r, rule, page, nil)
}

// readImportFiles is readImport that also hands every file line to file
// (file nil: check the files in full, decoding images; else the whole
// input was checked before, and only the types are detected again).
// Messages read before a file are handed to page before it.
func readImportFiles(r io.Reader, rule importRule, page func(line int, msgs []store.Message) error, file func(line int, f *fileLine) error) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	batch := make([]store.Message, 0, exportPage)
	read := 0
	var prev int64
	prevFile := ""
	line := 1
	for ; ; line++ {
		b, rerr := readLine(br, rule.maxLine())
		if errors.Is(rerr, errLongLine) {
			return read, fmt.Errorf("line %d: %w", line, rerr)
		}
		if rerr != nil && rerr != io.EOF {
			return read, rerr
		}
		if b = bytes.TrimSpace(b); len(b) > 0 {
			if !utf8.Valid(b) {
				// encoding/json would quietly turn the bad bytes into U+FFFD.
				return read, fmt.Errorf("line %d: not valid UTF-8", line)
			}
			if isFileLine(b) {
				var f fileLine
				dec := json.NewDecoder(bytes.NewReader(b))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&f); err != nil {
					return read, fmt.Errorf("line %d: %v", line, err)
				}
				if dec.More() {
					return read, fmt.Errorf("line %d: more than one JSON value", line)
				}
				if err := rule.checkFile(&f, prevFile, file == nil); err != nil {
					return read, fmt.Errorf("line %d: %v", line, err)
				}
				prevFile = f.File.ID
				if file != nil {
					if page != nil && len(batch) > 0 {
						if err := page(line, batch); err != nil {
							return read, err
						}
						batch = batch[:0]
					}
					if err := file(line, &f); err != nil {
						return read, err
					}
				}
				if rerr == io.EOF {
					break
				}
				continue
			}
			var m store.Message
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&m); err != nil {
				return read, fmt.Errorf("line %d: %v", line, err)
			}
			if dec.More() {
				return read, fmt.Errorf("line %d: more than one JSON value", line)
			}
			if err := rule.check(&m, prev); err != nil {
				return read, fmt.Errorf("line %d: %v", line, err)
			}
			prev = m.ID
			read++
			if page != nil {
				batch = append(batch, m)
				if len(batch) == exportPage {
					if err := page(line, batch); err != nil {
						return read, err
					}
					batch = batch[:0]
				}
			}
		}
		if rerr == io.EOF {
			break
		}
	}
	if page != nil && len(batch) > 0 {
		if err := page(line, batch); err != nil {
			return read, err
		}
	}
	return read, nil
}

// importCounts says what an import read and stored.
type importCounts struct {
	read, created, files, filesCreated int
}

// importMessages reads JSON lines from r into st, the files' bytes into
// the blobs that blobs opens (when the first file comes). Callers check
// the whole file with readImport first, so that a bad record stores
// nothing.
func importMessages(ctx context.Context, st store.Store, r io.Reader, rule importRule, blobs func() (files.Blobs, error)) (importCounts, error) {
	var n importCounts
	im, ok := st.(store.Importer)
	if !ok {
		return n, fmt.Errorf("the %T store cannot import", st)
	}
	var as *store.Attachments
	var bl files.Blobs
	var err error
	n.read, err = readImportFiles(r, rule, func(line int, msgs []store.Message) error {
		c, err := im.ImportMessages(ctx, msgs)
		n.created += c
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		return nil
	}, func(line int, f *fileLine) error {
		if as == nil {
			rec, ok := st.(store.Records)
			if !ok {
				return fmt.Errorf("line %d: the %T store does not keep files", line, st)
			}
			var err error
			if bl, err = blobs(); err != nil {
				return fmt.Errorf("line %d: %w", line, err)
			}
			as = store.NewAttachments(rec)
		}
		n.files++
		created, err := storeFile(ctx, as, bl, f)
		if created {
			n.filesCreated++
		}
		if err != nil {
			return fmt.Errorf("line %d: file %s: %w", line, f.File.ID, err)
		}
		return nil
	})
	return n, err
}

// openStoreForTool opens the configured store for export or import, with a
// clear hint when the embedded store is held by a running server.
func openStoreForTool(ctx context.Context, cfg *config.Config) (store.Store, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := openStore(ctx, cfg)
	if err != nil && cfg.Store.Driver != "mysql" && strings.Contains(err.Error(), "in use by another process") {
		return nil, fmt.Errorf("%w: stop pollchat first (the embedded store has one user at a time)", err)
	}
	return st, err
}

var errLongLine = errors.New("line too long")

// maxLine is the longest line an import reads: a file line holds its
// bytes and its thumbnail, each up to files.max_size, in base64.
func (r importRule) maxLine() int {
	size := int64(1 << 20)
	if r.proc != nil {
		size = r.proc.Config().MaxSize
	}
	return int(2*size/3*4) + 64<<10
}

// readLine reads one line of at most max bytes (without reading further
// into a longer one), like ReadBytes('\n').
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var b []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(b)+len(frag) > max {
			return nil, fmt.Errorf("%w: more than %d bytes", errLongLine, max)
		}
		b = append(b, frag...)
		if err != bufio.ErrBufferFull {
			return b, err
		}
	}
}
