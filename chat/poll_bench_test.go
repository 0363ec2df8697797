package chat

import (
	"fmt"
	"testing"
)

// BenchmarkPollNoWait is a poll that answers at once (nothing new, no
// timeout) of one of 1,000 users known from their identity: the work
// every poll does before it parks (remember, contacts, the stream).
func BenchmarkPollNoWait(b *testing.B) {
	svc := newTestService(b, Config{})
	const users = 1000
	callers := make([]Caller, users)
	cursors := make([]string, users)
	for i := range callers {
		callers[i] = Caller{ID: fmt.Sprint(i + 1), Name: fmt.Sprint("User ", i+1)}
		cursors[i] = svc.Poll(callers[i], "", 0, nil).Cursor
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		j := i % users
		if r := svc.Poll(callers[j], cursors[j], 0, nil); r.Reset {
			b.Fatalf("reset: %+v", r)
		}
	}
}
