package server

import (
	"context"
	"encoding/json"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"

	"pollchat/chat"
	"pollchat/config"
	"pollchat/store"
)

// userDataTimeout bounds an export or an erasure: the embedded store walks
// every message for one (docs/storage.md).
const userDataTimeout = 2 * time.Minute

// pathUser reads and checks the {id} of a /api/v1/users/{id} path.
func pathUser(ctx *fasthttp.RequestCtx) (string, *chat.Error) {
	raw, _ := ctx.UserValue("id").(string)
	id, uerr := url.PathUnescape(raw)
	if uerr != nil {
		return "", chat.Errorf(chat.CodeBadRequest, "the user id in the path is not valid: bad %%-escape")
	}
	if err := config.ValidUserID(id); err != nil {
		return "", chat.Errorf(chat.CodeBadRequest, "the user id in the path is not valid: %v", err)
	}
	return id, nil
}

// apiExportUser is GET /api/v1/users/{id}/export: everything the store
// keeps about the user (docs/storage.md, "Users' data").
func (s *Server) apiExportUser(ctx *fasthttp.RequestCtx, rp reply) {
	id, err := pathUser(ctx)
	if err != nil {
		s.fail(rp, err)
		return
	}
	if _, rerr := s.records(); rerr != nil {
		s.fail(rp, rerr)
		return
	}
	sctx, cancel := context.WithTimeout(ctx, userDataTimeout)
	defer cancel()
	x, xerr := store.ExportUser(sctx, s.svc.Store(), id)
	if xerr != nil {
		s.fail(rp, storeError(xerr))
		return
	}
	b, merr := json.Marshal(x)
	if merr != nil {
		s.fail(rp, merr)
		return
	}
	ctx.Response.Header.Set("Content-Disposition", `attachment; filename="pollchat-user-export.json"`)
	rp.raw(fasthttp.StatusOK, b)
}

// apiEraseUser is DELETE /api/v1/users/{id}: erase what the store keeps
// about the user under privacy.erase, log it, and drop the user from every
// process's caches (their parked polls end).
func (s *Server) apiEraseUser(ctx *fasthttp.RequestCtx, rp reply) {
	id, err := pathUser(ctx)
	if err != nil {
		s.fail(rp, err)
		return
	}
	recs, rerr := s.records()
	if rerr != nil {
		s.fail(rp, rerr)
		return
	}
	policy := store.ErasePolicy(s.cfg.Privacy.Erase)
	if policy == "" {
		policy = store.EraseDelete
	}
	sctx, cancel := context.WithTimeout(ctx, userDataTimeout)
	defer cancel()
	n, files, eerr := store.EraseUser(sctx, s.svc.Store(), id, policy)
	// Whatever was erased, the caches must forget it.
	s.svc.Invalidate(id)
	if eerr != nil {
		s.fail(rp, storeError(eerr))
		return
	}
	s.eraseFiles(files)
	details, _ := json.Marshal(map[string]any{"policy": policy, "erased": n})
	entry := &store.AuditEntry{Who: "api", Action: "erase_user", Target: store.AuditTarget{User: id}, Details: details}
	if aerr := store.NewAuditLog(recs).Append(sctx, entry); aerr != nil {
		s.log.Error("server: audit of an erasure", "user", id, "err", aerr)
	}
	rp.json(fasthttp.StatusOK, map[string]any{"ok": true, "user_id": id, "policy": policy, "erased": n})
}
