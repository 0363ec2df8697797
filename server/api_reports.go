package server

import (
	"context"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"pollchat/chat"
	"pollchat/store"
)

// Reports (issue 16.3).
const (
	// MaxReportReason bounds a report's reason in characters (and
	// store.MaxReasonLen bounds it in bytes).
	MaxReportReason = 500
	// MaxReportsPerDay is how many reports one user files per day (UTC).
	MaxReportsPerDay = 20
)

// report is /v1/report: the caller reports a message of a conversation
// they are in (with) or of a room they are a member of (room), with a
// reason. The message is snapshotted: a later deletion or erasure does not
// empty the moderators' queue.
func (s *Server) report(ctx *fasthttp.RequestCtx, p *params, rp reply, c chat.Caller) {
	recs, rerr := s.records()
	if rerr != nil {
		s.fail(rp, rerr)
		return
	}
	id, err := p.int64("message_id", 0)
	if err == nil && id <= 0 {
		err = chat.Errorf(chat.CodeBadRequest, "message_id is required (a message id)")
	}
	if err != nil {
		s.fail(rp, err)
		return
	}
	raw := p.get("reason")
	if len(raw) > 4*MaxReportReason {
		s.fail(rp, chat.Errorf(chat.CodeTooLong, "reason is longer than %d characters", MaxReportReason))
		return
	}
	reason, cerr := chat.CleanText(raw, MaxReportReason)
	if cerr != nil {
		e := chat.AsError(cerr)
		s.fail(rp, chat.Errorf(e.Code, "reason: %s", e.Message))
		return
	}
	if len(reason) > store.MaxReasonLen {
		s.fail(rp, chat.Errorf(chat.CodeTooLong, "reason is longer than %d bytes", store.MaxReasonLen))
		return
	}
	with, room := p.get("with"), p.get("room")
	if (with == "") == (room == "") {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "give the message's conversation: exactly one of with and room"))
		return
	}
	if room != "" && !s.inRoom(ctx, room, c.ID) {
		s.fail(rp, chat.Errorf(chat.CodeForbidden, "only members of room %q report its messages; join it first", room))
		return
	}
	msgs, _, herr := s.svc.History(ctx, c, chat.HistoryParams{With: with, Room: room, Before: id + 1, Limit: 1})
	if herr != nil {
		s.fail(rp, herr)
		return
	}
	if len(msgs) == 0 || msgs[0].ID != id || msgs[0].Deleted {
		s.fail(rp, chat.Errorf(chat.CodeNotFound, "no message %d in that conversation", id))
		return
	}
	m := msgs[0]
	if m.From == c.ID {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "you cannot report your own message"))
		return
	}
	if m.From == "" {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "system messages cannot be reported"))
		return
	}
	rep := &store.Report{MessageID: id, Reporter: c.ID, Reason: reason,
		Message: store.MessageSnapshot{From: m.From, Conv: m.Conv(), Text: m.Text, TS: m.TS}}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if serr := store.NewReports(recs).SaveReport(sctx, rep, MaxReportsPerDay); serr != nil {
		e := storeError(serr)
		if e.Code == chat.CodeRateLimited {
			e = chat.Errorf(chat.CodeRateLimited, "you have filed %d reports today; the moderators will see them", MaxReportsPerDay)
			e.RetryAfter = int(time.Until(time.Now().UTC().Truncate(24*time.Hour).Add(24*time.Hour)).Seconds()) + 1
		}
		s.fail(rp, e)
		return
	}
	rp.json(fasthttp.StatusOK, map[string]any{"report": map[string]any{"id": rep.ID, "message_id": id, "status": rep.Status, "at": rep.At.Format(chat.TimeFormat)}})
}

// inRoom says whether user is a member of room: joined on this process, or
// a member of a room created by the backend.
func (s *Server) inRoom(ctx context.Context, room, user string) bool {
	for _, u := range s.svc.RoomMembers(room) {
		if u == user {
			return true
		}
	}
	if recs, ok := s.svc.Store().(store.Records); ok && len(room) <= 64 {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		in, err := store.NewCreatedRooms(recs).IsMember(sctx, room, user)
		return err == nil && in
	}
	return false
}

// apiReport is a report as the backend and the console see it: the store's
// report with the conversation spelt out (room, or the two users).
type apiReport struct {
	store.Report
	Room    string   `json:"room,omitempty"`
	Between []string `json:"between,omitempty"`
}

func reportOut(r store.Report) apiReport {
	out := apiReport{Report: r, Room: r.Message.Conv.Room()}
	if out.Room == "" && r.Message.From != "" {
		if peer := r.Message.Conv.Peer(r.Message.From); peer != "" {
			out.Between = []string{r.Message.From, peer}
		}
	}
	return out
}

