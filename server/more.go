package server

import (
	"context"

	"pollchat/bridge"
)

// more holds the parts of the server set after New: the member directory
// (SetDirectory) and the moderator sessions' key (admin.go).
type more struct {
	search Searcher
}

// Searcher finds members by name (bridge.Directory).
type Searcher interface {
	Search(ctx context.Context, q string, limit int) ([]bridge.User, error)
}

// SetDirectory gives the server the directory that /v1/directory searches;
// without it /v1/directory answers {users:[], supported:false}. Call it
// before Serve.
func (s *Server) SetDirectory(d Searcher) { s.more.search = d }
