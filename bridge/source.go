package bridge

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"pollchat/config"
)

// NewSource builds the user source users.source names: static (the
// [[users.static]] list), mysql (NewMySQLSource) or http (NewHTTPSource,
// or NewSearchingHTTPSource when users.http.search_url is set).
// It does no I/O; call CheckSource at start-up to learn what is wrong.
func NewSource(cfg config.Users) (Source, error) {
	switch cfg.Source {
	case "", "static":
		users := make([]User, 0, len(cfg.Static))
		for _, u := range cfg.Static {
			avatar := u.AvatarURL
			if avatar == "" && u.Email != "" {
				avatar = "https://secure.gravatar.com/avatar/" + EmailMD5(u.Email) + "?s=96&d=mm&r=g"
			}
			users = append(users, User{ID: u.UserID, Name: u.Name, AvatarURL: avatar, ProfileURL: u.ProfileURL, Role: u.Role})
		}
		return NewStaticSource(users), nil
	case "mysql":
		return NewMySQLSource(cfg.MySQL)
	case "http":
		if cfg.HTTP.SearchURL != "" {
			return NewSearchingHTTPSource(cfg.HTTP), nil
		}
		return NewHTTPSource(cfg.HTTP), nil
	default:
		return nil, fmt.Errorf("bridge: users.source: want static, mysql or http, got %q", cfg.Source)
	}
}

// DirectoryConfigFor returns the directory settings of the users config:
// users.cache_ttl, and a lookup bound a little over users.http.timeout.
func DirectoryConfigFor(cfg config.Users) DirectoryConfig {
	dc := DirectoryConfig{TTL: cfg.CacheTTL.Duration}
	if cfg.Source == "http" && cfg.HTTP.Timeout.Duration > 0 {
		dc.Timeout = cfg.HTTP.Timeout.Duration + time.Second
	}
	return dc
}

// CheckSource runs src's start-up check if it has one (Checker), bounded
// by timeout. A nil error means the source answered as configured.
func CheckSource(ctx context.Context, src Source, timeout time.Duration) error {
	c, ok := src.(Checker)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return c.Check(ctx)
}

// Closer is implemented by sources holding connections (MySQLSource).
type Closer interface {
	Close() error
}

// EmailMD5 is the Gravatar hash of an email: md5 of the trimmed, lowercased
// address, in hex.
func EmailMD5(email string) string {
	sum := md5.Sum([]byte(strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(sum[:])
}

// mapRole turns a host site's role name into a chat role.
func mapRole(r string) string {
	switch strings.ToLower(strings.TrimSpace(r)) {
	case "owner":
		return RoleOwner
	case "admin", "administrator", "superuser":
		return RoleAdmin
	case "mod", "moderator", "editor":
		return RoleMod
	default:
		return RoleMember
	}
}

func roleRank(r string) int {
	switch r {
	case RoleOwner:
		return 3
	case RoleAdmin:
		return 2
	case RoleMod:
		return 1
	}
	return 0
}
