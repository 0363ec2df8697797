package chat

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"pollchat/bridge"
)

// Command is a parsed room command: "/mute NAME_OR_ID MINUTES",
// "/unmute NAME_OR_ID", "/help".
type Command struct {
	Name     string        // "mute", "unmute", "help", or what was typed
	Target   string        // a user id or name (quotes removed)
	Duration time.Duration // for mute
}

// MaxMute is the longest mute a command may give.
const MaxMute = 30 * 24 * time.Hour

// ParseCommand parses text starting with "/". A mute's length is whole
// minutes ("10") or a Go duration ("30s", "2h"). Errors are usage messages
// for the caller.
func ParseCommand(text string) (Command, error) {
	text = strings.TrimSpace(text)
	if !strings.HasPrefix(text, "/") {
		return Command{}, Errorf(CodeBadRequest, "not a command")
	}
	// Words are split at any white space (a tab or a no-break space
	// typed on a phone as well as a space).
	name, rest := text[1:], ""
	if i := strings.IndexFunc(name, unicode.IsSpace); i >= 0 {
		name, rest = name[:i], name[i:]
	}
	name = strings.ToLower(name)
	rest = strings.TrimSpace(rest)
	cmd := Command{Name: name}
	switch name {
	case "help":
		return cmd, nil
	case "unmute":
		cmd.Target = unquote(rest)
		if cmd.Target == "" {
			return cmd, Errorf(CodeBadRequest, "usage: /unmute NAME_OR_ID")
		}
		return cmd, nil
	case "mute":
		i := strings.LastIndexFunc(rest, unicode.IsSpace)
		if i < 0 {
			return cmd, Errorf(CodeBadRequest, "usage: /mute NAME_OR_ID MINUTES")
		}
		_, n := utf8.DecodeRuneInString(rest[i:])
		cmd.Target = unquote(strings.TrimSpace(rest[:i]))
		d, err := parseMuteLength(rest[i+n:])
		if err != nil || cmd.Target == "" {
			return cmd, Errorf(CodeBadRequest, "usage: /mute NAME_OR_ID MINUTES (a whole number of minutes, or a length like 30s or 2h, up to 30 days)")
		}
		cmd.Duration = d
		return cmd, nil
	default:
		return cmd, Errorf(CodeBadRequest, "unknown command /%s; /help lists the commands", name)
	}
}

func parseMuteLength(s string) (time.Duration, error) {
	var d time.Duration
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > int(MaxMute/time.Minute) {
			return 0, strconv.ErrRange
		}
		d = time.Duration(n) * time.Minute
	} else {
		v, err := time.ParseDuration(s)
		if err != nil {
			return 0, err
		}
		d = v
	}
	if d < time.Second || d > MaxMute {
		return 0, strconv.ErrRange
	}
	return d, nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		s = s[1 : len(s)-1]
	}
	return strings.TrimSpace(s)
}

func rank(role string) int {
	switch role {
	case bridge.RoleOwner:
		return 3
	case bridge.RoleAdmin:
		return 2
	case bridge.RoleMod:
		return 1
	}
	return 0
}

// command runs a room command; feedback goes to the caller as system_message.
func (s *Service) command(ctx context.Context, c Caller, r *room, text string) error {
	me := s.me(ctx, c)
	lang := s.langOf(c)
	tell := func(msg string) { s.hub.Publish(c.ID, "", systemEvent(r.name, msg)) }
	cmd, err := ParseCommand(text)
	if cmd.Name == "help" {
		tell(sysText(lang, txtHelp))
		return nil
	}
	if (cmd.Name == "mute" || cmd.Name == "unmute") && !me.CanModerate() {
		tell(sysText(lang, txtOnlyMods, cmd.Name))
		return Errorf(CodeForbidden, "only moderators can use /%s", cmd.Name)
	}
	if err != nil {
		tell(AsError(err).Message)
		return nil
	}
	target, ok := s.resolveTarget(ctx, r, cmd.Target)
	if !ok {
		tell(sysText(lang, txtNoUser, cmd.Target, r.name))
		return nil
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	s.mutes.op.Lock()
	defer s.mutes.op.Unlock()
	switch cmd.Name {
	case "mute":
		if target.ID == c.ID {
			tell(sysText(lang, txtNoSelfMute))
			return nil
		}
		if rank(target.Role) >= rank(me.Role) {
			tell(sysText(lang, txtCantMute, target.Name))
			return Errorf(CodeForbidden, "cannot mute a user whose role is not below yours")
		}
		if _, err := s.applyMute(sctx, c.ID, r, target.ID, cmd.Duration); err != nil {
			return err
		}
		tell(sysText(lang, txtMuted, target.Name, r.name, humanIn(lang, int(cmd.Duration/time.Second))))
	case "unmute":
		// The same ranks as for /mute: a muted moderator cannot lift their
		// own mute, nor one of a user ranked as high as them.
		if target.ID == c.ID {
			tell(sysText(lang, txtNoSelfUnmute))
			return Errorf(CodeForbidden, "cannot unmute yourself")
		}
		if rank(target.Role) >= rank(me.Role) {
			tell(sysText(lang, txtCantUnmute, target.Name))
			return Errorf(CodeForbidden, "cannot unmute a user whose role is not below yours")
		}
		found, err := s.applyUnmute(sctx, r, target.ID)
		if err != nil {
			return err
		}
		if !found {
			tell(sysText(lang, txtNotMuted, target.Name, r.name))
			return nil
		}
		tell(sysText(lang, txtUnmuted, target.Name, r.name))
	}
	return nil
}

// resolveTarget finds a user by id, then by name among the room's members
// and muted users.
func (s *Service) resolveTarget(ctx context.Context, r *room, q string) (bridge.User, bool) {
	if u, ok := s.User(ctx, q); ok {
		return u, true
	}
	ids := append([]string(nil), r.snapshot()...)
	for _, m := range s.mutes.list(r.name, s.now()) {
		ids = append(ids, m.UserID)
	}
	var found []bridge.User
	for _, u := range s.Users(ctx, ids) {
		if strings.EqualFold(u.Name, q) {
			found = append(found, u)
		}
	}
	if len(found) == 0 {
		// Not in the room: anyone who used the chat since start-up.
		var seen []string
		s.callers.Range(func(k, _ any) bool {
			seen = append(seen, k.(string))
			return len(seen) < 10000
		})
		for _, u := range s.Users(ctx, seen) {
			if strings.EqualFold(u.Name, q) {
				found = append(found, u)
			}
		}
	}
	if len(found) == 1 {
		return found[0], true
	}
	return bridge.User{}, false
}
