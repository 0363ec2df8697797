package server

import (
	"encoding/json"
	"strings"

	"github.com/valyala/fasthttp"

	"pollchat/chat"
)

// A token with a "with" claim (the popup chat page's) may act only in the
// conversation with that user: read it, write to it, see the peer's
// presence and typing. Everything else is FORBIDDEN, and its polls carry
// only that conversation's events.

// scopeCheck refuses what a scoped caller may not do.
func scopeCheck(ctx *fasthttp.RequestCtx, p *params, c chat.Caller) *chat.Error {
	endpoint := strings.TrimPrefix(string(ctx.Path()), "/v1/")
	switch endpoint {
	case "hello", "poll", "users":
		return nil
	case "send", "typing", "upload":
		if p.get("to") == c.With && p.get("room") == "" {
			return nil
		}
	case "history", "read":
		if p.get("with") == c.With && p.get("room") == "" && p.get("system") == "" {
			return nil
		}
	}
	return chat.Errorf(chat.CodeForbidden, "this token is limited to the conversation with %s", c.With)
}

// scopeHello keeps only the scoped conversation in a hello answer.
func scopeHello(res *chat.HelloResult, c chat.Caller) {
	convs := res.Conversations[:0]
	for _, cv := range res.Conversations {
		if cv.With == c.With {
			convs = append(convs, cv)
		}
	}
	res.Conversations = convs
	res.Requests = res.Requests[:0]
	res.Rooms = []string{}
	online := res.Online[:0]
	for _, u := range res.Online {
		if u == c.With {
			online = append(online, u)
		}
	}
	res.Online = online
}

// scopedEvent is what decides whether an event belongs to the scope.
type scopedEvent struct {
	Type    string `json:"type"`
	From    string `json:"from"`
	To      string `json:"to"`
	Room    string `json:"room"`
	By      string `json:"by"`
	With    string `json:"with"`
	UserID  string `json:"user_id"`
	Message *struct {
		From *string `json:"from"`
		To   string  `json:"to"`
		Room string  `json:"room"`
	} `json:"message"`
}

// scopeEvents keeps the events of the conversation between c.ID and c.With.
func scopeEvents(evs [][]byte, c chat.Caller) [][]byte {
	out := evs[:0:0]
	for _, raw := range evs {
		var e scopedEvent
		if json.Unmarshal(raw, &e) != nil {
			continue
		}
		keep := false
		switch e.Type {
		case "message":
			if m := e.Message; m != nil && m.Room == "" && m.From != nil {
				keep = (*m.From == c.With && m.To == c.ID) || (*m.From == c.ID && m.To == c.With)
			}
		case "typing":
			keep = e.From == c.With && e.Room == ""
		case "read":
			keep = (e.By == c.With && e.With == c.ID) || (e.By == c.ID && e.With == c.With)
		case "presence":
			keep = e.UserID == c.With
		}
		if keep {
			out = append(out, raw)
		}
	}
	return out
}
