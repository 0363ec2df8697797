package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"pollchat/config"
	"pollchat/files"
	"pollchat/store"
)

// Attachments in export and import (issue 17, docs/attachments.md): after
// the messages, export writes one line per file,
//
//	{"file":{…store.Attachment…},"data":"BASE64","thumb":"BASE64"}
//
// so that one stream (a file or standard output) carries everything.
// Import checks each line as it checks messages, and each blob again with
// files.Processor (the file is never trusted), before anything is stored.

// fileLine is one exported file: its record, its bytes and its thumbnail.
type fileLine struct {
	File  *store.Attachment `json:"file"`
	Data  []byte            `json:"data"`
	Thumb []byte            `json:"thumb,omitempty"`
}

// isFileLine says whether line b holds a file rather than a message.
func isFileLine(b []byte) bool {
	var probe struct {
		File json.RawMessage `json:"file"`
	}
	return bytes.HasPrefix(b, []byte("{")) && json.Unmarshal(b, &probe) == nil && len(probe.File) > 0
}

// exportFiles writes the files of conv (all when conv is "") as file lines
// and says how many; a record whose bytes are gone (a sweep ran) is
// skipped with a warning on warn.
func exportFiles(ctx context.Context, st store.Store, blobs func() (files.Blobs, error), conv store.Conv, w io.Writer, warn io.Writer) (int, error) {
	rec, ok := st.(store.Records)
	if !ok {
		return 0, nil
	}
	as := store.NewAttachments(rec)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	var bl files.Blobs
	n := 0
	after := ""
	for {
		page, err := as.List(ctx, after, exportPage)
		if err != nil {
			return n, err
		}
		for i := range page {
			a := &page[i]
			after = a.ID
			if conv != "" && a.Conv != conv {
				continue
			}
			if bl == nil {
				if bl, err = blobs(); err != nil {
					return n, err
				}
			}
			line := fileLine{File: a}
			if line.Data, err = readBlob(bl, a.ID); err == nil && a.ThumbID != "" {
				line.Thumb, err = readBlob(bl, a.ThumbID)
			}
			if errors.Is(err, files.ErrNotFound) {
				fmt.Fprintf(warn, "export: file %s: its bytes are gone; skipped\n", a.ID)
				continue
			}
			if err != nil {
				return n, err
			}
			if err := enc.Encode(&line); err != nil {
				return n, err
			}
			n++
		}
		if len(page) < exportPage {
			return n, nil
		}
	}
}

