package chat

import (
	"context"
	"pollchat/store"
	"sort"
	"time"

	"github.com/patrickmn/go-cache"
)

// MaxBlocks bounds a user's block list.
const MaxBlocks = 1000

// Block records that the caller blocks (or unblocks) other: the other's
// messages, requests and typing no longer reach the caller.
func (s *Service) Block(ctx context.Context, c Caller, other string, block bool) error {
	if other == "" || other == c.ID {
		return Errorf(CodeBadRequest, "user_id must be another user")
	}
	if err := checkUserID("user_id", other); err != nil {
		return err
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	if block {
		if _, ok := s.User(ctx, other); !ok {
			return Errorf(CodeNotFound, "no user %q", other)
		}
		if err := s.limits.allow(c.ID); err != nil {
			return err
		}
		if list := s.blocks.get(sctx, s.store, c.ID); len(list) >= MaxBlocks {
			if _, already := list[other]; !already {
				return Errorf(CodeBadRequest, "a user may block at most %d users", MaxBlocks)
			}
		}
	}
	if err := s.store.SetBlock(sctx, c.ID, other, block); err != nil {
		return storeErr(err)
	}
	s.blocks.forget(c.ID)
	s.blocks.get(sctx, s.store, c.ID)
	s.broadcast(Control{Kind: ControlBlocks, Users: []string{c.ID}})
	return nil
}

// Blocked returns the users the caller blocks.
func (s *Service) Blocked(ctx context.Context, c Caller) ([]string, error) {
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	out, err := s.store.Blocks(sctx, c.ID)
	if err != nil {
		return nil, storeErr(err)
	}
	sort.Strings(out)
	return out, nil
}

// blocks caches each user's block list (who they block).
type blocks struct {
	c *cache.Cache // user -> map[string]struct{}
}

func (b *blocks) init() { b.c = cache.New(10*time.Minute, time.Minute) }

// get returns who user blocks, reading the store on a miss. A store
// failure counts as "nobody" and is not cached.
func (b *blocks) get(ctx context.Context, st store.Store, user string) map[string]struct{} {
	if v, ok := b.c.Get(user); ok {
		return v.(map[string]struct{})
	}
	list, err := st.Blocks(ctx, user)
	if err != nil {
		return nil
	}
	var m map[string]struct{} // nil for the common "blocks nobody"
	if len(list) > 0 {
		m = make(map[string]struct{}, len(list))
		for _, u := range list {
			m[u] = struct{}{}
		}
	}
	// Kept until changed: delivery checks this cache without a store read.
	b.c.Set(user, m, cache.NoExpiration)
	return m
}

// cached says whether user's block list is in the cache (get would not
// read the store).
func (b *blocks) cached(user string) bool {
	_, ok := b.c.Get(user)
	return ok
}

func (b *blocks) getHas(ctx context.Context, st store.Store, user, other string) bool {
	_, ok := b.get(ctx, st, user)[other]
	return ok
}

// blocks says from the cache alone (no store read: it runs on delivery)
// whether user blocks other. Lists are loaded by hello and block.
func (b *blocks) blocks(user, other string) bool {
	v, ok := b.c.Get(user)
	if !ok {
		return false
	}
	_, blocked := v.(map[string]struct{})[other]
	return blocked
}

func (b *blocks) forget(user string) { b.c.Delete(user) }
