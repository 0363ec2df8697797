// Package bridge is pollchat's side of the host site: verifying the
// identities the site signs, and knowing the site's users (a static list,
// the site's MySQL tables, or its users-info URL) behind a cache.
package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"sort"
	"strings"
)

// Roles, from the least to the most powerful.
const (
	RoleMember = "member"
	RoleMod    = "mod"
	RoleAdmin  = "admin"
	RoleOwner  = "owner"
)

// ErrUnknownUser: the directory does not know this user id.
var ErrUnknownUser = errors.New("bridge: unknown user")

// ErrSourceDown: the host site's user source failed (and nothing was cached).
var ErrSourceDown = errors.New("bridge: user source unavailable")

// User is a host-site user as the chat shows them.
type User struct {
	ID         string
	Name       string
	AvatarURL  string
	ProfileURL string
	Role       string
	// Extra holds other fields of the source (users-info answers) that are
	// passed through to the widget unchanged.
	Extra map[string]json.RawMessage
}

// MaxURLLen bounds avatar_url and profile_url; longer ones are dropped.
const MaxURLLen = 2048

// SafeURL returns u when it is an absolute http or https URL with a host,
// or a path on the host site ("/uploads/a.png"), and "" otherwise:
// javascript:, data:, vbscript:, protocol-relative ("//evil.example") and
// other relative URLs, and any with spaces, control characters or
// backslashes, are dropped where users enter the server (every source and
// token claims), so that no client has to filter them.
func SafeURL(u string) string {
	if u == "" || len(u) > MaxURLLen {
		return ""
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return ""
		}
	}
	if u[0] == '/' {
		if len(u) > 1 && u[1] == '/' {
			return ""
		}
		return u
	}
	p, err := url.Parse(u)
	if err != nil || p.Opaque != "" || p.Host == "" {
		return ""
	}
	switch strings.ToLower(p.Scheme) {
	case "http", "https":
		return u
	}
	return ""
}

// CanModerate says whether the user's role gives moderation rights.
func (u *User) CanModerate() bool {
	return u.Role == RoleMod || u.Role == RoleAdmin || u.Role == RoleOwner
}

var reserved = map[string]bool{"user_id": true, "name": true, "avatar_url": true, "profile_url": true, "role": true}

// MarshalJSON writes the wire form of docs/protocol.md section 3: user_id, name,
// avatar_url, profile_url, role and the extra fields.
func (u User) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 128)
	b = append(b, `{"user_id":`...)
	b = appendJSONString(b, u.ID)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, u.Name)
	b = append(b, `,"avatar_url":`...)
	b = appendJSONString(b, u.AvatarURL)
	b = append(b, `,"profile_url":`...)
	b = appendJSONString(b, u.ProfileURL)
	b = append(b, `,"role":`...)
	role := u.Role
	if role == "" {
		role = RoleMember
	}
	b = appendJSONString(b, role)
	if len(u.Extra) > 0 {
		keys := make([]string, 0, len(u.Extra))
		for k := range u.Extra {
			if !reserved[k] {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := u.Extra[k]
			if !json.Valid(v) {
				continue
			}
			b = append(b, ',')
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = append(b, v...)
		}
	}
	b = append(b, '}')
	return b, nil
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// Source is where the directory gets users: the host site.
type Source interface {
	// Lookup returns the users it knows among ids (at most 100 per call);
	// an id missing from the map is unknown. An error means the source
	// failed, not that users are unknown.
	Lookup(ctx context.Context, ids []string) (map[string]User, error)
}

// Checker is implemented by sources that can check their setup at start-up
// (connect, tables and columns exist, URL answers).
type Checker interface {
	Check(ctx context.Context) error
}

// StaticSource is a fixed list of users (the embedded default's demo users).
type StaticSource struct {
	users map[string]User
}

var _ Source = (*StaticSource)(nil)

// NewStaticSource returns a source that knows exactly users.
func NewStaticSource(users []User) *StaticSource {
	m := make(map[string]User, len(users))
	for _, u := range users {
		if u.Role == "" {
			u.Role = RoleMember
		}
		u.AvatarURL, u.ProfileURL = SafeURL(u.AvatarURL), SafeURL(u.ProfileURL)
		m[u.ID] = u
	}
	return &StaticSource{users: m}
}

// Lookup returns the known users among ids.
func (s *StaticSource) Lookup(_ context.Context, ids []string) (map[string]User, error) {
	out := make(map[string]User, len(ids))
	for _, id := range ids {
		if u, ok := s.users[id]; ok {
			out[id] = u
		}
	}
	return out, nil
}

// All returns every static user, ordered by id.
func (s *StaticSource) All() []User {
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