// apiReports is GET /api/v1/reports?status=open|resolved&after=&limit=:
// reports oldest first, with next_after for the next page.
func (s *Server) apiReports(ctx *fasthttp.RequestCtx, rp reply, _ moderator) {
	recs, rerr := s.records()
	if rerr != nil {
		s.fail(rp, rerr)
		return
	}
	p := newParams(ctx)
	status := p.get("status")
	if status != "" && status != store.ReportOpen && status != store.ReportResolved {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "status must be open or resolved (or absent: both)"))
		return
	}
	after, limit, err := p.page("after", "after must be a report id")
	if err != nil {
		s.fail(rp, err)
		return
	}
	if p.err != nil {
		s.fail(rp, p.err)
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list, lerr := store.NewReports(recs).Reports(sctx, status, after, int(limit))
	if lerr != nil {
		s.fail(rp, storeError(lerr))
		return
	}
	out := make([]apiReport, len(list))
	for i, r := range list {
		out[i] = reportOut(r)
	}
	res := map[string]any{"reports": out}
	if len(list) == int(limit) {
		res["next_after"] = list[len(list)-1].ID
	}
	rp.json(fasthttp.StatusOK, res)
}

// apiResolveReport is POST /api/v1/reports/{id}/resolve {note}: the report
// is resolved by the moderator (or "api") and the audit log says so.
func (s *Server) apiResolveReport(ctx *fasthttp.RequestCtx, rp reply, who moderator) {
	recs, rerr := s.records()
	if rerr != nil {
		s.fail(rp, rerr)
		return
	}
	id, perr := strconv.ParseInt(pathValue(ctx, "id"), 10, 64)
	if perr != nil || id <= 0 {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "the report id in the path must be a positive whole number"))
		return
	}
	var in struct {
		Note string `json:"note"`
	}
	if len(ctx.PostBody()) > 0 {
		if err := decode(ctx, &in); err != nil {
			s.fail(rp, err)
			return
		}
	}
	note := in.Note
	if note != "" {
		clean, err := chat.CleanText(note, MaxReportReason)
		if err != nil {
			e := chat.AsError(err)
			s.fail(rp, chat.Errorf(e.Code, "note: %s", e.Message))
			return
		}
		note = clean
	}
	if len(note) > store.MaxReasonLen || utf8.RuneCountInString(note) > MaxReportReason {
		s.fail(rp, chat.Errorf(chat.CodeTooLong, "note is longer than %d characters", MaxReportReason))
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r, found, err := store.NewReports(recs).ResolveReport(sctx, id, who.who(), note)
	if err != nil {
		s.fail(rp, storeError(err))
		return
	}
	if !found {
		s.fail(rp, chat.Errorf(chat.CodeNotFound, "no report %d", id))
		return
	}
	details, _ := json.Marshal(map[string]any{"report": id, "via": who.via(), "name": who.Name})
	entry := &store.AuditEntry{Who: who.who(), Action: "resolve_report", Reason: note,
		Target: store.AuditTarget{User: r.Message.From, Room: r.Message.Conv.Room(), Message: r.MessageID}, Details: details}
	if aerr := store.NewAuditLog(recs).Append(sctx, entry); aerr != nil {
		s.fail(rp, storeError(aerr))
		return
	}
	rp.json(fasthttp.StatusOK, map[string]any{"report": reportOut(r), "audit": entry})
}

// apiAudit is GET /api/v1/audit?before=&limit=: the moderators' log,
// newest first, with next_before for the next page.
func (s *Server) apiAudit(ctx *fasthttp.RequestCtx, rp reply, _ moderator) {
	recs, rerr := s.records()
	if rerr != nil {
		s.fail(rp, rerr)
		return
	}
	p := newParams(ctx)
	before, limit, err := p.page("before", "before must be an entry id")
	if err != nil {
		s.fail(rp, err)
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list, lerr := store.NewAuditLog(recs).List(sctx, before, int(limit))
	if lerr != nil {
		s.fail(rp, storeError(lerr))
		return
	}
	res := map[string]any{"entries": list}
	if len(list) == int(limit) {
		res["next_before"] = list[len(list)-1].ID
	}
	rp.json(fasthttp.StatusOK, res)
}

// pathValue is a router parameter of the path.
func pathValue(ctx *fasthttp.RequestCtx, name string) string {
	v, _ := ctx.UserValue(name).(string)
	return v
}

// page reads a backend listing's position (the id named cursor, 0 or more;
// bad: the message) and its limit (1..200, default 50).
func (p *params) page(cursor, bad string) (int64, int64, *chat.Error) {
	at, err := p.int64(cursor, 0)
	if err == nil && at < 0 {
		err = chat.Errorf(chat.CodeBadRequest, "%s", bad)
	}
	if err != nil {
		return 0, 0, err
	}
	limit, err := p.int64("limit", 50)
	if err == nil && (limit < 1 || limit > 200) {
		err = chat.Errorf(chat.CodeBadRequest, "limit must be 1..200")
	}
	if err != nil {
		return 0, 0, err
	}
	return at, limit, nil
}
