package main

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// msg is one benchmark message as a subscriber saw it: the text is
// "b SEQ UNIXNANO" (the moment the sender wrote the request).
type msg struct {
	seq int
	ts  int64
	id  int64 // pollchat's message id (0 for Nchan)
}

// sub is one simulated browser: its own user (or channel), connection and
// position (pollchat cursor, or Nchan's Last-Modified + Etag).
type sub struct {
	user string
	c    *client
	q    string // pollchat identity query
	path string // pollchat poll path prefix, or Nchan /sub/<channel>

	cursor   string
	lm, etag []byte
	hdr      []byte

	mu      sync.Mutex
	seqs    []int32
	ids     []int64
	lats    []int64
	resets  int
	resets0 int // resets before the measurement (setup)
	errs    int
	repolls int // answers without messages (timeouts)
}

func (s *sub) record(now int64, ms []msg) {
	s.mu.Lock()
	for _, m := range ms {
		s.seqs = append(s.seqs, int32(m.seq))
		s.ids = append(s.ids, m.id)
		s.lats = append(s.lats, now-m.ts)
	}
	if len(ms) == 0 {
		s.repolls++
	}
	s.mu.Unlock()
}

// target is the server under test, spoken to in its own protocol.
type target struct {
	kind  string
	srv   *server
	park  time.Duration
	addrs []string // the server's processes (several in a cluster)
}

// addr is the process the i-th connection talks to: connections are spread
// round-robin over a cluster's processes, as a balancer with keep-alive
// connections would spread browsers.
func (t *target) addr(i int) string {
	if len(t.addrs) == 0 {
		return t.srv.addr
	}
	return t.addrs[i%len(t.addrs)]
}

func (t *target) newSub(i int, user, channel string) *sub {
	s := &sub{user: user, c: newClient(t.addr(i))}
	if t.kind == "pollchat" {
		s.q = auth(user)
	} else {
		s.path = "/sub/" + channel
	}
	return s
}

var errStatus = errors.New("unexpected status")

// open gets the subscriber's starting position (pollchat: hello, and join
// the room when room is set). Nchan needs nothing: the first GET parks.
func (t *target) open(s *sub, room string) error {
	if t.kind != "pollchat" {
		return nil
	}
	r, err := s.c.get("/v1/hello?"+s.q, nil, time.Now().Add(60*time.Second))
	if err != nil {
		return err
	}
	if r.status != 200 {
		return fmt.Errorf("hello: %w %d: %s", errStatus, r.status, r.body)
	}
	s.cursor = jsonField(r.body, `"cursor":"`)
	if s.cursor == "" {
		return fmt.Errorf("hello: no cursor in %s", r.body)
	}
	// Users known only by their signed identity are known per process
	// (a site's directory would know them everywhere): say hello to the
	// other processes of a cluster too, so sends through any of them find
	// the user. The cursor is the one from the user's own process.
	for _, a := range t.addrs {
		if a == s.c.addr {
			continue
		}
		c := newClient(a)
		r, err := c.get("/v1/hello?"+s.q, nil, time.Now().Add(60*time.Second))
		c.Close()
		if err != nil {
			return err
		}
		if r.status != 200 {
			return fmt.Errorf("hello on %s: %w %d: %s", a, errStatus, r.status, r.body)
		}
	}
	if room != "" {
		r, err = s.c.get("/v1/join?room="+room+"&"+s.q, nil, time.Now().Add(60*time.Second))
		if err != nil {
			return err
		}
		if r.status != 200 {
			return fmt.Errorf("join: %w %d: %s", errStatus, r.status, r.body)
		}
	}
	s.path = "/v1/poll?timeout=" + strconv.FormatFloat(t.park.Seconds(), 'f', -1, 64) + "&" + s.q + "&cursor="
	return nil
}

// poll makes one long-poll request and returns the benchmark messages of
// its answer (possibly none, on a timeout).
func (t *target) poll(s *sub, out []msg) ([]msg, error) {
	out = out[:0]
	if t.kind == "pollchat" {
		r, err := s.c.get(s.path+s.cursor, nil, time.Now().Add(90*time.Second))
		if err != nil {
			return out, err
		}
		if r.status != 200 {
			return out, fmt.Errorf("poll: %w %d: %s", errStatus, r.status, r.body)
		}
		if c := jsonField(r.body, `"cursor":"`); c != "" {
			s.cursor = c
		}
		if bytes.Contains(r.body, []byte(`"reset":true`)) {
			s.mu.Lock()
			s.resets++
			s.mu.Unlock()
		}
		return parsePollchat(r.body, out), nil
	}
	s.hdr = s.hdr[:0]
	if s.lm != nil {
		s.hdr = append(s.hdr, "If-Modified-Since: "...)
		s.hdr = append(s.hdr, s.lm...)
		s.hdr = append(s.hdr, "\r\nIf-None-Match: "...)
		s.hdr = append(s.hdr, s.etag...)
		s.hdr = append(s.hdr, "\r\n"...)
	}
	r, err := s.c.get(s.path, s.hdr, time.Now().Add(90*time.Second))
	if err != nil {
		return out, err
	}
	switch r.status {
	case 200:
		if r.lastModified != nil {
			s.lm = r.lastModified
		}
		if r.etag != nil {
			s.etag = r.etag
		}
		if m, ok := parseText(r.body); ok {
			out = append(out, m)
		}
		return out, nil
	case 304, 408:
		return out, nil
	}
	return out, fmt.Errorf("sub: %w %d: %s", errStatus, r.status, r.body)
}

