package chat

import (
	"context"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

func TestWordMask(t *testing.T) {
	t.Parallel()
	m := newWordMask([]string{"darn", " heck ", "dang it", "dang", "дурак", "c++", "naïve", "a-b", "bc"})
	cases := []struct{ in, want string }{
		{"darn", "****"},
		{"Darn it, what the HECK!", "**** it, what the ****!"},
		{"darned heckle undarn", "darned heckle undarn"},
		{"oh dang it all", "oh ******* all"},
		{"dang itself", "**** itself"}, // the phrase is not whole, the word is
		{"(darn)/heck.", "(****)/****."},
		{"darn_it darn2 2darn", "darn_it darn2 2darn"},
		{"ты дурак!", "ты *****!"},
		{"ДУРАК", "*****"},
		{"дураки", "дураки"},
		{"I like c++ a lot", "I like *** a lot"},
		{"c++c", "***c"}, // "+" ends the word, so what follows does not matter
		{"xc++", "xc++"},
		{"NAÏVE idea", "***** idea"},
		{"a-bc", "a-**"}, // a-b is not whole here, bc is
		{"", ""},
		{"nothing to see", "nothing to see"},
		{"darndarn darn", "darndarn ****"},
	}
	for _, tc := range cases {
		if got := m.mask(tc.in); got != tc.want {
			t.Errorf("mask(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
	var none *wordMask
	if got := none.mask("darn"); got != "darn" {
		t.Errorf("nil mask(%q) = %q; want it unchanged", "darn", got)
	}
	if m := newWordMask([]string{" ", ""}); m != nil {
		t.Errorf("newWordMask(blank words) = %v; want nil", m)
	}
}

// FuzzWordMask: masking never panics, keeps the text's length in
// characters, and changes characters only into asterisks.
func FuzzWordMask(f *testing.F) {
	for _, s := range []string{"darn", "ты дурак!", "c++c", "a-bc", "dang itself", "\xff\xfedarn", "Darn DARN darn_"} {
		f.Add(s)
	}
	m := newWordMask([]string{"darn", "dang it", "дурак", "c++", "a-b", "bc", "ǅ"})
	f.Fuzz(func(t *testing.T, in string) {
		if !utf8.ValidString(in) {
			return // CleanText refuses invalid UTF-8 before masking
		}
		out := m.mask(in)
		ri, ro := []rune(in), []rune(out)
		if len(ri) != len(ro) {
			t.Fatalf("mask(%q) = %q: %d characters; want %d", in, out, len(ro), len(ri))
		}
		for i := range ri {
			if ro[i] != ri[i] && ro[i] != '*' {
				t.Fatalf("mask(%q) = %q: character %d became %q", in, out, i, ro[i])
			}
		}
	})
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	var clock sync.Mutex
	at := func(t time.Time) { clock.Lock(); now = t; clock.Unlock() }
	e := NewMemoryEngine(MemoryConfig{Now: func() time.Time { clock.Lock(); defer clock.Unlock(); return now }})
	l := limiter{engine: e, errs: &engineErrors{}, rate: 2, burst: 3} // 2 a second, burst 3
	start := now
	for i := 0; i < 3; i++ {
		if err := l.allow("u"); err != nil {
			t.Fatalf("allow #%d in the burst = %v; want nil", i, err)
		}
	}
	err := l.allow("u")
	if e := AsError(err); err == nil || e.Code != CodeRateLimited || e.RetryAfter != 1 {
		t.Fatalf("allow past the burst = %v; want RATE_LIMITED with retry_after 1", err)
	}
	if err := l.allow("v"); err != nil {
		t.Fatalf("another user = %v; want nil", err)
	}
	at(start.Add(500 * time.Millisecond))
	if err := l.allow("u"); err != nil {
		t.Fatalf("allow after half a second at rate 2 = %v; want nil", err)
	}
	if err := l.allow("u"); err == nil {
		t.Fatal("second allow in the same instant = nil; want RATE_LIMITED")
	}
	// A long pause refills to the burst, not beyond.
	at(start.Add(time.Hour))
	for i := 0; i < 3; i++ {
		if err := l.allow("u"); err != nil {
			t.Fatalf("allow #%d after a pause = %v", i, err)
		}
	}
	if err := l.allow("u"); err == nil {
		t.Fatal("the bucket refilled past its burst")
	}
	if n := e.buckets.size(); n != 2 {
		t.Fatalf("%d buckets; want 2 (u and v)", n)
	}
	e.buckets.Sweep(start.Add(2 * time.Hour)) // both refilled long ago: forgotten
	if n := e.buckets.size(); n != 0 {
		t.Fatalf("after sweep %d buckets; want 0", n)
	}
	off := limiter{engine: e, errs: &engineErrors{}, rate: 0, burst: 1}
	for i := 0; i < 100; i++ {
		if err := off.allow("u"); err != nil {
			t.Fatalf("rate 0 allow = %v; want nil (off)", err)
		}
	}
}

// TestServiceTake: a call the server answers itself (/v1/hide) draws from
// the caller's one bucket, which sends share.
func TestServiceTake(t *testing.T) {
	svc := newTestService(t, Config{Rate: 0.001, Burst: 2})
	c := Caller{ID: "1"}
	if err := svc.Take(c, CostRead); err != nil {
		t.Fatalf("Take #1 = %v; want nil", err)
	}
	if err := svc.Take(c, CostRead); err != nil {
		t.Fatalf("Take #2 = %v; want nil", err)
	}
	err := svc.Take(c, CostRead)
	if e, ok := err.(*Error); !ok || e.Code != CodeRateLimited {
		t.Fatalf("Take #3 = %v; want RATE_LIMITED", err)
	}
	if _, err := svc.Send(context.Background(), c, SendParams{To: "2", Text: "x"}); err == nil {
		t.Fatal("Send after the bucket was drained by Take = nil; want RATE_LIMITED")
	}
	if err := svc.Take(Caller{ID: "2"}, CostRead); err != nil {
		t.Fatalf("Take by another user = %v; want nil", err)
	}
}
