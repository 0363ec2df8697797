package store

import (
	"context"
	"sync"
	"time"
)

// groupCommit is the one group commit of both stores: callers hand it
// writes, and a writer goroutine takes one, gathers every other write already
// waiting (up to max), and commits them together in one transaction and one
// fsync. Throughput grows with the number of callers while each caller still
// waits until its write is durable.
//
// The channel is unbuffered, so a write is taken only by a running writer:
// after stop, submit fails with ErrClosed and nothing is left behind.
type groupCommit[T any] struct {
	in     chan T
	max    int         // a batch stops gathering once it weighs max
	weight func(T) int // how much of max an item takes; nil means 1
	// linger, when positive, lets a batch that is smaller than the previous
	// one wait up to this long for the callers of the previous commit to
	// come back, so that a steady crowd keeps sharing one fsync. A lone
	// caller (previous batch of one) never waits.
	linger time.Duration
	commit func(batch []T)
	quit   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once

	// inline (one writer only, no linger): a submit that finds no commit
	// running commits its item itself, on its own goroutine, with every
	// other write waiting then, instead of handing it to the writer and
	// waiting for it: two goroutine switches fewer per commit when one
	// caller (chat's committer) brings the writes. Whoever commits holds
	// running; a submit that finds it held hands its item to the writer,
	// which commits it next, with the rest that gathered meanwhile.
	inline  bool
	running sync.Mutex
	own     []T // the batch of a submit that commits (guarded by running)
}

func newGroupCommit[T any](max int, weight func(T) int, commit func(batch []T)) *groupCommit[T] {
	return &groupCommit[T]{in: make(chan T), max: max, weight: weight, commit: commit, quit: make(chan struct{})}
}

// start runs n writers; several writers commit several batches at once
// (the MySQL store's Writers option).
func (g *groupCommit[T]) start(n int) {
	for i := 0; i < n; i++ {
		g.wg.Add(1)
		go g.run()
	}
}

// submit hands item to a writer. It fails with ErrClosed after stop, or with
// ctx's error when ctx ends first; then the item was not taken.
func (g *groupCommit[T]) submit(ctx context.Context, item T) error {
	if g.inline && g.running.TryLock() {
		defer g.running.Unlock()
		select {
		case <-g.quit:
			return ErrClosed
		default:
		}
		g.own, _ = g.gather(append(g.own[:0], item), g.size(item))
		g.commit(g.own)
		clear(g.own)
		return nil
	}
	select {
	case g.in <- item:
		return nil
	case <-g.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop lets the commit in progress finish and ends the writers; it is
// idempotent.
func (g *groupCommit[T]) stop() {
	g.once.Do(func() {
		close(g.quit)
		g.wg.Wait()
		if g.inline {
			// Waits for a submit committing its own batch; later ones see
			// quit (or find running held for good).
			g.running.Lock()
		}
	})
}

// gather adds to batch (weighing n) the writes waiting now, until it
// weighs max; it returns the batch and its weight.
func (g *groupCommit[T]) gather(batch []T, n int) ([]T, int) {
	for n < g.max {
		select {
		case item := <-g.in:
			batch = append(batch, item)
			n += g.size(item)
		default:
			return batch, n
		}
	}
	return batch, n
}

func (g *groupCommit[T]) size(item T) int {
	if g.weight == nil {
		return 1
	}
	return g.weight(item)
}

func (g *groupCommit[T]) run() {
	defer g.wg.Done()
	batch := make([]T, 0, g.max)
	prev := 0
	var timer *time.Timer
	for {
		select {
		case item := <-g.in:
			if g.inline {
				g.running.Lock()
			}
			var n int
			batch, n = g.gather(append(batch[:0], item), g.size(item))
			if g.linger > 0 && n < prev && n < g.max {
				if timer == nil {
					timer = time.NewTimer(g.linger)
				} else {
					timer.Reset(g.linger)
				}
			linger:
				for n < prev && n < g.max {
					select {
					case item := <-g.in:
						batch = append(batch, item)
						n += g.size(item)
					case <-timer.C:
						break linger
					}
				}
				timer.Stop()
			}
			prev = n
			g.commit(batch)
			clear(batch)
			if g.inline {
				g.running.Unlock()
			}
		case <-g.quit:
			return
		}
	}
}
