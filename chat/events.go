package chat

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"pollchat/bridge"
	"pollchat/store"
)

// Events are encoded once when published and the same bytes are appended
// to every recipient's stream; a poll answer only concatenates them.

// TimeFormat is how times are written on the wire.
const TimeFormat = time.RFC3339

// AppendMessage appends the wire form of m (docs/protocol.md section 3).
func AppendMessage(b []byte, m *store.Message) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, m.ID, 10)
	b = append(b, `,"from":`...)
	if m.From == "" {
		b = append(b, "null"...)
	} else {
		b = AppendString(b, m.From)
	}
	if m.Room != "" {
		b = append(b, `,"room":`...)
		b = AppendString(b, m.Room)
	} else {
		b = append(b, `,"to":`...)
		b = AppendString(b, m.To)
	}
	b = append(b, `,"text":`...)
	b = AppendString(b, m.Text)
	b = append(b, `,"ts":"`...)
	b = m.TS.UTC().AppendFormat(b, TimeFormat)
	b = append(b, '"')
	if m.ClientID != "" {
		b = append(b, `,"client_id":`...)
		b = AppendString(b, m.ClientID)
	}
	if m.System || m.From == "" {
		b = append(b, `,"system":true`...)
	}
	if len(m.Data) > 0 && json.Valid(m.Data) {
		b = append(b, `,"data":`...)
		b = AppendSafeJSON(b, m.Data)
	}
	return append(b, '}')
}

// WireMessage marshals a message in its wire form.
type WireMessage store.Message

// MarshalJSON writes the wire form.
func (m *WireMessage) MarshalJSON() ([]byte, error) {
	return AppendMessage(make([]byte, 0, 128+len(m.Text)), (*store.Message)(m)), nil
}

const hexDigits = "0123456789abcdef"

// AppendSafeJSON appends the valid JSON value v with <, >, &, U+2028 and
// U+2029 inside its strings escaped, as AppendString does: pass-through
// values (the backend API's data) are safe in a JSONP answer too. Outside
// strings those characters cannot occur in valid JSON.
func AppendSafeJSON(b []byte, v []byte) []byte {
	if bytes.IndexAny(v, "<>&\u2028\u2029") < 0 {
		return append(b, v...)
	}
	var buf bytes.Buffer
	json.HTMLEscape(&buf, v)
	return append(b, buf.Bytes()...)
}

// AppendString appends s as a JSON string. Besides what JSON requires it
// escapes <, >, &, U+2028 and U+2029, so that a JSONP answer is safe inside
// any HTML or script context.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func messageEvent(m *store.Message) []byte {
	b := make([]byte, 0, 160+len(m.Text))
	b = append(b, `{"type":"message","message":`...)
	b = AppendMessage(b, m)
	return append(b, '}')
}

// encodeEvent marshals a small event with encoding/json (not on the hot path).
func encodeEvent(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types are encoded here; a failure is a bug.
		panic("chat: encode event: " + err.Error())
	}
	return b
}

type requestWire struct {
	From bridge.User `json:"from"`
	Text string      `json:"text"`
	TS   string      `json:"ts"`
}

func wireRequest(u bridge.User, r store.Request) requestWire {
	return requestWire{From: u, Text: r.Text, TS: r.TS.UTC().Format(TimeFormat)}
}

func chatRequestEvent(u bridge.User, r store.Request) []byte {
	return encodeEvent(struct {
		Type    string      `json:"type"`
		Request requestWire `json:"request"`
	}{"chat_request", wireRequest(u, r)})
}

func chatAnswerEvent(from string, accepted bool) []byte {
	return encodeEvent(struct {
		Type     string `json:"type"`
		From     string `json:"from"`
		Accepted bool   `json:"accepted"`
	}{"chat_answer", from, accepted})
}

func typingEvent(from, to, room string) []byte {
	return encodeEvent(struct {
		Type string `json:"type"`
		From string `json:"from"`
		To   string `json:"to,omitempty"`
		Room string `json:"room,omitempty"`
	}{"typing", from, to, room})
}

func readEvent(by, with, room string, upto int64) []byte {
	return encodeEvent(struct {
		Type string `json:"type"`
		By   string `json:"by"`
		With string `json:"with,omitempty"`
		Room string `json:"room,omitempty"`
		Upto int64  `json:"upto"`
	}{"read", by, with, room, upto})
}

func presenceEvent(user string, online bool) []byte {
	status := "offline"
	if online {
		status = "online"
	}
	return encodeEvent(struct {
		Type   string `json:"type"`
		UserID string `json:"user_id"`
		Status string `json:"status"`
	}{"presence", user, status})
}

func roomUserEvent(typ, room string, u bridge.User) []byte {
	return encodeEvent(struct {
		Type string      `json:"type"`
		Room string      `json:"room"`
		User bridge.User `json:"user"`
	}{typ, room, u})
}

func mutedEvent(m store.Mute) []byte {
	return encodeEvent(struct {
		Type      string `json:"type"`
		Room      string `json:"room"`
		UserID    string `json:"user_id"`
		Mins      int    `json:"mins"`
		ExpiresAt string `json:"expires_at"`
	}{"user_muted", m.Room, m.UserID, m.Mins, m.ExpiresAt.UTC().Format(TimeFormat)})
}

func unmutedEvent(room, user string) []byte {
	return encodeEvent(struct {
		Type   string `json:"type"`
		Room   string `json:"room"`
		UserID string `json:"user_id"`
	}{"user_unmuted", room, user})
}

func systemEvent(room, text string) []byte {
	return encodeEvent(struct {
		Type string `json:"type"`
		Room string `json:"room,omitempty"`
		Text string `json:"text"`
	}{"system_message", room, text})
}
