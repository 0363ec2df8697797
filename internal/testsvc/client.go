package testsvc

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Client talks to a pollchat server as a browser would, signing identities
// with a secret (Secret unless set).
type Client struct {
	Base   string
	Secret string
	HTTP   *http.Client
}

// NewClient returns a client for the server at base (http://127.0.0.1:PORT).
func NewClient(base string) *Client {
	return &Client{Base: base, Secret: Secret, HTTP: &http.Client{Timeout: 90 * time.Second}}
}

// Timestamp is the legacy-hash timestamp of t (UTC).
func Timestamp(t time.Time) string { return t.UTC().Format("060102150405") }

// SHA1Hex is lowercase hex SHA1 of the concatenation of parts.
func SHA1Hex(parts ...string) string {
	h := sha1.New()
	for _, p := range parts {
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Ident returns the legacy identity params of uid signed now.
func (c *Client) Ident(uid string) url.Values {
	ts := Timestamp(time.Now())
	return url.Values{"id": {uid}, "timestamp": {ts}, "hash": {SHA1Hex(uid, ts, c.Secret)}}
}

// Token returns an HS256 token for uid expiring after ttl, with extra claims.
func (c *Client) Token(uid any, ttl time.Duration, extra map[string]any) string {
	claims := jwt.MapClaims{"user_id": uid, "exp": time.Now().Add(ttl).Unix()}
	for k, v := range extra {
		claims[k] = v
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(c.Secret))
	if err != nil {
		panic(err)
	}
	return s
}

// Response is a raw answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test on error.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
}

// Map decodes the body as an object.
func (r *Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// ErrorCode returns error.code of an error answer ("" if none).
func (r *Response) ErrorCode() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// Do sends GET path?params (or POST form when post is set).
func (c *Client) Do(t testing.TB, method, path string, params url.Values) *Response {
	t.Helper()
	r, err := c.DoErr(method, path, params)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// DoErr is Do returning the error instead of failing.
func (c *Client) DoErr(method, path string, params url.Values) (*Response, error) {
	var req *http.Request
	var err error
	if method == http.MethodPost {
		req, err = http.NewRequest(method, c.Base+path, strings.NewReader(params.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		u := c.Base + path
		if len(params) > 0 {
			u += "?" + params.Encode()
		}
		req, err = http.NewRequest(method, u, nil)
	}
	if err != nil {
		return nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// Call sends GET /v1/endpoint as uid with params and returns the answer.
func (c *Client) Call(t testing.TB, uid, endpoint string, params ...string) *Response {
	t.Helper()
	v := c.Ident(uid)
	for i := 0; i+1 < len(params); i += 2 {
		v.Set(params[i], params[i+1])
	}
	return c.Do(t, http.MethodGet, "/v1/"+endpoint, v)
}

// MustCall is Call failing the test unless the status is 200 without an error.
func (c *Client) MustCall(t testing.TB, uid, endpoint string, params ...string) map[string]any {
	t.Helper()
	r := c.Call(t, uid, endpoint, params...)
	if r.Status != 200 || r.ErrorCode() != "" {
		t.Fatalf("%s as %s %v = %d %s", endpoint, uid, params, r.Status, r.Body)
	}
	return r.Map(t)
}

// Poller follows one user's stream, always returning its cursor.
type Poller struct {
	C      *Client
	UID    string
	Cursor string
}

// NewPoller starts a stream for uid with hello.
func (c *Client) NewPoller(t testing.TB, uid string) *Poller {
	t.Helper()
	m := c.MustCall(t, uid, "hello")
	return &Poller{C: c, UID: uid, Cursor: m["cursor"].(string)}
}

// PollResult is one poll answer.
type PollResult struct {
	Cursor string            `json:"cursor"`
	Events []json.RawMessage `json:"events"`
	Reset  bool              `json:"reset"`
}

// Poll polls once with the given timeout in seconds.
func (p *Poller) Poll(t testing.TB, timeout float64) PollResult {
	t.Helper()
	r := p.C.Call(t, p.UID, "poll", "cursor", p.Cursor, "timeout", fmt.Sprint(timeout))
	if r.Status != 200 {
		t.Fatalf("poll as %s = %d %s", p.UID, r.Status, r.Body)
	}
	var res PollResult
	r.JSON(t, &res)
	p.Cursor = res.Cursor
	return res
}

// Event is a decoded event.
type Event map[string]any

// Type is the event's type.
func (e Event) Type() string { s, _ := e["type"].(string); return s }

// Events decodes a poll result's events.
func (r PollResult) Decoded(t testing.TB) []Event {
	t.Helper()
	out := make([]Event, len(r.Events))
	for i, raw := range r.Events {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			t.Fatalf("event %s: %v", raw, err)
		}
	}
	return out
}

// WaitFor polls until an event satisfying match arrives or about timeout
// passes (bounded), returning it; events seen before it are returned too.
func (p *Poller) WaitFor(t testing.TB, timeout time.Duration, match func(Event) bool) (Event, []Event) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var seen []Event
	for time.Now().Before(deadline) {
		left := time.Until(deadline).Seconds()
		for _, e := range p.Poll(t, min(left, 5)).Decoded(t) {
			seen = append(seen, e)
			if match(e) {
				return e, seen
			}
		}
	}
	t.Fatalf("no matching event for %s within %s; saw %v", p.UID, timeout, seen)
	return nil, seen
}
