package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Attachments keep the metadata of uploaded files (issue 17): records of
// kind "attach" keyed by file id, two indexes ("attach.owner" owner,id and
// "attach.msg" message-id,id) and the per-user daily usage counter
// ("usage" user,YYYYMMDD) behind the quota. The files' bytes live
// elsewhere (files.path or the files' own table).
type Attachments struct {
	r Records
	// Now stamps Created when zero and decides the quota's day; nil: time.Now.
	Now func() time.Time
}

// Attachment is one uploaded file.
type Attachment struct {
	ID        string    `json:"id"`
	MessageID int64     `json:"message_id"` // 0 until attached to a message
	Owner     string    `json:"owner"`
	Conv      Conv      `json:"conversation"` // who may fetch it
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Size      int64     `json:"size"`
	Width     int       `json:"width,omitempty"`
	Height    int       `json:"height,omitempty"`
	ThumbID   string    `json:"thumb_id,omitempty"`
	Created   time.Time `json:"created"`
}

const (
	kindAttach      = "attach"
	kindAttachOwner = "attach.owner"
	kindAttachMsg   = "attach.msg"
	kindUsage       = "usage"
	maxFileIDLen    = 64
	maxFileNameLen  = 255
)

// NewAttachments returns the attachment metadata kept in r.
func NewAttachments(r Records) *Attachments { return &Attachments{r: r} }

func (as *Attachments) now() time.Time {
	if as.Now != nil {
		return as.Now().UTC()
	}
	return time.Now().UTC()
}

func checkFileID(id string) error {
	if id == "" || len(id) > maxFileIDLen || strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
		return invalid("file id %q: want 1..%d letters, digits, _ or -", id, maxFileIDLen)
	}
	return nil
}

func checkAttachment(a *Attachment) error {
	if err := checkFileID(a.ID); err != nil {
		return err
	}
	if a.ThumbID != "" {
		if err := checkFileID(a.ThumbID); err != nil {
			return err
		}
	}
	if err := checkUserID("owner", a.Owner); err != nil {
		return err
	}
	switch {
	case a.Conv == "" || len(a.Conv) > 3*4*maxIDLen:
		return invalid("attachment conversation: want 1..%d bytes", 3*4*maxIDLen)
	case len(a.Name) > maxFileNameLen:
		return invalid("file name of %d bytes is longer than %d", len(a.Name), maxFileNameLen)
	case len(a.Type) > 100:
		return invalid("file type longer than 100 bytes")
	case a.Size < 0 || a.Width < 0 || a.Height < 0 || a.MessageID < 0:
		return invalid("negative size, dimension or message id")
	}
	return checkPrintable("file name", a.Name)
}

// Save stores or replaces a's metadata; Created is set when zero.
func (as *Attachments) Save(ctx context.Context, a *Attachment) error {
	if err := checkAttachment(a); err != nil {
		return &Error{Op: "save attachment", Err: err}
	}
	x := *a
	if x.Created.IsZero() {
		x.Created = as.now()
	}
	x.Created = x.Created.UTC()
	val, err := marshal(x)
	if err != nil {
		return &Error{Op: "save attachment", Err: err}
	}
	// Indexes first: an index entry without its record is skipped on read,
	// a record is never without its index entries.
	if err := as.r.PutRecord(ctx, kindAttachOwner, x.Owner+","+x.ID, nil); err != nil {
		return err
	}
	if x.MessageID > 0 {
		if err := as.r.PutRecord(ctx, kindAttachMsg, seqKey(x.MessageID)+","+x.ID, nil); err != nil {
			return err
		}
	}
	if err := as.r.PutRecord(ctx, kindAttach, x.ID, val); err != nil {
		return err
	}
	*a = x
	return nil
}

// Get returns one attachment's metadata.
func (as *Attachments) Get(ctx context.Context, id string) (Attachment, bool, error) {
	if checkFileID(id) != nil {
		return Attachment{}, false, nil
	}
	var a Attachment
	rec, err := getJSON(ctx, as.r, kindAttach, id, &a)
	return a, rec != nil, err
}

