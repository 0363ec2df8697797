package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Outbox is the queue of missed-message notices (issue 15.3): records of
// kind "outbox" keyed recipient,id, due time = when the notice may be sent
// next (its due time, its retry, or the end of its lease).
//
// Delivery: Enqueue merges a message into the recipient's pending notice or
// starts one due after the window; Claim takes a due notice for one sender
// for a lease (one conditional write: in a cluster exactly one process wins
// it); Ack deletes it once sent; Retry hands it back with a backoff. A
// notice claimed and never acked (the process died) is due again when its
// lease ends, so a restart loses none; an acked one never comes back. A
// sender that outlives its lease may find its Ack refused (the notice was
// taken over): leases must be longer than a send's timeout.
type Outbox struct {
	r Records
	// Now is the outbox's clock; nil: time.Now.
	Now func() time.Time
}

// Notice is one pending notice to one recipient.
type Notice struct {
	ID        int64        `json:"id"`
	Recipient string       `json:"recipient"`
	Items     []NoticeItem `json:"items"` // the newest MaxNoticeItems
	Count     int          `json:"count"` // messages merged in, Items or not
	First     time.Time    `json:"first"`
	Last      time.Time    `json:"last"`
	Due       time.Time    `json:"due"`
	Attempts  int          `json:"attempts"`
	// NextAttempt is when the notice may be claimed again (Due, a retry's
	// backoff or the end of a lease).
	NextAttempt time.Time `json:"next_attempt"`
	Owner       string    `json:"owner,omitempty"` // who holds the lease
	LeaseUntil  time.Time `json:"lease_until,omitzero"`

	rev int64
}

// NoticeItem is one missed message.
type NoticeItem struct {
	MessageID int64     `json:"message_id"`
	From      string    `json:"from"`
	Conv      Conv      `json:"conversation"`
	Excerpt   string    `json:"excerpt"`
	TS        time.Time `json:"ts"`
}

// Bounds of a notice.
const (
	MaxNoticeItems   = 20
	MaxNoticeExcerpt = 200 // bytes, cut at a character boundary
)

const kindOutbox = "outbox"

// NewOutbox returns the outbox kept in r.
func NewOutbox(r Records) *Outbox { return &Outbox{r: r} }

func (o *Outbox) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

func excerpt(s string) string {
	if len(s) > MaxNoticeExcerpt {
		s = s[:MaxNoticeExcerpt]
	}
	return strings.ToValidUTF8(s, "")
}

func (o *Outbox) put(ctx context.Context, n *Notice) (bool, error) {
	val, err := marshal(n)
	if err != nil {
		return false, &Error{Op: "outbox", Err: err}
	}
	return o.r.SwapRecord(ctx, kindOutbox, n.Recipient+","+seqKey(n.ID), n.rev, val, unixMilli(n.NextAttempt))
}

func decodeNotice(rec Record) (Notice, error) {
	var n Notice
	if err := json.Unmarshal(rec.Val, &n); err != nil {
		return n, &Error{Op: "outbox", Err: err}
	}
	n.rev = rec.Rev
	return n, nil
}

// Pending returns the recipient's notices, oldest first.
func (o *Outbox) Pending(ctx context.Context, recipient string) ([]Notice, error) {
	var out []Notice
	err := listAll(ctx, o.r, kindOutbox, recipient+",", func(rec Record) error {
		n, err := decodeNotice(rec)
		out = append(out, n)
		return err
	})
	return out, err
}

