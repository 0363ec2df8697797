package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"pollchat/bridge"
	"pollchat/chat"
)

// params reads a request's parameters from the query string, a
// form-encoded body or a JSON object body: the same names everywhere.
type params struct {
	ctx  *fasthttp.RequestCtx
	body map[string]string // from a JSON body
	err  *chat.Error       // a repeated or malformed parameter
}

func newParams(ctx *fasthttp.RequestCtx) *params {
	p := &params{ctx: ctx}
	p.checkRepeats(ctx.QueryArgs())
	if ctx.IsPost() {
		p.checkRepeats(ctx.PostArgs())
		p.checkBoth(ctx.PostArgs().Has)
	}
	if ctx.IsPost() && bytes.HasPrefix(ctx.Request.Header.ContentType(), []byte("application/json")) {
		var m map[string]json.RawMessage
		if body := ctx.PostBody(); len(bytes.TrimSpace(body)) > 0 {
			if err := json.Unmarshal(body, &m); err != nil {
				p.err = chat.Errorf(chat.CodeBadRequest, "the body is not a JSON object")
				return p
			}
			// These errors are answered after the identity is read from
			// the body, so they say what is wrong (not AUTH_FAILED).
			if k, dup := repeatedKey(body); dup && p.err == nil {
				p.err = chat.Errorf(chat.CodeBadRequest, "parameter %q is given more than once", k)
			}
		}
		if len(m) > MaxParams && p.err == nil {
			p.err = chat.Errorf(chat.CodeBadRequest, "%d parameters; the limit is %d", len(m), MaxParams)
		}
		p.checkBoth(func(k string) bool { _, ok := m[k]; return ok })
		p.body = make(map[string]string, len(m))
		for k, v := range m {
			var s string
			if json.Unmarshal(v, &s) == nil {
				p.body[k] = s
				continue
			}
			v = bytes.TrimSpace(v)
			switch {
			case len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9'), string(v) == "true", string(v) == "false":
				p.body[k] = string(v)
			case string(v) == "null":
			default:
				// Arrays and objects are read by the handlers that take them.
				p.body[k] = string(v)
			}
		}
	}
	return p
}

// MaxParams bounds the parameters of one query string or form body: no
// endpoint takes more than a dozen, and the repeat check below compares
// each with the others (quadratic, so the bound keeps it cheap).
const MaxParams = 64

// checkRepeats refuses a parameter given twice: which one counts would be
// a guess, and a guess is how request smuggling starts.
func (p *params) checkRepeats(args *fasthttp.Args) {
	if p.err != nil || args.Len() < 2 {
		return
	}
	if args.Len() > MaxParams {
		p.err = chat.Errorf(chat.CodeBadRequest, "%d parameters; the limit is %d", args.Len(), MaxParams)
		return
	}
	// The keys' bytes belong to args and stay put while it is walked: no
	// copies (this runs on every poll).
	var seen [16][]byte
	keys := seen[:0]
	for k := range args.All() {
		for _, s := range keys {
			if bytes.Equal(s, k) {
				p.err = chat.Errorf(chat.CodeBadRequest, "parameter %q is given more than once", s)
				return
			}
		}
		keys = append(keys, k)
	}
}

// repeatedKey finds a key given twice in a JSON object (encoding/json
// keeps the last one silently).
func repeatedKey(body []byte) (string, bool) {
	d := json.NewDecoder(bytes.NewReader(body))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return "", false
	}
	seen := make(map[string]bool, 16)
	for n := 0; d.More() && n <= MaxParams; n++ {
		t, err := d.Token()
		if err != nil {
			return "", false
		}
		k, _ := t.(string)
		if seen[k] {
			return k, true
		}
		seen[k] = true
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			return "", false
		}
	}
	return "", false
}

// repeatedKeyDeep finds a key given twice in any object of a JSON value
// (the backend API's bodies nest: data). Malformed JSON is left to the
// decoder, which says what is wrong.
func repeatedKeyDeep(body []byte) (string, bool) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	type frame struct {
		keys  map[string]bool // nil for an array
		inKey bool            // an object expecting a key next
	}
	var stack []frame
	for {
		t, err := d.Token()
		if err != nil {
			return "", false
		}
		if n := len(stack); n > 0 && stack[n-1].keys != nil && stack[n-1].inKey {
			if k, ok := t.(string); ok {
				if stack[n-1].keys[k] {
					return k, true
				}
				stack[n-1].keys[k] = true
				stack[n-1].inKey = false
				continue
			}
		}
		switch t {
		case json.Delim('{'):
			stack = append(stack, frame{keys: map[string]bool{}, inKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: the object around it expects a key next.
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].inKey = true
		}
		if len(stack) == 0 {
			return "", false
		}
	}
}

