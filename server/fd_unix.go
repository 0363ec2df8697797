//go:build unix

package server

import "syscall"

// rawFds says that a connection's descriptor may be read and written
// directly (writeNow, serveNext's first read, the event loops).
const rawFds = true

// writeFd writes b on the non-blocking descriptor fd as far as the socket
// takes it, and returns what is left.
func writeFd(fd int, b []byte) ([]byte, error) {
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		if n > 0 {
			b = b[n:]
		}
		switch {
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			return b, nil
		case err != nil:
			return b, err
		case n <= 0:
			return b, nil
		}
	}
	return nil, nil
}

// readFd reads the descriptor fd once into p (again when interrupted).
func readFd(fd int, p []byte) (int, error) {
	for {
		n, err := syscall.Read(fd, p)
		if err != syscall.EINTR {
			return n, err
		}
	}
}