// Enqueue adds a missed message for recipient: merged into their notice
// that is neither claimed nor older than window, or a new notice due
// window from now.
func (o *Outbox) Enqueue(ctx context.Context, recipient string, it NoticeItem, window time.Duration) (Notice, error) {
	if err := checkUserID("recipient", recipient); err != nil {
		return Notice{}, &Error{Op: "enqueue", Err: err}
	}
	if len(it.From) > 4*maxIDLen || len(it.Conv) > 3*4*maxIDLen {
		return Notice{}, &Error{Op: "enqueue", Err: invalid("from or conversation too long")}
	}
	it.Excerpt = excerpt(it.Excerpt)
	it.TS = it.TS.UTC()
	for i := 0; i < maxSwapTries; i++ {
		now := o.now()
		pend, err := o.Pending(ctx, recipient)
		if err != nil {
			return Notice{}, err
		}
		var n Notice
		merge := false
		for _, p := range pend {
			if p.Owner == "" && now.Sub(p.First) < window {
				n, merge = p, true
				break
			}
		}
		if !merge {
			id, err := nextSeq(ctx, o.r, kindOutbox)
			if err != nil {
				return Notice{}, err
			}
			n = Notice{ID: id, Recipient: recipient, First: now, Due: now.Add(window)}
			n.NextAttempt = n.Due
		}
		n.Items = append(n.Items, it)
		if len(n.Items) > MaxNoticeItems {
			n.Items = append(n.Items[:0:0], n.Items[len(n.Items)-MaxNoticeItems:]...)
		}
		n.Count++
		n.Last = now
		ok, err := o.put(ctx, &n)
		if err != nil {
			return Notice{}, err
		}
		if ok {
			n.rev++
			return n, nil
		}
	}
	return Notice{}, &Error{Op: "enqueue", Err: ErrConflict}
}

// Due returns up to limit notices that may be claimed at now, the most
// overdue first.
func (o *Outbox) Due(ctx context.Context, now time.Time, limit int) ([]Notice, error) {
	recs, err := o.r.DueRecords(ctx, kindOutbox, unixMilli(now), limit)
	if err != nil {
		return nil, err
	}
	out := make([]Notice, 0, len(recs))
	for _, rec := range recs {
		n, err := decodeNotice(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// Claim takes n (as read by Due) for owner until now+lease. ok is false
// when n changed since it was read: another process claimed it, or a
// message was merged in (read it again with Due).
func (o *Outbox) Claim(ctx context.Context, n Notice, owner string, lease time.Duration) (Notice, bool, error) {
	if owner == "" || lease <= 0 {
		return n, false, &Error{Op: "claim", Err: invalid("claim needs an owner and a positive lease")}
	}
	now := o.now()
	if n.NextAttempt.After(now) {
		return n, false, nil
	}
	c := n
	c.Owner, c.LeaseUntil, c.NextAttempt = owner, now.Add(lease), now.Add(lease)
	c.Attempts++
	ok, err := o.put(ctx, &c)
	if err != nil || !ok {
		return n, false, err
	}
	c.rev++
	return c, true, nil
}

// ClaimDue claims up to limit due notices for owner.
func (o *Outbox) ClaimDue(ctx context.Context, owner string, lease time.Duration, limit int) ([]Notice, error) {
	due, err := o.Due(ctx, o.now(), limit)
	if err != nil {
		return nil, err
	}
	var out []Notice
	for _, n := range due {
		c, ok, err := o.Claim(ctx, n, owner, lease)
		if err != nil {
			return out, err
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// ErrLeaseLost: the notice is no longer held by this claim (its lease ended
// and another owner took it, or it is gone).
var ErrLeaseLost = errors.New("store: notice lease lost")

// Ack deletes a notice claimed by Claim, once sent.
func (o *Outbox) Ack(ctx context.Context, n Notice) error {
	ok, err := o.r.SwapRecord(ctx, kindOutbox, n.Recipient+","+seqKey(n.ID), n.rev, nil, 0)
	if err != nil {
		return err
	}
	if !ok {
		return &Error{Op: "ack", Err: ErrLeaseLost}
	}
	return nil
}

// Retry hands a claimed notice back, due again after backoff.
func (o *Outbox) Retry(ctx context.Context, n Notice, backoff time.Duration) (Notice, error) {
	c := n
	c.Owner, c.LeaseUntil = "", time.Time{}
	c.NextAttempt = o.now().Add(backoff)
	ok, err := o.put(ctx, &c)
	if err != nil {
		return n, err
	}
	if !ok {
		return n, &Error{Op: "retry", Err: ErrLeaseLost}
	}
	c.rev++
	return c, nil
}

// Drop deletes every notice of recipient (erasure) and says how many.
func (o *Outbox) Drop(ctx context.Context, recipient string) (int, error) {
	pend, err := o.Pending(ctx, recipient)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range pend {
		ok, err := o.r.DeleteRecord(ctx, kindOutbox, p.Recipient+","+seqKey(p.ID))
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}
