package server

import (
	"io"

	"github.com/valyala/fasthttp"

	"pollchat/chat"
	"pollchat/store"
)

// apiBackup is GET /api/v1/backup: a consistent copy of the embedded store,
// taken while the server keeps serving: on bbolt the database file (one read
// transaction; bbolt's MVCC leaves its pages alone while sends commit), on
// Pebble a tar of a checkpoint (sstables hard-linked, the synced log copied). `pollchat backup` calls it,
// because the running server holds the store file's lock and no other
// process can open it. The body has a Content-Length, so a cut transfer is
// seen as one.
func (s *Server) apiBackup(ctx *fasthttp.RequestCtx, rp reply) {
	b, ok := s.svc.Store().(store.Backuper)
	if !ok {
		s.fail(rp, chat.Errorf(chat.CodeNotFound, "this store has no online backup; back up MySQL with mysqldump --single-transaction"))
		return
	}
	snap, err := b.Snapshot()
	if err != nil {
		s.fail(rp, chat.Errorf(chat.CodeUnavailable, "backup: %v", err))
		return
	}
	// fasthttp reads the pipe after this handler returns and closes it when
	// the response is done or the client has gone; either way the writer
	// below ends and the read transaction is released.
	pr, pw := io.Pipe()
	go func() {
		defer snap.Close()
		_, err := snap.WriteTo(pw)
		pw.CloseWithError(err)
	}()
	ctx.Response.Header.SetContentType("application/octet-stream")
	ctx.Response.Header.Set("Content-Disposition", `attachment; filename="`+snap.Name()+`"`)
	ctx.SetBodyStream(pr, int(snap.Size()))
}
