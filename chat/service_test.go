package chat

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"pollchat/bridge"
	"pollchat/store"
)

// newTestService runs the chat package in-process, as the binary does in
// one process: the memory engine, the embedded store in t.TempDir() and a
// static directory of users 1, 2 and 3.
func newTestService(t testing.TB, cfg Config) *Service {
	t.Helper()
	st, err := store.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := bridge.NewDirectory(bridge.NewStaticSource([]bridge.User{
		{ID: "1", Name: "Ann", Role: bridge.RoleMember},
		{ID: "2", Name: "Bob", Role: bridge.RoleMember},
		{ID: "3", Name: "Cy", Role: bridge.RoleAdmin},
	}), bridge.DirectoryConfig{})
	svc, err := New(cfg, st, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(); st.Close() })
	return svc
}

// hello says hello as id and returns the cursor.
func hello(t *testing.T, svc *Service, id string) string {
	t.Helper()
	res, err := svc.Hello(context.Background(), Caller{ID: id})
	if err != nil {
		t.Fatalf("Hello(%s) = %v", id, err)
	}
	return res.Cursor
}

// eventTypes polls id from cursor without waiting and returns the types of
// the events and the next cursor.
func eventTypes(t *testing.T, svc *Service, id, cursor string) ([]string, string) {
	t.Helper()
	res := svc.Poll(Caller{ID: id}, cursor, 0, nil)
	var types []string
	for _, ev := range res.Events {
		var e struct{ Type string }
		if err := json.Unmarshal(ev, &e); err != nil {
			t.Fatalf("event %s: %v", ev, err)
		}
		types = append(types, e.Type)
	}
	return types, res.Cursor
}

func TestServiceNeedsNoEngine(t *testing.T) {
	svc := newTestService(t, Config{})
	if _, ok := svc.Hub().Engine().(*MemoryEngine); !ok {
		t.Fatalf("engine = %T; want *MemoryEngine for a Config without one", svc.Hub().Engine())
	}
	if err := svc.Healthy(context.Background()); err != nil {
		t.Fatalf("Healthy = %v", err)
	}
	_ = time.Second
}