// send publishes message seq to a user (to) or the room, from sender.
func (t *target) send(c *client, senderQ, to, room string, seq int) error {
	ts := time.Now().UnixNano()
	text := "b " + strconv.Itoa(seq) + " " + strconv.FormatInt(ts, 10)
	if t.kind == "pollchat" {
		p := "/v1/send?" + senderQ + "&text=" + strings.ReplaceAll(text, " ", "+")
		if room != "" {
			p += "&room=" + room
		} else {
			p += "&to=" + to
		}
		r, err := c.get(p, nil, time.Now().Add(30*time.Second))
		if err != nil {
			return err
		}
		if r.status != 200 {
			return fmt.Errorf("send: %w %d: %s", errStatus, r.status, r.body)
		}
		return nil
	}
	ch := to
	if room != "" {
		ch = room
	}
	r, err := c.post("/pub/"+ch, []byte(text), time.Now().Add(30*time.Second))
	if err != nil {
		return err
	}
	if r.status != 201 && r.status != 202 {
		return fmt.Errorf("pub: %w %d: %s", errStatus, r.status, r.body)
	}
	return nil
}

// gauge is the server's own count of parked subscribers, summed over its
// processes.
func (t *target) gauge() (int, error) {
	if t.kind != "pollchat" {
		return t.metric("/nchan_status", "subscribers: ")
	}
	return t.metric("/metrics", "pollchat_parked_polls ")
}

// goroutines is pollchat's go_goroutines from /metrics, summed over its
// processes.
func (t *target) goroutines() (int, error) {
	if t.kind != "pollchat" {
		return 0, errors.New("no goroutines in Nchan")
	}
	return t.metric("/metrics", "go_goroutines ")
}

// metric sums a line "key VALUE" of path over the server's processes.
func (t *target) metric(path, key string) (int, error) {
	addrs := t.addrs
	if len(addrs) == 0 {
		addrs = []string{t.srv.addr}
	}
	sum := 0
	for _, a := range addrs {
		c := newClient(a)
		n, err := readMetric(c, path, key)
		c.Close()
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}

func readMetric(c *client, path, key string) (int, error) {
	key = "\n" + key
	r, err := c.get(path, nil, time.Now().Add(10*time.Second))
	if err != nil {
		return 0, err
	}
	b := append([]byte{'\n'}, r.body...)
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, fmt.Errorf("%s: no %q", path, strings.TrimSpace(key))
	}
	rest := b[i+len(key):]
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(string(rest)), 64)
	return int(n), err
}

// jsonField returns the string value after key (a simple scan: the values
// read here are cursors, never escaped).
func jsonField(b []byte, key string) string {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return ""
	}
	b = b[i+len(key):]
	j := bytes.IndexByte(b, '"')
	if j < 0 {
		return ""
	}
	return string(b[:j])
}

var (
	textKey = []byte(`"text":"b `)
	idKey   = []byte(`{"id":`)
)

// parsePollchat finds the benchmark messages in a poll answer.
func parsePollchat(b []byte, out []msg) []msg {
	off := 0
	for {
		i := bytes.Index(b[off:], textKey)
		if i < 0 {
			return out
		}
		i += off
		j := bytes.IndexByte(b[i+8:], '"')
		if j < 0 {
			return out
		}
		m, ok := parseText(b[i+8 : i+8+j])
		if ok {
			if k := bytes.LastIndex(b[off:i], idKey); k >= 0 {
				rest := b[off+k+len(idKey) : i]
				if e := bytes.IndexByte(rest, ','); e >= 0 {
					m.id, _ = strconv.ParseInt(string(rest[:e]), 10, 64)
				}
			}
			out = append(out, m)
		}
		off = i + 8 + j
	}
}

// parseText reads "b SEQ UNIXNANO".
func parseText(b []byte) (msg, bool) {
	f := bytes.Fields(b)
	if len(f) != 3 || string(f[0]) != "b" {
		return msg{}, false
	}
	seq, err1 := strconv.Atoi(string(f[1]))
	ts, err2 := strconv.ParseInt(string(f[2]), 10, 64)
	if err1 != nil || err2 != nil {
		return msg{}, false
	}
	return msg{seq: seq, ts: ts}, true
}
