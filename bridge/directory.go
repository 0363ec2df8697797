package bridge

import (
	"context"
	"log/slog"
	"time"

	"github.com/patrickmn/go-cache"
	"golang.org/x/sync/singleflight"
)

// Directory answers "who is user X" from a cache in front of a Source.
type Directory struct {
	src        Source
	ttl        time.Duration
	unknownTTL time.Duration
	cache      *cache.Cache // id -> entry
	group      singleflight.Group
	log        *slog.Logger
}

type entry struct {
	user    User
	unknown bool
}

// DirectoryConfig configures a Directory.
type DirectoryConfig struct {
	// TTL of a cached user; zero means 5m.
	TTL time.Duration
	// UnknownTTL of a cached "no such user"; zero means 30s.
	UnknownTTL time.Duration
	// Log receives outage lines; nil means slog.Default().
	Log *slog.Logger
}

// NewDirectory returns a directory over src.
func NewDirectory(src Source, cfg DirectoryConfig) *Directory {
	if cfg.TTL <= 0 {
		cfg.TTL = 5 * time.Minute
	}
	if cfg.UnknownTTL <= 0 {
		cfg.UnknownTTL = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Directory{
		src:        src,
		ttl:        cfg.TTL,
		unknownTTL: cfg.UnknownTTL,
		cache:      cache.New(cfg.TTL, time.Minute),
		log:        cfg.Log,
	}
}

// Get returns one user, ErrUnknownUser, or ErrSourceDown.
func (d *Directory) Get(ctx context.Context, id string) (User, error) {
	if v, ok := d.cache.Get(id); ok {
		e := v.(entry)
		if e.unknown {
			return User{}, ErrUnknownUser
		}
		return e.user, nil
	}
	v, err, _ := d.group.Do(id, func() (any, error) {
		m, err := d.fill(ctx, []string{id})
		if err != nil {
			return nil, err
		}
		return m, nil
	})
	if err != nil {
		return User{}, err
	}
	u, ok := v.(map[string]User)[id]
	if !ok {
		return User{}, ErrUnknownUser
	}
	return u, nil
}

// GetMany returns the known users among ids (unknown ones are left out).
func (d *Directory) GetMany(ctx context.Context, ids []string) (map[string]User, error) {
	out := make(map[string]User, len(ids))
	var miss []string
	for _, id := range ids {
		if v, ok := d.cache.Get(id); ok {
			if e := v.(entry); !e.unknown {
				out[id] = e.user
			}
			continue
		}
		miss = append(miss, id)
	}
	for len(miss) > 0 {
		n := min(len(miss), 100)
		m, err := d.fill(ctx, miss[:n])
		if err != nil {
			return out, err
		}
		for id, u := range m {
			out[id] = u
		}
		miss = miss[n:]
	}
	return out, nil
}

// fill looks ids up in the source and caches the answers.
func (d *Directory) fill(ctx context.Context, ids []string) (map[string]User, error) {
	m, err := d.src.Lookup(ctx, ids)
	if err != nil {
		d.log.Warn("bridge: user source failed", "err", err)
		return nil, ErrSourceDown
	}
	for _, id := range ids {
		if u, ok := m[id]; ok {
			d.cache.Set(id, entry{user: u}, d.ttl)
		} else {
			d.cache.Set(id, entry{unknown: true}, d.unknownTTL)
		}
	}
	return m, nil
}

// Invalidate drops ids from the cache; the next lookup asks the source.
func (d *Directory) Invalidate(ids ...string) {
	for _, id := range ids {
		d.cache.Delete(id)
	}
}
