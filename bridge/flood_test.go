package bridge

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// floodUnknown asks d for n distinct made-up ids, 100 per GetMany as the
// users endpoint allows, and returns the live heap growth in bytes.
func floodUnknown(t *testing.T, d *Directory, from, n int) uint64 {
	t.Helper()
	ctx := ctxT(t)
	before := heapInUse()
	ids := make([]string, 0, MaxBatch)
	for i := from; i < from+n; i += MaxBatch {
		ids = ids[:0]
		for j := i; j < i+MaxBatch; j++ {
			ids = append(ids, fmt.Sprintf("flood-%032d", j))
		}
		_, _ = d.GetMany(ctx, ids)
	}
	after := heapInUse()
	if after < before {
		return 0
	}
	return after - before
}

// TestDirectoryUnknownFloodMemory: a flood of distinct unknown ids leaves
// a bounded live heap (go test -run UnknownFloodMemory -v prints it).
// Before the negative cache was bounded, 200,000 ids left +51.5 MB and
// 400,000 twice that; now the second 200,000 add about nothing.
func TestDirectoryUnknownFloodMemory(t *testing.T) {
	src := &countingSource{src: NewStaticSource(staticUsers(10))}
	const max = 50_000
	d := NewDirectory(src, DirectoryConfig{Tick: time.Millisecond, LookupsPerSecond: 1_000_000, MaxUnknown: max})
	const n = 200_000
	first := floodUnknown(t, d, 0, n)
	second := floodUnknown(t, d, n, n)
	t.Logf("distinct unknown ids: first %d: live heap +%.1f MB; next %d: +%.1f MB; %d Lookups; %d remembered",
		n, float64(first)/(1<<20), n, float64(second)/(1<<20), src.calls.Load(), d.Stats().Unknown)
	if got := d.Stats().Unknown; got > max {
		t.Fatalf("Stats().Unknown = %d after %d unknown ids; want at most MaxUnknown %d", got, 2*n, max)
	}
	if got := src.calls.Load(); got != 2*n/MaxBatch {
		t.Fatalf("Lookups = %d for %d ids in calls of %d; want %d", got, 2*n, MaxBatch, 2*n/MaxBatch)
	}
	// 50,000 remembered ids of 38 bytes take a few MB; unbounded, the
	// second flood would add as much as the first (some 50 MB).
	if second > 8<<20 {
		t.Fatalf("the second %d unknown ids grew the live heap by %d bytes; want it bounded (under 8 MB)", n, second)
	}
	// The newest unknowns are still answered from memory.
	calls := src.calls.Load()
	if _, err := d.Get(ctxT(t), fmt.Sprintf("flood-%032d", 2*n-1)); err != ErrUnknownUser || src.calls.Load() != calls {
		t.Fatalf("Get(newest unknown) = %v with %d more Lookups; want ErrUnknownUser from the cache", err, src.calls.Load()-calls)
	}
}

// gatedSource holds every Lookup until its gate opens.
type gatedSource struct {
	countingSource
	gate chan struct{}
}

func (g *gatedSource) Lookup(ctx context.Context, ids []string) (map[string]User, error) {
	<-g.gate
	return g.countingSource.Lookup(ctx, ids)
}

// TestDirectoryPendingLookupsBounded: while the source is slow, at most
// MaxPending ids wait for it; further misses fail fast, and nothing
// unbounded (goroutines, batches, requests) piles up.
func TestDirectoryPendingLookupsBounded(t *testing.T) {
	src := &gatedSource{countingSource: countingSource{src: NewStaticSource(staticUsers(10))}, gate: make(chan struct{})}
	d := NewDirectory(src, DirectoryConfig{Tick: time.Millisecond, MaxPending: 300})
	ctx := ctxT(t)
	errs := make(chan error, 10)
	for c := 0; c < 10; c++ {
		ids := make([]string, MaxBatch)
		for j := range ids {
			ids[j] = fmt.Sprintf("made-up-%d-%d", c, j)
		}
		go func() {
			_, err := d.GetMany(ctx, ids)
			errs <- err
		}()
	}
	// Three calls fill MaxPending and wait on the gated source; the other
	// seven are refused at once.
	for i := 0; i < 7; i++ {
		if err := <-errs; !errors.Is(err, ErrOverloaded) || !errors.Is(err, ErrSourceDown) {
			t.Fatalf("GetMany beyond MaxPending = %v; want ErrSourceDown wrapping ErrOverloaded", err)
		}
	}
	close(src.gate)
	for i := 0; i < 3; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("GetMany within MaxPending = %v; want nil (all unknown)", err)
		}
	}
	if s := d.Stats(); s.FetchedIDs != 300 || s.Fetches != 3 {
		t.Fatalf("Stats() = %+v; want 300 ids asked in 3 Lookups", s)
	}
}

func TestLookupLimiter(t *testing.T) {
	l := lookupLimiter{every: time.Second, burst: 3}
	for i := 0; i < 3; i++ {
		if w := l.reserve(); w != 0 {
			t.Fatalf("reserve() #%d = %v; want 0 within the burst", i+1, w)
		}
	}
	w4, w5 := l.reserve(), l.reserve()
	if w4 <= 0 || w4 > time.Second || w5 <= time.Second || w5 > 2*time.Second {
		t.Fatalf("reserve() past the burst = %v, %v; want (0,1s] and (1s,2s]", w4, w5)
	}
}
