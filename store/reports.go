package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Reports are users' reports of messages (issue 16.3): records of kind
// "report" keyed by increasing id, with a snapshot of the message as it was
// reported (it may be deleted or erased later), and a per-reporter daily
// counter ("report.day", reporter,YYYYMMDD) that bounds how many one user
// files a day.
type Reports struct {
	r Records
	// Now stamps reports and resolutions; nil: time.Now.
	Now func() time.Time
}

// Report statuses.
const (
	ReportOpen     = "open"
	ReportResolved = "resolved"
)

// Report is one report of a message.
type Report struct {
	ID        int64           `json:"id"`
	MessageID int64           `json:"message_id"`
	Message   MessageSnapshot `json:"message"`
	Reporter  string          `json:"reporter"`
	Reason    string          `json:"reason"`
	Status    string          `json:"status"`
	At        time.Time       `json:"at"`

	ResolvedBy string    `json:"resolved_by,omitempty"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	Note       string    `json:"note,omitempty"`
}

// MessageSnapshot is a reported message as it was.
type MessageSnapshot struct {
	From string    `json:"from"`
	Conv Conv      `json:"conversation"`
	Text string    `json:"text"`
	TS   time.Time `json:"ts"`
}

const (
	kindReport    = "report"
	kindReportDay = "report.day"
)

// NewReports returns the reports kept in r.
func NewReports(r Records) *Reports { return &Reports{r: r} }

func (rs *Reports) now() time.Time {
	if rs.Now != nil {
		return rs.Now().UTC()
	}
	return time.Now().UTC()
}

// SaveReport stores a new open report, assigning ID and At, unless
// rep.Reporter filed maxPerDay reports today (UTC) already: then the error
// wraps ErrLimit and nothing is stored. maxPerDay <= 0: no bound.
func (rs *Reports) SaveReport(ctx context.Context, rep *Report, maxPerDay int) error {
	if err := checkUserID("reporter", rep.Reporter); err != nil {
		return &Error{Op: "save report", Err: err}
	}
	if err := checkText("reason", rep.Reason, MaxReasonLen); err != nil {
		return &Error{Op: "save report", Err: err}
	}
	if err := checkText("message text", rep.Message.Text, maxTextLen); err != nil {
		return &Error{Op: "save report", Err: err}
	}
	now := rs.now()
	day := now.Format("20060102")
	if maxPerDay > 0 {
		_, ok, err := addCounter(ctx, rs.r, kindReportDay, rep.Reporter+","+day, 1, int64(maxPerDay), now.Truncate(24*time.Hour).Add(48*time.Hour))
		if err != nil {
			return err
		}
		if !ok {
			return &Error{Op: "save report", Err: errors.Join(ErrLimit, invalid("%s filed %d reports today already", rep.Reporter, maxPerDay))}
		}
	}
	id, err := nextSeq(ctx, rs.r, kindReport)
	if err != nil {
		return err
	}
	r := *rep
	r.ID, r.At, r.Status = id, now, ReportOpen
	r.Message.TS = r.Message.TS.UTC()
	r.ResolvedBy, r.ResolvedAt, r.Note = "", time.Time{}, ""
	val, err := marshal(r)
	if err != nil {
		return &Error{Op: "save report", Err: err}
	}
	if err := rs.r.PutRecord(ctx, kindReport, seqKey(id), val); err != nil {
		return err
	}
	*rep = r
	return nil
}

// Reports returns up to limit reports with ID > after, oldest first, of
// the given status ("" for any).
func (rs *Reports) Reports(ctx context.Context, status string, after int64, limit int) ([]Report, error) {
	if limit <= 0 {
		limit = 100
	}
	var out []Report
	errDone := errors.New("done")
	err := listAll(ctx, rs.r, kindReport, "", func(rec Record) error {
		var r Report
		if err := json.Unmarshal(rec.Val, &r); err != nil {
			return &Error{Op: "reports", Err: err}
		}
		if r.ID > after && (status == "" || r.Status == status) {
			out = append(out, r)
		}
		if len(out) == limit {
			return errDone
		}
		return nil
	}, seqKey(max(after, 0)))
	if errors.Is(err, errDone) {
		err = nil
	}
	return out, err
}

// Report returns one report.
func (rs *Reports) Report(ctx context.Context, id int64) (Report, bool, error) {
	var r Report
	rec, err := getJSON(ctx, rs.r, kindReport, seqKey(id), &r)
	return r, rec != nil, err
}

// ResolveReport marks the report resolved by by with a note; found is
// false when there is no such report. Resolving again replaces the note.
func (rs *Reports) ResolveReport(ctx context.Context, id int64, by, note string) (Report, bool, error) {
	if err := checkText("note", note, MaxReasonLen); err != nil {
		return Report{}, false, &Error{Op: "resolve report", Err: err}
	}
	var out Report
	var found bool
	err := modify(ctx, rs.r, kindReport, seqKey(id), func(cur *Record) ([]byte, int64, error) {
		found = cur != nil
		if !found {
			return nil, 0, errSkip
		}
		var r Report
		if err := json.Unmarshal(cur.Val, &r); err != nil {
			return nil, 0, err
		}
		r.Status, r.ResolvedBy, r.ResolvedAt, r.Note = ReportResolved, by, rs.now(), note
		out = r
		val, err := marshal(r)
		return val, 0, err
	})
	return out, found, err
}

// DeleteReport removes a report (a user's erasure removes the reports they
// filed).
func (rs *Reports) DeleteReport(ctx context.Context, id int64) (bool, error) {
	return rs.r.DeleteRecord(ctx, kindReport, seqKey(id))
}
