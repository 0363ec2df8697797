package server

import (
	"bytes"
	"encoding/json"
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
	}
	if ctx.IsPost() && bytes.HasPrefix(ctx.Request.Header.ContentType(), []byte("application/json")) {
		var m map[string]json.RawMessage
		if body := ctx.PostBody(); len(bytes.TrimSpace(body)) > 0 {
			if err := json.Unmarshal(body, &m); err != nil {
				p.err = chat.Errorf(chat.CodeBadRequest, "the body is not a JSON object")
				return p
			}
		}
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

// checkRepeats refuses a parameter given twice: which one counts would be
// a guess, and a guess is how request smuggling starts.
func (p *params) checkRepeats(args *fasthttp.Args) {
	if p.err != nil || args.Len() < 2 {
		return
	}
	var seen [16]string
	keys := seen[:0]
	for k := range args.All() {
		for _, s := range keys {
			if s == string(k) {
				p.err = chat.Errorf(chat.CodeBadRequest, "parameter %q is given more than once", s)
				return
			}
		}
		keys = append(keys, string(k))
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
	if tok := p.getBytes("token"); len(tok) > 0 {
		idn, err := s.verifier.VerifyToken(string(tok))
		if err != nil {
			return chat.Caller{}, authError(err)
		}
		return chat.Caller{ID: idn.UserID, Name: idn.Name, AvatarURL: idn.AvatarURL}, nil
	}
	id, ts, hash := p.getBytes("id"), p.getBytes("timestamp"), p.getBytes("hash")
	if id == nil && ts == nil && hash == nil {
		return chat.Caller{}, chat.Errorf(chat.CodeAuthFailed, "no identity: send id, timestamp and hash, or token")
	}
	idn, err := s.verifier.VerifyHash(string(id), string(ts), string(hash))
	if err != nil {
		return chat.Caller{}, authError(err)
	}
	c := chat.Caller{ID: idn.UserID}
	// eStreamChat pages pass the user's name and picture unsigned; they are
	// used only when the directory knows nothing better.
	if n := p.getBytes("name"); len(n) > 0 && len(n) <= 100 {
		if clean, err := chat.CleanText(string(n), 100); err == nil {
			c.Name = clean
		}
	}
	if t := p.getBytes("thumbUrl"); len(t) > 0 && len(t) <= 512 && safeURL(string(t)) {
		c.AvatarURL = string(t)
	}
	return c, nil
}

func authError(err error) *chat.Error {
	if err == bridge.ErrTokenExpired {
		return chat.Errorf(chat.CodeTokenExpired, "the identity has expired; reload the page to get a fresh one")
	}
	return chat.Errorf(chat.CodeAuthFailed, "the identity does not verify")
}

// safeURL accepts http(s) and site-relative URLs only (no javascript:).
func safeURL(u string) bool {
	return strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") ||
		(strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//"))
}
