package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"pollchat/config"
)

// Control is a message from one process to the others (cache
// invalidations), sent through Engine.Control. It is read from Redis, so
// Decode trusts nothing: every user id meets config.ValidUserID.
//
// The wire forms, kept from the string messages they replace so that
// processes of the previous version understand them during a rolling
// restart: "mutes", "blocks:ID", "caller:{json}", "invalidate:ID,ID".
type Control struct {
	Kind ControlKind
	// Users: the user whose block list changed (ControlBlocks, one), the
	// users to drop from caches (ControlInvalidate, one or more).
	Users []string
	// Caller is what an identity said of a user the site does not know
	// (ControlCaller).
	Caller CallerInfo
}

// ControlKind says what a Control asks.
type ControlKind uint8

// The kinds of control message.
const (
	// ControlMutes: the mutes changed; reload them from the store.
	ControlMutes ControlKind = iota + 1
	// ControlBlocks: Users[0]'s block list changed; reload it.
	ControlBlocks
	// ControlCaller: a user known from their identity alone (Caller).
	ControlCaller
	// ControlInvalidate: drop Users from the directory's cache and end
	// their parked polls (the backend API's users/invalidate).
	ControlInvalidate
	// ControlRooms: the created rooms changed; reload them from the store.
	ControlRooms
)

// CallerInfo is what an identity said of its user.
type CallerInfo struct {
	ID        string `json:"user_id"`
	Name      string `json:"name"`
	AvatarURL string `json:"avatar_url,omitempty"`
}

// ErrBadControl is returned by Decode for a message it does not understand.
var ErrBadControl = errors.New("chat: bad control message")

var controlNames = [...]string{ControlMutes: "mutes", ControlBlocks: "blocks", ControlCaller: "caller", ControlInvalidate: "invalidate", ControlRooms: "rooms"}

// Encode returns the wire form of c.
func (c Control) Encode() ([]byte, error) {
	switch c.Kind {
	case ControlMutes, ControlRooms:
		return []byte(controlNames[c.Kind]), nil
	case ControlBlocks, ControlInvalidate:
		if len(c.Users) == 0 || (c.Kind == ControlBlocks && len(c.Users) != 1) {
			return nil, fmt.Errorf("%w: %s needs user ids", ErrBadControl, controlNames[c.Kind])
		}
		for _, u := range c.Users {
			if err := config.ValidUserID(u); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrBadControl, err)
			}
		}
		return []byte(controlNames[c.Kind] + ":" + strings.Join(c.Users, ",")), nil
	case ControlCaller:
		if err := config.ValidUserID(c.Caller.ID); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadControl, err)
		}
		b, err := json.Marshal(c.Caller)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadControl, err)
		}
		return append([]byte("caller:"), b...), nil
	}
	return nil, fmt.Errorf("%w: kind %d", ErrBadControl, c.Kind)
}

// DecodeControl parses a control message's wire form.
func DecodeControl(b []byte) (Control, error) {
	kind, arg, hasArg := strings.Cut(string(b), ":")
	bad := func(why string) (Control, error) {
		return Control{}, fmt.Errorf("%w: %s", ErrBadControl, why)
	}
	switch kind {
	case "mutes", "rooms":
		if hasArg {
			return bad(kind + " takes no argument")
		}
		if kind == "rooms" {
			return Control{Kind: ControlRooms}, nil
		}
		return Control{Kind: ControlMutes}, nil
	case "blocks", "invalidate":
		k := ControlBlocks
		if kind == "invalidate" {
			k = ControlInvalidate
		}
		ids := strings.Split(arg, ",")
		if k == ControlBlocks && len(ids) != 1 {
			return bad("blocks takes one user id")
		}
		for _, id := range ids {
			if err := config.ValidUserID(id); err != nil {
				return bad(kind + ": " + err.Error())
			}
		}
		return Control{Kind: k, Users: ids}, nil
	case "caller":
		var ci CallerInfo
		if err := json.Unmarshal([]byte(arg), &ci); err != nil {
			return bad("caller: " + err.Error())
		}
		if err := config.ValidUserID(ci.ID); err != nil {
			return bad("caller: " + err.Error())
		}
		return Control{Kind: ControlCaller, Caller: ci}, nil
	}
	return bad("unknown kind")
}
