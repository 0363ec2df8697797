package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"
	"time"

	"pollchat/bridge"
	"pollchat/chat"
	"pollchat/cluster"
	"pollchat/config"
	"pollchat/files"
	"pollchat/server"
	"pollchat/store"
)

// app is the running parts. closers holds what start made, in the order
// it made it; both a failed start and shutdown close them last first, so
// nothing is used after it closed (the service's reaper stops before the
// store closes) and nothing a failed start made leaks.
type app struct {
	log     *slog.Logger
	srv     *server.Server
	served  chan error
	closers []closer
}

type closer struct {
	name  string
	close func(ctx context.Context) error
}

// owns adds a part to close at shutdown (or when start fails).
func (a *app) owns(name string, close func(ctx context.Context) error) {
	a.closers = append(a.closers, closer{name, close})
}

// closeAll closes every part, last made first.
func (a *app) closeAll(ctx context.Context) {
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i].close(ctx); err != nil {
			a.log.Warn("pollchat: close", "part", a.closers[i].name, "err", err)
		}
	}
	a.closers = nil
}

// openStore opens the configured store.
func openStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	switch cfg.Store.Driver {
	case "mysql":
		return store.OpenMySQL(ctx, cfg.Store.DSN, cfg.Store.TablePrefix, store.MySQLOptions{})
	default:
		return store.OpenEmbeddedWith(cfg.Store.Path, store.EmbeddedOptions{Engine: cfg.Store.Engine})
	}
}

func start(cfg *config.Config, log *slog.Logger) (_ *app, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := &app{log: log, served: make(chan error, 1)}
	defer func() {
		if err != nil {
			a.closeAll(context.Background())
		}
	}()
	noErr := func(f func()) func(context.Context) error { return func(context.Context) error { f(); return nil } }

	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store (store.driver = %q): %w", cfg.Store.Driver, err)
	}
	a.owns("store", func(context.Context) error { return st.Close() })
	src, err := bridge.NewSource(cfg.Users)
	if err != nil {
		return nil, err
	}
	if c, ok := src.(bridge.Closer); ok {
		a.owns("users source", func(context.Context) error { return c.Close() })
	}
	// A host that is down at start-up is reported, not fatal: pollchat
	// serves what it can and the directory recovers by itself.
	if err := bridge.CheckSource(ctx, src, 10*time.Second); err != nil {
		log.Warn("users: the user source is not working; starting anyway", "source", cfg.Users.Source, "err", cfg.RedactError(err))
	}
	dcfg := bridge.DirectoryConfigFor(cfg.Users)
	dcfg.Log = log
	dir := bridge.NewDirectory(src, dcfg)
	verifier, err := bridge.NewVerifier(cfg.Auth)
	if err != nil {
		return nil, err
	}
	var engine chat.Engine // nil: the memory engine, one process
	if cfg.Cluster.RedisURL != "" {
		r, err := cluster.Open(ctx, cfg.Cluster.RedisURL, cluster.Options{
			MaxLen: int64(cfg.Chat.Buffer), Grace: cfg.Presence.Grace.Duration, PollMax: cfg.Server.PollMax.Duration, Log: log})
		if err != nil {
			return nil, fmt.Errorf("cluster.redis_url: %w", err)
		}
		a.owns("cluster", func(context.Context) error { return r.Close() })
		engine = r
	}
	svc, err := chat.New(chat.Config{
		Engine:          engine,
		Rooms:           cfg.Chat.Rooms,
		AutoJoin:        cfg.Chat.AutoJoinRoom(),
		MaxLength:       cfg.Chat.MaxLength,
		History:         cfg.Chat.History,
		Rate:            cfg.Chat.RateLimit(),
		Burst:           cfg.Chat.Burst,
		Buffer:          cfg.Chat.Buffer,
		RoomEventsLimit: cfg.Chat.RoomEventsLimit,
		Grace:           cfg.Presence.Grace.Duration,
		BannedWords:     cfg.Chat.BannedWords,
		RequireKnown:    cfg.Users.Source != "static" && !cfg.Users.AllowUnknown,
		Log:             log,
		NoticeDelay:     noticeDelay(cfg),
	}, st, dir)
	if err != nil {
		return nil, err
	}
	a.owns("chat", noErr(svc.Close))
	srv, err := server.New(cfg, svc, svc, verifier, log)
	if err != nil {
		return nil, err
	}
	srv.SetDirectory(dir)
	ns, err := startNotices(cfg, st, svc, dir, log)
	if err != nil {
		return nil, err
	}
	if ns != nil {
		a.owns("notices", noErr(ns.Close))
	}
	if cfg.Files.Enabled {
		blobs, err := openBlobs(cfg, st)
		if err != nil {
			return nil, err
		}
		if c, ok := blobs.(interface{ Close() error }); ok {
			a.owns("files", func(context.Context) error { return c.Close() })
		}
		if err := srv.SetFiles(blobs); err != nil {
			return nil, fmt.Errorf("files: %w", err)
		}
	}
	releaseStartGarbage()
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return nil, fmt.Errorf("server.listen %q: %w", cfg.Server.Listen, err)
	}
	a.srv = srv
	go func() { a.served <- srv.Serve(ln) }()
	// Shutdown answers parked polls and waits for open requests, before
	// the service and the store close.
	a.owns("server", srv.Shutdown)
	if p, ok := st.(store.Pruner); ok && cfg.Store.KeepDays > 0 {
		pr := startPruner(p, time.Duration(cfg.Store.KeepDays)*24*time.Hour, log)
		a.owns("pruner", noErr(pr.close))
	}
	if cfg.Files.Enabled {
		sw := startEvery(10*time.Minute, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			n, err := srv.SweepFiles(ctx)
			if err != nil {
				log.Warn("files: sweep failed", "err", err)
			} else if n > 0 {
				log.Info("files: removed files whose message is gone", "count", n)
			}
		})
		a.owns("files sweep", noErr(sw.close))
	}
	log.Info("pollchat: listening", "addr", ln.Addr().String(), "public_url", cfg.Server.PublicURL,
		"store", cfg.Store.Driver, "users", cfg.Users.Source, "demo", cfg.Demo.Enabled)
	if cfg.Demo.Enabled {
		log.Info("pollchat: demo page at " + cfg.Server.PublicURL + "/demo")
	}
	return a, nil
}

