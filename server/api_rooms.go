package server

import (
	"context"
	"errors"
	"net/url"
	"slices"

	"github.com/valyala/fasthttp"

	"pollchat/chat"
	"pollchat/store"
)

// RoomAdmin is the created rooms as the backend API changes them (issue
// 15.1). chat's registry implements it, so that a change reaches every
// process's members; without one the store's CreatedRooms are used.
type RoomAdmin interface {
	SaveRoom(ctx context.Context, room store.CreatedRoom) (store.CreatedRoom, bool, error)
	AddMembers(ctx context.Context, name string, users ...string) (store.CreatedRoom, bool, error)
	RemoveMembers(ctx context.Context, name string, users ...string) (store.CreatedRoom, bool, error)
	DeleteRoom(ctx context.Context, name string) (bool, error)
	Rooms(ctx context.Context) ([]store.CreatedRoom, error)
}

var (
	_ RoomAdmin = (*store.CreatedRooms)(nil)
	_ RoomAdmin = (*chat.RoomRegistry)(nil)
)

// roomAdmin returns chat's room registry, or the store's rooms.
func (s *Server) roomAdmin() (RoomAdmin, *chat.Error) {
	if ra := s.svc.RoomAdmin(); ra != nil {
		return ra, nil
	}
	r, err := s.records()
	if err != nil {
		return nil, err
	}
	return store.NewCreatedRooms(r), nil
}

// roomJSON is a room on the backend API.
type roomJSON struct {
	Room      string   `json:"room"`
	Title     string   `json:"title,omitempty"`
	Private   bool     `json:"private"`
	Static    bool     `json:"static,omitempty"` // one of chat.rooms
	Members   []string `json:"members"`
	CreatedAt string   `json:"created_at,omitempty"`
}

func roomOut(r store.CreatedRoom) roomJSON {
	m := r.Members
	if m == nil {
		m = []string{}
	}
	return roomJSON{Room: r.Name, Title: r.Title, Private: r.Private, Members: m, CreatedAt: r.CreatedAt.UTC().Format(chat.TimeFormat)}
}

// roomStoreError maps the store's refusals of a room change.
func roomStoreError(err error) *chat.Error {
	if errors.Is(err, store.ErrLimit) {
		return &chat.Error{Code: chat.CodeBadRequest, Message: "a room has at most 2000 members", Err: err}
	}
	return storeError(err)
}

// ids reads a list of user ids given as strings or numbers.
func ids(field string, v []any) ([]string, *chat.Error) {
	if len(v) > store.MaxRoomMembers {
		return nil, chat.Errorf(chat.CodeBadRequest, "%s: at most %d users at once", field, store.MaxRoomMembers)
	}
	out := make([]string, 0, len(v))
	for _, x := range v {
		id, ok := idString(x)
		if !ok || id == "" {
			return nil, chat.Errorf(chat.CodeBadRequest, "%s must be a list of user ids", field)
		}
		out = append(out, id)
	}
	return out, nil
}

// apiCreateRoom is POST /api/v1/rooms {room, title, private, members}:
// 201 when created, 200 with the stored room when it exists.
func (s *Server) apiCreateRoom(ctx *fasthttp.RequestCtx, rp reply) {
	var in struct {
		Room    string `json:"room"`
		Title   string `json:"title"`
		Private any    `json:"private"`
		Members []any  `json:"members"`
	}
	if err := decode(ctx, &in); err != nil {
		s.fail(rp, err)
		return
	}
	private, ok := boolish(in.Private)
	if !ok {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "private must be true or false"))
		return
	}
	if slices.Contains(s.cfg.Chat.Rooms, in.Room) {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "%q is a static room (chat.rooms); pick another name", in.Room))
		return
	}
	members, err := ids("members", in.Members)
	if err != nil {
		s.fail(rp, err)
		return
	}
	ra, aerr := s.roomAdmin()
	if aerr != nil {
		s.fail(rp, aerr)
		return
	}
	room, created, serr := ra.SaveRoom(ctx, store.CreatedRoom{Name: in.Room, Title: in.Title, Private: private, Members: members, By: "api"})
	if serr != nil {
		s.fail(rp, roomStoreError(serr))
		return
	}
	code := fasthttp.StatusOK
	if created {
		code = fasthttp.StatusCreated
	}
	rp.json(code, map[string]any{"room": roomOut(room), "created": created})
}

