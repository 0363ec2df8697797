package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// AuditLog is the moderators' log (issue 16.5): records of kind "audit"
// keyed so that key order is newest first.
type AuditLog struct {
	r Records
	// Now stamps entries whose At is zero; nil: time.Now.
	Now func() time.Time
}

// AuditEntry is one moderator action.
type AuditEntry struct {
	ID     int64  `json:"id"`
	Who    string `json:"who"`
	Action string `json:"action"` // delete_message, ban, unban, mute, kick, clear_room, resolve_report, erase_user...
	// Target is what the action was on.
	Target  AuditTarget     `json:"target"`
	Reason  string          `json:"reason,omitempty"`
	At      time.Time       `json:"at"`
	Details json.RawMessage `json:"details,omitempty"` // at most MaxAuditDetails bytes of JSON
}

// AuditTarget names a user, a room or a message.
type AuditTarget struct {
	User    string `json:"user,omitempty"`
	Room    string `json:"room,omitempty"`
	Message int64  `json:"message,omitempty"`
}

// MaxAuditDetails bounds an entry's details in bytes.
const MaxAuditDetails = 8 << 10

const kindAudit = "audit"

// NewAuditLog returns the audit log kept in r.
func NewAuditLog(r Records) *AuditLog { return &AuditLog{r: r} }

// Append stores e, assigning ID (increasing) and At when zero.
func (a *AuditLog) Append(ctx context.Context, e *AuditEntry) error {
	switch {
	case e.Who == "" || len(e.Who) > 4*maxIDLen:
		return &Error{Op: "audit", Err: invalid("who: want 1..%d bytes", 4*maxIDLen)}
	case e.Action == "" || len(e.Action) > 64:
		return &Error{Op: "audit", Err: invalid("action: want 1..64 bytes")}
	case len(e.Details) > MaxAuditDetails:
		return &Error{Op: "audit", Err: invalid("details of %d bytes is longer than %d", len(e.Details), MaxAuditDetails)}
	case len(e.Details) > 0 && !json.Valid(e.Details):
		return &Error{Op: "audit", Err: invalid("details are not JSON")}
	}
	if err := checkText("reason", e.Reason, MaxReasonLen); err != nil {
		return &Error{Op: "audit", Err: err}
	}
	id, err := nextSeq(ctx, a.r, kindAudit)
	if err != nil {
		return err
	}
	x := *e
	x.ID = id
	if x.At.IsZero() {
		if a.Now != nil {
			x.At = a.Now()
		} else {
			x.At = time.Now()
		}
	}
	x.At = x.At.UTC()
	val, err := marshal(x)
	if err != nil {
		return &Error{Op: "audit", Err: err}
	}
	if err := a.r.PutRecord(ctx, kindAudit, revSeqKey(id), val); err != nil {
		return err
	}
	*e = x
	return nil
}

// List returns up to limit entries with ID < before (before <= 0: the
// newest), newest first.
func (a *AuditLog) List(ctx context.Context, before int64, limit int) ([]AuditEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	after := ""
	if before > 0 {
		after = revSeqKey(before)
	}
	recs, err := a.r.ListRecords(ctx, kindAudit, "", after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]AuditEntry, 0, len(recs))
	for _, rec := range recs {
		var e AuditEntry
		if err := json.Unmarshal(rec.Val, &e); err != nil {
			return nil, &Error{Op: "audit", Err: errors.Join(err)}
		}
		out = append(out, e)
	}
	return out, nil
}
