//go:build !linux

package server

import (
	"net"
	"syscall"

	"pollchat/chat"
)

// Event loops are Linux's (loop_linux.go); elsewhere every connection
// stays on Go's poller. loopReq is a net.Conn only so that park's type
// check compiles; none is ever made.

type lconn struct{ l chat.Runner }

type loopReq struct {
	net.Conn
	lc     *lconn
	parked bool
}

func (*loopReq) inline() bool { return false }

func (*loopReq) move() {}

type loopStats struct{ requests, handoffs, ends, moved uint64 }

type loops struct{ offload bool }

func newLoops(*Server) *loops { return nil }

func (*loops) take(net.Conn, syscall.RawConn) *lconn { return nil }

func (*loops) write(*lconn, []byte, bool) {}

func (*loops) shutdown() {}

func (*loops) stats() loopStats { return loopStats{} }
