//go:build !unix

package server

import "errors"

// rawFds is false where a socket is not a file descriptor (Windows): an
// answer is written with the connection's own Write and fasthttp reads
// the next request itself.
const rawFds = false

func writeFd(int, []byte) ([]byte, error) { return nil, errors.ErrUnsupported }

func readFd(int, []byte) (int, error) { return 0, errors.ErrUnsupported }
