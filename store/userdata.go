package store

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Users' data (issue 16.4): ExportUser gathers everything the store keeps
// about a user, EraseUser removes it under a policy. Both work on any store
// that implements Records and MessageAdmin (every engine does).

// UserExport is everything stored about one user; its JSON is documented
// in docs/storage.md.
type UserExport struct {
	User       string    `json:"user_id"`
	ExportedAt time.Time `json:"exported_at"`
	// Messages they sent (rooms and direct) and received (direct), oldest first.
	Messages []Message `json:"messages"`
	UserState
	ReportsFiled []Report      `json:"reports_filed"`
	ReportsAbout []Report      `json:"reports_about"` // reports of their messages
	Bans         []Ban         `json:"bans"`
	Hidden       []ReadMark    `json:"hidden_conversations"` // conversation and upto
	Attachments  []Attachment  `json:"attachments"`
	Notices      []Notice      `json:"pending_notices"`
	Rooms        []CreatedRoom `json:"rooms"` // created rooms they are a member of
}

// userStore is what ExportUser and EraseUser need.
type userStore interface {
	Records
	MessageAdmin
}

func asUserStore(st Store) (userStore, error) {
	us, ok := st.(userStore)
	if !ok {
		return nil, &Error{Op: "user data", Err: fmt.Errorf("%T implements no Records and MessageAdmin", st)}
	}
	return us, nil
}

