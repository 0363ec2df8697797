package chat

import (
	"context"
	"sort"
	"sync"

	"pollchat/store"
)

// Created rooms (issue 15.1) are made by the backend API and kept in the
// store (store.CreatedRooms); the rooms of Config.Rooms stay the static
// public set. Every process keeps a copy of the created rooms, loaded at
// start and reloaded when another process changes them (ControlRooms);
// their membership of joined users is the engine's, as for static rooms.
// A private created room is visible to its listed members only: only they
// join it, read its history, send to it, or get its events.

// createdRooms is the process's copy of the created rooms.
type createdRooms struct {
	cr *store.CreatedRooms // nil: the store keeps no records

	mu    sync.RWMutex
	info  map[string]store.CreatedRoom
	rooms map[string]*room
}

// RoomRegistry changes the created rooms for the backend API, so that a
// change reaches this process's members and every other process.
type RoomRegistry struct{ s *Service }

// RoomAdmin returns the registry of created rooms, or nil when the store
// keeps no records.
func (s *Service) RoomAdmin() *RoomRegistry {
	if s.created.cr == nil {
		return nil
	}
	return &RoomRegistry{s: s}
}

// RoomInfo is what hello says of a created room.
type RoomInfo struct {
	Title   string `json:"title"`
	Private bool   `json:"private"`
}

func (s *Service) initCreated(st store.Store) {
	s.created.info = map[string]store.CreatedRoom{}
	s.created.rooms = map[string]*room{}
	if rec, ok := st.(store.Records); ok {
		s.created.cr = store.NewCreatedRooms(rec)
		s.reloadRooms()
	}
}

// reloadRooms reads the created rooms from the store.
func (s *Service) reloadRooms() {
	if s.created.cr == nil {
		return
	}
	ctx, cancel := s.storeCtx(context.Background())
	defer cancel()
	list, err := s.created.cr.Rooms(ctx)
	if err != nil {
		s.log.Warn("chat: load created rooms", "err", err)
		return
	}
	info := make(map[string]store.CreatedRoom, len(list))
	for _, r := range list {
		if _, static := s.rooms[r.Name]; !static {
			info[r.Name] = r
		}
	}
	s.created.mu.Lock()
	s.created.info = info
	for name := range s.created.rooms {
		if _, ok := info[name]; !ok {
			delete(s.created.rooms, name)
		}
	}
	s.created.mu.Unlock()
}

// setRoom keeps one changed room (deleted: gone) and tells the others.
func (s *Service) setRoom(r store.CreatedRoom, deleted bool) {
	s.created.mu.Lock()
	if deleted {
		delete(s.created.info, r.Name)
		delete(s.created.rooms, r.Name)
	} else {
		s.created.info[r.Name] = r
	}
	s.created.mu.Unlock()
	s.broadcast(Control{Kind: ControlRooms})
}

// createdRoom returns a created room and its *room.
func (s *Service) createdRoom(name string) (store.CreatedRoom, *room, bool) {
	s.created.mu.RLock()
	info, ok := s.created.info[name]
	r := s.created.rooms[name]
	s.created.mu.RUnlock()
	if !ok {
		return store.CreatedRoom{}, nil, false
	}
	if r == nil {
		s.created.mu.Lock()
		if r = s.created.rooms[name]; r == nil {
			r = &room{name: name, engine: s.engine, errs: s.errs}
			s.created.rooms[name] = r
		}
		s.created.mu.Unlock()
	}
	return info, r, true
}

// lookupRoom returns a static or created room, or nil.
func (s *Service) lookupRoom(name string) *room {
	if r := s.rooms[name]; r != nil {
		return r
	}
	_, r, _ := s.createdRoom(name)
	return r
}

// roomFor returns a room that c may use: static rooms and public created
// ones for everyone, private ones for their members only (others get
// NOT_FOUND, as for a room that does not exist).
func (s *Service) roomFor(c Caller, name string) (*room, error) {
	if r := s.rooms[name]; r != nil {
		return r, nil
	}
	info, r, ok := s.createdRoom(name)
	if !ok || (info.Private && (c.Guest || !info.IsMember(c.ID))) {
		return nil, Errorf(CodeNotFound, "no room %q", name)
	}
	return r, nil
}

// roomsFor returns the names of the rooms c may join (static first, then
// created ones by name) and what hello says of the created ones.
func (s *Service) roomsFor(c Caller) ([]string, map[string]RoomInfo) {
	names := append([]string{}, s.roomNames...)
	info := map[string]RoomInfo{}
	s.created.mu.RLock()
	var created []string
	for name, r := range s.created.info {
		if r.Private && (c.Guest || !r.IsMember(c.ID)) {
			continue
		}
		created = append(created, name)
		title := r.Title
		if title == "" {
			title = name
		}
		info[name] = RoomInfo{Title: title, Private: r.Private}
	}
	s.created.mu.RUnlock()
	sort.Strings(created)
	return append(names, created...), info
}

// allRooms returns every room this process knows, static and created.
func (s *Service) allRooms() []*room {
	out := make([]*room, 0, len(s.roomNames))
	for _, name := range s.roomNames {
		out = append(out, s.rooms[name])
	}
	s.created.mu.RLock()
	names := make([]string, 0, len(s.created.info))
	for name := range s.created.info {
		names = append(names, name)
	}
	s.created.mu.RUnlock()
	for _, name := range names {
		if _, r, ok := s.createdRoom(name); ok {
			out = append(out, r)
		}
	}
	return out
}

// SaveRoom creates a room (created false: it existed, and is answered as
// stored).
func (rr *RoomRegistry) SaveRoom(ctx context.Context, room store.CreatedRoom) (store.CreatedRoom, bool, error) {
	got, created, err := rr.s.created.cr.SaveRoom(ctx, room)
	if err == nil && created {
		rr.s.setRoom(got, false)
	}
	return got, created, err
}

// AddMembers adds members to a created room.
func (rr *RoomRegistry) AddMembers(ctx context.Context, name string, users ...string) (store.CreatedRoom, bool, error) {
	got, found, err := rr.s.created.cr.AddMembers(ctx, name, users...)
	if err == nil && found {
		rr.s.setRoom(got, false)
	}
	return got, found, err
}

// RemoveMembers removes members from a created room; of a private room
// they also leave (no more events).
func (rr *RoomRegistry) RemoveMembers(ctx context.Context, name string, users ...string) (store.CreatedRoom, bool, error) {
	got, found, err := rr.s.created.cr.RemoveMembers(ctx, name, users...)
	if err != nil || !found {
		return got, found, err
	}
	rr.s.setRoom(got, false)
	if got.Private {
		if _, r, ok := rr.s.createdRoom(name); ok {
			for _, u := range users {
				if r.remove(u) {
					rr.s.roomUserEvent("user_left", r, u, ctx)
				}
			}
		}
	}
	return got, found, nil
}

// DeleteRoom deletes a created room; its members leave it.
func (rr *RoomRegistry) DeleteRoom(ctx context.Context, name string) (bool, error) {
	_, r, ok := rr.s.createdRoom(name)
	found, err := rr.s.created.cr.DeleteRoom(ctx, name)
	if err != nil || !found {
		return found, err
	}
	if ok {
		for _, u := range append([]string(nil), r.snapshot()...) {
			r.remove(u)
		}
	}
	rr.s.setRoom(store.CreatedRoom{Name: name}, true)
	return true, nil
}

// Rooms returns every created room.
func (rr *RoomRegistry) Rooms(ctx context.Context) ([]store.CreatedRoom, error) {
	return rr.s.created.cr.Rooms(ctx)
}
