package store

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"sort"
	"time"
)

// CreatedRooms are rooms the backend creates (issue 15.1): records of kind
// "room" keyed by name, members inside the record (sorted), so that adding
// members and the bound on their number are one atomic swap.
type CreatedRooms struct {
	r Records
	// Now stamps CreatedAt when zero; nil: time.Now.
	Now func() time.Time
}

// CreatedRoom is one room made by the backend.
type CreatedRoom struct {
	Name      string    `json:"room"`
	Title     string    `json:"title,omitempty"`
	Private   bool      `json:"private,omitempty"`
	Members   []string  `json:"members,omitempty"` // sorted, no repeats
	CreatedAt time.Time `json:"created_at"`
	By        string    `json:"by,omitempty"`
}

// MaxRoomMembers bounds the members of a created room; MaxRoomTitle its
// title in bytes.
const (
	MaxRoomMembers = 2000
	MaxRoomTitle   = 200
)

const kindRoom = "room"

// roomName is config's rule for chat.rooms, so created and static rooms
// share one namespace.
var roomName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// NewCreatedRooms returns the created rooms kept in r.
func NewCreatedRooms(r Records) *CreatedRooms { return &CreatedRooms{r: r} }

// IsMember says whether user is a member of the room.
func (c CreatedRoom) IsMember(user string) bool {
	i := sort.SearchStrings(c.Members, user)
	return i < len(c.Members) && c.Members[i] == user
}

func checkRoomName(name string) error {
	if !roomName.MatchString(name) {
		return invalid("room names are 1-64 letters, digits, - or _; got %q", name)
	}
	return nil
}

// normMembers sorts and dedups users after checking each.
func normMembers(users []string) ([]string, error) {
	out := make([]string, 0, len(users))
	for _, u := range users {
		if err := checkUserID("member", u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	sort.Strings(out)
	n := 0
	for i, u := range out {
		if i == 0 || u != out[n-1] {
			out[n] = u
			n++
		}
	}
	return out[:n], nil
}

// SaveRoom creates the room unless one with its name exists: then nothing
// changes and the stored room comes back with created false (the backend's
// POST is idempotent).
func (cr *CreatedRooms) SaveRoom(ctx context.Context, room CreatedRoom) (CreatedRoom, bool, error) {
	if err := checkRoomName(room.Name); err != nil {
		return room, false, &Error{Op: "save room", Err: err}
	}
	if err := checkText("title", room.Title, MaxRoomTitle); err != nil {
		return room, false, &Error{Op: "save room", Err: err}
	}
	ms, err := normMembers(room.Members)
	if err != nil {
		return room, false, &Error{Op: "save room", Err: err}
	}
	if len(ms) > MaxRoomMembers {
		return room, false, &Error{Op: "save room", Err: errors.Join(ErrLimit, invalid("%d members: at most %d", len(ms), MaxRoomMembers))}
	}
	room.Members = ms
	if room.CreatedAt.IsZero() {
		if cr.Now != nil {
			room.CreatedAt = cr.Now()
		} else {
			room.CreatedAt = time.Now()
		}
	}
	room.CreatedAt = room.CreatedAt.UTC()
	val, err := marshal(room)
	if err != nil {
		return room, false, &Error{Op: "save room", Err: err}
	}
	for i := 0; i < maxSwapTries; i++ {
		ok, err := cr.r.SwapRecord(ctx, kindRoom, room.Name, 0, val, 0)
		if err != nil {
			return room, false, err
		}
		if ok {
			return room, true, nil
		}
		old, found, err := cr.Room(ctx, room.Name)
		if err != nil {
			return room, false, err
		}
		if found {
			return old, false, nil
		}
	}
	return room, false, &Error{Op: "save room", Err: ErrConflict}
}

// Room returns one created room.
func (cr *CreatedRooms) Room(ctx context.Context, name string) (CreatedRoom, bool, error) {
	if checkRoomName(name) != nil {
		return CreatedRoom{}, false, nil
	}
	var room CreatedRoom
	rec, err := getJSON(ctx, cr.r, kindRoom, name, &room)
	return room, rec != nil, err
}

// DeleteRoom removes the room; found says whether it existed.
func (cr *CreatedRooms) DeleteRoom(ctx context.Context, name string) (bool, error) {
	if err := checkRoomName(name); err != nil {
		return false, &Error{Op: "delete room", Err: err}
	}
	return cr.r.DeleteRecord(ctx, kindRoom, name)
}

// Rooms returns every created room, by name.
func (cr *CreatedRooms) Rooms(ctx context.Context) ([]CreatedRoom, error) {
	var out []CreatedRoom
	err := listAll(ctx, cr.r, kindRoom, "", func(rec Record) error {
		var room CreatedRoom
		if err := json.Unmarshal(rec.Val, &room); err != nil {
			return &Error{Op: "rooms", Err: err}
		}
		out = append(out, room)
		return nil
	})
	return out, err
}

// errNoRoom stops a membership change of a room that does not exist.
var errNoRoom = errors.New("no such room")

// AddMembers adds users to the room; found is false when there is no such
// room. More than MaxRoomMembers in all is refused (ErrLimit), whole.
func (cr *CreatedRooms) AddMembers(ctx context.Context, name string, users ...string) (CreatedRoom, bool, error) {
	return cr.changeMembers(ctx, "add members", name, users, true)
}

// RemoveMembers removes users from the room; found is false when there is
// no such room.
func (cr *CreatedRooms) RemoveMembers(ctx context.Context, name string, users ...string) (CreatedRoom, bool, error) {
	return cr.changeMembers(ctx, "remove members", name, users, false)
}

func (cr *CreatedRooms) changeMembers(ctx context.Context, op, name string, users []string, add bool) (CreatedRoom, bool, error) {
	if err := checkRoomName(name); err != nil {
		return CreatedRoom{}, false, &Error{Op: op, Err: err}
	}
	change, err := normMembers(users)
	if err != nil {
		return CreatedRoom{}, false, &Error{Op: op, Err: err}
	}
	var out CreatedRoom
	err = modify(ctx, cr.r, kindRoom, name, func(cur *Record) ([]byte, int64, error) {
		if cur == nil {
			return nil, 0, errNoRoom
		}
		var room CreatedRoom
		if err := json.Unmarshal(cur.Val, &room); err != nil {
			return nil, 0, err
		}
		set := map[string]bool{}
		for _, u := range room.Members {
			set[u] = true
		}
		for _, u := range change {
			if add {
				set[u] = true
			} else {
				delete(set, u)
			}
		}
		if len(set) > MaxRoomMembers {
			return nil, 0, &Error{Op: op, Err: errors.Join(ErrLimit, invalid("%d members: at most %d", len(set), MaxRoomMembers))}
		}
		room.Members = room.Members[:0]
		for u := range set {
			room.Members = append(room.Members, u)
		}
		sort.Strings(room.Members)
		out = room
		val, err := marshal(room)
		return val, 0, err
	})
	if errors.Is(err, errNoRoom) {
		return CreatedRoom{}, false, nil
	}
	if err != nil {
		return CreatedRoom{}, false, err
	}
	return out, true, nil
}

// IsMember says whether user is a member of the created room name (false
// when there is no such room).
func (cr *CreatedRooms) IsMember(ctx context.Context, name, user string) (bool, error) {
	room, found, err := cr.Room(ctx, name)
	return found && room.IsMember(user), err
}
