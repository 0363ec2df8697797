package chat

// A scoped token (the popup chat page's, Caller.With set) may act only in
// the conversation with one user: read it, write to it, see the peer's
// presence and typing. Everything else is FORBIDDEN, and its polls carry
// only that conversation's events.
//
// Every event goes into the streams with a conversation key beside its
// bytes (the memory ring keeps it in the entry, the Redis stream as a
// field), so a scoped poll skips the events of other conversations by
// comparing two strings, never by parsing the JSON.

// Conversation keys. A direct conversation's key is the same for both
// users (the two ids in order), so one event appended to both streams
// carries one key. Events of no conversation (system texts, requests,
// mutes) have the empty key, which no scope keeps.
func directKey(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return "d:" + a + "\x00" + b
}

func roomKey(room string) string { return "r:" + room }

func presenceKey(user string) string { return "p:" + user }

// keyOf is the key of a message or read event: its room's, or the direct
// conversation's of from and to (none when from is empty: a system text).
func keyOf(from, to, room string) string {
	switch {
	case room != "":
		return roomKey(room)
	case from == "" || to == "":
		return ""
	}
	return directKey(from, to)
}

// scopeFilter returns what a poll of c keeps: nil (everything) for an
// unscoped caller, else the events of the conversation with c.With and the
// peer's presence.
func scopeFilter(c Caller) func(key string) bool {
	if c.With == "" {
		return nil
	}
	conv, pres := directKey(c.ID, c.With), presenceKey(c.With)
	return func(key string) bool { return key == conv || key == pres }
}

// Scope says whether c may call endpoint ("send", "history", ...) with
// the parameters got returns ("to", "with", "room", "system"); a scoped
// caller may send, type and upload to their peer, read and mark read the
// conversation with them, and say hello, poll and look up users.
func (c Caller) Scope(endpoint string, get func(name string) string) *Error {
	if c.With == "" {
		return nil
	}
	switch endpoint {
	case "hello", "poll", "users":
		return nil
	case "send", "typing", "upload":
		if get("to") == c.With && get("room") == "" {
			return nil
		}
	case "history", "read":
		if get("with") == c.With && get("room") == "" && get("system") == "" {
			return nil
		}
	}
	return Errorf(CodeForbidden, "this token is limited to the conversation with %s", c.With)
}

// scopeHello keeps only the scoped conversation in a hello answer.
func scopeHello(res *HelloResult, c Caller) {
	convs := res.Conversations[:0]
	for _, cv := range res.Conversations {
		if cv.With == c.With {
			convs = append(convs, cv)
		}
	}
	res.Conversations = convs
	res.Requests = res.Requests[:0]
	res.Rooms = []string{}
	res.RoomInfo = map[string]RoomInfo{}
	online := res.Online[:0]
	for _, u := range res.Online {
		if u == c.With {
			online = append(online, u)
		}
	}
	res.Online = online
}