func readBlob(bl files.Blobs, id string) ([]byte, error) {
	r, _, err := bl.Open(id)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// fileRule checks imported files: proc is built from the importing
// config's [files], so its max_size and types apply.
func fileProcessor(cfg *config.Config) (*files.Processor, error) {
	types, err := files.ParseTypes(cfg.Files.Types)
	if err != nil {
		return nil, err
	}
	if types == nil {
		types = []files.Type{}
	}
	return files.NewProcessor(files.Config{MaxSize: cfg.Files.MaxSize, Types: types})
}

// checkFile says why f cannot be imported, or nil. prev is the previous
// file's id (export writes them in id order). full runs images through
// the whole decoder (bounded dimensions, decodable); the write pass, after
// a full check, only detects the types again.
func (r importRule) checkFile(f *fileLine, prev string, full bool) error {
	a := f.File
	if r.proc == nil {
		return errors.New("a file, but this import cannot check files")
	}
	if a == nil {
		return errors.New("file is null")
	}
	if !files.ValidID(a.ID) || strings.HasSuffix(a.ID, "_t") {
		return fmt.Errorf("file id %q: not a file id", a.ID)
	}
	if a.ID <= prev {
		return fmt.Errorf("file id %s: not after the previous file's id %s (export writes files in id order)", a.ID, prev)
	}
	if err := config.ValidUserID(a.Owner); err != nil {
		return fmt.Errorf("file owner: %v", err)
	}
	if err := r.checkConv(a.Conv); err != nil {
		return err
	}
	if a.MessageID < 0 || a.MessageID > maxImportID {
		return fmt.Errorf("file message_id %d: want 0..%d", a.MessageID, int64(maxImportID))
	}
	if a.Created.IsZero() || a.Created.Before(r.minTS) || a.Created.After(r.maxTS) {
		return fmt.Errorf("file created %s: want between %s and a day from now", a.Created.Format(time.RFC3339), r.minTS.Format("2006-01-02"))
	}
	if a.Size != int64(len(f.Data)) {
		return fmt.Errorf("file size %d, but data holds %d bytes", a.Size, len(f.Data))
	}
	t, err := r.proc.Detect(f.Data)
	if err != nil {
		return fmt.Errorf("file data: %v", err)
	}
	if string(t) != a.Type {
		return fmt.Errorf("file type %q, but its data is %s", a.Type, t)
	}
	if a.Name != files.SafeName(a.Name, t) {
		return fmt.Errorf("file name %q: not a name the server gives (%q)", a.Name, files.SafeName(a.Name, t))
	}
	switch {
	case !t.IsImage() && (a.Width != 0 || a.Height != 0 || a.ThumbID != "" || f.Thumb != nil):
		return errors.New("a file that is not an image has dimensions or a thumbnail")
	case t.IsImage() && a.ThumbID != files.ThumbID(a.ID):
		return fmt.Errorf("image thumb_id %q: want %q", a.ThumbID, files.ThumbID(a.ID))
	case t.IsImage() && f.Thumb == nil:
		return errors.New("an image without its thumbnail")
	}
	if !t.IsImage() {
		return nil
	}
	tt, err := r.proc.Detect(f.Thumb)
	if err != nil || (tt != files.PNG && tt != files.JPEG) {
		return fmt.Errorf("file thumb: not a PNG or JPEG thumbnail (%v)", err)
	}
	if !full {
		return nil
	}
	up, err := r.proc.Accept(f.Data, a.Name)
	if err != nil {
		return fmt.Errorf("file data: %v", err)
	}
	if up.Width != a.Width || up.Height != a.Height {
		return fmt.Errorf("file is %d×%d, but its data is %d×%d", a.Width, a.Height, up.Width, up.Height)
	}
	th, err := r.proc.Accept(f.Thumb, "thumb")
	if err != nil {
		return fmt.Errorf("file thumb: %v", err)
	}
	if side := r.proc.Config().ThumbSize; th.Width > side || th.Height > side {
		return fmt.Errorf("file thumb is %d×%d; a thumbnail fits in %d×%d", th.Width, th.Height, side, side)
	}
	return nil
}

// checkConv accepts a room of chat.rooms or a direct conversation of two
// valid, different user ids.
func (r importRule) checkConv(c store.Conv) error {
	if room := c.Room(); room != "" {
		if !r.rooms[room] {
			return fmt.Errorf("file conversation: room %q is not in chat.rooms of this config", room)
		}
		return nil
	}
	pair, ok := strings.CutPrefix(string(c), "d:")
	a, b, ok2 := strings.Cut(pair, ",")
	if !ok || !ok2 || config.ValidUserID(a) != nil || config.ValidUserID(b) != nil || a == b || store.DirectConv(a, b) != c {
		return fmt.Errorf("file conversation %q: want a room or two different user ids", c)
	}
	return nil
}

// storeFile writes f's blobs, then its record (a record is never without
// its bytes); a file whose record is there already is left alone.
func storeFile(ctx context.Context, as *store.Attachments, bl files.Blobs, f *fileLine) (bool, error) {
	if _, found, err := as.Get(ctx, f.File.ID); err != nil || found {
		return false, err
	}
	if _, err := bl.Put(f.File.ID, bytes.NewReader(f.Data)); err != nil {
		return false, err
	}
	if f.File.ThumbID != "" {
		if _, err := bl.Put(f.File.ThumbID, bytes.NewReader(f.Thumb)); err != nil {
			return false, err
		}
	}
	a := *f.File
	return true, as.Save(ctx, &a)
}

// blobsFor opens the configured blobs once, when the first file needs
// them; closeBlobs closes them if they were opened.
type blobsFor struct {
	cfg *config.Config
	st  store.Store
	bl  files.Blobs
}

func (b *blobsFor) open() (files.Blobs, error) {
	if b.bl == nil {
		bl, err := openBlobs(b.cfg, b.st)
		if err != nil {
			return nil, err
		}
		b.bl = bl
	}
	return b.bl, nil
}

func (b *blobsFor) close() {
	if c, ok := b.bl.(io.Closer); ok {
		c.Close()
	}
}
