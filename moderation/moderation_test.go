package moderation

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"pollchat/store"
)

// Events carry moderators' reasons and room names: each must be valid JSON
// and safe inside a JSONP answer whatever they hold.
func TestEventsAreSafeJSON(t *testing.T) {
	hostile := "</script><b>\"'\\\u2028\x01"
	until := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		ev   []byte
		want map[string]any
	}{
		{deletedEvent(42, "room", hostile), map[string]any{"type": "message_deleted", "id": 42.0, "room": hostile}},
		{deletedEvent(7, "with", "3"), map[string]any{"type": "message_deleted", "id": 7.0, "with": "3"}},
		{bannedEvent(store.Ban{Reason: hostile}), map[string]any{"type": "banned", "until": nil, "reason": hostile}},
		{bannedEvent(store.Ban{Until: until}), map[string]any{"type": "banned", "until": "2030-01-02T03:04:05Z", "reason": ""}},
	} {
		var got map[string]any
		if err := json.Unmarshal(tc.ev, &got); err != nil {
			t.Fatalf("event %s: %v", tc.ev, err)
		}
		if strings.ContainsAny(string(tc.ev), "<>\u2028") {
			t.Errorf("event %s is not safe in a script", tc.ev)
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(tc.want)
		if string(gj) != string(wj) {
			t.Errorf("event = %s; want %s", gj, wj)
		}
	}
}
