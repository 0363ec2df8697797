package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"pollchat/bridge"
	"pollchat/chat"
	"pollchat/cluster"
	"pollchat/config"
	"pollchat/server"
	"pollchat/store"
)

// app is the running parts, in the order they are stopped.
type app struct {
	log    *slog.Logger
	srv    *server.Server
	svc    *chat.Service
	st     store.Store
	src    bridge.Source
	broker *cluster.Redis
	served chan error
	stop   chan struct{}
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

func start(cfg *config.Config, log *slog.Logger) (*app, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store (store.driver = %q): %w", cfg.Store.Driver, err)
	}
	src, err := bridge.NewSource(cfg.Users)
	if err != nil {
		st.Close()
		return nil, err
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
		st.Close()
		return nil, err
	}
	var broker *cluster.Redis
	var remote chat.Remote
	var inv server.Invalidator = dir
	if cfg.Cluster.RedisURL != "" {
		broker, err = cluster.Open(ctx, cfg.Cluster.RedisURL, cluster.Options{
			MaxLen: int64(cfg.Chat.Buffer), Grace: cfg.Presence.Grace.Duration, Log: log})
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("cluster.redis_url: %w", err)
		}
		remote = broker
		inv = clusterInvalidator{dir: dir, broker: broker}
	}
	svc, err := chat.New(chat.Config{
		Remote:          remote,
		Rooms:           cfg.Chat.Rooms,
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
	}, st, dir)
	if err != nil {
		st.Close()
		return nil, err
	}
	if broker != nil {
		broker.Listen(svc.Hub().Wake, func(msg string) {
			if ids, ok := strings.CutPrefix(msg, "invalidate:"); ok {
				dir.Invalidate(strings.Split(ids, ",")...)
				svc.Forget(strings.Split(ids, ",")...)
				return
			}
			svc.Control(msg)
		})
	}
	srv, err := server.New(cfg, svc, inv, verifier, log)
	if err != nil {
		svc.Close()
		st.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		svc.Close()
		st.Close()
		return nil, fmt.Errorf("server.listen %q: %w", cfg.Server.Listen, err)
	}
	a := &app{log: log, srv: srv, svc: svc, st: st, src: src, broker: broker, served: make(chan error, 1), stop: make(chan struct{})}
	go func() { a.served <- srv.Serve(ln) }()
	if p, ok := st.(store.Pruner); ok && cfg.Store.KeepDays > 0 {
		go a.prune(p, time.Duration(cfg.Store.KeepDays)*24*time.Hour)
	}
	log.Info("pollchat: listening", "addr", ln.Addr().String(), "public_url", cfg.Server.PublicURL,
		"store", cfg.Store.Driver, "users", cfg.Users.Source, "demo", cfg.Demo.Enabled)
	if cfg.Demo.Enabled {
		log.Info("pollchat: demo page at " + cfg.Server.PublicURL + "/demo")
	}
	return a, nil
}

// prune deletes messages older than keep, in small batches, every 10 minutes.
func (a *app) prune(p store.Pruner, keep time.Duration) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		total := 0
		for i := 0; i < 100; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			n, err := p.Prune(ctx, time.Now().Add(-keep), 500)
			cancel()
			if err != nil {
				a.log.Warn("store: prune failed", "err", err)
				break
			}
			total += n
			if n < 500 {
				break
			}
		}
		if total > 0 {
			a.log.Info("store: pruned old messages", "count", total)
		}
		select {
		case <-t.C:
		case <-a.stop:
			return
		}
	}
}

// shutdown answers parked polls, waits for open requests, then stops the
// service and closes the store: nothing acknowledged is lost.
func (a *app) shutdown(ctx context.Context) {
	close(a.stop)
	if err := a.srv.Shutdown(ctx); err != nil {
		a.log.Warn("server: shutdown", "err", err)
	}
	a.svc.Close()
	if a.broker != nil {
		a.broker.Close()
	}
	if c, ok := a.src.(bridge.Closer); ok {
		c.Close()
	}
	if err := a.st.Close(); err != nil {
		a.log.Warn("store: close", "err", err)
	}
}

// clusterInvalidator drops users from this process's cache and tells the
// other processes to do the same.
type clusterInvalidator struct {
	dir    *bridge.Directory
	broker *cluster.Redis
}

func (c clusterInvalidator) Invalidate(ids ...string) {
	c.dir.Invalidate(ids...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c.broker.Control(ctx, "invalidate:"+strings.Join(ids, ","))
}