// checkBoth refuses a query parameter that the body gives too: which one
// counts would be a guess, as with a repeated one.
func (p *params) checkBoth(inBody func(string) bool) {
	if p.err != nil {
		return
	}
	for k := range p.ctx.QueryArgs().All() {
		if inBody(string(k)) {
			p.err = chat.Errorf(chat.CodeBadRequest, "parameter %q is given in both the URL and the body", k)
			return
		}
	}
}

// getBytes returns the raw value of name (nil when absent); the bytes
// belong to the request.
func (p *params) getBytes(name string) []byte {
	if p.body != nil {
		if v, ok := p.body[name]; ok {
			return []byte(v)
		}
	}
	args := p.ctx.QueryArgs()
	if p.ctx.IsPost() {
		if pa := p.ctx.PostArgs(); pa.Has(name) {
			args = pa
		}
	}
	if !args.Has(name) {
		return nil
	}
	v := args.Peek(name)
	if v == nil {
		return []byte{}
	}
	return v
}

// get returns a copy of the value of name ("" when absent).
func (p *params) get(name string) string {
	return string(p.getBytes(name))
}

// int64 parses an optional integer parameter; absent gives def.
func (p *params) int64(name string, def int64) (int64, *chat.Error) {
	v := p.getBytes(name)
	if len(v) == 0 {
		return def, nil
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, chat.Errorf(chat.CodeBadRequest, "parameter %q must be a whole number", name)
	}
	return n, nil
}

// bool parses 1/0/true/false/yes/no.
func (p *params) bool(name string) (bool, bool, *chat.Error) {
	v := strings.ToLower(string(p.getBytes(name)))
	switch v {
	case "":
		return false, false, nil
	case "1", "true", "yes", "on":
		return true, true, nil
	case "0", "false", "no", "off":
		return false, true, nil
	}
	return false, false, chat.Errorf(chat.CodeBadRequest, "parameter %q must be 1 or 0", name)
}

// identity verifies the caller: a token, else id + timestamp + hash.
func (s *Server) identity(p *params) (chat.Caller, *chat.Error) {
	idn, token, err := s.verify(p.getBytes)
	switch {
	case err == errNoIdentity:
		return chat.Caller{}, chat.Errorf(chat.CodeAuthFailed, "no identity: send id, timestamp and hash, or token")
	case err != nil && token:
		s.verifier.LogRefusal(err, "", "path", string(p.ctx.Path()))
		return chat.Caller{}, authError(err)
	case err != nil:
		s.verifier.LogRefusal(err, string(p.getBytes("id")), "path", string(p.ctx.Path()))
		return chat.Caller{}, authError(err)
	case token:
		// The claims are signed by the host, but they are shown to other
		// users: the same limits as the eStreamChat name and thumbUrl below.
		return callerWith(chat.Caller{ID: idn.UserID, With: idn.With}, idn.Name, idn.AvatarURL), nil
	}
	// eStreamChat pages pass the user's name and picture unsigned; they are
	// used only when the directory knows nothing better.
	return callerWith(chat.Caller{ID: idn.UserID}, string(p.getBytes("name")), string(p.getBytes("thumbUrl"))), nil
}

// errNoIdentity is verify's answer to parameters with no identity at all.
var errNoIdentity = errors.New("no identity")

// verify checks the identity among a request's parameters (get): a token
// (token true), else id, timestamp and hash; errNoIdentity when there is
// neither. Signatures only: no network. identity uses it for every call,
// uploader on an upload's query string before its body arrives.
func (s *Server) verify(get func(string) []byte) (idn bridge.Identity, token bool, err error) {
	if tok := get("token"); len(tok) > 0 {
		idn, err = s.verifier.VerifyToken(string(tok))
		return idn, true, err
	}
	id, ts, hash := get("id"), get("timestamp"), get("hash")
	if id == nil && ts == nil && hash == nil {
		return bridge.Identity{}, false, errNoIdentity
	}
	idn, err = s.verifier.VerifyHashBytes(id, ts, hash)
	return idn, false, err
}

// callerWith sets the caller's fallback name (plain text, at most 100
// characters) and picture (http, https or site-relative, at most 512
// bytes); values outside those limits are dropped, not refused.
func callerWith(c chat.Caller, name, avatar string) chat.Caller {
	if len(name) > 0 && len(name) <= 400 {
		if clean, err := chat.CleanText(name, 100); err == nil {
			c.Name = clean
		}
	}
	if len(avatar) > 0 && len(avatar) <= 512 && safeURL(avatar) {
		c.AvatarURL = avatar
	}
	return c
}

func authError(err error) *chat.Error {
	if errors.Is(err, bridge.ErrTokenExpired) {
		return chat.Errorf(chat.CodeTokenExpired, "the identity has expired; reload the page to get a fresh one")
	}
	return chat.Errorf(chat.CodeAuthFailed, "the identity does not verify")
}

// safeURL accepts http(s) and site-relative URLs only (no javascript:).
func safeURL(u string) bool {
	return strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") ||
		(strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//"))
}
