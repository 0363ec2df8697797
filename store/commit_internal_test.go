package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// A batch stops gathering at max (counted by weight), every item is committed
// once, and after stop submit fails with ErrClosed.
func TestGroupCommitBatches(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]int{}
	var over []int
	g := newGroupCommit(10, func(g []int) int { return len(g) }, func(batch [][]int) {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, items := range batch {
			n += len(items)
			for _, v := range items {
				seen[v]++
			}
		}
		// Gathering stops once the batch weighs max: only its last item
		// may take it over.
		if n-len(batch[len(batch)-1]) >= 10 {
			over = append(over, n)
		}
	})
	g.start(2)
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := g.submit(context.Background(), []int{3 * i, 3*i + 1, 3*i + 2}); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	g.stop()
	g.stop() // idempotent
	mu.Lock()
	defer mu.Unlock()
	if len(over) > 0 {
		t.Errorf("batches weighed %v; want under 10 before their last item", over)
	}
	for v := 0; v < 600; v++ {
		if seen[v] != 1 {
			t.Fatalf("item %d committed %d times; want 1", v, seen[v])
		}
	}
	if err := g.submit(context.Background(), []int{1}); !errors.Is(err, ErrClosed) {
		t.Errorf("submit after stop = %v; want ErrClosed", err)
	}
}

// With linger, a batch smaller than the previous one waits for the callers
// to come back; a lone caller never waits (its previous batch was one).
func TestGroupCommitLinger(t *testing.T) {
	committed := make(chan []int, 3)
	g := newGroupCommit(100, func(g []int) int { return len(g) }, func(batch [][]int) {
		var flat []int
		for _, items := range batch {
			flat = append(flat, items...)
		}
		committed <- flat
	})
	g.linger = time.Hour // long enough that only the weight ends the wait
	g.start(1)
	defer g.stop()
	ctx := context.Background()
	g.submit(ctx, []int{0}) // batch 1: weight 1, nothing before it: no wait
	if got := <-committed; len(got) != 1 {
		t.Fatalf("batch 1 = %v; want [0]", got)
	}
	g.submit(ctx, []int{1, 2, 3}) // batch 2: weight 3, more than before: no wait
	if got := <-committed; len(got) != 3 {
		t.Fatalf("batch 2 = %v; want [1 2 3]", got)
	}
	for i := 4; i < 7; i++ { // batch 3 waits until it weighs 3 again
		go g.submit(ctx, []int{i})
	}
	if got := <-committed; len(got) != 3 {
		t.Fatalf("batch 3 = %v; want the three items together", got)
	}
}

// Inline: a submit that finds no commit running commits on its own
// goroutine (here no writer even runs for the first one), commits never
// overlap, every item is committed once, and stop waits for a commit in
// progress; after it submit fails with ErrClosed.
func TestGroupCommitInline(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]int{}
	var running, overlaps int
	g := newGroupCommit(8, nil, func(batch []int) {
		mu.Lock()
		running++
		if running > 1 {
			overlaps++
		}
		mu.Unlock()
		time.Sleep(100 * time.Microsecond) // a commit's fsync
		mu.Lock()
		for _, v := range batch {
			seen[v]++
		}
		running--
		mu.Unlock()
	})
	g.inline = true
	if err := g.submit(context.Background(), -1); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if seen[-1] != 1 {
		t.Fatalf("item committed %d times with no writer running; want 1 (committed by its submit)", seen[-1])
	}
	mu.Unlock()
	g.start(1)
	var wg sync.WaitGroup
	for i := 0; i < 400; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := g.submit(context.Background(), i); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	g.stop()
	mu.Lock()
	defer mu.Unlock()
	if overlaps > 0 || running != 0 {
		t.Errorf("commits overlapped %d times (running at stop %d); want never", overlaps, running)
	}
	for v := 0; v < 400; v++ {
		if seen[v] != 1 {
			t.Fatalf("item %d committed %d times; want 1", v, seen[v])
		}
	}
	if err := g.submit(context.Background(), 1); !errors.Is(err, ErrClosed) {
		t.Errorf("submit after stop = %v; want ErrClosed", err)
	}
}
