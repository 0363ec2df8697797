package chat

import (
	"sync"
	"time"
)

// Parked polls time out on a coarse grid rather than on a runtime timer
// each. A runtime timer per poll fires on its own: with 15,000 users
// arriving at random moments that is 600 wake-ups a second of an idle
// process, each waking a thread and starting a goroutine (bench: 311 µs of
// CPU per idle re-poll, mostly the scheduler). The grid rounds each
// deadline up to the next tick (gridTick) and one goroutine fires a tick's
// polls together, so a wake-up ends a batch; the clients' own spread keeps
// the batches small. A timeout ends at most gridTick late.
const gridTick = 250 * time.Millisecond

// grid holds the deadlines of one shard's parked polls: per tick, a list
// threaded through the waiters (no allocation per poll).
type grid struct {
	mu    sync.Mutex
	ticks map[int64]*waiter // tick → first waiter of its list
	done  int64             // the last tick fired
}

// tickOf returns the grid tick of t (ticks since the hub's epoch).
func (h *Hub) tickOf(t time.Time) int64 { return int64(t.Sub(h.epoch) / gridTick) }

// schedule puts w on its shard's grid to time out after d.
func (h *Hub) schedule(w *waiter, d time.Duration) {
	g := &w.sh.grid
	at := h.tickOf(time.Now().Add(d + gridTick - 1))
	g.mu.Lock()
	if at <= g.done {
		at = g.done + 1
	}
	w.tick = at
	w.prev = nil
	w.next = g.ticks[at]
	if w.next != nil {
		w.next.prev = w
	}
	g.ticks[at] = w
	g.mu.Unlock()
}

// unschedule takes w off its grid, if it is on it.
func (h *Hub) unschedule(w *waiter) {
	g := &w.sh.grid
	g.mu.Lock()
	if w.tick != 0 {
		if w.prev != nil {
			w.prev.next = w.next
		} else if w.next != nil {
			g.ticks[w.tick] = w.next
		} else {
			delete(g.ticks, w.tick)
		}
		if w.next != nil {
			w.next.prev = w.prev
		}
		w.tick, w.prev, w.next = 0, nil, nil
	}
	g.mu.Unlock()
}

// due takes off g every waiter whose tick has come, appending them to out.
func (g *grid) due(now int64, out []*waiter) []*waiter {
	g.mu.Lock()
	for ; g.done < now; g.done++ {
		t := g.done + 1
		for w := g.ticks[t]; w != nil; {
			next := w.next
			w.tick, w.prev, w.next = 0, nil, nil
			out = append(out, w)
			w = next
		}
		delete(g.ticks, t)
	}
	g.mu.Unlock()
	return out
}

// ticker fires the grid's due polls every gridTick until the hub closes.
func (h *Hub) ticker() {
	t := time.NewTicker(gridTick)
	defer t.Stop()
	var due []*waiter
	for {
		select {
		case <-h.closed:
			return
		case now := <-t.C:
			tick := h.tickOf(now)
			for i := range h.shards {
				due = h.shards[i].grid.due(tick, due[:0])
				for _, w := range due {
					w.fire(endTimeout)
				}
			}
			clear(due)
		}
	}
}

// Task is work for the hub's workers.
type Task interface{ Run() }

// Runner runs tasks somewhere other than the hub's workers (see
// Hub.ParkOn): the server's event loops run the ends of the polls parked
// on their connections, a batch per wake-up rather than a goroutine hop
// per poll. Go must not wait for t to run.
type Runner interface{ Go(Task) }

// workers runs tasks (ending parked polls and what their callbacks do
// next: writing the answer, serving the connection's next request) on
// long-lived goroutines, whose stacks have grown once, instead of a fresh
// goroutine per task. A task is handed to an idle worker when there is
// one and to a new worker otherwise, so a slow task never delays
// another; a worker idle for workerIdle, or when the hub has closed,
// ends.
type workers struct {
	tasks  chan Task
	closed <-chan struct{}
}

const workerIdle = 10 * time.Second

func (p *workers) run(t Task) {
	select {
	case p.tasks <- t:
	default:
		go p.work(t)
	}
}

func (p *workers) work(t Task) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		t.Run()
		idle.Reset(workerIdle)
		select {
		case t = <-p.tasks:
		case <-idle.C:
			return
		case <-p.closed:
			return
		}
	}
}