// Attach records that file id went out in message msgID; found is false
// when there is no such file.
func (as *Attachments) Attach(ctx context.Context, id string, msgID int64) (Attachment, bool, error) {
	a, found, err := as.Get(ctx, id)
	if err != nil || !found {
		return a, found, err
	}
	a.MessageID = msgID
	return a, true, as.Save(ctx, &a)
}

// Delete removes a file's metadata; found says whether it existed.
func (as *Attachments) Delete(ctx context.Context, id string) (bool, error) {
	a, found, err := as.Get(ctx, id)
	if err != nil || !found {
		return false, err
	}
	if _, err := as.r.DeleteRecord(ctx, kindAttach, id); err != nil {
		return false, err
	}
	if _, err := as.r.DeleteRecord(ctx, kindAttachOwner, a.Owner+","+id); err != nil {
		return true, err
	}
	if a.MessageID > 0 {
		if _, err := as.r.DeleteRecord(ctx, kindAttachMsg, seqKey(a.MessageID)+","+id); err != nil {
			return true, err
		}
	}
	return true, nil
}

func (as *Attachments) byIndex(ctx context.Context, kind, prefix string) ([]Attachment, error) {
	var out []Attachment
	err := listAll(ctx, as.r, kind, prefix, func(rec Record) error {
		id := strings.TrimPrefix(rec.Key, prefix)
		a, found, err := as.Get(ctx, id)
		if err != nil {
			return err
		}
		if found && strings.HasPrefix(rec.Key, prefix) {
			out = append(out, a)
		}
		return nil
	})
	return out, err
}

// ByOwner returns the files user uploaded (export, erasure).
func (as *Attachments) ByOwner(ctx context.Context, user string) ([]Attachment, error) {
	if checkUserID("owner", user) != nil {
		return nil, nil
	}
	return as.byIndex(ctx, kindAttachOwner, user+",")
}

// ByMessage returns the files of message msgID (they go with it when it is
// deleted).
func (as *Attachments) ByMessage(ctx context.Context, msgID int64) ([]Attachment, error) {
	return as.byIndex(ctx, kindAttachMsg, seqKey(msgID)+",")
}

// AddUsage adds n bytes to user's uploads of today (UTC) unless the total
// would pass quota (quota <= 0: no bound); ok false means refused and
// nothing added. The counter is due for PurgeDue(ctx, r, "usage", ...) two
// days later.
func (as *Attachments) AddUsage(ctx context.Context, user string, n, quota int64) (total int64, ok bool, err error) {
	if err := checkUserID("user_id", user); err != nil {
		return 0, false, &Error{Op: "add usage", Err: err}
	}
	if n < 0 {
		return 0, false, &Error{Op: "add usage", Err: invalid("negative usage %d", n)}
	}
	now := as.now()
	return addCounter(ctx, as.r, kindUsage, user+","+now.Format("20060102"), n, quota, now.Truncate(24*time.Hour).Add(48*time.Hour))
}

// Usage returns user's uploads of today in bytes.
func (as *Attachments) Usage(ctx context.Context, user string) (int64, error) {
	if checkUserID("user_id", user) != nil {
		return 0, nil
	}
	var n int64
	rec, found, err := as.r.GetRecord(ctx, kindUsage, user+","+as.now().Format("20060102"))
	if err != nil || !found {
		return 0, err
	}
	if err := json.Unmarshal(rec.Val, &n); err != nil {
		return 0, &Error{Op: "usage", Err: errors.Join(err)}
	}
	return n, nil
}

// List returns up to limit attachments with ids after after, in id order
// (the sweep that removes files whose message is gone; export).
func (as *Attachments) List(ctx context.Context, after string, limit int) ([]Attachment, error) {
	recs, err := as.r.ListRecords(ctx, kindAttach, "", after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Attachment, 0, len(recs))
	for _, rec := range recs {
		var a Attachment
		if err := json.Unmarshal(rec.Val, &a); err != nil {
			return out, &Error{Op: "list attachments", Err: err}
		}
		out = append(out, a)
	}
	return out, nil
}
