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

	"pollchat/config"
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
	out := fs.String("o", "-", "output file; - is standard output")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: pollchat export -config FILE [-conv with:A,B | -room NAME] [-o FILE]")
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
	n, err := exportMessages(ctx, st, conv, bw)
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
	fmt.Fprintf(os.Stderr, "export: %d messages\n", n)
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
// ids; messages whose id is stored already are skipped, so importing the
// same file twice is harmless.
func runImport(args []string) int {
	fs := flag.NewFlagSet("pollchat import", flag.ContinueOnError)
	path := fs.String("config", "config.toml", "the configuration file (its [store] is written)")
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
	var r io.Reader = os.Stdin
	if *in != "-" && *in != "" {
		f, err := os.Open(*in)
		if err != nil {
			fmt.Fprintln(os.Stderr, "import:", err)
			return 1
		}
		defer f.Close()
		r = f
	}
	ctx := context.Background()
	st, err := openStoreForTool(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "import:", err)
		return 1
	}
	defer st.Close()
	read, created, err := importMessages(ctx, st, r)
	if err != nil {
		fmt.Fprintf(os.Stderr, "import: %v (%d messages stored before the error)\n", err, created)
		return 1
	}
	fmt.Fprintf(os.Stderr, "import: %d messages read, %d stored, %d already present\n", read, created, read-created)
	return 0
}

// importMessages reads JSON lines from r into st; it says how many messages
// it read and how many it stored.
func importMessages(ctx context.Context, st store.Store, r io.Reader) (read, created int, err error) {
	im, ok := st.(store.Importer)
	if !ok {
		return 0, 0, fmt.Errorf("the %T store cannot import", st)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	batch := make([]store.Message, 0, exportPage)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := im.ImportMessages(ctx, batch)
		created += n
		batch = batch[:0]
		return err
	}
	for line := 1; ; line++ {
		b, rerr := br.ReadBytes('\n')
		if rerr != nil && rerr != io.EOF {
			return read, created, rerr
		}
		if b = bytes.TrimSpace(b); len(b) > 0 {
			var m store.Message
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&m); err != nil {
				return read, created, fmt.Errorf("line %d: %v", line, err)
			}
			if m.ID <= 0 || m.TS.IsZero() {
				return read, created, fmt.Errorf("line %d: a message needs an id and a ts", line)
			}
			read++
			batch = append(batch, m)
			if len(batch) == exportPage {
				if err := flush(); err != nil {
					return read, created, fmt.Errorf("line %d: %w", line, err)
				}
			}
		}
		if rerr == io.EOF {
			break
		}
	}
	if err := flush(); err != nil {
		return read, created, err
	}
	return read, created, nil
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
