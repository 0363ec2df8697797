package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// A minimal HTTP/1.1 keep-alive client: one connection per simulated
// browser, requests written by hand, answers read with a small buffer. The
// load generator shares the machine with the server it measures, so it
// spends as little CPU and memory per connection as it can (net/http's
// Transport costs several times more per idle connection).

// srcAddrs are the loopback source addresses connections are spread over,
// so that 15,000 connections to one port do not exhaust ephemeral ports.
var (
	srcAddrs []*net.TCPAddr
	srcNext  atomic.Uint32
)

func initSrcAddrs(n int) {
	srcAddrs = srcAddrs[:0]
	for i := 0; i < n; i++ {
		srcAddrs = append(srcAddrs, &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))})
	}
}

type client struct {
	addr string // host:port
	mu   sync.Mutex
	dead bool // shut: no more dialing
	c    net.Conn
	r    *bufio.Reader
	req  []byte
	body []byte
}

type response struct {
	status       int
	lastModified []byte
	etag         []byte
	body         []byte // valid until the next request on this client
	close        bool
}

func newClient(addr string) *client { return &client{addr: addr} }

func (c *client) dial() error {
	d := net.Dialer{Timeout: 10 * time.Second}
	if len(srcAddrs) > 0 {
		d.LocalAddr = srcAddrs[int(srcNext.Add(1))%len(srcAddrs)]
	}
	conn, err := d.Dial("tcp", c.addr)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		conn.Close()
		return net.ErrClosed
	}
	c.c = conn
	c.mu.Unlock()
	if c.r == nil {
		c.r = bufio.NewReaderSize(conn, 2048)
	} else {
		c.r.Reset(conn)
	}
	return nil
}

// Close closes the connection (the next request dials again).
func (c *client) Close() {
	c.mu.Lock()
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
	c.mu.Unlock()
}

// shut closes the connection from another goroutine, ending a request in
// flight, and stops the client from dialing again.
func (c *client) shut() {
	c.mu.Lock()
	c.dead = true
	if c.c != nil {
		c.c.Close()
	}
	c.mu.Unlock()
}

// get sends GET path with extra header lines (each ending in \r\n).
func (c *client) get(path string, hdr []byte, deadline time.Time) (*response, error) {
	c.req = append(c.req[:0], "GET "...)
	c.req = append(c.req, path...)
	c.req = append(c.req, " HTTP/1.1\r\nHost: 127.0.0.1\r\n"...)
	c.req = append(c.req, hdr...)
	c.req = append(c.req, "\r\n"...)
	return c.roundTrip(deadline)
}

// post sends POST path with body.
func (c *client) post(path string, body []byte, deadline time.Time) (*response, error) {
	c.req = append(c.req[:0], "POST "...)
	c.req = append(c.req, path...)
	c.req = append(c.req, " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: "...)
	c.req = strconv.AppendInt(c.req, int64(len(body)), 10)
	c.req = append(c.req, "\r\n\r\n"...)
	c.req = append(c.req, body...)
	return c.roundTrip(deadline)
}

var resp0 response

func (c *client) roundTrip(deadline time.Time) (*response, error) {
	for attempt := 0; attempt < 2; attempt++ {
		fresh := false
		if c.c == nil {
			if err := c.dial(); err != nil {
				return nil, err
			}
			fresh = true
		}
		c.c.SetDeadline(deadline)
		if _, err := c.c.Write(c.req); err != nil {
			c.Close()
			if fresh {
				return nil, err
			}
			continue
		}
		r, err := c.readResponse()
		if err != nil {
			c.Close()
			// A kept-alive connection the server closed meanwhile: retry once
			// on a new one (only when nothing at all was read).
			if !fresh && errors.Is(err, errNothingRead) {
				continue
			}
			return nil, err
		}
		if r.close {
			c.Close()
		}
		return r, nil
	}
	return nil, errors.New("connection closed twice")
}

var errNothingRead = errors.New("connection closed before an answer")

func (c *client) readResponse() (*response, error) {
	r := &response{}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		if len(line) == 0 && (err == io.EOF || errors.Is(err, net.ErrClosed) || isReset(err)) {
			return nil, errNothingRead
		}
		return nil, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return nil, fmt.Errorf("bad status line %q", line)
	}
	r.status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return nil, fmt.Errorf("bad status line %q", line)
	}
	clen, chunked := -1, false
	for {
		line, err = c.r.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		i := bytes.IndexByte(line, ':')
		if i < 0 {
			continue
		}
		k, v := line[:i], bytes.TrimSpace(line[i+1:])
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			clen, err = strconv.Atoi(string(v))
			if err != nil {
				return nil, fmt.Errorf("bad Content-Length %q", v)
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			r.close = bytes.EqualFold(v, []byte("close"))
		case bytes.EqualFold(k, []byte("Last-Modified")):
			r.lastModified = append([]byte(nil), v...)
		case bytes.EqualFold(k, []byte("Etag")):
			r.etag = append([]byte(nil), v...)
		}
	}
	c.body = c.body[:0]
	switch {
	case chunked:
		for {
			line, err = c.r.ReadSlice('\n')
			if err != nil {
				return nil, err
			}
			line = bytes.TrimRight(line, "\r\n")
			if i := bytes.IndexByte(line, ';'); i >= 0 {
				line = line[:i]
			}
			n, perr := strconv.ParseInt(string(line), 16, 32)
			if perr != nil {
				return nil, fmt.Errorf("bad chunk size %q", line)
			}
			if n == 0 {
				// trailers until an empty line
				for {
					line, err = c.r.ReadSlice('\n')
					if err != nil {
						return nil, err
					}
					if len(bytes.TrimRight(line, "\r\n")) == 0 {
						break
					}
				}
				break
			}
			if c.body, err = readN(c.r, c.body, int(n)); err != nil {
				return nil, err
			}
			if _, err = c.r.Discard(2); err != nil {
				return nil, err
			}
		}
	case clen >= 0:
		if c.body, err = readN(c.r, c.body, clen); err != nil {
			return nil, err
		}
	default:
		if r.status != 204 && r.status != 304 {
			return nil, fmt.Errorf("answer %d without length", r.status)
		}
	}
	r.body = c.body
	return r, nil
}

func readN(r *bufio.Reader, b []byte, n int) ([]byte, error) {
	start := len(b)
	if cap(b)-start < n {
		nb := make([]byte, start, start+n)
		copy(nb, b)
		b = nb
	}
	b = b[:start+n]
	_, err := io.ReadFull(r, b[start:])
	return b, err
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}