// boolish reads true/false, 1/0 or "true"/"1"/"false"/"0"/"" (PHP forms).
func boolish(v any) (bool, bool) {
	switch x := v.(type) {
	case nil:
		return false, true
	case bool:
		return x, true
	case string:
		switch x {
		case "1", "true", "on", "yes":
			return true, true
		case "", "0", "false", "off", "no":
			return false, true
		}
	default:
		if n, ok := idString(x); ok {
			return boolish(n)
		}
	}
	return false, false
}

// pathRoom reads the {room} of a /api/v1/rooms/{room} path.
func pathRoom(ctx *fasthttp.RequestCtx) (string, *chat.Error) {
	raw, _ := ctx.UserValue("room").(string)
	name, err := url.PathUnescape(raw)
	if err != nil || name == "" {
		return "", chat.Errorf(chat.CodeBadRequest, "the room in the path is not valid")
	}
	return name, nil
}

// apiRoomMembers is POST /api/v1/rooms/{room}/members {add, remove}.
func (s *Server) apiRoomMembers(ctx *fasthttp.RequestCtx, rp reply) {
	name, perr := pathRoom(ctx)
	if perr != nil {
		s.fail(rp, perr)
		return
	}
	var in struct {
		Add    []any `json:"add"`
		Remove []any `json:"remove"`
	}
	if err := decode(ctx, &in); err != nil {
		s.fail(rp, err)
		return
	}
	add, err := ids("add", in.Add)
	if err != nil {
		s.fail(rp, err)
		return
	}
	remove, err := ids("remove", in.Remove)
	if err != nil {
		s.fail(rp, err)
		return
	}
	if len(add)+len(remove) == 0 {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "give add or remove, a list of user ids"))
		return
	}
	ra, aerr := s.roomAdmin()
	if aerr != nil {
		s.fail(rp, aerr)
		return
	}
	var room store.CreatedRoom
	found := true
	var serr error
	if len(add) > 0 {
		room, found, serr = ra.AddMembers(ctx, name, add...)
	}
	if serr == nil && found && len(remove) > 0 {
		room, found, serr = ra.RemoveMembers(ctx, name, remove...)
	}
	if serr != nil {
		s.fail(rp, roomStoreError(serr))
		return
	}
	if !found {
		s.fail(rp, chat.Errorf(chat.CodeNotFound, "no created room %q", name))
		return
	}
	rp.json(fasthttp.StatusOK, map[string]any{"room": roomOut(room)})
}

// apiDeleteRoom is DELETE /api/v1/rooms/{room}.
func (s *Server) apiDeleteRoom(ctx *fasthttp.RequestCtx, rp reply) {
	name, perr := pathRoom(ctx)
	if perr != nil {
		s.fail(rp, perr)
		return
	}
	if slices.Contains(s.cfg.Chat.Rooms, name) {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "%q is a static room (chat.rooms): remove it from the config", name))
		return
	}
	ra, aerr := s.roomAdmin()
	if aerr != nil {
		s.fail(rp, aerr)
		return
	}
	found, err := ra.DeleteRoom(ctx, name)
	if err != nil {
		s.fail(rp, roomStoreError(err))
		return
	}
	if !found {
		s.fail(rp, chat.Errorf(chat.CodeNotFound, "no created room %q", name))
		return
	}
	rp.ok()
}

// apiRooms is GET /api/v1/rooms: the static rooms, then the created ones.
func (s *Server) apiRooms(ctx *fasthttp.RequestCtx, rp reply) {
	ra, aerr := s.roomAdmin()
	if aerr != nil {
		s.fail(rp, aerr)
		return
	}
	created, err := ra.Rooms(ctx)
	if err != nil {
		s.fail(rp, roomStoreError(err))
		return
	}
	out := make([]roomJSON, 0, len(s.cfg.Chat.Rooms)+len(created))
	for _, r := range s.cfg.Chat.Rooms {
		out = append(out, roomJSON{Room: r, Static: true, Members: []string{}})
	}
	for _, r := range created {
		out = append(out, roomOut(r))
	}
	rp.json(fasthttp.StatusOK, map[string]any{"rooms": out})
}