// ExportUser returns everything st keeps about user.
func ExportUser(ctx context.Context, st Store, user string) (*UserExport, error) {
	us, err := asUserStore(st)
	if err != nil {
		return nil, err
	}
	if err := checkUserID("user_id", user); err != nil {
		return nil, &Error{Op: "export user", Err: err}
	}
	x := &UserExport{User: user, ExportedAt: time.Now().UTC(), Messages: []Message{}}
	for after := int64(0); ; {
		page, err := us.UserMessages(ctx, user, after, 1000)
		if err != nil {
			return nil, err
		}
		x.Messages = append(x.Messages, page...)
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].ID
	}
	if x.UserState, err = us.UserState(ctx, user); err != nil {
		return nil, err
	}
	if err := eachReport(ctx, us, func(r Report) error {
		if r.Reporter == user {
			x.ReportsFiled = append(x.ReportsFiled, r)
		}
		if r.Message.From == user {
			x.ReportsAbout = append(x.ReportsAbout, r)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if rec, err := getJSON(ctx, us, kindBan, user, &Ban{}); err != nil {
		return nil, err
	} else if rec != nil {
		var b Ban
		if err := json.Unmarshal(rec.Val, &b); err != nil {
			return nil, err
		}
		x.Bans = append(x.Bans, b)
	}
	hidden, err := NewHidden(us).Hidden(ctx, user)
	if err != nil {
		return nil, err
	}
	for c, upto := range hidden {
		x.Hidden = append(x.Hidden, ReadMark{Conv: c, Upto: upto})
	}
	if x.Attachments, err = NewAttachments(us).ByOwner(ctx, user); err != nil {
		return nil, err
	}
	if x.Notices, err = NewOutbox(us).Pending(ctx, user); err != nil {
		return nil, err
	}
	rooms, err := NewCreatedRooms(us).Rooms(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range rooms {
		if r.IsMember(user) {
			x.Rooms = append(x.Rooms, r)
		}
	}
	return x, nil
}

func eachReport(ctx context.Context, r Records, fn func(Report) error) error {
	return listAll(ctx, r, kindReport, "", func(rec Record) error {
		var rep Report
		if err := json.Unmarshal(rec.Val, &rep); err != nil {
			return &Error{Op: "reports", Err: err}
		}
		return fn(rep)
	})
}

// Pseudonym is the stable name that replaces user's id in their erased
// messages: "erased-" and 16 hex digits of an HMAC keyed by a random secret
// the store makes once, so the same user always gets the same pseudonym and
// the id cannot be recovered by hashing guesses.
func Pseudonym(ctx context.Context, st Store, user string) (string, error) {
	us, err := asUserStore(st)
	if err != nil {
		return "", err
	}
	secret, err := eraseSecret(ctx, us)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(user))
	return "erased-" + hex.EncodeToString(mac.Sum(nil))[:16], nil
}

func eraseSecret(ctx context.Context, r Records) ([]byte, error) {
	for i := 0; i < 3; i++ {
		rec, found, err := r.GetRecord(ctx, "meta", "erase-secret")
		if err != nil {
			return nil, err
		}
		if found && len(rec.Val) >= 32 {
			return rec.Val, nil
		}
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		if _, err := r.SwapRecord(ctx, "meta", "erase-secret", rec.Rev, b, 0); err != nil {
			return nil, err
		}
	}
	return nil, &Error{Op: "pseudonym", Err: ErrConflict}
}

// EraseUser removes what st keeps about user under policy (docs/storage.md
// says what each policy does). It returns the counts and the attachments
// whose metadata it removed, so the caller deletes their bytes.
func EraseUser(ctx context.Context, st Store, user string, policy ErasePolicy) (EraseCounts, []Attachment, error) {
	us, err := asUserStore(st)
	if err != nil {
		return EraseCounts{}, nil, err
	}
	if err := checkUserID("user_id", user); err != nil {
		return EraseCounts{}, nil, &Error{Op: "erase user", Err: err}
	}
	if err := policy.check(); err != nil {
		return EraseCounts{}, nil, &Error{Op: "erase user", Err: err}
	}
	pseudo, err := Pseudonym(ctx, st, user)
	if err != nil {
		return EraseCounts{}, nil, err
	}
	n, err := us.EraseUserMessages(ctx, user, pseudo, policy)
	if err != nil {
		return n, nil, err
	}
	// Reports: those they filed go; those about their messages stay for the
	// moderators, with the snapshot erased under the same policy.
	reports := NewReports(us)
	var filed, about []Report
	if err := eachReport(ctx, us, func(r Report) error {
		if r.Reporter == user {
			filed = append(filed, r)
		} else if r.Message.From == user {
			about = append(about, r)
		}
		return nil
	}); err != nil {
		return n, nil, err
	}
	for _, r := range filed {
		if _, err := reports.DeleteReport(ctx, r.ID); err != nil {
			return n, nil, err
		}
		n.Reports++
	}
	for _, r := range about {
		err := modify(ctx, us, kindReport, seqKey(r.ID), func(cur *Record) ([]byte, int64, error) {
			if cur == nil {
				return nil, 0, errSkip
			}
			var x Report
			if err := json.Unmarshal(cur.Val, &x); err != nil {
				return nil, 0, err
			}
			x.Message.From = pseudo
			x.Message.Conv = eraseConv(x.Message.Conv, user, pseudo)
			if policy == EraseDelete {
				x.Message.Text = ""
			}
			val, err := marshal(x)
			return val, 0, err
		})
		if err != nil {
			return n, nil, err
		}
		n.Reports++
	}
	if found, err := us.DeleteRecord(ctx, kindBan, user); err != nil {
		return n, nil, err
	} else if found {
		n.Bans++
	}
	hidden, err := NewHidden(us).Hidden(ctx, user)
	if err != nil {
		return n, nil, err
	}
	for c := range hidden {
		if _, err := us.DeleteRecord(ctx, kindHidden, user+","+string(c)); err != nil {
			return n, nil, err
		}
		n.Hidden++
	}
	as := NewAttachments(us)
	files, err := as.ByOwner(ctx, user)
	if err != nil {
		return n, nil, err
	}
	for _, f := range files {
		if _, err := as.Delete(ctx, f.ID); err != nil {
			return n, files, err
		}
		n.Attachments++
	}
	if n.Notices, err = NewOutbox(us).Drop(ctx, user); err != nil {
		return n, files, err
	}
	cr := NewCreatedRooms(us)
	rooms, err := cr.Rooms(ctx)
	if err != nil {
		return n, files, err
	}
	for _, r := range rooms {
		if r.IsMember(user) {
			if _, _, err := cr.RemoveMembers(ctx, r.Name, user); err != nil {
				return n, files, err
			}
			n.Rooms++
		}
	}
	return n, files, nil
}

// eraseConv is c with user replaced by pseudo.
func eraseConv(c Conv, user, pseudo string) Conv {
	if a, b, ok := directUsers(c); ok && (a == user || b == user) {
		if a == user {
			a = pseudo
		}
		if b == user {
			b = pseudo
		}
		return DirectConv(a, b)
	}
	return c
}