// openBlobs is where attachments' bytes live: with the MySQL store, in
// MySQL (every process of a cluster reads what another stored, and one
// backup holds everything); with the embedded store, under files.path.
func openBlobs(cfg *config.Config, st store.Store) (files.Blobs, error) {
	if m, ok := st.(*store.MySQL); ok {
		return m.Blobs(), nil
	}
	d, err := files.NewDir(cfg.Files.Path)
	if err != nil {
		return nil, fmt.Errorf("files.path %q: %w", cfg.Files.Path, err)
	}
	return d, nil
}

// every runs f at once and then every interval, in one goroutine that
// close stops and waits for.
type every struct {
	stop chan struct{}
	done chan struct{}
}

// releaseStartGarbage collects what building the parts left behind and
// gives it back to the OS before the first request. Compressing the assets
// at start-up (server.loadAssets: brotli at its best level) allocates about
// 300 MB of encoder buffers, kept alive for one more collection by
// fasthttp's writer pool; left alone, the first collection's heap goal is
// set by them and the process idles at 66-220 MB resident (39 MB after
// this), which is also the baseline the parked benchmark measures its
// per-poll memory from. Two collections: the first moves the pool to its
// victim cache, the second (FreeOSMemory's) frees it and returns the pages.
func releaseStartGarbage() {
	runtime.GC()
	debug.FreeOSMemory()
}

func startEvery(interval time.Duration, f func()) *every {
	e := &every{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(e.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			f()
			select {
			case <-t.C:
			case <-e.stop:
				return
			}
		}
	}()
	return e
}

func (e *every) close() {
	close(e.stop)
	<-e.done
}

// pruner deletes messages older than keep, in small batches, every 10
// minutes, in one goroutine that close stops and waits for.
type pruner struct {
	stop chan struct{}
	done chan struct{}
}

func startPruner(p store.Pruner, keep time.Duration, log *slog.Logger) *pruner {
	pr := &pruner{stop: make(chan struct{}), done: make(chan struct{})}
	go pr.run(p, keep, log)
	return pr
}

func (pr *pruner) close() {
	close(pr.stop)
	<-pr.done
}

func (pr *pruner) run(p store.Pruner, keep time.Duration, log *slog.Logger) {
	defer close(pr.done)
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		total := 0
		for i := 0; i < 100; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			n, err := p.Prune(ctx, time.Now().Add(-keep), 500)
			cancel()
			if err != nil {
				log.Warn("store: prune failed", "err", err)
				break
			}
			total += n
			if n < 500 {
				break
			}
		}
		if total > 0 {
			log.Info("store: pruned old messages", "count", total)
		}
		select {
		case <-t.C:
		case <-pr.stop:
			return
		}
	}
}

// shutdown closes every part, last made first: parked polls are answered
// and open requests finish, then the service stops and the store closes;
// nothing acknowledged is lost.
func (a *app) shutdown(ctx context.Context) { a.closeAll(ctx) }
