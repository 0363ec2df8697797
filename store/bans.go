package store

import (
	"context"
	"encoding/json"
	"time"
)

// Bans are site-wide bans (issue 16): records of kind "ban" keyed by user
// id. A timed ban carries its end as due time, so PurgeDue(ctx, r, "ban",
// now, n) forgets ended ones; reads ignore them before that.
type Bans struct {
	r Records
	// Now is the clock that decides whether a ban has ended; nil: time.Now.
	Now func() time.Time
}

// Ban bars UserID from sending, joining and requesting until Until.
type Ban struct {
	UserID string    `json:"user_id"`
	Until  time.Time `json:"until,omitempty"` // zero: for ever
	Reason string    `json:"reason,omitempty"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// Active says whether the ban holds at now.
func (b Ban) Active(now time.Time) bool { return b.Until.IsZero() || now.Before(b.Until) }

// MaxReasonLen bounds reasons and notes (bans, reports, audit entries), in bytes.
const MaxReasonLen = 1000

const kindBan = "ban"

// NewBans returns the bans kept in r.
func NewBans(r Records) *Bans { return &Bans{r: r} }

func (b *Bans) now() time.Time {
	if b.Now != nil {
		return b.Now().UTC()
	}
	return time.Now().UTC()
}

// Ban stores or replaces the ban of ban.UserID; At is set when zero.
func (b *Bans) Ban(ctx context.Context, ban Ban) error {
	if err := checkUserID("user_id", ban.UserID); err != nil {
		return &Error{Op: "ban", Err: err}
	}
	if err := checkText("reason", ban.Reason, MaxReasonLen); err != nil {
		return &Error{Op: "ban", Err: err}
	}
	if len(ban.By) > 4*maxIDLen {
		return &Error{Op: "ban", Err: invalid("by longer than %d bytes", 4*maxIDLen)}
	}
	if ban.At.IsZero() {
		ban.At = b.now()
	}
	ban.At, ban.Until = ban.At.UTC(), ban.Until.UTC()
	val, err := marshal(ban)
	if err != nil {
		return &Error{Op: "ban", Err: err}
	}
	return modify(ctx, b.r, kindBan, ban.UserID, func(*Record) ([]byte, int64, error) {
		return val, unixMilli(ban.Until), nil
	})
}

// Unban removes the ban of user; found says whether one was stored (ended
// or not).
func (b *Bans) Unban(ctx context.Context, user string) (bool, error) {
	if err := checkUserID("user_id", user); err != nil {
		return false, &Error{Op: "unban", Err: err}
	}
	return b.r.DeleteRecord(ctx, kindBan, user)
}

// BannedUntil returns user's ban when one holds now.
func (b *Bans) BannedUntil(ctx context.Context, user string) (Ban, bool, error) {
	if checkUserID("user_id", user) != nil {
		return Ban{}, false, nil
	}
	var ban Ban
	rec, err := getJSON(ctx, b.r, kindBan, user, &ban)
	if err != nil || rec == nil || !ban.Active(b.now()) {
		return Ban{}, false, err
	}
	return ban, true, nil
}

// Bans returns every ban that holds now, by user id.
func (b *Bans) Bans(ctx context.Context) ([]Ban, error) {
	now := b.now()
	var out []Ban
	err := listAll(ctx, b.r, kindBan, "", func(rec Record) error {
		var ban Ban
		if err := json.Unmarshal(rec.Val, &ban); err != nil {
			return &Error{Op: "bans", Err: err}
		}
		if ban.Active(now) {
			out = append(out, ban)
		}
		return nil
	})
	return out, err
}
